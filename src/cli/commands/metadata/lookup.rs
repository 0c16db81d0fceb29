//! `metadata lookup`: where given samples are in every feature of the graph (the engine's
//! [`crate::engine::versioning::lookup::lookup`]): state, current row and, with `--with-sample-history`, every
//! stored row, per feature in topological order.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use crate::cli::args::Format;
use crate::cli::output::table::table;
use crate::cli::output::{out, out_json};
use crate::engine::schema as cols;
use crate::engine::versioning::cause::cause_text;
use crate::engine::versioning::lookup::{parse_ids, Lookup, LookupOptions, SampleLookup};
use crate::engine::workspace::Workspace;

/// Runs `metadata lookup` for the `--id` values `ids` (one sample each: `column=value[,column=value...]`).
pub fn run(
    ws: &Workspace,
    ids: &[String],
    with_sample_history: bool,
    format: Format,
) -> Result<ExitCode> {
    let ids = parse_ids(ids)?;
    let opts = LookupOptions {
        with_sample_history,
    };
    let found = crate::engine::view::lookup(ws, &ids, &opts)?;
    if format == Format::Json {
        out_json(&serde_json::to_value(&found)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out(&plain(&found))?;
    Ok(ExitCode::SUCCESS)
}

/// A cell of the current row (`-` when missing or null).
fn cell(s: &SampleLookup, column: &str) -> String {
    match s.row.as_ref().and_then(|r| r.get(column)) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(v)) => v.clone(),
        Some(v) => v.to_string(),
    }
}

/// The plain rendering: one table row per feature and sample, then the stale causes and errors.
pub fn plain(found: &Lookup) -> String {
    let samples: Vec<String> = found
        .ids
        .rows
        .iter()
        .map(|r| {
            found
                .ids
                .columns
                .iter()
                .zip(r)
                .map(|(c, v)| format!("{c}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let mut text = format!("lookup of {}\n", samples.join(" "));
    let mut t = table(&[
        "feature",
        "state",
        "ids",
        "feature version",
        "provenance",
        "updated at",
        "deleted at",
        "reached",
    ]);
    let mut notes = vec![];
    for f in &found.features {
        let reached = f
            .reached
            .clone()
            .unwrap_or_else(|| "no shared id column".into());
        if f.samples.is_empty() {
            t.add_row(vec![
                f.feature.clone(),
                "-".into(),
                "-".into(),
                f.feature_version.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                reached.clone(),
            ]);
        }
        for s in &f.samples {
            let ids: Vec<String> = s.ids.iter().map(|(c, v)| format!("{c}={v}")).collect();
            t.add_row(vec![
                f.feature.clone(),
                s.state.label().to_string(),
                ids.join(","),
                cell(s, cols::FEATURE_VERSION),
                cell(s, cols::PROVENANCE),
                cell(s, cols::UPDATED_AT),
                cell(s, cols::DELETED_AT),
                reached.clone(),
            ]);
            if let Some(c) = &s.cause {
                notes.push(format!(
                    "{} {}: stale because {}",
                    f.feature,
                    ids.join(","),
                    cause_text(c)
                ));
            }
            for h in &s.history {
                notes.push(format!(
                    "{} {}: stored row {}",
                    f.feature,
                    ids.join(","),
                    serde_json::to_string(h).unwrap_or_default()
                ));
            }
        }
        if let Some(e) = &f.error {
            notes.push(format!("{}: {e}", f.feature));
        }
    }
    text.push_str(&t.to_string());
    for n in notes {
        text.push('\n');
        text.push_str(&n);
    }
    text
}
