//! Writes to a Delta table (Metaxy's `write_metadata` / `delete` on `DeltaMetadataStore`): appends, soft and hard
//! deletes, each one Delta commit, with the fault point `delta.before_commit` before it.

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::{DeltaTableBuilder, ObjectStore};
use polars::prelude::DataFrame;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::{df_to_record_batch, record_batches_to_df};
use crate::engine::keys::FeatureKey;
use crate::engine::store::delta::decode::{conform, decode_files};
use crate::engine::store::delta::{without_backtrace, DeltaStore};

impl DeltaStore {
    pub(super) fn write_err(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: self.feature_uri(key),
            message: without_backtrace(&m.to_string()),
        }
    }

    /// The bytes of one data file of a table.
    pub(super) async fn fetch_file(
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
    pub(super) async fn append_async(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
        use deltalake::kernel::{Action, MetadataExt as _, StructType};
        use deltalake::writer::{DeltaWriter, RecordBatchWriter};
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
        // the table's columns then the new ones, in Delta's types: the data files carry every column (a writer
        // made for the table's old schema drops the new columns' values)
        let merged: StructType = batch
            .schema()
            .try_into_kernel()
            .map_err(|e| self.write_err(key, e))?;
        let merged_arrow: arrow::datatypes::Schema = (&merged)
            .try_into_arrow()
            .map_err(|e: arrow::error::ArrowError| self.write_err(key, e))?;
        let merged_arrow: SchemaRef = Arc::new(merged_arrow);
        let batch = conform(&batch, &merged_arrow).map_err(|e| self.write_err(key, e))?;
        let mut writer = RecordBatchWriter::try_new(
            url.as_str(),
            Arc::clone(&merged_arrow),
            None,
            Some(self.options.clone()),
        )
        .map_err(|e| self.write_err(key, e))?;
        writer
            .write(batch)
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
        if merged_arrow.fields().len() != table_schema.fields().len() {
            let metadata = state
                .metadata()
                .clone()
                .with_schema(&merged)
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
    pub(super) async fn delete_async(
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
            let matched = crate::engine::store::filter::apply_filters(cand.collect()?, filters)?;
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

    /// Metaxy's `DeltaMetadataStore._drop_feature`: `DeltaTable.delete()` without a predicate, i.e. one `DELETE`
    /// commit removing every active data file (no file is read or rewritten); the table, its log and its schema
    /// stay, so the feature still exists with no rows. A table without data files gets no commit.
    pub(super) async fn drop_async(&self, key: &FeatureKey) -> Result<()> {
        use deltalake::kernel::transaction::CommitBuilder;
        use deltalake::kernel::Action;
        use deltalake::protocol::DeltaOperation;
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let actions: Vec<Action> = state
            .log_data()
            .into_iter()
            .map(|f| Action::Remove(f.remove_action(true)))
            .collect();
        if actions.is_empty() {
            return Ok(());
        }
        crate::engine::fault::point("delta.before_commit");
        CommitBuilder::default()
            .with_actions(actions)
            .build(
                Some(state),
                table.log_store(),
                DeltaOperation::Delete { predicate: None },
            )
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(())
    }
}

/// Prepares a batch for an append to an existing table: the table's columns cast to the table's types (string
/// flavours, timestamp zones), columns the batch lacks as nulls, and columns the table lacks appended as they are
/// (the writer merges them into the schema). A struct where the table has a map (Map mode) is refused.
pub(super) fn conform_for_append(
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
