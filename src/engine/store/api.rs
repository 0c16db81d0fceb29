//! The contract every metadata store implements ([`MetadataStore`]) and its vocabulary: projections
//! ([`Columns`]), keyset scans ([`KeyRange`], [`LatestScan`]) and where a feature was read from ([`ResolvedFrom`]).
//!
//! A store hands out *physical* rows of a feature table as a polars [`DataFrame`]; Metaxy's read semantics
//! (version filter, dedup, soft deletes) live in [`crate::engine::query::read`] and are shared by every backend, so a
//! backend only implements [`MetadataStore`] (table naming, existence, scan, system table). Backends import this
//! module, never the registry ([`crate::engine::store`]).

use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::graph::PushedFeature;
use crate::engine::keys::{feature_versions_key, FeatureKey};
use crate::engine::store::filter::IdFilter;

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
    /// `<namespace>.<table_name>` (Iceberg stores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

impl ResolvedFrom {
    /// Where the table is, for people: the table name or the URI.
    pub fn location(&self) -> String {
        self.table_name
            .clone()
            .or_else(|| self.uri.clone())
            .or_else(|| self.identifier.clone())
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

/// What [`MetadataStore::keep_reads_open`] returns: the guards of the store's backends (none for most). Dropping
/// it ends the keeping.
#[must_use = "reads stay open only while the guard lives"]
#[derive(Default)]
pub struct ReadsKeptOpen(Vec<Box<dyn Send + Sync>>);

impl ReadsKeptOpen {
    /// A guard that holds `guard` (dropped with it).
    pub fn holding(guard: impl Send + Sync + 'static) -> Self {
        Self(vec![Box::new(guard)])
    }

    /// Both guards in one.
    pub fn and(mut self, other: ReadsKeptOpen) -> Self {
        self.0.extend(other.0);
        self
    }

    /// How many backend guards this holds (0: the store keeps nothing open).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this holds no backend guard.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
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

    /// [`MetadataStore::scan`] restricted to the rows whose id columns pass `ids` (a lookup of a few samples), the
    /// filter's columns always returned. Backends push the filter into their scan (DuckDB and PostgreSQL as a SQL
    /// `WHERE`); the default scans the projected table and filters in the engine ([`IdFilter::apply`], the
    /// reference every pushdown must equal). A table lacking one of the filter's columns has no matching row.
    /// `Ok(None)` when the table does not exist.
    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &IdFilter,
    ) -> Result<Option<DataFrame>> {
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let Some(df) = self.scan(key, feature_version, &columns)? else {
            return Ok(None);
        };
        if ids.columns.iter().any(|c| df.get_column_index(c).is_none()) {
            return Ok(Some(df.clear()));
        }
        ids.apply(df).map(Some)
    }

    /// [`MetadataStore::scan`] with Metaxy's latest-row-per-id dedup ([`crate::engine::query::read::keep_latest`]: the
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
    /// semantics: the caller dedups, drops soft-deleted rows and filters ([`crate::engine::query::page::read_page`]).
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

    /// Whether [`MetadataStore::increment_counts`] keeps the whole increment inside a database server, so that it
    /// should be tried before [`crate::engine::versioning::counts::absent_target_counts`] (which reads every
    /// upstream id into this process: fast on a local store, but memory that grows with the rows, and the rows
    /// cross the network on a server). `false` by default; ClickHouse says `true` (Metaxy's native engine also
    /// leaves the work to ClickHouse).
    fn counts_stay_in_store(&self) -> bool {
        false
    }

    /// The counts of an increment computed by the backend itself in one query ([`crate::engine::versioning::counts`]);
    /// `Ok(None)` when it cannot (the default, and whenever a table or column is not as the plan expects): the
    /// caller then runs the general engine. Only called on the primary store ([`MetadataStore::local`]).
    fn increment_counts(
        &self,
        _plan: &crate::engine::store::count_plan::CountPlan,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementCounts>> {
        Ok(None)
    }

    /// Rows `window.offset..window.offset + window.limit` (ordered by the join columns) of one kind of an
    /// increment computed by the backend itself, with the total of that kind; `Ok(None)` when it cannot (the
    /// default, wherever [`MetadataStore::increment_counts`] would decline, and on stores that page only large
    /// increments below their threshold, [`crate::engine::store::count_plan::PageWindow::min_rows`]): the caller
    /// then runs the general engine. Only called on the primary store ([`MetadataStore::local`]).
    fn increment_page(
        &self,
        _plan: &crate::engine::store::count_plan::CountPlan,
        _kind: crate::engine::store::count_plan::IncrementKind,
        _window: crate::engine::store::count_plan::PageWindow,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementPage>> {
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
            identifier: None,
        }
    }

    /// The DuckDB database file this store reads (DuckDB stores on a local file; `None` for every other store, a
    /// fallback chain and `:memory:`): what the SQL console attaches read-only to query tables in place.
    fn duckdb_file(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// Name of the store a feature's rows come from: this store, or the fallback store that has it.
    fn source_of(&self, _key: &FeatureKey) -> Result<Option<String>> {
        Ok(Some(self.name().to_string()))
    }

    /// Appends `df` (complete rows: system columns already filled by
    /// [`crate::engine::ops::write::add_system_columns`]) to `key`'s table, creating the table when it does not exist
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

    /// Drops `key`'s table from this store (Metaxy's `drop_feature_metadata`, the backend's `_drop_feature`): DuckDB
    /// and PostgreSQL `DROP TABLE`, LanceDB `drop_table` (the `.lance` directory is removed), Iceberg the catalog's
    /// `drop_table` (the catalog row goes; data and metadata files stay, as pyiceberg's SQL catalog leaves them);
    /// Delta commits a delete of every row and **keeps the empty table** (Metaxy calls `DeltaTable.delete()`), so
    /// [`MetadataStore::has_feature`] stays true there, as Metaxy's does. One transaction / commit. No other table
    /// (the system table included) is touched; callers refuse system keys
    /// ([`crate::engine::ops::drop::plan_drop`]).
    ///
    /// Returns `false` (and changes nothing) when the table does not exist, as Metaxy's drop is a no-op then.
    ///
    /// Errors: [`EngineError::InvalidOperation`] for stores that cannot be written (the default), [`EngineError::Write`]
    /// for backend failures (the store is left as it was).
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        Err(EngineError::InvalidOperation(format!(
            "store {:?} cannot be written (table {})",
            self.name(),
            self.table_name(key)
        )))
    }

    /// Whether [`MetadataStore::drop_feature`] keeps an empty table instead of removing it (Delta, as Metaxy's
    /// `DeltaMetadataStore._drop_feature`: a delete-all commit). `false` by default.
    fn drop_keeps_empty_table(&self) -> bool {
        false
    }

    /// Stored rows of `key`'s own table per `metaxy_feature_version` (every row: history and tombstones
    /// included), most rows first; `Ok(None)` when the table does not exist. Backends that can count without
    /// loading the table override this (DuckDB counts in SQL).
    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        let only = Columns::Only(vec![crate::engine::schema::FEATURE_VERSION.to_string()]);
        let Some(df) = self.local().scan(key, None, &only)? else {
            return Ok(None);
        };
        if df
            .get_column_index(crate::engine::schema::FEATURE_VERSION)
            .is_none()
        {
            return Ok(Some(vec![]));
        }
        let counts = df
            .lazy()
            .select([col(crate::engine::schema::FEATURE_VERSION)])
            .group_by([col(crate::engine::schema::FEATURE_VERSION)])
            .agg([len().alias("n")])
            .sort(
                ["n"],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .collect()?;
        let v = counts
            .column(crate::engine::schema::FEATURE_VERSION)?
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

    /// A cheap token that changes whenever the store's contents change (a write by this process or any other),
    /// for live refresh: compared between two polls, a different token means "read again". Must not open the
    /// store or take a lock (it is polled every few seconds while a writer may be running). `None`: the backend
    /// cannot tell cheaply (the default; remote object stores), so changes go unnoticed until a reload. DuckDB:
    /// the file's and WAL's size and mtime; Delta: the `_delta_log` of every table; LanceDB: the `_versions` of
    /// every table; Iceberg: the SQLite catalog file (every commit moves a `metadata_location`); PostgreSQL: the
    /// server's per-table row counters and sizes; ClickHouse: the database's active parts and tables.
    fn change_marker(&self) -> Option<String> {
        None
    }

    /// Keeps what this store's reads open open between them until the returned guard drops, so that the reads of
    /// one command or job open the store once: a DuckDB file's read-only instance (opened, and its catalog loaded,
    /// by every read otherwise; `store::duckdb::lease::KeptOpen`). Writes of this process are not held up by it.
    /// The store stays locked against other processes' writes while the guard lives: hold it around one bounded
    /// piece of work, never while idle. Default: nothing (the other backends hold no lock between reads).
    fn keep_reads_open(&self) -> ReadsKeptOpen {
        ReadsKeptOpen::default()
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
