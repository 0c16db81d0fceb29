//! Helpers shared by the store backends: system-table decoding, local paths, `storage_options`, remote URIs and
//! the keyset pick over an id-order index. Backends import these from here, never from the registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::engine::error::Result;
/// Re-exported for the backends: the decoding lives beside [`crate::engine::store::api::MetadataStore::system_rows`].
pub use crate::engine::store::api::pushed_rows_from_df;
use crate::engine::store::api::KeyRange;

/// Resolves a store path the way Metaxy does: relative paths against the process CWD, not the config file.
pub fn resolve_local_path(location: &str, cwd: &Path) -> PathBuf {
    let stripped = location
        .strip_prefix("file://")
        .or_else(|| location.strip_prefix("local://"))
        .unwrap_or(location);
    let p = Path::new(stripped);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// `len:mtime_ns` of a file (`-` when it does not exist): part of a [`crate::engine::store::MetadataStore::change_marker`].
pub fn file_marker(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => {
            let ns = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{ns}", m.len())
        }
        Err(_) => "-".into(),
    }
}

/// A change marker of a local directory of tables ([`crate::engine::store::MetadataStore::change_marker`]): for
/// every table directory (name ending in `table_suffix`, found up to 8 levels below `root`) its `log_dir` child
/// (Delta `_delta_log`, Lance `_versions`): number of entries, first and last entry name and the directory's
/// mtime. Only those small directories are listed, never the data files. `None` when `root` is not a local
/// directory.
pub fn table_logs_marker(root: &Path, table_suffix: &str, log_dir: &str) -> Option<String> {
    fn walk(dir: &Path, suffix: &str, log: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for d in dirs {
            let name = d.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.as_deref().is_some_and(|n| n.ends_with(suffix)) {
                let logs = d.join(log);
                let mut names: Vec<String> = std::fs::read_dir(&logs)
                    .map(|rd| {
                        rd.flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                out.push(format!(
                    "{}:{}:{}:{}:{}",
                    d.display(),
                    names.len(),
                    names.first().map(String::as_str).unwrap_or(""),
                    names.last().map(String::as_str).unwrap_or(""),
                    file_marker(&logs)
                ));
            } else if depth < 8 {
                walk(&d, suffix, log, depth + 1, out);
            }
        }
    }
    if !root.is_dir() {
        return None;
    }
    let mut out = vec![file_marker(root)];
    walk(root, table_suffix, log_dir, 0, &mut out);
    Some(out.join("|"))
}

/// Decodes a `storage_options` table (Delta `storage_options`, LanceDB `connect_kwargs.storage_options`) into the
/// string map delta-rs and lance take; non-string values are rendered as JSON (`true`, `3`).
pub fn storage_options(v: Option<&serde_json::Value>) -> HashMap<String, String> {
    v.and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that config key `key` of a store (`storage_options`, `connect_kwargs`, `connect_kwargs.storage_options`)
/// is absent or a table, as Metaxy's pydantic models require (`dict[str, Any]`).
///
/// Errors (as text, one line naming the key): any other value (`storage_options = "nope"`).
pub fn check_table_key(
    key: &str,
    v: Option<&serde_json::Value>,
) -> std::result::Result<(), String> {
    let kind = match v {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Object(_)) => return Ok(()),
        Some(serde_json::Value::String(_)) => "a string",
        Some(serde_json::Value::Bool(_)) => "a boolean",
        Some(serde_json::Value::Number(_)) => "a number",
        Some(serde_json::Value::Array(_)) => "an array",
    };
    Err(format!(
        "config key {key} must be a table (e.g. {key} = {{ KEY = \"value\" }}), got {kind}"
    ))
}

/// Refuses a local store directory (`root_path`, `uri`) that is a regular file: `key` names the config key.
///
/// Errors (as text, one line): `root_path /x/store is a file, not a directory`.
pub fn check_local_dir(key: &str, path: &Path) -> std::result::Result<(), String> {
    if path.exists() && !path.is_dir() {
        return Err(format!(
            "{key} {} is a file, not a directory (a store is a directory of tables)",
            path.display()
        ));
    }
    Ok(())
}

/// Whether `location` is an object-store URI (`s3://`, `gs://`, `az://`, `db://`, ...) rather than a local path
/// (plain, `file://` or `local://`).
pub fn is_remote(location: &str) -> bool {
    match location.split_once("://") {
        Some((scheme, _)) => !matches!(scheme, "file" | "local"),
        None => false,
    }
}

/// The entries of an id-order index (`index`: the id columns plus a storage-position column, sorted by the ids
/// then the position) that a keyset scan `range` asks for: beyond `range.bound`, at most `range.limit`, in the
/// scan's order (descending: reversed). Shared by the backends without an ordered scan of their own (Delta,
/// LanceDB), which then fetch the rows at those positions.
pub(crate) fn pick_from_index(index: &DataFrame, range: &KeyRange<'_>) -> Result<DataFrame> {
    use polars::prelude::*;
    let mut lf = index.clone().lazy();
    if let Some(b) = range.bound {
        // lexicographic (a, b) > (x, y): a > x OR (a = x AND b > y)
        let mut cond: Option<Expr> = None;
        for c in range.id_columns.iter().rev() {
            let v = lit(b.column(c)?.as_materialized_series().clone());
            let beyond = if range.descending {
                col(c.as_str()).lt(v.clone())
            } else {
                col(c.as_str()).gt(v.clone())
            };
            cond = Some(match cond {
                None => beyond,
                Some(rest) => beyond.or(col(c.as_str()).eq(v).and(rest)),
            });
        }
        if let Some(c) = cond {
            lf = lf.filter(c);
        }
    }
    Ok(if range.descending {
        lf.tail(range.limit as IdxSize).collect()?.reverse()
    } else {
        lf.limit(range.limit as IdxSize).collect()?
    })
}

/// The message of a backend error without the backtrace the delta kernel appends when `RUST_BACKTRACE` is set
/// (it would flood status tables and error popups).
pub fn without_backtrace(message: &str) -> String {
    match message.find("\n   0: ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// `message` as one clean line for a user: no backtrace, no Rust source locations (Lance and object-store errors
/// end in `, /root/.cargo/registry/src/.../lance-14.0.2/src/dataset.rs:812:23`), lines joined by spaces.
pub fn clean_message(message: &str) -> String {
    static SOURCE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?:,\s*)?(?:[A-Za-z]:)?(?:[/\\][^\s,:/\\]+)+\.rs:\d+(?::\d+)?").ok()
    });
    let m = without_backtrace(message);
    let m = match SOURCE.as_ref() {
        Some(re) => re.replace_all(&m, "").into_owned(),
        None => m,
    };
    m.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A quoted SQL identifier (`"a""b"`), as DuckDB and PostgreSQL both read it.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal (`'it''s'`; PostgreSQL sessions keep `standard_conforming_strings` on).
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL literal of an id value (strings, integers, booleans); `None` for other types.
pub fn sql_literal(v: &polars::prelude::AnyValue<'_>) -> Option<String> {
    use polars::prelude::AnyValue as V;
    Some(match v {
        V::String(s) => sql_str(s),
        V::StringOwned(s) => sql_str(s),
        V::Boolean(b) => b.to_string(),
        V::Int8(_)
        | V::Int16(_)
        | V::Int32(_)
        | V::Int64(_)
        | V::UInt8(_)
        | V::UInt16(_)
        | V::UInt32(_)
        | V::UInt64(_) => v.to_string(),
        _ => return None,
    })
}

/// Metaxy's `sanitize_uri` (urllib based): user and password of a URL replaced by `***` each, a missing password
/// left empty (`postgresql://***:@host/db` for `postgresql://user@host/db`); strings without a scheme unchanged.
pub fn sanitize_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    if matches!(scheme, "file" | "local") {
        return uri.to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let Some((cred, host)) = netloc.rsplit_once('@') else {
        return uri.to_string();
    };
    let (user, password) = match cred.split_once(':') {
        Some((u, p)) => (u, p),
        None => (cred, ""),
    };
    if user.is_empty() && password.is_empty() {
        return uri.to_string();
    }
    let u = if user.is_empty() { "" } else { "***" };
    let p = if password.is_empty() { "" } else { "***" };
    format!("{scheme}://{u}:{p}@{host}{tail}")
}

/// Metaxy's `_parse_json_to_struct_columns` for one column: when every non-null value is a JSON object (or the
/// literal `null`), the column decoded to a struct by polars' JSON inference (fields in order of first
/// appearance); otherwise (or when nothing is decodable) `None`, and the column stays a string column.
pub fn decode_json_objects(s: &Series) -> Option<Series> {
    let ca = s.str().ok()?;
    if let Some(fast) = decode_flat_string_objects(ca) {
        return Some(fast);
    }
    let mut any = false;
    for v in ca.iter().flatten() {
        let t = v.trim();
        if !(t == "null" || (t.starts_with('{') && t.ends_with('}'))) {
            return None;
        }
        any = true;
    }
    if !any {
        return None;
    }
    let mut buf = Vec::with_capacity(ca.len() * 48);
    for v in ca.iter() {
        buf.extend_from_slice(b"{\"v\":");
        buf.extend_from_slice(v.map(str::trim).unwrap_or("null").as_bytes());
        buf.extend_from_slice(b"}\n");
    }
    let df = JsonReader::new(std::io::Cursor::new(buf))
        .with_json_format(JsonFormat::JsonLines)
        .infer_schema_len(None)
        .finish()
        .ok()?;
    let out = df.column("v").ok()?.as_materialized_series().clone();
    matches!(out.dtype(), DataType::Struct(_)).then(|| out.with_name(s.name().clone()))
}

/// The common shape of [`decode_json_objects`] decoded without polars' JSON inference: every value a non-null
/// JSON object whose values are strings or null (Metaxy's `*_by_field` columns), no key repeated within an object,
/// every key with at least one string value, no escape sequences. Gives the same struct as the general path
/// (fields in order of first appearance, String, null where a row lacks the key) in one pass with no per-row
/// allocation; `None` for anything else, which the general path then decides.
fn decode_flat_string_objects(ca: &StringChunked) -> Option<Series> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
    /// Collects one object's entries, borrowing keys and values from the input.
    struct Entries<'a, 'b>(&'b mut Vec<(&'a str, Option<&'a str>)>);
    impl<'de> DeserializeSeed<'de> for Entries<'de, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Entries<'de, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            while let Some(entry) = map.next_entry::<&'de str, Option<&'de str>>()? {
                self.0.push(entry);
            }
            Ok(())
        }
    }

    let n = ca.len();
    let mut keys: Vec<&str> = vec![];
    let mut cols: Vec<Vec<Option<&str>>> = vec![];
    let mut last_row: Vec<usize> = vec![];
    let mut entries = vec![];
    for (row, v) in ca.iter().enumerate() {
        let mut de = serde_json::Deserializer::from_str(v?);
        entries.clear();
        Entries(&mut entries).deserialize(&mut de).ok()?;
        de.end().ok()?;
        for &(k, v) in &entries {
            let i = match keys.iter().position(|x| *x == k) {
                Some(i) => {
                    if last_row[i] == row {
                        return None;
                    }
                    i
                }
                None => {
                    keys.push(k);
                    cols.push(Vec::with_capacity(n));
                    last_row.push(usize::MAX);
                    keys.len() - 1
                }
            };
            let col = &mut cols[i];
            col.resize(row, None);
            col.push(v);
            last_row[i] = row;
        }
    }
    if keys.is_empty() {
        return None;
    }
    let mut fields = Vec::with_capacity(keys.len());
    for (k, mut col) in keys.into_iter().zip(cols) {
        if col.iter().all(Option::is_none) {
            return None;
        }
        col.resize(n, None);
        fields.push(StringChunked::from_iter_options(k.into(), col.into_iter()).into_series());
    }
    StructChunked::from_series(ca.name().clone(), n, fields.iter())
        .ok()
        .map(IntoSeries::into_series)
}

#[cfg(test)]
mod json_tests {
    use polars::prelude::*;

    /// The general path alone (polars' JSON inference), for comparing with the fast path.
    fn general(s: &Series) -> Option<Series> {
        let ca = s.str().ok()?;
        let mut buf = vec![];
        for v in ca.iter() {
            buf.extend_from_slice(b"{\"v\":");
            buf.extend_from_slice(v.map(str::trim).unwrap_or("null").as_bytes());
            buf.extend_from_slice(b"}\n");
        }
        let df = JsonReader::new(std::io::Cursor::new(buf))
            .with_json_format(JsonFormat::JsonLines)
            .infer_schema_len(None)
            .finish()
            .ok()?;
        Some(
            df.column("v")
                .ok()?
                .as_materialized_series()
                .clone()
                .with_name(s.name().clone()),
        )
    }

    #[test]
    fn the_fast_path_equals_polars_json_inference() {
        let cases: Vec<Vec<&str>> = vec![
            vec![
                r#"{"audio": "a1", "frames": "f1"}"#,
                r#"{"frames": "f2", "audio": "a2"}"#,
            ],
            vec![
                r#"{"audio": "a1"}"#,
                r#"{"audio": "a2", "frames": "f2"}"#,
                r#" {"frames": null, "audio": "a3"} "#,
            ],
            vec![r#"{"x": "1", "y": "2", "z": "3"}"#, r#"{"z": "9"}"#],
        ];
        for case in cases {
            let s = Series::new("c".into(), case.clone());
            let fast =
                super::decode_flat_string_objects(s.str().unwrap()).expect("fast path applies");
            let slow = general(&s).unwrap();
            assert_eq!(fast.dtype(), slow.dtype(), "{case:?}");
            assert!(fast.equals_missing(&slow), "{case:?}: {fast:?} vs {slow:?}");
            assert_eq!(
                super::decode_json_objects(&s).unwrap().dtype(),
                slow.dtype()
            );
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_general_path() {
        for case in [
            vec![Some(r#"{"a": 1}"#)],
            vec![Some(r#"{"a": "x", "a": "y"}"#)],
            vec![Some(r#"{"a": null}"#)],
            vec![Some(r#"{"a": "x"}"#), None],
            vec![Some(r#"{"a": "x"}"#), Some("null")],
            vec![Some(r#"{"a": "x\"y"}"#)],
            vec![Some("{}")],
            vec![Some(r#"{"a": {"b": "c"}}"#)],
        ] {
            let s = Series::new("c".into(), case.clone());
            assert!(
                super::decode_flat_string_objects(s.str().unwrap()).is_none(),
                "{case:?}"
            );
        }
    }
}

#[cfg(test)]
mod clean_tests {
    #[test]
    fn source_locations_and_lines_are_dropped() {
        let m = "lance error: Invalid user input: bad, /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lance-14.0.2/src/dataset.rs:812:23\nmore";
        assert_eq!(
            super::clean_message(m),
            "lance error: Invalid user input: bad more"
        );
    }
}
