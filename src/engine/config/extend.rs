//! `extend` chains: a config file including another, merged child over parent (FORMAT.md §1).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::config::discover::read_config_file;
use crate::engine::config::error::{invalid, ConfigError, JsonMap};

/// Metaxy `_resolve_extend`: pops `extend`, loads the parent (relative to `base_dir`),
/// resolves it recursively, and merges `data` on top.
pub(crate) fn resolve_extend(
    mut data: JsonMap,
    base_dir: &Path,
    including: &Path,
    seen: &mut Vec<PathBuf>,
    chain: &mut Vec<PathBuf>,
) -> Result<JsonMap, ConfigError> {
    let raw = match data.shift_remove("extend") {
        None => return Ok(data),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(invalid(
                "extend",
                format!("expected a path string, got {other}"),
            ))
        }
    };
    let p = Path::new(&raw);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    };
    let resolved = std::fs::canonicalize(&joined).map_err(|_| ConfigError::ExtendNotFound {
        path: joined.clone(),
        referenced_from: including.to_path_buf(),
    })?;
    if seen.contains(&resolved) {
        return Err(ConfigError::ExtendCycle {
            path: resolved,
            chain: seen.clone(),
        });
    }
    seen.push(resolved.clone());
    chain.push(resolved.clone());
    let parent = read_config_file(&resolved)?;
    let parent_dir = resolved
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let parent = resolve_extend(parent, &parent_dir, &resolved, seen, chain)?;
    Ok(merge_toml(parent, data))
}

/// Metaxy `_merge_toml`: child on top of parent. Scalars → child wins; dict+dict →
/// `{**parent, **child}` (one level only); list+list → parent + child.
pub(crate) fn merge_toml(parent: JsonMap, child: JsonMap) -> JsonMap {
    let mut merged = parent;
    for (key, child_value) in child {
        match (merged.get_mut(&key), child_value) {
            (Some(Value::Object(pm)), Value::Object(cm)) => {
                for (k, v) in cm {
                    pm.insert(k, v);
                }
            }
            (Some(Value::Array(pa)), Value::Array(ca)) => pa.extend(ca),
            (Some(slot), cv) => *slot = cv,
            (None, cv) => {
                merged.insert(key, cv);
            }
        }
    }
    merged
}

/// pydantic-settings `deep_update`: recursive dict merge, `update` wins.
pub(crate) fn deep_update(base: JsonMap, update: JsonMap) -> JsonMap {
    let mut out = base;
    for (key, uv) in update {
        match (out.get_mut(&key), uv) {
            (Some(Value::Object(bm)), Value::Object(um)) => {
                let merged = deep_update(std::mem::take(bm), um);
                *bm = merged;
            }
            (Some(slot), uv) => *slot = uv,
            (None, uv) => {
                out.insert(key, uv);
            }
        }
    }
    out
}
