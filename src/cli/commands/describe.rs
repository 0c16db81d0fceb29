//! `describe features` (feature definitions: versions, fields, field-level parents, dependencies, as Metaxy's
//! `describe features`) and `describe graph` (Metaxy's graph metrics table, from the engine's `describe_graph`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use crate::cli::args::{Cli, DescribeCommand, Format};
use crate::cli::context::{graph_for, open, select};
use crate::cli::output::table::{align_right, render_rich, rich_table, table_title};
use crate::cli::output::{out, out_json, warn_mismatches};
use crate::engine::graph::describe::describe_graph as describe_graph_metrics;
use crate::engine::keys::FeatureKey;
use crate::engine::workspace::Workspace;

/// Runs a `describe ...` command.
pub fn run(cli: &Cli, cmd: &DescribeCommand) -> Result<ExitCode> {
    match cmd {
        DescribeCommand::Features { selector, format } => {
            let ws = open(cli, None)?;
            describe_features(&ws, &select(&ws, selector)?, *format)
        }
        DescribeCommand::Graph { snapshot, format } => {
            describe_graph(&open(cli, None)?, snapshot.as_deref(), *format)
        }
    }
}

/// `describe features` data, the same dict Metaxy's `_collect_feature_data` builds.
fn feature_json(ws: &Workspace, key: &FeatureKey) -> Result<Value> {
    let g = &ws.graph;
    let f = g.require(key)?;
    let v = g.versions_of(key).context("versions missing")?;
    let mut fields = Vec::new();
    for (i, (fs, (_, fv))) in f.spec.fields.iter().zip(&v.field_versions).enumerate() {
        let mut m = Map::new();
        m.insert("key".into(), json!(fs.key.to_string()));
        m.insert("code_version".into(), json!(fs.code_version));
        m.insert("version".into(), json!(fv));
        if !f.spec.is_root() {
            let parents = g.parent_fields(key, i)?;
            let mut deps: Vec<(String, Vec<String>)> = Vec::new();
            for d in &f.spec.deps {
                let fl: Vec<String> = parents
                    .iter()
                    .filter(|(pk, _)| pk == &d.feature)
                    .map(|(_, pf)| pf.to_string())
                    .collect();
                if !fl.is_empty() {
                    deps.push((d.feature.to_string(), fl));
                }
            }
            if !deps.is_empty() {
                m.insert(
                    "deps".into(),
                    Value::Array(
                        deps.into_iter()
                            .map(|(k, fl)| json!({"feature": k, "fields": fl}))
                            .collect(),
                    ),
                );
            }
        }
        fields.push(Value::Object(m));
    }
    let deps: Vec<Value> = f
        .spec
        .deps
        .iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("feature".into(), json!(d.feature.to_string()));
            if let Some(s) = &d.select {
                m.insert("select".into(), json!(s));
            }
            if !d.rename.is_empty() {
                m.insert(
                    "rename".into(),
                    Value::Object(
                        d.rename
                            .iter()
                            .map(|(a, b)| (a.clone(), json!(b)))
                            .collect(),
                    ),
                );
            }
            if d.optional {
                m.insert("optional".into(), json!(true));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("project".into(), json!(f.pushed.project));
    m.insert("key".into(), json!(key.to_string()));
    m.insert("version".into(), json!(v.feature_version));
    m.insert("description".into(), json!(f.spec.description));
    m.insert("is_external".into(), json!(false));
    m.insert("source".into(), json!(f.pushed.feature_class_path));
    m.insert("id_columns".into(), json!(f.spec.id_columns));
    m.insert("fields".into(), Value::Array(fields));
    m.insert("dependencies".into(), Value::Array(deps));
    if f.spec.metadata.as_object().is_some_and(|o| !o.is_empty()) {
        m.insert("metadata".into(), f.spec.metadata.clone());
    }
    Ok(Value::Object(m))
}

/// `describe features`: [`feature_json`] of each key, as JSON (one object, or `{"features": [...]}`) or text.
fn describe_features(ws: &Workspace, keys: &[FeatureKey], format: Format) -> Result<ExitCode> {
    warn_mismatches(ws);
    let data: Vec<Value> = keys
        .iter()
        .map(|k| feature_json(ws, k))
        .collect::<Result<_>>()?;
    if format == Format::Json {
        if data.len() == 1 {
            out_json(&data[0])?;
        } else {
            out_json(&json!({"features": data}))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for (i, f) in data.iter().enumerate() {
        if i > 0 {
            text.push_str(&format!("\n{}\n\n", "─".repeat(60)));
        }
        let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
        text.push_str(&format!(
            "{} ({}) {}\nSource: {}\n",
            s("key"),
            s("version"),
            s("project"),
            s("source")
        ));
        if let Some(d) = f["description"].as_str() {
            text.push_str(&format!("\n  {}\n", d.trim()));
        }
        let ids: Vec<&str> = f["id_columns"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        text.push_str(&format!("\nID columns: {}\n\nFields:\n", ids.join(", ")));
        for fl in f["fields"].as_array().into_iter().flatten() {
            let mut line = format!(
                "  {} ({})",
                fl["key"].as_str().unwrap_or(""),
                fl["version"].as_str().unwrap_or("")
            );
            if let Some(deps) = fl["deps"].as_array() {
                let parts: Vec<String> = deps
                    .iter()
                    .map(|d| {
                        let fs: Vec<&str> = d["fields"]
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        format!(
                            "{}:({})",
                            d["feature"].as_str().unwrap_or(""),
                            fs.join(", ")
                        )
                    })
                    .collect();
                line.push_str(&format!(" ← {}", parts.join(", ")));
            }
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("\nDependencies:\n");
        let deps = f["dependencies"].as_array().cloned().unwrap_or_default();
        if deps.is_empty() {
            text.push_str("  none (root feature)\n");
        }
        for d in deps {
            let mut line = format!("  {}", d["feature"].as_str().unwrap_or(""));
            let mut opts = Vec::new();
            if let Some(sel) = d.get("select").and_then(Value::as_array) {
                let cols: Vec<&str> = sel.iter().filter_map(Value::as_str).collect();
                opts.push(if cols.is_empty() {
                    "select: none".to_string()
                } else {
                    format!("select: {}", cols.join(", "))
                });
            }
            if d.get("optional").is_some() {
                opts.push("optional".into());
            }
            if let Some(r) = d.get("rename").and_then(Value::as_object) {
                opts.push(format!(
                    "rename: {}",
                    r.iter()
                        .map(|(a, b)| format!("{a} → {}", b.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !opts.is_empty() {
                line.push_str(&format!(" | {}", opts.join(" | ")));
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `describe graph`: Metaxy's metrics table (title, table, root and leaf features); the "Describing ..." line goes
/// to stderr.
fn describe_graph(ws: &Workspace, snapshot: Option<&str>, format: Format) -> Result<ExitCode> {
    let graph = graph_for(ws, snapshot)?;
    let project = ws.config.project.as_deref();
    let info = describe_graph_metrics(&graph, project);
    if format == Format::Json {
        out_json(&serde_json::to_value(&info)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match snapshot {
        None => eprintln!("Describing current feature graph..."),
        Some(s) => eprintln!("Describing feature graph snapshot: {s}"),
    }
    let mut title = format!("Graph Snapshot: {}", info.metaxy_project_version);
    if let Some(p) = project {
        title.push_str(&format!(" (Project: {p})"));
    }
    let mut t = rich_table(&["Metric", "Value"]);
    match (info.filtered_features, &info.filter_project) {
        (Some(n), Some(p)) if n < info.total_features => {
            t.add_row(vec![
                "Total Features".to_string(),
                info.total_features.to_string(),
            ]);
            t.add_row(vec![format!("Features in {p}"), n.to_string()]);
        }
        (Some(n), _) => {
            t.add_row(vec!["Total Features".to_string(), n.to_string()]);
        }
        (None, _) => {
            t.add_row(vec![
                "Total Features".to_string(),
                info.total_features.to_string(),
            ]);
        }
    }
    t.add_row(vec![
        "Graph Depth".to_string(),
        info.graph_depth.to_string(),
    ]);
    t.add_row(vec![
        "Root Features".to_string(),
        info.root_features.len().to_string(),
    ]);
    t.add_row(vec![
        "Leaf Features".to_string(),
        info.leaf_features.len().to_string(),
    ]);
    align_right(&mut t, &[1]);
    let table_text = render_rich(&t);
    let mut text = format!("{}{table_text}\n", table_title(&title, &table_text));
    if info.projects.len() > 1 {
        text.push_str("\nFeatures by Project:\n");
        for (p, n) in &info.projects {
            text.push_str(&format!("  • {p}: {n} features\n"));
        }
    }
    for (heading, list) in [
        ("Root Features", &info.root_features),
        ("Leaf Features", &info.leaf_features),
    ] {
        if list.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{heading}:\n"));
        for k in list.iter().take(10) {
            text.push_str(&format!("  • {k}\n"));
        }
        if list.len() > 10 {
            text.push_str(&format!("  ... and {} more\n", list.len() - 10));
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}
