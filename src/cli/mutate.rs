//! Headless mutations: `metadata write`, `delete`, `rebase`, `copy`. Each command plans first (the engine's
//! `plan_*`, which only reads), prints the plan for `--dry-run`, and otherwise executes it. Messages follow Metaxy's
//! CLI (`✓ Deletion complete (soft delete)`, `✓ Rebased N row(s)`, `✓ Copy complete: ...`).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cli::output::frame_table;
use crate::cli::run::{out, out_json};
use crate::cli::Format;
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::mutate::{
    execute_copy, execute_delete, execute_rebase, execute_write, plan_copy, plan_delete,
    plan_rebase, plan_write, CopyRequest, DeletePlan, DeleteRequest,
};
use crate::engine::read::cols;
use crate::engine::samples::load_samples;
use crate::engine::store::open_store_for_write;
use crate::engine::workspace::Workspace;
use crate::engine::write::WriteOptions;

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

/// Columns worth showing in a preview of `key`'s rows: id columns, then the system columns that identify a row.
fn preview_columns(ws: &Workspace, key: &FeatureKey) -> Vec<String> {
    let mut c = ws
        .graph
        .get(key)
        .map(|d| d.spec.id_columns.clone())
        .unwrap_or_default();
    c.extend(
        [
            cols::FEATURE_VERSION,
            cols::PROVENANCE,
            cols::CREATED_AT,
            cols::UPDATED_AT,
            cols::DELETED_AT,
        ]
        .map(String::from),
    );
    c
}

/// `metadata write KEY --input FILE`.
pub fn write(
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
    crate::engine::mutate::check_project(&ws.graph, &key)?;
    let df = load_samples(input).with_context(|| format!("cannot read {}", input.display()))?;
    let plan = plan_write(
        ws.store.as_ref(),
        &ws.graph,
        &key,
        df,
        &WriteOptions {
            materialization_id,
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

/// `metadata delete KEY... [--filter SQL] [--soft|--hard] [--with-feature-history] [--cascade] [--dry-run] [--yes]`.
#[allow(clippy::too_many_arguments)]
pub fn delete(
    ws: &Workspace,
    keys: Vec<FeatureKey>,
    filters: &[String],
    hard: bool,
    with_feature_history: bool,
    with_sample_history: bool,
    cascade: bool,
    dry_run: bool,
    yes: bool,
    limit: usize,
    format: Format,
) -> Result<ExitCode> {
    if hard && filters.is_empty() && !yes && !dry_run {
        bail!("Hard deleting all metadata requires --yes flag to prevent accidental deletion. Use --yes to confirm, or provide --filter to restrict deletion.");
    }
    let req = DeleteRequest {
        features: keys,
        filters: filters.to_vec(),
        hard,
        with_feature_history,
        with_sample_history,
        cascade,
    };
    let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req)?;
    let mode = if hard { "hard" } else { "soft" };
    if dry_run {
        if format == Format::Json {
            out_json(&delete_plan_json(&plan, true, ws.store.name())?)?;
            return Ok(ExitCode::SUCCESS);
        }
        let history = if with_feature_history { "yes" } else { "no" };
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
        return Ok(ExitCode::SUCCESS);
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

/// `metadata rebase KEY --from V [--to V] [--dry-run]`.
pub fn rebase(
    ws: &Workspace,
    feature: &str,
    from: &str,
    to: Option<&str>,
    dry_run: bool,
    format: Format,
) -> Result<ExitCode> {
    let key = FeatureKey::parse(feature)?;
    let plan = match plan_rebase(ws.store.as_ref(), &ws.graph, &ws.pushed, &key, from, to) {
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

/// `metadata copy KEY...|--all-features --from A --to B [--filter SQL] [--no-with-feature-history]
/// [--with-sample-history]`.
#[allow(clippy::too_many_arguments)]
pub fn copy(
    ws: &Workspace,
    keys: Vec<FeatureKey>,
    to_store: &str,
    filters: &[String],
    with_feature_history: bool,
    with_sample_history: bool,
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
    let req = CopyRequest {
        features: Some(keys),
        filters: filters.to_vec(),
        with_feature_history,
        with_sample_history,
    };
    let plan = plan_copy(ws.store.as_ref(), &ws.graph, &req)?;
    for f in &plan {
        if let Some(s) = &f.skipped {
            eprintln!("note: {} skipped ({s})", f.feature);
        }
    }
    let stats = if dry_run {
        crate::engine::mutate::CopyStats {
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
