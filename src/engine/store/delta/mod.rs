//! The Delta Lake metadata store (Metaxy `DeltaMetadataStore`, FORMAT.md §2.3), read with delta-rs.
//!
//! Layout: `layout = "nested"` (default) keeps one table per feature at `{root}/{part1}/…/{partN}.delta` (parts
//! verbatim, hyphens kept); `layout = "flat"` at `{root}/{table_name}.delta`. The system table is
//! `metaxy-system/feature_versions`, whose naive `recorded_at` needs reader protocol 3 (`timestampNtz`), which the
//! delta kernel supports. `root_path` is a local path (`file://`, `local://` or plain, resolved against the process
//! CWD) or an object-store URI (`s3://`, `gs://`, `az://`, `abfss://`, …) opened with `storage_options` exactly as
//! delta-rs takes them.
//!
//! Reads list the active files of the table's current version from the Delta log and decode them with the arrow
//! parquet reader (Metaxy writes with delta-rs, which never writes deletion vectors or partitions).
//! The latest row per id of a table of several data files is read in two phases ([`latest`]): the columns the
//! pick needs from every file, the other columns only from the files holding a winner.

mod counts;
mod decode;
mod ids;
mod latest;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use futures::TryStreamExt;
use polars::prelude::DataFrame;
use url::Url;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::{
    Columns, KeyRange, LatestScan, MetadataStore, ReadsKeptOpen, ResolvedFrom,
};
use crate::engine::store::common::{
    check_local_dir, check_table_key, is_remote, resolve_local_path, storage_options,
};
use crate::engine::store::duckql::udf::RawDuckDb;
pub use counts::DUCKDB_ROWS;
use decode::{decode_files, decode_rows, string_views};

/// Table layout under `root_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaLayout {
    /// `{root}/{part1}/…/{partN}.delta` (Metaxy's default).
    Nested,
    /// `{root}/{table_name}.delta`.
    Flat,
}

/// A Delta Lake metadata store, read-only.
pub struct DeltaStore {
    name: String,
    /// Root as Metaxy displays it: absolute local path or the URI without trailing `/`.
    root_uri: String,
    root_url: Url,
    layout: DeltaLayout,
    options: HashMap<String, String>,
    hash_algorithm: HashAlgorithm,
    /// Map mode: new tables store `*_by_field` columns as `map<string, string>`.
    map_datatype: bool,
    /// Object store rooted at `root_url`; `None` for a local root that does not exist yet (an empty store) until
    /// the first write creates it.
    root_store: std::sync::Mutex<Option<Arc<dyn ObjectStore>>>,
    /// Id-order indexes of tables for paged reads ([`MetadataStore::scan_ordered`]), by table URI, Delta version,
    /// feature version and id columns (a new commit is a new version: never stale).
    order_cache: std::sync::Mutex<HashMap<String, Arc<OrderIndex>>>,
    /// The in-memory DuckDB of the counts over the tables' files, opening on a thread of its own since
    /// [`MetadataStore::keep_reads_open`] (taken by the first count, [`DeltaStore::duckdb_relations`]).
    warm_duckdb: Arc<std::sync::Mutex<Option<WarmDuckDb>>>,
}

/// An in-memory DuckDB being opened on a thread of its own (`None` once open: DuckDB failed to start).
type WarmDuckDb = std::thread::JoinHandle<Option<RawDuckDb>>;

/// [`DeltaStore`]'s guard of [`MetadataStore::keep_reads_open`]: drops the warm DuckDB no count took.
struct WarmGuard(Arc<std::sync::Mutex<Option<WarmDuckDb>>>);

impl Drop for WarmGuard {
    fn drop(&mut self) {
        // the thread ends by itself, and its instance with it
        drop(self.0.lock().map(|mut w| w.take()));
    }
}

/// A table's rows in id order, for keyset pages: the id columns and the storage position of every row (of the
/// feature version asked for), sorted by the ids then the position; and where each data file's rows start.
struct OrderIndex {
    /// Data files in storage order.
    files: Vec<String>,
    /// Position of each file's first row.
    starts: Vec<usize>,
    /// Rows per file.
    rows: Vec<usize>,
    /// `ids..., __mx_pos` (u64), sorted.
    index: DataFrame,
}

impl DeltaStore {
    /// Opens the store of `cfg` (`root_path`, `layout`, `storage_options`).
    ///
    /// Errors: [`EngineError::StoreOpen`] for a bad layout, an unparsable URI or an unknown URI scheme.
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        let location = cfg.location()?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: location.clone(),
            message: m,
        };
        let layout = match cfg.config.get("layout").and_then(|v| v.as_str()) {
            None | Some("nested") => DeltaLayout::Nested,
            Some("flat") => DeltaLayout::Flat,
            Some(other) => {
                return Err(err(format!(
                    "invalid layout {other:?}: must be \"flat\" or \"nested\""
                )))
            }
        };
        check_table_key("storage_options", cfg.config.get("storage_options")).map_err(err)?;
        let options = storage_options(cfg.config.get("storage_options"));
        let (root_uri, root_url, exists) = if is_remote(&location) {
            let trimmed = location.trim_end_matches('/').to_string();
            let url = Url::parse(&format!("{trimmed}/")).map_err(|e| err(e.to_string()))?;
            (trimmed, url, true)
        } else {
            let path = absolute(&resolve_local_path(&location, cwd));
            check_local_dir("root_path", &path).map_err(err)?;
            let url = Url::from_directory_path(&path)
                .map_err(|_| err(format!("{} is not an absolute path", path.display())))?;
            let exists = path.is_dir();
            (path.display().to_string(), url, exists)
        };
        let root_store = if exists {
            Some(
                deltalake::logstore::store_for(&root_url, options.clone())
                    .map_err(|e| err(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Self {
            name: cfg.name.clone(),
            root_uri,
            root_url,
            layout,
            options,
            hash_algorithm: cfg.hash_algorithm,
            map_datatype: cfg.map_datatype,
            root_store: std::sync::Mutex::new(root_store),
            order_cache: Default::default(),
            warm_duckdb: Default::default(),
        })
    }

    /// Path of `key`'s table relative to the root, e.g. `example/video.delta`.
    pub fn relative_table_path(&self, key: &FeatureKey) -> String {
        match self.layout {
            DeltaLayout::Nested => format!("{}.delta", key.parts().join("/")),
            DeltaLayout::Flat => format!("{}.delta", key.table_name()),
        }
    }

    /// Metaxy's `_feature_uri`: `{root}/{relative_table_path}`.
    pub fn feature_uri(&self, key: &FeatureKey) -> String {
        format!("{}/{}", self.root_uri, self.relative_table_path(key))
    }

    fn table_url(&self, key: &FeatureKey) -> Result<Url> {
        let mut url = self.root_url.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| self.err("bad root URI"))?;
            segs.pop_if_empty();
            let rel = self.relative_table_path(key);
            for part in rel.split('/') {
                segs.push(part);
            }
        }
        Ok(url)
    }

    /// The object store at the root: the one opened at start, or (for a local root created since) a new one.
    fn root_store(&self) -> Option<Arc<dyn ObjectStore>> {
        let mut guard = self.root_store.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            if let Ok(path) = self.root_url.to_file_path() {
                if path.is_dir() {
                    *guard =
                        deltalake::logstore::store_for(&self.root_url, self.options.clone()).ok();
                }
            }
        }
        guard.clone()
    }

    fn err(&self, m: impl Into<String>) -> EngineError {
        EngineError::StoreOpen {
            store: self.name.clone(),
            location: self.root_uri.clone(),
            message: without_backtrace(&m.into()),
        }
    }

    async fn open_table(&self, key: &FeatureKey) -> Result<DeltaTable> {
        let url = self.table_url(key)?;
        let table = DeltaTableBuilder::from_url(url)
            .map_err(|e| self.corrupt(key, e.to_string()))?
            .with_storage_options(self.options.clone())
            .load()
            .await
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        Ok(table)
    }

    fn corrupt(&self, key: &FeatureKey, message: String) -> EngineError {
        EngineError::CorruptTable {
            table: self.feature_uri(key),
            message: without_backtrace(&message),
        }
    }

    async fn read_table(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<DataFrame> {
        let t = crate::engine::timing::span(|| format!("delta-open {key}"));
        let table = self.open_table(key).await?;
        drop(t);
        Ok(self
            .decode_table(key, &table, feature_version, columns)
            .await?
            .0)
    }

    /// The rows of `table`'s data files that may hold `feature_version` (pruned by file stats; callers re-apply
    /// the filter), with the columns `columns` selects; also the files read, in order, and their row counts.
    async fn decode_table(
        &self,
        key: &FeatureKey,
        table: &DeltaTable,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<(DataFrame, Vec<String>, Vec<usize>)> {
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let full: SchemaRef = state.snapshot().arrow_schema();
        let schema = columns.project_schema(&full);
        let paths: Vec<String> = state
            .log_data()
            .into_iter()
            .filter(|f| may_hold_version(f.stats().as_deref(), feature_version))
            .map(|f| f.path().to_string())
            .collect();
        let (df, rows) = self.decode_paths(key, table, &paths, &schema).await?;
        Ok((df, paths, rows))
    }

    /// The rows of the data files `paths` of `table` (in that order) with the columns of `schema` (strings as
    /// views, [`string_views`]); also each file's row count.
    async fn decode_paths(
        &self,
        key: &FeatureKey,
        table: &DeltaTable,
        paths: &[String],
        schema: &SchemaRef,
    ) -> Result<(DataFrame, Vec<usize>)> {
        let store = table.object_store();
        // fetch every file concurrently, then decode (columns in parallel) on blocking threads
        let fetches = paths.iter().map(|p| self.fetch_file(key, &store, p));
        let t = crate::engine::timing::span(|| format!("delta-fetch {key}"));
        let files: Vec<(String, bytes::Bytes)> = futures::future::try_join_all(fetches).await?;
        drop(t);
        let view_schema = string_views(schema);
        let t =
            crate::engine::timing::span(|| format!("delta-decode {key} ({} files)", files.len()));
        let (batches, rows) = decode_files(&files, &view_schema)
            .map_err(|(p, e)| self.corrupt(key, format!("{p}: {e}")))?;
        drop(t);
        let _t = crate::engine::timing::span(|| format!("delta-to-polars {key}"));
        Ok((record_batches_to_df(&view_schema, &batches)?, rows))
    }

    /// The id-order index of `key`'s table (cached per Delta version): decodes only the id and feature-version
    /// columns of every data file that may hold `feature_version`.
    async fn order_index(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        ids: &[String],
    ) -> Result<(DeltaTable, Option<Arc<OrderIndex>>)> {
        use crate::engine::schema as cols;
        use polars::prelude::*;
        let table = self.open_table(key).await?;
        let cache_key = format!(
            "{}@{:?}|{feature_version:?}|{ids:?}",
            self.feature_uri(key),
            table.version()
        );
        if let Some(ix) = self
            .order_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&cache_key).cloned())
        {
            return Ok((table, Some(ix)));
        }
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let full: arrow::datatypes::SchemaRef = state.snapshot().arrow_schema();
        if !ids.iter().all(|c| full.field_with_name(c).is_ok()) {
            return Ok((table, None));
        }
        let mut wanted: Vec<String> = ids.to_vec();
        let has_version = full.field_with_name(cols::FEATURE_VERSION).is_ok();
        if has_version && feature_version.is_some() {
            wanted.push(cols::FEATURE_VERSION.to_string());
        }
        let (df, paths, rows) = self
            .decode_table(key, &table, feature_version, &Columns::Only(wanted))
            .await?;
        let _t = crate::engine::timing::span(|| format!("delta-index sort {key}"));
        let n = df.height();
        let mut lf = df.lazy().with_column(
            lit(Series::new(
                "__mx_pos".into(),
                (0..n as u64).collect::<Vec<u64>>(),
            ))
            .alias("__mx_pos"),
        );
        if let (true, Some(v)) = (has_version, feature_version) {
            lf = lf
                .filter(col(cols::FEATURE_VERSION).eq(lit(v.to_string())))
                .drop(polars::prelude::cols([cols::FEATURE_VERSION]));
        }
        let by: Vec<String> = ids
            .iter()
            .cloned()
            .chain(["__mx_pos".to_string()])
            .collect();
        let index = lf
            .sort(by, SortMultipleOptions::default().with_maintain_order(true))
            .collect()?;
        let mut starts = Vec::with_capacity(rows.len());
        let mut acc = 0;
        for r in &rows {
            starts.push(acc);
            acc += r;
        }
        let ix = Arc::new(OrderIndex {
            files: paths,
            starts,
            rows,
            index,
        });
        if let Ok(mut c) = self.order_cache.lock() {
            // one table's index at a time per store is plenty for paging; keep memory bounded
            c.retain(|k, _| !k.starts_with(&self.feature_uri(key)));
            if c.len() >= 4 {
                c.clear();
            }
            c.insert(cache_key, ix.clone());
        }
        Ok((table, Some(ix)))
    }

    /// Keyset page of stored rows through the id-order index: the index picks the positions, only the data
    /// files holding them are fetched, and only those rows are decoded.
    async fn scan_ordered_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        use polars::prelude::*;
        let ids = range.id_columns;
        let (table, Some(ix)) = self.order_index(key, feature_version, ids).await? else {
            return Ok(LatestScan::Unsupported);
        };
        let t = crate::engine::timing::span(|| format!("delta-page pick {key}"));
        let picked = crate::engine::store::common::pick_from_index(&ix.index, range)?;
        let positions: Vec<usize> = picked
            .column("__mx_pos")?
            .u64()?
            .into_no_null_iter()
            .map(|p| p as usize)
            .collect();
        drop(t);
        let _t = crate::engine::timing::span(|| format!("delta-page rows {key}"));
        // positions per file, in file order
        let mut per_file: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for &p in &positions {
            let fi = ix.starts.partition_point(|&s| s <= p).saturating_sub(1);
            per_file.entry(fi).or_default().push(p);
        }
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let full: arrow::datatypes::SchemaRef = state.snapshot().arrow_schema();
        let view_schema = string_views(&columns.project_schema(&full));
        let store = table.object_store();
        let mut batches = vec![];
        let mut fetched_pos: Vec<usize> = vec![];
        for (fi, mut ps) in per_file {
            ps.sort_unstable();
            ps.dedup();
            let (p, bytes) = self.fetch_file(key, &store, &ix.files[fi]).await?;
            let local: Vec<usize> = ps.iter().map(|&x| x - ix.starts[fi]).collect();
            if local.iter().any(|&r| r >= ix.rows[fi]) {
                return Err(self.corrupt(key, format!("{p}: fewer rows than indexed")));
            }
            let b =
                decode_rows(&p, &bytes, &view_schema, &local).map_err(|e| self.corrupt(key, e))?;
            fetched_pos.extend(ps);
            batches.push(b);
        }
        let df = record_batches_to_df(&view_schema, &batches)?;
        // back into the index's order
        let at: HashMap<usize, IdxSize> = fetched_pos
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, i as IdxSize))
            .collect();
        let take: Vec<IdxSize> = positions.iter().map(|p| at[p]).collect();
        let df = df.take(&IdxCa::from_vec("".into(), take))?;
        Ok(LatestScan::Rows(df))
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        let Some(store) = self.root_store() else {
            return Ok(false);
        };
        let prefix = deltalake::Path::from(format!("{}/_delta_log", self.relative_table_path(key)));
        let first = store
            .list(Some(&prefix))
            .try_next()
            .await
            .map_err(|e| self.err(e.to_string()))?;
        Ok(first.is_some())
    }

    async fn list_table_paths(&self) -> Result<Vec<String>> {
        let Some(store) = self.root_store() else {
            return Ok(vec![]);
        };
        // every `_delta_log/` directory marks a table; its parent is the table path
        let mut tables: Vec<String> = store
            .list(None)
            .try_filter_map(|m| async move {
                let s = m.location.to_string();
                Ok(s.split_once("/_delta_log/").map(|(t, _)| t.to_string()))
            })
            .try_collect()
            .await
            .map_err(|e| self.err(e.to_string()))?;
        tables.sort();
        tables.dedup();
        Ok(tables)
    }
}

/// File pruning for a feature-version read: `false` only when the file's Delta statistics prove it holds no row
/// with `metaxy_feature_version == version` (one version in the file, a different one). Statistics may be
/// missing or truncated prefixes (delta-rs truncates long strings), so anything uncertain keeps the file; the
/// caller filters rows anyway.
fn may_hold_version(stats: Option<&str>, version: Option<&str>) -> bool {
    let (Some(stats), Some(v)) = (stats, version) else {
        return true;
    };
    let Ok(stats) = serde_json::from_str::<serde_json::Value>(stats) else {
        return true;
    };
    let col = "metaxy_feature_version";
    let (Some(min), Some(max)) = (
        stats["minValues"][col].as_str(),
        stats["maxValues"][col].as_str(),
    ) else {
        return true;
    };
    if stats["nullCount"][col].as_u64().unwrap_or(1) > 0 {
        return true;
    }
    min != max || v == min || v.starts_with(min)
}

pub use crate::engine::store::common::without_backtrace;

/// Makes `path` absolute and lexically normal (Python's `Path.resolve()` for paths that may not exist yet).
fn absolute(path: &Path) -> std::path::PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl MetadataStore for DeltaStore {
    /// Starts opening the in-memory DuckDB of the counts over the tables' files (about 12 ms, [`RawDuckDb`]) on a
    /// thread of its own, so that the first count of a command finds it open instead of waiting for it while the
    /// tables' logs load; local stores only. The guard drops an instance no count took.
    fn keep_reads_open(&self) -> ReadsKeptOpen {
        if is_remote(&self.root_uri) {
            return ReadsKeptOpen::default();
        }
        if let Ok(mut w) = self.warm_duckdb.lock() {
            *w = Some(std::thread::spawn(|| RawDuckDb::open_in_memory().ok()));
        }
        ReadsKeptOpen::holding(WarmGuard(self.warm_duckdb.clone()))
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::Delta
    }
    fn display(&self) -> String {
        format!("DeltaMetadataStore(path={})", self.root_uri)
    }
    fn class_path(&self) -> &'static str {
        "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.root_uri.clone()
    }
    /// The `_delta_log` of every table under a local root (a new commit is a new log file); `None` for object
    /// stores.
    fn change_marker(&self) -> Option<String> {
        let root = self.root_url.to_file_path().ok()?;
        crate::engine::store::common::table_logs_marker(&root, ".delta", "_delta_log")
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        self.relative_table_path(key)
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        ResolvedFrom {
            name: self.name.clone(),
            type_path: self.class_path().to_string(),
            display: self.display(),
            table_name: None,
            uri: Some(self.feature_uri(key)),
            identifier: None,
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        block_on(self.table_exists(key))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        block_on(self.list_table_paths())
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        block_on(self.read_table(key, feature_version, columns)).map(Some)
    }
    /// The ids pushed into the parquet scan: files and row groups pruned by statistics, the membership a row
    /// filter on the id columns ([`DeltaStore::scan_ids_async`]).
    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        block_on(self.scan_ids_async(key, feature_version, columns, ids)).map(|(df, _)| Some(df))
    }
    /// The latest row per id read in two phases when the table has several data files: the pick columns of every
    /// file, then the other columns only of the files holding a winner ([`latest`]).
    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        if !self.has_feature(key)? {
            return Ok(LatestScan::Missing);
        }
        block_on(self.read_latest(key, feature_version, columns, id_columns)).map(|(scan, _)| scan)
    }
    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        if !self.has_feature(key)? {
            return Ok(LatestScan::Missing);
        }
        block_on(self.scan_ordered_async(key, feature_version, columns, range))
    }
    /// A local store counts in DuckDB's bounded memory ([`counts`]); a remote one reads the upstream ids here.
    fn counts_stay_in_store(&self) -> bool {
        !is_remote(&self.root_uri)
    }
    fn increment_counts(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementCounts>> {
        self.counts_in_duckdb(plan)
    }
    fn increment_page(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
        kind: crate::engine::store::count_plan::IncrementKind,
        window: crate::engine::store::count_plan::PageWindow,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementPage>> {
        self.page_in_duckdb(plan, kind, window)
    }
    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        block_on(self.append_async(key, df))
    }
    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        if !self.has_feature(key)? {
            return Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table: self.feature_uri(key),
            });
        }
        block_on(self.delete_async(key, feature_version, filters))
    }
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        if !self.has_feature(key)? {
            return Ok(false);
        }
        block_on(self.drop_async(key))?;
        Ok(true)
    }
    fn drop_keeps_empty_table(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_pruned_only_when_stats_prove_another_version() {
        let stats = |min: &str, max: &str, nulls: u64| {
            format!(
                r#"{{"numRecords":3,"minValues":{{"metaxy_feature_version":"{min}"}},"maxValues":{{"metaxy_feature_version":"{max}"}},"nullCount":{{"metaxy_feature_version":{nulls}}}}}"#
            )
        };
        let one = stats("34d75856", "34d75856", 0);
        assert!(!may_hold_version(Some(&one), Some("ea834040")));
        assert!(may_hold_version(Some(&one), Some("34d75856")));
        // no version asked for, no stats, unparsable stats, a range of versions, nulls: keep
        assert!(may_hold_version(Some(&one), None));
        assert!(may_hold_version(None, Some("ea834040")));
        assert!(may_hold_version(Some("{"), Some("ea834040")));
        assert!(may_hold_version(
            Some(&stats("34d75856", "ea834040", 0)),
            Some("40000000")
        ));
        assert!(may_hold_version(
            Some(&stats("34d75856", "34d75856", 1)),
            Some("ea834040")
        ));
        // a truncated statistic is a prefix of the real value
        assert!(may_hold_version(
            Some(&stats("34d7", "34d7", 0)),
            Some("34d75856")
        ));
    }
}
