//! TOML output byte-compatible with Python's `tomli_w.dumps` (what `metaxy config print` uses), for JSON values:
//! scalars and arrays of a table first, then its sub-tables as `[a.b]` sections; arrays one item per line with a
//! 4-space indent and a trailing comma; inline tables `{ k = v }`; `null`s dropped (Metaxy removes `None`s first).

use serde_json::{Map, Value};

const ARRAY_INDENT: &str = "    ";
const MAX_LINE_LENGTH: usize = 100;

/// Renders `value` (an object) as a TOML document like `tomli_w.dumps(_remove_none_values(value))`.
/// A non-object renders as an empty document.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    if let Value::Object(m) = remove_nulls(value) {
        table_chunks(&m, "", false, &mut out);
    }
    out
}

/// Metaxy's `_remove_none_values`: drops `null` object values and array items, recursively.
fn remove_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), remove_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|v| !v.is_null())
                .map(remove_nulls)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `tomli_w`'s `is_aot`: a non-empty array of tables.
fn is_array_of_tables(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_object))
}

fn suitable_inline_table(m: &Map<String, Value>) -> bool {
    let rendered = format!("{ARRAY_INDENT}{},", inline_table(m));
    rendered.chars().count() <= MAX_LINE_LENGTH && !rendered.contains('\n')
}

fn table_chunks(table: &Map<String, Value>, name: &str, inside_aot: bool, out: &mut String) {
    let mut yielded = false;
    let mut literals: Vec<(&String, &Value)> = Vec::new();
    let mut tables: Vec<(&String, &Map<String, Value>, bool)> = Vec::new();
    for (k, v) in table {
        match v {
            Value::Object(m) => tables.push((k, m, false)),
            Value::Array(a)
                if is_array_of_tables(v)
                    && !a
                        .iter()
                        .all(|t| t.as_object().is_some_and(suitable_inline_table)) =>
            {
                for t in a {
                    if let Value::Object(m) = t {
                        tables.push((k, m, true));
                    }
                }
            }
            _ => literals.push((k, v)),
        }
    }
    if inside_aot || (!name.is_empty() && (!literals.is_empty() || tables.is_empty())) {
        yielded = true;
        if inside_aot {
            out.push_str(&format!("[[{name}]]\n"));
        } else {
            out.push_str(&format!("[{name}]\n"));
        }
    }
    if !literals.is_empty() {
        yielded = true;
        for (k, v) in literals {
            out.push_str(&format!("{} = {}\n", key_part(k), literal(v, 0)));
        }
    }
    for (k, m, in_aot) in tables {
        if yielded {
            out.push('\n');
        } else {
            yielded = true;
        }
        let display = if name.is_empty() {
            key_part(k)
        } else {
            format!("{name}.{}", key_part(k))
        };
        table_chunks(m, &display, in_aot, out);
    }
}

fn literal(v: &Value, nest_level: usize) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => python_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => string(s),
        Value::Array(a) => inline_array(a, nest_level),
        Value::Object(m) => inline_table(m),
        Value::Null => "\"\"".to_string(),
    }
}

fn inline_array(a: &[Value], nest_level: usize) -> String {
    if a.is_empty() {
        return "[]".to_string();
    }
    let item_indent = ARRAY_INDENT.repeat(nest_level + 1);
    let closing = ARRAY_INDENT.repeat(nest_level);
    let items: Vec<String> = a
        .iter()
        .map(|v| format!("{item_indent}{}", literal(v, nest_level + 1)))
        .collect();
    format!("[\n{},\n{closing}]", items.join(",\n"))
}

fn inline_table(m: &Map<String, Value>) -> String {
    if m.is_empty() {
        return "{}".to_string();
    }
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{} = {}", key_part(k), literal(v, 0)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn key_part(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        string(k)
    }
}

/// A TOML basic string, escaped like `tomli_w.format_string` (compact escapes, `\uXXXX` for other controls).
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push('\t'),
            c if (c as u32) < 32 || c as u32 == 127 => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Python's `repr(float)` (shortest round-trip digits; exponent form below 1e-4 and from 1e16, as `1e+16`).
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let debug = format!("{f:?}");
    if let Some((mantissa, exp)) = debug.split_once('e') {
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    debug
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_tomli_w_layout() {
        let v = json!({
            "store": "dev",
            "stores": {"dev": {"type": "x.Y", "config": {"database": "a \"b\"\\c\u{1}"}}},
            "extend": null,
            "entrypoints": ["a.b", "c"],
            "ext": {},
            "n": 8,
            "flag": false,
            "empty": [],
            "extra_features": [{"projects": ["p"], "keys": null, "all": null}],
            "nested": [[1, 2]],
            "weird key": 1.5,
        });
        assert_eq!(
            dumps(&v),
            "store = \"dev\"\n\
             entrypoints = [\n    \"a.b\",\n    \"c\",\n]\n\
             n = 8\n\
             flag = false\n\
             empty = []\n\
             nested = [\n    [\n        1,\n        2,\n    ],\n]\n\
             \"weird key\" = 1.5\n\
             \n[stores.dev]\ntype = \"x.Y\"\n\
             \n[stores.dev.config]\ndatabase = \"a \\\"b\\\"\\\\c\\u0001\"\n\
             \n[ext]\n\
             \n[[extra_features]]\nprojects = [\n    \"p\",\n]\n"
        );
    }

    #[test]
    fn large_tables_in_arrays_become_array_of_tables() {
        let long = "x".repeat(120);
        let v = json!({"t": [{"a": long}]});
        assert_eq!(dumps(&v), format!("[[t]]\na = \"{long}\"\n"));
        // small tables stay inline (expected outputs produced with tomli_w 1.x)
        let v = json!({"t": [{"a": "x"}], "f": 1e16, "g": 1.5e-5});
        assert_eq!(
            dumps(&v),
            "t = [\n    { a = \"x\" },\n]\nf = 1e+16\ng = 1.5e-05\n"
        );
    }

    #[test]
    fn floats_print_like_python() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.5e-5), "1.5e-05");
    }
}
