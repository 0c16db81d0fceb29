//! Validation of the merged raw config into [`MetaxyConfig`], with pydantic's lax-mode coercions.

use std::sync::LazyLock;

use regex::Regex;

use serde_json::Value;

use crate::engine::config::error::{invalid, ConfigError, JsonMap};
use crate::engine::config::kinds::{HashAlgorithm, StoreKind, KNOWN_STORE_TYPES};
use crate::engine::config::model::{MetaxyConfig, StoreConfig, TOP_LEVEL_KEYS};

/// Metaxy `_filter_incomplete_stores`: drops stores that are not tables with a `type` key and
/// records Metaxy's `UserWarning` text.
pub(crate) fn filter_incomplete_stores(data: &mut JsonMap, warnings: &mut Vec<String>) {
    let Some(Value::Object(stores)) = data.get_mut("stores") else {
        return;
    };
    let taken = std::mem::take(stores);
    for (name, cfg) in taken {
        let complete = matches!(&cfg, Value::Object(m) if m.contains_key("type"));
        if complete {
            stores.insert(name, cfg);
        } else {
            let fields = match &cfg {
                Value::Object(m) => collect_dict_keys(m, ""),
                _ => Vec::new(),
            };
            let hint = if fields.is_empty() {
                String::new()
            } else {
                format!(" (has fields: {})", fields.join(", "))
            };
            warnings.push(format!(
                "Ignoring incomplete store config '{name}': missing required 'type' field{hint}. \
                 This is typically caused by environment variables."
            ));
        }
    }
}

pub(crate) fn collect_dict_keys(m: &JsonMap, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (k, v) in m {
        let full = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        keys.push(full.clone());
        if let Value::Object(inner) = v {
            keys.extend(collect_dict_keys(inner, &full));
        }
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// Validation (pydantic lax-mode coercions)
// ---------------------------------------------------------------------------------------------

pub(crate) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

pub(crate) fn lax_str(key: &str, v: &Value) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            key,
            format!("Input should be a valid string, got {}", describe(other)),
        )),
    }
}

pub(crate) fn lax_opt_str(key: &str, v: &Value) -> Result<Option<String>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        other => lax_str(key, other).map(Some),
    }
}

/// pydantic lax bool: bools, 0/1, and the strings 0/off/f/false/n/no/1/on/t/true/y/yes
/// (case-insensitive).
pub(crate) fn lax_bool(key: &str, v: &Value) -> Result<bool, ConfigError> {
    let err = || {
        invalid(
            key,
            format!("Input should be a valid boolean, unable to interpret input {v}"),
        )
    };
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err(err()),
        },
        Value::String(s) => match s.to_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(err()),
        },
        _ => Err(err()),
    }
}

pub(crate) fn lax_opt_bool(key: &str, v: &Value) -> Result<Option<bool>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        other => lax_bool(key, other).map(Some),
    }
}

/// pydantic lax int: ints, bools, integral floats, and integer strings (whitespace trimmed,
/// `_` separators allowed, integral decimal strings like `"16.0"` accepted).
pub(crate) fn lax_int(key: &str, v: &Value) -> Result<i64, ConfigError> {
    let err = |what: &str| invalid(key, format!("Input should be a valid integer{what}"));
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else {
                match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e18 => Ok(x as i64),
                    _ => Err(err(", got a number with a fractional part")),
                }
            }
        }
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::String(s) => {
            let t = s.trim().replace('_', "");
            if let Ok(i) = t.parse::<i64>() {
                return Ok(i);
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e18 => Ok(x as i64),
                _ => Err(err(", unable to parse string as an integer")),
            }
        }
        _ => Err(err("")),
    }
}

pub(crate) fn str_list(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| lax_str(&format!("{key}.{i}"), item))
            .collect(),
        other => Err(invalid(
            key,
            format!("Input should be a valid list, got {}", describe(other)),
        )),
    }
}

/// Metaxy `validate_project`.
pub(crate) fn validate_project(v: &str) -> Result<(), ConfigError> {
    static PROJECT_RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_-]+$").expect("valid constant regex"));
    if v.is_empty() {
        return Err(invalid("project", "project name cannot be empty"));
    }
    if v.contains('/') {
        return Err(invalid(
            "project",
            format!(
                "project name '{v}' cannot contain forward slashes (/). \
                 Forward slashes are reserved for FeatureKey separation"
            ),
        ));
    }
    if v.contains("__") {
        return Err(invalid(
            "project",
            format!(
                "project name '{v}' cannot contain double underscores (__). \
                 Double underscores are reserved for table name generation"
            ),
        ));
    }
    if !PROJECT_RE.is_match(v) {
        return Err(invalid(
            "project",
            format!(
                "project name '{v}' must contain only alphanumeric characters, underscores, and hyphens"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn validate_store(
    name: &str,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<StoreConfig, ConfigError> {
    let Value::Object(table) = value else {
        return Err(invalid(
            format!("stores.{name}"),
            "Input should be a valid dictionary",
        ));
    };
    if let Some(extra) = table.keys().find(|k| *k != "type" && *k != "config") {
        return Err(ConfigError::UnknownKey {
            key: format!("stores.{name}.{extra}"),
        });
    }
    let type_path = lax_str(
        &format!("stores.{name}.type"),
        table.get("type").unwrap_or(&Value::Null),
    )?;
    let config = match table.get("config") {
        None => JsonMap::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(invalid(
                format!("stores.{name}.config"),
                format!(
                    "Input should be a valid dictionary, got {}",
                    describe(other)
                ),
            ))
        }
    };
    let Some((kind, deprecated_type)) = StoreKind::from_type_path(&type_path) else {
        return Err(ConfigError::UnknownStoreType {
            store: name.to_string(),
            type_path,
            supported: KNOWN_STORE_TYPES
                .iter()
                .map(|(p, _, _)| (*p).to_string())
                .collect(),
        });
    };
    if deprecated_type {
        warnings.push(format!(
            "Store '{name}' uses deprecated type '{type_path}'; use '{}' instead.",
            kind.canonical_type_path()
        ));
    }
    let hash_algorithm = match config.get("hash_algorithm") {
        None | Some(Value::Null) => kind.default_hash_algorithm(),
        Some(Value::String(s)) => {
            s.parse::<HashAlgorithm>()
                .map_err(|_| ConfigError::UnsupportedHashAlgorithm {
                    store: name.to_string(),
                    algorithm: s.clone(),
                })?
        }
        Some(other) => {
            return Err(ConfigError::UnsupportedHashAlgorithm {
                store: name.to_string(),
                algorithm: other.to_string(),
            })
        }
    };
    let fallback_stores = match config.get("fallback_stores") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => str_list(&format!("stores.{name}.config.fallback_stores"), v)?,
    };
    Ok(StoreConfig {
        name: name.to_string(),
        type_path,
        kind,
        deprecated_type,
        config,
        hash_algorithm,
        fallback_stores,
        map_datatype: false,
    })
}

/// `PluginConfig` (`enable: bool = False`, extra keys allowed) → `{"enable": ..., **extras}`.
pub(crate) fn validate_plugin(name: &str, value: &Value) -> Result<Value, ConfigError> {
    let Value::Object(m) = value else {
        return Err(invalid(
            format!("ext.{name}"),
            "Input should be a valid dictionary or instance of PluginConfig",
        ));
    };
    let enable = match m.get("enable") {
        None => false,
        Some(v) => lax_bool(&format!("ext.{name}.enable"), v)?,
    };
    let mut out = JsonMap::new();
    out.insert("enable".into(), Value::Bool(enable));
    for (k, v) in m {
        if k != "enable" {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// `FeatureSelection` (`projects`, `keys`, `all`; extra forbidden; at least one selector) →
/// `{"projects": ..., "keys": ["a/b", ...], "all": ...}` (FeatureKeys serialise as `"a/b"`).
pub(crate) fn validate_feature_selection(idx: usize, value: &Value) -> Result<Value, ConfigError> {
    let base = format!("extra_features.{idx}");
    let Value::Object(m) = value else {
        return Err(invalid(
            base,
            "Input should be a valid dictionary or instance of FeatureSelection",
        ));
    };
    if let Some(extra) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "projects" | "keys" | "all"))
    {
        return Err(ConfigError::UnknownKey {
            key: format!("{base}.{extra}"),
        });
    }
    let projects = match m.get("projects") {
        None | Some(Value::Null) => None,
        Some(v) => Some(str_list(&format!("{base}.projects"), v)?),
    };
    let keys = match m.get("keys") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let k = format!("{base}.keys.{i}");
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Array(_) => out.push(str_list(&k, item)?.join("/")),
                    other => {
                        return Err(invalid(
                            k,
                            format!("Cannot create FeatureKey from {}", describe(other)),
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(other) => {
            return Err(invalid(
                format!("{base}.keys"),
                format!("Input should be a valid list, got {}", describe(other)),
            ))
        }
    };
    let all = match m.get("all") {
        None => None,
        Some(v) => lax_opt_bool(&format!("{base}.all"), v)?,
    };
    let selects = all == Some(true)
        || projects.as_ref().is_some_and(|p| !p.is_empty())
        || keys.as_ref().is_some_and(|k| !k.is_empty());
    if !selects {
        return Err(invalid(
            base,
            "At least one of 'projects', 'keys', or 'all' must be specified",
        ));
    }
    let to_arr = |v: Option<Vec<String>>| {
        v.map(|xs| Value::Array(xs.into_iter().map(Value::String).collect()))
            .unwrap_or(Value::Null)
    };
    let mut out = JsonMap::new();
    out.insert("projects".into(), to_arr(projects));
    out.insert("keys".into(), to_arr(keys));
    out.insert("all".into(), all.map(Value::Bool).unwrap_or(Value::Null));
    Ok(Value::Object(out))
}

/// Validates the fully merged raw dict into a [`MetaxyConfig`] (source/chain/warnings unset).
pub(crate) fn validate(
    data: JsonMap,
    warnings: &mut Vec<String>,
) -> Result<MetaxyConfig, ConfigError> {
    if let Some(extra) = data.keys().find(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        return Err(ConfigError::UnknownKey { key: extra.clone() });
    }
    let mut cfg = MetaxyConfig::default();
    for (key, v) in &data {
        let key = key.as_str();
        match key {
            "store" => cfg.store = lax_str(key, v)?,
            "stores" => {
                let Value::Object(stores) = v else {
                    return Err(invalid(
                        key,
                        format!("Input should be a valid dictionary, got {}", describe(v)),
                    ));
                };
                for (name, sv) in stores {
                    match validate_store(name, sv, warnings) {
                        Ok(st) => cfg.stores.push(st),
                        Err(e @ ConfigError::UnknownStoreType { .. }) => {
                            warnings.push(e.to_string());
                            let type_path = sv
                                .get("type")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            cfg.unsupported_stores.push((name.clone(), type_path));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            "extend" => cfg.extend = lax_opt_str(key, v)?,
            "entrypoints" => cfg.entrypoints = str_list(key, v)?,
            "theme" => cfg.theme = lax_str(key, v)?,
            "ext" => {
                let Value::Object(ext) = v else {
                    return Err(invalid(
                        key,
                        format!("Input should be a valid dictionary, got {}", describe(v)),
                    ));
                };
                for (name, pv) in ext {
                    cfg.ext.insert(name.clone(), validate_plugin(name, pv)?);
                }
            }
            "hash_truncation_length" => {
                let n = lax_int(key, v)?;
                if n < 8 {
                    return Err(invalid(
                        key,
                        format!("Input should be greater than or equal to 8, got {n}"),
                    ));
                }
                cfg.hash_truncation_length = usize::try_from(n)
                    .map_err(|_| invalid(key, format!("value {n} is out of range")))?;
            }
            "enable_map_datatype" => cfg.enable_map_datatype = lax_bool(key, v)?,
            "auto_create_tables" => cfg.auto_create_tables = lax_bool(key, v)?,
            "project" => {
                cfg.project = lax_opt_str(key, v)?;
                if let Some(p) = &cfg.project {
                    validate_project(p)?;
                }
            }
            "locked" => cfg.locked = lax_opt_bool(key, v)?,
            "sync" => cfg.sync = lax_bool(key, v)?,
            "extra_features" => {
                let Value::Array(items) = v else {
                    return Err(invalid(
                        key,
                        format!("Input should be a valid list, got {}", describe(v)),
                    ));
                };
                cfg.extra_features = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| validate_feature_selection(i, item))
                    .collect::<Result<_, _>>()?;
            }
            "metaxy_lock_path" => cfg.metaxy_lock_path = lax_opt_str(key, v)?,
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_string(),
                })
            }
        }
    }
    for st in &mut cfg.stores {
        st.map_datatype = cfg.enable_map_datatype;
    }
    Ok(cfg)
}
