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

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore};
use futures::TryStreamExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::DataFrame;
use url::Url;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::{df_to_record_batch, record_batches_to_df};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::{
    resolve_local_path, storage_options, Columns, MetadataStore, ResolvedFrom,
};

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

/// Whether `location` is an object-store URI rather than a local path (Metaxy's `is_local_path` negated).
pub fn is_remote(location: &str) -> bool {
    match location.split_once("://") {
        Some((scheme, _)) => !matches!(scheme, "file" | "local"),
        None => false,
    }
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
        let options = storage_options(cfg.config.get("storage_options"));
        let (root_uri, root_url, exists) = if is_remote(&location) {
            let trimmed = location.trim_end_matches('/').to_string();
            let url = Url::parse(&format!("{trimmed}/")).map_err(|e| err(e.to_string()))?;
            (trimmed, url, true)
        } else {
            let path = absolute(&resolve_local_path(&location, cwd));
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
        let store = table.object_store();
        // fetch every file concurrently, then decode (columns in parallel) on blocking threads
        let fetches = paths.iter().map(|p| self.fetch_file(key, &store, p));
        let t = crate::engine::timing::span(|| format!("delta-fetch {key}"));
        let files: Vec<(String, bytes::Bytes)> = futures::future::try_join_all(fetches).await?;
        drop(t);
        let view_schema = string_views(&schema);
        let t =
            crate::engine::timing::span(|| format!("delta-decode {key} ({} files)", files.len()));
        let (batches, rows) = decode_files(&files, &view_schema)
            .map_err(|(p, e)| self.corrupt(key, format!("{p}: {e}")))?;
        drop(t);
        let _t = crate::engine::timing::span(|| format!("delta-to-polars {key}"));
        Ok((record_batches_to_df(&view_schema, &batches)?, paths, rows))
    }

    /// The id-order index of `key`'s table (cached per Delta version): decodes only the id and feature-version
    /// columns of every data file that may hold `feature_version`.
    async fn order_index(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        ids: &[String],
    ) -> Result<(DeltaTable, Option<Arc<OrderIndex>>)> {
        use crate::engine::read::cols;
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
        range: &crate::engine::store::KeyRange<'_>,
    ) -> Result<crate::engine::store::LatestScan> {
        use crate::engine::store::LatestScan;
        use polars::prelude::*;
        let ids = range.id_columns;
        let (table, Some(ix)) = self.order_index(key, feature_version, ids).await? else {
            return Ok(LatestScan::Unsupported);
        };
        let t = crate::engine::timing::span(|| format!("delta-page pick {key}"));
        let picked = crate::engine::store::pick_from_index(&ix.index, range)?;
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

impl DeltaStore {
    fn write_err(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: self.feature_uri(key),
            message: without_backtrace(&m.to_string()),
        }
    }

    /// The bytes of one data file of a table.
    async fn fetch_file(
        &self,
        key: &FeatureKey,
        store: &Arc<dyn ObjectStore>,
        p: &str,
    ) -> Result<(String, bytes::Bytes)> {
        // local tables: the file mapped into memory (no copy; data files are immutable once committed)
        if !p.contains("://") {
            if let Ok(dir) = self
                .table_url(key)
                .and_then(|u| u.to_file_path().map_err(|_| self.err("not a local table")))
            {
                let full = dir.join(p);
                if let Ok(file) = std::fs::File::open(&full) {
                    // SAFETY: committed Delta data files are never modified in place (only added or removed)
                    if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                        return Ok((p.to_string(), bytes::Bytes::from_owner(map)));
                    }
                }
            }
        }
        let path = deltalake::Path::parse(p).unwrap_or_else(|_| deltalake::Path::from(p));
        let bytes = store
            .get(&path)
            .await
            .map_err(|e| self.corrupt(key, format!("{p}: {e}")))?
            .bytes()
            .await
            .map_err(|e| self.corrupt(key, format!("{p}: {e}")))?;
        Ok((p.to_string(), bytes))
    }

    /// One commit: a new table (create + data files) or an append with schema merge (Metaxy: `write_delta(...,
    /// mode="append", schema_mode="merge")`).
    async fn append_async(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
        use deltalake::kernel::{Action, MetadataExt as _, StructType};
        use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
        let batch = df_to_record_batch(df)?;
        let url = self.table_url(key)?;
        if let Ok(path) = url.to_file_path() {
            std::fs::create_dir_all(&path)?;
        }
        let mut table = DeltaTableBuilder::from_url(url.clone())
            .map_err(|e| self.write_err(key, e))?
            .with_storage_options(self.options.clone())
            .build()
            .map_err(|e| self.write_err(key, e))?;
        let exists = match table.load().await {
            Ok(()) => true,
            Err(deltalake::DeltaTableError::NotATable(_)) => false,
            Err(e) => return Err(self.corrupt(key, e.to_string())),
        };
        if !exists {
            // data files first, then one commit that creates the table with them (a kill before the commit leaves
            // only unreferenced files: no table, as before)
            let batch = if self.map_datatype {
                crate::engine::frame::batch_with_map_columns(&batch, |name| {
                    arrow::datatypes::Field::new(name, crate::engine::frame::delta_map_type(), true)
                })?
            } else {
                batch
            };
            let schema: StructType = batch
                .schema()
                .try_into_kernel()
                .map_err(|e| self.write_err(key, e))?;
            let delta_schema: arrow::datatypes::Schema = (&schema)
                .try_into_arrow()
                .map_err(|e: arrow::error::ArrowError| self.write_err(key, e))?;
            let delta_schema: SchemaRef = Arc::new(delta_schema);
            let batch = conform(&batch, &delta_schema).map_err(|e| self.write_err(key, e))?;
            let mut writer = RecordBatchWriter::try_new(
                url.as_str(),
                Arc::clone(&delta_schema),
                None,
                Some(self.options.clone()),
            )
            .map_err(|e| self.write_err(key, e))?;
            writer
                .write(batch)
                .await
                .map_err(|e| self.write_err(key, e))?;
            let adds: Vec<Action> = writer
                .flush()
                .await
                .map_err(|e| self.write_err(key, e))?
                .into_iter()
                .map(Action::Add)
                .collect();
            crate::engine::fault::point("delta.before_commit");
            deltalake::operations::create::CreateBuilder::new()
                .with_log_store(table.log_store())
                .with_columns(schema.fields().cloned())
                .with_actions(adds)
                .await
                .map_err(|e| self.write_err(key, e))?;
            return Ok(());
        }
        let table_schema: SchemaRef = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?
            .snapshot()
            .arrow_schema();
        let batch = conform_for_append(&batch, &table_schema).map_err(|m| EngineError::Schema {
            feature: key.to_string(),
            message: m,
        })?;
        let mut writer =
            RecordBatchWriter::for_table(&table).map_err(|e| self.write_err(key, e))?;
        writer
            .write_with_mode(batch, WriteMode::MergeSchema)
            .await
            .map_err(|e| self.write_err(key, e))?;
        // data files first, then one log entry referencing them (and the merged schema, when it grew)
        let mut actions: Vec<Action> = writer
            .flush()
            .await
            .map_err(|e| self.write_err(key, e))?
            .into_iter()
            .map(Action::Add)
            .collect();
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let evolved = writer.arrow_schema();
        if evolved.fields().len() != table_schema.fields().len() {
            let schema: StructType = evolved
                .try_into_kernel()
                .map_err(|e| self.write_err(key, e))?;
            let metadata = state
                .metadata()
                .clone()
                .with_schema(&schema)
                .map_err(|e| self.write_err(key, e))?;
            actions.push(Action::Metadata(metadata));
        }
        crate::engine::fault::point("delta.before_commit");
        deltalake::kernel::transaction::CommitBuilder::default()
            .with_actions(actions)
            .build(
                Some(state),
                table.log_store(),
                deltalake::protocol::DeltaOperation::Write {
                    mode: deltalake::protocol::SaveMode::Append,
                    partition_by: None,
                    predicate: None,
                },
            )
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(())
    }

    /// Hard delete in one commit: every data file holding a matching row is removed and its other rows are
    /// rewritten to one new file (copy-on-write, as delta-rs' `DeltaTable.delete` does).
    async fn delete_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        use deltalake::kernel::transaction::CommitBuilder;
        use deltalake::kernel::Action;
        use deltalake::protocol::DeltaOperation;
        use deltalake::writer::{DeltaWriter, RecordBatchWriter};
        use polars::prelude::{col, lit, IntoLazy};
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let schema: arrow::datatypes::SchemaRef = state.snapshot().arrow_schema();
        let store = table.object_store();
        let files: Vec<(String, deltalake::kernel::Remove)> = state
            .log_data()
            .into_iter()
            .map(|f| (f.path().to_string(), f.remove_action(true)))
            .collect();
        let mut actions: Vec<Action> = Vec::new();
        let mut kept: Vec<RecordBatch> = Vec::new();
        let mut deleted = 0usize;
        for (p, remove) in files {
            let file = self.fetch_file(key, &store, &p).await?;
            let (batches, _) = decode_files(std::slice::from_ref(&file), &schema)
                .map_err(|(p, e)| self.corrupt(key, format!("{p}: {e}")))?;
            let batch = arrow::compute::concat_batches(&schema, &batches)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let df = record_batches_to_df(&schema, std::slice::from_ref(&batch))?
                .with_row_index("__mx_idx".into(), None)?;
            let mut cand = df.lazy();
            if let Some(v) = feature_version {
                cand = cand.filter(col("metaxy_feature_version").eq(lit(v.to_string())));
            }
            let matched = crate::engine::read::apply_filters(cand.collect()?, filters)?;
            if matched.height() == 0 {
                continue;
            }
            deleted += matched.height();
            let mut keep = vec![true; batch.num_rows()];
            for i in matched.column("__mx_idx")?.idx()?.into_no_null_iter() {
                keep[i as usize] = false;
            }
            let mask = arrow::array::BooleanArray::from(keep);
            let rest = arrow::compute::filter_record_batch(&batch, &mask)?;
            if rest.num_rows() > 0 {
                kept.push(rest);
            }
            actions.push(Action::Remove(remove));
        }
        if deleted == 0 {
            return Ok(0);
        }
        if !kept.is_empty() {
            let mut writer =
                RecordBatchWriter::for_table(&table).map_err(|e| self.write_err(key, e))?;
            for b in kept {
                writer.write(b).await.map_err(|e| self.write_err(key, e))?;
            }
            let adds = writer.flush().await.map_err(|e| self.write_err(key, e))?;
            actions.extend(adds.into_iter().map(Action::Add));
        }
        let mut predicate: Vec<String> = vec![];
        if let Some(v) = feature_version {
            predicate.push(format!(
                "metaxy_feature_version = '{}'",
                v.replace('\'', "''")
            ));
        }
        predicate.extend(filters.iter().map(|f| format!("({f})")));
        let predicate = (!predicate.is_empty()).then(|| predicate.join(" AND "));
        crate::engine::fault::point("delta.before_commit");
        CommitBuilder::default()
            .with_actions(actions)
            .build(
                Some(state),
                table.log_store(),
                DeltaOperation::Delete { predicate },
            )
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(deleted)
    }
}

/// Prepares a batch for an append to an existing table: the table's columns cast to the table's types (string
/// flavours, timestamp zones), columns the batch lacks as nulls, and columns the table lacks appended as they are
/// (the writer merges them into the schema). A struct where the table has a map (Map mode) is refused.
fn conform_for_append(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, String> {
    use arrow::datatypes::{DataType as ArrowDataType, Field, Schema};
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let col = match batch.column_by_name(f.name()) {
            None => new_null_array(f.data_type(), batch.num_rows()),
            Some(c) if c.data_type() == f.data_type() => Arc::clone(c),
            Some(c)
                if matches!(f.data_type(), ArrowDataType::Map(..))
                    && matches!(c.data_type(), ArrowDataType::Struct(_)) =>
            {
                // Map mode: the table stores a map, the engine a struct
                crate::engine::frame::struct_to_map_like(c, f.data_type())
                    .map_err(|e| format!("column {}: {e}", f.name()))?
            }
            Some(c) => arrow::compute::cast(c, f.data_type()).map_err(|e| {
                format!(
                    "column {} has type {}, the table has {}: {e}",
                    f.name(),
                    c.data_type(),
                    f.data_type()
                )
            })?,
        };
        fields.push(Arc::clone(f));
        cols.push(col);
    }
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if schema.field_with_name(f.name()).is_err() {
            fields.push(Arc::clone(f));
            cols.push(Arc::clone(c));
        }
    }
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), cols, &opts)
        .map_err(|e| e.to_string())
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

/// The message of a backend error without the backtrace the delta kernel appends when `RUST_BACKTRACE` is set
/// (it would flood status tables and error popups).
pub fn without_backtrace(message: &str) -> String {
    match message.find("\n   0: ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

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

/// Projects a batch read from one data file onto the table schema: columns by name, a null column where the file
/// predates a schema-merge that added it, and types cast to the table's (string flavours, timestamp zones).
/// `schema` with every top-level string column (and string members of structs) as `Utf8View`, the layout polars
/// uses, so that decoded strings move into polars without a copy. Map columns keep their types (the map-mode
/// conversion expects plain strings).
fn string_views(schema: &SchemaRef) -> SchemaRef {
    use arrow::datatypes::{DataType as D, Field, Schema};
    fn conv(dt: &D) -> D {
        match dt {
            D::Utf8 | D::LargeUtf8 => D::Utf8View,
            D::Struct(fields) => D::Struct(
                fields
                    .iter()
                    .map(|f| Arc::new(f.as_ref().clone().with_data_type(conv(f.data_type()))))
                    .collect(),
            ),
            o => o.clone(),
        }
    }
    Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| Arc::new(Field::clone(f).with_data_type(conv(f.data_type()))))
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// One leaf of a flat struct column: its child position and its arrays, one per row group.
type LeafArrays = (usize, Vec<ArrayRef>);

/// Decodes data files into batches conformed to `schema` (only its columns are decoded; a column a file lacks is
/// all null). One task per (file, column), or per leaf of a flat struct column (reassembled after), spread over
/// the available cores, widest first; each task decodes its column of a whole row group into one array (no small
/// batches). Also returns the rows of each file. Errors carry the file path.
fn decode_files(
    files: &[(String, bytes::Bytes)],
    schema: &SchemaRef,
) -> std::result::Result<(Vec<RecordBatch>, Vec<usize>), (String, String)> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use parquet::arrow::ProjectionMask;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // (file, root index in the file, column index in `schema`, for one leaf of a flat struct: (child position,
    // leaf index)); a flat struct's leaves are decoded as tasks of their own (the widest columns, so first)
    type Task = (usize, usize, usize, Option<(usize, usize)>);
    let mut metas = Vec::with_capacity(files.len());
    let mut tasks: Vec<Task> = Vec::new();
    for (fi, (p, bytes)) in files.iter().enumerate() {
        let err = |e: parquet::errors::ParquetError| (p.clone(), e.to_string());
        let meta = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new()).map_err(err)?;
        // read strings as views where the file's type allows it
        let file_schema = meta.schema().clone();
        let views = string_views(&file_schema);
        let meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(views),
        )
        .or_else(|_| {
            ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new())
        })
        .map_err(err)?;
        let pq = meta.parquet_schema();
        let mut leaf_tasks: Vec<Task> = Vec::new();
        for (ci, f) in schema.fields().iter().enumerate() {
            if let Some(ri) = file_schema
                .fields()
                .iter()
                .position(|x| x.name() == f.name())
            {
                let leaves: Vec<usize> = (0..pq.num_columns())
                    .filter(|&li| pq.get_column_root_idx(li) == ri)
                    .collect();
                let flat_struct = match file_schema.field(ri).data_type() {
                    arrow::datatypes::DataType::Struct(children) => {
                        leaves.len() == children.len()
                            && leaves.len() > 1
                            && children.iter().all(|c| !c.data_type().is_nested())
                    }
                    _ => false,
                };
                if flat_struct {
                    for (pos, li) in leaves.into_iter().enumerate() {
                        leaf_tasks.push((fi, ri, ci, Some((pos, li))));
                    }
                } else {
                    tasks.push((fi, ri, ci, None));
                }
            }
        }
        tasks.splice(0..0, leaf_tasks);
        metas.push(meta);
    }
    let n_threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(tasks.len().max(1));
    let next = AtomicUsize::new(0);
    type Out =
        std::result::Result<Vec<(usize, usize, Option<usize>, Vec<ArrayRef>)>, (String, String)>;
    let results: Vec<Out> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n_threads)
            .map(|_| {
                scope.spawn(|| -> Out {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(fi, ri, ci, leaf)) = tasks.get(i) else {
                            return Ok(out);
                        };
                        let (p, bytes) = &files[fi];
                        let meta = &metas[fi];
                        let err = |e: String| (p.clone(), e);
                        let rows = meta
                            .metadata()
                            .row_groups()
                            .iter()
                            .map(|g| g.num_rows() as usize)
                            .max()
                            .unwrap_or(1)
                            .max(1);
                        let mask = match leaf {
                            Some((_, li)) => ProjectionMask::leaves(meta.parquet_schema(), [li]),
                            None => ProjectionMask::roots(meta.parquet_schema(), [ri]),
                        };
                        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                            bytes.clone(),
                            meta.clone(),
                        )
                        .with_projection(mask)
                        .with_batch_size(rows)
                        .build()
                        .map_err(|e| err(e.to_string()))?;
                        let mut arrays = Vec::new();
                        for b in reader {
                            let b = b.map_err(|e| err(e.to_string()))?;
                            arrays.push(Arc::clone(b.column(0)));
                        }
                        out.push((fi, ci, leaf.map(|(pos, _)| pos), arrays));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err((String::new(), "decoder thread panicked".into())))
            })
            .collect()
    });
    // (file, column) -> the column's arrays, one per row group
    let mut by_file: Vec<Vec<Option<Vec<ArrayRef>>>> =
        vec![vec![None; schema.fields().len()]; files.len()];
    // a flat struct decoded leaf by leaf: (file, column) -> (child position, arrays per row group)
    let mut parts: HashMap<(usize, usize), Vec<LeafArrays>> = HashMap::new();
    for r in results {
        for (fi, ci, pos, arrays) in r? {
            match pos {
                None => by_file[fi][ci] = Some(arrays),
                Some(pos) => parts.entry((fi, ci)).or_default().push((pos, arrays)),
            }
        }
    }
    for ((fi, ci), mut leaves) in parts {
        leaves.sort_by_key(|(pos, _)| *pos);
        let groups = leaves.first().map_or(0, |(_, a)| a.len());
        let mut arrays = Vec::with_capacity(groups);
        for gi in 0..groups {
            // each part is a struct holding one child; the struct's validity is the same in every part
            let mut fields = Vec::new();
            let mut children = Vec::new();
            let mut nulls = None;
            for (_, a) in &leaves {
                let st = a
                    .get(gi)
                    .and_then(|x| x.as_any().downcast_ref::<arrow::array::StructArray>())
                    .ok_or_else(|| {
                        (
                            files[fi].0.clone(),
                            "struct leaf did not decode".to_string(),
                        )
                    })?;
                if nulls.is_none() {
                    nulls = arrow::array::Array::nulls(st).cloned();
                }
                fields.push(st.fields()[0].clone());
                children.push(Arc::clone(st.column(0)));
            }
            let st = arrow::array::StructArray::try_new(fields.into(), children, nulls)
                .map_err(|e| (files[fi].0.clone(), e.to_string()))?;
            arrays.push(Arc::new(st) as ArrayRef);
        }
        by_file[fi][ci] = Some(arrays);
    }
    let mut batches = Vec::new();
    let counts: Vec<usize> = metas
        .iter()
        .map(|m| {
            m.metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows() as usize)
                .sum()
        })
        .collect();
    for (fi, cols) in by_file.into_iter().enumerate() {
        let p = &files[fi].0;
        let groups = metas[fi].metadata().row_groups();
        for (gi, g) in groups.iter().enumerate() {
            let n = g.num_rows() as usize;
            if n == 0 {
                continue;
            }
            let batch =
                conform_columns(schema, n, |ci, _| cols[ci].as_ref().and_then(|v| v.get(gi)))
                    .map_err(|e| (p.clone(), e.to_string()))?;
            batches.push(batch);
        }
    }
    Ok((batches, counts))
}

/// The rows `rows` (sorted, unique, positions within the file) of one data file, decoded to `schema` in that order.
fn decode_rows(
    path: &str,
    bytes: &bytes::Bytes,
    schema: &SchemaRef,
    rows: &[usize],
) -> std::result::Result<RecordBatch, String> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
    use parquet::arrow::ProjectionMask;
    let e = |e: parquet::errors::ParquetError| format!("{path}: {e}");
    let meta = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new()).map_err(e)?;
    let file_schema = meta.schema().clone();
    let views = string_views(&file_schema);
    let meta = ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(views),
    )
    .or_else(|_| ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new()))
    .map_err(e)?;
    let total: usize = meta
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as usize)
        .sum();
    let roots: Vec<usize> = schema
        .fields()
        .iter()
        .filter_map(|f| {
            file_schema
                .fields()
                .iter()
                .position(|x| x.name() == f.name())
        })
        .collect();
    // consecutive runs of wanted rows
    let mut ranges: Vec<std::ops::Range<usize>> = vec![];
    for &r in rows {
        match ranges.last_mut() {
            Some(last) if last.end == r => last.end = r + 1,
            _ => ranges.push(r..r + 1),
        }
    }
    let selection = RowSelection::from_consecutive_ranges(ranges.into_iter(), total);
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta)
        .with_projection(mask)
        .with_row_selection(selection)
        .with_batch_size(rows.len().max(1))
        .build()
        .map_err(e)?;
    let mut out = vec![];
    for b in reader {
        let b = b.map_err(|err| format!("{path}: {err}"))?;
        out.push(conform(&b, schema).map_err(|err| format!("{path}: {err}"))?);
    }
    arrow::compute::concat_batches(schema, &out).map_err(|err| format!("{path}: {err}"))
}

/// `batch` conformed to `schema`: columns by name, a missing one all null, another type cast.
fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    conform_columns(schema, batch.num_rows(), |_, f| {
        batch.column_by_name(f.name())
    })
}

/// A batch of `schema` with `n` rows from `column(index, field)` (absent: all null; another type: cast).
fn conform_columns<'a>(
    schema: &SchemaRef,
    n: usize,
    column: impl Fn(usize, &arrow::datatypes::Field) -> Option<&'a ArrayRef>,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, f) in schema.fields().iter().enumerate() {
        let col = match column(i, f) {
            None => new_null_array(f.data_type(), n),
            Some(c) if c.data_type() == f.data_type() => Arc::clone(c),
            Some(c) => arrow::compute::cast(c, f.data_type()).map_err(|e| {
                arrow::error::ArrowError::CastError(format!("column {}: {e}", f.name()))
            })?,
        };
        cols.push(col);
    }
    RecordBatch::try_new(Arc::clone(schema), cols)
}

impl MetadataStore for DeltaStore {
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
    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &crate::engine::store::KeyRange<'_>,
    ) -> Result<crate::engine::store::LatestScan> {
        if !self.has_feature(key)? {
            return Ok(crate::engine::store::LatestScan::Missing);
        }
        block_on(self.scan_ordered_async(key, feature_version, columns, range))
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
