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
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::{resolve_local_path, storage_options, MetadataStore, ResolvedFrom};

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
    /// Object store rooted at `root_url`; `None` for a local root that does not exist yet (an empty store).
    root_store: Option<Arc<dyn ObjectStore>>,
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
            root_store,
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
    ) -> Result<DataFrame> {
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let schema: SchemaRef = state.snapshot().arrow_schema();
        let paths: Vec<String> = state
            .log_data()
            .into_iter()
            .filter(|f| may_hold_version(f.stats().as_deref(), feature_version))
            .map(|f| f.path().to_string())
            .collect();
        let store = table.object_store();
        let mut batches = Vec::new();
        for p in paths {
            let path =
                deltalake::Path::parse(&p).unwrap_or_else(|_| deltalake::Path::from(p.as_str()));
            let bytes = store
                .get(&path)
                .await
                .map_err(|e| self.corrupt(key, format!("{p}: {e}")))?
                .bytes()
                .await
                .map_err(|e| self.corrupt(key, format!("{p}: {e}")))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|b| b.build())
                .map_err(|e| self.corrupt(key, format!("{p}: {e}")))?;
            for batch in reader {
                let batch = batch.map_err(|e| self.corrupt(key, format!("{p}: {e}")))?;
                batches.push(
                    conform(&batch, &schema).map_err(|e| self.corrupt(key, format!("{p}: {e}")))?,
                );
            }
        }
        record_batches_to_df(&schema, &batches)
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        let Some(store) = &self.root_store else {
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
        let Some(store) = &self.root_store else {
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
fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let col = match batch.column_by_name(f.name()) {
            None => new_null_array(f.data_type(), batch.num_rows()),
            Some(c) if c.data_type() == f.data_type() => Arc::clone(c),
            Some(c) => arrow::compute::cast(c, f.data_type())?,
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
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        block_on(self.table_exists(key))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        block_on(self.list_table_paths())
    }
    fn scan(&self, key: &FeatureKey, feature_version: Option<&str>) -> Result<Option<DataFrame>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        block_on(self.read_table(key, feature_version)).map(Some)
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
