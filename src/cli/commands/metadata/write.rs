//! `metadata write KEY --input FILE`: appends rows from a file (parquet, csv or ndjson) with the system columns
//! filled as Metaxy's `write()` does (the engine's `plan_write` / `execute_write`); `--dry-run` prints the plan.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::args::Format;
use crate::cli::output::table::{frame_table, preview_columns};
use crate::cli::output::{out, out_json};
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::{execute_write, plan_write};
use crate::engine::ops::write::WriteOptions;
use crate::engine::versioning::samples::load_rows;
use crate::engine::workspace::Workspace;

/// `metadata write KEY --input FILE`.
pub fn run(
    ws: &Workspace,
    feature: &str,
    input: &std::path::Path,
    materialization_id: Option<String>,
    dry_run: bool,
    format: Format,
) -> Result<ExitCode> {
    // a feature of another project is refused before the input is read (`plan_write` checks it again, and the
    // pushed version)
    let key = FeatureKey::parse(feature)?;
    crate::engine::ops::mutate::check_project(&ws.graph, &key)?;
    let (df, origin) =
        load_rows(input).with_context(|| format!("cannot read {}", input.display()))?;
    let plan = plan_write(
        ws.store.as_ref(),
        &ws.graph,
        &key,
        df,
        &WriteOptions {
            materialization_id,
            origin,
            ..Default::default()
        },
    )?;
    let n = if dry_run {
        plan.rows.height()
    } else {
        execute_write(ws.store.as_ref(), &plan)?
    };
    if format == Format::Json {
        out_json(&json!({
            "feature": key.to_string(),
            "store": ws.store.name(),
            "dry_run": dry_run,
            "rows_written": if dry_run { 0 } else { n },
            "rows": if dry_run { df_to_json_rows(&plan.rows, None)? } else { vec![] },
        }))?;
    } else if dry_run {
        out(&frame_table(&plan.rows, Some(&preview_columns(ws, &key)))?.to_string())?;
        eprintln!(
            "Dry run: {n} row(s) would be written to {key} in store {:?}",
            ws.store.name()
        );
    } else {
        eprintln!("✓ Wrote {n} row(s) to {key}");
    }
    Ok(ExitCode::SUCCESS)
}
