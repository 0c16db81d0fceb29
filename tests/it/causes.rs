//! Stale-sample causes (which upstream `feature.field` data versions changed) against what the scenarios did:
//! s02 bumped `audio` of some samples of the root and `frames` of others (the new provenance strings say which:
//! `audio-v2-...`), s06 soft-deleted `example/stt` rows, which the optional dep of `example/av_report` then lacks.

use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::versioning::cause::{stale_causes, summary_line};
use metaxy_tui::engine::versioning::resolve::ResolveOptions;

use crate::common::*;

#[test]
fn stale_causes_name_the_upstream_fields_that_changed() {
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s02_mutated");
        let steps =
            json(scenario_dir_in(b, "s02_mutated").join("expected/steps/01_example__video.json"));
        let mut truth = std::collections::HashMap::new();
        for r in steps["changed"].as_array().unwrap() {
            let pbf = &r["metaxy_provenance_by_field"];
            let field = if pbf["audio"].as_str().unwrap().contains("-v2-") {
                "audio"
            } else {
                "frames"
            };
            truth.insert(
                r["sample_uid"].as_str().unwrap().to_string(),
                (field, pbf.clone()),
            );
        }
        let crop = FeatureKey::parse("example/crop").unwrap();
        let inc = ws.increment(&crop, &ResolveOptions::default()).unwrap();
        let causes = stale_causes(ws.store.as_ref(), &ws.graph, &inc, None).unwrap();
        assert_eq!(causes.len(), 10, "{b}");
        for c in &causes {
            let (field, pbf) = &truth[&c.key[0]];
            assert_eq!(
                c.label(),
                format!("example/video.{field}"),
                "{b} {:?}",
                c.key
            );
            assert_eq!(
                c.fields.len(),
                1,
                "{b}: only the crop field of that name changed"
            );
            let f = &c.fields[0];
            assert!(f.resolved);
            assert_eq!(f.field, *field);
            assert_eq!(f.changed[0].now, pbf[*field].as_str().unwrap(), "{b}");
            assert_eq!(
                f.changed[0].was,
                pbf[*field].as_str().unwrap().replace("-v2-", "-v1-"),
                "{b}"
            );
        }
        assert_eq!(
            summary_line(&causes),
            "10 stale: 5 because example/video.audio changed, 5 because example/video.frames changed",
            "{b}"
        );
        let stt = FeatureKey::parse("example/stt").unwrap();
        let inc = ws.increment(&stt, &ResolveOptions::default()).unwrap();
        let causes = stale_causes(ws.store.as_ref(), &ws.graph, &inc, None).unwrap();
        assert_eq!(
            summary_line(&causes),
            "3 stale: 3 because example/video.audio changed",
            "{b}"
        );
    }
}

#[test]
fn a_soft_deleted_optional_parent_is_the_cause() {
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s06_soft_delete");
        let key = FeatureKey::parse("example/av_report").unwrap();
        let inc = ws.increment(&key, &ResolveOptions::default()).unwrap();
        let causes = stale_causes(ws.store.as_ref(), &ws.graph, &inc, None).unwrap();
        assert_eq!(
            summary_line(&causes),
            "8 stale: 8 because example/stt.transcription changed",
            "{b}"
        );
        for c in &causes {
            let ch = &c.fields[0].changed[0];
            assert_eq!(
                ch.now, "",
                "{b}: the deleted sample has no transcription now"
            );
            assert!(!ch.was.is_empty(), "{b}");
        }
    }
}

#[test]
fn expansion_lineage_causes_follow_the_parent() {
    // example/chunk expands example/video 1:N: its stale samples (keyed by the parent's sample_uid) have the same
    // causes as the video rows they came from
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s02_mutated");
        let steps =
            json(scenario_dir_in(b, "s02_mutated").join("expected/steps/01_example__video.json"));
        let key = FeatureKey::parse("example/chunk").unwrap();
        let inc = ws.increment(&key, &ResolveOptions::default()).unwrap();
        let causes = stale_causes(ws.store.as_ref(), &ws.graph, &inc, None).unwrap();
        assert_eq!(causes.len(), 10, "{b}");
        for c in &causes {
            let row = steps["changed"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["sample_uid"] == c.key[0].as_str())
                .unwrap();
            let field = if row["metaxy_provenance_by_field"]["audio"]
                .as_str()
                .unwrap()
                .contains("-v2-")
            {
                "audio"
            } else {
                "frames"
            };
            assert_eq!(
                c.label(),
                format!("example/video.{field}"),
                "{b} {:?}",
                c.key
            );
        }
    }
}

#[test]
fn the_increment_command_reports_causes_and_can_skip_them() {
    let dir = scenario_dir("s02_mutated");
    let out = run_binary(
        &dir,
        &["metadata", "increment", "example/crop", "--format", "json"],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["stale_causes"];
    assert_eq!(c["samples_examined"], 10);
    assert_eq!(c["summary"][0]["count"], 5);
    assert_eq!(c["samples"].as_array().unwrap().len(), 10);
    let out = run_binary(
        &dir,
        &[
            "metadata",
            "increment",
            "example/crop",
            "--format",
            "json",
            "--limit",
            "3",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["stale_causes"]["samples_examined"], 3,
        "causes for the shown rows"
    );
    assert_eq!(v["counts"]["stale"], 10, "counts stay exact");
    let out = run_binary(
        &dir,
        &[
            "metadata",
            "increment",
            "example/crop",
            "--format",
            "json",
            "--no-causes",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["stale_causes"].is_null());
    let plain = run_binary(
        &dir,
        &["metadata", "increment", "example/crop", "--format", "plain"],
    );
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("why: 10 stale: 5 because example/video.audio changed, 5 because example/video.frames changed"),
        "{text}"
    );
}
