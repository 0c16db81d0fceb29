//! The typed configuration: [`MetaxyConfig`], its stores ([`StoreConfig`], [`StoreSummary`]) and what it answers
//! once loaded (store lookup, lock file, `config print` JSON).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::config::error::{invalid, ConfigError, JsonMap};
use crate::engine::config::kinds::{HashAlgorithm, StoreKind, KNOWN_STORE_TYPES};

// ---------------------------------------------------------------------------------------------
// Typed configuration
// ---------------------------------------------------------------------------------------------

/// One `[stores.<name>]` entry (Metaxy `StoreConfig`: only `type` and `config` keys allowed).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// The store name (key under `[stores]`; lower-case when it came from an env var).
    pub name: String,
    /// The `type` import path exactly as written.
    pub type_path: String,
    /// Backend resolved from `type_path` (canonical paths and deprecated aliases).
    pub kind: StoreKind,
    /// `true` when `type_path` is a deprecated alias.
    pub deprecated_type: bool,
    /// The raw `[stores.<name>.config]` table after `extend`, interpolation and env overrides
    /// (constructor kwargs, e.g. `database`, `hash_algorithm`, `fallback_stores`, ...).
    pub config: JsonMap,
    /// `config.hash_algorithm`, or the backend default ([`StoreKind::default_hash_algorithm`]).
    pub hash_algorithm: HashAlgorithm,
    /// `config.fallback_stores` (names of read-only fallback stores), `[]` if absent.
    pub fallback_stores: Vec<String>,
    /// The top-level `enable_map_datatype`: new tables store `*_by_field` columns as maps (FORMAT.md §4.3).
    pub map_datatype: bool,
}

impl StoreConfig {
    /// The location string: DuckDB `database`, Delta `root_path`, LanceDB `uri`, verbatim
    /// (relative paths are NOT resolved; Metaxy resolves them against the process CWD).
    ///
    /// Errors: [`ConfigError::MissingKey`] if the key is absent (or null),
    /// [`ConfigError::InvalidValue`] if it is not a string.
    pub fn location(&self) -> Result<String, ConfigError> {
        let key = self.kind.location_key();
        match self.config.get(key) {
            None | Some(Value::Null) => Err(ConfigError::MissingKey {
                store: self.name.clone(),
                key: key.to_string(),
            }),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(invalid(
                format!("stores.{}.config.{key}", self.name),
                format!("Input should be a valid string, got {other}"),
            )),
        }
    }
}

/// The resolved Metaxy configuration (pydantic `MetaxyConfig` of Metaxy 0.1.11).
///
/// Field defaults mirror Metaxy: `store = "dev"`, `hash_truncation_length = 8`,
/// `sync = true`, `theme = "default"`, everything else empty / false / `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaxyConfig {
    /// Project name (`^[a-zA-Z0-9_-]+$`, no `__`, no `/`); required by `metaxy push`.
    pub project: Option<String>,
    /// Default store name (default `"dev"`).
    pub store: String,
    /// Configured stores, in configuration order (TOML first-appearance order, env-only
    /// stores appended).
    pub stores: Vec<StoreConfig>,
    /// Python modules imported for feature discovery.
    pub entrypoints: Vec<String>,
    /// Length all hashes are truncated to (default 8, minimum 8).
    pub hash_truncation_length: usize,
    /// Store `*_by_field` columns as Map instead of Struct (experimental).
    pub enable_map_datatype: bool,
    /// Create missing tables when opening Ibis/DuckDB stores.
    pub auto_create_tables: bool,
    /// Sync external feature definitions from the store (default `true`).
    pub sync: bool,
    /// Error on external feature version mismatch (`None` = unset).
    pub locked: Option<bool>,
    /// Value of the `extend` field as Metaxy reports it. Metaxy *consumes* (pops) `extend` from
    /// TOML while resolving the chain, so this is `None` for file-based configs and only set by
    /// env `METAXY_EXTEND` (which, as in Metaxy, loads nothing). See [`Self::extend_chain`].
    pub extend: Option<String>,
    /// CLI graph rendering theme (default `"default"`).
    pub theme: String,
    /// Plugin configs, normalised like pydantic's `PluginConfig.model_dump()`:
    /// `name -> {"enable": bool, ...extra keys}`.
    pub ext: JsonMap,
    /// `FeatureSelection` entries normalised like `model_dump(mode="json")`:
    /// `{"projects": [str]|null, "keys": ["a/b", ...]|null, "all": bool|null}`.
    pub extra_features: Vec<Value>,
    /// Lock file path as written (relative to the config file's directory); see [`Self::lock_file`].
    pub metaxy_lock_path: Option<String>,
    /// The (canonicalised) file the config was loaded from; `None` = defaults + env only
    /// (or [`Self::from_toml_str`]).
    pub source: Option<PathBuf>,
    /// Files merged in via `extend`, nearest parent first (not part of Metaxy's model).
    pub extend_chain: Vec<PathBuf>,
    /// Non-fatal warnings Metaxy would emit as `UserWarning`/`DeprecationWarning`
    /// (dropped incomplete stores, deprecated store type aliases).
    pub warnings: Vec<String>,
    /// Stores whose `type` is a store class this program cannot open (e.g. ClickHouse), with the error. As in
    /// Metaxy, which only fails when such a store is instantiated, they do not break loading the config;
    /// [`Self::store_config`] returns the error when one of them is selected.
    pub unsupported_stores: Vec<(String, String)>,
}

impl Default for MetaxyConfig {
    /// Metaxy's defaults (what `MetaxyConfig()` yields with no file and no env).
    fn default() -> Self {
        MetaxyConfig {
            project: None,
            store: "dev".to_string(),
            stores: Vec::new(),
            entrypoints: Vec::new(),
            hash_truncation_length: 8,
            enable_map_datatype: false,
            auto_create_tables: false,
            sync: true,
            locked: None,
            extend: None,
            theme: "default".to_string(),
            ext: JsonMap::new(),
            extra_features: Vec::new(),
            metaxy_lock_path: None,
            source: None,
            extend_chain: Vec::new(),
            warnings: Vec::new(),
            unsupported_stores: Vec::new(),
        }
    }
}

/// Top-level keys of Metaxy's config model (anything else is rejected, pydantic `extra="forbid"`).
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "store",
    "stores",
    "extend",
    "entrypoints",
    "theme",
    "ext",
    "hash_truncation_length",
    "enable_map_datatype",
    "auto_create_tables",
    "project",
    "locked",
    "sync",
    "extra_features",
    "metaxy_lock_path",
];

/// One configured store as `metaxy-tui list stores` and the TUI's stores screen list it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSummary {
    /// Store name.
    pub name: String,
    /// The config's default store.
    pub is_default: bool,
    /// The `type` import path as configured.
    pub type_path: String,
    /// The store's config; `None` for a type this program cannot open.
    pub config: Option<StoreConfig>,
}

impl StoreSummary {
    /// The class name: Metaxy's display name of the backend, or the last part of an unsupported type path.
    pub fn class_name(&self) -> String {
        match &self.config {
            Some(c) => c.kind.display_name().to_string(),
            None => self
                .type_path
                .rsplit('.')
                .next()
                .unwrap_or(&self.type_path)
                .to_string(),
        }
    }
}

pub(crate) fn opt_string(v: &Option<String>) -> Value {
    v.as_ref()
        .map(|s| Value::String(s.clone()))
        .unwrap_or(Value::Null)
}

/// Python `json.dumps(..., ensure_ascii=True)`: escape every non-ASCII char as `\uXXXX`
/// (UTF-16 surrogate pairs above the BMP). Non-ASCII only occurs inside JSON strings.
pub(crate) fn ensure_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

impl MetaxyConfig {
    /// Every configured store, the default first, then by name; stores of unsupported types included.
    pub fn store_summaries(&self) -> Vec<StoreSummary> {
        let mut rows: Vec<StoreSummary> = self
            .stores
            .iter()
            .map(|s| StoreSummary {
                name: s.name.clone(),
                is_default: s.name == self.store,
                type_path: s.type_path.clone(),
                config: Some(s.clone()),
            })
            .chain(
                self.unsupported_stores
                    .iter()
                    .map(|(name, type_path)| StoreSummary {
                        name: name.clone(),
                        is_default: name == &self.store,
                        type_path: type_path.clone(),
                        config: None,
                    }),
            )
            .collect();
        rows.sort_by(|a, b| (!a.is_default, &a.name).cmp(&(!b.is_default, &b.name)));
        rows
    }

    /// Looks up a store by name; `None` (or an empty name, like Python's `name or self.store`)
    /// means the default store [`Self::store`]. Mirrors `MetaxyConfig.get_store`'s lookup.
    ///
    /// Errors: [`ConfigError::NoStores`] if no store is configured,
    /// [`ConfigError::UnknownStore`] (with the configured names) if the name is not configured,
    /// [`ConfigError::InvalidValue`] naming `stores.<name>.type` when the store was configured without a `type`.
    pub fn store_config(&self, name: Option<&str>) -> Result<&StoreConfig, ConfigError> {
        let name = match name {
            Some(n) if !n.is_empty() => n,
            _ => self.store.as_str(),
        };
        if let Some((_, type_path)) = self.unsupported_stores.iter().find(|(n, _)| n == name) {
            return Err(ConfigError::UnknownStoreType {
                store: name.to_string(),
                type_path: type_path.clone(),
                supported: KNOWN_STORE_TYPES
                    .iter()
                    .map(|(p, _, _)| (*p).to_string())
                    .collect(),
            });
        }
        let incomplete = format!("Ignoring incomplete store config '{name}':");
        if !self.stores.iter().any(|s| s.name == name)
            && self.warnings.iter().any(|w| w.starts_with(&incomplete))
        {
            // Metaxy drops a store without `type` with a warning and then cannot find it: name the key instead
            return Err(invalid(
                format!("stores.{name}.type"),
                format!(
                    "store '{name}' has no 'type' key; set one, e.g. type = \"{}\"",
                    StoreKind::DuckDb.canonical_type_path()
                ),
            ));
        }
        if self.stores.is_empty() {
            return Err(ConfigError::NoStores);
        }
        self.stores
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ConfigError::UnknownStore {
                name: name.to_string(),
                available: self.stores.iter().map(|s| s.name.clone()).collect(),
            })
    }

    /// The resolved lock file path (Metaxy `MetaxyConfig.lock_file`): an absolute
    /// `metaxy_lock_path` as is; a relative one joined to the config file's directory; unset →
    /// `metaxy.lock` next to the config file. `None` without a config file (relative case).
    pub fn lock_file(&self) -> Option<PathBuf> {
        let dir = self.source.as_ref().and_then(|p| p.parent());
        match &self.metaxy_lock_path {
            Some(p) => {
                let p = Path::new(p);
                if p.is_absolute() {
                    Some(p.to_path_buf())
                } else {
                    dir.map(|d| d.join(p))
                }
            }
            None => dir.map(|d| d.join("metaxy.lock")),
        }
    }

    /// The JSON object printed by `metaxy config print --format json`
    /// (`config.model_dump(mode="json")`), with the same key order as Metaxy:
    /// `store, stores{name:{type,config}}, extend, entrypoints, theme, ext,
    /// hash_truncation_length, enable_map_datatype, auto_create_tables, project, locked, sync,
    /// extra_features, metaxy_lock_path`.
    pub fn to_print_json(&self) -> Value {
        let mut m = JsonMap::new();
        m.insert("store".into(), Value::String(self.store.clone()));
        let mut stores = JsonMap::new();
        for s in &self.stores {
            let mut sm = JsonMap::new();
            sm.insert("type".into(), Value::String(s.type_path.clone()));
            sm.insert("config".into(), Value::Object(masked_secrets(&s.config)));
            stores.insert(s.name.clone(), Value::Object(sm));
        }
        m.insert("stores".into(), Value::Object(stores));
        m.insert("extend".into(), opt_string(&self.extend));
        m.insert(
            "entrypoints".into(),
            Value::Array(
                self.entrypoints
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        m.insert("theme".into(), Value::String(self.theme.clone()));
        m.insert("ext".into(), Value::Object(self.ext.clone()));
        m.insert(
            "hash_truncation_length".into(),
            Value::from(self.hash_truncation_length),
        );
        m.insert(
            "enable_map_datatype".into(),
            Value::Bool(self.enable_map_datatype),
        );
        m.insert(
            "auto_create_tables".into(),
            Value::Bool(self.auto_create_tables),
        );
        m.insert("project".into(), opt_string(&self.project));
        m.insert(
            "locked".into(),
            self.locked.map(Value::Bool).unwrap_or(Value::Null),
        );
        m.insert("sync".into(), Value::Bool(self.sync));
        m.insert(
            "extra_features".into(),
            Value::Array(self.extra_features.clone()),
        );
        m.insert(
            "metaxy_lock_path".into(),
            opt_string(&self.metaxy_lock_path),
        );
        Value::Object(m)
    }

    /// [`Self::to_print_json`] rendered like Python's `json.dumps(obj, indent=2)`: two-space
    /// indentation, `": "` separators and non-ASCII characters escaped as `\uXXXX`
    /// (`ensure_ascii=True`). No trailing newline.
    pub fn to_print_json_string(&self) -> String {
        let pretty = serde_json::to_string_pretty(&self.to_print_json()).unwrap_or_default();
        ensure_ascii(&pretty)
    }
}

/// A store's `config` with the secrets of an Iceberg REST catalog (`catalog_properties.token` / `.credential`)
/// shown as `***` (Metaxy prints them as given; metaxy-tui keeps catalog secrets off the screen).
fn masked_secrets(config: &JsonMap) -> JsonMap {
    let mut c = config.clone();
    if let Some(Value::Object(props)) = c.get_mut("catalog_properties") {
        for k in ["token", "credential"] {
            if let Some(v) = props.get_mut(k) {
                *v = Value::String("***".into());
            }
        }
    }
    c
}
