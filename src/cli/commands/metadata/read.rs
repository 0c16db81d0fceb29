//! `metadata read`: rows of a feature with Metaxy's read semantics (the workspace's `read`), as JSON or a table.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::args::Format;
use crate::cli::output::table::frame_table;
use crate::cli::output::{out, out_json};
use crate::engine::json::df_to_json_rows;
use crate::engine::query::read::ReadOptions;
use crate::engine::workspace::Workspace;

/// Runs `metadata read` on `feature`: at most `limit` rows are shown, the count stays exact.
pub fn run(
    ws: &Workspace,
    feature: &str,
    opts: &ReadOptions,
    limit: Option<usize>,
    format: Format,
) -> Result<ExitCode> {
    let key = ws.feature(feature)?;
    let Some(df) = ws.read(&key, opts)? else {
        bail!(
            "no metadata for feature {key} in store {:?} (table {} does not exist)",
            ws.store.name(),
            ws.store.table_name(&key)
        );
    };
    let total = df.height();
    let shown = match limit {
        Some(n) => df.head(Some(n)),
        None => df,
    };
    let source = ws.store.resolved_from(&key);
    if format == Format::Json {
        let v = json!({
            "feature": key.to_string(),
            "feature_version": ws.graph.feature_version(&key),
            "resolved_from": source,
            "count": total,
            "rows": df_to_json_rows(&shown, None)?,
        });
        out_json(&v)?;
    } else {
        out(&frame_table(&shown, None)?.to_string())?;
        let from = if source.name != ws.store.name() {
            format!(" (read from fallback store {:?})", source.name)
        } else {
            String::new()
        };
        out(&format!("{} of {} row(s){from}", shown.height(), total))?;
    }
    Ok(ExitCode::SUCCESS)
}
