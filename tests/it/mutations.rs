//! Mutations against Metaxy's goldens, on all three backends: starting from the store real Metaxy wrote for the
//! previous scenario, our rebase (s05), soft delete (s06), hard delete (s07) and copy (s08) must leave a store whose
//! default reads, raw rows (every version, every row, tombstones) and increments equal what Metaxy computed on the
//! store it wrote itself. Timestamps written now (`metaxy_updated_at`, `metaxy_deleted_at`) come from the wall clock
//! where Metaxy's came from a fixed clock, so their values are not compared (whether `metaxy_deleted_at` is set is).

use std::path::Path;

use metaxy_tui::engine::json::df_to_json_rows;
use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::ops::mutate::{
    execute_copy, execute_delete, execute_rebase, execute_write, plan_copy, plan_delete,
    plan_rebase, plan_write, CopyRequest, DeleteRequest,
};
use metaxy_tui::engine::ops::write::WriteOptions;
use metaxy_tui::engine::query::read::ReadOptions;
use metaxy_tui::engine::store::open_store_for_write;
use metaxy_tui::engine::versioning::resolve::ResolveOptions;
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use serde_json::Value;

use crate::common::*;

/// Columns whose values are the wall clock of our write (compared only for null / not null).
const CLOCK: [&str; 2] = ["metaxy_updated_at", "metaxy_deleted_at"];

fn canon(rows: &[Value], keys: &[String]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut m = serde_json::Map::new();
            for k in keys {
                let val = r.get(k).cloned().unwrap_or(Value::Null);
                if CLOCK.contains(&k.as_str()) {
                    m.insert(k.clone(), Value::Bool(val.is_null()));
                } else {
                    m.insert(k.clone(), val);
                }
            }
            serde_json::to_string(&Value::Object(m)).unwrap()
        })
        .collect();
    v.sort();
    v
}

fn reopen(dir: &Path, store: Option<&str>) -> Workspace {
    let env = scenario_env(dir);
    Workspace::open(&OpenOptions {
        cwd: dir.to_path_buf(),
        env,
        store: store.map(String::from),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Asserts that `ws` reads like Metaxy's golden store `b/s`: default reads, raw rows and increments of every
/// feature in the goldens. Returns the number of rows compared.
fn assert_store_matches(ws: &Workspace, b: &str, s: &str) -> usize {
    let exp_dir = scenario_dir_in(b, s);
    let index = json(exp_dir.join("expected/reads_index.json"));
    let mut compared = 0;
    for (k, entry) in index.as_object().unwrap() {
        let Some(default_read) = entry.get("default_read") else {
            continue;
        };
        let key = FeatureKey::parse(k).unwrap();
        let exp = json(exp_dir.join(default_read["file"].as_str().unwrap()));
        let exp_rows = exp["rows"].as_array().unwrap();
        let df = ws.read(&key, &ReadOptions::default()).unwrap().unwrap();
        let keys = row_keys(exp_rows);
        assert_eq!(
            canon(&df_to_json_rows(&df, None).unwrap(), &keys),
            canon(exp_rows, &keys),
            "{b}/{s} {k}: default read differs from Metaxy's"
        );
        let raw = json(exp_dir.join(entry["raw_table"]["file"].as_str().unwrap()));
        let raw_rows = raw["rows"].as_array().unwrap();
        let all = ws
            .read(
                &key,
                &ReadOptions {
                    with_feature_history: true,
                    with_sample_history: true,
                    include_soft_deleted: true,
                    ..Default::default()
                },
            )
            .unwrap()
            .unwrap();
        let keys = row_keys(raw_rows);
        assert_eq!(
            canon(&df_to_json_rows(&all, None).unwrap(), &keys),
            canon(raw_rows, &keys),
            "{b}/{s} {k}: raw rows differ from Metaxy's"
        );
        compared += exp_rows.len() + raw_rows.len();
    }
    for e in std::fs::read_dir(exp_dir.join("expected/increments")).unwrap() {
        let exp = json(e.unwrap().path());
        let key = FeatureKey::parse(exp["feature"].as_str().unwrap()).unwrap();
        let inc = ws
            .increment(&key, &ResolveOptions::default())
            .unwrap_or_else(|e| panic!("{b}/{s} {key}: {e}"));
        for (name, df) in [
            ("added", &inc.new),
            ("changed", &inc.stale),
            ("removed", &inc.orphaned),
        ] {
            let exp_rows = exp[name].as_array().unwrap();
            let keys = row_keys(exp_rows);
            assert_eq!(
                canon(&df_to_json_rows(df, None).unwrap(), &keys),
                canon(exp_rows, &keys),
                "{b}/{s} {key} increment {name} differs from Metaxy's"
            );
            compared += exp_rows.len();
        }
    }
    compared
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn in_filter(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
    format!("sample_uid IN ({})", quoted.join(", "))
}

#[test]
fn rebase_matches_metaxy_s05_on_every_backend() {
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s04_version_bump"), tmp.path());
        let meta = json(scenario_dir_in(b, "s05_rebased").join("scenario.json"));
        for step in meta["steps"].as_array().unwrap() {
            let ws = reopen(tmp.path(), None);
            let key = FeatureKey::parse(step["feature"].as_str().unwrap()).unwrap();
            let from = step["from_version"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| {
                    // the CLI step: `--from V` in the recorded command line
                    let cmd = step["run"]["cmd"].as_str().unwrap();
                    cmd.split("--from ")
                        .nth(1)
                        .unwrap()
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .to_string()
                });
            let plan = plan_rebase(
                ws.store.as_ref(),
                &ws.graph,
                &ws.pushed,
                &key,
                &from,
                None,
                &[],
            )
            .unwrap_or_else(|e| panic!("{b} {key}: {e}"));
            if let Some(file) = step["rebased"]["file"].as_str() {
                // the frame Metaxy's `rebase()` returned, before `write`
                let golden = json(scenario_dir_in(b, "s05_rebased").join(file));
                let rows = golden["rows"].as_array().unwrap();
                let keys = row_keys(rows);
                assert_eq!(
                    canon(&df_to_json_rows(&plan.rows, None).unwrap(), &keys),
                    canon(rows, &keys),
                    "{b} {key}: rebased frame differs from Metaxy's rebase()"
                );
                assert_eq!(plan.to_version, golden["to_feature_version"], "{b} {key}");
            }
            let n = execute_rebase(ws.store.as_ref(), &ws.graph, &plan).unwrap();
            assert_eq!(n, plan.rows.height());
            assert!(n > 0, "{b} {key}: nothing rebased");
        }
        let ws = reopen(tmp.path(), None);
        let compared = assert_store_matches(&ws, b, "s05_rebased");
        assert!(compared > 300, "{b}: only {compared} rows compared");
    }
}

#[test]
fn soft_delete_matches_metaxy_s06_on_every_backend() {
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s05_rebased"), tmp.path());
        let meta = json(scenario_dir_in(b, "s06_soft_delete").join("scenario.json"));
        let step = &meta["steps"][0];
        let ids = string_list(&step["sample_uids"]);
        let ws = reopen(tmp.path(), None);
        let key = FeatureKey::parse(step["feature"].as_str().unwrap()).unwrap();
        let req = DeleteRequest {
            features: vec![key.clone()],
            filters: vec![in_filter(&ids)],
            ..Default::default()
        };
        let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req).unwrap();
        assert_eq!(plan.total_rows(), ids.len(), "{b}: preview count");
        let done = execute_delete(ws.store.as_ref(), &ws.graph, &plan).unwrap();
        assert_eq!(done, vec![(key.clone(), ids.len())]);
        let ws = reopen(tmp.path(), None);
        assert_store_matches(&ws, b, "s06_soft_delete");
        // the three read modes Metaxy's goldens record after the delete
        for (file, opts) in [
            ("after_soft_delete_default.json", ReadOptions::default()),
            (
                "after_soft_delete_include_soft_deleted.json",
                ReadOptions {
                    include_soft_deleted: true,
                    ..Default::default()
                },
            ),
            (
                "after_soft_delete_with_sample_history.json",
                ReadOptions {
                    with_sample_history: true,
                    include_soft_deleted: true,
                    ..Default::default()
                },
            ),
        ] {
            let golden = json(
                scenario_dir_in(b, "s06_soft_delete")
                    .join("expected/delete")
                    .join(file),
            );
            let rows = golden["rows"].as_array().unwrap();
            let mut opts = opts;
            if let Some(kw) = golden.get("read_kwargs") {
                opts.include_soft_deleted |= kw["include_soft_deleted"].as_bool().unwrap_or(false);
                opts.with_sample_history |= kw["with_sample_history"].as_bool().unwrap_or(false);
            }
            let df = ws.read(&key, &opts).unwrap().unwrap();
            let keys = row_keys(rows);
            assert_eq!(
                canon(&df_to_json_rows(&df, None).unwrap(), &keys),
                canon(rows, &keys),
                "{b} {file}"
            );
        }
    }
}

#[test]
fn hard_delete_matches_metaxy_s07_on_every_backend() {
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s06_soft_delete"), tmp.path());
        let meta = json(scenario_dir_in(b, "s07_hard_delete").join("scenario.json"));
        let step = &meta["steps"][0];
        let ids = string_list(&step["sample_uids"]);
        let ws = reopen(tmp.path(), None);
        let key = FeatureKey::parse(step["feature"].as_str().unwrap()).unwrap();
        let before = step["raw_rows_before"].as_u64().unwrap() as usize;
        let after = step["raw_rows_after"].as_u64().unwrap() as usize;
        let req = DeleteRequest {
            features: vec![key.clone()],
            filters: vec![in_filter(&ids)],
            hard: true,
            ..Default::default()
        };
        let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req).unwrap();
        assert_eq!(plan.total_rows(), before - after, "{b}: preview count");
        let done = execute_delete(ws.store.as_ref(), &ws.graph, &plan).unwrap();
        assert_eq!(done, vec![(key.clone(), before - after)], "{b}");
        let ws = reopen(tmp.path(), None);
        assert_store_matches(&ws, b, "s07_hard_delete");
        // a second identical hard delete finds nothing
        let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req).unwrap();
        assert_eq!(plan.total_rows(), 0, "{b}");
        assert_eq!(
            execute_delete(ws.store.as_ref(), &ws.graph, &plan).unwrap(),
            vec![(key, 0)]
        );
    }
}

#[test]
fn copy_matches_metaxy_s08_on_every_backend() {
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s07_hard_delete"), tmp.path());
        // s08's config names the `archive` store; s07's store is the source
        std::fs::copy(
            scenario_dir_in(b, "s08_copy").join("metaxy.toml"),
            tmp.path().join("metaxy.toml"),
        )
        .unwrap();
        let ws = reopen(tmp.path(), Some("dev"));
        let plan = plan_copy(ws.store.as_ref(), &ws.graph, &CopyRequest::default()).unwrap();
        let dest_cfg = ws.config.store_config(Some("archive")).unwrap();
        let dest = open_store_for_write(dest_cfg, tmp.path()).unwrap();
        let stats = execute_copy(dest.as_ref(), &ws.graph, &plan).unwrap();
        // Metaxy: "✓ Copy complete: 7 feature(s), 386 row(s) copied"
        let (_, stdout) =
            cli_capture(scenario_dir_in(b, "s08_copy").join("expected/cli/s08_copy.txt"));
        assert!(
            stdout.contains(&format!(
                "{} feature(s), {} row(s) copied",
                stats.features_copied, stats.rows_copied
            )),
            "{b}: {stats:?} vs {stdout}"
        );
        let archive = reopen(tmp.path(), Some("archive"));
        let index = json(scenario_dir_in(b, "s08_copy").join("expected/archive_index.json"));
        let mut n = 0;
        for (k, entry) in index.as_object().unwrap() {
            let Some(file) = entry
                .get("file")
                .or_else(|| entry.get("raw_table").and_then(|r| r.get("file")))
            else {
                continue;
            };
            let key = FeatureKey::parse(k).unwrap();
            let golden = json(scenario_dir_in(b, "s08_copy").join(file.as_str().unwrap()));
            let rows = golden["rows"].as_array().unwrap();
            let all = archive
                .read(
                    &key,
                    &ReadOptions {
                        with_feature_history: true,
                        with_sample_history: true,
                        include_soft_deleted: true,
                        ..Default::default()
                    },
                )
                .unwrap()
                .unwrap();
            let keys = row_keys(rows);
            assert_eq!(
                canon(&df_to_json_rows(&all, None).unwrap(), &keys),
                canon(rows, &keys),
                "{b} {k}: archive rows differ from Metaxy's copy"
            );
            n += rows.len();
        }
        assert_eq!(n, stats.rows_copied, "{b}");
        // the source store is unchanged and Metaxy-equal
        assert_store_matches(&reopen(tmp.path(), Some("dev")), b, "s07_hard_delete");
    }
}

#[test]
fn write_fills_system_columns_like_metaxy() {
    use polars::prelude::*;
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, "s01_initial"), tmp.path());
        let ws = reopen(tmp.path(), None);
        let key = FeatureKey::parse("example/video").unwrap();
        // two new root samples, provenance from the struct (FORMAT.md §5.3 worked example for s000000)
        let pbf = df!(
            "audio" => ["audio-v1-s000000", "a-new"],
            "frames" => ["frames-v1-s000000", "f-new"],
        )
        .unwrap()
        .into_struct("metaxy_provenance_by_field".into())
        .into_series();
        let df = DataFrame::new(
            2,
            vec![
                Column::new("sample_uid".into(), ["n000000", "n000001"]),
                Column::new("path".into(), ["/a", "/b"]),
                pbf.into_column(),
            ],
        )
        .unwrap();
        let existing = ws.read(&key, &ReadOptions::default()).unwrap().unwrap();
        let plan = plan_write(
            ws.store.as_ref(),
            &ws.graph,
            &key,
            df,
            &WriteOptions {
                materialization_id: Some("run-1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let rows = df_to_json_rows(&plan.rows, None).unwrap();
        assert_eq!(rows[0]["metaxy_provenance"], "61644483", "{b}");
        assert_eq!(rows[0]["metaxy_data_version"], "61644483", "{b}");
        assert_eq!(
            rows[0]["metaxy_data_version_by_field"],
            rows[0]["metaxy_provenance_by_field"]
        );
        assert_eq!(rows[0]["metaxy_feature_version"], "c2ac395f", "{b}");
        assert_eq!(rows[0]["metaxy_project_version"], "bc37caf4", "{b}");
        assert_eq!(rows[0]["metaxy_materialization_id"], "run-1", "{b}");
        assert_eq!(
            rows[0]["metaxy_created_at"], rows[0]["metaxy_updated_at"],
            "{b}"
        );
        assert_eq!(rows[0]["metaxy_deleted_at"], Value::Null, "{b}");
        assert_eq!(execute_write(ws.store.as_ref(), &plan).unwrap(), 2);
        let ws = reopen(tmp.path(), None);
        let after = ws.read(&key, &ReadOptions::default()).unwrap().unwrap();
        assert_eq!(after.height(), existing.height() + 2, "{b}");
        // downstream now sees two new samples
        let inc = ws
            .increment(
                &FeatureKey::parse("example/crop").unwrap(),
                &ResolveOptions::default(),
            )
            .unwrap();
        assert_eq!(inc.new.height(), 2, "{b}");
        // a frame without the provenance struct is refused before anything is written
        let bad = DataFrame::new(1, vec![Column::new("sample_uid".into(), ["x"])]).unwrap();
        let err = plan_write(
            ws.store.as_ref(),
            &ws.graph,
            &key,
            bad,
            &WriteOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("metaxy_provenance_by_field"), "{b}: {err}");
    }
}

#[test]
fn fallback_stores_are_never_written() {
    // dev lacks example/video, which is read from the fallback store prod
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("fallback"), tmp.path());
    let prod = tmp.path().join("store/prod/metadata.duckdb");
    let prod_before = std::fs::read(&prod).unwrap();
    let ws = reopen(tmp.path(), None);
    let video = FeatureKey::parse("example/video").unwrap();
    assert_eq!(ws.store.source_of(&video).unwrap().as_deref(), Some("prod"));
    // a soft delete reads through the fallback (as Metaxy's does) and appends the tombstone to dev
    let req = DeleteRequest {
        features: vec![video.clone()],
        filters: vec!["sample_uid = 's000001'".into()],
        ..Default::default()
    };
    let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req).unwrap();
    assert_eq!(plan.total_rows(), 1);
    let warning = plan.features[0].warning.as_deref().unwrap();
    assert!(warning.contains("fallback store \"prod\""), "{warning}");
    execute_delete(ws.store.as_ref(), &ws.graph, &plan).unwrap();
    assert_eq!(std::fs::read(&prod).unwrap(), prod_before, "prod untouched");
    let ws = reopen(tmp.path(), None);
    assert!(
        ws.store.local().has_feature(&video).unwrap(),
        "the tombstone went to dev"
    );
    // a hard delete only ever sees the store's own rows: prod's are out of reach
    let req = DeleteRequest {
        features: vec![FeatureKey::parse("example/video").unwrap()],
        filters: vec!["sample_uid = 's000002'".into()],
        hard: true,
        ..Default::default()
    };
    let plan = plan_delete(ws.store.as_ref(), &ws.graph, &req).unwrap();
    assert_eq!(plan.total_rows(), 0);
    execute_delete(ws.store.as_ref(), &ws.graph, &plan).unwrap();
    assert_eq!(std::fs::read(&prod).unwrap(), prod_before, "prod untouched");
}

#[test]
fn copy_across_backends_matches_metaxy_s08() {
    // DuckDB (s07) -> Delta, Delta (s07) -> LanceDB, LanceDB (s07) -> DuckDB, DuckDB -> PostgreSQL, PostgreSQL ->
    // Delta: the archive holds Metaxy's rows
    for (src, dst) in [
        ("duckdb", "delta"),
        ("delta", "lancedb"),
        ("lancedb", "duckdb"),
        ("duckdb", "iceberg"),
        ("iceberg", "delta"),
        ("duckdb", "postgres"),
        ("postgres", "delta"),
        ("duckdb", "clickhouse"),
        ("clickhouse", "delta"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(src, "s07_hard_delete"), tmp.path());
        let (ty, key, loc) = match dst {
            "duckdb" => (
                "metaxy.ext.duckdb.DuckDBMetadataStore",
                "database",
                "${METAXY_FIXTURE_DIR:-.}/store_archive/metadata.duckdb",
            ),
            "delta" => (
                "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
                "root_path",
                "${METAXY_FIXTURE_DIR:-.}/store_archive",
            ),
            "iceberg" => (
                "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore",
                "warehouse",
                "${METAXY_FIXTURE_DIR:-.}/store_archive",
            ),
            "postgres" => (
                "metaxy.ext.postgresql.PostgreSQLMetadataStore",
                "connection_string",
                "${METAXY_FIXTURE_PG_ARCHIVE}",
            ),
            "clickhouse" => (
                "metaxy.ext.clickhouse.ClickHouseMetadataStore",
                "connection_string",
                "${METAXY_FIXTURE_CH_ARCHIVE}",
            ),
            _ => (
                "metaxy.ext.lancedb.LanceDBMetadataStore",
                "uri",
                "${METAXY_FIXTURE_DIR:-.}/store_archive",
            ),
        };
        if dst == "postgres" {
            // a DuckDB scenario has no dump: give it an empty PostgreSQL database as its archive
            std::fs::write(tmp.path().join("store.sql"), "").unwrap();
        }
        if dst == "clickhouse" {
            // the same with an empty ClickHouse database
            std::fs::write(tmp.path().join("store.ch.sql"), "").unwrap();
        }
        let mut toml = std::fs::read_to_string(tmp.path().join("metaxy.toml")).unwrap();
        toml.push_str(&format!(
            "\n[stores.archive]\ntype = \"{ty}\"\n\n[stores.archive.config]\n{key} = \"{loc}\"\n"
        ));
        std::fs::write(tmp.path().join("metaxy.toml"), toml).unwrap();
        let ws = reopen(tmp.path(), Some("dev"));
        let plan = plan_copy(ws.store.as_ref(), &ws.graph, &CopyRequest::default()).unwrap();
        let dest =
            open_store_for_write(ws.config.store_config(Some("archive")).unwrap(), tmp.path())
                .unwrap();
        let stats = execute_copy(dest.as_ref(), &ws.graph, &plan).unwrap();
        assert_eq!(
            (stats.features_copied, stats.rows_copied),
            (7, 386),
            "{src} -> {dst}"
        );
        let archive = reopen(tmp.path(), Some("archive"));
        let index = json(scenario_dir_in(src, "s08_copy").join("expected/archive_index.json"));
        for (k, entry) in index.as_object().unwrap() {
            let Some(file) = entry.get("file") else {
                continue;
            };
            let golden = json(scenario_dir_in(src, "s08_copy").join(file.as_str().unwrap()));
            let rows = golden["rows"].as_array().unwrap();
            let all = archive
                .read(
                    &FeatureKey::parse(k).unwrap(),
                    &ReadOptions {
                        with_feature_history: true,
                        with_sample_history: true,
                        include_soft_deleted: true,
                        ..Default::default()
                    },
                )
                .unwrap()
                .unwrap();
            let keys = row_keys(rows);
            assert_eq!(
                canon(&df_to_json_rows(&all, None).unwrap(), &keys),
                canon(rows, &keys),
                "{src} -> {dst} {k}"
            );
        }
    }
}
