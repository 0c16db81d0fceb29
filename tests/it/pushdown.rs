//! Pushdowns into the backends give exactly the engine's own results: DuckDB's latest-row-per-id dedup
//! (`scan_latest`, a `QUALIFY` window) against the engine's `keep_latest` on a plain scan, ties and null
//! timestamps included; projected reads against full reads.

use metaxy_tui::engine::read::{keep_latest, read_feature, sort_by_columns, ReadOptions};
use metaxy_tui::engine::store::{Columns, LatestScan};

use crate::common::open_copy;

#[test]
fn duckdb_latest_per_id_equals_the_engine_dedup_with_ties_and_null_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = open_copy("duckdb", "s02_mutated", tmp.path());
    let db = tmp.path().join("store/metadata.duckdb");
    drop(ws);
    {
        // every video row again with the same timestamps (a tie: the copy, stored last, must win), and a few
        // rows whose timestamps are all null (they must lose against any real timestamp)
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO example__video SELECT * REPLACE (path || '-tie' AS path) FROM example__video;
             INSERT INTO example__video SELECT * REPLACE (path || '-null' AS path, NULL AS metaxy_updated_at,
                 NULL AS metaxy_deleted_at) FROM example__video WHERE path NOT LIKE '%-tie' LIMIT 5;",
        )
        .unwrap();
    }
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        "METAXY_FIXTURE_DIR".to_string(),
        tmp.path().display().to_string(),
    );
    let ws = metaxy_tui::engine::workspace::Workspace::open(
        &metaxy_tui::engine::workspace::OpenOptions {
            cwd: tmp.path().to_path_buf(),
            env,
            ..Default::default()
        },
    )
    .unwrap();
    let store = ws.store.as_ref();
    let mut checked = 0;
    for key in ws.graph.topological_order() {
        let key = &key;
        let ids = &ws.graph.require(key).unwrap().spec.id_columns;
        let version = ws.graph.feature_version(key).map(str::to_string);
        for v in [version.as_deref(), None] {
            let LatestScan::Rows(pushed) = store.scan_latest(key, v, &Columns::All, ids).unwrap()
            else {
                continue;
            };
            let plain = store.scan(key, v, &Columns::All).unwrap().unwrap();
            let ours = keep_latest(plain, ids).unwrap();
            let a = sort_by_columns(pushed, ids).unwrap();
            let b = sort_by_columns(ours, ids).unwrap();
            assert!(a.equals_missing(&b), "{key} {v:?}:\n{a}\n{b}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
    // the tie went to the row stored last
    let video = ws
        .graph
        .topological_order()
        .into_iter()
        .find(|k| k.to_string() == "example/video")
        .unwrap();
    let df = read_feature(store, &ws.graph, &video, &ReadOptions::default())
        .unwrap()
        .unwrap();
    let paths = df.column("path").unwrap().str().unwrap();
    assert!(paths.iter().all(|p| p.unwrap().ends_with("-tie")), "{df}");
}

#[test]
fn projected_reads_equal_full_reads_on_every_backend() {
    for b in ["duckdb", "delta", "lancedb"] {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s02_mutated", tmp.path());
        for key in ws.graph.topological_order() {
            let key = &key;
            let full =
                read_feature(ws.store.as_ref(), &ws.graph, key, &ReadOptions::default()).unwrap();
            let Some(full) = full else { continue };
            let keep = vec!["metaxy_provenance".to_string()];
            let opts = ReadOptions {
                columns: Columns::Only(keep),
                ..Default::default()
            };
            let narrow = read_feature(ws.store.as_ref(), &ws.graph, key, &opts)
                .unwrap()
                .unwrap();
            let names: Vec<String> = narrow
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert!(names.len() < full.width(), "{b} {key}: {names:?}");
            let expected = full.select(names.clone()).unwrap();
            assert!(
                expected.equals_missing(&narrow),
                "{b} {key}:\n{expected}\n{narrow}"
            );
        }
    }
}
