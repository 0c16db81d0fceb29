//! Metadata stores: the backend abstraction ([`MetadataStore`]) and its DuckDB implementation.
//!
//! A store hands out *physical* rows of a feature table as a polars [`DataFrame`]; Metaxy's read semantics
//! (version filter, dedup, soft deletes) live in [`crate::engine::read`] and are shared by every backend, so Delta
//! Lake and LanceDB only need to implement [`MetadataStore`] (table naming, existence, scan, system table).

pub mod postgres;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::{AccessMode, Config, Connection};
use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, MetaxyConfig, StoreConfig, StoreKind};
use crate::engine::delta::DeltaStore;
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::graph::PushedFeature;
use crate::engine::keys::{feature_versions_key, FeatureKey};
use crate::engine::lance::LanceStore;

/// Where a feature's metadata was read from (Metaxy's `store_metadata` / `resolved_from`).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct ResolvedFrom {
    /// Store name from the config.
    pub name: String,
    /// Python class path Metaxy reports for the store class.
    #[serde(rename = "type")]
    pub type_path: String,
    /// Store display string, e.g. `DuckDBMetadataStore(backend=duckdb)`.
    pub display: String,
    /// Physical table name (DuckDB stores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// Table URI (Delta stores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

impl ResolvedFrom {
    /// Where the table is, for people: the table name or the URI.
    pub fn location(&self) -> String {
        self.table_name
            .clone()
            .or_else(|| self.uri.clone())
            .unwrap_or_else(|| self.display.clone())
    }
}

/// A metadata store backend. Implementations are read-only views unless stated otherwise; they never take a write
/// lock just to look.
/// Which columns a [`MetadataStore::scan`] returns (projection pushdown: DuckDB selects only these columns, Delta
/// and LanceDB decode only these columns' pages). Columns named here that the table lacks are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Columns {
    /// Every column of the table.
    #[default]
    All,
    /// Every column except these.
    Except(Vec<String>),
    /// Only these columns (in table order).
    Only(Vec<String>),
    /// The columns of `base` plus every column whose name occurs in one of `filters` (SQL texts; a
    /// case-insensitive substring match, so a filter never loses a column it needs).
    WithFilterColumns {
        /// The projection extended.
        base: Box<Columns>,
        /// SQL filter texts.
        filters: Vec<String>,
    },
}

impl Columns {
    /// Whether column `c` is returned.
    pub fn keeps(&self, c: &str) -> bool {
        match self {
            Columns::All => true,
            Columns::Except(v) => !v.iter().any(|x| x == c),
            Columns::Only(v) => v.iter().any(|x| x == c),
            Columns::WithFilterColumns { base, filters } => {
                base.keeps(c) || {
                    let c = c.to_lowercase();
                    filters.iter().any(|f| f.to_lowercase().contains(&c))
                }
            }
        }
    }

    /// This projection, also returning every column named in one of `filters` (SQL texts).
    pub fn with_filter_columns<'a>(self, filters: impl IntoIterator<Item = &'a String>) -> Self {
        let filters: Vec<String> = filters.into_iter().cloned().collect();
        if self == Columns::All || filters.is_empty() {
            return self;
        }
        Columns::WithFilterColumns {
            base: Box::new(self),
            filters,
        }
    }

    /// This projection, also returning `c`.
    pub fn with(mut self, c: &str) -> Self {
        match &mut self {
            Columns::All => {}
            Columns::Except(v) => v.retain(|x| x != c),
            Columns::Only(v) => {
                if !v.iter().any(|x| x == c) {
                    v.push(c.to_string())
                }
            }
            Columns::WithFilterColumns { base, .. } => {
                let b = std::mem::take(base.as_mut());
                **base = b.with(c);
            }
        }
        self
    }

    /// `schema` reduced to the columns this projection returns (table order; `schema` itself for [`Columns::All`]).
    pub fn project_schema(
        &self,
        schema: &arrow::datatypes::SchemaRef,
    ) -> arrow::datatypes::SchemaRef {
        match self.select(schema.fields().iter().map(|f| f.name().as_str())) {
            None => schema.clone(),
            Some(keep) => std::sync::Arc::new(arrow::datatypes::Schema::new_with_metadata(
                schema
                    .fields()
                    .iter()
                    .filter(|f| keep.contains(f.name()))
                    .cloned()
                    .collect::<Vec<_>>(),
                schema.metadata().clone(),
            )),
        }
    }

    /// The table's `columns` this projection returns, in table order (`None` = all of them: no projection needed).
    pub fn select<'a>(&self, columns: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
        if *self == Columns::All {
            return None;
        }
        Some(
            columns
                .into_iter()
                .filter(|c| self.keeps(c))
                .map(str::to_string)
                .collect(),
        )
    }
}

/// What [`MetadataStore::scan_latest`] answered.
#[derive(Debug)]
pub enum LatestScan {
    /// The backend does not dedup; scan and dedup in the engine.
    Unsupported,
    /// The table does not exist.
    Missing,
    /// The latest row per id (any order).
    Rows(DataFrame),
}

/// The bound, direction and size of a keyset scan ([`MetadataStore::scan_ordered`]): how paged reads walk a
/// feature table in id order without reading all of it.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    /// The id columns: the ordering key (lexicographic, in this order).
    pub id_columns: &'a [String],
    /// Only rows whose ids are strictly after (ascending) or strictly before (descending) the values of this
    /// 1-row frame of the id columns; `None` starts at the first (last) row.
    pub bound: Option<&'a DataFrame>,
    /// Walk from the end: ids descending, rows of one id in reverse storage order.
    pub descending: bool,
    /// At most this many stored rows.
    pub limit: usize,
}

pub trait MetadataStore: Send + Sync {
    /// Store name from the config.
    fn name(&self) -> &str;
    /// Backend kind.
    fn kind(&self) -> StoreKind;
    /// Metaxy's display string of the store (`DuckDBMetadataStore(backend=duckdb)`).
    fn display(&self) -> String;
    /// Metaxy's class path reported in `resolved_from.type`.
    fn class_path(&self) -> &'static str;
    /// Row hash algorithm of this store.
    fn hash_algorithm(&self) -> HashAlgorithm;
    /// Human-readable location (file, directory or URI).
    fn location(&self) -> String;
    /// Physical table name of a feature in this store.
    fn table_name(&self, key: &FeatureKey) -> String;
    /// Whether the store has a table for `key`.
    fn has_feature(&self, key: &FeatureKey) -> Result<bool>;
    /// Physical table names of every table in the store (feature and system tables).
    fn list_tables(&self) -> Result<Vec<String>>;
    /// All physical rows of `key`'s table, optionally only those with `metaxy_feature_version == v` (a pushdown
    /// hint; callers re-apply the filter), with the columns `columns` selects (table order). `Ok(None)` when the
    /// table does not exist.
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>>;

    /// [`MetadataStore::scan`] with Metaxy's latest-row-per-id dedup ([`crate::engine::read::keep_latest`]: the
    /// greatest `coalesce(metaxy_deleted_at, metaxy_updated_at)` per `id_columns`, the row stored last among
    /// equal timestamps) done by the backend, after the feature-version filter. Backends that cannot answer
    /// [`LatestScan::Unsupported`] (the default), and the caller dedups itself.
    fn scan_latest(
        &self,
        _key: &FeatureKey,
        _feature_version: Option<&str>,
        _columns: &Columns,
        _id_columns: &[String],
    ) -> Result<LatestScan> {
        Ok(LatestScan::Unsupported)
    }

    /// At most `range.limit` stored rows of `key` (feature version `feature_version` when given) beyond
    /// `range.bound`, ordered by the id columns (ascending, or descending with `range.descending`), the rows of
    /// one id in storage order (reversed when descending), with the columns `columns` selects. No read
    /// semantics: the caller dedups, drops soft-deleted rows and filters ([`crate::engine::page::read_page`]).
    /// Backends without an ordered scan answer [`LatestScan::Unsupported`] (the default; the caller reads the
    /// whole feature instead), as do id values without a SQL literal (only strings, integers and booleans have
    /// one).
    fn scan_ordered(
        &self,
        _key: &FeatureKey,
        _feature_version: Option<&str>,
        _columns: &Columns,
        _range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        Ok(LatestScan::Unsupported)
    }

    /// The counts of an increment computed by the backend itself in one query ([`crate::engine::counts`]);
    /// `Ok(None)` when it cannot (the default, and whenever a table or column is not as the plan expects): the
    /// caller then runs the general engine. Only called on the primary store ([`MetadataStore::local`]).
    fn increment_counts(
        &self,
        _plan: &crate::engine::counts::CountPlan,
    ) -> Result<Option<crate::engine::counts::IncrementCounts>> {
        Ok(None)
    }

    /// This store without its fallback stores (itself, for a plain backend). Metaxy reads the *target* of
    /// `resolve_update` with `allow_fallback=False`.
    fn local(&self) -> &dyn MetadataStore;

    /// `resolved_from` for a feature read from this store (Metaxy `get_store_info`: name, type, display plus the
    /// backend's own keys: `table_name` for DuckDB, `uri` for Delta, nothing for LanceDB).
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        ResolvedFrom {
            name: self.name().to_string(),
            type_path: self.class_path().to_string(),
            display: self.display(),
            table_name: Some(self.table_name(key)),
            uri: None,
        }
    }

    /// Name of the store a feature's rows come from: this store, or the fallback store that has it.
    fn source_of(&self, _key: &FeatureKey) -> Result<Option<String>> {
        Ok(Some(self.name().to_string()))
    }

    /// Appends `df` (complete rows: system columns already filled by
    /// [`crate::engine::write::add_system_columns`]) to `key`'s table, creating the table when it does not exist
    /// (Metaxy's `_write_feature`). One DuckDB transaction, one Delta commit or one Lance version: a failure or a
    /// kill leaves the table as it was. Columns are matched by name; a column the table lacks is an error on DuckDB
    /// (Metaxy's Ibis insert fails too) and merged into the schema on Delta (`schema_mode="merge"`) and Lance.
    ///
    /// Errors: [`EngineError::InvalidOperation`] for stores that cannot be written (fallback stores are never
    /// written: a [`FallbackStore`] writes to its primary), [`EngineError::Schema`] for incompatible columns,
    /// [`EngineError::Write`] for backend failures.
    fn append(&self, key: &FeatureKey, _df: &DataFrame) -> Result<()> {
        Err(EngineError::InvalidOperation(format!(
            "store {:?} cannot be written (table {})",
            self.name(),
            self.table_name(key)
        )))
    }

    /// Physically deletes the rows of `key`'s table that have `metaxy_feature_version == feature_version` (when
    /// given) and match every SQL filter (Metaxy's hard delete, `_delete_feature`; a row where a filter is NULL is
    /// kept, as in SQL `DELETE ... WHERE`). Filters are evaluated by the engine's SQL dialect (the same one
    /// previews use) on DuckDB and Delta; LanceDB evaluates them itself, as Metaxy does. One transaction / commit /
    /// version. Returns the number of rows deleted.
    ///
    /// Errors: [`EngineError::FeatureNotFound`] when the table does not exist, [`EngineError::BadFilter`],
    /// [`EngineError::Write`].
    fn delete_rows(
        &self,
        key: &FeatureKey,
        _feature_version: Option<&str>,
        _filters: &[String],
    ) -> Result<usize> {
        Err(EngineError::InvalidOperation(format!(
            "store {:?} cannot be written (table {})",
            self.name(),
            self.table_name(key)
        )))
    }

    /// Stored rows of `key`'s own table per `metaxy_feature_version` (every row: history and tombstones
    /// included), most rows first; `Ok(None)` when the table does not exist. Backends that can count without
    /// loading the table override this (DuckDB counts in SQL).
    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        let only = Columns::Only(vec![crate::engine::read::cols::FEATURE_VERSION.to_string()]);
        let Some(df) = self.local().scan(key, None, &only)? else {
            return Ok(None);
        };
        if df
            .get_column_index(crate::engine::read::cols::FEATURE_VERSION)
            .is_none()
        {
            return Ok(Some(vec![]));
        }
        let counts = df
            .lazy()
            .select([col(crate::engine::read::cols::FEATURE_VERSION)])
            .group_by([col(crate::engine::read::cols::FEATURE_VERSION)])
            .agg([len().alias("n")])
            .sort(
                ["n"],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .collect()?;
        let v = counts
            .column(crate::engine::read::cols::FEATURE_VERSION)?
            .cast(&DataType::String)?;
        let n = counts.column("n")?.cast(&DataType::UInt64)?;
        Ok(Some(
            v.str()?
                .iter()
                .zip(n.u64()?.iter())
                .filter_map(|(v, n)| Some((v?.to_string(), n? as usize)))
                .collect(),
        ))
    }

    /// Rows of the `metaxy-system/feature_versions` table (empty when it does not exist).
    fn system_rows(&self) -> Result<Vec<PushedFeature>> {
        let key = feature_versions_key();
        match self.scan(&key, None, &Columns::All)? {
            None => Ok(vec![]),
            Some(df) => pushed_rows_from_df(&df, &self.table_name(&key)),
        }
    }
}

/// Decodes system-table rows (any backend) into [`PushedFeature`]s.
pub fn pushed_rows_from_df(df: &DataFrame, table: &str) -> Result<Vec<PushedFeature>> {
    let corrupt = |m: String| EngineError::CorruptTable {
        table: table.to_string(),
        message: m,
    };
    let s = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df
            .column(name)
            .map_err(|_| corrupt(format!("missing column {name}")))?;
        let c = c
            .cast(&DataType::String)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(c.str()
            .map_err(|e| corrupt(e.to_string()))?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let rec = df
        .column("recorded_at")
        .map_err(|_| corrupt("missing column recorded_at".into()))?;
    let rec_us: Vec<Option<i64>> = match rec.dtype() {
        DataType::Datetime(tu, _) => {
            let phys = rec
                .cast(&DataType::Int64)
                .map_err(|e| corrupt(e.to_string()))?;
            let mul = match tu {
                TimeUnit::Nanoseconds => 1,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => 1000,
            };
            let div = if matches!(tu, TimeUnit::Nanoseconds) {
                1000
            } else {
                1
            };
            phys.i64()
                .map_err(|e| corrupt(e.to_string()))?
                .iter()
                .map(|v| v.map(|x| x * mul / div))
                .collect()
        }
        other => {
            return Err(corrupt(format!(
                "recorded_at has type {other}, expected a timestamp"
            )))
        }
    };
    let (project, fk, fv, dv, spec, schema, cls, pv, tags) = (
        s("project")?,
        s("feature_key")?,
        s("metaxy_feature_version")?,
        s("metaxy_definition_version")?,
        s("feature_spec")?,
        s("feature_schema")?,
        s("feature_class_path")?,
        s("metaxy_project_version")?,
        s("tags").unwrap_or_else(|_| vec![None; df.height()]),
    );
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let us = rec_us[i].unwrap_or(0);
        let recorded_at = chrono::DateTime::from_timestamp_micros(us)
            .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
            .unwrap_or_default();
        out.push(PushedFeature {
            project: project[i].clone().unwrap_or_default(),
            feature_key: fk[i]
                .clone()
                .ok_or_else(|| corrupt(format!("row {i} has no feature_key")))?,
            feature_version: fv[i].clone().unwrap_or_default(),
            definition_version: dv[i].clone().unwrap_or_default(),
            recorded_at,
            recorded_at_us: us,
            feature_spec: spec[i]
                .clone()
                .ok_or_else(|| corrupt(format!("row {i} has no feature_spec")))?,
            feature_schema: schema[i].clone().unwrap_or_else(|| "null".into()),
            feature_class_path: cls[i].clone().unwrap_or_default(),
            project_version: pv[i].clone().unwrap_or_default(),
            tags: tags[i].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

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

/// Opens a configured store read-only and counts its feature tables (the system table excluded): whether the
/// store is reachable, for the TUI's stores screen. Errors as [`open_store`] and [`MetadataStore::list_tables`].
pub fn probe_store(cfg: &StoreConfig, cwd: &Path) -> Result<usize> {
    let store = open_store(cfg, cwd)?;
    Ok(store
        .list_tables()?
        .iter()
        .filter(|t| !t.starts_with("metaxy_system") && !t.starts_with("metaxy-system"))
        .count())
}

/// Opens the store described by `cfg` alone, without its fallback stores (read-only). `cwd` resolves relative
/// locations.
pub fn open_store(cfg: &StoreConfig, cwd: &Path) -> Result<Box<dyn MetadataStore>> {
    Ok(match cfg.kind {
        StoreKind::DuckDb => Box::new(DuckDbStore::open(cfg, cwd)?),
        StoreKind::Delta => Box::new(DeltaStore::open(cfg, cwd)?),
        StoreKind::LanceDb => Box::new(LanceStore::open(cfg, cwd)?),
        StoreKind::Postgres => Box::new(postgres::PostgresStore::open(cfg, cwd)?),
    })
}

/// Opens the store described by `cfg` alone as the destination of a write (a copy into a new store): like
/// [`open_store`], but a DuckDB database file that does not exist yet is created on the first write instead of
/// failing the open (Metaxy's `open("w")` creates it). Reads of such a store see no tables.
pub fn open_store_for_write(cfg: &StoreConfig, cwd: &Path) -> Result<Box<dyn MetadataStore>> {
    Ok(match cfg.kind {
        StoreKind::DuckDb => Box::new(DuckDbStore::open_for_write(cfg, cwd)?),
        _ => open_store(cfg, cwd)?,
    })
}

/// Opens store `name` of `config` with its fallback chain (`fallback_stores`, to any depth, read-only).
///
/// Errors: [`EngineError::Config`] for an unknown store name; [`EngineError::Fallback`] for a cycle; any open error
/// of a store in the chain. A fallback store whose hash algorithm differs from its parent's is reported when a read
/// first needs it, as Metaxy does (features the primary store has stay readable).
pub fn open_store_chain(
    config: &MetaxyConfig,
    name: &str,
    cwd: &Path,
) -> Result<Box<dyn MetadataStore>> {
    open_chain(config, name, cwd, &mut vec![])
}

fn open_chain(
    config: &MetaxyConfig,
    name: &str,
    cwd: &Path,
    path: &mut Vec<String>,
) -> Result<Box<dyn MetadataStore>> {
    let cfg = config.store_config(Some(name))?;
    if path.iter().any(|p| p == name) {
        path.push(name.to_string());
        return Err(EngineError::Fallback(format!(
            "fallback stores form a cycle: {}",
            path.join(" -> ")
        )));
    }
    let primary = open_store(cfg, cwd)?;
    if cfg.fallback_stores.is_empty() {
        return Ok(primary);
    }
    path.push(name.to_string());
    let mut fallbacks = Vec::with_capacity(cfg.fallback_stores.len());
    for fb in &cfg.fallback_stores {
        fallbacks.push(open_chain(config, fb, cwd, path)?);
    }
    path.pop();
    Ok(Box::new(FallbackStore { primary, fallbacks }))
}

/// A store with read-only fallback stores (Metaxy `fallback_stores`): a feature missing in the primary store is
/// read entirely from the first fallback (depth first) that has it, never mixed. Everything else (name, display,
/// system table, hash algorithm) is the primary's.
pub struct FallbackStore {
    primary: Box<dyn MetadataStore>,
    fallbacks: Vec<Box<dyn MetadataStore>>,
}

impl FallbackStore {
    /// Metaxy's `find_store_for_feature`: the primary if it has `key`, else the first fallback that does (depth
    /// first, in config order).
    ///
    /// Errors: [`EngineError::Fallback`] when the answer would come from a fallback store whose hash algorithm
    /// differs from the primary's (Metaxy raises the same `ValueError` on that read).
    fn find(&self, key: &FeatureKey) -> Result<Option<&dyn MetadataStore>> {
        if self.primary.has_feature(key)? {
            return Ok(Some(self.primary.as_ref()));
        }
        for fb in &self.fallbacks {
            if fb.has_feature(key)? {
                if fb.hash_algorithm() != self.primary.hash_algorithm() {
                    return Err(EngineError::Fallback(format!(
                        "Fallback store '{}' uses hash_algorithm='{}' but parent store uses '{}'. All stores in a fallback chain must use the same hash algorithm.",
                        fb.name(),
                        fb.hash_algorithm().as_str(),
                        self.primary.hash_algorithm().as_str()
                    )));
                }
                return Ok(Some(fb.as_ref()));
            }
        }
        Ok(None)
    }

    /// Names of the fallback stores, in order.
    pub fn fallback_names(&self) -> Vec<String> {
        self.fallbacks
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    }
}

impl MetadataStore for FallbackStore {
    fn name(&self) -> &str {
        self.primary.name()
    }
    fn kind(&self) -> StoreKind {
        self.primary.kind()
    }
    fn display(&self) -> String {
        self.primary.display()
    }
    fn class_path(&self) -> &'static str {
        self.primary.class_path()
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.primary.hash_algorithm()
    }
    fn location(&self) -> String {
        self.primary.location()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        match self.find(key) {
            Ok(Some(s)) => s.table_name(key),
            _ => self.primary.table_name(key),
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.find(key)?.is_some())
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        self.primary.list_tables()
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        match self.find(key)? {
            Some(s) => s.scan(key, feature_version, columns),
            None => Ok(None),
        }
    }
    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        match self.find(key)? {
            Some(s) => s.scan_latest(key, feature_version, columns, id_columns),
            None => Ok(LatestScan::Missing),
        }
    }
    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        match self.find(key)? {
            Some(s) => s.scan_ordered(key, feature_version, columns, range),
            None => Ok(LatestScan::Missing),
        }
    }
    fn local(&self) -> &dyn MetadataStore {
        self.primary.local()
    }
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        match self.find(key) {
            Ok(Some(s)) => s.resolved_from(key),
            _ => self.primary.resolved_from(key),
        }
    }
    fn source_of(&self, key: &FeatureKey) -> Result<Option<String>> {
        match self.find(key)? {
            Some(s) => s.source_of(key),
            None => Ok(None),
        }
    }
    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        self.primary.append(key, df)
    }
    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        self.primary.rows_per_feature_version(key)
    }
    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        self.primary.delete_rows(key, feature_version, filters)
    }
    fn system_rows(&self) -> Result<Vec<PushedFeature>> {
        self.primary.system_rows()
    }
}

/// A DuckDB metadata store (Metaxy `DuckDBMetadataStore`, FORMAT.md §2.2): one table per feature named
/// `table_prefix + table_name`, opened with `access_mode=READ_ONLY`.
pub struct DuckDbStore {
    name: String,
    database: String,
    /// The database file; `None` for `:memory:`.
    path: Option<PathBuf>,
    table_prefix: String,
    hash_algorithm: HashAlgorithm,
    /// Map mode: new tables store `*_by_field` columns as `MAP(VARCHAR, VARCHAR)`.
    map_datatype: bool,
    /// The read connection (read-only on files); `None` while the file does not exist (a write destination).
    conn: Mutex<Option<Connection>>,
    /// A second read-only instance where the row hash is registered (for [`MetadataStore::increment_counts`]);
    /// opened on first use, closed before every write.
    counting: Mutex<Option<std::sync::Arc<crate::engine::duck_udf::RawDuckDb>>>,
}

impl DuckDbStore {
    /// Opens the `database` of `cfg` read-only.
    ///
    /// Errors: [`EngineError::StoreOpen`] when the file does not exist or is not a DuckDB database, and when the
    /// hash algorithm is one Metaxy's DuckDB store refuses (`wyhash`, `sha256`, `farmhash`:
    /// `HashAlgorithmNotSupportedError` in Metaxy).
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        Self::open_impl(cfg, cwd, false)
    }

    /// Like [`DuckDbStore::open`], but a missing database file is not an error: the store reads as empty and the
    /// first write creates the file.
    pub fn open_for_write(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        Self::open_impl(cfg, cwd, true)
    }

    fn open_impl(cfg: &StoreConfig, cwd: &Path, allow_missing: bool) -> Result<Self> {
        let database = cfg.location()?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: database.clone(),
            message: m,
        };
        if matches!(
            cfg.hash_algorithm,
            HashAlgorithm::Wyhash | HashAlgorithm::Sha256 | HashAlgorithm::Farmhash
        ) {
            return Err(err(format!(
                "hash_algorithm {:?} is not supported by Metaxy's DuckDB store (supported: md5, xxhash32, xxhash64, xxh3_64)",
                cfg.hash_algorithm.as_str()
            )));
        }
        let (path, conn) = if database == ":memory:" {
            (None, Some(Connection::open_in_memory()?))
        } else {
            if database.starts_with("md:") || database.contains("://") {
                return Err(err(
                    "remote DuckDB databases (md:, s3://) are not supported yet".into(),
                ));
            }
            let path = resolve_local_path(&database, cwd);
            if !path.is_file() {
                if !allow_missing {
                    return Err(err(format!(
                        "database file {} does not exist",
                        path.display()
                    )));
                }
                (Some(path), None)
            } else {
                let conn = Self::open_read_only(&path).map_err(err)?;
                (Some(path), Some(conn))
            }
        };
        let table_prefix = cfg
            .config
            .get("table_prefix")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        Ok(Self {
            name: cfg.name.clone(),
            database,
            path,
            table_prefix,
            hash_algorithm: cfg.hash_algorithm,
            map_datatype: cfg.map_datatype,
            conn: Mutex::new(conn),
            counting: Mutex::new(None),
        })
    }

    fn open_read_only(path: &Path) -> std::result::Result<Connection, String> {
        let config = Config::default()
            .access_mode(AccessMode::ReadOnly)
            .map_err(|e| e.to_string())?;
        Connection::open_with_flags(path, config).map_err(|e| e.to_string())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection of its own to the same database (DuckDB `duckdb_connect` on the shared instance), so that
    /// reads from several threads run at the same time instead of queueing on the shared connection's lock.
    fn reader(&self) -> Result<Option<Connection>> {
        let guard = self.conn();
        let Some(c) = guard.as_ref() else {
            return Ok(None);
        };
        let conn = c.try_clone()?;
        // strings as Arrow views: the layout polars uses, so they move into polars without a copy
        let _ = conn.execute_batch("SET produce_arrow_string_view = true");
        Ok(Some(conn))
    }

    /// A reader connection, the table name and the scan's SQL pieces for `key`; `None` when the table does not
    /// exist.
    fn open_scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<(Connection, String, ScanSql)>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        let table = self.table_name(key);
        let Some(conn) = self.reader()? else {
            return Ok(None);
        };
        let q = ScanSql::new(&conn, &table, feature_version, columns)?;
        Ok(Some((conn, table, q)))
    }

    fn write_err(&self, table: &str, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: table.to_string(),
            message: m.to_string(),
        }
    }

    /// Runs `f` inside one read-write transaction (committed when `f` succeeds, rolled back otherwise). The
    /// read-only connection is closed first (one DuckDB instance per file and process) and reopened afterwards, so
    /// later reads see the change. Creates the database file when it does not exist.
    fn with_write_transaction<T>(
        &self,
        table: &str,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.conn();
        let Some(path) = self.path.clone() else {
            let conn = guard
                .as_ref()
                .ok_or_else(|| self.write_err(table, "in-memory database is closed"))?;
            return Self::transaction(conn, f);
        };
        drop(guard.take());
        drop(
            self.counting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.is_dir() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let result = match Connection::open(&path) {
            Ok(rw) => {
                let r = Self::transaction(&rw, f);
                drop(rw);
                r
            }
            Err(e) => Err(self.write_err(
                table,
                format!(
                    "cannot open {} for writing: {e} (is another process writing to it?)",
                    path.display()
                ),
            )),
        };
        *guard = if path.is_file() {
            Self::open_read_only(&path).ok()
        } else {
            None
        };
        result
    }

    fn transaction<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        match f(conn) {
            Ok(v) => {
                crate::engine::fault::point("duckdb.before_commit");
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// `(name, DuckDB type)` of every column of `table` (empty when the table does not exist).
    fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        )?;
        let rows = stmt.query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

/// The pieces of a DuckDB feature-table scan: projection and feature-version filter.
struct ScanSql {
    table_columns: Vec<(String, String)>,
    projection: String,
    where_sql: String,
    version: Option<String>,
}

impl ScanSql {
    fn new(
        conn: &Connection,
        table: &str,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Self> {
        let table_columns = DuckDbStore::table_columns(conn, table)?;
        let has_version_col = table_columns
            .iter()
            .any(|(c, _)| c == crate::engine::read::cols::FEATURE_VERSION);
        let projection = match columns.select(table_columns.iter().map(|(c, _)| c.as_str())) {
            None => "*".to_string(),
            Some(cs) if cs.is_empty() => "NULL AS __mx_none".to_string(),
            Some(cs) => cs
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let version = feature_version
            .filter(|_| has_version_col)
            .map(str::to_string);
        let where_sql = if version.is_some() {
            " WHERE metaxy_feature_version = ?".to_string()
        } else {
            String::new()
        };
        Ok(ScanSql {
            table_columns,
            projection,
            where_sql,
            version,
        })
    }

    /// Runs `SELECT projection FROM table [WHERE version] {tail}` into a single-chunk frame.
    fn run(&self, conn: &Connection, table: &str, tail: &str) -> Result<DataFrame> {
        let sql = format!(
            "SELECT {} FROM {}{}{tail}",
            self.projection,
            quote_ident(table),
            self.where_sql
        );
        let t = crate::engine::timing::span(|| format!("duckdb-query {table}"));
        let mut stmt = conn.prepare(&sql).map_err(|e| EngineError::CorruptTable {
            table: table.to_string(),
            message: e.to_string(),
        })?;
        let arrow = match &self.version {
            Some(v) => stmt.query_arrow([v])?,
            None => stmt.query_arrow([])?,
        };
        let schema = arrow.get_schema();
        let batches: Vec<_> = arrow.collect();
        drop(t);
        let _t = crate::engine::timing::span(|| {
            format!("duckdb-to-polars {table} ({} batches)", batches.len())
        });
        let mut df = record_batches_to_df(&schema, &batches)?;
        // DuckDB hands out one batch per 2048-row vector: one chunk per column makes every later step faster
        df.rechunk_mut_par();
        Ok(if self.projection.starts_with("NULL") {
            df.drop("__mx_none")?
        } else {
            df
        })
    }
}

/// `rowid IN (...)`: the rowids of `source`'s latest row per id (`ids`: quoted id columns) among the rows
/// `where_sql` keeps (`""` or ` WHERE ...`). Metaxy's `keep_latest`: the greatest of the timestamp columns `ts`
/// (coalesced in that order; soft-delete time first), null timestamps oldest, then the row stored last; picked by
/// a hash aggregate over the ids (no sort) on one HUGEINT key (timestamp in µs, null = -2^62, then rowid). DuckDB
/// alone, 2 threads, 1M samples in 2M rows: 233 ms, a `row_number()` window 398 ms. Shared by the latest-row scan
/// and the in-DuckDB counts ([`crate::engine::counts`]).
pub(crate) fn latest_rowid_sql(
    source: &str,
    where_sql: &str,
    ids: &[String],
    ts: &[&str],
) -> String {
    let ts_sql = if ts.len() == 1 {
        quote_ident(ts[0])
    } else {
        format!(
            "coalesce({})",
            ts.iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let key = format!(
        "(coalesce(epoch_us({ts_sql})::HUGEINT, -4611686018427387904) * 18446744073709551616 + rowid)"
    );
    format!(
        "rowid IN (SELECT arg_max(rowid, {key}) FROM {source}{where_sql} GROUP BY {})",
        ids.join(", ")
    )
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

/// A DuckDB literal of an id value (strings, integers, booleans), `None` for other types.
fn sql_literal(v: &polars::prelude::AnyValue<'_>) -> Option<String> {
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

/// A DuckDB string literal.
pub(crate) fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted DuckDB identifier.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl MetadataStore for DuckDbStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::DuckDb
    }
    fn display(&self) -> String {
        "DuckDBMetadataStore(backend=duckdb)".into()
    }
    fn class_path(&self) -> &'static str {
        "metaxy.ext.duckdb.metadata_store.DuckDBMetadataStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.database.clone()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        format!("{}{}", self.table_prefix, key.table_name())
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        let t = self.table_name(key);
        Ok(self.list_tables()?.contains(&t))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        let guard = self.conn();
        let Some(conn) = guard.as_ref() else {
            return Ok(vec![]);
        };
        let mut stmt = conn.prepare(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = current_schema() ORDER BY table_name",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let Some((conn, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(None);
        };
        q.run(&conn, &table, "").map(Some)
    }

    fn increment_counts(
        &self,
        plan: &crate::engine::counts::CountPlan,
    ) -> Result<Option<crate::engine::counts::IncrementCounts>> {
        self.counts_in_duckdb(plan)
    }

    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        use crate::engine::read::cols;
        let Some((conn, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(LatestScan::Missing);
        };
        let conn = &conn;
        let has = |c: &str| q.table_columns.iter().any(|(n, _)| n == c);
        let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
            .into_iter()
            .filter(|c| has(c))
            .collect();
        if id_columns.is_empty() || !id_columns.iter().all(|c| has(c)) || ts.is_empty() {
            return Ok(LatestScan::Unsupported);
        }
        let ids: Vec<String> = id_columns.iter().map(|c| quote_ident(c)).collect();
        let distinct = if ids.len() == 1 {
            ids[0].clone()
        } else {
            format!("({})", ids.join(", "))
        };
        // one row per id already (the usual case): a plain scan, checked in the engine (O(n) when stored in id
        // order). DuckDB's HyperLogLog estimate sends tables with many duplicates straight to the dedup query.
        let approx_sql = format!(
            "SELECT approx_count_distinct({distinct}) >= 0.9 * count(*) FROM {}{}",
            quote_ident(&table),
            q.where_sql
        );
        let likely_unique: Option<bool> = {
            let t = crate::engine::timing::span(|| format!("duckdb-approx-distinct {table}"));
            let r = conn
                .prepare(&approx_sql)
                .and_then(|mut st| match &q.version {
                    Some(v) => st.query_row([v], |r| r.get::<_, Option<bool>>(0)),
                    None => st.query_row([], |r| r.get::<_, Option<bool>>(0)),
                });
            drop(t);
            r.ok().map(|v| v.unwrap_or(true))
        };
        match likely_unique {
            None => return Ok(LatestScan::Unsupported),
            Some(false) => {}
            Some(true) => {
                let df = q.run(conn, &table, "")?;
                let _t = crate::engine::timing::span(|| format!("unique-check {table}"));
                if crate::engine::read::ids_unique(&df, id_columns)? {
                    return Ok(LatestScan::Rows(df));
                }
            }
        }
        let version_sql = match &q.version {
            Some(v) => format!(" WHERE metaxy_feature_version = {}", sql_str(v)),
            None => String::new(),
        };
        let latest = format!(
            "{} {}",
            if q.where_sql.is_empty() {
                " WHERE"
            } else {
                " AND"
            },
            latest_rowid_sql(&quote_ident(&table), &version_sql, &ids, &ts)
        );
        match q.run(conn, &table, &latest) {
            Ok(df) => Ok(LatestScan::Rows(df)),
            // a table DuckDB cannot order this way (odd timestamp types): dedup in the engine
            Err(EngineError::CorruptTable { .. }) => Ok(LatestScan::Unsupported),
            Err(e) => Err(e),
        }
    }

    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        let Some((conn, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(LatestScan::Missing);
        };
        let conn = &conn;
        let ids = range.id_columns;
        if ids.is_empty()
            || !ids
                .iter()
                .all(|c| q.table_columns.iter().any(|(n, _)| n == c))
        {
            return Ok(LatestScan::Unsupported);
        }
        let (dir, op) = if range.descending {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let mut tail = String::new();
        if let Some(b) = range.bound {
            let mut lits = vec![];
            for c in ids {
                let Some(l) = b
                    .column(c)
                    .ok()
                    .and_then(|s| s.get(0).ok())
                    .and_then(|v| sql_literal(&v))
                else {
                    return Ok(LatestScan::Unsupported);
                };
                lits.push(l);
            }
            // lexicographic (a, b) > (x, y): a > x OR (a = x AND b > y)
            let mut cond = String::new();
            for (c, l) in ids.iter().zip(&lits).rev() {
                let c = quote_ident(c);
                cond = if cond.is_empty() {
                    format!("{c} {op} {l}")
                } else {
                    format!("({c} {op} {l} OR ({c} = {l} AND {cond}))")
                };
            }
            tail.push_str(if q.where_sql.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            tail.push_str(&cond);
        }
        let order: Vec<String> = ids
            .iter()
            .map(|c| format!("{} {dir}", quote_ident(c)))
            .chain([format!("rowid {dir}")])
            .collect();
        tail.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            order.join(", "),
            range.limit
        ));
        q.run(conn, &table, &tail).map(LatestScan::Rows)
    }

    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        let table = self.table_name(key);
        let guard = self.conn();
        let Some(conn) = guard.as_ref() else {
            return Ok(None);
        };
        let has_version = Self::table_columns(conn, &table)?
            .iter()
            .any(|(c, _)| c == crate::engine::read::cols::FEATURE_VERSION);
        if !has_version {
            return Ok(Some(vec![]));
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT CAST(metaxy_feature_version AS VARCHAR), count(*) FROM {} WHERE metaxy_feature_version IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
            quote_ident(&table)
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })?;
        Ok(Some(rows.collect::<std::result::Result<Vec<_>, _>>()?))
    }

    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let table = self.table_name(key);
        // DuckDB reads the rows from a Parquet file written by polars (struct, timestamptz and string types map
        // one to one); the file lives only for the duration of the call.
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let tmp = std::env::temp_dir().join(format!(
            "metaxy-tui-append-{}-{}.parquet",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _cleanup = Cleanup(tmp.clone());
        {
            let file = std::fs::File::create(&tmp)?;
            let mut frame = df.clone();
            ParquetWriter::new(file)
                .finish(&mut frame)
                .map_err(|e| self.write_err(&table, e))?;
        }
        let source = format!("read_parquet({})", sql_str(&tmp.display().to_string()));
        // `MAP {'audio': "c"."audio", ...}`: a struct column as the MAP Metaxy's Map mode stores
        let map_expr = |name: &str, members: &[Field]| {
            let q = quote_ident(name);
            let entries: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{}: {q}.{}",
                        sql_str(m.name().as_str()),
                        quote_ident(m.name().as_str())
                    )
                })
                .collect();
            format!(
                "CASE WHEN {q} IS NULL THEN NULL ELSE MAP {{{}}} END AS {q}",
                entries.join(", ")
            )
        };
        self.with_write_transaction(&table, |conn| {
            let existing = Self::table_columns(conn, &table)?;
            if existing.is_empty() {
                let select: Vec<String> = df
                    .columns()
                    .iter()
                    .map(|c| match c.dtype() {
                        DataType::Struct(m)
                            if self.map_datatype && crate::engine::frame::is_by_field(c.name()) =>
                        {
                            map_expr(c.name().as_str(), m)
                        }
                        _ => quote_ident(c.name().as_str()),
                    })
                    .collect();
                conn.execute_batch(&format!(
                    "CREATE TABLE {} AS SELECT {} FROM {source}",
                    quote_ident(&table),
                    select.join(", ")
                ))
                .map_err(|e| self.write_err(&table, e))?;
                return Ok(());
            }
            let mut select = Vec::with_capacity(df.width());
            let mut unknown = vec![];
            for c in df.columns() {
                let name = c.name().as_str();
                let Some((_, ty)) = existing.iter().find(|(n, _)| n == name) else {
                    unknown.push(name.to_string());
                    continue;
                };
                let q = quote_ident(name);
                match (ty.starts_with("MAP("), c.dtype()) {
                    // Map mode (`enable_map_datatype`): the table stores a MAP, the engine a struct
                    (true, DataType::Struct(members)) => select.push(map_expr(name, members)),
                    _ => select.push(q),
                }
            }
            if !unknown.is_empty() {
                return Err(EngineError::Schema {
                    feature: key.to_string(),
                    message: format!(
                        "table {table} has no column(s) {} (DuckDB tables are not migrated automatically)",
                        unknown.join(", ")
                    ),
                });
            }
            conn.execute_batch(&format!(
                "INSERT INTO {} BY NAME SELECT {} FROM {source}",
                quote_ident(&table),
                select.join(", ")
            ))
            .map_err(|e| EngineError::Schema {
                feature: key.to_string(),
                message: format!("DuckDB refused the rows for {table}: {e}"),
            })?;
            Ok(())
        })
    }

    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let table = self.table_name(key);
        if !self.has_feature(key)? {
            return Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table,
            });
        }
        self.with_write_transaction(&table, |conn| {
            let mut sql = format!("SELECT rowid AS __mx_rowid, * FROM {}", quote_ident(&table));
            if let Some(v) = feature_version {
                sql.push_str(&format!(" WHERE metaxy_feature_version = {}", sql_str(v)));
            }
            let mut stmt = conn.prepare(&sql)?;
            let arrow = stmt.query_arrow([])?;
            let schema = arrow.get_schema();
            let batches: Vec<_> = arrow.collect();
            let df = record_batches_to_df(&schema, &batches)?;
            let matched = crate::engine::read::apply_filters(df, filters)?;
            if matched.height() == 0 {
                return Ok(0);
            }
            let ids: Vec<String> = matched
                .column("__mx_rowid")?
                .cast(&DataType::Int64)?
                .i64()?
                .into_no_null_iter()
                .map(|v| v.to_string())
                .collect();
            let n = conn
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE rowid IN (SELECT unnest(CAST(? AS BIGINT[])))",
                        quote_ident(&table)
                    ),
                    [format!("[{}]", ids.join(","))],
                )
                .map_err(|e| self.write_err(&table, e))?;
            Ok(n)
        })
    }
}

impl DuckDbStore {
    /// The second read-only instance for counts (opened on first use); `None` for in-memory databases, files
    /// not created yet, or when DuckDB refuses it.
    fn counting_db(&self) -> Option<std::sync::Arc<crate::engine::duck_udf::RawDuckDb>> {
        let path = self.path.as_ref().filter(|p| p.is_file())?;
        let mut g = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = g.as_ref() {
            return Some(db.clone());
        }
        let _t = crate::engine::timing::span(|| format!("duckdb-open-counting {}", path.display()));
        let db = std::sync::Arc::new(crate::engine::duck_udf::RawDuckDb::open(path).ok()?);
        *g = Some(db.clone());
        Some(db)
    }

    /// [`MetadataStore::increment_counts`] for DuckDB: the counts query of [`crate::engine::counts`] over the
    /// feature tables themselves (storage order = `rowid`), on a second read-only instance of the file.
    fn counts_in_duckdb(
        &self,
        plan: &crate::engine::counts::CountPlan,
    ) -> Result<Option<crate::engine::counts::IncrementCounts>> {
        use crate::engine::counts::SqlRelation;
        let Some(conn) = self.reader()? else {
            return Ok(None);
        };
        let Some(db) = self.counting_db() else {
            return Ok(None);
        };
        let tables = self.list_tables()?;
        let relation = |key: &FeatureKey| -> Result<Option<SqlRelation>> {
            let table = self.table_name(key);
            if !tables.contains(&table) {
                return Ok(None);
            }
            Ok(Some(SqlRelation {
                source: quote_ident(&table),
                columns: Self::table_columns(&conn, &table)?,
                name: table,
            }))
        };
        crate::engine::counts::count_in_duckdb(&db, plan, &relation)
    }
}
