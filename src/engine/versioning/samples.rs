//! Samples files for `resolve_update` (`--samples FILE`): the rows a caller says exist upstream, with their
//! per-field provenance. Root features need them (Metaxy: "Must provide 'samples' parameter with sample_uid and
//! metaxy_provenance_by_field columns").
//!
//! Formats, chosen by extension:
//! - Parquet (`.parquet`, `.pq`): `metaxy_provenance_by_field` as a struct (or map) column, as Metaxy writes it.
//! - NDJSON (`.ndjson`, `.jsonl`, `.json` with one object per line): `metaxy_provenance_by_field` as an object.
//! - CSV (`.csv`, header row): a struct cannot live in a CSV cell, so each field is a column named
//!   `metaxy_provenance_by_field.<field struct key>` (likewise `metaxy_data_version_by_field.<key>`); they are
//!   folded back into the struct. Every `metaxy_*` column is read as a string (hashes such as `42394702` must not
//!   turn into integers).

use std::path::Path;

use polars::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::schema as cols;

/// Loads a samples file (see the module docs for formats).
///
/// Errors: [`EngineError::BadSamples`] for an unknown extension or an unreadable / malformed file.
pub fn load_samples(path: &Path) -> Result<DataFrame> {
    let bad = |m: String| EngineError::BadSamples(format!("{}: {m}", path.display()));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let file = || std::fs::File::open(path).map_err(|e| bad(e.to_string()));
    let df = match ext.as_str() {
        "parquet" | "pq" => ParquetReader::new(file()?)
            .finish()
            .map_err(|e| bad(e.to_string()))?,
        "ndjson" | "jsonl" | "json" => JsonReader::new(file()?)
            .with_json_format(JsonFormat::JsonLines)
            .finish()
            .map_err(|e| bad(e.to_string()))?,
        "csv" => {
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish())
                .map_err(|e| bad(e.to_string()))?;
            fold_flat_structs(df).map_err(|e| bad(e.to_string()))?
        }
        other => {
            return Err(bad(format!(
                "unknown samples format {other:?}: use .parquet, .csv or .ndjson"
            )))
        }
    };
    Ok(df)
}

/// CSV: casts `metaxy_*` columns to strings and folds `<struct>.<key>` columns into `<struct>` structs.
fn fold_flat_structs(df: DataFrame) -> PolarsResult<DataFrame> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut lf = df.lazy().with_columns(
        names
            .iter()
            .filter(|n| n.starts_with("metaxy_"))
            .map(|n| col(n.as_str()).cast(DataType::String))
            .collect::<Vec<_>>(),
    );
    for base in [cols::PROVENANCE_BY_FIELD, cols::DATA_VERSION_BY_FIELD] {
        let prefix = format!("{base}.");
        let members: Vec<&String> = names.iter().filter(|n| n.starts_with(&prefix)).collect();
        if members.is_empty() {
            continue;
        }
        let fields: Vec<Expr> = members
            .iter()
            .map(|n| col(n.as_str()).alias(&n[prefix.len()..]))
            .collect();
        lf = lf.with_column(as_struct(fields).alias(base)).drop(by_name(
            members.iter().map(|s| s.as_str()),
            true,
            false,
        ));
    }
    lf.collect()
}

/// Writes `df` to `path` as Parquet, CSV (struct columns as JSON text) or NDJSON, chosen by extension (the same
/// formats [`load_samples`] reads). Written to `<path>.<ext>.partial` and renamed, so a failed export leaves no
/// half-written file. Errors (as text): unknown extension, I/O.
pub fn export_frame(df: &mut DataFrame, path: &Path) -> std::result::Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let err = |e: PolarsError| e.to_string();
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
    }
    let tmp = path.with_extension(format!("{ext}.partial"));
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let r = match ext.as_str() {
        "parquet" | "pq" => ParquetWriter::new(file).finish(df).map(|_| ()).map_err(err),
        "ndjson" | "jsonl" | "json" => JsonWriter::new(file)
            .with_json_format(JsonFormat::JsonLines)
            .finish(df)
            .map_err(err),
        "csv" => {
            // CSV has no nested values: struct columns as their JSON text
            let rows = crate::engine::json::df_to_json_rows(df, None).map_err(|e| e.to_string())?;
            let mut out = df.clone();
            for c in df.columns() {
                if matches!(c.dtype(), DataType::Struct(_) | DataType::List(_)) {
                    let name = c.name().to_string();
                    let text: Vec<String> = rows.iter().map(|r| r[&name].to_string()).collect();
                    out.with_column(Column::new(name.as_str().into(), text))
                        .map_err(err)?;
                }
            }
            CsvWriter::new(file).finish(&mut out).map_err(err)
        }
        other => Err(format!(
            "unknown export format {other:?}: use .parquet, .csv or .ndjson"
        )),
    };
    match r {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| e.to_string()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_fold_into_a_string_struct() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(
            &p,
            "sample_uid,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\ns1,123,abc\n",
        )
        .unwrap();
        let df = load_samples(&p).unwrap();
        let s = df.column(cols::PROVENANCE_BY_FIELD).unwrap();
        let DataType::Struct(f) = s.dtype() else {
            panic!("{:?}", s.dtype())
        };
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|m| m.dtype() == &DataType::String));
        assert_eq!(df.get_column_names().len(), 2);
    }

    #[test]
    fn unknown_extension_is_a_clear_error() {
        let e = load_samples(Path::new("x.xlsx")).unwrap_err();
        assert!(e.to_string().contains("unknown samples format"), "{e}");
    }
}
