//! `graph render` (the feature graph as a terminal tree, Mermaid, Graphviz DOT or JSON) and `graph-diff` (Metaxy's
//! merged view of two pushed graphs). The renderers live in `output::graph`; the diff is the engine's
//! [`diff_graphs`].

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::args::{
    Cli, DiffFormat, GraphCommand, GraphDiffArgs, GraphDiffCommand, GraphDiffSubcommand,
    RenderFormat,
};
use crate::cli::context::{graph_for, open};
use crate::cli::output::graph as render;
use crate::cli::output::{out, out_json, warn_graph_mismatches};
use crate::engine::graph::diff::{diff_graphs, DiffStatus};
use crate::engine::workspace::Workspace;

/// Runs a `graph ...` command.
pub fn render(cli: &Cli, cmd: &GraphCommand) -> Result<ExitCode> {
    match cmd {
        GraphCommand::Render { format, snapshot } => {
            graph_render(&open(cli, None)?, snapshot.as_deref(), *format)
        }
    }
}

/// Runs `graph-diff [render] FROM [TO]` (both spellings take the same arguments).
pub fn diff(cli: &Cli, cmd: &GraphDiffCommand) -> Result<ExitCode> {
    let args = match &cmd.render {
        Some(GraphDiffSubcommand::Render(a)) => a,
        None => &cmd.args,
    };
    graph_diff(&open(cli, None)?, args)
}

/// `graph render`: the graph (current or `--snapshot`) as a terminal tree, Mermaid, Graphviz DOT or JSON.
fn graph_render(ws: &Workspace, snapshot: Option<&str>, format: RenderFormat) -> Result<ExitCode> {
    let graph = graph_for(ws, snapshot)?;
    match format {
        RenderFormat::Terminal => out(&render::graph_terminal(&graph))?,
        RenderFormat::Mermaid => out(&render::graph_mermaid(&graph))?,
        RenderFormat::Graphviz => out(&render::graph_graphviz(&graph))?,
        RenderFormat::Json => out_json(&render::graph_json(&graph))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `graph-diff FROM [TO]`: Metaxy's merged view of two pushed graphs (plain, JSON or Mermaid).
fn graph_diff(ws: &Workspace, args: &GraphDiffArgs) -> Result<ExitCode> {
    let from_ref = args
        .from
        .as_deref()
        .context("FROM is required: a project version, `latest` or `current`")?;
    let from = ws
        .graph_at(from_ref)
        .with_context(|| format!("cannot load FROM graph {from_ref:?}"))?;
    let to = ws
        .graph_at(&args.to)
        .with_context(|| format!("cannot load TO graph {:?}", args.to))?;
    for g in [&from, &to] {
        warn_graph_mismatches(g);
    }
    let diff = diff_graphs(&from, &to);
    let count = |st: DiffStatus| diff.with_status(st).count();
    eprintln!(
        "{} → {}: {} added, {} removed, {} changed, {} unchanged",
        diff.from_project_version,
        diff.to_project_version,
        count(DiffStatus::Added),
        count(DiffStatus::Removed),
        count(DiffStatus::Changed),
        count(DiffStatus::Unchanged)
    );
    match args.format {
        DiffFormat::Plain => out(&render::diff_plain(&diff))?,
        DiffFormat::Json => out_json(&diff.to_metaxy_json())?,
        DiffFormat::Mermaid => out(&render::diff_mermaid(&diff))?,
    }
    Ok(ExitCode::SUCCESS)
}
