//! Text renderings of a feature graph (`graph render`) and of a graph diff (`graph-diff`).
//!
//! Where Metaxy 0.1.11 prints something, the output is Metaxy's, byte for byte: the terminal tree of
//! `metaxy graph render` (rich `Tree`), the merged view of `metaxy graph-diff render` (`DiffFormatter`), its JSON and
//! its Mermaid chart. Two deliberate differences keep the machine-readable formats valid:
//! * Graphviz: Metaxy's CLI prints its DOT through rich, whose markup parser eats every `[attr=...]` list; we print
//!   the DOT its `GraphvizRenderer` builds, attributes included.
//! * Mermaid: Metaxy puts HTML attributes in double quotes inside double-quoted node labels, which ends the label
//!   early; we quote those attributes with single quotes (and never wrap long lines, as rich does).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{json, Value};

use crate::engine::graph::diff::{DiffStatus, FeatureDiff, FieldChangeKind, GraphDiff};
use crate::engine::graph::FeatureGraph;

/// Metaxy's `format_hash`: the first `length` characters (all of them when shorter or `length == 0`).
fn short(hash: &str, length: usize) -> &str {
    if length == 0 || length >= hash.len() {
        hash
    } else {
        hash.get(..length).unwrap_or(hash)
    }
}

/// Feature indices in Metaxy's display order (`GraphWalker.topological_sort`): features by key (case-insensitive),
/// each preceded by its not-yet-listed dependencies, visited in key order.
pub fn display_order(graph: &FeatureGraph) -> Vec<usize> {
    fn lower_sorted<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
        let mut v: Vec<&String> = keys.collect();
        v.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
        v
    }
    let keys: Vec<String> = graph
        .features
        .iter()
        .map(|f| f.spec.key.to_string())
        .collect();
    let index: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let deps: Vec<Vec<String>> = graph
        .features
        .iter()
        .map(|f| f.spec.deps.iter().map(|d| d.feature.to_string()).collect())
        .collect();
    fn visit(
        i: usize,
        deps: &[Vec<String>],
        index: &HashMap<&str, usize>,
        seen: &mut HashSet<usize>,
        out: &mut Vec<usize>,
    ) {
        if !seen.insert(i) {
            return;
        }
        for d in lower_sorted(deps[i].iter()) {
            if let Some(&j) = index.get(d.as_str()) {
                visit(j, deps, index, seen, out);
            }
        }
        out.push(i);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for k in lower_sorted(keys.iter()) {
        visit(index[k.as_str()], &deps, &index, &mut seen, &mut out);
    }
    out
}

/// A rich-style tree node.
struct Tree {
    label: String,
    children: Vec<Tree>,
}

impl Tree {
    fn new(label: impl Into<String>) -> Self {
        Tree {
            label: label.into(),
            children: vec![],
        }
    }

    fn render(&self) -> String {
        let mut out = format!("{}\n", self.label);
        self.render_children("", &mut out);
        out
    }

    fn render_children(&self, prefix: &str, out: &mut String) {
        let n = self.children.len();
        for (i, c) in self.children.iter().enumerate() {
            let last = i + 1 == n;
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&c.label);
            out.push('\n');
            let next = format!("{prefix}{}", if last { "    " } else { "│   " });
            c.render_children(&next, out);
        }
    }
}

/// `metaxy graph render` (terminal, default options): a tree of features in display order, each with its project,
/// version, fields with versions, and dependencies. Ends with an empty line, as Metaxy's output does.
pub fn graph_terminal(graph: &FeatureGraph) -> String {
    let mut root = Tree::new(format!(
        "📊 Graph (snapshot: {})",
        short(&graph.project_version, 8)
    ));
    for i in display_order(graph) {
        let f = &graph.features[i];
        let v = &graph.versions[i];
        let mut node = Tree::new(format!(
            "{} (project: {}) (v: {})",
            f.spec.key,
            f.pushed.project,
            short(&v.feature_version, 8)
        ));
        let mut fields = Tree::new("🔧 fields");
        for (key, version) in &v.field_versions {
            fields
                .children
                .push(Tree::new(format!("{key} (v: {})", short(version, 8))));
        }
        node.children.push(fields);
        if !f.spec.deps.is_empty() {
            let mut deps = Tree::new("⬅️  depends on");
            for d in &f.spec.deps {
                deps.children.push(Tree::new(d.feature.to_string()));
            }
            node.children.push(deps);
        }
        root.children.push(node);
    }
    format!("{}\n", root.render())
}

/// Escapes text placed inside a double-quoted DOT string.
fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `metaxy graph render --format graphviz` as Metaxy's `GraphvizRenderer` builds it: a `strict digraph` with one
/// node per feature (display order; roots as double octagons), one edge per dependency (push order) and one dashed
/// satellite node per field.
pub fn graph_graphviz(graph: &FeatureGraph) -> String {
    const FEATURE_COLOR: &str = "#00FFFF";
    const FIELD_COLOR: &str = "#5F87AF";
    let mut lines = vec![
        "strict digraph {".to_string(),
        "    rankdir=TB;".to_string(),
        format!(
            "    label=\"Graph (snapshot: {})\";",
            dot_text(short(&graph.project_version, 8))
        ),
        "    labelloc=t;".to_string(),
        "    fontsize=14;".to_string(),
        "    fontname=helvetica;".to_string(),
        String::new(),
    ];
    for i in display_order(graph) {
        let f = &graph.features[i];
        let key = dot_text(&f.spec.key.to_string());
        let shape = if f.spec.deps.is_empty() {
            "doubleoctagon"
        } else {
            "box"
        };
        lines.push(format!(
            "    \"{key}\" [label=\"{key}\\nv: {}\", shape={shape}, color=\"{FEATURE_COLOR}\"];",
            dot_text(short(&graph.versions[i].feature_version, 8))
        ));
    }
    lines.push(String::new());
    for f in &graph.features {
        for d in &f.spec.deps {
            lines.push(format!(
                "    \"{}\" -> \"{}\";",
                dot_text(&d.feature.to_string()),
                dot_text(&f.spec.key.to_string())
            ));
        }
    }
    lines.push(String::new());
    for (f, v) in graph.features.iter().zip(&graph.versions) {
        let parent = dot_text(&f.spec.key.to_string());
        for (key, version) in &v.field_versions {
            let field = dot_text(key);
            lines.push(format!(
                "    \"{parent}::{field}\" [label=\"{field}\\nv: {}\", shape=ellipse, color=\"{FIELD_COLOR}\", fontsize=10];",
                dot_text(short(version, 8))
            ));
            lines.push(format!(
                "    \"{parent}\" -> \"{parent}::{field}\" [style=dashed, arrowhead=none];"
            ));
        }
    }
    lines.push("}".to_string());
    format!("{}\n", lines.join("\n"))
}

/// Words Mermaid's flowchart grammar reserves; a node id equal to one of them breaks the chart.
const MERMAID_RESERVED: &[&str] = &[
    "end",
    "graph",
    "flowchart",
    "subgraph",
    "style",
    "classdef",
    "class",
    "click",
    "linkstyle",
    "direction",
    "call",
    "href",
    "callback",
    "interpolate",
    "default",
];

/// Mermaid node ids for `keys`: `sanitize(key)` (Metaxy's scheme), made safe and unique — ids that are reserved
/// words or that two keys share get a numeric suffix.
fn mermaid_ids<'a>(
    keys: impl Iterator<Item = &'a str>,
    sanitize: impl Fn(&str) -> String,
) -> HashMap<String, String> {
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut ids = HashMap::new();
    for key in keys {
        if ids.contains_key(key) {
            continue;
        }
        let base: String = sanitize(key)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut id = base.clone();
        let mut n = 1;
        while used.contains(&id) || MERMAID_RESERVED.contains(&id.to_lowercase().as_str()) {
            n += 1;
            id = format!("{base}_{n}");
        }
        used.insert(id.clone());
        ids.insert(key.to_string(), id);
    }
    ids
}

/// Escapes text placed inside a double-quoted Mermaid label (Mermaid entity codes).
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

const MERMAID_INIT: &str = "    %%{init: {'flowchart': {'htmlLabels': true, 'curve': 'basis'}, 'themeVariables': {'fontSize': '14px'}}}%%";

/// `graph render --format mermaid`: a Mermaid `flowchart` following Metaxy's `MermaidRenderer` (HTML labels with
/// key, project, version and fields; one link per dependency), with valid quoting.
pub fn graph_mermaid(graph: &FeatureGraph) -> String {
    let order = display_order(graph);
    let keys: Vec<String> = graph
        .features
        .iter()
        .map(|f| f.spec.key.to_string())
        .collect();
    let ids = mermaid_ids(order.iter().map(|&i| keys[i].as_str()), |k| {
        k.replace(['/', '-'], "_").replace("__", "_").to_lowercase()
    });
    let mut lines = vec![
        "---".to_string(),
        "title: Feature Graph".to_string(),
        "---".to_string(),
        "flowchart TB".to_string(),
        format!(
            "    %% Snapshot version: {}",
            short(&graph.project_version, 8)
        ),
        MERMAID_INIT.to_string(),
    ];
    for &i in &order {
        let f = &graph.features[i];
        let v = &graph.versions[i];
        let mut parts = vec![
            format!("<b>{}</b>", mermaid_text(&keys[i])),
            format!(
                "<small><font color='#666'>Project: {}</font></small>",
                mermaid_text(&f.pushed.project)
            ),
            mermaid_text(short(&v.feature_version, 8)),
        ];
        if !v.field_versions.is_empty() {
            parts.push("<font color='#999'>---</font>".to_string());
            for (key, version) in &v.field_versions {
                parts.push(format!(
                    "- {} ({})",
                    mermaid_text(key),
                    mermaid_text(short(version, 8))
                ));
            }
        }
        lines.push(format!(
            "    {}[\"<div style='text-align:left'>{}</div>\"]",
            ids[&keys[i]],
            parts.join("<br/>")
        ));
    }
    lines.push(String::new());
    for &i in &order {
        for d in &graph.features[i].spec.deps {
            if let Some(from) = ids.get(&d.feature.to_string()) {
                lines.push(format!("    {from} --> {}", ids[&keys[i]]));
            }
        }
    }
    format!("{}\n", lines.join("\n"))
}

/// `graph render --format json`: `{project, project_version, nodes: [{key, project, feature_version,
/// definition_version, is_root, fields: [{key, code_version, version, deps?}], dependencies}], edges: [{from, to}]}`,
/// nodes in display order; a field's `deps` lists its parent fields per upstream feature (omitted for root
/// features and when field-level resolution failed).
pub fn graph_json(graph: &FeatureGraph) -> Value {
    let order = display_order(graph);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for &i in &order {
        let f = &graph.features[i];
        let v = &graph.versions[i];
        let fields: Vec<Value> = f
            .spec
            .fields
            .iter()
            .zip(&v.field_versions)
            .enumerate()
            .map(|(j, (fs, (key, version)))| {
                let mut m = serde_json::Map::new();
                m.insert("key".into(), json!(key));
                m.insert("code_version".into(), json!(fs.code_version));
                m.insert("version".into(), json!(version));
                if let (false, Ok(parents)) =
                    (f.spec.deps.is_empty(), graph.parent_fields(&f.spec.key, j))
                {
                    let deps: Vec<Value> = f
                        .spec
                        .deps
                        .iter()
                        .filter_map(|d| {
                            let fl: Vec<String> = parents
                                .iter()
                                .filter(|(pk, _)| pk == &d.feature)
                                .map(|(_, pf)| pf.to_string())
                                .collect();
                            (!fl.is_empty())
                                .then(|| json!({"feature": d.feature.to_string(), "fields": fl}))
                        })
                        .collect();
                    m.insert("deps".into(), Value::Array(deps));
                }
                Value::Object(m)
            })
            .collect();
        let deps: Vec<String> = f.spec.deps.iter().map(|d| d.feature.to_string()).collect();
        for d in &deps {
            edges.push(json!({"from": d, "to": f.spec.key.to_string()}));
        }
        nodes.push(json!({
            "key": f.spec.key.to_string(),
            "project": f.pushed.project,
            "feature_version": v.feature_version,
            "definition_version": v.definition_version,
            "is_root": f.spec.deps.is_empty(),
            "fields": fields,
            "dependencies": deps,
        }));
    }
    json!({
        "project": graph.project,
        "project_version": graph.project_version,
        "nodes": nodes,
        "edges": edges,
    })
}

/// Field keys a merged-view entry shows: its fields plus the keys of its field changes (removed fields), sorted.
fn shown_fields(f: &FeatureDiff) -> Vec<String> {
    let mut keys: BTreeSet<String> = f.fields.iter().map(|x| x.key.clone()).collect();
    keys.extend(f.field_changes.iter().map(|c| c.field.clone()));
    keys.into_iter().collect()
}

/// `metaxy graph-diff render FROM TO` (terminal): Metaxy's merged view — unchanged, then changed, added and removed
/// features, each group by key; versions shortened to 8 characters plus `...`.
pub fn diff_plain(diff: &GraphDiff) -> String {
    if diff.features.is_empty() {
        return "Empty graph (no features)\n".to_string();
    }
    let h = |v: &Option<String>| {
        v.as_deref()
            .map(|s| short(s, 8).to_string())
            .unwrap_or_else(|| "none".into())
    };
    let mut sorted: Vec<&FeatureDiff> = diff.features.iter().collect();
    sorted.sort_by(|a, b| a.status.cmp(&b.status).then(a.key.cmp(&b.key)));
    let mut lines = vec!["Feature Graph (merged view):".to_string(), String::new()];
    for f in sorted {
        let (symbol, text) = match f.status {
            DiffStatus::Added => ("+", "(added)"),
            DiffStatus::Removed => ("-", "(removed)"),
            DiffStatus::Changed => ("~", "(changed)"),
            DiffStatus::Unchanged => (" ", ""),
        };
        lines.push(format!("{symbol} {} {text}", f.key));
        lines.push(match f.status {
            DiffStatus::Removed => format!("  version: {}...", h(&f.old_version)),
            DiffStatus::Changed => format!(
                "  version: {}... → {}...",
                h(&f.old_version),
                h(&f.new_version)
            ),
            DiffStatus::Added | DiffStatus::Unchanged => {
                format!("  version: {}...", h(&f.new_version))
            }
        });
        if !f.dependencies.is_empty() {
            lines.push(format!("  depends on: {}", f.dependencies.join(", ")));
        }
        if !f.fields.is_empty() {
            lines.push("  fields:".to_string());
            for key in shown_fields(f) {
                match f.field_changes.iter().find(|c| c.field == key) {
                    Some(c) => lines.push(match c.kind {
                        FieldChangeKind::Added => format!("    + {key} ({}...)", h(&c.new_version)),
                        FieldChangeKind::Removed => {
                            format!("    - {key} ({}...)", h(&c.old_version))
                        }
                        FieldChangeKind::Changed => format!(
                            "    ~ {key} ({}... → {}...)",
                            h(&c.old_version),
                            h(&c.new_version)
                        ),
                    }),
                    None => {
                        let version = f
                            .fields
                            .iter()
                            .find(|x| x.key == key)
                            .map(|x| x.version.as_str())
                            .filter(|v| !v.is_empty());
                        lines.push(format!(
                            "      {key} ({}...)",
                            version.map(|v| short(v, 8)).unwrap_or("none")
                        ));
                    }
                }
            }
        }
        lines.push(String::new());
    }
    format!("{}\n", lines.join("\n"))
}

/// `metaxy graph-diff render FROM TO --format mermaid`: Metaxy's chart (`DiffFormatter.format_mermaid_merged`) —
/// every feature with 6-character versions, changed ones with `old → new` and an orange border, added green, removed
/// red — with HTML attributes single-quoted so that the labels parse.
pub fn diff_mermaid(diff: &GraphDiff) -> String {
    let mut lines = vec![
        "---".to_string(),
        "title: Feature Graph Changes".to_string(),
        "---".to_string(),
        "flowchart TB".to_string(),
        MERMAID_INIT.to_string(),
        String::new(),
    ];
    if diff.features.is_empty() {
        lines.push("    Empty[No features]".to_string());
        return format!("{}\n", lines.join("\n"));
    }
    let ids = mermaid_ids(
        diff.features.iter().map(|f| f.key.as_str()).chain(
            diff.edges
                .iter()
                .flat_map(|e| [e.from.as_str(), e.to.as_str()]),
        ),
        |k| k.replace(['/', '-'], "_"),
    );
    let h6 = |v: &Option<String>| {
        v.as_deref()
            .map(|s| mermaid_text(short(s, 6)))
            .unwrap_or_else(|| "none".into())
    };
    let old_new = |old: &Option<String>, new: &Option<String>| {
        format!(
            "<font color='#CC0000'>{}</font> → <font color='#00AA00'>{}</font>",
            h6(old),
            h6(new)
        )
    };
    for f in &diff.features {
        let id = &ids[&f.key];
        let mut parts = vec![format!("<b>{}</b>", mermaid_text(&f.key))];
        parts.push(match f.status {
            DiffStatus::Changed => old_new(&f.old_version, &f.new_version),
            DiffStatus::Removed => h6(&f.old_version),
            DiffStatus::Added | DiffStatus::Unchanged => h6(&f.new_version),
        });
        if !f.fields.is_empty() {
            parts.push("<font color='#999'>---</font>".to_string());
            for key in shown_fields(f) {
                let k = mermaid_text(&key);
                match f.field_changes.iter().find(|c| c.field == key) {
                    Some(c) => parts.push(match c.kind {
                        FieldChangeKind::Added => format!(
                            "<font color='#00AA00'>- {k} ({})</font>",
                            h6(&c.new_version)
                        ),
                        FieldChangeKind::Removed => format!(
                            "<font color='#CC0000'>- {k} ({})</font>",
                            h6(&c.old_version)
                        ),
                        FieldChangeKind::Changed => format!(
                            "- <font color='#FFAA00'>{k}</font> ({})",
                            old_new(&c.old_version, &c.new_version)
                        ),
                    }),
                    None => {
                        if let Some(v) = f
                            .fields
                            .iter()
                            .find(|x| x.key == key)
                            .map(|x| x.version.as_str())
                            .filter(|v| !v.is_empty())
                        {
                            parts.push(format!("- {k} ({})", mermaid_text(short(v, 6))));
                        }
                    }
                }
            }
        }
        lines.push(format!(
            "    {id}[\"<div style='text-align:left'>{}</div>\"]",
            parts.join("<br/>")
        ));
        match f.status {
            DiffStatus::Added => {
                lines.push(format!("    style {id} stroke:#00FF00,stroke-width:2px"))
            }
            DiffStatus::Removed => {
                lines.push(format!("    style {id} stroke:#FF0000,stroke-width:2px"))
            }
            DiffStatus::Changed => {
                lines.push(format!("    style {id} stroke:#FFAA00,stroke-width:2px"))
            }
            DiffStatus::Unchanged => {}
        }
    }
    lines.push(String::new());
    for e in &diff.edges {
        lines.push(format!("    {} --> {}", ids[&e.from], ids[&e.to]));
    }
    lines.push(String::new());
    format!("{}\n", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_ids_avoid_reserved_words_and_collisions() {
        let ids = mermaid_ids(["end", "a-b/c", "a_b/c", "example/crop"].into_iter(), |k| {
            k.replace(['/', '-'], "_")
        });
        assert_eq!(ids["end"], "end_2");
        assert_eq!(ids["a-b/c"], "a_b_c");
        assert_eq!(ids["a_b/c"], "a_b_c_2");
        assert_eq!(ids["example/crop"], "example_crop");
    }

    #[test]
    fn hashes_are_shortened_like_metaxy() {
        assert_eq!(short("34d75856", 8), "34d75856");
        assert_eq!(short("34d75856", 6), "34d758");
        assert_eq!(short("34d75856abcdef", 0), "34d75856abcdef");
        assert_eq!(short("abc", 8), "abc");
    }

    #[test]
    fn trees_use_rich_guides() {
        let mut root = Tree::new("root");
        let mut a = Tree::new("a");
        a.children.push(Tree::new("a1"));
        root.children.push(a);
        root.children.push(Tree::new("b"));
        assert_eq!(root.render(), "root\n├── a\n│   └── a1\n└── b\n");
    }
}
