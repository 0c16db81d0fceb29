//! `history`: the pushed feature graphs (project versions) of a store, newest first (Metaxy `history`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cli::args::{Cli, Format};
use crate::cli::context::load_config;
use crate::cli::output::table::{align_right, render_rich, rich_table, table_title};
use crate::cli::output::{out, out_json};
use crate::engine::graph::snapshots;
use crate::engine::store::open_store;

/// `history`: pushed project versions of the configured project (all projects without one) in the selected store,
/// newest first, like `metaxy history` (which prints the same table on stderr).
pub fn run(cli: &Cli, limit: Option<usize>, format: Format) -> Result<ExitCode> {
    let (config, opts) = load_config(cli)?;
    let store_config = config.store_config(cli.store.as_deref())?;
    let store = open_store(store_config, &opts.cwd).context("cannot open the metadata store")?;
    let rows = store.system_rows()?;
    let all = snapshots(&rows, config.project.as_deref());
    let shown = &all[..limit.unwrap_or(all.len()).min(all.len())];
    if format == Format::Json {
        let list: Vec<Value> = shown
            .iter()
            .map(|s| {
                json!({
                    "project_version": s.project_version,
                    "recorded_at": s.recorded_at,
                    "feature_count": s.feature_count,
                })
            })
            .collect();
        out_json(&json!({
            "project": config.project,
            "store": store.name(),
            "snapshot_count": list.len(),
            "snapshots": list,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        eprintln!("No graph snapshots recorded yet");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = rich_table(&["Project version", "Recorded At", "Feature Count"]);
    for s in shown {
        let when = chrono::DateTime::from_timestamp_micros(s.recorded_at_us)
            .map(|d| d.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| s.recorded_at.clone());
        t.add_row(vec![
            s.project_version.clone(),
            when,
            s.feature_count.to_string(),
        ]);
    }
    align_right(&mut t, &[2]);
    let text = render_rich(&t);
    out(&format!(
        "{}{text}\n\nTotal snapshots: {}",
        table_title("Graph Snapshot History", &text),
        shown.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}
