//! Comparing two feature graphs, typically two pushed project versions (Metaxy `metaxy graph-diff render`,
//! `metaxy.graph.diff.differ.GraphDiffer`).
//!
//! Semantics follow Metaxy 0.1.11 exactly:
//! * a feature is **added** / **removed** when its key is only in the newer / older graph;
//! * a feature present in both is **changed** when its *definition* version differs (spec or schema changed), and
//!   **unchanged** otherwise — even when its feature version moved because an upstream feature changed (both
//!   versions are kept, see [`FeatureDiff::version_changed`]);
//! * for changed features, field changes compare field versions by field key: fields only in the newer graph are
//!   added, fields only in the older graph removed, fields whose version differs changed (each group sorted by key);
//! * the merged view lists every feature of both graphs sorted by key, with dependencies and fields taken from the
//!   newer graph (from the older one for removed features), and one edge per dependency.
//!
//! Everything here is pure: [`diff_graphs`] only reads the two [`FeatureGraph`] values.

use serde::Serialize;
use serde_json::{json, Value};

use crate::engine::graph::FeatureGraph;

/// How a feature differs between the two graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffStatus {
    /// Same definition version in both graphs.
    Unchanged,
    /// Definition version differs.
    Changed,
    /// Only in the newer graph.
    Added,
    /// Only in the older graph.
    Removed,
}

impl DiffStatus {
    /// The lower-case name (`"unchanged"`, `"changed"`, `"added"`, `"removed"`), as in Metaxy's JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            DiffStatus::Unchanged => "unchanged",
            DiffStatus::Changed => "changed",
            DiffStatus::Added => "added",
            DiffStatus::Removed => "removed",
        }
    }
}

/// How a field of a changed feature differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldChangeKind {
    /// Only in the newer graph.
    Added,
    /// Only in the older graph.
    Removed,
    /// In both, with different field versions.
    Changed,
}

/// A changed field of a changed feature (Metaxy `FieldChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field key (`audio`, `audio/french`).
    pub field: String,
    /// What changed.
    pub kind: FieldChangeKind,
    /// Field version in the older graph (`None` when added).
    pub old_version: Option<String>,
    /// Field version in the newer graph (`None` when removed).
    pub new_version: Option<String>,
}

/// A field with its version, as shown in the merged view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldVersion {
    /// Field key.
    pub key: String,
    /// Code version from the spec.
    pub code_version: String,
    /// Field version.
    pub version: String,
}

/// One feature of the merged view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureDiff {
    /// Feature key (`example/crop`).
    pub key: String,
    /// How it differs.
    pub status: DiffStatus,
    /// Feature version in the older graph (`None` when added).
    pub old_version: Option<String>,
    /// Feature version in the newer graph (`None` when removed).
    pub new_version: Option<String>,
    /// Definition version in the older graph (`None` when added).
    pub old_definition_version: Option<String>,
    /// Definition version in the newer graph (`None` when removed).
    pub new_definition_version: Option<String>,
    /// Upstream features in spec order (newer graph; older graph for removed features).
    pub dependencies: Vec<String>,
    /// Fields in spec order with their versions (newer graph; older graph for removed features).
    pub fields: Vec<FieldVersion>,
    /// For changed features: added, then removed, then changed fields, each group sorted by key. Empty otherwise.
    pub field_changes: Vec<FieldChange>,
}

impl FeatureDiff {
    /// Whether the feature version differs between the graphs. True for every changed feature whose fields
    /// changed, and also for *unchanged* features downstream of a change (their definition is the same but an
    /// upstream field version moved). False for added and removed features.
    pub fn version_changed(&self) -> bool {
        matches!((&self.old_version, &self.new_version), (Some(a), Some(b)) if a != b)
    }
}

/// A dependency edge of the merged view: `from` is the upstream feature, `to` the feature depending on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffEdge {
    /// Upstream feature key.
    pub from: String,
    /// Downstream feature key.
    pub to: String,
}

/// The difference between two feature graphs, as a merged view of both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphDiff {
    /// Project of the newer graph.
    pub project: String,
    /// Project version of the older graph.
    pub from_project_version: String,
    /// Project version of the newer graph.
    pub to_project_version: String,
    /// Every feature of either graph, sorted by key.
    pub features: Vec<FeatureDiff>,
    /// One edge per dependency of each feature of [`Self::features`], in that order (dependencies in spec order).
    pub edges: Vec<DiffEdge>,
}

impl GraphDiff {
    /// Whether any feature was added, removed or changed.
    pub fn has_changes(&self) -> bool {
        self.features
            .iter()
            .any(|f| f.status != DiffStatus::Unchanged)
    }

    /// Features with the given status, in key order.
    pub fn with_status(&self, status: DiffStatus) -> impl Iterator<Item = &FeatureDiff> {
        self.features.iter().filter(move |f| f.status == status)
    }

    /// The merged-view entry of a feature.
    pub fn feature(&self, key: &str) -> Option<&FeatureDiff> {
        self.features.iter().find(|f| f.key == key)
    }

    /// The document `metaxy graph-diff render FROM TO --format json` prints (Metaxy
    /// `DiffFormatter.format_json_merged`): `{"nodes": {key: {status, old_version, new_version, dependencies,
    /// field_changes: [{field_key, old_version, new_version, is_added, is_removed, is_changed}]}}, "edges":
    /// [{from, to}]}`.
    pub fn to_metaxy_json(&self) -> Value {
        let mut nodes = serde_json::Map::new();
        for f in &self.features {
            let changes: Vec<Value> = f
                .field_changes
                .iter()
                .map(|c| {
                    json!({
                        "field_key": c.field,
                        "old_version": c.old_version,
                        "new_version": c.new_version,
                        "is_added": c.kind == FieldChangeKind::Added,
                        "is_removed": c.kind == FieldChangeKind::Removed,
                        "is_changed": c.kind == FieldChangeKind::Changed,
                    })
                })
                .collect();
            nodes.insert(
                f.key.clone(),
                json!({
                    "status": f.status.as_str(),
                    "old_version": f.old_version,
                    "new_version": f.new_version,
                    "dependencies": f.dependencies,
                    "field_changes": changes,
                }),
            );
        }
        let edges: Vec<Value> = self
            .edges
            .iter()
            .map(|e| json!({"from": e.from, "to": e.to}))
            .collect();
        json!({"nodes": Value::Object(nodes), "edges": edges})
    }
}

/// What the diff needs of one feature of one graph.
struct Side {
    feature_version: String,
    definition_version: String,
    dependencies: Vec<String>,
    fields: Vec<FieldVersion>,
}

fn side(graph: &FeatureGraph, index: usize) -> Side {
    let f = &graph.features[index];
    let v = &graph.versions[index];
    Side {
        feature_version: v.feature_version.clone(),
        definition_version: v.definition_version.clone(),
        dependencies: f.spec.deps.iter().map(|d| d.feature.to_string()).collect(),
        fields: f
            .spec
            .fields
            .iter()
            .zip(&v.field_versions)
            .map(|(fs, (key, version))| FieldVersion {
                key: key.clone(),
                code_version: fs.code_version.clone(),
                version: version.clone(),
            })
            .collect(),
    }
}

/// Field changes between two versions of a feature (Metaxy `GraphDiffer._compute_field_changes`).
fn field_changes(old: &[FieldVersion], new: &[FieldVersion]) -> Vec<FieldChange> {
    let find = |list: &[FieldVersion], key: &str| {
        list.iter()
            .find(|f| f.key == key)
            .map(|f| f.version.clone())
    };
    let mut added: Vec<FieldChange> = new
        .iter()
        .filter(|f| find(old, &f.key).is_none())
        .map(|f| FieldChange {
            field: f.key.clone(),
            kind: FieldChangeKind::Added,
            old_version: None,
            new_version: Some(f.version.clone()),
        })
        .collect();
    let mut removed: Vec<FieldChange> = old
        .iter()
        .filter(|f| find(new, &f.key).is_none())
        .map(|f| FieldChange {
            field: f.key.clone(),
            kind: FieldChangeKind::Removed,
            old_version: Some(f.version.clone()),
            new_version: None,
        })
        .collect();
    let mut changed: Vec<FieldChange> = old
        .iter()
        .filter_map(|f| {
            let newer = find(new, &f.key)?;
            (newer != f.version).then(|| FieldChange {
                field: f.key.clone(),
                kind: FieldChangeKind::Changed,
                old_version: Some(f.version.clone()),
                new_version: Some(newer),
            })
        })
        .collect();
    for group in [&mut added, &mut removed, &mut changed] {
        group.sort_by(|a, b| a.field.cmp(&b.field));
    }
    added.into_iter().chain(removed).chain(changed).collect()
}

/// Compares `from` (the older graph) with `to` (the newer graph). See the module docs for the rules.
pub fn diff_graphs(from: &FeatureGraph, to: &FeatureGraph) -> GraphDiff {
    let mut keys: Vec<String> = from
        .features
        .iter()
        .chain(&to.features)
        .map(|f| f.spec.key.to_string())
        .collect();
    // Metaxy sorts with key=str.lower; keys are lower-case already, the second criterion only makes ties total.
    keys.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    keys.dedup();
    let index_of = |g: &FeatureGraph, key: &str| {
        g.features
            .iter()
            .position(|f| f.spec.key.to_string() == key)
    };
    let mut features = Vec::with_capacity(keys.len());
    let mut edges = Vec::new();
    for key in keys {
        let old = index_of(from, &key).map(|i| side(from, i));
        let new = index_of(to, &key).map(|i| side(to, i));
        let diff = match (old, new) {
            (None, Some(n)) => FeatureDiff {
                key,
                status: DiffStatus::Added,
                old_version: None,
                new_version: Some(n.feature_version),
                old_definition_version: None,
                new_definition_version: Some(n.definition_version),
                dependencies: n.dependencies,
                fields: n.fields,
                field_changes: vec![],
            },
            (Some(o), None) => FeatureDiff {
                key,
                status: DiffStatus::Removed,
                old_version: Some(o.feature_version),
                new_version: None,
                old_definition_version: Some(o.definition_version),
                new_definition_version: None,
                dependencies: o.dependencies,
                fields: o.fields,
                field_changes: vec![],
            },
            (Some(o), Some(n)) => {
                let changed = o.definition_version != n.definition_version;
                FeatureDiff {
                    key,
                    status: if changed {
                        DiffStatus::Changed
                    } else {
                        DiffStatus::Unchanged
                    },
                    field_changes: if changed {
                        field_changes(&o.fields, &n.fields)
                    } else {
                        vec![]
                    },
                    old_version: Some(o.feature_version),
                    new_version: Some(n.feature_version),
                    old_definition_version: Some(o.definition_version),
                    new_definition_version: Some(n.definition_version),
                    dependencies: n.dependencies,
                    fields: n.fields,
                }
            }
            (None, None) => unreachable!("every key comes from one of the graphs"),
        };
        for dep in &diff.dependencies {
            edges.push(DiffEdge {
                from: dep.clone(),
                to: diff.key.clone(),
            });
        }
        features.push(diff);
    }
    GraphDiff {
        project: to.project.clone(),
        from_project_version: from.project_version.clone(),
        to_project_version: to.project_version.clone(),
        features,
        edges,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::graph::{FeatureDef, FeatureSpec, PushedFeature};

    /// A field of a test feature: key, code version, and `Some(upstream feature, upstream fields)` for explicit deps.
    pub(crate) type TestField<'a> = (&'a str, &'a str, Option<(&'a str, &'a [&'a str])>);

    /// A test feature: key, dependencies, fields.
    pub(crate) type TestFeature<'a> = (&'a str, &'a [&'a str], &'a [TestField<'a>]);

    /// Builds a graph the way the system table would describe it (specs in Metaxy's stored JSON grammar).
    pub(crate) fn graph(project_version: &str, features: &[TestFeature]) -> FeatureGraph {
        let defs = features
            .iter()
            .map(|(key, deps, fields)| {
                let deps: Vec<Value> = deps
                    .iter()
                    .map(|d| {
                        json!({"feature": d, "select": null, "rename": null,
                        "fields_mapping": {"mapping": {"type": "default", "match_suffix": false, "exclude_fields": []}},
                        "sql_filters": null, "lineage": {"relationship": {"type": "1:1"}}, "optional": false})
                    })
                    .collect();
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|(k, cv, dep)| match dep {
                        None => json!({"key": k, "code_version": cv, "deps": []}),
                        Some((f, fs)) => {
                            json!({"key": k, "code_version": cv, "deps": [{"feature": f, "fields": fs}]})
                        }
                    })
                    .collect();
                let spec = json!({"key": key, "id_columns": ["sample_uid"], "deps": deps, "fields": fields,
                    "metadata": {}, "description": null});
                FeatureDef {
                    spec: FeatureSpec::from_json(spec.clone()).unwrap(),
                    pushed: PushedFeature {
                        project: "p".into(),
                        feature_key: key.to_string(),
                        feature_version: String::new(),
                        definition_version: String::new(),
                        recorded_at: String::new(),
                        recorded_at_us: 0,
                        feature_spec: spec.to_string(),
                        feature_schema: "{}".into(),
                        feature_class_path: format!("p.{key}"),
                        project_version: project_version.into(),
                        tags: "{}".into(),
                    },
                }
            })
            .collect();
        FeatureGraph::new("p".into(), project_version.into(), defs, 8).unwrap()
    }

    fn v1() -> FeatureGraph {
        graph(
            "v1",
            &[
                ("a/root", &[], &[("x", "1", None), ("y", "1", None)]),
                (
                    "a/mid",
                    &["a/root"],
                    &[
                        ("x", "1", Some(("a/root", &["x"]))),
                        ("y", "1", Some(("a/root", &["y"]))),
                    ],
                ),
                ("a/leaf", &["a/mid"], &[("z", "1", Some(("a/mid", &["x"])))]),
                ("a/gone", &["a/root"], &[("g", "1", None)]),
            ],
        )
    }

    fn v2() -> FeatureGraph {
        graph(
            "v2",
            &[
                ("a/root", &[], &[("x", "2", None), ("y", "1", None)]),
                (
                    "a/mid",
                    &["a/root"],
                    &[
                        ("w", "1", Some(("a/root", &["y"]))),
                        ("x", "1", Some(("a/root", &["x"]))),
                    ],
                ),
                ("a/leaf", &["a/mid"], &[("z", "1", Some(("a/mid", &["x"])))]),
                ("a/new", &["a/leaf", "a/root"], &[("n", "1", None)]),
            ],
        )
    }

    #[test]
    fn identical_graphs_have_no_changes() {
        let d = diff_graphs(&v1(), &v1());
        assert!(!d.has_changes());
        assert_eq!(d.features.len(), 4);
        assert!(d
            .features
            .iter()
            .all(|f| f.status == DiffStatus::Unchanged && !f.version_changed()));
        assert!(d.features.iter().all(|f| f.field_changes.is_empty()));
    }

    #[test]
    fn statuses_follow_definition_versions() {
        let (a, b) = (v1(), v2());
        let d = diff_graphs(&a, &b);
        assert_eq!(
            (
                d.from_project_version.as_str(),
                d.to_project_version.as_str()
            ),
            ("v1", "v2")
        );
        let keys: Vec<&str> = d.features.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["a/gone", "a/leaf", "a/mid", "a/new", "a/root"]);
        let status = |k: &str| d.feature(k).unwrap().status;
        assert_eq!(status("a/gone"), DiffStatus::Removed);
        assert_eq!(status("a/new"), DiffStatus::Added);
        assert_eq!(status("a/root"), DiffStatus::Changed);
        assert_eq!(status("a/mid"), DiffStatus::Changed);
        // a/leaf's spec is identical, but its upstream field a/mid.x moved with a/root.x: Metaxy calls it unchanged
        let leaf = d.feature("a/leaf").unwrap();
        assert_eq!(leaf.status, DiffStatus::Unchanged);
        assert!(leaf.version_changed());
        assert_eq!(
            leaf.new_version.as_deref(),
            b.feature_version(&"a/leaf".parse_key())
        );
        assert_eq!(
            leaf.old_version.as_deref(),
            a.feature_version(&"a/leaf".parse_key())
        );
        assert_eq!(d.with_status(DiffStatus::Changed).count(), 2);
        assert!(d.has_changes());
    }

    #[test]
    fn added_and_removed_features_carry_their_own_side() {
        let (a, b) = (v1(), v2());
        let d = diff_graphs(&a, &b);
        let gone = d.feature("a/gone").unwrap();
        assert_eq!(gone.new_version, None);
        assert_eq!(
            gone.old_version.as_deref(),
            a.feature_version(&"a/gone".parse_key())
        );
        assert_eq!(gone.dependencies, ["a/root"]);
        assert_eq!(gone.fields.len(), 1);
        assert!(gone.field_changes.is_empty());
        let new = d.feature("a/new").unwrap();
        assert_eq!(new.old_version, None);
        assert_eq!(new.old_definition_version, None);
        assert_eq!(new.dependencies, ["a/leaf", "a/root"]);
        assert!(!new.version_changed());
    }

    #[test]
    fn field_changes_are_added_then_removed_then_changed() {
        let (a, b) = (v1(), v2());
        let d = diff_graphs(&a, &b);
        let mid = d.feature("a/mid").unwrap();
        let got: Vec<(&str, FieldChangeKind)> = mid
            .field_changes
            .iter()
            .map(|c| (c.field.as_str(), c.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("w", FieldChangeKind::Added),
                ("y", FieldChangeKind::Removed),
                ("x", FieldChangeKind::Changed)
            ]
        );
        let ver = |g: &FeatureGraph, f: &str| {
            g.versions_of(&"a/mid".parse_key())
                .unwrap()
                .field_versions
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(mid.field_changes[0].old_version, None);
        assert_eq!(mid.field_changes[0].new_version, ver(&b, "w"));
        assert_eq!(mid.field_changes[1].old_version, ver(&a, "y"));
        assert_eq!(mid.field_changes[1].new_version, None);
        assert_eq!(mid.field_changes[2].old_version, ver(&a, "x"));
        assert_eq!(mid.field_changes[2].new_version, ver(&b, "x"));
        assert_ne!(
            mid.field_changes[2].old_version,
            mid.field_changes[2].new_version
        );
        // fields of the merged view come from the newer graph, in spec order
        let keys: Vec<&str> = mid.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["w", "x"]);
        // a/root: only x's code version changed
        let root = d.feature("a/root").unwrap();
        assert_eq!(root.field_changes.len(), 1);
        assert_eq!(root.field_changes[0].field, "x");
    }

    #[test]
    fn a_definition_change_without_field_changes_is_changed_with_no_field_changes() {
        let a = graph("v1", &[("a/root", &[], &[("x", "1", None)])]);
        let mut b = graph("v2", &[("a/root", &[], &[("x", "1", None)])]);
        // same spec, different schema: the definition version moves, the field versions do not
        b.features[0].pushed.feature_schema = r#"{"title": "Root"}"#.into();
        let b = FeatureGraph::new("p".into(), "v2".into(), b.features.clone(), 8).unwrap();
        let d = diff_graphs(&a, &b);
        let root = d.feature("a/root").unwrap();
        assert_eq!(root.status, DiffStatus::Changed);
        assert!(root.field_changes.is_empty());
        assert!(!root.version_changed());
    }

    #[test]
    fn edges_follow_merged_order_and_spec_order() {
        let d = diff_graphs(&v1(), &v2());
        let edges: Vec<(&str, &str)> = d
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            edges,
            [
                ("a/root", "a/gone"),
                ("a/mid", "a/leaf"),
                ("a/root", "a/mid"),
                ("a/leaf", "a/new"),
                ("a/root", "a/new"),
            ]
        );
    }

    #[test]
    fn metaxy_json_has_metaxys_shape() {
        let d = diff_graphs(&v1(), &v2());
        let j = d.to_metaxy_json();
        let nodes = j["nodes"].as_object().unwrap();
        assert_eq!(
            nodes.keys().collect::<Vec<_>>(),
            ["a/gone", "a/leaf", "a/mid", "a/new", "a/root"]
        );
        assert_eq!(nodes["a/gone"]["status"], "removed");
        assert_eq!(nodes["a/gone"]["new_version"], Value::Null);
        let w = &nodes["a/mid"]["field_changes"][0];
        assert_eq!(w["field_key"], "w");
        assert_eq!(
            (&w["is_added"], &w["is_removed"], &w["is_changed"]),
            (&json!(true), &json!(false), &json!(false))
        );
        assert_eq!(j["edges"][0], json!({"from": "a/root", "to": "a/gone"}));
        // the typed value serialises too (for other consumers)
        let typed = serde_json::to_value(&d).unwrap();
        assert_eq!(typed["features"][0]["status"], "removed");
        assert_eq!(typed["features"][2]["field_changes"][0]["kind"], "added");
    }

    trait ParseKey {
        fn parse_key(&self) -> crate::engine::keys::FeatureKey;
    }

    impl ParseKey for str {
        fn parse_key(&self) -> crate::engine::keys::FeatureKey {
            crate::engine::keys::FeatureKey::parse(self).unwrap()
        }
    }
}
