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
//!
//! Files: [`discover`] (finding and reading the file), [`extend`] (`extend` chains), [`env`] (interpolation and
//! `METAXY_*` overrides), [`validate`] (typed validation), [`model`] (the typed config), [`kinds`] (store kinds and
//! hash algorithms), [`error`] ([`ConfigError`]).

pub mod discover;
pub mod env;
pub mod error;
pub mod extend;
pub mod kinds;
pub mod model;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::config::discover::{absolutize, parse_toml_ordered, read_config_file};
use crate::engine::config::env::{env_overrides, expand_env_vars};
use crate::engine::config::error::JsonMap;
use crate::engine::config::extend::{deep_update, resolve_extend};
use crate::engine::config::validate::{filter_incomplete_stores, validate};

pub use discover::discover_config_file;
pub use env::{expand_env_string, process_env};
pub use error::ConfigError;
pub use kinds::{HashAlgorithm, ParseHashAlgorithmError, StoreKind, KNOWN_STORE_TYPES};
pub use model::{MetaxyConfig, StoreConfig, StoreSummary};

impl MetaxyConfig {
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
