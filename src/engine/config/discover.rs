//! Config-file discovery (`metaxy.toml` / `pyproject.toml` upward from the CWD) and reading TOML in document order.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::config::error::{invalid, ConfigError, JsonMap};

/// Searches `start` and each parent directory up to the root for a Metaxy config file
/// (Metaxy `discover_config_with_parents`): `metaxy.toml` wins; `pyproject.toml` counts only if
/// its `[tool.metaxy]` table is non-empty. Returns `Ok(None)` if nothing is found.
///
/// Errors: [`ConfigError::Io`] / [`ConfigError::Toml`] when a `pyproject.toml` on the way cannot
/// be read or parsed (Metaxy raises there too).
pub fn discover_config_file(start: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let start = absolutize(start);
    let mut current: Option<&Path> = Some(start.as_path());
    while let Some(dir) = current {
        let metaxy_toml = dir.join("metaxy.toml");
        if metaxy_toml.exists() {
            return Ok(Some(metaxy_toml));
        }
        let pyproject = dir.join("pyproject.toml");
        if pyproject.exists() {
            let doc = read_toml_document(&pyproject)?;
            let has_metaxy = match doc.get("tool").and_then(|t| t.get("metaxy")) {
                Some(Value::Object(m)) => !m.is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Bool(b)) => *b,
                Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
                Some(Value::Null) | None => false,
            };
            if has_metaxy {
                return Ok(Some(pyproject));
            }
        }
        current = dir.parent();
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// TOML reading
// ---------------------------------------------------------------------------------------------

pub(crate) fn absolutize(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Reads a TOML file into an ordered JSON map (whole document).
pub(crate) fn read_toml_document(path: &Path) -> Result<JsonMap, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Toml {
        path: path.to_path_buf(),
        message: format!("file is not valid UTF-8: {e}"),
    })?;
    parse_toml_ordered(&text).map_err(|message| ConfigError::Toml {
        path: path.to_path_buf(),
        message,
    })
}

/// Metaxy `_read_toml`: `pyproject.toml` → its `tool.metaxy` table (`{}` if absent), any other
/// file → the whole document.
pub(crate) fn read_config_file(path: &Path) -> Result<JsonMap, ConfigError> {
    let mut doc = read_toml_document(path)?;
    if path.file_name().and_then(|n| n.to_str()) != Some("pyproject.toml") {
        return Ok(doc);
    }
    match doc.shift_remove("tool") {
        None => Ok(JsonMap::new()),
        Some(Value::Object(mut tool)) => match tool.shift_remove("metaxy") {
            None => Ok(JsonMap::new()),
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(invalid("tool.metaxy", "expected a table")),
        },
        Some(_) => Err(invalid("tool", "expected a table")),
    }
}

/// Parses TOML into a JSON map whose keys keep document (first-appearance) order, like Python's
/// `tomli` dicts. The `toml` crate's tables are sorted unless its `preserve_order` feature is on,
/// so the order is recovered from the key spans of the low-level `DeTable` parse.
pub(crate) fn parse_toml_ordered(text: &str) -> Result<JsonMap, String> {
    let doc = toml::de::DeTable::parse(text).map_err(|mut e| {
        e.set_input(Some(text));
        e.to_string().trim_end().to_string()
    })?;
    detable_to_json(doc.get_ref())
}

pub(crate) fn detable_to_json(table: &toml::de::DeTable<'_>) -> Result<JsonMap, String> {
    let mut entries: Vec<_> = table.iter().collect();
    // A key is created at its first mention, which may be a descendant's header
    // (`[a.b.c]` before `[a.b]`), so order by the earliest key span in the subtree.
    entries.sort_by_key(|(k, v)| k.span().start.min(earliest_key_start(v.get_ref())));
    let mut out = JsonMap::new();
    for (k, v) in entries {
        out.insert(k.get_ref().to_string(), devalue_to_json(v.get_ref())?);
    }
    Ok(out)
}

/// Smallest key span start inside a value (tables and arrays of tables), `usize::MAX` if none.
pub(crate) fn earliest_key_start(v: &toml::de::DeValue<'_>) -> usize {
    use toml::de::DeValue;
    match v {
        DeValue::Table(t) => t
            .iter()
            .map(|(k, v)| k.span().start.min(earliest_key_start(v.get_ref())))
            .min()
            .unwrap_or(usize::MAX),
        DeValue::Array(a) => a
            .iter()
            .map(|e| earliest_key_start(e.get_ref()))
            .min()
            .unwrap_or(usize::MAX),
        _ => usize::MAX,
    }
}

pub(crate) fn devalue_to_json(v: &toml::de::DeValue<'_>) -> Result<Value, String> {
    use toml::de::DeValue;
    Ok(match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|e| format!("invalid integer {i}: {e}"))?;
            Value::from(n)
        }
        DeValue::Float(f) => {
            let x: f64 = f
                .as_str()
                .parse()
                .map_err(|e| format!("invalid float {f}: {e}"))?;
            // NaN / inf have no JSON representation.
            serde_json::Number::from_f64(x)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .map(|e| devalue_to_json(e.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Value::Object(detable_to_json(t)?),
    })
}

// ---------------------------------------------------------------------------------------------
// extend / merge / interpolation / env overrides
