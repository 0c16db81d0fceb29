//! `metadata drop KEY... [--yes] [--dry-run] [--format json|plain]`: Metaxy's `drop_feature_metadata` (Metaxy
//! 0.1.11 has no CLI command for it; the flags follow `metadata delete`). The engine's `plan_drop` /
//! `execute_drop`: each feature's whole table goes, the system table stays. Without `--yes`, a terminal user types
//! the feature key(s) to confirm; off a terminal the command refuses.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::delete::confirm_typed;
use crate::cli::args::Format;
use crate::cli::output::out_json;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::drop::{execute_drop, plan_drop, DropPlan};
use crate::engine::workspace::Workspace;

/// The JSON document of a drop plan: per feature its table, stored rows per feature version, skip reason and note.
fn plan_json(plan: &DropPlan, dry_run: bool) -> Value {
    let features: Vec<Value> = plan
        .features
        .iter()
        .map(|f| {
            json!({
                "feature": f.feature.to_string(),
                "table": f.table,
                "rows": f.rows(),
                "versions": f.versions.iter().map(|(v, n)| json!({
                    "feature_version": v,
                    "rows": n,
                    "current": f.current_version.as_deref() == Some(v.as_str()),
                })).collect::<Vec<_>>(),
                "skipped": f.skipped,
                "note": f.note,
            })
        })
        .collect();
    json!({
        "store": plan.store,
        "dry_run": dry_run,
        "keeps_empty_table": plan.keeps_empty_table,
        "total_rows": plan.total_rows(),
        "features": features,
    })
}

/// The plan as text: per feature its table, then one line per stored feature version (`(current)` marks the
/// graph's), the skip reason or note, and the total.
pub fn plan_text(plan: &DropPlan) -> String {
    let mut text = format!(
        "Store: {}\n\nFeatures ({}):\n",
        plan.store,
        plan.features.len()
    );
    for f in &plan.features {
        match &f.skipped {
            Some(s) => text.push_str(&format!("  • {} [skipped: {s}]\n", f.feature)),
            None => {
                text.push_str(&format!(
                    "  • {} (table {}, {} rows)\n",
                    f.feature,
                    f.table,
                    f.rows()
                ));
                if f.versions.is_empty() {
                    text.push_str("      (no rows)\n");
                }
                for (v, n) in &f.versions {
                    let cur = if f.current_version.as_deref() == Some(v.as_str()) {
                        " (current)"
                    } else {
                        ""
                    };
                    text.push_str(&format!("      {v}{cur:<10} {n:>8} row(s)\n"));
                }
            }
        }
        if let Some(n) = &f.note {
            text.push_str(&format!("    note: {n}\n"));
        }
    }
    text.push_str(&format!(
        "\nTotal rows to drop: {}\nThe system table (pushed feature graph) is not touched.\n",
        plan.total_rows()
    ));
    text
}

/// Runs `metadata drop` for `keys`: `--dry-run` prints the plan; otherwise, unless `yes`, the feature key(s) must
/// be typed on a terminal (refused when stdin is not one), then every planned table is dropped.
pub fn run(
    ws: &Workspace,
    keys: &[FeatureKey],
    dry_run: bool,
    yes: bool,
    format: Format,
) -> Result<ExitCode> {
    let plan = plan_drop(ws.store.as_ref(), &ws.graph, keys)?;
    if dry_run {
        if format == Format::Json {
            out_json(&plan_json(&plan, true))?;
        } else {
            eprint!("Dry run (drop feature metadata)\n\n{}", plan_text(&plan));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let to_drop: Vec<String> = plan.dropped().map(|f| f.feature.to_string()).collect();
    if !to_drop.is_empty() && !yes {
        if !std::io::stdin().is_terminal() {
            bail!("Dropping feature metadata requires --yes when stdin is not a terminal (or type the feature key on a terminal); nothing was dropped.");
        }
        eprint!("{}", plan_text(&plan));
        let expected = to_drop.join(" ");
        let q = format!(
            "Drop the table(s) of {expected} in store {:?} ({} row(s))? This cannot be undone.",
            plan.store,
            plan.total_rows()
        );
        if !confirm_typed(&q, &expected)? {
            eprintln!("Aborted; nothing was dropped.");
            return Ok(ExitCode::from(1));
        }
    }
    for f in &plan.features {
        if let Some(s) = &f.skipped {
            eprintln!("note: {}: nothing dropped ({s})", f.feature);
        }
    }
    let done = execute_drop(ws.store.as_ref(), &plan)?;
    if format == Format::Json {
        let mut v = plan_json(&plan, false);
        v["dropped"] = done
            .iter()
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        out_json(&v)?;
    } else {
        for f in plan.dropped() {
            let n = done
                .iter()
                .find(|(k, _)| *k == f.feature)
                .map_or(0, |(_, n)| *n);
            let what = if plan.keeps_empty_table {
                "every row deleted, the empty table kept"
            } else {
                "table dropped"
            };
            eprintln!("  • {}: {what} ({n} row(s))", f.feature);
        }
        eprintln!(
            "✓ Drop complete: {} feature(s), {} row(s)",
            to_drop.len(),
            done.iter().map(|(_, n)| n).sum::<usize>()
        );
    }
    Ok(ExitCode::SUCCESS)
}
