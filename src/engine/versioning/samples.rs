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

/// Where the rows of a frame about to be written came from, so a bad value is named the way the user sees it:
/// the 1-based line of a CSV / NDJSON file, the 1-based row of a Parquet file or of a frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RowOrigin {
    /// A frame built in memory: rows are named `row N`.
    #[default]
    Frame,
    /// A file: rows are named `line L of NAME` when `lines` maps each row to its first line, else `row N of NAME`.
    File {
        /// The file as the user named it.
        name: String,
        /// The 1-based line each row starts on (CSV, NDJSON), in row order.
        lines: Option<Vec<usize>>,
    },
}

impl RowOrigin {
    /// How to name the 0-based row `row` in a message (`row 3`, `line 4 of rows.csv`, `row 3 of rows.parquet`).
    pub fn describe(&self, row: usize) -> String {
        match self {
            RowOrigin::Frame => format!("row {}", row + 1),
            RowOrigin::File {
                name,
                lines: Some(lines),
            } if row < lines.len() => format!("line {} of {name}", lines[row]),
            RowOrigin::File { name, .. } => format!("row {} of {name}", row + 1),
        }
    }
}

/// Loads a samples file (see the module docs for formats).
///
/// Errors: [`EngineError::BadSamples`] for an unknown extension or an unreadable / malformed file (a CSV line
/// whose field count differs from the header's is named by its line).
pub fn load_samples(path: &Path) -> Result<DataFrame> {
    load_rows(path).map(|(df, _)| df)
}

/// [`load_samples`], also returning where each row came from ([`RowOrigin::File`]; lines for CSV and NDJSON).
///
/// Errors: as [`load_samples`].
pub fn load_rows(path: &Path) -> Result<(DataFrame, RowOrigin)> {
    let bad = |m: String| EngineError::BadSamples(format!("{}: {m}", path.display()));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let file = || std::fs::File::open(path).map_err(|e| bad(e.to_string()));
    let mut lines = None;
    let df = match ext.as_str() {
        "parquet" | "pq" => ParquetReader::new(file()?)
            .finish()
            .map_err(|e| bad(one_line(&e.to_string())))?,
        "ndjson" | "jsonl" | "json" => {
            let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            lines = Some(
                text.split(|b| *b == b'\n')
                    .enumerate()
                    .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
                    .map(|(i, _)| i + 1)
                    .collect::<Vec<_>>(),
            );
            JsonReader::new(std::io::Cursor::new(text))
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .map_err(|e| bad(one_line(&e.to_string())))?
        }
        "csv" => {
            let mut text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            // polars reads trailing blank lines as rows of nulls
            while matches!(text.last(), Some(b'\n' | b'\r')) {
                text.pop();
            }
            text.push(b'\n');
            let (header, starts) = csv_records(&text).map_err(bad)?;
            lines = Some(starts);
            // `metaxy_*` columns are text (hashes such as `0042` must not become integers)
            let overwrite: Schema = header
                .iter()
                .filter(|n| n.starts_with("metaxy_"))
                .map(|n| Field::new(n.as_str().into(), DataType::String))
                .collect();
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .with_schema_overwrite(Some(std::sync::Arc::new(overwrite)))
                .into_reader_with_file_handle(std::io::Cursor::new(text))
                .finish()
                .map_err(|e| bad(one_line(&e.to_string())))?;
            fold_flat_structs(df).map_err(|e| bad(one_line(&e.to_string())))?
        }
        other => {
            return Err(bad(format!(
                "unknown samples format {other:?}: use .parquet, .csv or .ndjson"
            )))
        }
    };
    // line numbers only when they provably match the rows read
    let lines = lines.filter(|l| l.len() == df.height());
    Ok((
        df,
        RowOrigin::File {
            name: path.display().to_string(),
            lines,
        },
    ))
}

/// The first line of an error message (polars appends plans and hints on further lines).
fn one_line(m: &str) -> String {
    m.lines().next().unwrap_or("").trim().to_string()
}

/// Splits CSV `text` (RFC 4180: `"` quotes, `""` inside quotes, `\n` or `\r\n` line ends) into records and
/// checks that every record has as many fields as the header. Returns the header's field names and the 1-based
/// line each data record starts on; blank lines after the last record are skipped.
///
/// Errors (as text): a record with another field count than the header (`line 3 has 2 fields, the header has
/// 4`), a blank line between records, a quote left open, an empty file.
fn csv_records(text: &[u8]) -> std::result::Result<(Vec<String>, Vec<usize>), String> {
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let mut blanks: Vec<usize> = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    while i < text.len() {
        let start = line;
        let mut fields: Vec<String> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut quoted = false;
        let mut blank = true;
        loop {
            let Some(&b) = text.get(i) else {
                if quoted {
                    return Err(format!("line {start}: a quoted field is never closed"));
                }
                break;
            };
            i += 1;
            if quoted {
                match b {
                    b'"' if text.get(i) == Some(&b'"') => {
                        cur.push(b'"');
                        i += 1;
                    }
                    b'"' => quoted = false,
                    b'\n' => {
                        line += 1;
                        cur.push(b);
                    }
                    _ => cur.push(b),
                }
                continue;
            }
            match b {
                b'"' => {
                    quoted = true;
                    blank = false;
                }
                b',' => {
                    fields.push(String::from_utf8_lossy(&cur).into_owned());
                    cur.clear();
                    blank = false;
                }
                b'\n' => {
                    line += 1;
                    break;
                }
                b'\r' if text.get(i) == Some(&b'\n') => {}
                _ => {
                    cur.push(b);
                    blank = false;
                }
            }
        }
        if blank && cur.is_empty() {
            blanks.push(start);
            continue;
        }
        fields.push(String::from_utf8_lossy(&cur).into_owned());
        records.push((start, fields));
    }
    let Some((_, header)) = records.first() else {
        return Err("the file is empty (a CSV needs a header row)".into());
    };
    // polars reads a blank line between records as a row of nulls: refuse it (trailing blank lines are fine)
    let last = records.last().map(|(l, _)| *l).unwrap_or(0);
    if let Some(b) = blanks.iter().find(|b| **b < last) {
        return Err(format!("line {b} is empty (every line is one record)"));
    }
    let width = header.len();
    for (l, f) in &records[1..] {
        if f.len() != width {
            return Err(format!(
                "line {l} has {} field(s), the header has {width}",
                f.len()
            ));
        }
    }
    let header = header.iter().map(|h| h.trim().to_string()).collect();
    Ok((header, records[1..].iter().map(|(l, _)| *l).collect()))
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
    fn ragged_csv_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "a,b,c\nx,\"y,\n1\",z\nz1,onlytwo\n").unwrap();
        let e = load_samples(&p).unwrap_err().to_string();
        assert!(e.contains("line 4 has 2 field(s), the header has 3"), "{e}");
        std::fs::write(&p, "a,b\nx,1\n\ny,2\n").unwrap();
        let e = load_samples(&p).unwrap_err().to_string();
        assert!(e.contains("line 3 is empty"), "{e}");
        std::fs::write(&p, "a,b\nx,\"1\n2\"\ny,\"2\"\r\n\n").unwrap();
        let (df, origin) = load_rows(&p).unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(origin.describe(1), format!("line 4 of {}", p.display()));
        std::fs::write(&p, "a,b\nx,\"open\n").unwrap();
        let e = load_samples(&p).unwrap_err().to_string();
        assert!(e.contains("line 2: a quoted field is never closed"), "{e}");
    }

    #[test]
    fn csv_hash_columns_stay_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "sample_uid,metaxy_provenance\ns1,0042\n").unwrap();
        let df = load_samples(&p).unwrap();
        let v = df.column("metaxy_provenance").unwrap().get(0).unwrap();
        assert_eq!(v.to_string(), "\"0042\"");
    }

    #[test]
    fn unknown_extension_is_a_clear_error() {
        let e = load_samples(Path::new("x.xlsx")).unwrap_err();
        assert!(e.to_string().contains("unknown samples format"), "{e}");
    }
}
