//! Per-sample lookups (issue 19) against what Metaxy says of the same samples, on the fixtures of every backend:
//! for each chosen sample and feature, the state and the current row the lookup reports equal the state derived
//! from Metaxy's goldens (`expected/increments`: added / changed / removed; `expected/raw`: every stored row, for
//! the current row and soft deletions; `expected/reads`: the default read) and the row Metaxy stored.
//!
//! The oracle ([`golden_states`]) is independent of the engine: per stored id of the feature, the latest raw row
//! under the current feature version (`coalesce(deleted_at, updated_at)`, the row stored last on ties, as Metaxy's
//! read) decides soft-deleted; a live one is orphaned / stale when its join key is in Metaxy's removed / changed,
//! else up to date (root features: stored); an id without a current row is new when Metaxy's increment adds it,
//! else not stored.

use std::collections::BTreeMap;

use metaxy_tui::engine::store::filter::IdFilter;
use metaxy_tui::engine::versioning::lookup::{
    lookup, parse_ids, Lookup, LookupOptions, SampleState,
};
use metaxy_tui::engine::workspace::Workspace;
use serde_json::Value;

use crate::common::{json, open_scenario_in, project, run_binary, scenario_dir_in, BACKENDS};

/// Chosen samples per scenario (every one of the states below occurs among them, see the coverage assertion):
/// s02: s000010 stale in crop / stt / chunk, s000050 new in crop and chunk and absent from chunk_summary,
/// s000000 soft-deleted in video and orphaned downstream, s000007 never written to stt (new there);
/// s06: s000001 soft-deleted in stt and stale in av_report, s000000 soft-deleted everywhere.
const CASES: [(&str, &[&str]); 2] = [
    ("s02_mutated", &["s000010", "s000050", "s000000", "s000007"]),
    ("s06_soft_delete", &["s000001", "s000000", "s000007"]),
];

fn state_name(s: SampleState) -> String {
    serde_json::to_value(s)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// `coalesce(deleted_at, updated_at)` of a golden row (ISO text, comparable as such: one format everywhere).
fn ts(r: &Value) -> String {
    for c in ["metaxy_deleted_at", "metaxy_updated_at"] {
        if let Some(Value::String(s)) = r.get(c) {
            return s.clone();
        }
    }
    String::new()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        o => o.to_string(),
    }
}

/// What Metaxy's goldens say of `sample` in feature `key`: per id (as `col=value` text), the state and the
/// current row (raw golden row).
fn golden_states(
    ws: &Workspace,
    dir: &std::path::Path,
    key: &str,
    sample: &str,
) -> BTreeMap<String, (String, Option<Value>)> {
    let fk = ws.feature(key).unwrap();
    let def = ws.graph.require(&fk).unwrap();
    let ids = def.spec.id_columns.clone();
    let version = ws.graph.feature_version(&fk).unwrap().to_string();
    let table = fk.table_name();
    let raw = json(dir.join(format!("expected/raw/{table}.json")));
    let mine: Vec<&Value> = raw["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["sample_uid"] == sample)
        .collect();
    let inc = (!def.spec.deps.is_empty())
        .then(|| json(dir.join(format!("expected/increments/{table}.json"))));
    let in_inc = |part: &str| -> bool {
        inc.as_ref().is_some_and(|i| {
            i[part]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["sample_uid"] == sample)
        })
    };
    let id_text = |r: &Value| -> String {
        ids.iter()
            .map(|c| format!("{c}={}", text(&r[c])))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out: BTreeMap<String, (String, Option<Value>)> = BTreeMap::new();
    let mut all_ids: Vec<String> = mine.iter().map(|r| id_text(r)).collect();
    all_ids.dedup();
    for id in all_ids {
        // the latest current-version row: greatest timestamp, the one stored last on ties
        let current = mine
            .iter()
            .filter(|r| id_text(r) == id && r["metaxy_feature_version"] == version.as_str())
            .fold(None::<&Value>, |best, r| match best {
                Some(b) if ts(b) > ts(r) => Some(b),
                _ => Some(r),
            });
        let state = match current {
            Some(r) if !r["metaxy_deleted_at"].is_null() => "soft_deleted",
            Some(_) if inc.is_none() => "stored",
            Some(_) if in_inc("removed") => "orphaned",
            Some(_) if in_inc("changed") => "stale",
            Some(_) => "up_to_date",
            None if in_inc("added") => "new",
            None => "not_stored",
        };
        out.insert(id, (state.to_string(), current.cloned()));
    }
    if out.is_empty() {
        let state = if in_inc("added") { "new" } else { "not_stored" };
        out.insert(format!("sample_uid={sample}"), (state.to_string(), None));
    }
    out
}

/// The lookup's answer for `key` in the same shape as [`golden_states`].
fn our_states(found: &Lookup, key: &str) -> BTreeMap<String, (String, Option<Value>)> {
    let f = found.features.iter().find(|f| f.feature == key).unwrap();
    f.samples
        .iter()
        .map(|s| {
            let id = s
                .ids
                .iter()
                .map(|(c, v)| format!("{c}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            (id, (state_name(s.state), s.row.clone()))
        })
        .collect()
}

#[test]
fn lookup_states_and_rows_equal_metaxy_goldens_on_every_backend() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for b in BACKENDS {
        for (scenario, samples) in CASES {
            let ws = open_scenario_in(b, scenario);
            let dir = scenario_dir_in(b, scenario);
            for sample in samples {
                let ids = parse_ids(&[format!("sample_uid={sample}")]).unwrap();
                let found = lookup(
                    ws.store.as_ref(),
                    &ws.graph,
                    &ids,
                    &LookupOptions::default(),
                )
                .unwrap_or_else(|e| panic!("{b}/{scenario} {sample}: {e}"));
                assert_eq!(found.features.len(), ws.graph.features.len());
                for f in &found.features {
                    let ctx = format!("{b}/{scenario} {sample} {}", f.feature);
                    assert!(f.error.is_none(), "{ctx}: {:?}", f.error);
                    let golden = golden_states(&ws, &dir, &f.feature, sample);
                    let ours = our_states(&found, &f.feature);
                    let states =
                        |m: &BTreeMap<String, (String, Option<Value>)>| -> Vec<(String, String)> {
                            m.iter().map(|(k, (s, _))| (k.clone(), s.clone())).collect()
                        };
                    assert_eq!(states(&ours), states(&golden), "{ctx}: states");
                    for (id, (state, row)) in &golden {
                        *seen.entry(format!("{state} in {}", f.feature)).or_default() += 1;
                        *seen.entry(state.clone()).or_default() += 1;
                        let ours_row = ours[id].1.as_ref();
                        match row {
                            None => assert!(ours_row.is_none(), "{ctx} {id}: unexpected row"),
                            Some(r) => {
                                let keys: Vec<String> =
                                    r.as_object().unwrap().keys().cloned().collect();
                                assert_eq!(
                                    project(ours_row.unwrap(), &keys),
                                    project(r, &keys),
                                    "{ctx} {id}: current row"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    // the chosen samples cover every state, and the expansion / aggregation features
    for s in [
        "up_to_date",
        "stale",
        "new",
        "orphaned",
        "soft_deleted",
        "stored",
        "not_stored",
        "stale in example/chunk",
        "up_to_date in example/chunk_summary",
        "not_stored in example/chunk_summary",
    ] {
        assert!(
            seen.contains_key(s),
            "no {s} among the chosen samples: {seen:?}"
        );
    }
}

/// The stale cause of a lookup is the one `metadata increment` finds for the same sample, and the history lists
/// every raw row of the sample.
#[test]
fn lookup_causes_and_history_match_the_increment_and_raw_rows() {
    let ws = open_scenario_in("duckdb", "s02_mutated");
    let dir = scenario_dir_in("duckdb", "s02_mutated");
    let ids = parse_ids(&["sample_uid=s000010".to_string()]).unwrap();
    let found = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &ids,
        &LookupOptions {
            with_sample_history: true,
        },
    )
    .unwrap();
    let crop = found
        .features
        .iter()
        .find(|f| f.feature == "example/crop")
        .unwrap();
    let key = ws.feature("example/crop").unwrap();
    let inc = ws.increment(&key, &Default::default()).unwrap();
    let causes = metaxy_tui::engine::view::causes_of_stale(&ws, &inc, None)
        .unwrap()
        .unwrap();
    let want = causes.iter().find(|c| c.key == ["s000010"]).unwrap();
    assert_eq!(crop.samples.len(), 1);
    assert_eq!(crop.samples[0].cause.as_ref(), Some(want));
    for f in &found.features {
        let raw = json(dir.join(format!(
            "expected/raw/{}.json",
            ws.feature(&f.feature).unwrap().table_name()
        )));
        let n = raw["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["sample_uid"] == "s000010")
            .count();
        let ours: usize = f.samples.iter().map(|s| s.history.len()).sum();
        assert_eq!(ours, n, "{}: history rows", f.feature);
    }
}

/// A composite id of an expansion child reaches its parent upstream (1:N), the parent's other children downstream, and the row aggregating it downstream
/// (N:1); two samples at once; renamed and missing columns are refused or reported.
#[test]
fn lookup_walks_expansion_and_aggregation_from_a_child_id() {
    let ws = open_scenario_in("duckdb", "s02_mutated");
    let ids = parse_ids(&[
        "sample_uid=s000011,chunk_idx=0".to_string(),
        "sample_uid=s000013,chunk_idx=1".to_string(),
    ])
    .unwrap();
    let found = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &ids,
        &LookupOptions::default(),
    )
    .unwrap();
    let get = |k: &str| found.features.iter().find(|f| f.feature == k).unwrap();
    let chunk = get("example/chunk");
    assert_eq!(chunk.reached.as_deref(), Some("looked-up ids"));
    let chunk_ids: Vec<Vec<(String, String)>> =
        chunk.samples.iter().map(|s| s.ids.clone()).collect();
    assert_eq!(
        chunk_ids,
        vec![
            vec![
                ("sample_uid".into(), "s000011".into()),
                ("chunk_idx".into(), "0".into())
            ],
            vec![
                ("sample_uid".into(), "s000013".into()),
                ("chunk_idx".into(), "1".into())
            ],
        ]
    );
    // a child id that does not exist: not stored, its parent (which has other children) not new
    let missing = parse_ids(&["sample_uid=s000012,chunk_idx=1".to_string()]).unwrap();
    let m = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &missing,
        &LookupOptions::default(),
    )
    .unwrap();
    let mc = m
        .features
        .iter()
        .find(|f| f.feature == "example/chunk")
        .unwrap();
    assert_eq!(mc.samples.len(), 1);
    assert_eq!(mc.samples[0].state, SampleState::NotStored);
    let video = get("example/video");
    assert_eq!(
        video.reached.as_deref(),
        Some("upstream of example/chunk (1:N)")
    );
    // a sibling: reached from the parent
    assert_eq!(
        get("example/crop").reached.as_deref(),
        Some("downstream of example/video (1:1)")
    );
    assert_eq!(
        video.scope,
        Some(IdFilter::new(
            vec!["sample_uid".into()],
            vec![vec!["s000011".into()], vec!["s000013".into()]]
        ))
    );
    let summary = get("example/chunk_summary");
    assert_eq!(
        summary.reached.as_deref(),
        Some("downstream of example/chunk (N:1)")
    );
    assert_eq!(summary.samples.len(), 2);
    // the aggregate's state comes from every chunk of the sample, not only the looked-up one
    let sample_level = parse_ids(&[
        "sample_uid=s000011".to_string(),
        "sample_uid=s000013".to_string(),
    ])
    .unwrap();
    let whole = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &sample_level,
        &LookupOptions::default(),
    )
    .unwrap();
    let whole_summary = whole
        .features
        .iter()
        .find(|f| f.feature == "example/chunk_summary")
        .unwrap();
    assert_eq!(summary.samples, whole_summary.samples);
    // columns no feature has
    let bad = parse_ids(&["nope=1".to_string()]).unwrap();
    let e = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &bad,
        &LookupOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no feature has the id columns nope"),
        "{e}"
    );
    assert!(parse_ids(&["sample_uid".to_string()]).is_err());
    assert!(parse_ids(&["sample_uid=a".to_string(), "chunk_idx=0".to_string()]).is_err());
}

/// A feature whose table the store lacks is `absent` for the sample, and its downstream reports why its
/// increment failed while still showing what it stores.
#[test]
fn lookup_reports_a_feature_absent_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = crate::common::open_copy("duckdb", "s02_mutated", tmp.path());
    drop(ws);
    {
        let conn = duckdb::Connection::open(tmp.path().join("store/metadata.duckdb")).unwrap();
        conn.execute_batch("DROP TABLE example__stt").unwrap();
    }
    let ws = Workspace::open(&metaxy_tui::engine::workspace::OpenOptions {
        cwd: tmp.path().to_path_buf(),
        env: crate::common::scenario_env(tmp.path()),
        ..Default::default()
    })
    .unwrap();
    let ids = parse_ids(&["sample_uid=s000001".to_string()]).unwrap();
    let found = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &ids,
        &LookupOptions::default(),
    )
    .unwrap();
    let stt = found
        .features
        .iter()
        .find(|f| f.feature == "example/stt")
        .unwrap();
    assert_eq!(stt.samples.len(), 1);
    assert_eq!(stt.samples[0].state, SampleState::Absent);
    let av = found
        .features
        .iter()
        .find(|f| f.feature == "example/av_report")
        .unwrap();
    assert!(
        av.error.as_deref().unwrap_or("").contains("example__stt"),
        "{:?}",
        av.error
    );
    assert_eq!(av.samples[0].state, SampleState::Stored);
    assert!(av.samples[0].row.is_some());
}

/// The id filter pushed into the scans of DuckDB and PostgreSQL (SQL), Delta (statistics and a parquet row filter),
/// LanceDB (a Lance SQL filter), Iceberg (an Iceberg predicate) and ClickHouse (SQL with backslash escapes) keeps exactly the rows the engine's own filter
/// keeps (string and integer id columns, composite ids, a value that is not a number for an integer column).
#[test]
fn pushed_id_filters_equal_the_engine_filter() {
    use metaxy_tui::engine::query::read::sort_by_columns;
    use metaxy_tui::engine::store::Columns;
    for b in [
        "duckdb",
        "postgres",
        "delta",
        "lancedb",
        "iceberg",
        "clickhouse",
    ] {
        let ws = open_scenario_in(b, "s02_mutated");
        let key = ws.feature("example/chunk").unwrap();
        let cols = vec!["sample_uid".to_string(), "chunk_idx".to_string()];
        for f in [
            IdFilter::new(
                vec!["sample_uid".into()],
                vec![vec!["s000011".into()], vec!["s000000".into()]],
            ),
            IdFilter::new(
                cols.clone(),
                vec![
                    vec!["s000011".into(), "0".into()],
                    vec!["s000012".into(), "1".into()],
                ],
            ),
            IdFilter::new(vec!["chunk_idx".into()], vec![vec!["1".into()]]),
            IdFilter::new(vec!["chunk_idx".into()], vec![vec!["x".into()]]),
            IdFilter::new(
                vec!["chunk_idx".into()],
                vec![vec!["+1".into()], vec!["01".into()]],
            ),
            IdFilter::new(vec!["sample_uid".into()], vec![vec!["it's".into()]]),
            IdFilter::new(
                vec!["sample_uid".into()],
                vec![vec!["s\\' OR 1=1 --".into()]],
            ),
        ] {
            let pushed = ws
                .store
                .scan_ids(&key, None, &Columns::All, &f)
                .unwrap()
                .unwrap();
            let all = ws.store.scan(&key, None, &Columns::All).unwrap().unwrap();
            let engine = f.apply(all).unwrap();
            let by = vec![
                "sample_uid".to_string(),
                "chunk_idx".to_string(),
                "metaxy_updated_at".to_string(),
            ];
            let (a, e) = (
                sort_by_columns(pushed, &by).unwrap(),
                sort_by_columns(engine, &by).unwrap(),
            );
            assert_eq!(a.height(), e.height(), "{b} {f:?}");
            assert!(
                a.select(by.clone())
                    .unwrap()
                    .equals_missing(&e.select(by).unwrap()),
                "{b} {f:?}"
            );
        }
    }
}

/// `metaxy-tui metadata lookup` prints the engine's lookup as JSON and as a plain table.
#[test]
fn cli_lookup_prints_json_and_plain() {
    let dir = scenario_dir_in("duckdb", "s02_mutated");
    let out = run_binary(
        &dir,
        &[
            "metadata",
            "lookup",
            "--id",
            "sample_uid=s000010",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = open_scenario_in("duckdb", "s02_mutated");
    let ids = parse_ids(&["sample_uid=s000010".to_string()]).unwrap();
    let found = lookup(
        ws.store.as_ref(),
        &ws.graph,
        &ids,
        &LookupOptions::default(),
    )
    .unwrap();
    assert_eq!(v, serde_json::to_value(&found).unwrap());
    let crop = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "example/crop")
        .unwrap();
    assert_eq!(crop["samples"][0]["state"], "stale");
    assert_eq!(crop["samples"][0]["ids"]["sample_uid"], "s000010");
    let out = run_binary(&dir, &["metadata", "lookup", "--id", "sample_uid=s000010"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("example/crop") && text.contains("stale because"),
        "{text}"
    );
    let out = run_binary(&dir, &["metadata", "lookup", "--id", "nope=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no feature has the id columns nope"));
}
