//! `metadata delete KEY... [--filter SQL] [--soft|--hard] [--with-feature-history] [--cascade] [--dry-run] [--yes]`
//! (Metaxy `metadata delete`): soft by default (tombstone rows with `metaxy_deleted_at`), or hard (physically
//! remove rows). The engine's `plan_delete` / `execute_delete`; messages follow Metaxy's CLI
//! (`✓ Deletion complete (soft delete)`).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::cli::args::Format;
use crate::cli::output::table::{frame_table, preview_columns};
use crate::cli::output::{out, out_json};
use crate::engine::json::df_to_json_rows;
use crate::engine::ops::mutate::{execute_delete, plan_delete, DeletePlan, DeleteRequest};
use crate::engine::workspace::Workspace;

/// Asks `question [y/N]` on stderr when stdin is a terminal; `Ok(true)` without asking otherwise.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Asks for `expected` to be typed on a terminal (stderr prompt); `Ok(false)` when stdin is not a terminal or the
/// answer differs. Guards a delete of every row of a feature (issue 16 point 3).
pub(super) fn confirm_typed(question: &str, expected: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} Type {expected} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == expected)
}

/// The JSON document of a delete plan (per feature: rows, filters, version, cascade origin, skip reason, warning,
/// and the rows themselves in a dry run).
fn delete_plan_json(plan: &DeletePlan, dry_run: bool, store: &str) -> Result<Value> {
    let mut features = Vec::new();
    for f in &plan.features {
        features.push(json!({
            "feature": f.feature.to_string(),
            "rows": f.rows.height(),
            "filters": f.filters,
            "feature_version": f.feature_version,
            "cascaded_from": f.cascaded_from.as_ref().map(|k| k.to_string()),
            "skipped": f.skipped,
            "warning": f.warning,
            "preview": if dry_run { Value::Array(df_to_json_rows(&f.rows, None)?) } else { Value::Null },
        }));
    }
    Ok(json!({
        "store": store,
        "mode": if plan.request.hard { "hard" } else { "soft" },
        "with_feature_history": plan.request.with_feature_history,
        "dry_run": dry_run,
        "total_rows": plan.total_rows(),
        "features": features,
    }))
}

/// Runs `metadata delete` for `req`: `--dry-run` prints the plan (at most `limit` preview rows per feature in
/// plain output); a hard delete asks for confirmation on a terminal unless `yes`; an unfiltered soft delete needs
/// `yes` or the feature key typed on a terminal.
pub fn run(
    ws: &Workspace,
    req: &DeleteRequest,
    dry_run: bool,
    yes: bool,
    limit: usize,
    format: Format,
) -> Result<ExitCode> {
    let hard = req.hard;
    if hard && req.filters.is_empty() && !yes && !dry_run {
        bail!("Hard deleting all metadata requires --yes flag to prevent accidental deletion. Use --yes to confirm, or provide --filter to restrict deletion.");
    }
    let plan = plan_delete(ws.store.as_ref(), &ws.graph, req)?;
    let mode = if hard { "hard" } else { "soft" };
    if dry_run {
        if format == Format::Json {
            out_json(&delete_plan_json(&plan, true, ws.store.name())?)?;
            return Ok(ExitCode::SUCCESS);
        }
        return print_dry_run(ws, req, &plan, limit);
    }
    // a soft delete of every row of a feature: `--yes`, or the feature key(s) typed on a terminal (stricter than
    // Metaxy 0.1.11, which asks nothing)
    if !hard && req.filters.is_empty() && !yes && plan.total_rows() > 0 {
        let keys: Vec<String> = req.features.iter().map(|k| k.to_string()).collect();
        let expected = keys.join(" ");
        let q = format!(
            "Soft delete every row ({}) of {} in store {:?}?",
            plan.total_rows(),
            expected,
            ws.store.name()
        );
        if !confirm_typed(&q, &expected)? {
            bail!("Soft deleting every row of a feature requires --yes (or a --filter to restrict the deletion); nothing was deleted.");
        }
    }
    if hard && !yes && plan.total_rows() > 0 {
        let q = format!(
            "Hard delete {} row(s) from {} feature(s) in store {:?}? This cannot be undone.",
            plan.total_rows(),
            plan.features.iter().filter(|f| f.rows.height() > 0).count(),
            ws.store.name()
        );
        if !confirm(&q)? {
            eprintln!("Aborted; nothing was deleted.");
            return Ok(ExitCode::from(1));
        }
    }
    for f in &plan.features {
        if let Some(w) = &f.warning {
            eprintln!("warning: {w}");
        }
    }
    let done = execute_delete(ws.store.as_ref(), &ws.graph, &plan)?;
    if format == Format::Json {
        let mut v = delete_plan_json(&plan, false, ws.store.name())?;
        v["deleted"] = done
            .iter()
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        out_json(&v)?;
    } else {
        for (k, n) in &done {
            eprintln!("  • {k}: {n} row(s)");
        }
        eprintln!("✓ Deletion complete ({mode} delete)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The plain `--dry-run` output: the plan summary on stderr, then each feature's preview table on stdout.
fn print_dry_run(
    ws: &Workspace,
    req: &DeleteRequest,
    plan: &DeletePlan,
    limit: usize,
) -> Result<ExitCode> {
    let mode = if req.hard { "hard" } else { "soft" };
    let filters = &req.filters;
    let history = if req.with_feature_history {
        "yes"
    } else {
        "no"
    };
    let mut text = format!(
        "Dry run ({mode} delete, with_feature_history={history})\n\nStore: {}\n\nFeatures ({}):\n",
        ws.store.name(),
        plan.features.len()
    );
    for f in &plan.features {
        let mut line = format!("  • {} ({} rows)", f.feature, f.rows.height());
        if let Some(up) = &f.cascaded_from {
            line.push_str(&format!(" [cascade from {up}]"));
        }
        if let Some(s) = &f.skipped {
            line.push_str(&format!(" [skipped: {s}]"));
        }
        text.push_str(&line);
        text.push('\n');
        if let Some(w) = &f.warning {
            text.push_str(&format!("    warning: {w}\n"));
        }
    }
    text.push_str(&format!(
        "\nTotal rows to delete: {}\n\nFilters:\n",
        plan.total_rows()
    ));
    if filters.is_empty() {
        text.push_str("  (none)\n");
    }
    for f in filters {
        text.push_str(&format!("  • {f}\n"));
    }
    eprint!("{text}");
    for f in &plan.features {
        if f.rows.height() == 0 {
            continue;
        }
        let shown = f.rows.head(Some(limit));
        out(&format!(
            "{} ({} of {} row(s)):",
            f.feature,
            shown.height(),
            f.rows.height()
        ))?;
        out(&frame_table(&shown, Some(&preview_columns(ws, &f.feature)))?.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}
