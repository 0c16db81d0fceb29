//! Typed configuration errors ([`ConfigError`]) and the raw-table type the loader passes around.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::engine::config::kinds::HashAlgorithm;

/// JSON object type used for raw (untyped) configuration tables; insertion-ordered because the
/// crate enables serde_json's `preserve_order` feature.
pub(crate) type JsonMap = Map<String, Value>;

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

pub(crate) fn fmt_cycle(chain: &[PathBuf], path: &Path) -> String {
    let mut parts: Vec<String> = chain.iter().map(|p| p.display().to_string()).collect();
    parts.push(path.display().to_string());
    parts.join(" -> ")
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.into(),
        message: message.into(),
    }
}
