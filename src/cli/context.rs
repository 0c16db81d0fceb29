//! What a command starts from: the opened [`Workspace`] (config, store, feature graph) or the loaded config alone,
//! the features a [`FeatureSelector`] names, and the graph a `--snapshot` option denotes. Notes and warnings go to
//! stderr as Metaxy's CLI prints them.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cli::args::{Cli, Command, FeatureSelector, MetadataCommand};
use crate::cli::output::warn_graph_mismatches;
use crate::engine::config::MetaxyConfig;
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::workspace::{OpenOptions, Workspace};

/// Whether `cli`'s command only reads the store: every command but `metadata write | delete | drop | rebase |
/// copy`. Such a command keeps the store's reads open while it runs ([`OpenOptions::keep_reads_open`]: one DuckDB
/// open for the graph and every read instead of one per read).
fn reads_only(cli: &Cli) -> bool {
    !matches!(
        &cli.command,
        Some(Command::Metadata(
            MetadataCommand::Write { .. }
                | MetadataCommand::Delete { .. }
                | MetadataCommand::Drop { .. }
                | MetadataCommand::Rebase { .. }
                | MetadataCommand::Copy { .. }
        ))
    )
}

/// Opens the workspace of the global `--config-file` / `--store` options, at `snapshot` (a historical project
/// version) when given; notes on stderr when the graph comes from another store. A command that only reads keeps
/// the store's reads open until the workspace drops ([`reads_only`]).
pub fn open(cli: &Cli, snapshot: Option<String>) -> Result<Workspace> {
    let mut opts = OpenOptions::from_process();
    opts.config_file = cli.config_file.clone();
    opts.store = cli.store.clone();
    opts.snapshot = snapshot;
    opts.keep_reads_open = reads_only(cli);
    let ws = Workspace::open(&opts).context("cannot open the metadata store")?;
    if let Some(source) = &ws.graph_source {
        eprintln!(
            "note: store {:?} has no pushed feature graph; using the graph pushed to store {source:?}",
            ws.store.name()
        );
    }
    Ok(ws)
}

/// Opens the workspace of store `store` (not the global `--store`), for commands naming their stores
/// (`metadata copy --from`).
pub fn open_store_named(cli: &Cli, store: &str) -> Result<Workspace> {
    let mut opts = OpenOptions::from_process();
    opts.config_file = cli.config_file.clone();
    opts.store = Some(store.to_string());
    Workspace::open(&opts).context("cannot open the source store")
}

/// Loads the Metaxy config alone (no store opened), printing its warnings on stderr.
pub fn load_config(cli: &Cli) -> Result<(MetaxyConfig, OpenOptions)> {
    let opts = OpenOptions::from_process();
    let config = MetaxyConfig::load(cli.config_file.as_deref(), &opts.cwd, &opts.env)
        .context("cannot load the Metaxy config")?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok((config, opts))
}

/// The features `sel` names, each checked against the workspace's graph.
pub fn select(ws: &Workspace, sel: &FeatureSelector) -> Result<Vec<FeatureKey>> {
    select_keys(ws, sel, |k| ws.feature(k).map_err(anyhow::Error::from))
}

/// [`select`] for mutations: keys are only parsed; the engine's plan checks them (a feature of another project is
/// refused with its own error, `metaxy_tui::engine::ops::mutate::check_project`).
pub fn select_for_write(ws: &Workspace, sel: &FeatureSelector) -> Result<Vec<FeatureKey>> {
    select_keys(ws, sel, |k| {
        FeatureKey::parse(k).map_err(anyhow::Error::from)
    })
}

fn select_keys(
    ws: &Workspace,
    sel: &FeatureSelector,
    key: impl Fn(&str) -> Result<FeatureKey>,
) -> Result<Vec<FeatureKey>> {
    if sel.all_features {
        if !sel.features.is_empty() {
            bail!("give either feature keys or --all-features, not both");
        }
        return Ok(ws
            .graph
            .features
            .iter()
            .map(|f| f.spec.key.clone())
            .collect());
    }
    if sel.features.is_empty() {
        bail!("no features selected: pass feature keys (e.g. example/crop) or --all-features");
    }
    sel.features.iter().map(|k| key(k)).collect()
}

/// The graph a `--snapshot` option denotes (the workspace's current graph without one).
pub fn graph_for(ws: &Workspace, snapshot: Option<&str>) -> Result<Arc<FeatureGraph>> {
    let graph = match snapshot {
        None => ws.graph.clone(),
        Some(r) => ws.graph_at(r)?,
    };
    warn_graph_mismatches(&graph);
    Ok(graph)
}
