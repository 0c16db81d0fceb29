//! The environment's part of a config: `${VAR}` interpolation and `METAXY_*` overrides (pydantic-settings with
//! `env_prefix="METAXY_"`, `env_nested_delimiter="__"`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::engine::config::error::{ConfigError, JsonMap};
use crate::engine::config::extend::deep_update;
use crate::engine::config::model::TOP_LEVEL_KEYS;

/// Snapshot of the process environment (`std::env::vars_os`, non-UTF-8 entries skipped) into a
/// sorted map, for [`MetaxyConfig::load`]. Tests pass their own maps instead.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
pub(crate) static ENV_VAR_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    // Constant pattern (Metaxy's `_ENV_VAR_PATTERN`); cannot fail to compile.
    Regex::new(r"\$\{([^}:]+)(?::-([^}]*))?\}").expect("valid constant regex")
});

/// Substitutes `${VAR}` / `${VAR:-default}` in one string (Metaxy `_expand_env_vars`): a set
/// variable wins even when empty; unset → default, or `""` without default.
pub fn expand_env_string(s: &str, env: &BTreeMap<String, String>) -> String {
    ENV_VAR_PATTERN
        .replace_all(s, |caps: &regex::Captures<'_>| {
            let name = caps.get(1).map(|m| m.as_str()).unwrap_or_default();
            if let Some(v) = env.get(name) {
                return v.clone();
            }
            caps.get(2)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default()
        })
        .into_owned()
}

/// Recursive interpolation of every string (keys untouched).
pub(crate) fn expand_env_vars(value: Value, env: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(expand_env_string(&s, env)),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| expand_env_vars(v, env)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, expand_env_vars(v, env)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether a field path is "complex" for pydantic-settings (dict/list/model → value is JSON).
pub(crate) fn env_path_is_complex(path: &[&str]) -> bool {
    matches!(
        path,
        ["stores"]
            | ["stores", _]
            | ["stores", _, "config"]
            | ["ext"]
            | ["ext", _]
            | ["entrypoints"]
            | ["extra_features"]
    )
}

/// pydantic-settings `EnvSettingsSource` for prefix `METAXY_`, delimiter `__`,
/// case-insensitive: returns the nested dict of overrides. Only variables whose first segment is
/// a Metaxy field are used (so `METAXY_CONFIG`, `METAXY_LOG_LEVEL`, `METAXY_FIXTURE_DIR`, ...
/// are ignored); nested `__` paths are only honoured for complex fields (`stores`, `ext`, ...).
/// Complex values must be JSON ([`ConfigError::EnvParse`] otherwise); simple ones stay strings
/// and are coerced during validation. Shallower variables are applied first, deeper ones are
/// deep-merged on top.
pub(crate) fn env_overrides(env: &BTreeMap<String, String>) -> Result<JsonMap, ConfigError> {
    let mut items: Vec<(Vec<String>, &String, &String)> = Vec::new();
    for (name, value) in env {
        let lower = name.to_lowercase();
        let Some(rest) = lower.strip_prefix("metaxy_") else {
            continue;
        };
        let segs: Vec<String> = rest.split("__").map(str::to_string).collect();
        let Some(field) = segs.first() else { continue };
        if !TOP_LEVEL_KEYS.contains(&field.as_str()) {
            continue;
        }
        // Nested `__` paths are only exploded for complex fields (pydantic-settings).
        if segs.len() > 1
            && (!env_path_is_complex(&[field.as_str()]) || segs.iter().any(|s| s.is_empty()))
        {
            continue;
        }
        items.push((segs, name, value));
    }
    items.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));

    let mut out = JsonMap::new();
    for (segs, name, raw) in items {
        let path: Vec<&str> = segs.iter().map(String::as_str).collect();
        let value = if env_path_is_complex(&path) {
            serde_json::from_str::<Value>(raw).map_err(|e| ConfigError::EnvParse {
                var: name.clone(),
                message: format!("error parsing value for field \"{}\": {e}", segs.join(".")),
            })?
        } else {
            Value::String(raw.clone())
        };
        let mut nested = value;
        for seg in segs.iter().rev() {
            let mut m = JsonMap::new();
            m.insert(seg.clone(), nested);
            nested = Value::Object(m);
        }
        if let Value::Object(m) = nested {
            out = deep_update(out, m);
        }
    }
    Ok(out)
}
