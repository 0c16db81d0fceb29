//! Reading an Iceberg table: the live data files of the current snapshot in append order, pruned by the
//! feature-version column's bounds, decoded by the crate's Arrow reader with projection and the version predicate.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType as ArrowDataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use iceberg::expr::{Bind, Reference};
use iceberg::spec::{DataContentType, DataFile, Datum, ManifestList, PrimitiveLiteral};
use iceberg::table::Table;
use polars::prelude::DataFrame;

use super::IcebergStore;
use crate::engine::error::Result;
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::schema::FEATURE_VERSION;
use crate::engine::store::api::Columns;
use crate::engine::store::filter::IdScanStats;

/// One live data file of a snapshot with where it came from: its data sequence number and file sequence number
/// and the snapshot that added it (kept when a manifest is rewritten).
#[derive(Debug, Clone)]
pub(super) struct LiveFile {
    pub data_file: DataFile,
    pub snapshot_id: i64,
    pub sequence_number: i64,
    pub file_sequence_number: Option<i64>,
    /// Index of the manifest (in the manifest list) holding the file.
    pub manifest: usize,
}

/// The manifests of `table`'s current snapshot and its live data files in append order (data sequence number,
/// then manifest and entry order); empty when the table has no snapshot.
pub(super) async fn live_files(
    table: &Table,
) -> iceberg::Result<(Vec<iceberg::spec::ManifestFile>, Vec<LiveFile>)> {
    let md = table.metadata();
    let Some(snap) = md.current_snapshot() else {
        return Ok((vec![], vec![]));
    };
    let bytes = table
        .file_io()
        .new_input(snap.manifest_list())?
        .read()
        .await?;
    let list = ManifestList::parse_with_version(&bytes, md.format_version())?;
    let manifests: Vec<_> = list.entries().to_vec();
    let loaded = futures::future::try_join_all(
        manifests
            .iter()
            .map(|m| async move { m.load_manifest(table.file_io()).await }),
    )
    .await?;
    let mut out = vec![];
    for (i, (mf, m)) in manifests.iter().zip(loaded).enumerate() {
        for e in m.entries() {
            if !e.is_alive() || e.content_type() != DataContentType::Data {
                continue;
            }
            out.push(LiveFile {
                data_file: e.data_file().clone(),
                snapshot_id: e.snapshot_id().unwrap_or(mf.added_snapshot_id),
                sequence_number: e.sequence_number().unwrap_or(mf.sequence_number),
                file_sequence_number: e.file_sequence_number,
                manifest: i,
            });
        }
    }
    // stable: equal sequence numbers keep manifest and entry order
    out.sort_by_key(|f| f.sequence_number);
    Ok((manifests, out))
}

/// `false` only when the file's bounds of the feature-version column prove it holds no row of `version` (bounds
/// may be truncated prefixes: anything uncertain keeps the file; the reader filters rows anyway).
fn may_hold_version(f: &DataFile, field_id: Option<i32>, version: Option<&str>) -> bool {
    let (Some(id), Some(v)) = (field_id, version) else {
        return true;
    };
    let s = |d: Option<&Datum>| match d.map(Datum::literal) {
        Some(PrimitiveLiteral::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (Some(lo), Some(hi)) = (s(f.lower_bounds().get(&id)), s(f.upper_bounds().get(&id))) else {
        return true;
    };
    if f.null_value_counts().get(&id).copied().unwrap_or(1) > 0 {
        return true;
    }
    lo != hi || v == lo || v.starts_with(&lo)
}

/// The Arrow schema the engine gets for an Iceberg schema: timestamps with zone as `UTC` (Iceberg's `+00:00`),
/// field-id metadata dropped.
pub(super) fn engine_schema(schema: &Schema) -> SchemaRef {
    fn conv(dt: &ArrowDataType) -> ArrowDataType {
        match dt {
            ArrowDataType::Timestamp(u, Some(_)) => {
                ArrowDataType::Timestamp(*u, Some("UTC".into()))
            }
            ArrowDataType::Struct(fs) => ArrowDataType::Struct(
                fs.iter()
                    .map(|f| Arc::new(plain(f)))
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ArrowDataType::List(f) => ArrowDataType::List(Arc::new(plain(f))),
            ArrowDataType::LargeList(f) => ArrowDataType::LargeList(Arc::new(plain(f))),
            o => o.clone(),
        }
    }
    fn plain(f: &Field) -> Field {
        Field::new(f.name(), conv(f.data_type()), f.is_nullable())
    }
    Arc::new(Schema::new(
        schema.fields().iter().map(|f| plain(f)).collect::<Vec<_>>(),
    ))
}

/// `batch` conformed to `schema` by name (a missing column all null, another type cast, structs member-wise).
pub(super) fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        cols.push(match batch.column_by_name(f.name()) {
            None => arrow::array::new_null_array(f.data_type(), batch.num_rows()),
            Some(c) => conform_array(c, f.data_type())?,
        });
    }
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), cols, &opts)
}

/// `a` as type `to`: structs member by member (by name; missing members null), anything else cast.
pub(super) fn conform_array(
    a: &ArrayRef,
    to: &ArrowDataType,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    if a.data_type() == to {
        return Ok(Arc::clone(a));
    }
    if let (ArrowDataType::Struct(_), ArrowDataType::Struct(fields)) = (a.data_type(), to) {
        use arrow::array::{Array, StructArray};
        let s = a
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| arrow::error::ArrowError::CastError("not a struct".into()))?;
        let mut children = vec![];
        for f in fields {
            children.push(match s.column_by_name(f.name()) {
                None => arrow::array::new_null_array(f.data_type(), s.len()),
                Some(c) => conform_array(c, f.data_type())?,
            });
        }
        return Ok(Arc::new(StructArray::try_new(
            fields.clone(),
            children,
            s.nulls().cloned(),
        )?));
    }
    arrow::compute::cast(a, to)
}

/// An id filter pushed into an Iceberg read ([`IcebergStore::read_pushed`]): its predicate on the id columns
/// (unbound) and the data files the crate's scan planning keeps for it (pruned by the files' column bounds).
pub(super) struct IdPushdown {
    /// The predicate every returned row satisfies (row groups pruned by it, rows filtered by it in the reader).
    pub predicate: iceberg::expr::Predicate,
    /// Paths of the data files that may hold a matching row.
    pub files: std::collections::HashSet<String>,
}

impl IcebergStore {
    /// The rows of `table` that may hold `feature_version` (callers re-apply the filter), with the columns
    /// `columns` selects, in append order.
    pub(super) async fn read_table(
        &self,
        key: &FeatureKey,
        table: &Table,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<DataFrame> {
        Ok(self
            .read_pushed(key, table, feature_version, columns, None)
            .await?
            .0)
    }

    /// [`IcebergStore::read_table`] restricted by `ids` when given: only its data files are read and only the rows
    /// satisfying its predicate are returned (append order kept). Also what the read read.
    pub(super) async fn read_pushed(
        &self,
        key: &FeatureKey,
        table: &Table,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: Option<&IdPushdown>,
    ) -> Result<(DataFrame, IdScanStats)> {
        let plan = self.plan_read(key, table, feature_version, ids).await?;
        let mut stats = plan.stats;
        let out_schema = columns.project_schema(&plan.schema);
        let all: Vec<usize> = (0..plan.files.len()).collect();
        let per_file = self.read_files(key, &plan, &all, &out_schema).await?;
        let batches: Vec<RecordBatch> = per_file.into_iter().flatten().collect();
        stats.rows_returned = batches.iter().map(RecordBatch::num_rows).sum();
        Ok((record_batches_to_df(&out_schema, &batches)?, stats))
    }

    /// What a read of `table` reads ([`ReadPlan`]): its live data files in append order that may hold
    /// `feature_version` (and, with `ids`, the ids), and the predicate rows are filtered by in the reader.
    /// Errors: [`crate::engine::error::EngineError::CorruptTable`] for metadata the crate cannot read.
    pub(super) async fn plan_read(
        &self,
        key: &FeatureKey,
        table: &Table,
        feature_version: Option<&str>,
        ids: Option<&IdPushdown>,
    ) -> Result<ReadPlan> {
        let mut stats = IdScanStats::default();
        let ischema = table.metadata().current_schema().clone();
        let full =
            iceberg::arrow::schema_to_arrow_schema(&ischema).map_err(|e| self.corrupt(key, e))?;
        let (_, files) = live_files(table).await.map_err(|e| self.corrupt(key, e))?;
        let fv_id = ischema.field_id_by_name(FEATURE_VERSION);
        let files: Vec<LiveFile> = files
            .into_iter()
            .filter(|f| may_hold_version(&f.data_file, fv_id, feature_version))
            .filter(|f| {
                stats.files += 1;
                ids.is_none_or(|ids| ids.files.contains(f.data_file.file_path()))
            })
            .collect();
        stats.files_read = files.len();
        let version = match (feature_version, fv_id) {
            (Some(v), Some(_)) => Some(Reference::new(FEATURE_VERSION).equal_to(Datum::string(v))),
            _ => None,
        };
        let predicate = match (version, ids.map(|i| i.predicate.clone())) {
            (Some(v), Some(i)) => Some(v.and(i)),
            (v, i) => v.or(i),
        };
        let predicate = predicate
            .map(|p| p.bind(ischema.clone(), true))
            .transpose()
            .map_err(|e| self.corrupt(key, e))?;
        Ok(ReadPlan {
            schema: engine_schema(&full),
            ischema,
            files,
            predicate,
            stats,
            file_io: table.file_io().clone(),
        })
    }

    /// The rows of the files `which` (indices into `plan.files`) that pass the plan's predicate, with the columns
    /// of `out_schema` (conformed to it), one list of batches per file in the order of `which`, each in the
    /// file's row order. Errors: [`crate::engine::error::EngineError::CorruptTable`] for a file the crate cannot
    /// read.
    pub(super) async fn read_files(
        &self,
        key: &FeatureKey,
        plan: &ReadPlan,
        which: &[usize],
        out_schema: &SchemaRef,
    ) -> Result<Vec<Vec<RecordBatch>>> {
        let project: Vec<i32> = out_schema
            .fields()
            .iter()
            .filter_map(|f| plan.ischema.field_id_by_name(f.name()))
            .collect();
        let runtime = iceberg::Runtime::try_current().map_err(|e| self.corrupt(key, e))?;
        let reader = iceberg::arrow::ArrowReaderBuilder::new(plan.file_io.clone(), runtime)
            .with_data_file_concurrency_limit(1)
            .build();
        let reads = which.iter().map(|&i| {
            let f = &plan.files[i];
            let task = iceberg::scan::FileScanTask {
                file_size_in_bytes: f.data_file.file_size_in_bytes(),
                start: 0,
                length: f.data_file.file_size_in_bytes(),
                record_count: Some(f.data_file.record_count()),
                data_file_path: f.data_file.file_path().to_string(),
                data_file_format: f.data_file.file_format(),
                schema: plan.ischema.clone(),
                project_field_ids: project.clone(),
                predicate: plan.predicate.clone(),
                deletes: vec![],
                partition: None,
                partition_spec: None,
                name_mapping: None,
                case_sensitive: true,
            };
            let reader = reader.clone();
            async move {
                let stream = reader
                    .read(Box::pin(futures::stream::iter([Ok(task)])))?
                    .stream();
                stream.try_collect::<Vec<RecordBatch>>().await
            }
        });
        let per_file = futures::future::try_join_all(reads)
            .await
            .map_err(|e| self.corrupt(key, e))?;
        per_file
            .into_iter()
            .map(|bs| {
                bs.iter()
                    .map(|b| conform(b, out_schema))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| self.corrupt(key, e))
            })
            .collect()
    }
}

/// What a read of an Iceberg table reads ([`IcebergStore::plan_read`]).
pub(super) struct ReadPlan {
    /// The table's columns as the engine gets them ([`engine_schema`]).
    pub schema: SchemaRef,
    /// The table's current Iceberg schema.
    pub ischema: iceberg::spec::SchemaRef,
    /// The live data files to read, in append order.
    pub files: Vec<LiveFile>,
    /// The predicate every returned row satisfies (the feature version, the ids), bound to `ischema`.
    pub predicate: Option<iceberg::expr::BoundPredicate>,
    /// The files planned (`files`, `files_read`); rows are counted by the reads.
    pub stats: IdScanStats,
    /// The table's file IO.
    pub file_io: iceberg::io::FileIO,
}
