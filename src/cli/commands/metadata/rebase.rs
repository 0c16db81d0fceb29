//! `metadata rebase KEY --from V [--to V]`: recomputes the provenance of a feature's rows from one feature version
//! under another (Metaxy `metadata rebase`, the engine's `plan_rebase` / `execute_rebase`), printing
//! `✓ Rebased N row(s)` as Metaxy does.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::{json, Value};

use crate::cli::args::Format;
use crate::cli::output::out_json;
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::{execute_rebase, plan_rebase};
use crate::engine::workspace::Workspace;

/// `metadata rebase KEY --from V [--to V] [--dry-run]`.
pub fn run(
    ws: &Workspace,
    feature: &str,
    from: &str,
    to: Option<&str>,
    dry_run: bool,
    format: Format,
) -> Result<ExitCode> {
    let key = FeatureKey::parse(feature)?;
    let plan = match plan_rebase(
        ws.store.as_ref(),
        &ws.graph,
        &ws.pushed,
        &key,
        from,
        to,
        &[],
    ) {
        Ok(p) => Some(p),
        Err(crate::engine::error::EngineError::FeatureNotFound { .. }) => {
            eprintln!("Warning: Feature '{feature}' not found in store.");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let n = match (&plan, dry_run) {
        (None, _) => 0,
        (Some(p), true) => p.source_rows,
        (Some(p), false) => execute_rebase(ws.store.as_ref(), &ws.graph, p)?,
    };
    if format == Format::Json {
        let mut v = json!({
            "feature": key.to_string(),
            "store": ws.store.name(),
            "dry_run": dry_run,
            "rows": n,
        });
        if let Some(p) = &plan {
            v["from_version"] = json!(p.from_version);
            v["to_version"] = json!(p.to_version);
            v["to_project_version"] = json!(p.to_project_version);
            if dry_run {
                v["rebased"] = Value::Array(df_to_json_rows(&p.rows, None)?);
                v["previous"] = Value::Array(df_to_json_rows(&p.previous, None)?);
            }
        }
        out_json(&v)?;
    } else if dry_run {
        eprintln!("Dry run: {n} row(s) would be rebased");
    } else {
        eprintln!("✓ Rebased {n} row(s)");
    }
    Ok(ExitCode::SUCCESS)
}
