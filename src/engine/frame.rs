//! Bridges between arrow-rs (what DuckDB, delta-rs and lance hand out) and polars (what the engine computes with),
//! through the Arrow C data interface, plus small frame helpers.

use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef as ArrowArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
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
        let arrays: Vec<ArrowArrayRef> = if batches.is_empty() {
            vec![arrow::array::new_empty_array(f.data_type())]
        } else {
            batches.iter().map(|b| Arc::clone(b.column(i))).collect()
        };
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
