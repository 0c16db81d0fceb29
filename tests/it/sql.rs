//! SQL over a store (issue 19, `metaxy-tui sql`): the views equal Metaxy's default reads, raw tables and
//! increments (the `expected/` goldens real Metaxy wrote) on every backend; statements that are not one query are
//! refused and leave the store byte-identical without creating a file; a result written to Parquet reads back
//! equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use metaxy_tui::engine::error::EngineError;
use metaxy_tui::engine::json::df_to_json_rows;
use metaxy_tui::engine::sql::{run_sql, SqlCancel, SqlOutput};
use metaxy_tui::engine::workspace::Workspace;
use serde_json::Value;

use crate::common::*;

/// Runs `sql` on `ws` (all rows, no cancel).
fn sql(ws: &Workspace, sql: &str) -> Result<SqlOutput, EngineError> {
    run_sql(ws, sql, None, &SqlCancel::default(), &mut |_| {})
}

/// Scenarios with soft deletes (s06), hard deletes (s07), a version bump (s04) and the first one.
const SQL_SCENARIOS: [&str; 4] = [
    "s01_initial",
    "s04_version_bump",
    "s06_soft_delete",
    "s07_hard_delete",
];

#[test]
fn sql_views_equal_metaxy_reads_and_raw_tables_on_every_backend() {
    let mut checked = 0;
    for b in BACKENDS {
        for s in SQL_SCENARIOS {
            let ws = open_scenario_in(b, s);
            let dir = scenario_dir_in(b, s);
            let index = json(dir.join("expected/reads_index.json"));
            for (k, entry) in index.as_object().unwrap() {
                let Some(read) = entry.get("default_read") else {
                    continue;
                };
                let exp = json(dir.join(read["file"].as_str().unwrap()));
                let exp = exp["rows"].as_array().unwrap();
                let out = sql(&ws, &format!("SELECT * FROM \"{k}\""))
                    .unwrap_or_else(|e| panic!("{b}/{s} {k}: {e}"));
                let got = df_to_json_rows(&out.frame, None).unwrap();
                assert_eq!(
                    got.len() as u64,
                    read["count"].as_u64().unwrap(),
                    "{b}/{s} {k} count"
                );
                let keys = row_keys(exp);
                assert_eq!(
                    multiset(&got, &keys),
                    multiset(exp, &keys),
                    "{b}/{s} {k}: view rows differ"
                );

                let raw = &entry["raw_table"];
                let exp = json(dir.join(raw["file"].as_str().unwrap()));
                let exp = exp["rows"].as_array().unwrap();
                let out = sql(&ws, &format!("SELECT * FROM raw.\"{k}\""))
                    .unwrap_or_else(|e| panic!("{b}/{s} raw {k}: {e}"));
                let got = df_to_json_rows(&out.frame, None).unwrap();
                assert_eq!(
                    got.len() as u64,
                    raw["count"].as_u64().unwrap(),
                    "{b}/{s} raw {k} count"
                );
                let keys = row_keys(exp);
                assert_eq!(
                    multiset(&got, &keys),
                    multiset(exp, &keys),
                    "{b}/{s} raw {k}: rows differ"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 4 * 5, "only {checked} views checked");
}

#[test]
fn sql_increment_views_equal_metaxy_increments_on_every_backend() {
    let mut checked = 0;
    for b in BACKENDS {
        for s in ["s02_mutated", "s04_version_bump"] {
            let ws = open_scenario_in(b, s);
            let dir = scenario_dir_in(b, s).join("expected/increments");
            for e in std::fs::read_dir(&dir).unwrap() {
                let exp = json(e.unwrap().path());
                let k = exp["feature"].as_str().unwrap();
                for (name, kind) in [
                    ("added", "new"),
                    ("changed", "stale"),
                    ("removed", "orphaned"),
                ] {
                    let out = sql(
                        &ws,
                        &format!(
                            "SELECT * EXCLUDE (kind) FROM increment.\"{k}\" WHERE kind = '{kind}'"
                        ),
                    )
                    .unwrap_or_else(|e| panic!("{b}/{s} {k}: {e}"));
                    let exp_rows = exp[name].as_array().unwrap();
                    let got = df_to_json_rows(&out.frame, None).unwrap();
                    assert_eq!(got.len(), exp_rows.len(), "{b}/{s} {k} {kind} count");
                    let keys = row_keys(exp_rows);
                    assert_eq!(
                        multiset(&got, &keys),
                        multiset(exp_rows, &keys),
                        "{b}/{s} {k} {kind}: rows differ"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn sql_joins_views_and_aggregates() {
    let ws = open_scenario("s06_soft_delete");
    let out = sql(
        &ws,
        "WITH c AS (SELECT sample_uid FROM \"example/crop\") \
         SELECT count(*) AS n, count(DISTINCT v.sample_uid) AS d FROM c JOIN \"example/video\" v USING (sample_uid)",
    )
    .unwrap();
    let row = &df_to_json_rows(&out.frame, None).unwrap()[0];
    assert!(row["n"].as_i64().unwrap() > 0, "{row}");
    assert_eq!(out.views, vec!["\"example/video\"", "\"example/crop\""]);
    // a CTE named like nothing in the graph defines no view; an unknown feature is DuckDB's catalog error
    let e = sql(&ws, "SELECT * FROM \"example/nope\"").unwrap_err();
    assert!(e.to_string().contains("example/nope"), "{e}");
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Statements that are not one read-only query, with what their refusal must say.
const REFUSED: &[&str] = &[
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "DROP VIEW \"example/crop\"",
    "INSERT INTO \"example/crop\" SELECT * FROM \"example/crop\"",
    "DELETE FROM raw.\"example/crop\"",
    "UPDATE store.example__crop SET sample_uid = 'x'",
    "COPY (SELECT 1) TO 'out.csv'",
    "COPY \"example/crop\" TO 'crop.parquet' (FORMAT parquet)",
    "EXPORT DATABASE 'exported'",
    "ATTACH 'other.duckdb' AS other",
    "DETACH store",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "CALL pragma_version()",
    "CHECKPOINT",
    "SELECT 1; DROP TABLE store.example__crop",
    "SELECT * FROM read_csv('metaxy.toml')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('*.parquet')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM query('CREATE TABLE t (a INT)')",
    "",
];

#[test]
fn sql_refuses_everything_but_a_query_and_leaves_the_store_byte_identical() {
    for b in ["duckdb", "delta", "lancedb", "iceberg"] {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s06_soft_delete", tmp.path());
        let before = snapshot(tmp.path());
        let cwd = std::env::current_dir().unwrap();
        let cwd_before: Vec<_> = std::fs::read_dir(&cwd)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        for q in REFUSED {
            match sql(&ws, q) {
                Ok(o) => panic!("{b}: {q:?} ran: {:?}", o.frame),
                Err(e @ (EngineError::SqlRefused(_) | EngineError::Sql(_))) => {
                    let m = e.to_string();
                    assert!(!m.contains('\n'), "{b}: {q:?}: one line: {m}");
                }
                Err(e) => panic!("{b}: {q:?}: unexpected error kind: {e}"),
            }
        }
        // the refusals name what was refused
        let m = sql(&ws, "DROP VIEW \"example/crop\"")
            .unwrap_err()
            .to_string();
        assert!(m.starts_with("refused:") && m.contains("DROP"), "{m}");
        let m = sql(&ws, "SELECT * FROM read_csv('metaxy.toml')")
            .unwrap_err()
            .to_string();
        assert!(m.contains("disabled"), "{m}");
        drop(ws);
        assert!(before == snapshot(tmp.path()), "{b}: the store changed");
        let cwd_after: Vec<_> = std::fs::read_dir(&cwd)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            cwd_before, cwd_after,
            "{b}: a file appeared in the working directory"
        );
    }
}

#[test]
fn sql_cli_refuses_a_copy_and_creates_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir("s06_soft_delete"), tmp.path());
    let before = snapshot(tmp.path());
    for q in [
        "COPY (SELECT * FROM \"example/crop\") TO 'leak.csv'",
        "SELECT * FROM read_csv('metaxy.toml')",
    ] {
        let out = run_binary(tmp.path(), &["sql", q]);
        assert_eq!(out.status.code(), Some(1), "{q}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{err}"
        );
    }
    assert!(before == snapshot(tmp.path()), "files changed");
}

#[test]
fn sql_result_exported_to_parquet_reads_back_equal() {
    use polars::prelude::*;
    for b in ["duckdb", "delta"] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s06_soft_delete"), tmp.path());
        let q = "SELECT * FROM \"example/crop\" ORDER BY sample_uid";
        let ws = open_scenario_in(b, "s06_soft_delete");
        let expected = sql(&ws, q).unwrap().frame;
        let out = run_binary(tmp.path(), &["sql", q, "-o", "crop.parquet"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = std::fs::File::open(tmp.path().join("crop.parquet")).unwrap();
        let back = ParquetReader::new(file).finish().unwrap();
        assert_eq!(back.height(), 50, "{b}");
        assert!(
            back.equals_missing(&expected),
            "{b}: {back:?}\n{expected:?}"
        );
        // JSON on stdout: the same rows
        let out = run_binary(tmp.path(), &["sql", q, "--format", "json"]);
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 50);
        // parquet needs a file
        let out = run_binary(tmp.path(), &["sql", q, "--format", "parquet"]);
        assert_eq!(out.status.code(), Some(1));
    }
}

#[test]
fn sql_projection_reads_only_the_named_columns_and_cancel_stops() {
    let ws = open_scenario_in("delta", "s06_soft_delete");
    let out = sql(
        &ws,
        "SELECT sample_uid FROM \"example/crop\" WHERE sample_uid LIKE 's%'",
    )
    .unwrap();
    assert_eq!(out.frame.get_column_names(), vec!["sample_uid"]);
    assert_eq!(out.frame.height(), 50);
    let cancel = SqlCancel::default();
    cancel.cancel();
    let e = run_sql(&ws, "SELECT 1", None, &cancel, &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "sql: cancelled");
    let out = run_sql(
        &ws,
        "SELECT * FROM range(10)",
        Some(3),
        &SqlCancel::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((out.frame.height(), out.truncated), (3, true));
}

/// The rows of `out` as sorted JSON strings (order-free comparison across stores).
fn sorted_rows(out: &SqlOutput) -> Vec<String> {
    let mut rows: Vec<String> = df_to_json_rows(&out.frame, None)
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rows.sort();
    rows
}

/// Queries whose equality predicates are pushed into the scans of non-DuckDB stores: `(query, the same query
/// with its views wrapped in subqueries, which pushes nothing, the views pushed)`. Live, soft-deleted
/// (s000000) and multi-row samples, composite ids with an integer column, qualified names, IN lists, a non-id
/// column on `raw.`, and a join.
const PUSHED: &[(&str, &str, &[&str])] = &[
    (
        "SELECT sample_uid, crop_path, metaxy_provenance FROM \"example/crop\" WHERE sample_uid = 's000001'",
        "SELECT sample_uid, crop_path, metaxy_provenance FROM (FROM \"example/crop\") WHERE sample_uid = 's000001'",
        &["\"example/crop\""],
    ),
    (
        "SELECT c.sample_uid, c.metaxy_provenance FROM \"example/crop\" c \
         WHERE c.sample_uid IN ('s000000', 's000002', 's000003', 'nope')",
        "SELECT c.sample_uid, c.metaxy_provenance FROM (FROM \"example/crop\") c \
         WHERE c.sample_uid IN ('s000000', 's000002', 's000003', 'nope')",
        &["\"example/crop\""],
    ),
    (
        "SELECT sample_uid, metaxy_provenance, metaxy_feature_version, metaxy_deleted_at IS NULL AS live \
         FROM raw.\"example/crop\" WHERE sample_uid IN ('s000000', 's000001')",
        "SELECT sample_uid, metaxy_provenance, metaxy_feature_version, metaxy_deleted_at IS NULL AS live \
         FROM (FROM raw.\"example/crop\") WHERE sample_uid IN ('s000000', 's000001')",
        &["raw.\"example/crop\""],
    ),
    (
        "SELECT sample_uid, chunk_idx, chunk_path FROM \"example/chunk\" \
         WHERE sample_uid = 's000002' AND chunk_idx IN (0, 2) AND chunk_path LIKE 'chunks/%'",
        "SELECT sample_uid, chunk_idx, chunk_path FROM (FROM \"example/chunk\") \
         WHERE sample_uid = 's000002' AND chunk_idx IN (0, 2) AND chunk_path LIKE 'chunks/%'",
        &["\"example/chunk\""],
    ),
    (
        "SELECT sample_uid, chunk_idx, metaxy_deleted_at IS NULL AS live FROM raw.\"example/chunk\" \
         WHERE chunk_path = 'chunks/s000008_1.mp4'",
        "SELECT sample_uid, chunk_idx, metaxy_deleted_at IS NULL AS live FROM (FROM raw.\"example/chunk\") \
         WHERE chunk_path = 'chunks/s000008_1.mp4'",
        &["raw.\"example/chunk\""],
    ),
    (
        "SELECT v.sample_uid, v.path, c.crop_path FROM \"example/video\" v JOIN \"example/crop\" c \
         USING (sample_uid) WHERE v.sample_uid = 's000003' AND c.sample_uid IN ('s000003', 's000004')",
        "SELECT v.sample_uid, v.path, c.crop_path FROM (FROM \"example/video\") v JOIN (FROM \"example/crop\") c \
         USING (sample_uid) WHERE v.sample_uid = 's000003' AND c.sample_uid IN ('s000003', 's000004')",
        &["\"example/video\"", "\"example/crop\""],
    ),
];

/// On every backend, a query with pushed predicates answers what the same query answers without pushdown and
/// what the DuckDB store answers; the filters pushed are reported, and never on DuckDB (queried in place).
#[test]
fn sql_pushed_predicates_equal_unpushed_and_duckdb_on_every_backend() {
    let duck = open_scenario_in("duckdb", "s06_soft_delete");
    for b in BACKENDS {
        let ws = open_scenario_in(b, "s06_soft_delete");
        for (q, wrapped, views) in PUSHED {
            let out = sql(&ws, q).unwrap_or_else(|e| panic!("{b}: {q}: {e}"));
            let pushed: Vec<&str> = out.pushed.iter().map(|(v, _)| v.as_str()).collect();
            if b == "duckdb" {
                assert!(pushed.is_empty(), "{b}: {q}: {pushed:?}");
            } else {
                assert_eq!(pushed, *views, "{b}: {q}");
            }
            let plain = sql(&ws, wrapped).unwrap_or_else(|e| panic!("{b}: {wrapped}: {e}"));
            assert!(
                plain.pushed.is_empty(),
                "{b}: {wrapped}: {:?}",
                plain.pushed
            );
            let rows = sorted_rows(&out);
            assert!(!rows.is_empty(), "{b}: {q}: no rows");
            assert_eq!(rows, sorted_rows(&plain), "{b}: {q}: differs from unpushed");
            let d = sql(&duck, q).unwrap();
            assert_eq!(rows, sorted_rows(&d), "{b}: {q}: differs from duckdb");
        }
    }
}

/// A predicate on a non-id column is not pushed below Metaxy's read semantics: after a sample's `path` changed,
/// the read view answers by its latest row only (pushing `path = <old>` into the scan would keep the old row and
/// return it), while `raw.` has the old row (and pushes the predicate).
#[test]
fn sql_read_view_keeps_non_id_predicates_above_the_latest_row_pick() {
    use metaxy_tui::engine::keys::FeatureKey;
    use metaxy_tui::engine::ops::mutate::{execute_write, plan_write};
    use metaxy_tui::engine::ops::write::WriteOptions;
    use polars::prelude::*;
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s01_initial", tmp.path());
        let key = FeatureKey::parse("example/video").unwrap();
        let pbf = df!("audio" => ["a-new"], "frames" => ["f-new"])
            .unwrap()
            .into_struct("metaxy_provenance_by_field".into())
            .into_series();
        let df = DataFrame::new(
            1,
            vec![
                Column::new("sample_uid".into(), ["s000001"]),
                Column::new("path".into(), ["videos/moved.mp4"]),
                pbf.into_column(),
            ],
        )
        .unwrap();
        let plan = plan_write(
            ws.store.as_ref(),
            &ws.graph,
            &key,
            df,
            &WriteOptions::default(),
        )
        .unwrap();
        assert_eq!(execute_write(ws.store.as_ref(), &plan).unwrap(), 1, "{b}");
        let ws = open_copy_reopen(tmp.path());
        let old =
            "SELECT sample_uid, path FROM \"example/video\" WHERE path = 'videos/s000001.mp4'";
        let out = sql(&ws, old).unwrap();
        assert_eq!(out.frame.height(), 0, "{b}: the old row came back");
        assert!(out.pushed.is_empty(), "{b}: {:?}", out.pushed);
        // the id predicate is pushed and still finds the new row
        let out = sql(
            &ws,
            "SELECT path FROM \"example/video\" WHERE sample_uid = 's000001' AND path LIKE 'videos/%'",
        )
        .unwrap();
        let rows = df_to_json_rows(&out.frame, None).unwrap();
        assert_eq!(rows.len(), 1, "{b}");
        assert_eq!(rows[0]["path"], "videos/moved.mp4", "{b}");
        // raw holds both rows; the non-id predicate is pushed there
        let out = sql(
            &ws,
            "SELECT sample_uid FROM raw.\"example/video\" WHERE path = 'videos/s000001.mp4'",
        )
        .unwrap();
        assert_eq!(out.frame.height(), 1, "{b}");
        if b != "duckdb" {
            assert_eq!(out.pushed.len(), 1, "{b}");
        }
    }
}

/// Reopens the copy a test wrote to.
fn open_copy_reopen(dir: &Path) -> Workspace {
    Workspace::open(&metaxy_tui::engine::workspace::OpenOptions {
        cwd: dir.to_path_buf(),
        env: scenario_env(dir),
        ..Default::default()
    })
    .unwrap()
}

/// On a DuckDB store the read view takes its id columns from the latest-row pick, so a predicate on them runs below
/// the pick (one sample's rows read, not the table): for every sample of every feature (histories, soft and hard
/// deletes, a version bump), `WHERE <id> = value` returns exactly the whole view's rows of that sample, with the
/// same columns in the same order.
#[test]
fn duckdb_read_view_filtered_by_id_equals_the_whole_view_filtered() {
    for s in SQL_SCENARIOS.into_iter().chain(["s02_mutated"]) {
        let ws = open_scenario(s);
        for f in &ws.graph.features {
            let key = f.spec.key.to_string();
            let id = &f.spec.id_columns[0];
            let whole = sql(&ws, &format!("SELECT * FROM \"{key}\"")).unwrap();
            let rows = df_to_json_rows(&whole.frame, None).unwrap();
            let names: Vec<String> = whole
                .frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            let mut values: Vec<Value> = rows.iter().map(|r| r[id].clone()).collect();
            values.dedup();
            for v in values.iter().take(5) {
                let lit = v.to_string().replace('"', "'");
                let one = sql(
                    &ws,
                    &format!("SELECT * FROM \"{key}\" WHERE \"{id}\" = {lit}"),
                )
                .unwrap();
                let got = df_to_json_rows(&one.frame, None).unwrap();
                let want: Vec<&Value> = rows.iter().filter(|r| r[id] == *v).collect();
                assert!(!got.is_empty(), "{s} {key} {id}={v}");
                assert_eq!(got.iter().collect::<Vec<_>>(), want, "{s} {key} {id}={v}");
                let got_names: Vec<String> = one
                    .frame
                    .get_column_names()
                    .iter()
                    .map(|c| c.to_string())
                    .collect();
                assert_eq!(got_names, names, "{s} {key}");
            }
        }
    }
}
