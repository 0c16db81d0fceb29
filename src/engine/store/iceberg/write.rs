//! Writing an Iceberg table: appends (Metaxy `_write_feature`: create the table when missing, evolve the schema by
//! name, one append snapshot) and hard deletes (Metaxy `_delete_feature` = pyiceberg `Table.delete`: a
//! copy-on-write overwrite, no delete files). Every write is one new snapshot and one new metadata file, published
//! by a conditional swap of the catalog's `metadata_location` (a REST catalog: one conditional commit request): a kill
//! before the swap leaves only unreferenced files.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{
    DataType as ArrowDataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit,
};
use iceberg::spec::{
    DataFile, DataFileFormat, ListType, ManifestFile, ManifestListWriter, ManifestWriterBuilder,
    NestedField, NestedFieldRef, Operation, Schema as IcebergSchema, Snapshot, SnapshotReference,
    SnapshotRetention, StructType, Summary, Type,
};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{MetadataLocation, NamespaceIdent, TableCreation};
use polars::prelude::{col, lit, DataFrame, IntoLazy};

use super::read::{conform, conform_array, engine_schema, live_files, LiveFile};
use super::IcebergStore;
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::{df_to_record_batch, record_batches_to_df};
use crate::engine::keys::FeatureKey;

/// An Arrow type Iceberg can store, for a column of the engine's frames: strings as `LargeUtf8` (pyiceberg's
/// `large_string`), unsigned and small integers widened, timestamps in microseconds (with zone: UTC), the null type
/// as strings; structs and lists element-wise.
fn storable(dt: &ArrowDataType) -> ArrowDataType {
    use ArrowDataType as D;
    match dt {
        D::Utf8 | D::Utf8View | D::LargeUtf8 | D::Null => D::LargeUtf8,
        D::Int8 | D::Int16 | D::UInt8 | D::UInt16 => D::Int32,
        D::UInt32 | D::UInt64 => D::Int64,
        D::Float16 => D::Float32,
        D::Timestamp(_, tz) => {
            D::Timestamp(TimeUnit::Microsecond, tz.as_ref().map(|_| "UTC".into()))
        }
        D::Date64 => D::Date32,
        D::Binary | D::BinaryView | D::LargeBinary => D::LargeBinary,
        D::Struct(fs) => D::Struct(
            fs.iter()
                .map(|f| Arc::new(Field::new(f.name(), storable(f.data_type()), true)))
                .collect::<Vec<_>>()
                .into(),
        ),
        D::List(f) | D::LargeList(f) | D::ListView(f) | D::LargeListView(f) => D::List(Arc::new(
            Field::new(f.name(), storable(f.data_type()), true),
        )),
        o => o.clone(),
    }
}

/// The Iceberg field of an Arrow field, every field optional, ids taken from `next_id`.
fn iceberg_field(
    name: &str,
    dt: &ArrowDataType,
    next_id: &mut i32,
) -> iceberg::Result<NestedFieldRef> {
    *next_id += 1;
    let id = *next_id;
    let ty = iceberg_type(dt, next_id)?;
    Ok(Arc::new(NestedField::optional(id, name, ty)))
}

fn iceberg_type(dt: &ArrowDataType, next_id: &mut i32) -> iceberg::Result<Type> {
    Ok(match dt {
        ArrowDataType::Struct(fs) => {
            let mut members = vec![];
            for f in fs {
                members.push(iceberg_field(f.name(), f.data_type(), next_id)?);
            }
            Type::Struct(StructType::new(members))
        }
        ArrowDataType::List(f) | ArrowDataType::LargeList(f) => {
            *next_id += 1;
            let id = *next_id;
            let element = iceberg_type(f.data_type(), next_id)?;
            Type::List(ListType::new(Arc::new(NestedField::list_element(
                id, element, false,
            ))))
        }
        other => iceberg::arrow::arrow_type_to_type(other)?,
    })
}

/// `batch` with every column [`storable`] (cast; structs member-wise).
fn storable_batch(
    batch: &RecordBatch,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), storable(f.data_type()), true))
        .collect();
    let schema: SchemaRef = Arc::new(ArrowSchema::new(fields));
    conform(batch, &schema)
}

/// The members of struct columns of `batch` that the table's struct lacks (nested schema evolution is refused).
fn missing_struct_members(batch: &RecordBatch, table: &ArrowSchema) -> Vec<String> {
    let mut out = vec![];
    for f in batch.schema().fields() {
        if let (ArrowDataType::Struct(have), Ok(t)) =
            (f.data_type(), table.field_with_name(f.name()))
        {
            if let ArrowDataType::Struct(want) = t.data_type() {
                for m in have {
                    if !want.iter().any(|w| w.name() == m.name()) {
                        out.push(format!("{}.{}", f.name(), m.name()));
                    }
                }
            }
        }
    }
    out
}

/// What one commit changes: data files added (written by this commit) and live files removed.
struct Change {
    added: Vec<DataFile>,
    removed: Vec<LiveFile>,
    /// The table schema after the commit, when it grew.
    new_schema: Option<IcebergSchema>,
    operation: Operation,
}

impl IcebergStore {
    /// One append snapshot (Metaxy's `_write_feature`), creating the namespace and table when missing and adding
    /// the frame's new columns to the schema (by name, as pyiceberg's `union_by_name`).
    pub(super) async fn append_async(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let batch =
            storable_batch(&df_to_record_batch(df)?).map_err(|e| self.schema_err(key, e))?;
        let table = match self.load(key).await? {
            Some(t) => t,
            None => self.create_table(key, &batch.schema()).await?,
        };
        let md = table.metadata();
        let current = md.current_schema().clone();
        let mut next_id = md.last_column_id().max(current.highest_field_id());
        let mut new_fields = vec![];
        for f in batch.schema().fields() {
            if current.field_by_name(f.name()).is_none() {
                new_fields.push(
                    iceberg_field(f.name(), f.data_type(), &mut next_id)
                        .map_err(|e| self.schema_err(key, e))?,
                );
            }
        }
        let new_schema = if new_fields.is_empty() {
            None
        } else {
            let mut fields: Vec<NestedFieldRef> = current.as_struct().fields().to_vec();
            fields.extend(new_fields);
            Some(
                IcebergSchema::builder()
                    .with_schema_id(md.schemas_iter().map(|s| s.schema_id()).max().unwrap_or(0) + 1)
                    .with_fields(fields)
                    .build()
                    .map_err(|e| self.schema_err(key, e))?,
            )
        };
        let target = new_schema.as_ref().unwrap_or(current.as_ref());
        let arrow_target = Arc::new(
            iceberg::arrow::schema_to_arrow_schema(target).map_err(|e| self.schema_err(key, e))?,
        );
        let missing = missing_struct_members(&batch, &arrow_target);
        if !missing.is_empty() {
            return Err(self.schema_err(
                key,
                format!("the table's struct columns lack {}", missing.join(", ")),
            ));
        }
        let batch = conform(&batch, &arrow_target).map_err(|e| self.schema_err(key, e))?;
        let added = self.write_data_files(key, &table, target, &[batch]).await?;
        self.commit(
            key,
            &table,
            Change {
                added,
                removed: vec![],
                new_schema,
                operation: Operation::Append,
            },
        )
        .await
    }

    fn schema_err(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::Schema {
            feature: key.to_string(),
            message: super::one_line(&m.to_string()),
        }
    }

    /// Creates `key`'s table (and the namespace, as Metaxy's `auto_create_namespace`) with the columns of `schema`.
    async fn create_table(&self, key: &FeatureKey, schema: &ArrowSchema) -> Result<Table> {
        let cat = self
            .catalog(true)
            .await?
            .ok_or_else(|| self.write_err(key, "the catalog cannot be created"))?;
        let ns = NamespaceIdent::new(self.namespace.clone());
        if !cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| self.write_err(key, e))?
        {
            cat.create_namespace(&ns, HashMap::new())
                .await
                .map_err(|e| self.write_err(key, e))?;
        }
        let mut next_id = 0;
        let mut fields = vec![];
        for f in schema.fields() {
            fields.push(
                iceberg_field(f.name(), f.data_type(), &mut next_id)
                    .map_err(|e| self.schema_err(key, e))?,
            );
        }
        let ischema = IcebergSchema::builder()
            .with_fields(fields)
            .build()
            .map_err(|e| self.schema_err(key, e))?;
        let creation = TableCreation::builder()
            .name(key.table_name())
            .schema(ischema)
            .build();
        cat.create_table(&ns, creation)
            .await
            .map_err(|e| self.write_err(key, e))
    }

    /// Writes `batches` (conformed to `schema`) as Parquet data files of `table` (`data/00000-<n>-<uuid>.parquet`).
    async fn write_data_files(
        &self,
        key: &FeatureKey,
        table: &Table,
        schema: &IcebergSchema,
        batches: &[RecordBatch],
    ) -> Result<Vec<DataFile>> {
        let werr = |e: iceberg::Error| self.write_err(key, e);
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(vec![]);
        }
        let parquet = ParquetWriterBuilder::new(
            parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build(),
            Arc::new(schema.clone()),
        );
        let location = DefaultLocationGenerator::new(table.metadata()).map_err(werr)?;
        let names = DefaultFileNameGenerator::new(
            format!("00000-{}", uuid_v4()),
            None,
            DataFileFormat::Parquet,
        );
        let rolling = RollingFileWriterBuilder::new_with_default_file_size(
            parquet,
            table.file_io().clone(),
            location,
            names,
        );
        let mut writer = DataFileWriterBuilder::new(rolling)
            .build(None)
            .await
            .map_err(werr)?;
        for b in batches {
            if b.num_rows() > 0 {
                writer.write(b.clone()).await.map_err(werr)?;
            }
        }
        writer.close().await.map_err(werr)
    }

    /// Publishes `change` as one new snapshot of `table`: a manifest of the added files, the manifests holding
    /// removed files rewritten (their other files kept as existing), the rest carried over; then the manifest list
    /// and [`Self::publish`].
    async fn commit(&self, key: &FeatureKey, table: &Table, change: Change) -> Result<()> {
        let werr = |e: iceberg::Error| self.write_err(key, e);
        let md = table.metadata();
        let io = table.file_io();
        let snapshot_id = new_snapshot_id(md);
        let seq = md.next_sequence_number();
        let schema = Arc::new(
            change
                .new_schema
                .clone()
                .unwrap_or_else(|| (**md.current_schema()).clone()),
        );
        let spec = (**md.default_partition_spec()).clone();
        let meta_dir = format!("{}/metadata", md.location().trim_end_matches('/'));
        let commit_uuid = uuid_v4();
        let (manifests, live) = live_files(table).await.map_err(werr)?;
        let removed: HashSet<&str> = change
            .removed
            .iter()
            .map(|f| f.data_file.file_path())
            .collect();
        let mut out: Vec<ManifestFile> = vec![];
        let mut n = 0;
        let new_manifest = |n: &mut usize| -> iceberg::Result<ManifestWriterBuilder> {
            let path = format!("{meta_dir}/{commit_uuid}-m{n}.avro");
            *n += 1;
            Ok(ManifestWriterBuilder::new(
                io.new_output(path)?,
                Some(snapshot_id),
                schema.clone(),
                spec.clone(),
            ))
        };
        if !change.added.is_empty() {
            let mut w = new_manifest(&mut n).map_err(werr)?.build_v2_data();
            for f in &change.added {
                w.add_file(f.clone(), seq).map_err(werr)?;
            }
            out.push(w.write_manifest_file().await.map_err(werr)?);
        }
        for (i, m) in manifests.iter().enumerate() {
            let files: Vec<&LiveFile> = live.iter().filter(|f| f.manifest == i).collect();
            if !files
                .iter()
                .any(|f| removed.contains(f.data_file.file_path()))
            {
                out.push(m.clone());
                continue;
            }
            let mut w = new_manifest(&mut n).map_err(werr)?.build_v2_data();
            for f in files {
                let r = if removed.contains(f.data_file.file_path()) {
                    w.add_delete_file(
                        f.data_file.clone(),
                        f.sequence_number,
                        f.file_sequence_number,
                    )
                } else {
                    w.add_existing_file(
                        f.data_file.clone(),
                        f.snapshot_id,
                        f.sequence_number,
                        f.file_sequence_number,
                    )
                };
                r.map_err(werr)?;
            }
            out.push(w.write_manifest_file().await.map_err(werr)?);
        }
        let list_path = format!("{meta_dir}/snap-{snapshot_id}-0-{commit_uuid}.avro");
        let parent = md.current_snapshot().map(|s| s.snapshot_id());
        let mut list = ManifestListWriter::v2(
            io.new_output(&list_path)
                .map_err(werr)?
                .writer()
                .await
                .map_err(werr)?,
            snapshot_id,
            parent,
            seq,
        );
        list.add_manifests(out.into_iter()).map_err(werr)?;
        list.close().await.map_err(werr)?;
        let additional_properties = summary_props(&change, &live);
        let summary = Summary {
            operation: change.operation,
            additional_properties,
        };
        let snapshot = Snapshot::builder()
            .with_snapshot_id(snapshot_id)
            .with_parent_snapshot_id(parent)
            .with_sequence_number(seq)
            .with_timestamp_ms(
                chrono::Utc::now()
                    .timestamp_millis()
                    .max(md.last_updated_ms()),
            )
            .with_manifest_list(list_path)
            .with_summary(summary)
            .with_schema_id(schema.schema_id())
            .build();
        self.publish(key, table, change.new_schema, snapshot).await
    }

    /// Publishes the new `snapshot` of `table` (and its grown schema): through a REST catalog one commit request
    /// ([`super::rest::snapshot_commit`]); through the SQL catalog the new metadata file, then the conditional swap
    /// of `metadata_location`.
    async fn publish(
        &self,
        key: &FeatureKey,
        table: &Table,
        new_schema: Option<IcebergSchema>,
        snapshot: Snapshot,
    ) -> Result<()> {
        let werr = |e: iceberg::Error| self.write_err(key, e);
        let md = table.metadata();
        let parent = md.current_snapshot().map(|s| s.snapshot_id());
        let snapshot_id = snapshot.snapshot_id();
        let sql = match &self.catalog {
            super::CatalogSpec::Rest(rest) => {
                let (requirements, updates) =
                    super::rest::snapshot_commit(md, new_schema, snapshot, parent);
                crate::engine::fault::point("iceberg.before_commit");
                let applied = rest
                    .commit(&self.table_ident(key), requirements, updates)
                    .await
                    .map_err(|m| self.write_err(key, m))?;
                return self.committed(key, applied);
            }
            super::CatalogSpec::Sql(sql) => sql,
        };
        let old_location = table
            .metadata_location()
            .ok_or_else(|| self.write_err(key, "the table has no metadata location"))?
            .to_string();
        let mut builder = md.clone().into_builder(Some(old_location.clone()));
        if let Some(s) = new_schema {
            builder = builder.add_current_schema(s).map_err(werr)?;
        }
        let new_md = builder
            .add_snapshot(snapshot)
            .and_then(|b| {
                b.set_ref(
                    "main",
                    SnapshotReference::new(
                        snapshot_id,
                        SnapshotRetention::branch(None, None, None),
                    ),
                )
            })
            .and_then(|b| b.build())
            .map_err(werr)?
            .metadata;
        let loc = MetadataLocation::from_str(&old_location)
            .map_err(werr)?
            .with_next_version()
            .with_new_metadata(&new_md);
        new_md.write_to(table.file_io(), &loc).await.map_err(werr)?;
        crate::engine::fault::point("iceberg.before_commit");
        let swapped = sql
            .swap_metadata_location(
                &self.namespace,
                &key.table_name(),
                &old_location,
                &loc.to_string(),
            )
            .await
            .map_err(|m| self.write_err(key, m))?;
        self.committed(key, swapped)
    }

    /// `Ok` when the commit was applied, else the one-line "another writer committed first" error.
    fn committed(&self, key: &FeatureKey, applied: bool) -> Result<()> {
        if !applied {
            return Err(self.write_err(
                key,
                "another writer committed to the table since it was read; nothing was written, retry",
            ));
        }
        Ok(())
    }

    /// Hard delete (Metaxy `_delete_feature`): every data file holding a matching row is replaced by a rewrite of
    /// its other rows, in one overwrite snapshot (a delete snapshot when no row is left). Returns the rows deleted.
    pub(super) async fn delete_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let Some(table) = self.load(key).await? else {
            return Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table: self.identifier(key),
            });
        };
        let ischema = table.metadata().current_schema().clone();
        let full: SchemaRef = Arc::new(
            iceberg::arrow::schema_to_arrow_schema(&ischema).map_err(|e| self.corrupt(key, e))?,
        );
        let engine = engine_schema(&full);
        let (_, files) = live_files(&table).await.map_err(|e| self.corrupt(key, e))?;
        let mut kept: Vec<RecordBatch> = vec![];
        let mut removed: Vec<LiveFile> = vec![];
        let mut deleted = 0usize;
        for f in files {
            let batch = self.read_file(key, &table, &f, &full).await?;
            let df = record_batches_to_df(&engine, &[conform(&batch, &engine)?])?
                .with_row_index("__mx_idx".into(), None)?;
            let mut cand = df.lazy();
            if let Some(v) = feature_version {
                cand =
                    cand.filter(col(crate::engine::schema::FEATURE_VERSION).eq(lit(v.to_string())));
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
            let rest = arrow::compute::filter_record_batch(
                &batch,
                &arrow::array::BooleanArray::from(keep),
            )?;
            if rest.num_rows() > 0 {
                kept.push(rest);
            }
            removed.push(f);
        }
        if deleted == 0 {
            return Ok(0);
        }
        let added = self.write_data_files(key, &table, &ischema, &kept).await?;
        let operation = if added.is_empty() {
            Operation::Delete
        } else {
            Operation::Overwrite
        };
        self.commit(
            key,
            &table,
            Change {
                added,
                removed,
                new_schema: None,
                operation,
            },
        )
        .await?;
        Ok(deleted)
    }

    /// Every row of one data file, conformed to the table's Arrow schema `full` (Iceberg types, field ids).
    async fn read_file(
        &self,
        key: &FeatureKey,
        table: &Table,
        f: &LiveFile,
        full: &SchemaRef,
    ) -> Result<RecordBatch> {
        let ischema = table.metadata().current_schema().clone();
        let ids: Vec<i32> = ischema.as_struct().fields().iter().map(|f| f.id).collect();
        let task = iceberg::scan::FileScanTask {
            file_size_in_bytes: f.data_file.file_size_in_bytes(),
            start: 0,
            length: f.data_file.file_size_in_bytes(),
            record_count: Some(f.data_file.record_count()),
            data_file_path: f.data_file.file_path().to_string(),
            data_file_format: f.data_file.file_format(),
            schema: ischema,
            project_field_ids: ids,
            predicate: None,
            deletes: vec![],
            partition: None,
            partition_spec: None,
            name_mapping: None,
            case_sensitive: true,
        };
        let runtime = iceberg::Runtime::try_current().map_err(|e| self.corrupt(key, e))?;
        let batches: Vec<RecordBatch> = {
            use futures::TryStreamExt;
            iceberg::arrow::ArrowReaderBuilder::new(table.file_io().clone(), runtime)
                .with_data_file_concurrency_limit(1)
                .build()
                .read(Box::pin(futures::stream::iter([Ok(task)])))
                .map_err(|e| self.corrupt(key, e))?
                .stream()
                .try_collect()
                .await
                .map_err(|e| self.corrupt(key, e))?
        };
        let mut out = vec![];
        for b in batches {
            let cols: std::result::Result<Vec<ArrayRef>, _> = full
                .fields()
                .iter()
                .map(|fl| match b.column_by_name(fl.name()) {
                    None => Ok(arrow::array::new_null_array(fl.data_type(), b.num_rows())),
                    Some(c) => conform_array(c, fl.data_type()),
                })
                .collect();
            let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
            out.push(RecordBatch::try_new_with_options(
                Arc::clone(full),
                cols?,
                &opts,
            )?);
        }
        Ok(arrow::compute::concat_batches(full, &out)?)
    }
}

/// Snapshot summary counts (`added-*`, `deleted-*`, and the `total-*` of the new snapshot, from `live`: the live
/// files before the commit), as pyiceberg's summaries (its next commit adds to these totals).
fn summary_props(c: &Change, live: &[LiveFile]) -> HashMap<String, String> {
    let mut p = HashMap::new();
    let removed: HashSet<&str> = c.removed.iter().map(|f| f.data_file.file_path()).collect();
    let after = live
        .iter()
        .map(|f| &f.data_file)
        .filter(|f| !removed.contains(f.file_path()))
        .chain(c.added.iter());
    let (mut files, mut records, mut size) = (0u64, 0u64, 0u64);
    for f in after {
        files += 1;
        records += f.record_count();
        size += f.file_size_in_bytes();
    }
    for (k, v) in [
        ("total-data-files", files),
        ("total-records", records),
        ("total-files-size", size),
        ("total-delete-files", 0),
        ("total-position-deletes", 0),
        ("total-equality-deletes", 0),
    ] {
        p.insert(k.to_string(), v.to_string());
    }
    if !c.added.is_empty() {
        let rows: u64 = c.added.iter().map(|f| f.record_count()).sum();
        p.insert("added-data-files".into(), c.added.len().to_string());
        p.insert("added-records".into(), rows.to_string());
    }
    if !c.removed.is_empty() {
        let rows: u64 = c.removed.iter().map(|f| f.data_file.record_count()).sum();
        p.insert("deleted-data-files".into(), c.removed.len().to_string());
        p.insert("deleted-records".into(), rows.to_string());
    }
    p
}

/// A positive snapshot id not used by the table yet (from a UUID's bits, as the crate's own snapshot ids).
fn new_snapshot_id(md: &iceberg::spec::TableMetadata) -> i64 {
    loop {
        let (hi, lo) = uuid::Uuid::now_v7().as_u64_pair();
        let id = ((hi ^ lo) & (i64::MAX as u64)) as i64;
        if id != 0 && md.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// A new UUID in its text form (file names of one commit).
fn uuid_v4() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
    use crate::engine::rt::block_on;
    use crate::engine::store::api::{Columns, MetadataStore};
    use polars::prelude::*;

    fn store(dir: &std::path::Path) -> IcebergStore {
        let mut config = serde_json::Map::new();
        config.insert("warehouse".into(), serde_json::Value::String("wh".into()));
        let cfg = StoreConfig {
            name: "dev".into(),
            type_path: super::super::CLASS_PATH.into(),
            kind: StoreKind::Iceberg,
            deprecated_type: false,
            config,
            hash_algorithm: HashAlgorithm::Xxhash32,
            fallback_stores: vec![],
            map_datatype: false,
        };
        IcebergStore::open(&cfg, dir).unwrap()
    }

    fn rows(ids: &[&str], version: &str) -> DataFrame {
        df!(
            "sample_uid" => ids,
            "metaxy_feature_version" => vec![version; ids.len()],
            "n" => (0..ids.len() as u32).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn appends_evolve_deletes_and_refuses_a_stale_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let key = FeatureKey::parse("t/x").unwrap();
        assert!(!s.has_feature(&key).unwrap());
        s.append(&key, &rows(&["a", "b"], "v1")).unwrap();
        assert!(tmp.path().join("wh/catalog.db").is_file());
        assert!(tmp.path().join("wh/metaxy/t__x/metadata").is_dir());
        // a new column is added to the schema; older rows read it as null
        let more = rows(&["c"], "v2")
            .lazy()
            .with_column(lit("extra").alias("note"))
            .collect()
            .unwrap();
        s.append(&key, &more).unwrap();
        let all = s.scan(&key, None, &Columns::All).unwrap().unwrap();
        assert_eq!(all.height(), 3);
        assert_eq!(all.column("note").unwrap().null_count(), 2);
        // append order is kept; the version predicate prunes
        let ids: Vec<String> = all
            .column("sample_uid")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let v2 = s
            .scan(&key, Some("v2"), &Columns::Only(vec!["sample_uid".into()]))
            .unwrap()
            .unwrap();
        assert_eq!((v2.height(), v2.width()), (1, 1));
        // a commit prepared on a table state another writer has moved on from is refused
        let stale = block_on(s.load(&key)).unwrap().unwrap();
        s.append(&key, &rows(&["d"], "v1")).unwrap();
        let err = block_on(s.commit(
            &key,
            &stale,
            Change {
                added: vec![],
                removed: vec![],
                new_schema: None,
                operation: Operation::Append,
            },
        ))
        .unwrap_err();
        assert!(err.to_string().contains("another writer"), "{err}");
        // every commit wrote a new metadata file (none rewritten in place)
        let metadata = std::fs::read_dir(tmp.path().join("wh/metaxy/t__x/metadata"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".metadata.json")
            })
            .count();
        assert_eq!(
            metadata, 5,
            "create + 3 appends + the refused commit's unpublished file"
        );
        // hard delete: copy-on-write, only matching rows go
        let n = s
            .delete_rows(&key, Some("v1"), &["sample_uid IN ('a', 'd')".to_string()])
            .unwrap();
        assert_eq!(n, 2);
        let left = s.scan(&key, None, &Columns::All).unwrap().unwrap();
        assert_eq!(left.height(), 2);
        assert_eq!(s.list_tables().unwrap(), ["t__x"]);
    }
}
