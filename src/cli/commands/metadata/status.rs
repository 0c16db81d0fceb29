//! `metadata status`: completeness and freshness of features (Metaxy `metadata status`): per feature the engine's
//! [`FeatureStatus`] (counts of missing, stale and orphaned samples), as Metaxy's JSON document
//! ([`status_document`]) or a table; `--assert-in-sync` turns "needs update" into exit code 1;
//! a feature whose status errors always does (unlike Metaxy 0.1.11, which exits 0).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{Format, IncrementFilters};
use crate::cli::output::table::{align_right, table};
use crate::cli::output::{out, out_json, warn_mismatches};
use crate::engine::keys::FeatureKey;
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::versioning::status::{status_document, FeatureStatus, StatusCategory};
use crate::engine::workspace::Workspace;

/// Runs `metadata status` on `keys`; `snapshot` is the historical project version checked against, if any.
pub fn run(
    ws: &Workspace,
    keys: &[FeatureKey],
    filters: &IncrementFilters,
    snapshot: Option<&str>,
    assert_in_sync: bool,
    format: Format,
) -> Result<ExitCode> {
    // bad filters are usage errors of the whole command, not per-feature errors
    for f in filters
        .filters
        .iter()
        .chain(&filters.global_filters)
        .chain(&filters.stale_if)
    {
        let _ = crate::engine::store::filter::parse_filter(f)?;
    }
    let opts = ResolveOptions {
        // counts only: the orphaned rows' user columns are never shown
        narrow_target: true,
        ..filters.resolve_options()
    };
    let statuses: Vec<FeatureStatus> = keys
        .iter()
        .map(|k| {
            let _t = crate::engine::timing::span(|| format!("status {k}"));
            ws.status(k, &opts)
        })
        .collect();
    let needs_update = statuses.iter().any(|s| s.needs_update);
    if format == Format::Json {
        out_json(&status_document(&statuses, snapshot))?;
    } else {
        warn_mismatches(ws);
        if let Some(s) = snapshot {
            out(&format!("Metadata status (snapshot {s})"))?;
        }
        let mut t = table(&[
            "Status",
            "Feature",
            "Materialized",
            "Missing",
            "Stale",
            "Orphaned",
            "Info",
        ]);
        for s in &statuses {
            let dash = |v: Option<usize>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            let info = match (&s.error_message, &s.store_metadata) {
                (Some(e), _) => e.clone(),
                (None, Some(m)) => match m.get("resolved_from") {
                    Some(r) => format!(
                        "{} → {}",
                        r["name"].as_str().unwrap_or(""),
                        r["table_name"]
                            .as_str()
                            .or_else(|| r["uri"].as_str())
                            .or_else(|| r["identifier"].as_str())
                            .or_else(|| r["display"].as_str())
                            .unwrap_or("")
                    ),
                    None => format!("{} (no table)", m["name"].as_str().unwrap_or("")),
                },
                _ => String::new(),
            };
            let materialized = if s.status == StatusCategory::Error {
                "-".to_string()
            } else {
                s.store_rows.to_string()
            };
            t.add_row(vec![
                s.status.icon().to_string(),
                s.feature_key.to_string(),
                materialized,
                dash(s.missing),
                dash(s.stale),
                dash(s.orphaned),
                info,
            ]);
        }
        align_right(&mut t, &[2, 3, 4, 5]);
        out(&t.to_string())?;
    }
    // a feature that could not be checked fails the command (and so a CI gate): a deliberate difference from
    // Metaxy 0.1.11, which exits 0 (issue 16 point 4)
    let errors = statuses
        .iter()
        .filter(|s| s.status == StatusCategory::Error)
        .count();
    if errors > 0 {
        eprintln!("error: {errors} feature(s) could not be checked (see the table / JSON for why)");
        return Ok(ExitCode::from(1));
    }
    if assert_in_sync && needs_update {
        eprintln!("metadata is out of sync");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
