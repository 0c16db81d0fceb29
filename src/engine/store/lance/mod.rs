//! The LanceDB metadata store (Metaxy `LanceDBMetadataStore`, FORMAT.md §2.4), read with the `lancedb` crate.
//!
//! One Lance table per feature at `{uri}/{table_name}.lance` (`example__video.lance`,
//! `metaxy_system__feature_versions.lance`); strings are `large_string`; in Map mode a `*_by_field` column is a
//! `large_list<struct<key, value>>` (polars-map's extension type), which [`crate::engine::frame`] turns back into a
//! struct. `uri` is a local directory (resolved against the process CWD), an object-store URI (`s3://`, `gs://`,
//! `az://`) or LanceDB Cloud (`db://name`); `connect_kwargs` carries `storage_options`, `api_key`, `region` and
//! `host_override` as `lancedb.connect` takes them.

mod ids;

use std::path::Path;
use std::sync::Arc;

use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::Connection;
use polars::prelude::DataFrame;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::{df_to_record_batch, record_batches_to_df};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::{Columns, KeyRange, LatestScan, MetadataStore, ResolvedFrom};
use crate::engine::store::common::{
    check_local_dir, check_table_key, clean_message, is_remote, resolve_local_path, storage_options,
};

/// A LanceDB metadata store, read-only.
pub struct LanceStore {
    name: String,
    /// `uri` as configured (Metaxy displays it, credentials masked).
    uri: String,
    hash_algorithm: HashAlgorithm,
    /// Map mode: new tables store `*_by_field` columns as polars-map's list of key/value structs.
    map_datatype: bool,
    /// `None` for a local directory that does not exist yet (an empty store) until the first write creates it.
    conn: std::sync::Mutex<Option<Connection>>,
    /// The connect builder's inputs, kept to connect once a write has created the directory.
    target: String,
    kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Id-order indexes of tables for paged reads ([`MetadataStore::scan_ordered`]), by table, Lance version,
    /// feature version and id columns (a new version is a new key: never stale).
    order_cache: std::sync::Mutex<std::collections::HashMap<String, Arc<DataFrame>>>,
}

/// Metaxy's `sanitize_uri`: masks `user:password@` in URIs; local paths are returned unchanged.
pub fn sanitize_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    if matches!(scheme, "file" | "local") {
        return uri.to_string();
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((cred, host)) => {
            let masked = if cred.contains(':') { "***:***" } else { "***" };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => uri.to_string(),
    }
}

impl LanceStore {
    /// Connects to the store of `cfg` (`uri`, `connect_kwargs`).
    ///
    /// Errors: [`EngineError::StoreOpen`] when LanceDB cannot connect (bad URI, unreachable object store, bad
    /// credentials for `db://`).
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        let uri = cfg.location()?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: sanitize_uri(&uri),
            message: clean_message(&m),
        };
        check_table_key("connect_kwargs", cfg.config.get("connect_kwargs")).map_err(err)?;
        let kwargs = cfg.config.get("connect_kwargs").and_then(|v| v.as_object());
        check_table_key(
            "connect_kwargs.storage_options",
            kwargs.and_then(|k| k.get("storage_options")),
        )
        .map_err(err)?;
        let target = if is_remote(&uri) {
            uri.clone()
        } else {
            let path = resolve_local_path(&uri, cwd);
            check_local_dir("uri", &path).map_err(err)?;
            path.display().to_string()
        };
        let kwargs = kwargs.cloned();
        let conn = if !is_remote(&uri) && !Path::new(&target).is_dir() {
            None
        } else {
            Some(Self::connect(&target, kwargs.as_ref()).map_err(err)?)
        };
        Ok(Self {
            name: cfg.name.clone(),
            uri,
            hash_algorithm: cfg.hash_algorithm,
            map_datatype: cfg.map_datatype,
            conn: std::sync::Mutex::new(conn),
            target,
            kwargs,
            order_cache: Default::default(),
        })
    }

    fn connect(
        target: &str,
        kwargs: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> std::result::Result<Connection, String> {
        let mut b = lancedb::connect(target);
        let mut opts = kwargs
            .map(|kw| storage_options(kw.get("storage_options")))
            .unwrap_or_default();
        // Tables this tool creates must stay readable by Metaxy's pinned lancedb 0.25 (Lance file format 2.0);
        // lance 14 would default to 2.2.
        if !target.starts_with("db://") {
            opts.entry("new_table_data_storage_version".into())
                .or_insert_with(|| "2.0".into());
        }
        b = b.storage_options(opts);
        if let Some(kw) = kwargs {
            let get = |k: &str| kw.get(k).and_then(|v| v.as_str());
            if let Some(v) = get("api_key") {
                b = b.api_key(v);
            }
            if let Some(v) = get("region") {
                b = b.region(v);
            }
            if let Some(v) = get("host_override") {
                b = b.host_override(v);
            }
        }
        block_on(b.execute()).map_err(|e| e.to_string())
    }

    /// The connection; `None` while the local directory does not exist.
    fn conn(&self) -> Option<Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The connection for a write, creating the local directory (and connecting) when needed.
    fn conn_for_write(&self) -> Result<Connection> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        std::fs::create_dir_all(&self.target)?;
        let c = Self::connect(&self.target, self.kwargs.as_ref()).map_err(|m| self.err(m))?;
        *guard = Some(c.clone());
        Ok(c)
    }

    fn write_err(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: format!("{}.lance", key.table_name()),
            message: clean_message(&m.to_string()),
        }
    }

    /// One Lance version: `create_table` for a new table, `add` otherwise (Metaxy `_write_feature`). On a local
    /// table the `add` is lancedb's own two steps done here (Lance `InsertBuilder::execute_uncommitted`, then
    /// `CommitBuilder`), with the crash point `lance.before_commit` between them; the new table (`create_table`) is
    /// not split.
    async fn append_async(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let conn = self.conn_for_write()?;
        let name = key.table_name();
        let batch = df_to_record_batch(df)?;
        let names = conn
            .table_names()
            .execute()
            .await
            .map_err(|e| self.err(e.to_string()))?;
        if !names.contains(&name) {
            let batch = if self.map_datatype {
                crate::engine::frame::batch_with_map_columns(
                    &batch,
                    crate::engine::frame::lance_map_field,
                )?
            } else {
                batch
            };
            conn.create_table(&name, batch)
                .execute()
                .await
                .map_err(|e| self.write_err(key, e))?;
            return Ok(());
        }
        let table = conn
            .open_table(&name)
            .execute()
            .await
            .map_err(|e| self.write_err(key, e))?;
        let schema = table.schema().await.map_err(|e| self.write_err(key, e))?;
        let batch = conform_to(&batch, &schema).map_err(|m| EngineError::Schema {
            feature: key.to_string(),
            message: m,
        })?;
        let Some(wrapper) = table.dataset() else {
            // a remote (LanceDB Cloud) table: the server writes and commits
            table
                .add(batch)
                .execute()
                .await
                .map_err(|e| self.write_err(key, e))?;
            return Ok(());
        };
        // what lancedb's `add` does for a local table (`InsertExec`): data files first, then one commit of the
        // transaction = the new Lance version
        let dataset = wrapper.get().await.map_err(|e| self.write_err(key, e))?;
        let params = lance::dataset::WriteParams {
            mode: lance::dataset::WriteMode::Append,
            ..Default::default()
        };
        let transaction = lance::dataset::InsertBuilder::new(dataset.clone())
            .with_params(&params)
            .execute_uncommitted(vec![batch])
            .await
            .map_err(|e| self.write_err(key, e))?;
        crate::engine::fault::point("lance.before_commit");
        lance::dataset::CommitBuilder::new(dataset)
            .execute(transaction)
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(())
    }

    /// One Lance version: `table.delete(predicate)` with Metaxy's predicate (version condition AND filters). On a
    /// local table done as lancedb does it, in two steps (Lance `DeleteBuilder::execute_uncommitted` writes the
    /// deletion files, `CommitBuilder` the version; no conflict retries: one writer), with the crash point
    /// `lance.before_commit` between them.
    async fn delete_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let conn = self.conn_for_write()?;
        let table = conn
            .open_table(key.table_name())
            .execute()
            .await
            .map_err(|e| self.write_err(key, e))?;
        let mut parts: Vec<String> = vec![];
        if let Some(v) = feature_version {
            parts.push(version_predicate(v));
        }
        parts.extend(filters.iter().map(|f| format!("({f})")));
        let predicate = if parts.is_empty() {
            "true".to_string()
        } else {
            parts.join(" AND ")
        };
        let classify = |m: String| {
            if m.contains("parse") || m.contains("SQL") || m.contains("Schema error") {
                EngineError::BadFilter {
                    filter: predicate.clone(),
                    message: m,
                }
            } else {
                self.write_err(key, m)
            }
        };
        let Some(wrapper) = table.dataset() else {
            // a remote (LanceDB Cloud) table: the server deletes and commits
            let res = table
                .delete(predicate.as_str())
                .await
                .map_err(|e| classify(e.to_string()))?;
            return Ok(res.num_deleted_rows as usize);
        };
        // what lancedb's `delete` does for a local table: deletion files first, then one commit = the new version
        let dataset = wrapper.get().await.map_err(|e| self.write_err(key, e))?;
        let staged =
            lance::dataset::DeleteBuilder::new(dataset.clone(), lance_sql_predicate(&predicate))
                .execute_uncommitted()
                .await
                .map_err(|e| classify(e.to_string()))?;
        crate::engine::fault::point("lance.before_commit");
        let mut commit = lance::dataset::CommitBuilder::new(dataset);
        if let Some(rows) = staged.affected_rows {
            commit = commit.with_affected_rows(rows);
        }
        commit
            .execute(staged.transaction)
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(staged.num_deleted_rows as usize)
    }

    /// [`MetadataStore::drop_feature`]: lancedb's `drop_table` (Metaxy's `conn.drop_table`): the table's directory
    /// is removed. The table's cached id-order indexes go with it (a table created again restarts its versions).
    async fn drop_async(&self, key: &FeatureKey) -> Result<()> {
        let conn = self.conn_for_write()?;
        conn.drop_table(key.table_name(), &[])
            .await
            .map_err(|e| self.write_err(key, e))?;
        if let Ok(mut c) = self.order_cache.lock() {
            let prefix = format!("{}@", key.table_name());
            c.retain(|k, _| !k.starts_with(&prefix));
        }
        Ok(())
    }

    fn err(&self, m: impl Into<String>) -> EngineError {
        EngineError::StoreOpen {
            store: self.name.clone(),
            location: sanitize_uri(&self.uri),
            message: clean_message(&m.into()),
        }
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        match &self.conn() {
            None => Ok(vec![]),
            Some(c) => c
                .table_names()
                .execute()
                .await
                .map_err(|e| self.err(e.to_string())),
        }
    }

    /// Opens `key`'s table (errors: the store directory is missing, the table is corrupt).
    async fn open_table(&self, key: &FeatureKey) -> Result<lancedb::Table> {
        let conn = self
            .conn()
            .ok_or_else(|| self.err("store directory does not exist"))?;
        conn.open_table(key.table_name())
            .execute()
            .await
            .map_err(|e| corrupt_table(key, e.to_string()))
    }

    /// The rows of `key`'s table of `feature_version` (when the table has the column), with the columns `columns`
    /// selects; with `only`, a Lance SQL filter evaluated in the scan too. Also the number of rows returned.
    async fn read_table(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        only: Option<&str>,
    ) -> Result<(DataFrame, usize)> {
        let corrupt = |m: String| corrupt_table(key, m);
        let table = self.open_table(key).await?;
        let full = table.schema().await.map_err(|e| corrupt(e.to_string()))?;
        let mut query = table.query();
        if let Some(keep) = columns.select(full.fields().iter().map(|f| f.name().as_str())) {
            query = query.select(lancedb::query::Select::columns(&keep));
        }
        let schema = columns.project_schema(&full);
        let mut conditions: Vec<String> = vec![];
        if let Some(v) = feature_version {
            if schema.field_with_name("metaxy_feature_version").is_ok() {
                conditions.push(version_predicate(v));
            }
        }
        conditions.extend(only.map(|o| format!("({o})")));
        if !conditions.is_empty() {
            query = query.only_if(conditions.join(" AND "));
        }
        let stream = query.execute().await.map_err(|e| corrupt(e.to_string()))?;
        let batches = collect_batches(stream, key).await?;
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let schema = batches.first().map(|b| b.schema()).unwrap_or(schema);
        Ok((record_batches_to_df(&schema, &batches)?, rows))
    }
}

impl LanceStore {
    /// The id-order index of `key`'s table (cached per Lance version): the id columns and `_rowid` of every row of
    /// `feature_version`, sorted by the ids then `_rowid` (storage order). `None` when an id column is missing.
    async fn order_index(
        &self,
        table: &lancedb::Table,
        key: &FeatureKey,
        feature_version: Option<&str>,
        ids: &[String],
    ) -> Result<Option<Arc<DataFrame>>> {
        use polars::prelude::*;
        let corrupt = |m: String| corrupt_table(key, m);
        let version = table.version().await.map_err(|e| corrupt(e.to_string()))?;
        let cache_key = format!("{}@{version}|{feature_version:?}|{ids:?}", key.table_name());
        if let Some(ix) = self
            .order_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&cache_key).cloned())
        {
            return Ok(Some(ix));
        }
        let schema = table.schema().await.map_err(|e| corrupt(e.to_string()))?;
        if !ids.iter().all(|c| schema.field_with_name(c).is_ok()) {
            return Ok(None);
        }
        let mut query = table
            .query()
            .select(lancedb::query::Select::columns(ids))
            .with_row_id();
        if let Some(v) = feature_version {
            if schema.field_with_name("metaxy_feature_version").is_ok() {
                query = query.only_if(version_predicate(v));
            }
        }
        let stream = query.execute().await.map_err(|e| corrupt(e.to_string()))?;
        let batches = collect_batches(stream, key).await?;
        let df = match batches.first() {
            Some(b) => record_batches_to_df(&b.schema(), &batches)?,
            None => return Ok(None),
        };
        let by: Vec<String> = ids.iter().cloned().chain(["_rowid".to_string()]).collect();
        let index = Arc::new(
            df.lazy()
                .sort(by, SortMultipleOptions::default().with_maintain_order(true))
                .collect()?,
        );
        if let Ok(mut c) = self.order_cache.lock() {
            let prefix = format!("{}@", key.table_name());
            c.retain(|k, _| !k.starts_with(&prefix));
            if c.len() >= 4 {
                c.clear();
            }
            c.insert(cache_key, index.clone());
        }
        Ok(Some(index))
    }

    /// Keyset page of stored rows through the id-order index: the index picks the row ids, `take_row_ids` reads
    /// only those rows.
    async fn scan_ordered_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        use polars::prelude::*;
        let corrupt = |m: String| corrupt_table(key, m);
        let table = self.open_table(key).await?;
        let ids = range.id_columns;
        let Some(ix) = self.order_index(&table, key, feature_version, ids).await? else {
            return Ok(LatestScan::Unsupported);
        };
        let picked = crate::engine::store::common::pick_from_index(&ix, range)?;
        let row_ids: Vec<u64> = picked
            .column("_rowid")?
            .u64()?
            .into_no_null_iter()
            .collect();
        let schema = table.schema().await.map_err(|e| corrupt(e.to_string()))?;
        let projected = columns.project_schema(&schema);
        if row_ids.is_empty() {
            return Ok(LatestScan::Rows(record_batches_to_df(&projected, &[])?));
        }
        let mut take = table.take_row_ids(row_ids.clone()).with_row_id();
        if let Some(keep) = columns.select(schema.fields().iter().map(|f| f.name().as_str())) {
            take = take.select(lancedb::query::Select::columns(&keep));
        }
        let stream = take.execute().await.map_err(|e| corrupt(e.to_string()))?;
        let batches = collect_batches(stream, key).await?;
        let Some(first) = batches.first() else {
            return Err(corrupt("rows of the id index are gone".into()));
        };
        let df = record_batches_to_df(&first.schema(), &batches)?;
        // back into the index's order, without the row ids
        let got: std::collections::HashMap<u64, IdxSize> = df
            .column("_rowid")?
            .u64()?
            .into_no_null_iter()
            .enumerate()
            .map(|(i, r)| (r, i as IdxSize))
            .collect();
        let order: Option<Vec<IdxSize>> = row_ids.iter().map(|r| got.get(r).copied()).collect();
        let Some(order) = order else {
            return Err(corrupt("rows of the id index are gone".into()));
        };
        let df = df
            .take(&IdxCa::from_vec("".into(), order))?
            .drop("_rowid")?;
        Ok(LatestScan::Rows(df))
    }
}

/// The Lance SQL predicate keeping the rows of feature version `v`.
fn version_predicate(v: &str) -> String {
    format!("metaxy_feature_version = '{}'", v.replace('\'', "''"))
}

/// Every batch of a Lance query's stream (a failure is a corrupt table).
async fn collect_batches(
    stream: lancedb::arrow::SendableRecordBatchStream,
    key: &FeatureKey,
) -> Result<Vec<arrow::array::RecordBatch>> {
    stream
        .try_collect()
        .await
        .map_err(|e| corrupt_table(key, e.to_string()))
}

/// [`EngineError::CorruptTable`] for `key`'s table.
fn corrupt_table(key: &FeatureKey, message: String) -> EngineError {
    EngineError::CorruptTable {
        table: format!("{}.lance", key.table_name()),
        message: clean_message(&message),
    }
}

impl MetadataStore for LanceStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::LanceDb
    }
    fn display(&self) -> String {
        format!("LanceDBMetadataStore(path={})", sanitize_uri(&self.uri))
    }
    fn class_path(&self) -> &'static str {
        "metaxy.ext.lancedb.metadata_store.LanceDBMetadataStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    /// The `_versions` of every table under a local directory (a new Lance version is a new manifest); `None`
    /// for object stores.
    fn change_marker(&self) -> Option<String> {
        if is_remote(&self.target) {
            return None;
        }
        crate::engine::store::common::table_logs_marker(
            Path::new(&self.target),
            ".lance",
            "_versions",
        )
    }
    fn location(&self) -> String {
        sanitize_uri(&self.uri)
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        key.table_name()
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn resolved_from(&self, _key: &FeatureKey) -> ResolvedFrom {
        ResolvedFrom {
            name: self.name.clone(),
            type_path: self.class_path().to_string(),
            display: self.display(),
            table_name: None,
            uri: None,
            identifier: None,
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.list_tables()?.contains(&key.table_name()))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        block_on(self.table_names())
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
        block_on(self.read_table(key, feature_version, columns, None)).map(|(df, _)| Some(df))
    }
    /// The ids pushed into the scan as a Lance SQL filter ([`LanceStore::scan_ids_async`]).
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
                table: format!("{}.lance", key.table_name()),
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
}

/// Casts a batch to an existing Lance table's schema (columns by name; missing ones as nulls). Columns the table
/// lacks are refused: Lance's `add` does not evolve the schema.
/// A SQL predicate in Lance's dialect, as lancedb's `Table::delete` canonicalizes it before Lance parses it
/// (lancedb's `canonicalize_sql_predicate`, which is not public): SQL-standard double-quoted identifiers become
/// backtick-quoted ones (`"a b"` → `` `a b` ``; a doubled `""` inside is one `"`, a backtick inside is doubled);
/// string literals, backtick identifiers and comments are kept verbatim, as is an unterminated quote (Lance then
/// reports the parse error).
fn lance_sql_predicate(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 2);
    let mut i = 0;
    // index just past the quoted run starting at `start` (closing `q`, doubled `qq` escapes), or `None`
    let close = |start: usize, q: char| -> Option<usize> {
        let mut j = start + 1;
        while j < chars.len() {
            if chars[j] == q {
                if chars.get(j + 1) == Some(&q) {
                    j += 2;
                    continue;
                }
                return Some(j + 1);
            }
            j += 1;
        }
        None
    };
    while i < chars.len() {
        let c = chars[i];
        let verbatim_to = match c {
            '\'' | '`' => Some(close(i, c).unwrap_or(chars.len())),
            '-' if chars.get(i + 1) == Some(&'-') => Some(
                (i..chars.len())
                    .find(|&j| chars[j] == '\n')
                    .map_or(chars.len(), |j| j + 1),
            ),
            '/' if chars.get(i + 1) == Some(&'*') => Some(
                (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .map_or(chars.len(), |j| j + 2),
            ),
            '"' => match close(i, '"') {
                Some(end) => {
                    let ident: String = chars[i + 1..end - 1].iter().collect();
                    out.push('`');
                    out.push_str(&ident.replace("\"\"", "\"").replace('`', "``"));
                    out.push('`');
                    i = end;
                    continue;
                }
                None => Some(chars.len()),
            },
            _ => None,
        };
        match verbatim_to {
            Some(end) => {
                out.extend(&chars[i..end]);
                i = end;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn conform_to(
    batch: &arrow::array::RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
) -> std::result::Result<arrow::array::RecordBatch, String> {
    use arrow::array::{new_null_array, ArrayRef};
    use std::sync::Arc;
    let extra: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .filter(|f| schema.field_with_name(f.name()).is_err())
        .map(|f| f.name().clone())
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "the Lance table has no column(s) {}",
            extra.join(", ")
        ));
    }
    let mut cols: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let c = match batch.column_by_name(f.name()) {
            None => new_null_array(f.data_type(), batch.num_rows()),
            Some(c) if c.data_type() == f.data_type() => Arc::clone(c),
            Some(c)
                if matches!(
                    f.data_type(),
                    arrow::datatypes::DataType::List(_) | arrow::datatypes::DataType::LargeList(_)
                ) && matches!(c.data_type(), arrow::datatypes::DataType::Struct(_)) =>
            {
                // Map mode: the table stores polars-map's list of key/value structs, the engine a struct
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
        cols.push(c);
    }
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    arrow::array::RecordBatch::try_new_with_options(Arc::clone(schema), cols, &opts)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::lance_sql_predicate as p;

    #[test]
    fn predicates_get_lance_identifier_quotes_like_lancedb_gives_them() {
        assert_eq!(p("sample_uid = 's1'"), "sample_uid = 's1'");
        assert_eq!(p(r#""sample_uid" = 's1'"#), "`sample_uid` = 's1'");
        assert_eq!(p(r#""a ""b"" c" > 1"#), r#"`a "b" c` > 1"#);
        assert_eq!(p(r#""we`ird" IS NULL"#), "`we``ird` IS NULL");
        // string literals (with doubled quotes), backtick identifiers and comments are left alone
        assert_eq!(
            p(r#"x = 'say "hi"' AND y = 'it''s'"#),
            r#"x = 'say "hi"' AND y = 'it''s'"#
        );
        assert_eq!(p(r#"`"q"` = 1"#), r#"`"q"` = 1"#);
        assert_eq!(
            p("a = 1 -- \"c\"\nAND \"b\" = 2"),
            "a = 1 -- \"c\"\nAND `b` = 2"
        );
        assert_eq!(p(r#"/* "c" */ "b" = 2"#), r#"/* "c" */ `b` = 2"#);
        // unterminated quotes stay as they are (Lance reports the parse error)
        assert_eq!(p(r#""open = 1"#), r#""open = 1"#);
        assert_eq!(p("x = 'open"), "x = 'open");
        assert_eq!(p("é = 'ü'"), "é = 'ü'");
    }
}
