//! Tests of the mutation plans (write, delete, rebase, copy).

use super::*;
use crate::engine::graph::diff::tests::graph;

fn key(s: &str) -> FeatureKey {
    FeatureKey::parse(s).unwrap()
}

/// `graph`'s rows as the system table would hold them: recomputed versions stored, pushed by `project`.
fn rows(g: &FeatureGraph, project: &str, recorded_at_us: i64) -> Vec<PushedFeature> {
    g.features
        .iter()
        .zip(&g.versions)
        .map(|(f, v)| PushedFeature {
            project: project.into(),
            feature_version: v.feature_version.clone(),
            recorded_at_us,
            ..f.pushed.clone()
        })
        .collect()
}

#[test]
fn features_only_another_project_pushed_are_foreign() {
    let ours = graph("v1", &[("a/root", &[], &[("x", "1", None)])]);
    let theirs = graph(
        "w1",
        &[
            ("a/root", &[], &[("x", "1", None)]),
            ("b/clip", &[], &[("y", "1", None)]),
        ],
    );
    let mut pushed = rows(&ours, "ours", 1);
    pushed.extend(rows(&theirs, "theirs", 2));
    // the newest push is theirs, but the config selects ours
    let g = FeatureGraph::from_rows(&pushed, Some("ours"), None, 8, "dev").unwrap();
    assert_eq!(g.other_projects_of(&key("b/clip")), ["theirs".to_string()]);
    // a key both projects pushed is ours
    assert!(g.other_projects_of(&key("a/root")).is_empty());
    assert!(check_project(&g, &key("a/root")).is_ok());
    match check_project(&g, &key("b/clip")) {
        Err(EngineError::ForeignProject {
            feature,
            projects,
            project,
        }) => {
            assert_eq!(feature, "b/clip");
            assert_eq!(projects, "\"theirs\"");
            assert_eq!(project, "ours");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_project(&g, &key("c/none")),
        Err(EngineError::UnknownFeature(..))
    ));
    // a definition carrying another project (a graph built by hand) is refused too
    let mut g2 = ours.clone();
    g2.project = "elsewhere".into();
    assert!(matches!(
        check_project(&g2, &key("a/root")),
        Err(EngineError::ForeignProject { .. })
    ));
}

#[test]
fn a_recomputed_version_other_than_the_stored_one_is_refused() {
    let g = graph("v1", &[("a/root", &[], &[("x", "1", None)])]);
    let computed = g.feature_version(&key("a/root")).unwrap().to_string();
    let mut ok = g.clone();
    ok.features[0].pushed.feature_version = computed.clone();
    assert!(check_pushed_version(&ok, &key("a/root")).is_ok());
    let mut bad = g.clone();
    bad.features[0].pushed.feature_version = "deadbeef".into();
    let err = check_pushed_version(&bad, &key("a/root")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("recomputed from the pushed graph is {computed}")),
        "{text}"
    );
    assert!(
        text.contains("stores deadbeef for project version v1"),
        "{text}"
    );
    assert!(text.contains("`metaxy push`"), "{text}");
}
