//! `metadata copy KEY...|--all-features --from A --to B [--filter SQL] [--no-with-feature-history]
//! [--with-sample-history]` (Metaxy `metadata copy`): latest live row per sample, every feature version by default,
//! `metaxy_updated_at` re-stamped; the system table is not copied. The engine's `plan_copy` / `execute_copy`;
//! prints `✓ Copy complete: ...` as Metaxy does.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::args::Format;
use crate::cli::output::{out, out_json};
use crate::engine::ops::mutate::{execute_copy, plan_copy, CopyRequest};
use crate::engine::store::open_store_for_write;
use crate::engine::workspace::Workspace;

/// Runs `metadata copy` of `req` from the workspace's store to store `to_store` (`--dry-run` writes nothing).
pub fn run(
    ws: &Workspace,
    to_store: &str,
    req: &CopyRequest,
    dry_run: bool,
    format: Format,
) -> Result<ExitCode> {
    if to_store == ws.store.name() {
        bail!("--from and --to name the same store ({to_store:?})");
    }
    let dest_cfg = ws
        .config
        .store_config(Some(to_store))
        .context("unknown destination store")?;
    let plan = plan_copy(ws.store.as_ref(), &ws.graph, req)?;
    for f in &plan {
        if let Some(s) = &f.skipped {
            eprintln!("note: {} skipped ({s})", f.feature);
        }
    }
    let stats = if dry_run {
        crate::engine::ops::mutate::CopyStats {
            features_copied: plan.iter().filter(|f| f.rows.height() > 0).count(),
            rows_copied: plan.iter().map(|f| f.rows.height()).sum(),
        }
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        let dest =
            open_store_for_write(dest_cfg, &cwd).context("cannot open the destination store")?;
        if dest.hash_algorithm() != ws.store.hash_algorithm() {
            bail!(
                "stores {:?} ({}) and {to_store:?} ({}) use different hash algorithms; copied provenance would not match",
                ws.store.name(),
                ws.store.hash_algorithm().as_str(),
                dest.hash_algorithm().as_str()
            );
        }
        execute_copy(dest.as_ref(), &ws.graph, &plan)?
    };
    if format == Format::Json {
        out_json(&json!({
            "from": ws.store.name(),
            "to": to_store,
            "dry_run": dry_run,
            "features_copied": stats.features_copied,
            "rows_copied": stats.rows_copied,
            "features": plan.iter().map(|f| json!({
                "feature": f.feature.to_string(),
                "rows": f.rows.height(),
                "skipped": f.skipped,
            })).collect::<Vec<_>>(),
        }))?;
    } else if dry_run {
        out(&format!(
            "Dry run: {} feature(s), {} row(s) would be copied",
            stats.features_copied, stats.rows_copied
        ))?;
    } else {
        out(&format!(
            "✓ Copy complete: {} feature(s), {} row(s) copied",
            stats.features_copied, stats.rows_copied
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
