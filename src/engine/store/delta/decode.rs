//! Decoding a Delta table's data files into arrow batches conformed to the table schema: one task per (file,
//! column), or per leaf of a flat struct column, over the available cores.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

/// Projects a batch read from one data file onto the table schema: columns by name, a null column where the file
/// predates a schema-merge that added it, and types cast to the table's (string flavours, timestamp zones).
/// `schema` with every top-level string column (and string members of structs) as `Utf8View`, the layout polars
/// uses, so that decoded strings move into polars without a copy. Map columns keep their types (the map-mode
/// conversion expects plain strings).
pub(super) fn string_views(schema: &SchemaRef) -> SchemaRef {
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

/// The reader metadata of one data file, strings read as views where the file's type allows it (the file's own
/// types otherwise). Errors: an unreadable footer.
pub(super) fn view_metadata(
    bytes: &bytes::Bytes,
) -> std::result::Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let meta = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new())?;
    let views = string_views(meta.schema());
    ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(views),
    )
    .or_else(|_| ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new()))
}

/// One leaf of a flat struct column: its child position and its arrays, one per row group.
type LeafArrays = (usize, Vec<ArrayRef>);

/// Decodes data files into batches conformed to `schema` (only its columns are decoded; a column a file lacks is
/// all null). One task per (file, column), or per leaf of a flat struct column (reassembled after), spread over
/// the available cores, widest first; each task decodes its column of a whole row group into one array (no small
/// batches). Also returns the rows of each file. Errors carry the file path.
pub(super) fn decode_files(
    files: &[(String, bytes::Bytes)],
    schema: &SchemaRef,
) -> std::result::Result<(Vec<RecordBatch>, Vec<usize>), (String, String)> {
    use parquet::arrow::ProjectionMask;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (metas, tasks) = plan_decode(files, schema)?;
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
    for ((fi, ci), leaves) in parts {
        by_file[fi][ci] = Some(join_leaves(&files[fi].0, leaves)?);
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
pub(super) fn decode_rows(
    path: &str,
    bytes: &bytes::Bytes,
    schema: &SchemaRef,
    rows: &[usize],
) -> std::result::Result<RecordBatch, String> {
    use parquet::arrow::arrow_reader::RowSelection;
    use parquet::arrow::ProjectionMask;
    let e = |e: parquet::errors::ParquetError| format!("{path}: {e}");
    let meta = view_metadata(bytes).map_err(e)?;
    let file_schema = meta.schema().clone();
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
pub(super) fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    conform_columns(schema, batch.num_rows(), |_, f| {
        batch.column_by_name(f.name())
    })
}

/// A batch of `schema` with `n` rows from `column(index, field)` (absent: all null; another type: cast).
pub(super) fn conform_columns<'a>(
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

/// A decode task: (file, root index in the file, column index in `schema`, for one leaf of a flat struct: (child
/// position, leaf index)); a flat struct's leaves are decoded as tasks of their own (the widest columns, so first).
type Task = (usize, usize, usize, Option<(usize, usize)>);

/// The reader metadata of each file (strings read as views where the file's type allows it) and the decode tasks
/// of [`decode_files`], flat-struct leaves first. Errors carry the file path.
fn plan_decode(
    files: &[(String, bytes::Bytes)],
    schema: &SchemaRef,
) -> std::result::Result<(Vec<ArrowReaderMetadata>, Vec<Task>), (String, String)> {
    let mut metas = Vec::with_capacity(files.len());
    let mut tasks: Vec<Task> = Vec::new();
    for (fi, (p, bytes)) in files.iter().enumerate() {
        let err = |e: parquet::errors::ParquetError| (p.clone(), e.to_string());
        let meta = view_metadata(bytes).map_err(err)?;
        let file_schema = meta.schema().clone();
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
    Ok((metas, tasks))
}

/// Reassembles a flat struct column decoded leaf by leaf (`leaves`: child position, arrays per row group) into
/// one struct array per row group; `path` names the file in errors.
fn join_leaves(
    path: &str,
    mut leaves: Vec<LeafArrays>,
) -> std::result::Result<Vec<ArrayRef>, (String, String)> {
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
                .ok_or_else(|| (path.to_string(), "struct leaf did not decode".to_string()))?;
            if nulls.is_none() {
                nulls = arrow::array::Array::nulls(st).cloned();
            }
            fields.push(st.fields()[0].clone());
            children.push(Arc::clone(st.column(0)));
        }
        let st = arrow::array::StructArray::try_new(fields.into(), children, nulls)
            .map_err(|e| (path.to_string(), e.to_string()))?;
        arrays.push(Arc::new(st) as ArrayRef);
    }
    Ok(arrays)
}
