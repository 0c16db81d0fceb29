//! Hash vectors of every algorithm (FORMAT.md §5) against what Metaxy computed: raw string hashes (Polars and
//! DuckDB engines), graph versions per truncation, and end-to-end provenance root -> crop/stt per algorithm.

use std::collections::HashMap;

use metaxy_tui::engine::config::{HashAlgorithm, StoreKind};
use metaxy_tui::engine::error::{EngineError, Result};
use metaxy_tui::engine::graph::FeatureGraph;
use metaxy_tui::engine::hashing::{hash_full, hash_str};
use metaxy_tui::engine::json::df_to_json_rows;
use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::store::{Columns, MetadataStore};
use metaxy_tui::engine::versioning::resolve::expected_frame;
use polars::prelude::*;
use serde_json::Value;

use crate::common::*;

#[test]
fn string_hash_vectors_match_both_engines() {
    let v = json(fixtures().join("hashing/hash_string_column.json"));
    let strings: Vec<&str> = v["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut checked = 0;
    for engine in ["polars_engine", "duckdb_native_engine"] {
        for (algo, hashes) in v[engine].as_object().unwrap() {
            let a: HashAlgorithm = algo.parse().unwrap();
            let Some(hashes) = hashes.as_array() else {
                // the DuckDB engine refuses wyhash/sha256/farmhash; our DuckDB store refuses them on open too
                assert!(
                    hashes["error"].as_str().unwrap().contains("not supported"),
                    "{engine} {algo}"
                );
                continue;
            };
            for (s, h) in strings.iter().zip(hashes) {
                assert_eq!(
                    hash_full(a, s).unwrap(),
                    h.as_str().unwrap(),
                    "{engine} {algo} {s:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 42, "{checked}");
}

#[test]
fn graph_versions_for_every_truncation() {
    let ws = open_scenario("s01_initial");
    let v = json(fixtures().join("hashing/graph_hashes_by_truncation.json"));
    for (t, exp) in v.as_object().unwrap() {
        let t: usize = t.parse().unwrap();
        let g =
            FeatureGraph::from_rows(&ws.pushed, Some("example_overview"), None, t, "dev").unwrap();
        assert_eq!(g.computed_project_version, exp["project_version"], "T={t}");
        for (k, fe) in exp["features"].as_object().unwrap() {
            let key = FeatureKey::parse(k).unwrap();
            let got = g.versions_of(&key).unwrap();
            assert_eq!(got.feature_version, fe["feature_version"], "T={t} {k}");
            assert_eq!(got.code_version, fe["code_version"], "T={t} {k}");
            assert_eq!(got.spec_version, fe["feature_spec_version"], "T={t} {k}");
            assert_eq!(
                got.definition_version, fe["definition_version"],
                "T={t} {k}"
            );
            for (f, fv) in fe["field_versions"].as_object().unwrap() {
                assert_eq!(
                    got.field_versions.iter().find(|(a, _)| a == f).unwrap().1,
                    fv.as_str().unwrap(),
                    "T={t} {k}.{f}"
                );
            }
        }
    }
}

/// An in-memory store holding the rows of each feature's current version (used to run the real engine on the
/// root samples of the hashing vectors, for every algorithm).
struct MemStore {
    algo: HashAlgorithm,
    tables: HashMap<String, DataFrame>,
}

impl MetadataStore for MemStore {
    fn name(&self) -> &str {
        "mem"
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn kind(&self) -> StoreKind {
        StoreKind::DuckDb
    }
    fn display(&self) -> String {
        "MemStore".into()
    }
    fn class_path(&self) -> &'static str {
        "tests.MemStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.algo
    }
    fn location(&self) -> String {
        ":memory:".into()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        key.table_name()
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.tables.contains_key(&key.table_name()))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.tables.keys().cloned().collect())
    }
    fn scan(
        &self,
        key: &FeatureKey,
        _v: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let Some(df) = self.tables.get(&key.table_name()) else {
            return Ok(None);
        };
        Ok(Some(
            match columns.select(df.get_column_names().iter().map(|c| c.as_str())) {
                None => df.clone(),
                Some(keep) => df.select(keep)?,
            },
        ))
    }
}

#[test]
fn end_to_end_provenance_for_every_algorithm_and_truncation() {
    let ws = open_scenario("s01_initial");
    let v = json(fixtures().join("hashing/provenance_by_algorithm.json"));
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        let algo: HashAlgorithm = case["hash_algorithm"].as_str().unwrap().parse().unwrap();
        let t = case["hash_truncation_length"].as_u64().unwrap() as usize;
        if let Some(err) = case.get("error") {
            // Metaxy refuses farmhash; so do we, with a typed error
            assert!(err.as_str().unwrap().contains("not supported"));
            assert!(matches!(
                hash_str(algo, "x", t),
                Err(EngineError::UnsupportedHash(_))
            ));
            continue;
        }
        let g =
            FeatureGraph::from_rows(&ws.pushed, Some("example_overview"), None, t, "dev").unwrap();
        let video = case["video"].as_array().unwrap();
        let ids: Vec<&str> = video
            .iter()
            .map(|r| r["sample_uid"].as_str().unwrap())
            .collect();
        let audio: Vec<&str> = video
            .iter()
            .map(|r| r["metaxy_provenance_by_field"]["audio"].as_str().unwrap())
            .collect();
        let frames: Vec<&str> = video
            .iter()
            .map(|r| r["metaxy_provenance_by_field"]["frames"].as_str().unwrap())
            .collect();
        // the root's sample provenance is H("audio|frames") with the store's algorithm
        for (r, (a, f)) in video.iter().zip(audio.iter().zip(&frames)) {
            assert_eq!(
                hash_str(algo, &format!("{a}|{f}"), t).unwrap(),
                r["metaxy_provenance"].as_str().unwrap()
            );
        }
        let prov: Vec<&str> = video
            .iter()
            .map(|r| r["metaxy_provenance"].as_str().unwrap())
            .collect();
        let vkey = FeatureKey::parse("example/video").unwrap();
        let paths: Vec<String> = ids.iter().map(|i| format!("videos/{i}.mp4")).collect();
        let df = df!("sample_uid" => &ids, "path" => &paths, "audio" => &audio, "frames" => &frames, "metaxy_provenance" => &prov)
            .unwrap()
            .lazy()
            .with_columns([
                as_struct(vec![col("audio"), col("frames")]).alias("metaxy_provenance_by_field"),
                as_struct(vec![col("audio"), col("frames")]).alias("metaxy_data_version_by_field"),
                col("metaxy_provenance").alias("metaxy_data_version"),
                lit(g.feature_version(&vkey).unwrap().to_string()).alias("metaxy_feature_version"),
            ])
            .drop(cols(["audio", "frames"]))
            .collect()
            .unwrap();
        let store = MemStore {
            algo,
            tables: HashMap::from([(vkey.table_name(), df)]),
        };
        for feat in ["example/crop", "example/stt"] {
            let key = FeatureKey::parse(feat).unwrap();
            let got =
                df_to_json_rows(&expected_frame(&store, &g, &key, &[]).unwrap(), None).unwrap();
            let want = case[feat].as_array().unwrap();
            let keys = vec![
                "sample_uid".to_string(),
                "metaxy_provenance_by_field".into(),
                "metaxy_provenance".into(),
            ];
            assert_eq!(
                multiset(&got, &keys),
                multiset(want, &keys),
                "{feat} {algo:?} T={t}"
            );
            checked += want.len();
        }
        if let Some(fv) = case.get("feature_version_crop").and_then(Value::as_str) {
            assert_eq!(
                g.feature_version(&FeatureKey::parse("example/crop").unwrap()),
                Some(fv)
            );
        }
    }
    assert!(checked >= 100, "{checked}");
}
