//! Headless output: stdout writers (data), stderr diagnostics shared by several commands, and the renderers in the
//! submodules (comfy-table tables drawn like Metaxy's rich tables, the feature graph as a tree / Mermaid / DOT /
//! JSON, and a `tomli_w`-compatible TOML writer).

pub mod graph;
pub mod table;
pub mod toml;

use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use crate::engine::graph::FeatureGraph;
use crate::engine::workspace::Workspace;

/// Writes `s` and a newline (when missing) to stdout.
pub fn out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    if !s.ends_with('\n') {
        o.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes `v` as pretty JSON to stdout.
pub fn out_json(v: &Value) -> Result<()> {
    out(&serde_json::to_string_pretty(v)?)
}

/// Warns on stderr about every stored version of the workspace's graph that differs from the recomputed one.
pub fn warn_mismatches(ws: &Workspace) {
    warn_graph_mismatches(&ws.graph);
}

/// Warns on stderr about every stored version of `graph` that differs from the recomputed one
/// ([`FeatureGraph::mismatches`]).
pub fn warn_graph_mismatches(graph: &FeatureGraph) {
    for m in graph.mismatches() {
        eprintln!(
            "warning: {} {}: stored {} but recomputed {}",
            m.feature, m.what, m.stored, m.computed
        );
    }
}
