//! SQL text for the ClickHouse store: quoting (backticks; string literals with ClickHouse's backslash escapes),
//! column types as ClickHouse spells them (`Nullable(Tuple(audio Nullable(String), ...))`, `Map(String, String)`,
//! `DateTime64(6, 'UTC')`) and how each is read through Arrow, the feature-version predicate, storage order, the
//! latest-row-per-id query and keyset bounds of ordered scans.
//!
//! Storage order: MergeTree tables without a sorting key (`ORDER BY tuple()`, what Metaxy creates) keep rows in
//! insertion order inside a part, and part names (`<partition>_<min block>_<max block>_<level>[_<mutation>]`)
//! carry the block number of their first insert, so `(min block, _part_offset)` orders rows as they were written
//! (merges concatenate parts in block order). A plain `SELECT` returns parts in any order (parallel reads).

use crate::engine::schema;
use crate::engine::store::api::Columns;

/// The order rows were written in (see the module docs), ascending.
pub const STORAGE_ORDER: [&str; 2] = ["toUInt64OrZero(splitByChar('_', _part)[2])", "_part_offset"];

/// A quoted identifier: `` `a\`b` `` (ClickHouse reads backslash escapes inside backticks).
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A string literal: `'it\'s'` (backslashes escaped too: ClickHouse string literals read C escapes).
pub fn ch_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The literal of an id value (strings, integers, booleans); `None` for other types.
pub fn literal(v: &polars::prelude::AnyValue<'_>) -> Option<String> {
    use polars::prelude::AnyValue as V;
    match v {
        V::String(s) => Some(ch_str(s)),
        V::StringOwned(s) => Some(ch_str(s)),
        other => crate::engine::store::common::sql_literal(other),
    }
}

/// How a stored column travels through Arrow into polars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// As stored (strings, numbers, Bool, Date32, DateTime64 with zone, Tuple, Map, Array).
    Native,
    /// `DateTime64` without zone: Arrow attaches the server's zone; read back as a naive timestamp.
    NaiveTimestamp,
    /// `JSON` / `Object('json')`: selected as JSON text (Metaxy casts JSON to string), decoded to a struct for the
    /// `*_by_field` columns.
    JsonText,
    /// `DateTime` (seconds): Arrow would give a UInt32; selected as `DateTime64(0)`.
    Seconds,
    /// `Date`: Arrow would give a UInt16; selected as `Date32`.
    Date,
    /// Anything Arrow or polars cannot take (UUID, Enum, Decimal, IPv4/6, 128/256-bit integers, Variant, ...):
    /// selected as text.
    Text,
}

/// A stored column: name and ClickHouse type text.
#[derive(Debug, Clone)]
pub struct ChColumn {
    /// Column name.
    pub name: String,
    /// ClickHouse's spelling of the type (`system.columns.type`).
    pub ty: String,
}

/// `t` without `Nullable(...)` / `LowCardinality(...)` wrappers.
pub fn base_type(t: &str) -> &str {
    let mut t = t.trim();
    loop {
        let inner = ["Nullable(", "LowCardinality("]
            .iter()
            .find_map(|w| t.strip_prefix(w).and_then(|r| r.strip_suffix(')')));
        match inner {
            Some(i) => t = i.trim(),
            None => return t,
        }
    }
}

/// The name of a type constructor (`Tuple` of `Tuple(a String)`, `DateTime64` of `DateTime64(6, 'UTC')`).
pub fn type_name(t: &str) -> &str {
    let b = base_type(t);
    b.split('(').next().unwrap_or(b).trim()
}

/// The arguments of a parametric type split at top-level commas (`Tuple(a String, b Map(String, String))` ->
/// `["a String", "b Map(String, String)"]`); empty for a plain type.
pub fn type_args(t: &str) -> Vec<String> {
    let b = base_type(t);
    let Some(open) = b.find('(') else {
        return vec![];
    };
    let inner = &b[open + 1..b.len().saturating_sub(1)];
    let mut out = vec![];
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = inner.as_bytes();
    for (i, c) in bytes.iter().enumerate() {
        match c {
            b'\'' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                out.push(inner[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() {
        out.push(last.to_string());
    }
    out
}

/// The element names of a named `Tuple(a T, b U)` (`None` for unnamed tuples and other types).
pub fn tuple_names(t: &str) -> Option<Vec<String>> {
    if type_name(t) != "Tuple" {
        return None;
    }
    type_args(t)
        .iter()
        .map(|a| {
            let a = a.trim();
            let (name, rest) = if let Some(r) = a.strip_prefix('`') {
                let end = r.find('`')?;
                (r[..end].to_string(), r[end + 1..].trim())
            } else {
                let (n, r) = a.split_once(' ')?;
                (n.to_string(), r.trim())
            };
            (!rest.is_empty() && !name.contains('(')).then_some(name)
        })
        .collect()
}

impl ChColumn {
    /// How the column is read (see [`ReadAs`]).
    pub fn read_as(&self) -> ReadAs {
        match type_name(&self.ty) {
            "JSON" | "Object" => ReadAs::JsonText,
            "DateTime64" if type_args(&self.ty).len() < 2 => ReadAs::NaiveTimestamp,
            "DateTime" => ReadAs::Seconds,
            "Date" => ReadAs::Date,
            "String" | "Bool" | "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16"
            | "UInt32" | "UInt64" | "Float32" | "Float64" | "Date32" | "DateTime64" | "Tuple"
            | "Map" | "Array" | "Nothing" => ReadAs::Native,
            _ => ReadAs::Text,
        }
    }

    /// Whether the column is `Nullable(...)`.
    pub fn nullable(&self) -> bool {
        self.ty.trim_start().starts_with("Nullable(")
    }

    /// The select expression of the column (aliased to its name).
    pub fn select_expr(&self) -> String {
        let q = quote_ident(&self.name);
        match self.read_as() {
            ReadAs::Native | ReadAs::NaiveTimestamp => q,
            ReadAs::JsonText => {
                let t = if self.nullable() {
                    "Nullable(String)"
                } else {
                    "String"
                };
                format!("CAST({q} AS {t}) AS {q}")
            }
            ReadAs::Seconds => format!("toDateTime64({q}, 0) AS {q}"),
            ReadAs::Date => format!("toDate32({q}) AS {q}"),
            ReadAs::Text => format!("toString({q}) AS {q}"),
        }
    }
}

/// The columns of `table` a scan with `columns` returns (table order).
pub fn projection<'a>(table: &'a [ChColumn], columns: &Columns) -> Vec<&'a ChColumn> {
    table.iter().filter(|c| columns.keeps(&c.name)).collect()
}

/// Whether `table` has column `name`.
pub fn has(table: &[ChColumn], name: &str) -> bool {
    table.iter().any(|c| c.name == name)
}

/// `metaxy_feature_version = '<v>'` when `v` is given and the table has the column.
pub fn version_pred(table: &[ChColumn], v: Option<&str>) -> Option<String> {
    match v {
        Some(v) if has(table, schema::FEATURE_VERSION) => Some(format!(
            "{} = {}",
            quote_ident(schema::FEATURE_VERSION),
            ch_str(v)
        )),
        _ => None,
    }
}

/// ` WHERE a AND b` of the given predicates (empty without any).
pub fn where_clause(preds: &[String]) -> String {
    if preds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", preds.join(" AND "))
    }
}

/// `ORDER BY` terms of storage order, each followed by `dir`.
pub fn storage_order(dir: &str) -> Vec<String> {
    STORAGE_ORDER.iter().map(|e| format!("{e} {dir}")).collect()
}

/// The tail of Metaxy's latest-row-per-id read: ids, then the greatest `coalesce(metaxy_deleted_at,
/// metaxy_updated_at)` (`ts`, nulls oldest), then the row stored last among equal timestamps, one row per id
/// (`LIMIT 1 BY`).
pub fn latest_tail(ids: &[String], ts: &[&str]) -> String {
    let ts_sql = format!(
        "coalesce({})",
        ts.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut order: Vec<String> = ids.to_vec();
    order.push(format!("{ts_sql} DESC NULLS LAST"));
    order.extend(storage_order("DESC"));
    format!(
        " ORDER BY {} LIMIT 1 BY {}",
        order.join(", "),
        ids.join(", ")
    )
}

/// Lexicographic keyset bound `(a, b) > (x, y)` (or `<` when descending) over the id expressions `ids` and their
/// literals: `a > x OR (a = x AND b > y)`.
pub fn keyset_bound(ids: &[String], literals: &[String], descending: bool) -> String {
    let op = if descending { "<" } else { ">" };
    let mut cond = String::new();
    for (c, l) in ids.iter().zip(literals).rev() {
        cond = if cond.is_empty() {
            format!("{c} {op} {l}")
        } else {
            format!("({c} {op} {l} OR ({c} = {l} AND {cond}))")
        };
    }
    cond
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_the_way_arrow_can_carry_them() {
        let t = "Nullable(Tuple(audio Nullable(String), `fr ames` Map(String, String)))";
        assert_eq!(type_name(t), "Tuple");
        assert_eq!(
            type_args(t),
            ["audio Nullable(String)", "`fr ames` Map(String, String)"]
        );
        assert_eq!(tuple_names(t).unwrap(), ["audio", "fr ames"]);
        assert_eq!(tuple_names("Tuple(String, UInt8)"), None);
        let col = |ty: &str| ChColumn {
            name: "c".into(),
            ty: ty.into(),
        };
        assert_eq!(
            col("Nullable(DateTime64(6))").read_as(),
            ReadAs::NaiveTimestamp
        );
        assert_eq!(
            col("Nullable(DateTime64(6, 'UTC'))").read_as(),
            ReadAs::Native
        );
        assert_eq!(col("LowCardinality(String)").read_as(), ReadAs::Native);
        assert_eq!(col("UUID").read_as(), ReadAs::Text);
        assert_eq!(
            col("Nullable(JSON)").select_expr(),
            "CAST(`c` AS Nullable(String)) AS `c`"
        );
        assert_eq!(quote_ident("a`b"), "`a\\`b`");
        assert_eq!(ch_str("it's \\"), "'it\\'s \\\\'");
        assert_eq!(
            keyset_bound(
                &["a".into(), "b".into()],
                &["1".into(), "'x'".into()],
                false
            ),
            "(a > 1 OR (a = 1 AND b > 'x'))"
        );
    }
}

/// The lookup's id filter as a ClickHouse condition that keeps at least the rows [`IdFilter::apply`] keeps (the
/// caller re-applies it for exactness): string columns compared to escaped literals ([`ch_str`]), integer columns
/// to the values that print as that integer (a value no integer prints as, `"+1"` or `"01"`, matches no row in the
/// engine's text comparison, so its sample is dropped), columns of other types left out of the condition.
/// `0` (no row) when no sample can match or a filter column is missing from `table`.
pub fn id_condition(table: &[ChColumn], ids: &crate::engine::store::filter::IdFilter) -> String {
    use crate::engine::store::filter::prints_as_integer;
    #[derive(Clone, Copy)]
    enum K {
        Str,
        Int,
        Other,
    }
    let mut kinds = Vec::with_capacity(ids.columns.len());
    for c in &ids.columns {
        let Some(col) = table.iter().find(|x| &x.name == c) else {
            return "0".into();
        };
        let t = base_type(&col.ty);
        kinds.push(if t == "String" || t.starts_with("FixedString(") {
            K::Str
        } else if t.starts_with("Int") || t.starts_with("UInt") {
            K::Int
        } else {
            K::Other
        });
    }
    let mut ors = vec![];
    for row in &ids.rows {
        let mut ands = vec![];
        let mut possible = true;
        for ((c, v), k) in ids.columns.iter().zip(row).zip(&kinds) {
            match k {
                K::Str => ands.push(format!("{} = {}", quote_ident(c), ch_str(v))),
                // a canonical integer is its own SQL literal
                K::Int if prints_as_integer(v) => ands.push(format!("{} = {v}", quote_ident(c))),
                K::Int => possible = false,
                K::Other => {}
            }
        }
        if !possible {
            continue;
        }
        if ands.is_empty() {
            return "1".into();
        }
        ors.push(format!("({})", ands.join(" AND ")));
    }
    if ors.is_empty() {
        "0".into()
    } else {
        ors.join(" OR ")
    }
}

#[cfg(test)]
mod id_condition_tests {
    use super::*;
    use crate::engine::store::filter::IdFilter;

    fn table() -> Vec<ChColumn> {
        [
            ("sample_uid", "Nullable(UInt64)"),
            ("name", "LowCardinality(Nullable(String))"),
            ("d", "Date"),
        ]
        .into_iter()
        .map(|(n, t)| ChColumn {
            name: n.into(),
            ty: t.into(),
        })
        .collect()
    }

    fn f(columns: &[&str], rows: &[&[&str]]) -> IdFilter {
        IdFilter::new(
            columns.iter().map(|c| c.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|v| v.to_string()).collect())
                .collect(),
        )
    }

    #[test]
    fn strings_are_escaped_and_integers_must_print_as_themselves() {
        let t = table();
        assert_eq!(
            id_condition(&t, &f(&["name"], &[&["it's \\ x"]])),
            r"(`name` = 'it\'s \\ x')"
        );
        assert_eq!(
            id_condition(
                &t,
                &f(
                    &["sample_uid"],
                    &[&["7"], &["+1"], &["01"], &["18446744073709551615"]]
                )
            ),
            "(`sample_uid` = 7) OR (`sample_uid` = 18446744073709551615)"
        );
        assert_eq!(id_condition(&t, &f(&["sample_uid"], &[&["x"]])), "0");
        assert_eq!(
            id_condition(&t, &f(&["sample_uid", "name"], &[&["1", "a"], &["2", "b"]])),
            "(`sample_uid` = 1 AND `name` = 'a') OR (`sample_uid` = 2 AND `name` = 'b')"
        );
        // other types are left to the engine; a missing column matches nothing
        assert_eq!(id_condition(&t, &f(&["d"], &[&["2026-01-01"]])), "1");
        assert_eq!(id_condition(&t, &f(&["nope"], &[&["1"]])), "0");
    }
}
