//! Graph-level metrics, the data behind `metaxy describe graph` (Metaxy `metaxy.graph.describe.describe_graph`):
//! feature count, depth of the longest dependency chain, root and leaf features, features per project.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;

/// Metrics of one feature graph. Serialises to the dict Metaxy's `describe_graph` returns (same keys and order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphDescription {
    /// Project version of the described graph.
    pub metaxy_project_version: String,
    /// Number of features in the graph.
    pub total_features: usize,
    /// Length of the longest dependency chain, counted in features (a lone root feature has depth 1; an empty
    /// graph 0). Dependencies missing from the graph count as depth 1, as in Metaxy.
    pub graph_depth: usize,
    /// Features without dependencies, sorted.
    pub root_features: Vec<String>,
    /// Features no other feature depends on, sorted.
    pub leaf_features: Vec<String>,
    /// Feature count per project.
    pub projects: BTreeMap<String, usize>,
    /// With a project filter: the number of features of that project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered_features: Option<usize>,
    /// With a project filter: the project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_project: Option<String>,
}

/// Describes `graph`; with `project`, depth, roots and leaves only consider that project's features (Metaxy's
/// `describe_graph(graph, project=...)`), while `total_features` and `projects` cover the whole graph.
pub fn describe_graph(graph: &FeatureGraph, project: Option<&str>) -> GraphDescription {
    let selected: Vec<&FeatureKey> = graph
        .features
        .iter()
        .filter(|f| project.is_none_or(|p| f.pushed.project == p))
        .map(|f| &f.spec.key)
        .collect();
    let mut memo: HashMap<FeatureKey, usize> = HashMap::new();
    let graph_depth = selected
        .iter()
        .map(|k| depth(graph, k, &mut memo, &mut Vec::new()))
        .max()
        .unwrap_or(0);
    let mut root_features: Vec<String> = selected
        .iter()
        .filter(|k| graph.get(k).is_some_and(|f| f.spec.deps.is_empty()))
        .map(|k| k.to_string())
        .collect();
    root_features.sort();
    let depended_on: std::collections::HashSet<&FeatureKey> = selected
        .iter()
        .filter_map(|k| graph.get(k))
        .flat_map(|f| f.spec.deps.iter().map(|d| &d.feature))
        .collect();
    let mut leaf_features: Vec<String> = selected
        .iter()
        .filter(|k| !depended_on.contains(*k))
        .map(|k| k.to_string())
        .collect();
    leaf_features.sort();
    let mut projects = BTreeMap::new();
    for f in &graph.features {
        *projects.entry(f.pushed.project.clone()).or_insert(0) += 1;
    }
    GraphDescription {
        metaxy_project_version: graph.project_version.clone(),
        total_features: graph.features.len(),
        graph_depth,
        root_features,
        leaf_features,
        projects,
        filtered_features: project.map(|_| selected.len()),
        filter_project: project.map(str::to_string),
    }
}

/// Depth of `key`: 1 for a root or a feature missing from the graph, else 1 + the deepest dependency. A
/// dependency cycle contributes 0 where it closes (Metaxy's guard), so the recursion always ends.
fn depth(
    graph: &FeatureGraph,
    key: &FeatureKey,
    memo: &mut HashMap<FeatureKey, usize>,
    path: &mut Vec<FeatureKey>,
) -> usize {
    if path.contains(key) {
        return 0;
    }
    if let Some(&d) = memo.get(key) {
        return d;
    }
    let Some(f) = graph.get(key) else {
        return 1;
    };
    path.push(key.clone());
    let deepest = f
        .spec
        .deps
        .iter()
        .map(|d| depth(graph, &d.feature, memo, path))
        .max()
        .unwrap_or(0);
    path.pop();
    memo.insert(key.clone(), deepest + 1);
    deepest + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::diff::tests::graph;

    #[test]
    fn metrics_of_a_diamond() {
        let g = graph(
            "v1",
            &[
                ("a/root", &[], &[("x", "1", None)]),
                ("a/left", &["a/root"], &[("x", "1", None)]),
                ("a/right", &["a/root"], &[("x", "1", None)]),
                ("a/join", &["a/left", "a/right"], &[("x", "1", None)]),
                ("b/alone", &[], &[("y", "1", None)]),
            ],
        );
        let d = describe_graph(&g, None);
        assert_eq!(d.metaxy_project_version, "v1");
        assert_eq!(d.total_features, 5);
        assert_eq!(d.graph_depth, 3);
        assert_eq!(d.root_features, ["a/root", "b/alone"]);
        assert_eq!(d.leaf_features, ["a/join", "b/alone"]);
        assert_eq!(d.projects.get("p"), Some(&5));
        assert_eq!(d.filtered_features, None);
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(
            j.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "metaxy_project_version",
                "total_features",
                "graph_depth",
                "root_features",
                "leaf_features",
                "projects"
            ]
        );
        let p = describe_graph(&g, Some("p"));
        assert_eq!(p.filtered_features, Some(5));
        assert_eq!(p.filter_project.as_deref(), Some("p"));
        let other = describe_graph(&g, Some("other"));
        assert_eq!(
            (
                other.filtered_features,
                other.graph_depth,
                other.total_features
            ),
            (Some(0), 0, 5)
        );
        assert!(other.root_features.is_empty() && other.leaf_features.is_empty());
    }

    #[test]
    fn a_single_root_has_depth_one() {
        let g = graph("v1", &[("a/root", &[], &[("x", "1", None)])]);
        let d = describe_graph(&g, None);
        assert_eq!(
            (d.graph_depth, d.root_features.len(), d.leaf_features.len()),
            (1, 1, 1)
        );
    }
}
