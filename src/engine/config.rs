//! Metaxy configuration resolution (`metaxy.toml` / `[tool.metaxy]` in `pyproject.toml`).
//!
//! This module mirrors how **Metaxy 0.1.11** (`metaxy.config.MetaxyConfig.load`, pydantic-settings
//! 2.12 with `env_prefix="METAXY_"`, `env_nested_delimiter="__"`) turns files and environment
//! variables into a validated configuration (see `FORMAT.md` §1):
//!
//! 1. **Discovery** ([`MetaxyConfig::load`]): env `METAXY_CONFIG` (non-empty) > explicit file
//!    (CLI `--config-file`) > search the CWD and every parent for `metaxy.toml` (wins) or a
//!    `pyproject.toml` whose `[tool.metaxy]` table is non-empty > nothing (defaults + env only).
//! 2. **Reading**: `pyproject.toml` contributes its `tool.metaxy` sub-table, any other file name the
//!    whole document. Keys keep their document order (first appearance), like Python dicts.
//! 3. **`extend` chains**: the `extend` key is removed, the referenced file (relative to the
//!    including file) is loaded and resolved recursively, and the child is merged on top
//!    (scalars: child wins; dicts: one-level shallow merge; lists: parent + child). Cycles and
//!    missing files are errors.
//! 4. **Interpolation**: every string value (recursively, keys excluded) gets `${VAR}` /
//!    `${VAR:-default}` substitution; an unset variable without default becomes `""`.
//! 5. **Environment overrides**: `METAXY_<FIELD>[__<KEY>...]` (case-insensitive names) are
//!    deep-merged on top of the TOML data (environment wins).
//! 6. **Validation**: incomplete stores (no `type`) are dropped with a warning; all fields are
//!    type-checked with pydantic's lax coercions ("16" → 16, "true"/"1" → true, ...).
//!
//! Relative store locations (`database`, `root_path`, `uri`) are **not** resolved here: Metaxy
//! resolves them against the process CWD and so must the caller.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// JSON object type used for raw (untyped) configuration tables; insertion-ordered because the
/// crate enables serde_json's `preserve_order` feature.
type JsonMap = Map<String, Value>;

/// Typed configuration errors.
///
/// Every variant corresponds to a failure that real Metaxy 0.1.11 reports either while loading
/// the configuration (`InvalidConfigError`, pydantic `ValidationError`, `SettingsError`,
/// `FileNotFoundError`, TOML decode errors) or when a store is looked up / instantiated
/// (`get_store`: unknown store name, import failure of the store class, invalid hash algorithm).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file could not be read (missing, permission denied, is a directory, ...).
    #[error("failed to read config file {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A configuration file is not valid TOML (or is not UTF-8).
    #[error("invalid TOML in {}: {message}", path.display())]
    Toml {
        /// The offending file (`<inline>` for [`MetaxyConfig::from_toml_str`]).
        path: PathBuf,
        /// The parser's message (with line/column context).
        message: String,
    },
    /// The file named by an `extend` key does not exist.
    #[error("config file referenced by 'extend' does not exist: {} (referenced from {})", path.display(), referenced_from.display())]
    ExtendNotFound {
        /// The resolved (absolute) path that does not exist.
        path: PathBuf,
        /// The file (or base directory for inline TOML) containing the `extend` key.
        referenced_from: PathBuf,
    },
    /// The `extend` chain refers back to a file already in the chain.
    #[error("circular config inheritance detected: {}", fmt_cycle(chain, path))]
    ExtendCycle {
        /// The file that would have been loaded a second time.
        path: PathBuf,
        /// The chain of files loaded so far, root first.
        chain: Vec<PathBuf>,
    },
    /// A key that the Metaxy config model does not know (pydantic `extra="forbid"`), e.g. a
    /// top-level `hash_algorithm` or a store table key other than `type`/`config`.
    /// `key` is dotted (`stores.dev.database`).
    #[error("unknown config key '{key}': extra inputs are not permitted")]
    UnknownKey {
        /// Dotted path of the offending key.
        key: String,
    },
    /// No stores are configured at all (Metaxy `get_store`: "No Metaxy stores available").
    #[error("no Metaxy stores available; they should be configured in metaxy.toml|pyproject.toml or via environment variables")]
    NoStores,
    /// The requested store name is not configured (Metaxy `get_store`).
    #[error("store '{name}' not found in config; available stores: {available:?}")]
    UnknownStore {
        /// The requested store name.
        name: String,
        /// Configured store names, in configuration order.
        available: Vec<String>,
    },
    /// A store's `type` is not one of the store classes this program supports.
    #[error("store '{store}' has unsupported type '{type_path}'; supported types: {}", supported.join(", "))]
    UnknownStoreType {
        /// The store name.
        store: String,
        /// The `type` string as written.
        type_path: String,
        /// All accepted `type` strings (canonical and deprecated aliases).
        supported: Vec<String>,
    },
    /// A required store config key is absent (e.g. DuckDB `database`).
    #[error("store '{store}' is missing required config key '{key}'")]
    MissingKey {
        /// The store name.
        store: String,
        /// The missing key inside `[stores.<store>.config]`.
        key: String,
    },
    /// A value has the wrong type or violates a constraint; `key` is a dotted path.
    #[error("invalid value for '{key}': {message}")]
    InvalidValue {
        /// Dotted path of the offending value (`hash_truncation_length`, `stores.dev.config`).
        key: String,
        /// Human-readable reason (pydantic-style wording).
        message: String,
    },
    /// `stores.<store>.config.hash_algorithm` is not a Metaxy `HashAlgorithm` value.
    #[error("store '{store}' has unsupported hash_algorithm '{algorithm}' (expected one of: {})", HashAlgorithm::ALL.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", "))]
    UnsupportedHashAlgorithm {
        /// The store name.
        store: String,
        /// The value as written.
        algorithm: String,
    },
    /// A `METAXY_*` environment variable for a complex field (list/dict) is not valid JSON
    /// (pydantic-settings `SettingsError: error parsing value for field ...`).
    #[error("error parsing value of environment variable {var}: {message}")]
    EnvParse {
        /// The environment variable name as given.
        var: String,
        /// The JSON parser's message.
        message: String,
    },
}

fn fmt_cycle(chain: &[PathBuf], path: &Path) -> String {
    let mut parts: Vec<String> = chain.iter().map(|p| p.display().to_string()).collect();
    parts.push(path.display().to_string());
    parts.join(" -> ")
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Store kinds and hash algorithms
// ---------------------------------------------------------------------------------------------

/// The metadata-store backends this program can open.
///
/// Resolved from a store's `type` import path using the 0.1.11 table in `FORMAT.md` §1.4
/// (canonical paths plus deprecated aliases, see [`KNOWN_STORE_TYPES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreKind {
    /// `metaxy.ext.duckdb.DuckDBMetadataStore`
    DuckDb,
    /// `metaxy.ext.polars.handlers.delta.DeltaMetadataStore`
    Delta,
    /// `metaxy.ext.lancedb.LanceDBMetadataStore`
    LanceDb,
    /// `metaxy.ext.postgresql.PostgreSQLMetadataStore`
    Postgres,
}

/// Every accepted store `type` string as `(type_path, kind, deprecated)`, canonical first.
///
/// Mirrors which import paths work in Metaxy 0.1.11; the deprecated aliases emit a
/// `DeprecationWarning` in Python (recorded in [`MetaxyConfig::warnings`] here).
pub const KNOWN_STORE_TYPES: &[(&str, StoreKind, bool)] = &[
    (
        "metaxy.ext.duckdb.DuckDBMetadataStore",
        StoreKind::DuckDb,
        false,
    ),
    (
        "metaxy.ext.duckdb.metadata_store.DuckDBMetadataStore",
        StoreKind::DuckDb,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.duckdb.DuckDBMetadataStore",
        StoreKind::DuckDb,
        true,
    ),
    (
        "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
        StoreKind::Delta,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.delta.DeltaMetadataStore",
        StoreKind::Delta,
        true,
    ),
    (
        "metaxy.ext.polars.DeltaMetadataStore",
        StoreKind::Delta,
        true,
    ),
    (
        "metaxy.ext.lancedb.LanceDBMetadataStore",
        StoreKind::LanceDb,
        false,
    ),
    (
        "metaxy.ext.lancedb.metadata_store.LanceDBMetadataStore",
        StoreKind::LanceDb,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.lancedb.LanceDBMetadataStore",
        StoreKind::LanceDb,
        true,
    ),
    (
        "metaxy.ext.postgresql.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        false,
    ),
    (
        "metaxy.ext.postgresql.metadata_store.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.postgresql.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        true,
    ),
];

impl StoreKind {
    /// All supported kinds.
    pub const ALL: [StoreKind; 4] = [
        StoreKind::DuckDb,
        StoreKind::Delta,
        StoreKind::LanceDb,
        StoreKind::Postgres,
    ];

    /// Python class name, as printed by `metaxy list stores` (e.g. `"DuckDBMetadataStore"`).
    pub fn display_name(&self) -> &'static str {
        match *self {
            StoreKind::DuckDb => "DuckDBMetadataStore",
            StoreKind::Delta => "DeltaMetadataStore",
            StoreKind::LanceDb => "LanceDBMetadataStore",
            StoreKind::Postgres => "PostgreSQLMetadataStore",
        }
    }

    /// Canonical `type` import path for this backend (the one Metaxy's docs use).
    pub fn canonical_type_path(&self) -> &'static str {
        match self {
            StoreKind::DuckDb => "metaxy.ext.duckdb.DuckDBMetadataStore",
            StoreKind::Delta => "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
            StoreKind::LanceDb => "metaxy.ext.lancedb.LanceDBMetadataStore",
            StoreKind::Postgres => "metaxy.ext.postgresql.PostgreSQLMetadataStore",
        }
    }

    /// Name of the required config key holding the store location:
    /// DuckDB `database`, Delta `root_path`, LanceDB `uri`, PostgreSQL `connection_string` (which may be replaced by
    /// `connection_params`: the store then has no location string).
    pub fn location_key(&self) -> &'static str {
        match self {
            StoreKind::DuckDb => "database",
            StoreKind::Delta => "root_path",
            StoreKind::LanceDb => "uri",
            StoreKind::Postgres => "connection_string",
        }
    }

    /// Default `hash_algorithm` of the store class (`FORMAT.md` §1.5): `xxhash32` for all three.
    pub fn default_hash_algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::Xxhash32
    }

    /// Resolves a `type` string to `(kind, deprecated)`; `None` if unsupported.
    /// Matching is exact (Python import paths are case-sensitive).
    pub fn from_type_path(type_path: &str) -> Option<(StoreKind, bool)> {
        KNOWN_STORE_TYPES
            .iter()
            .find(|(p, _, _)| *p == type_path)
            .map(|(_, k, d)| (*k, *d))
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// Metaxy `HashAlgorithm` enum of the 0.1.11 wheel (values are the TOML strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// `"xxhash32"` — default for DuckDB/Delta/LanceDB.
    Xxhash32,
    /// `"xxhash64"`
    Xxhash64,
    /// `"xxh3_64"` (added in the 0.1.11 wheel)
    Xxh3_64,
    /// `"wyhash"`
    Wyhash,
    /// `"sha256"`
    Sha256,
    /// `"md5"`
    Md5,
    /// `"farmhash"` (in the enum, supported by no engine)
    Farmhash,
}

/// Error of [`HashAlgorithm::from_str`]: the string is not a Metaxy hash algorithm value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid HashAlgorithm")]
pub struct ParseHashAlgorithmError(pub String);

impl HashAlgorithm {
    /// All variants, in Metaxy's enum order.
    pub const ALL: [HashAlgorithm; 7] = [
        HashAlgorithm::Xxhash32,
        HashAlgorithm::Xxhash64,
        HashAlgorithm::Xxh3_64,
        HashAlgorithm::Wyhash,
        HashAlgorithm::Sha256,
        HashAlgorithm::Md5,
        HashAlgorithm::Farmhash,
    ];

    /// The enum value string (`"xxhash32"`, `"xxh3_64"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            HashAlgorithm::Xxhash32 => "xxhash32",
            HashAlgorithm::Xxhash64 => "xxhash64",
            HashAlgorithm::Xxh3_64 => "xxh3_64",
            HashAlgorithm::Wyhash => "wyhash",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Farmhash => "farmhash",
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = ParseHashAlgorithmError;

    /// Exact, case-sensitive match on the enum value (Python `HashAlgorithm(value)`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::ALL
            .iter()
            .copied()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| ParseHashAlgorithmError(s.to_string()))
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
const TOP_LEVEL_KEYS: &[&str] = &[
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

    /// Full Metaxy discovery (`MetaxyConfig.load(config_file, search_parents=True)`).
    ///
    /// * `explicit`: the CLI's `--config-file` (relative paths are joined to `cwd`).
    /// * `cwd`: the process working directory (start of the upward search).
    /// * `env`: the environment (see [`process_env`]); used for `METAXY_CONFIG`, `METAXY_*`
    ///   overrides and `${VAR}` interpolation.
    ///
    /// Order, exactly as Metaxy 0.1.11 does it: a non-empty env `METAXY_CONFIG` **replaces** the
    /// explicit file (Metaxy's `load` checks it first and overwrites `config_file`); otherwise
    /// the explicit file; otherwise search `cwd` and each parent up to `/` for `metaxy.toml`
    /// (wins) or a `pyproject.toml` with a non-empty `[tool.metaxy]`. When nothing is found the
    /// result is defaults + env overrides with `source == None`.
    ///
    /// Errors: any error of [`Self::from_file`]; a `pyproject.toml` met during discovery that is
    /// not valid TOML is a [`ConfigError::Toml`] (as in Metaxy).
    pub fn load(
        explicit: Option<&Path>,
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<MetaxyConfig, ConfigError> {
        let cwd = absolutize(cwd);
        let mut file: Option<PathBuf> = explicit.map(|p| cwd.join(p));
        if let Some(from_env) = env.get("METAXY_CONFIG").filter(|v| !v.is_empty()) {
            file = Some(cwd.join(from_env));
        }
        if file.is_none() {
            file = discover_config_file(&cwd)?;
        }
        match file {
            Some(path) => MetaxyConfig::from_file(&path, env),
            None => MetaxyConfig::from_raw(JsonMap::new(), None, Vec::new(), env),
        }
    }

    /// Loads one config file (plus its `extend` chain) and applies interpolation, env overrides
    /// and validation.
    ///
    /// A file named `pyproject.toml` contributes its `[tool.metaxy]` table (empty if absent);
    /// any other name is a `metaxy.toml`-style document. `extend` paths are resolved relative
    /// to the directory of the file that contains them.
    ///
    /// Errors: [`ConfigError::Io`], [`ConfigError::Toml`], [`ConfigError::ExtendNotFound`],
    /// [`ConfigError::ExtendCycle`], plus all validation errors of [`Self::from_toml_str`].
    pub fn from_file(
        path: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<MetaxyConfig, ConfigError> {
        let data = read_config_file(path)?;
        let resolved = std::fs::canonicalize(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = resolved
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let mut seen = vec![resolved.clone()];
        let mut chain = Vec::new();
        let data = resolve_extend(data, &base_dir, &resolved, &mut seen, &mut chain)?;
        MetaxyConfig::from_raw(data, Some(resolved), chain, env)
    }

    /// Parses `text` as a `metaxy.toml` document (whole document is the config) whose `extend`
    /// paths are relative to `base_dir`; then interpolation, env overrides and validation as in
    /// [`Self::from_file`]. `source` is `None`.
    ///
    /// Errors: [`ConfigError::Toml`] (path `<inline>`), extend errors, and validation errors:
    /// [`ConfigError::UnknownKey`], [`ConfigError::InvalidValue`],
    /// [`ConfigError::UnknownStoreType`], [`ConfigError::UnsupportedHashAlgorithm`],
    /// [`ConfigError::EnvParse`].
    pub fn from_toml_str(
        text: &str,
        base_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<MetaxyConfig, ConfigError> {
        let data = parse_toml_ordered(text).map_err(|message| ConfigError::Toml {
            path: PathBuf::from("<inline>"),
            message,
        })?;
        let base_dir = absolutize(base_dir);
        let mut seen = Vec::new();
        let mut chain = Vec::new();
        let data = resolve_extend(data, &base_dir, &base_dir, &mut seen, &mut chain)?;
        MetaxyConfig::from_raw(data, None, chain, env)
    }

    /// Looks up a store by name; `None` (or an empty name, like Python's `name or self.store`)
    /// means the default store [`Self::store`]. Mirrors `MetaxyConfig.get_store`'s lookup.
    ///
    /// Errors: [`ConfigError::NoStores`] if no store is configured,
    /// [`ConfigError::UnknownStore`] (with the configured names) if the name is not configured.
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
            sm.insert("config".into(), Value::Object(s.config.clone()));
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

    /// Builds the typed config from the merged raw TOML dict (extend already resolved):
    /// interpolation → env overrides → incomplete-store filtering → validation.
    fn from_raw(
        data: JsonMap,
        source: Option<PathBuf>,
        extend_chain: Vec<PathBuf>,
        env: &BTreeMap<String, String>,
    ) -> Result<MetaxyConfig, ConfigError> {
        let data = match expand_env_vars(Value::Object(data), env) {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        };
        let overrides = env_overrides(env)?;
        let mut data = deep_update(data, overrides);
        let mut warnings = Vec::new();
        filter_incomplete_stores(&mut data, &mut warnings);
        let mut cfg = validate(data, &mut warnings)?;
        cfg.source = source;
        cfg.extend_chain = extend_chain;
        cfg.warnings = warnings;
        Ok(cfg)
    }
}

/// Snapshot of the process environment (`std::env::vars_os`, non-UTF-8 entries skipped) into a
/// sorted map, for [`MetaxyConfig::load`]. Tests pass their own maps instead.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

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

fn absolutize(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Reads a TOML file into an ordered JSON map (whole document).
fn read_toml_document(path: &Path) -> Result<JsonMap, ConfigError> {
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
fn read_config_file(path: &Path) -> Result<JsonMap, ConfigError> {
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
fn parse_toml_ordered(text: &str) -> Result<JsonMap, String> {
    let doc = toml::de::DeTable::parse(text).map_err(|mut e| {
        e.set_input(Some(text));
        e.to_string().trim_end().to_string()
    })?;
    detable_to_json(doc.get_ref())
}

fn detable_to_json(table: &toml::de::DeTable<'_>) -> Result<JsonMap, String> {
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
fn earliest_key_start(v: &toml::de::DeValue<'_>) -> usize {
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

fn devalue_to_json(v: &toml::de::DeValue<'_>) -> Result<Value, String> {
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
// ---------------------------------------------------------------------------------------------

/// Metaxy `_resolve_extend`: pops `extend`, loads the parent (relative to `base_dir`),
/// resolves it recursively, and merges `data` on top.
fn resolve_extend(
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
fn merge_toml(parent: JsonMap, child: JsonMap) -> JsonMap {
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
fn deep_update(base: JsonMap, update: JsonMap) -> JsonMap {
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

static ENV_VAR_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
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
fn expand_env_vars(value: Value, env: &BTreeMap<String, String>) -> Value {
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
fn env_path_is_complex(path: &[&str]) -> bool {
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
fn env_overrides(env: &BTreeMap<String, String>) -> Result<JsonMap, ConfigError> {
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

/// Metaxy `_filter_incomplete_stores`: drops stores that are not tables with a `type` key and
/// records Metaxy's `UserWarning` text.
fn filter_incomplete_stores(data: &mut JsonMap, warnings: &mut Vec<String>) {
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

fn collect_dict_keys(m: &JsonMap, prefix: &str) -> Vec<String> {
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

fn opt_string(v: &Option<String>) -> Value {
    v.as_ref()
        .map(|s| Value::String(s.clone()))
        .unwrap_or(Value::Null)
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn lax_str(key: &str, v: &Value) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            key,
            format!("Input should be a valid string, got {}", describe(other)),
        )),
    }
}

fn lax_opt_str(key: &str, v: &Value) -> Result<Option<String>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        other => lax_str(key, other).map(Some),
    }
}

/// pydantic lax bool: bools, 0/1, and the strings 0/off/f/false/n/no/1/on/t/true/y/yes
/// (case-insensitive).
fn lax_bool(key: &str, v: &Value) -> Result<bool, ConfigError> {
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

fn lax_opt_bool(key: &str, v: &Value) -> Result<Option<bool>, ConfigError> {
    match v {
        Value::Null => Ok(None),
        other => lax_bool(key, other).map(Some),
    }
}

/// pydantic lax int: ints, bools, integral floats, and integer strings (whitespace trimmed,
/// `_` separators allowed, integral decimal strings like `"16.0"` accepted).
fn lax_int(key: &str, v: &Value) -> Result<i64, ConfigError> {
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

fn str_list(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
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
fn validate_project(v: &str) -> Result<(), ConfigError> {
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

fn validate_store(
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
fn validate_plugin(name: &str, value: &Value) -> Result<Value, ConfigError> {
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
fn validate_feature_selection(idx: usize, value: &Value) -> Result<Value, ConfigError> {
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
fn validate(data: JsonMap, warnings: &mut Vec<String>) -> Result<MetaxyConfig, ConfigError> {
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

/// Python `json.dumps(..., ensure_ascii=True)`: escape every non-ASCII char as `\uXXXX`
/// (UTF-16 surrogate pairs above the BMP). Non-ASCII only occurs inside JSON strings.
fn ensure_ascii(s: &str) -> String {
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
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }

    const DUCK: &str = r#"
project = "example_overview"
entrypoints = ["example_overview.features"]
auto_create_tables = true
store = "dev"

[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"

[stores.dev.config]
database = "${METAXY_FIXTURE_DIR:-.}/store/metadata.duckdb"
"#;

    fn parse(text: &str, e: &BTreeMap<String, String>) -> Result<MetaxyConfig, ConfigError> {
        MetaxyConfig::from_toml_str(text, Path::new("/"), e)
    }

    #[test]
    fn fixture_config_print_json_matches_metaxy() {
        let e = env(&[("METAXY_FIXTURE_DIR", "<fixtures>/duckdb/s01_initial")]);
        let cfg = parse(DUCK, &e).expect("config");
        let expected = r#"{
  "store": "dev",
  "stores": {
    "dev": {
      "type": "metaxy.ext.duckdb.DuckDBMetadataStore",
      "config": {
        "database": "<fixtures>/duckdb/s01_initial/store/metadata.duckdb"
      }
    }
  },
  "extend": null,
  "entrypoints": [
    "example_overview.features"
  ],
  "theme": "default",
  "ext": {},
  "hash_truncation_length": 8,
  "enable_map_datatype": false,
  "auto_create_tables": true,
  "project": "example_overview",
  "locked": null,
  "sync": true,
  "extra_features": [],
  "metaxy_lock_path": null
}"#;
        assert_eq!(cfg.to_print_json_string(), expected);
        let st = cfg.store_config(None).expect("store");
        assert_eq!(st.kind, StoreKind::DuckDb);
        assert_eq!(st.kind.display_name(), "DuckDBMetadataStore");
        assert_eq!(st.hash_algorithm, HashAlgorithm::Xxhash32);
        assert!(!st.deprecated_type);
        assert!(st.fallback_stores.is_empty());
        assert_eq!(
            st.location().expect("loc"),
            "<fixtures>/duckdb/s01_initial/store/metadata.duckdb"
        );
        assert!(cfg.warnings.is_empty());
    }

    #[test]
    fn real_fixture_files_load_if_present() {
        let root = Path::new("/work/shared/metaxy/fixtures");
        for (backend, kind) in [
            ("duckdb", StoreKind::DuckDb),
            ("delta", StoreKind::Delta),
            ("lancedb", StoreKind::LanceDb),
        ] {
            let dir = root.join(backend).join("s01_initial");
            let golden = dir.join("expected/cli/s01_config_print_json.txt");
            if !golden.exists() {
                continue;
            }
            let e = env(&[(
                "METAXY_FIXTURE_DIR",
                &format!("<fixtures>/{backend}/s01_initial"),
            )]);
            let cfg = MetaxyConfig::load(None, &dir, &e).expect("load");
            assert_eq!(cfg.store_config(None).expect("store").kind, kind);
            let text = fs::read_to_string(&golden).expect("golden");
            let start = text.find("# --- stdout ---\n").expect("stdout marker") + 17;
            let end = text.find("\n# --- stderr ---").expect("stderr marker");
            assert_eq!(cfg.to_print_json_string(), text[start..end].trim_end());
        }
    }

    #[test]
    fn defaults_when_nothing_found() {
        let d = tmp();
        let cfg = MetaxyConfig::load(None, d.path(), &env(&[])).expect("load");
        // A config may exist above the tempdir on odd machines; only assert if none was found.
        if cfg.source.is_none() {
            assert_eq!(cfg, MetaxyConfig::default());
            assert_eq!(cfg.store, "dev");
            assert_eq!(cfg.hash_truncation_length, 8);
            assert!(cfg.sync);
            assert_eq!(cfg.theme, "default");
            assert!(matches!(cfg.store_config(None), Err(ConfigError::NoStores)));
        }
    }

    #[test]
    fn discovery_searches_upward_and_prefers_metaxy_toml() {
        let d = tmp();
        let root = d.path();
        write(&root.join("metaxy.toml"), "project = \"top\"\n");
        write(
            &root.join("a/pyproject.toml"),
            "[project]\nname = \"x\"\n[tool.metaxy]\nproject = \"py\"\n",
        );
        write(&root.join("a/b/c/.keep"), "");
        // from a/b/c: a/pyproject.toml has [tool.metaxy] → found before root metaxy.toml
        let cfg = MetaxyConfig::load(None, &root.join("a/b/c"), &env(&[])).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("py"));
        assert_eq!(
            cfg.source.as_deref(),
            Some(
                fs::canonicalize(root.join("a/pyproject.toml"))
                    .expect("c")
                    .as_path()
            )
        );
        // metaxy.toml in the same dir wins over pyproject.toml
        write(&root.join("a/metaxy.toml"), "project = \"mx\"\n");
        let cfg = MetaxyConfig::load(None, &root.join("a/b/c"), &env(&[])).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("mx"));
    }

    #[test]
    fn pyproject_without_tool_metaxy_is_skipped() {
        let d = tmp();
        let root = d.path();
        write(&root.join("metaxy.toml"), "project = \"top\"\n");
        write(
            &root.join("sub/pyproject.toml"),
            "[project]\nname = \"x\"\n[tool.ruff]\nline-length = 100\n",
        );
        let cfg = MetaxyConfig::load(None, &root.join("sub"), &env(&[])).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("top"));
        // empty [tool.metaxy] is also skipped
        write(&root.join("sub/pyproject.toml"), "[tool.metaxy]\n");
        let cfg = MetaxyConfig::load(None, &root.join("sub"), &env(&[])).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("top"));
        // but an explicit pyproject without [tool.metaxy] yields defaults with that source
        write(
            &root.join("sub/pyproject.toml"),
            "[project]\nname = \"x\"\n",
        );
        let cfg =
            MetaxyConfig::from_file(&root.join("sub/pyproject.toml"), &env(&[])).expect("load");
        assert_eq!(cfg.project, None);
        assert!(cfg.source.is_some());
    }

    #[test]
    fn invalid_pyproject_during_discovery_is_an_error() {
        let d = tmp();
        write(&d.path().join("pyproject.toml"), "[tool.metaxy\n");
        let err = MetaxyConfig::load(None, d.path(), &env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Toml { .. }), "{err}");
    }

    #[test]
    fn metaxy_config_env_and_explicit_file() {
        let d = tmp();
        let root = d.path();
        write(&root.join("metaxy.toml"), "project = \"discovered\"\n");
        write(&root.join("conf/explicit.toml"), "project = \"explicit\"\n");
        write(&root.join("conf/env.toml"), "project = \"fromenv\"\n");
        let none = env(&[]);
        let cfg =
            MetaxyConfig::load(Some(Path::new("conf/explicit.toml")), root, &none).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("explicit"));
        let e = env(&[("METAXY_CONFIG", "conf/env.toml")]);
        let cfg = MetaxyConfig::load(None, root, &e).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("fromenv"));
        // Metaxy 0.1.11: METAXY_CONFIG overrides the explicit config_file argument.
        let cfg =
            MetaxyConfig::load(Some(Path::new("conf/explicit.toml")), root, &e).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("fromenv"));
        // empty METAXY_CONFIG is ignored
        let e = env(&[("METAXY_CONFIG", "")]);
        let cfg = MetaxyConfig::load(None, root, &e).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("discovered"));
        // missing file → Io
        let e = env(&[("METAXY_CONFIG", "nope.toml")]);
        assert!(matches!(
            MetaxyConfig::load(None, root, &e),
            Err(ConfigError::Io { .. })
        ));
    }

    #[test]
    fn extend_merge_semantics() {
        let d = tmp();
        let root = d.path();
        write(
            &root.join("base/base.toml"),
            r#"
project = "base"
entrypoints = ["a"]
theme = "dark"
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "base.duckdb"
hash_algorithm = "md5"
[stores.shared]
type = "metaxy.ext.lancedb.LanceDBMetadataStore"
[stores.shared.config]
uri = "s3://x/${WHERE:-lance}"
"#,
        );
        write(
            &root.join("proj/metaxy.toml"),
            r#"
extend = "../base/base.toml"
project = "child"
entrypoints = ["b"]
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "child.duckdb"
"#,
        );
        let cfg = MetaxyConfig::from_file(&root.join("proj/metaxy.toml"), &env(&[])).expect("load");
        assert_eq!(cfg.project.as_deref(), Some("child"));
        assert_eq!(cfg.theme, "dark");
        assert_eq!(cfg.entrypoints, vec!["a", "b"]);
        // one-level merge: child's stores.dev replaces the parent's entirely
        let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["dev", "shared"]);
        let dev = cfg.store_config(Some("dev")).expect("dev");
        assert_eq!(dev.location().expect("loc"), "child.duckdb");
        assert_eq!(dev.hash_algorithm, HashAlgorithm::Xxhash32);
        assert!(!dev.config.contains_key("hash_algorithm"));
        // interpolation also applies to values inherited from the parent
        let shared = cfg.store_config(Some("shared")).expect("shared");
        assert_eq!(shared.location().expect("loc"), "s3://x/lance");
        // extend is consumed, as in Metaxy
        assert_eq!(cfg.extend, None);
        assert_eq!(cfg.to_print_json()["extend"], Value::Null);
        assert_eq!(
            cfg.extend_chain,
            vec![fs::canonicalize(root.join("base/base.toml")).expect("c")]
        );
    }

    #[test]
    fn extend_chain_of_three_and_pyproject_parent() {
        let d = tmp();
        let root = d.path();
        write(
            &root.join("pyproject.toml"),
            "[tool.metaxy]\nentrypoints = [\"p\"]\nhash_truncation_length = 12\n",
        );
        write(
            &root.join("mid/mid.toml"),
            "extend = \"../pyproject.toml\"\nentrypoints = [\"m\"]\n",
        );
        write(
            &root.join("leaf/metaxy.toml"),
            "extend = \"../mid/mid.toml\"\nentrypoints = [\"l\"]\n",
        );
        let cfg = MetaxyConfig::from_file(&root.join("leaf/metaxy.toml"), &env(&[])).expect("load");
        assert_eq!(cfg.entrypoints, vec!["p", "m", "l"]);
        assert_eq!(cfg.hash_truncation_length, 12);
        assert_eq!(cfg.extend_chain.len(), 2);
    }

    #[test]
    fn extend_cycle_and_missing() {
        let d = tmp();
        let root = d.path();
        write(&root.join("a.toml"), "extend = \"b.toml\"\n");
        write(&root.join("b.toml"), "extend = \"a.toml\"\n");
        let err = MetaxyConfig::from_file(&root.join("a.toml"), &env(&[])).unwrap_err();
        match &err {
            ConfigError::ExtendCycle { path, chain } => {
                assert_eq!(path, &fs::canonicalize(root.join("a.toml")).expect("c"));
                assert_eq!(chain.len(), 2);
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("circular"));
        write(&root.join("self.toml"), "extend = \"self.toml\"\n");
        assert!(matches!(
            MetaxyConfig::from_file(&root.join("self.toml"), &env(&[])),
            Err(ConfigError::ExtendCycle { .. })
        ));
        write(&root.join("c.toml"), "extend = \"missing.toml\"\n");
        assert!(matches!(
            MetaxyConfig::from_file(&root.join("c.toml"), &env(&[])),
            Err(ConfigError::ExtendNotFound { .. })
        ));
        // extend from an inline string is relative to base_dir
        let cfg =
            MetaxyConfig::from_toml_str("extend = \"b2.toml\"\nproject = \"x\"\n", root, &env(&[]));
        assert!(matches!(cfg, Err(ConfigError::ExtendNotFound { .. })));
        write(&root.join("b2.toml"), "theme = \"t\"\n");
        let cfg =
            MetaxyConfig::from_toml_str("extend = \"b2.toml\"\n", root, &env(&[])).expect("ok");
        assert_eq!(cfg.theme, "t");
    }

    #[test]
    fn extend_path_is_not_interpolated() {
        let d = tmp();
        let root = d.path();
        write(&root.join("${X}.toml"), "theme = \"literal\"\n");
        let e = env(&[("X", "other")]);
        let cfg = MetaxyConfig::from_toml_str("extend = \"${X}.toml\"\n", root, &e).expect("ok");
        assert_eq!(cfg.theme, "literal");
    }

    #[test]
    fn interpolation_rules() {
        let e = env(&[("SET", "v"), ("EMPTY", "")]);
        assert_eq!(
            expand_env_string("s3://bucket/${ENV_NAME}/x", &e),
            "s3://bucket//x"
        );
        assert_eq!(expand_env_string("${SET}", &e), "v");
        assert_eq!(expand_env_string("${UNSET:-dflt}", &e), "dflt");
        assert_eq!(expand_env_string("${SET:-dflt}", &e), "v");
        // set-but-empty wins over the default (Python os.environ.get semantics)
        assert_eq!(expand_env_string("${EMPTY:-dflt}", &e), "");
        assert_eq!(expand_env_string("${UNSET:-}", &e), "");
        assert_eq!(expand_env_string("$SET and $${SET}", &e), "$SET and $v");
        assert_eq!(
            expand_env_string("${SET}${SET}/${UNSET:-a:b}", &e),
            "vv/a:b"
        );

        let text = r#"
theme = "${SET}"
entrypoints = ["${SET}.mod", "${UNSET}x"]
[stores."${SET}"]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"
[stores."${SET}".config]
root_path = "s3://bucket/${ENV_NAME}/x"
storage_options = { token = "${SET:-no}", nested = ["${SET}"] }
"#;
        let cfg = parse(text, &e).expect("cfg");
        assert_eq!(cfg.theme, "v");
        assert_eq!(cfg.entrypoints, vec!["v.mod", "x"]);
        // keys are not expanded
        let st = cfg.store_config(Some("${SET}")).expect("store");
        assert_eq!(st.location().expect("loc"), "s3://bucket//x");
        assert_eq!(
            st.config["storage_options"],
            serde_json::json!({"token": "v", "nested": ["v"]})
        );
    }

    #[test]
    fn env_overrides_scalars_and_nested_store_keys() {
        let e = env(&[
            ("METAXY_STORE", "prod"),
            ("METAXY_HASH_TRUNCATION_LENGTH", "16"),
            ("METAXY_STORES__DEV__CONFIG__DATABASE", "/x.duckdb"),
            (
                "METAXY_STORES__PROD__TYPE",
                "metaxy.ext.lancedb.LanceDBMetadataStore",
            ),
            ("METAXY_STORES__PROD__CONFIG__URI", "/lance"),
            ("metaxy_sync", "FALSE"),
            ("METAXY_LOCKED", "1"),
            ("METAXY_ENABLE_MAP_DATATYPE", "yes"),
            ("METAXY_CONFIG_FILE", "/nonexistent.toml"),
            ("METAXY_LOG_LEVEL", "DEBUG"),
            ("METAXY_FIXTURE_DIR", "/fx"),
            ("METAXY_ENTRYPOINT", "not.json,comma"),
            ("METAXY_STORE__IGNORED", "x"),
            ("METAXY_", "x"),
        ]);
        let text = r#"
store = "dev"
[stores.dev]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.dev.config]
database = "${METAXY_FIXTURE_DIR}/a.duckdb"
hash_algorithm = "xxhash64"
"#;
        let cfg = parse(text, &e).expect("cfg");
        assert_eq!(cfg.store, "prod");
        assert_eq!(cfg.hash_truncation_length, 16);
        assert!(!cfg.sync);
        assert_eq!(cfg.locked, Some(true));
        assert!(cfg.enable_map_datatype);
        let dev = cfg.store_config(Some("dev")).expect("dev");
        assert_eq!(dev.location().expect("loc"), "/x.duckdb");
        // other keys of stores.dev.config survive the override
        assert_eq!(dev.hash_algorithm, HashAlgorithm::Xxhash64);
        let prod = cfg.store_config(None).expect("default store = prod");
        assert_eq!(prod.kind, StoreKind::LanceDb);
        assert_eq!(prod.location().expect("loc"), "/lance");
        let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["dev", "prod"]);
        let printed = cfg.to_print_json();
        assert_eq!(printed["hash_truncation_length"], Value::from(16));
        assert_eq!(printed["stores"]["dev"]["config"]["database"], "/x.duckdb");
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn env_only_store_without_type_is_dropped_with_warning() {
        let e = env(&[("METAXY_STORES__STAGING__CONFIG__DATABASE", "/s.duckdb")]);
        let cfg = parse(DUCK, &e).expect("cfg");
        assert_eq!(cfg.stores.len(), 1);
        assert_eq!(cfg.warnings.len(), 1);
        assert!(cfg.warnings[0].contains("'staging'"));
        assert!(cfg.warnings[0].contains("config.database"));
        // TOML stores without type are dropped too (same Metaxy validator)
        let cfg = parse("[stores.x.config]\ndatabase = \"a\"\n", &env(&[])).expect("cfg");
        assert!(cfg.stores.is_empty());
        assert_eq!(cfg.warnings.len(), 1);
    }

    #[test]
    fn env_complex_values_are_json() {
        let e = env(&[
            ("METAXY_ENTRYPOINTS", r#"["a.b", "c"]"#),
            ("METAXY_EXT__FOO__ENABLE", "true"),
            ("METAXY_EXT__FOO__LEVEL", "3"),
            (
                "METAXY_STORES__DEV__CONFIG",
                r#"{"database": "/j.duckdb", "fallback_stores": ["x"]}"#,
            ),
            (
                "METAXY_EXTRA_FEATURES",
                r#"[{"keys": ["a/b", ["c", "d"]]}]"#,
            ),
        ]);
        let cfg = parse(DUCK, &e).expect("cfg");
        assert_eq!(cfg.entrypoints, vec!["a.b", "c"]);
        assert_eq!(
            Value::Object(cfg.ext.clone()),
            serde_json::json!({"foo": {"enable": true, "level": "3"}})
        );
        let dev = cfg.store_config(None).expect("dev");
        assert_eq!(dev.location().expect("loc"), "/j.duckdb");
        assert_eq!(dev.fallback_stores, vec!["x"]);
        assert_eq!(
            cfg.extra_features,
            vec![serde_json::json!({"projects": null, "keys": ["a/b", "c/d"], "all": null})]
        );

        let bad = env(&[("METAXY_ENTRYPOINTS", "a.b,c")]);
        assert!(matches!(
            parse(DUCK, &bad),
            Err(ConfigError::EnvParse { .. })
        ));
    }

    #[test]
    fn env_bad_scalar_is_invalid_value() {
        let e = env(&[("METAXY_HASH_TRUNCATION_LENGTH", "abc")]);
        assert!(matches!(
            parse(DUCK, &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        let e = env(&[("METAXY_SYNC", "maybe")]);
        assert!(matches!(
            parse(DUCK, &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        let e = env(&[("METAXY_HASH_TRUNCATION_LENGTH", "4")]);
        assert!(matches!(
            parse(DUCK, &e),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn store_type_aliases() {
        for (path, kind, deprecated) in KNOWN_STORE_TYPES {
            let text = format!(
                "[stores.s]\ntype = \"{path}\"\n[stores.s.config]\n{} = \"loc\"\n",
                kind.location_key()
            );
            let cfg = parse(&text, &env(&[])).expect("cfg");
            let st = &cfg.stores[0];
            assert_eq!(st.kind, *kind);
            assert_eq!(st.deprecated_type, *deprecated);
            assert_eq!(st.type_path, *path);
            assert_eq!(st.location().expect("loc"), "loc");
            assert_eq!(cfg.warnings.len(), usize::from(*deprecated));
        }
        assert_eq!(
            StoreKind::from_type_path("metaxy.ext.polars.DeltaMetadataStore"),
            Some((StoreKind::Delta, true))
        );
        assert_eq!(
            StoreKind::from_type_path("metaxy.ext.duckdb.duckdbmetadatastore"),
            None
        );
    }

    #[test]
    fn store_errors() {
        let e = env(&[]);
        // an unsupported store class does not break loading (Metaxy fails only when it is instantiated) ...
        let cfg = parse(
            "store = \"x\"\n[stores.x]\ntype = \"metaxy.ext.clickhouse.ClickHouseMetadataStore\"\n[stores.y]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.y.config]\ndatabase = \"a\"\n",
            &e,
        )
        .unwrap();
        assert_eq!(cfg.stores.len(), 1);
        assert_eq!(cfg.store_config(Some("y")).unwrap().name, "y");
        assert!(cfg.warnings.iter().any(|w| w.contains("ClickHouse")));
        // ... but selecting it is an error
        let err = cfg.store_config(None).unwrap_err();
        match err {
            ConfigError::UnknownStoreType {
                store,
                type_path,
                supported,
            } => {
                assert_eq!(store, "x");
                assert!(type_path.contains("ClickHouse"));
                assert_eq!(supported.len(), KNOWN_STORE_TYPES.len());
            }
            other => panic!("unexpected {other}"),
        }
        let err = parse(
            "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\ndatabase = \"a\"\n",
            &e,
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { ref key } if key == "stores.x.database"));
        let err = parse(
            "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\nconfig = { hash_algorithm = \"blake3\" }\n",
            &e,
        )
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::UnsupportedHashAlgorithm { ref algorithm, .. } if algorithm == "blake3")
        );
        let cfg = parse(
            "[stores.x]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n",
            &e,
        )
        .expect("cfg");
        let st = cfg.store_config(Some("x")).expect("x");
        assert!(
            matches!(st.location(), Err(ConfigError::MissingKey { ref key, .. }) if key == "database")
        );
        match cfg.store_config(None) {
            Err(ConfigError::UnknownStore { name, available }) => {
                assert_eq!(name, "dev");
                assert_eq!(available, vec!["x"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(cfg.store_config(Some("")).is_err());
        let err = parse("[stores.x]\ntype = 3\n", &e).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidValue { .. }));
        let err = parse(
            "stores = { x = { type = \"metaxy.ext.duckdb.DuckDBMetadataStore\", config = 1 } }\n",
            &e,
        )
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { ref key, .. } if key == "stores.x.config")
        );
    }

    #[test]
    fn hash_algorithms() {
        for h in HashAlgorithm::ALL {
            assert_eq!(h.as_str().parse::<HashAlgorithm>(), Ok(h));
        }
        assert_eq!("xxh3_64".parse(), Ok(HashAlgorithm::Xxh3_64));
        assert!("XXHASH32".parse::<HashAlgorithm>().is_err());
        let text = "[stores.l]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n[stores.l.config]\nuri = \"u\"\nhash_algorithm = \"sha256\"\nfallback_stores = [\"a\", \"b\"]\n";
        let cfg = parse(text, &env(&[])).expect("cfg");
        assert_eq!(cfg.stores[0].hash_algorithm, HashAlgorithm::Sha256);
        assert_eq!(cfg.stores[0].fallback_stores, vec!["a", "b"]);
        assert_eq!(
            StoreKind::Delta.default_hash_algorithm(),
            HashAlgorithm::Xxhash32
        );
    }

    #[test]
    fn top_level_validation() {
        let e = env(&[]);
        assert!(matches!(
            parse("hash_algorithm = \"md5\"\n", &e),
            Err(ConfigError::UnknownKey { ref key }) if key == "hash_algorithm"
        ));
        assert!(matches!(
            parse("hash_truncation_length = 7\n", &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert_eq!(
            parse("hash_truncation_length = 64\n", &e)
                .expect("ok")
                .hash_truncation_length,
            64
        );
        for bad in ["a__b", "a/b", "a b", ""] {
            let text = format!("project = \"{bad}\"\n");
            assert!(
                matches!(parse(&text, &e), Err(ConfigError::InvalidValue { ref key, .. }) if key == "project"),
                "{bad}"
            );
        }
        assert_eq!(
            parse("project = \"My-proj_1\"\n", &e)
                .expect("ok")
                .project
                .as_deref(),
            Some("My-proj_1")
        );
        assert!(matches!(
            parse("store = 1\n", &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse("entrypoints = \"a\"\n", &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(parse("sync = \"true\"\n", &e), Ok(ref c) if c.sync));
        assert!(matches!(parse("locked = false\n", &e), Ok(ref c) if c.locked == Some(false)));
        assert!(matches!(
            parse("project = [\n", &e),
            Err(ConfigError::Toml { .. })
        ));
        assert!(matches!(
            parse("a = 1\na = 2\n", &e),
            Err(ConfigError::Toml { .. })
        ));
        assert!(matches!(
            parse("[[extra_features]]\nprojects = []\n", &e),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse("[[extra_features]]\nall = true\nfoo = 1\n", &e),
            Err(ConfigError::UnknownKey { .. })
        ));
        let cfg = parse(
            "metaxy_lock_path = \"locks/m.lock\"\n[[extra_features]]\nprojects = [\"p\"]\n[ext.plug]\nx = 1\n",
            &e,
        )
        .expect("ok");
        assert_eq!(
            cfg.extra_features,
            vec![serde_json::json!({"projects": ["p"], "keys": null, "all": null})]
        );
        assert_eq!(
            Value::Object(cfg.ext.clone()),
            serde_json::json!({"plug": {"enable": false, "x": 1}})
        );
        assert_eq!(cfg.lock_file(), None);
    }

    #[test]
    fn lock_file_resolution() {
        let d = tmp();
        write(
            &d.path().join("metaxy.toml"),
            "metaxy_lock_path = \"l/x.lock\"\n",
        );
        let cfg = MetaxyConfig::from_file(&d.path().join("metaxy.toml"), &env(&[])).expect("ok");
        let dir = fs::canonicalize(d.path()).expect("c");
        assert_eq!(cfg.lock_file(), Some(dir.join("l/x.lock")));
        write(&d.path().join("metaxy.toml"), "");
        let cfg = MetaxyConfig::from_file(&d.path().join("metaxy.toml"), &env(&[])).expect("ok");
        assert_eq!(cfg.lock_file(), Some(dir.join("metaxy.lock")));
    }

    #[test]
    fn store_order_follows_document_order() {
        let text = r#"
store = "zeta"
[stores.zeta]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
config = { database = "z", zz = 1, aa = 2 }
[stores.alpha]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
[stores.alpha.config]
database = "a"
[stores.mid]
type = "metaxy.ext.duckdb.DuckDBMetadataStore"
"#;
        let cfg = parse(text, &env(&[])).expect("cfg");
        let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["zeta", "alpha", "mid"]);
        let keys: Vec<_> = cfg.stores[0].config.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["database", "zz", "aa"]);
        let printed = cfg.to_print_json();
        let pnames: Vec<_> = printed["stores"]
            .as_object()
            .expect("obj")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(pnames, vec!["zeta", "alpha", "mid"]);
    }

    #[test]
    fn implicit_tables_keep_first_mention_order() {
        // `stores.b` is first mentioned by `[stores.b.config]`, before `[stores.a]` (tomli order).
        let text = "[stores.b.config]\ndatabase = \"x\"\n\
                    [stores.a]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\
                    [stores.b]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n";
        let cfg = parse(text, &env(&[])).expect("cfg");
        let names: Vec<_> = cfg.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["b", "a"]);
        assert_eq!(cfg.stores[0].location().expect("loc"), "x");
    }

    #[test]
    fn ensure_ascii_like_python() {
        let cfg = parse("theme = \"é😀\"\n", &env(&[])).expect("cfg");
        assert!(cfg
            .to_print_json_string()
            .contains(r#""theme": "\u00e9\ud83d\ude00""#));
    }

    #[test]
    fn toml_datetimes_and_numbers_convert() {
        let text = "[stores.s]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.s.config]\ndatabase = \"d\"\nwhen = 1979-05-27T07:32:00Z\nhex = 0x1F\nf = 1.5\nbig = 1_000\n";
        let cfg = parse(text, &env(&[])).expect("cfg");
        let c = &cfg.stores[0].config;
        assert_eq!(c["when"], "1979-05-27T07:32:00Z");
        assert_eq!(c["hex"], 31);
        assert_eq!(c["f"], 1.5);
        assert_eq!(c["big"], 1000);
    }
}
