//! `sql`: one read-only query over the store ([`crate::engine::sql::run_sql`]), printed as a table, JSON or CSV, or
//! written to a file (`-o`, Parquet included).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use polars::prelude::{Column, CsvWriter, DataFrame, DataType, SerWriter};

use crate::cli::args::{Cli, SqlFormat};
use crate::cli::context::open;
use crate::cli::output::out;
use crate::cli::output::table::frame_table;
use crate::engine::json::df_to_json_rows;
use crate::engine::sql::{run_sql, SqlCancel};
use crate::engine::versioning::samples::export_frame;

/// Runs `sql QUERY`: the result goes to stdout, or to `output` (written to a `.partial` file and renamed: a failed
/// query or write leaves no file). The format defaults to the output file's extension, else a table.
pub fn run(
    cli: &Cli,
    query: &str,
    format: Option<SqlFormat>,
    output: Option<&Path>,
    limit: Option<usize>,
) -> Result<ExitCode> {
    let format = format.unwrap_or_else(|| format_of(output));
    if format == SqlFormat::Parquet && output.is_none() {
        bail!("--format parquet needs -o FILE");
    }
    let ws = open(cli, None)?;
    let mut result = run_sql(&ws, query, limit, &SqlCancel::default(), &mut |_| {})?;
    if result.truncated {
        eprintln!("showing the first {} rows (--limit)", result.frame.height());
    }
    if let (Some(path), SqlFormat::Parquet | SqlFormat::Csv) = (output, format) {
        // export_frame picks the format from the extension: write to a name that says it, then rename
        let ext = if format == SqlFormat::Parquet {
            "parquet"
        } else {
            "csv"
        };
        let tmp = path.with_extension(format!("sql-out.{ext}"));
        export_frame(&mut result.frame, &tmp).map_err(anyhow::Error::msg)?;
        std::fs::rename(&tmp, path)?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = match format {
        SqlFormat::Parquet => bail!("--format parquet needs -o FILE"),
        SqlFormat::Csv => csv_text(&result.frame)?,
        SqlFormat::Json => {
            serde_json::to_string_pretty(&df_to_json_rows(&result.frame, None)?)? + "\n"
        }
        SqlFormat::Plain => format!(
            "{}\n{} row(s)\n",
            frame_table(&result.frame, None)?,
            result.frame.height()
        ),
    };
    match output {
        Some(path) => {
            let tmp = path.with_extension("sql-out.partial");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)?;
        }
        None => out(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The format an output path's extension names (`.parquet`, `.csv`, `.json`), else plain.
fn format_of(output: Option<&Path>) -> SqlFormat {
    let ext = output
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("parquet" | "pq") => SqlFormat::Parquet,
        Some("csv") => SqlFormat::Csv,
        Some("json") => SqlFormat::Json,
        _ => SqlFormat::Plain,
    }
}

/// The frame as CSV text with a header; struct and list values as their JSON text (as `export_frame` writes them).
fn csv_text(df: &DataFrame) -> Result<String> {
    let rows = df_to_json_rows(df, None)?;
    let mut flat = df.clone();
    for c in df.columns() {
        if matches!(c.dtype(), DataType::Struct(_) | DataType::List(_)) {
            let name = c.name().to_string();
            let text: Vec<String> = rows.iter().map(|r| r[&name].to_string()).collect();
            flat.with_column(Column::new(name.as_str().into(), text))?;
        }
    }
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).finish(&mut flat)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
