//! Bridges between arrow-rs (what DuckDB, delta-rs and lance hand out) and polars (what the engine computes with),
//! through the Arrow C data interface, plus small frame helpers.

use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef as ArrowArrayRef, RecordBatch};
use arrow::datatypes::{DataType as ArrowDataType, SchemaRef};
use arrow::ffi::{to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::*;

use crate::engine::error::Result;

/// Converts one arrow-rs array to polars-arrow through the C data interface (zero-copy).
fn arrow_to_polars_array(
    array: &ArrowArrayRef,
) -> Result<(
    polars_arrow::datatypes::Field,
    Box<dyn polars_arrow::array::Array>,
)> {
    let (ffi_array, ffi_schema) = to_ffi(&array.to_data())?;
    // SAFETY: arrow-rs' FFI_ArrowArray / FFI_ArrowSchema and polars-arrow's ArrowArray / ArrowSchema are both
    // `#[repr(C)]` definitions of the Arrow C data interface structs; ownership (the release callback) moves to
    // polars, and the schema is only borrowed (arrow-rs releases it on drop).
    unsafe {
        let schema_ptr =
            &ffi_schema as *const FFI_ArrowSchema as *const polars_arrow::ffi::ArrowSchema;
        let field = polars_arrow::ffi::import_field_from_c(&*schema_ptr)?;
        let array: polars_arrow::ffi::ArrowArray =
            std::mem::transmute::<FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(ffi_array);
        let arr = polars_arrow::ffi::import_array_from_c(array, field.dtype.clone())?;
        Ok((field, arr))
    }
}

/// Builds a polars [`DataFrame`] from arrow-rs record batches (all with `schema`). Column names and order are kept;
/// an empty batch list gives an empty frame with the schema's columns.
pub fn record_batches_to_df(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, f) in schema.fields().iter().enumerate() {
        let mut arrays: Vec<ArrowArrayRef> = if batches.is_empty() {
            vec![arrow::array::new_empty_array(f.data_type())]
        } else {
            batches.iter().map(|b| Arc::clone(b.column(i))).collect()
        };
        if f.name().ends_with("_by_field") && map_entries(f.data_type()).is_some() {
            arrays = map_like_to_struct(&arrays)?;
        }
        let mut chunks = Vec::with_capacity(arrays.len());
        for a in &arrays {
            let (_, arr) = arrow_to_polars_array(a)?;
            chunks.push(arr);
        }
        let s = Series::try_from((PlSmallStr::from(f.name().as_str()), chunks))?;
        columns.push(s.into_column());
    }
    let height = columns.first().map(|c| c.len()).unwrap_or(0);
    Ok(DataFrame::new(height, columns)?)
}

/// The `(key, value)` entry fields when `dt` is one of the three encodings Metaxy uses for a `*_by_field` column
/// in Map mode (FORMAT.md §4.3): an Arrow `Map<string, string>` (DuckDB `MAP`, Delta `map`), or a (large) list of
/// `struct<key, value>` (LanceDB, which stores polars-map's extension type). `None` for anything else.
fn map_entries(dt: &ArrowDataType) -> Option<()> {
    let entries = match dt {
        ArrowDataType::Map(f, _) => f,
        ArrowDataType::List(f) | ArrowDataType::LargeList(f) => f,
        _ => return None,
    };
    match entries.data_type() {
        ArrowDataType::Struct(fields)
            if fields.len() == 2 && fields[0].name() == "key" && fields[1].name() == "value" =>
        {
            Some(())
        }
        ArrowDataType::Struct(fields)
            if fields.len() == 2 && matches!(dt, ArrowDataType::Map(..)) =>
        {
            Some(())
        }
        _ => None,
    }
}

/// `(offsets, keys, values)` of a map-like array, offsets widened to `i64`, keys and values cast to `Utf8`.
fn map_parts(
    array: &ArrowArrayRef,
) -> Result<(
    Vec<i64>,
    arrow::array::StringArray,
    arrow::array::StringArray,
)> {
    use arrow::array::{AsArray, StructArray};
    let (offsets, entries): (Vec<i64>, &StructArray) = match array.data_type() {
        ArrowDataType::Map(..) => {
            let m = array.as_map();
            (
                m.value_offsets().iter().map(|&o| o as i64).collect(),
                m.entries(),
            )
        }
        ArrowDataType::List(_) => {
            let l = array.as_list::<i32>();
            (
                l.value_offsets().iter().map(|&o| o as i64).collect(),
                l.values().as_struct(),
            )
        }
        _ => {
            let l = array.as_list::<i64>();
            (l.value_offsets().to_vec(), l.values().as_struct())
        }
    };
    let to_utf8 = |a: &ArrowArrayRef| -> Result<arrow::array::StringArray> {
        let c = arrow::compute::cast(a, &ArrowDataType::Utf8)?;
        Ok(c.as_string::<i32>().clone())
    };
    Ok((
        offsets,
        to_utf8(entries.column(0))?,
        to_utf8(entries.column(1))?,
    ))
}

/// Turns the chunks of a Map-mode `*_by_field` column into `Struct<key: Utf8, ...>` chunks, one struct member per
/// distinct key (in order of first appearance across all chunks), so the rest of the engine sees the same shape as
/// Struct mode. A key absent from a row gives a null member; a null map gives a null struct. Hashes look fields up
/// by key, so they are unaffected (Metaxy: "values are looked up by key").
fn map_like_to_struct(chunks: &[ArrowArrayRef]) -> Result<Vec<ArrowArrayRef>> {
    use arrow::array::{StringBuilder, StructArray};
    use arrow::buffer::NullBuffer;
    use arrow::datatypes::{Field as ArrowField, Fields};
    let parts: Vec<_> = chunks.iter().map(map_parts).collect::<Result<_>>()?;
    let mut keys: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for (_, k, _) in &parts {
        for key in k.iter().flatten() {
            if !index.contains_key(key) {
                index.insert(key.to_string(), keys.len());
                keys.push(key.to_string());
            }
        }
    }
    let fields: Fields = keys
        .iter()
        .map(|k| ArrowField::new(k, ArrowDataType::Utf8, true))
        .collect();
    let mut out = Vec::with_capacity(chunks.len());
    for (chunk, (offsets, k, v)) in chunks.iter().zip(&parts) {
        let rows = chunk.len();
        let mut builders: Vec<StringBuilder> = keys
            .iter()
            .map(|_| StringBuilder::with_capacity(rows, rows * 8))
            .collect();
        let mut row_vals: Vec<Option<&str>> = vec![None; keys.len()];
        for row in 0..rows {
            row_vals.iter_mut().for_each(|x| *x = None);
            if chunk.is_valid(row) {
                for e in offsets[row] as usize..offsets[row + 1] as usize {
                    if k.is_valid(e) {
                        let slot = index[k.value(e)];
                        row_vals[slot] = v.is_valid(e).then(|| v.value(e));
                    }
                }
            }
            for (b, val) in builders.iter_mut().zip(&row_vals) {
                b.append_option(*val);
            }
        }
        let columns: Vec<ArrowArrayRef> = builders
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrowArrayRef)
            .collect();
        let nulls = chunk.logical_nulls().or_else(|| chunk.nulls().cloned());
        let nulls: Option<NullBuffer> = nulls;
        let arr = if fields.is_empty() {
            StructArray::new_empty_fields(rows, nulls)
        } else {
            StructArray::try_new(fields.clone(), columns, nulls)?
        };
        out.push(Arc::new(arr) as ArrowArrayRef);
    }
    Ok(out)
}

/// Whether `df` has a column named `name`.
pub fn has_column(df: &DataFrame, name: &str) -> bool {
    df.get_column_index(name).is_some()
}

/// `columns` that exist in `df`, in the given order; every column of `df` when `None`.
pub fn present_columns(df: &DataFrame, columns: Option<&[String]>) -> Vec<String> {
    match columns {
        Some(c) => c.iter().filter(|n| has_column(df, n)).cloned().collect(),
        None => df
            .get_column_names()
            .into_iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// `df` with every struct `*_by_field` column (`metaxy_provenance_by_field`, `metaxy_data_version_by_field`)
/// completed to carry at least the struct members `members` (field keys as
/// [`crate::engine::keys::FeatureKey::struct_key`] spells them): a missing member is added as an all-null `String` member after the existing ones, and rows whose
/// struct is null stay null. Columns that are absent or not structs, and structs that already have every member,
/// are left alone (no copy).
///
/// Why: a Map-mode table (`enable_map_datatype = true`) is read as a struct with one member per key that occurs
/// in the rows read (see `map_like_to_struct`), so a frame with no rows, or whose maps all lack a key, has fewer
/// members than the feature has fields; a Struct-mode table always has them all from its schema. Completing makes
/// both modes look alike, as in Metaxy, where a missing key simply reads as null.
/// Errors: polars failures rebuilding the struct.
pub fn complete_by_field_members(mut df: DataFrame, members: &[String]) -> Result<DataFrame> {
    let targets: Vec<String> = df
        .columns()
        .iter()
        .filter(|c| is_by_field(c.name()))
        .filter_map(|c| match c.dtype() {
            DataType::Struct(fields) => members
                .iter()
                .any(|m| !fields.iter().any(|f| f.name().as_str() == m))
                .then(|| c.name().to_string()),
            _ => None,
        })
        .collect();
    for name in targets {
        let series = df.column(&name)?.as_materialized_series().rechunk();
        let ca = series.struct_()?;
        let len = ca.len();
        let mut parts = ca.fields_as_series();
        for m in members {
            if !parts.iter().any(|p| p.name().as_str() == m) {
                parts.push(Series::full_null(m.as_str().into(), len, &DataType::String));
            }
        }
        let completed = StructChunked::from_series(name.as_str().into(), len, parts.iter())?
            .rechunk()
            .into_owned()
            .with_outer_validity(series.rechunk_validity());
        df.with_column(completed.into_series().into_column())?;
    }
    Ok(df)
}

/// Converts one polars-arrow array to arrow-rs through the C data interface (zero-copy).
fn polars_to_arrow_array(
    name: &str,
    array: Box<dyn polars_arrow::array::Array>,
) -> Result<ArrowArrayRef> {
    let field = polars_arrow::datatypes::Field::new(name.into(), array.dtype().clone(), true);
    let schema = polars_arrow::ffi::export_field_to_c(&field);
    let arr = polars_arrow::ffi::export_array_to_c(array);
    // SAFETY: both sides are `#[repr(C)]` definitions of the Arrow C data interface structs (see
    // `arrow_to_polars_array`); `from_ffi` takes ownership of the array and borrows the schema, which is released
    // when `ffi_schema` drops.
    unsafe {
        let ffi_array: FFI_ArrowArray =
            std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(arr);
        let ffi_schema: FFI_ArrowSchema =
            std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(schema);
        let data = arrow::ffi::from_ffi(ffi_array, &ffi_schema)?;
        Ok(arrow::array::make_array(data))
    }
}

/// Converts a polars [`DataFrame`] into one arrow-rs [`RecordBatch`] (columns in frame order, all nullable).
///
/// Strings become `LargeUtf8` (polars' oldest compatibility level, which is also what LanceDB stores), structs stay
/// structs, `Datetime(us, "UTC")` becomes `Timestamp(us, "UTC")`. Backends cast further to their table's types.
pub fn df_to_record_batch(df: &DataFrame) -> Result<RecordBatch> {
    use arrow::datatypes::{Field as ArrowField, Schema};
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays = Vec::with_capacity(df.width());
    for c in df.columns() {
        let s = c.as_materialized_series().rechunk();
        let name = s.name().to_string();
        let arr: ArrowArrayRef = if s.n_chunks() == 0 {
            let empty = Series::new_empty(s.name().clone(), s.dtype());
            polars_to_arrow_array(&name, empty.to_arrow(0, CompatLevel::oldest()))?
        } else {
            polars_to_arrow_array(&name, s.to_arrow(0, CompatLevel::oldest()))?
        };
        fields.push(ArrowField::new(name, arr.data_type().clone(), true));
        arrays.push(arr);
    }
    let schema = Arc::new(Schema::new(fields));
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(df.height()));
    Ok(RecordBatch::try_new_with_options(schema, arrays, &opts)?)
}

/// Whether `name` is one of the `*_by_field` columns Map mode stores as a map.
pub fn is_by_field(name: &str) -> bool {
    name.ends_with("_by_field")
}

/// The Delta / Arrow type of a Map-mode `*_by_field` column: `map<string, string>` with delta-rs' entry names.
pub fn delta_map_type() -> ArrowDataType {
    use arrow::datatypes::{Field as ArrowField, Fields};
    let kv = Fields::from(vec![
        ArrowField::new("key", ArrowDataType::Utf8, false),
        ArrowField::new("value", ArrowDataType::Utf8, true),
    ]);
    ArrowDataType::Map(
        Arc::new(ArrowField::new(
            "key_value",
            ArrowDataType::Struct(kv),
            false,
        )),
        false,
    )
}

/// The LanceDB field of a Map-mode `*_by_field` column: polars-map's extension type, a
/// `large_list<struct<key: large_string, value: large_string>>` tagged `ARROW:extension:name = polars_map.map`
/// (what Metaxy's LanceDB store writes).
pub fn lance_map_field(name: &str) -> arrow::datatypes::Field {
    use arrow::datatypes::{Field as ArrowField, Fields};
    let kv = Fields::from(vec![
        ArrowField::new("key", ArrowDataType::LargeUtf8, true),
        ArrowField::new("value", ArrowDataType::LargeUtf8, true),
    ]);
    let dt = ArrowDataType::LargeList(Arc::new(ArrowField::new(
        "item",
        ArrowDataType::Struct(kv),
        true,
    )));
    ArrowField::new(name, dt, true).with_metadata(
        [(
            "ARROW:extension:name".to_string(),
            "polars_map.map".to_string(),
        )]
        .into(),
    )
}

/// Converts a struct column (`{field: hash, ...}`) to a map-like column of type `target` (an Arrow `Map`, or a
/// (large) list of `struct<key, value>`): one entry per struct member, in member order; a null struct becomes a
/// null map. The inverse of the read-side conversion, so Map-mode tables get back what Metaxy writes.
///
/// Errors: `target` is not map-like, or `array` is not a struct.
pub fn struct_to_map_like(array: &ArrowArrayRef, target: &ArrowDataType) -> Result<ArrowArrayRef> {
    use arrow::array::{AsArray, LargeListArray, ListArray, MapArray, StringBuilder, StructArray};
    use arrow::buffer::OffsetBuffer;
    use arrow::error::ArrowError;
    let bad = |m: &str| -> crate::engine::error::EngineError {
        ArrowError::InvalidArgumentError(m.to_string()).into()
    };
    let ArrowDataType::Struct(_) = array.data_type() else {
        return Err(bad("map conversion needs a struct column"));
    };
    let s = array.as_struct();
    let entries_field = match target {
        ArrowDataType::Map(f, _) | ArrowDataType::List(f) | ArrowDataType::LargeList(f) => {
            f.clone()
        }
        _ => return Err(bad("target type is not a map")),
    };
    let ArrowDataType::Struct(kv) = entries_field.data_type() else {
        return Err(bad("map entries are not key/value structs"));
    };
    if kv.len() != 2 {
        return Err(bad("map entries are not key/value structs"));
    }
    let names: Vec<String> = s.fields().iter().map(|f| f.name().clone()).collect();
    let values: Vec<arrow::array::StringArray> = s
        .columns()
        .iter()
        .map(|c| {
            arrow::compute::cast(c, &ArrowDataType::Utf8).map(|a| a.as_string::<i32>().clone())
        })
        .collect::<std::result::Result<_, _>>()?;
    let rows = s.len();
    let mut keys = StringBuilder::new();
    let mut vals = StringBuilder::new();
    let mut offsets: Vec<i64> = Vec::with_capacity(rows + 1);
    offsets.push(0);
    let mut n = 0i64;
    for row in 0..rows {
        if s.is_valid(row) {
            for (name, col) in names.iter().zip(&values) {
                keys.append_value(name);
                vals.append_option(col.is_valid(row).then(|| col.value(row)));
                n += 1;
            }
        }
        offsets.push(n);
    }
    let keys = arrow::compute::cast(
        &(Arc::new(keys.finish()) as ArrowArrayRef),
        kv[0].data_type(),
    )?;
    let vals = arrow::compute::cast(
        &(Arc::new(vals.finish()) as ArrowArrayRef),
        kv[1].data_type(),
    )?;
    let entries = StructArray::try_new(kv.clone(), vec![keys, vals], None)?;
    let nulls = s.nulls().cloned();
    Ok(match target {
        ArrowDataType::Map(_, sorted) => {
            let o: Vec<i32> = offsets.iter().map(|&x| x as i32).collect();
            Arc::new(MapArray::try_new(
                entries_field,
                OffsetBuffer::new(o.into()),
                entries,
                nulls,
                *sorted,
            )?)
        }
        ArrowDataType::List(_) => {
            let o: Vec<i32> = offsets.iter().map(|&x| x as i32).collect();
            Arc::new(ListArray::try_new(
                entries_field,
                OffsetBuffer::new(o.into()),
                Arc::new(entries),
                nulls,
            )?)
        }
        _ => Arc::new(LargeListArray::try_new(
            entries_field,
            OffsetBuffer::new(offsets.into()),
            Arc::new(entries),
            nulls,
        )?),
    })
}

/// `batch` with every struct `*_by_field` column converted to a map-like column whose field is `field_for(name)`
/// (Map mode, for a new table).
pub fn batch_with_map_columns(
    batch: &RecordBatch,
    field_for: impl Fn(&str) -> arrow::datatypes::Field,
) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut cols = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if is_by_field(f.name()) && matches!(f.data_type(), ArrowDataType::Struct(_)) {
            let nf = field_for(f.name());
            cols.push(struct_to_map_like(c, nf.data_type())?);
            fields.push(Arc::new(nf));
        } else {
            fields.push(Arc::clone(f));
            cols.push(Arc::clone(c));
        }
    }
    let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::new(fields)),
        cols,
        &opts,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{MapBuilder, StringBuilder};
    use arrow::datatypes::{Field as ArrowField, Schema};

    /// A one-column batch `metaxy_data_version_by_field: map<string, string>` with the given rows.
    fn map_batch(rows: &[Option<&[(&str, &str)]>]) -> RecordBatch {
        let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for row in rows {
            match row {
                Some(entries) => {
                    for (k, v) in *entries {
                        b.keys().append_value(k);
                        b.values().append_value(v);
                    }
                    b.append(true).unwrap();
                }
                None => b.append(false).unwrap(),
            }
        }
        let arr: ArrowArrayRef = Arc::new(b.finish());
        let schema = Arc::new(Schema::new(vec![ArrowField::new(
            "metaxy_data_version_by_field",
            arr.data_type().clone(),
            true,
        )]));
        RecordBatch::try_new(schema, vec![arr]).unwrap()
    }

    fn members(df: &DataFrame) -> Vec<String> {
        match df.column("metaxy_data_version_by_field").unwrap().dtype() {
            DataType::Struct(f) => f.iter().map(|f| f.name().to_string()).collect(),
            other => panic!("not a struct: {other}"),
        }
    }

    fn field(df: &DataFrame, name: &str) -> Vec<Option<String>> {
        let s = df.column("metaxy_data_version_by_field").unwrap();
        let f = s.struct_().unwrap().field_by_name(name).unwrap();
        f.str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn a_map_frame_without_rows_gets_every_field_as_a_struct_member() {
        let batch = map_batch(&[]);
        let df = record_batches_to_df(&batch.schema(), &[]).unwrap();
        assert!(members(&df).is_empty(), "no rows, no keys");
        let fields = vec!["audio".to_string(), "frames".to_string()];
        let df = complete_by_field_members(df, &fields).unwrap();
        assert_eq!(members(&df), fields);
        assert_eq!(df.height(), 0);
        // what the resolver does with an upstream frame: look every field up by name
        let out = df
            .lazy()
            .select([col("metaxy_data_version_by_field")
                .struct_()
                .field_by_name("frames")
                .cast(DataType::String)])
            .collect()
            .unwrap();
        assert_eq!(out.height(), 0);
    }

    #[test]
    fn a_key_missing_from_every_row_reads_as_null_and_null_maps_stay_null() {
        let batch = map_batch(&[Some(&[("audio", "a1")]), None, Some(&[("audio", "a3")])]);
        let df = record_batches_to_df(&batch.schema(), std::slice::from_ref(&batch)).unwrap();
        assert_eq!(members(&df), vec!["audio"]);
        let fields = vec!["audio".to_string(), "frames".to_string()];
        let df = complete_by_field_members(df, &fields).unwrap();
        assert_eq!(members(&df), fields);
        assert_eq!(
            field(&df, "audio"),
            vec![Some("a1".into()), None, Some("a3".into())]
        );
        assert_eq!(field(&df, "frames"), vec![None, None, None]);
        let c = df.column("metaxy_data_version_by_field").unwrap();
        assert_eq!(c.null_count(), 1, "the null map is still a null struct");
        assert!(c.as_materialized_series().is_null().get(1).unwrap());
    }

    #[test]
    fn complete_structs_and_other_columns_are_left_alone() {
        let batch = map_batch(&[Some(&[("frames", "f1"), ("audio", "a1")])]);
        let df = record_batches_to_df(&batch.schema(), std::slice::from_ref(&batch)).unwrap();
        let df = df
            .lazy()
            .with_column(lit("x").alias("path"))
            .collect()
            .unwrap();
        let before = df.clone();
        let df = complete_by_field_members(df, &["audio".to_string()]).unwrap();
        assert!(df.equals_missing(&before));
        assert_eq!(members(&df), vec!["frames", "audio"], "order kept");
    }
}
