//! The headless mutation commands of the real binary: outputs equal Metaxy's CLI where Metaxy captured them
//! (rebase, copy), dry runs change nothing, JSON documents carry the plan, and refused or bad requests exit 1 with
//! a clear message and an untouched store.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let o = run_binary(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: exit {:?}, stderr: {}",
        o.status,
        text(&o.stderr)
    );
    (text(&o.stdout), text(&o.stderr))
}

fn fails(dir: &Path, args: &[&str]) -> Output {
    let o = run_binary(dir, args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{args:?} should fail with exit 1: stdout {} stderr {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    o
}

fn count(dir: &Path, feature: &str, extra: &[&str]) -> u64 {
    let mut args = vec![
        "metadata", "read", feature, "--format", "json", "--limit", "0",
    ];
    args.extend_from_slice(extra);
    let (out, _) = ok(dir, &args);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["count"].as_u64().unwrap()
}

fn copy_of(b: &str, s: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir_in(b, s), tmp.path());
    tmp
}

#[test]
fn rebase_and_copy_print_what_metaxy_prints() {
    let tmp = copy_of("duckdb", "s04_version_bump");
    let dir = tmp.path();
    ok(
        dir,
        &["metadata", "rebase", "example/crop", "--from", "34d75856"],
    );
    ok(
        dir,
        &[
            "metadata",
            "rebase",
            "example/face_detection",
            "--from",
            "f1526ee0",
        ],
    );
    let cli = scenario_dir("s05_rebased").join("expected/cli");
    for (file, extra) in [
        ("s05_rebase_av_report_dry_run.txt", &["--dry-run"][..]),
        ("s05_rebase_av_report.txt", &[][..]),
    ] {
        let (code, stdout, stderr) = cli_capture_streams(cli.join(file));
        let mut args = vec![
            "metadata",
            "rebase",
            "example/av_report",
            "--from",
            "542f3bec",
        ];
        args.extend_from_slice(extra);
        let o = run_binary(dir, &args);
        assert_eq!(o.status.code(), Some(code), "{file}");
        assert_eq!(text(&o.stdout), stdout, "{file} stdout");
        assert_eq!(text(&o.stderr), stderr, "{file} stderr");
    }
    // a rebase of a root feature is refused, as Metaxy refuses it
    let o = fails(
        dir,
        &["metadata", "rebase", "example/video", "--from", "c2ac395f"],
    );
    assert!(
        text(&o.stderr).contains("Cannot rebase root feature example/video"),
        "{}",
        text(&o.stderr)
    );
    // an unknown target version
    let o = fails(
        dir,
        &[
            "metadata",
            "rebase",
            "example/crop",
            "--from",
            "34d75856",
            "--to",
            "00000000",
        ],
    );
    assert!(
        text(&o.stderr).contains("not found in system storage"),
        "{}",
        text(&o.stderr)
    );

    // copy (s07 -> archive): Metaxy's stdout
    let tmp = copy_of("duckdb", "s07_hard_delete");
    let dir = tmp.path();
    std::fs::copy(
        scenario_dir("s08_copy").join("metaxy.toml"),
        dir.join("metaxy.toml"),
    )
    .unwrap();
    let (code, stdout, _) =
        cli_capture_streams(scenario_dir("s08_copy").join("expected/cli/s08_copy.txt"));
    let args = [
        "metadata",
        "copy",
        "--all-features",
        "--from",
        "dev",
        "--to",
        "archive",
    ];
    // dry run first: nothing is written
    let (dry, _) = ok(dir, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(
        dry.trim(),
        "Dry run: 7 feature(s), 386 row(s) would be copied"
    );
    assert!(
        !dir.join("store_archive").exists(),
        "a dry run creates nothing"
    );
    let o = run_binary(dir, &args);
    assert_eq!(o.status.code(), Some(code));
    assert_eq!(text(&o.stdout), stdout);
    assert_eq!(count(dir, "example/crop", &["--store", "archive"]), 50);
}

#[test]
fn delete_dry_run_lists_rows_and_changes_nothing() {
    for b in BACKENDS {
        let tmp = copy_of(b, "s05_rebased");
        let dir = tmp.path();
        let before = count(dir, "example/crop", &[]);
        let args = [
            "metadata",
            "delete",
            "example/crop",
            "--cascade",
            "--filter",
            "sample_uid IN ('s000001', 's000002')",
            "--dry-run",
            "--format",
            "json",
        ];
        let (out, _) = ok(dir, &args);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["mode"], "soft", "{b}");
        assert_eq!(v["dry_run"], true);
        // crop, then the downstream features holding the same samples
        let per: Vec<(String, u64)> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["feature"].as_str().unwrap().to_string(),
                    f["rows"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            per,
            [
                ("example/crop".to_string(), 2),
                ("example/face_detection".to_string(), 2),
                ("example/av_report".to_string(), 2)
            ],
            "{b}"
        );
        assert_eq!(v["total_rows"], 6);
        assert_eq!(v["features"][1]["cascaded_from"], "example/crop");
        let preview = v["features"][0]["preview"].as_array().unwrap();
        let ids: Vec<&str> = preview
            .iter()
            .map(|r| r["sample_uid"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["s000001", "s000002"], "{b}");
        assert_eq!(
            count(dir, "example/crop", &[]),
            before,
            "{b}: dry run wrote nothing"
        );
        // plain dry run: Metaxy's summary on stderr, the rows on stdout
        let (out, err) = ok(dir, &args[..7]);
        assert!(
            err.contains("Dry run (soft delete, with_feature_history=no)"),
            "{err}"
        );
        assert!(err.contains("Total rows to delete: 6"), "{err}");
        assert!(
            err.contains("  • example/face_detection (2 rows) [cascade from example/crop]"),
            "{err}"
        );
        assert!(out.contains("s000002"), "{out}");
        // now for real, JSON report
        let (out, _) = ok(
            dir,
            &[
                "metadata",
                "delete",
                "example/crop",
                "--filter",
                "sample_uid IN ('s000001', 's000002')",
                "--format",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["deleted"]["example/crop"], 2, "{b}");
        assert_eq!(count(dir, "example/crop", &[]), before - 2, "{b}");
        assert_eq!(
            count(dir, "example/crop", &["--include-soft-deleted"]),
            before,
            "{b}: tombstones readable"
        );
    }
}

#[test]
fn refused_and_bad_mutations_exit_1_and_leave_the_store_alone() {
    let tmp = copy_of("duckdb", "s05_rebased");
    let dir = tmp.path();
    let raw = |d: &Path| {
        count(
            d,
            "example/stt",
            &[
                "--with-feature-history",
                "--with-sample-history",
                "--include-soft-deleted",
            ],
        )
    };
    let before = raw(dir);
    // Metaxy's guard: an unfiltered hard delete needs --yes
    let o = fails(dir, &["metadata", "delete", "example/stt", "--hard"]);
    assert!(
        text(&o.stderr).contains("requires --yes"),
        "{}",
        text(&o.stderr)
    );
    // ours (issue 16 point 3): an unfiltered soft delete needs --yes too (no terminal here to type the key)
    let o = fails(dir, &["metadata", "delete", "example/stt"]);
    assert!(
        text(&o.stderr).contains("requires --yes"),
        "{}",
        text(&o.stderr)
    );
    // a filter on a column that does not exist
    let o = fails(
        dir,
        &["metadata", "delete", "example/stt", "--filter", "nope = 1"],
    );
    assert!(
        text(&o.stderr).contains("bad filter"),
        "{}",
        text(&o.stderr)
    );
    let o = fails(
        dir,
        &[
            "metadata",
            "delete",
            "example/stt",
            "--hard",
            "--yes",
            "--filter",
            "(((",
        ],
    );
    assert!(
        text(&o.stderr).contains("bad filter"),
        "{}",
        text(&o.stderr)
    );
    // an unknown feature
    let o = fails(
        dir,
        &["metadata", "delete", "example/nope", "--filter", "1 = 1"],
    );
    assert!(
        text(&o.stderr).contains("example/nope"),
        "{}",
        text(&o.stderr)
    );
    // write: input without the provenance struct, unreadable input, unknown format
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, "sample_uid,path\nn1,/x\n").unwrap();
    let o = fails(
        dir,
        &[
            "metadata",
            "write",
            "example/video",
            "--input",
            csv.to_str().unwrap(),
        ],
    );
    assert!(
        text(&o.stderr).contains("metaxy_provenance_by_field"),
        "{}",
        text(&o.stderr)
    );
    let o = fails(
        dir,
        &[
            "metadata",
            "write",
            "example/video",
            "--input",
            "missing.parquet",
        ],
    );
    assert!(
        text(&o.stderr).contains("missing.parquet"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(dir.join("rows.xlsx"), "x").unwrap();
    let o = fails(
        dir,
        &["metadata", "write", "example/video", "--input", "rows.xlsx"],
    );
    assert!(text(&o.stderr).contains("unknown"), "{}", text(&o.stderr));
    // copy onto itself / to an unknown store
    let o = fails(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "dev",
        ],
    );
    assert!(
        text(&o.stderr).contains("same store"),
        "{}",
        text(&o.stderr)
    );
    let o = fails(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "nowhere",
        ],
    );
    assert!(text(&o.stderr).contains("nowhere"), "{}", text(&o.stderr));
    assert_eq!(raw(dir), before, "nothing was written");
}

#[test]
fn write_appends_rows_from_csv_ndjson_and_parquet() {
    for b in BACKENDS {
        let tmp = copy_of(b, "s01_initial");
        let dir = tmp.path();
        let before = count(dir, "example/video", &[]);
        std::fs::write(
            dir.join("a.csv"),
            "sample_uid,path,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\nn1,/n1,a1,f1\nn2,/n2,a2,f2\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("b.ndjson"),
            "{\"sample_uid\": \"n3\", \"path\": \"/n3\", \"metaxy_provenance_by_field\": {\"audio\": \"a3\", \"frames\": \"f3\"}}\n",
        )
        .unwrap();
        // dry run: the prepared rows, nothing written
        let (out, _) = ok(
            dir,
            &[
                "metadata",
                "write",
                "example/video",
                "--input",
                "a.csv",
                "--dry-run",
                "--format",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["rows"].as_array().unwrap().len(), 2);
        assert_eq!(v["rows"][0]["metaxy_feature_version"], "c2ac395f");
        assert_eq!(count(dir, "example/video", &[]), before);
        let (_, err) = ok(
            dir,
            &[
                "metadata",
                "write",
                "example/video",
                "--input",
                "a.csv",
                "--materialization-id",
                "run-7",
            ],
        );
        assert!(err.contains("✓ Wrote 2 row(s) to example/video"), "{err}");
        ok(
            dir,
            &["metadata", "write", "example/video", "--input", "b.ndjson"],
        );
        {
            use polars::prelude::*;
            let pbf = df!("audio" => ["a4"], "frames" => ["f4"])
                .unwrap()
                .into_struct("metaxy_provenance_by_field".into())
                .into_series();
            let mut df = DataFrame::new(
                1,
                vec![
                    Column::new("sample_uid".into(), ["n4"]),
                    Column::new("path".into(), ["/n4"]),
                    pbf.into_column(),
                ],
            )
            .unwrap();
            let f = std::fs::File::create(dir.join("c.parquet")).unwrap();
            ParquetWriter::new(f).finish(&mut df).unwrap();
        }
        ok(
            dir,
            &["metadata", "write", "example/video", "--input", "c.parquet"],
        );
        assert_eq!(count(dir, "example/video", &[]), before + 4, "{b}");
        let (out, _) = ok(
            dir,
            &[
                "metadata",
                "read",
                "example/video",
                "--filter",
                "sample_uid = 'n1'",
                "--format",
                "json",
            ],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        let row = &v["rows"][0];
        assert_eq!(row["metaxy_materialization_id"], "run-7", "{b}");
        // provenance = H("a1|f1"), computed like Metaxy's write()
        assert_eq!(row["metaxy_provenance"], row["metaxy_data_version"]);
        // the new samples are new for the downstream feature
        let (out, _) = ok(
            dir,
            &["metadata", "increment", "example/crop", "--format", "json"],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["counts"]["new"], 4, "{b}: {}", v["counts"]);
    }
}

/// Runs SQL on the DuckDB file of a fixture copy (to build system-table states real Metaxy never wrote).
fn duckdb_exec(dir: &Path, sql: &str) {
    let conn = duckdb::Connection::open(dir.join("store/metadata.duckdb")).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn duckdb_count(dir: &Path, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(dir.join("store/metadata.duckdb")).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn mutations_of_a_feature_of_another_project_are_refused() {
    let tmp = copy_of("duckdb", "s01_initial");
    let dir = tmp.path();
    // another project pushed `other/clip` to the same store (example/video's rows under a new key and project)
    duckdb_exec(
        dir,
        r#"INSERT INTO metaxy_system__feature_versions
           SELECT * REPLACE (
             'other_project' AS project,
             'other/clip' AS feature_key,
             replace(feature_spec, '"key": "example/video"', '"key": "other/clip"') AS feature_spec,
             'aaaaaaaa' AS metaxy_project_version)
           FROM metaxy_system__feature_versions WHERE feature_key = 'example/video'"#,
    );
    std::fs::write(
        dir.join("rows.ndjson"),
        "{\"sample_uid\": \"n1\", \"path\": \"/n1\", \"metaxy_provenance_by_field\": {\"audio\": \"a1\", \"frames\": \"f1\"}}\n",
    )
    .unwrap();
    let refused = "it is a feature of project \"other_project\", not of this config's project \"example_overview\"";
    for args in [
        &["metadata", "write", "other/clip", "--input", "rows.ndjson"][..],
        &[
            "metadata",
            "write",
            "other/clip",
            "--input",
            "rows.ndjson",
            "--dry-run",
        ],
        &["metadata", "delete", "other/clip"],
        &["metadata", "delete", "other/clip", "--hard", "--yes"],
        &["metadata", "rebase", "other/clip", "--from", "c2ac395f"],
    ] {
        let o = fails(dir, args);
        assert!(
            text(&o.stderr).contains(refused),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    assert_eq!(
        duckdb_count(
            dir,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'other__clip'"
        ),
        0,
        "nothing was created for the other project's feature"
    );
    // a key nobody pushed is still an unknown feature
    let o = fails(
        dir,
        &[
            "metadata",
            "write",
            "nobody/pushed",
            "--input",
            "rows.ndjson",
        ],
    );
    assert!(
        text(&o.stderr).contains("is not in the feature graph"),
        "{}",
        text(&o.stderr)
    );
    // this project's own features are written as before
    let before = count(dir, "example/video", &[]);
    ok(
        dir,
        &[
            "metadata",
            "write",
            "example/video",
            "--input",
            "rows.ndjson",
        ],
    );
    assert_eq!(count(dir, "example/video", &[]), before + 1);
}

#[test]
fn mutations_refuse_a_feature_version_the_system_table_does_not_hold() {
    let tmp = copy_of("duckdb", "s04_version_bump");
    let dir = tmp.path();
    // the current push of example/crop claims a feature version its spec does not hash to (recomputed: ea834040)
    duckdb_exec(
        dir,
        "UPDATE metaxy_system__feature_versions SET metaxy_feature_version = 'deadbeef'
         WHERE feature_key = 'example/crop' AND metaxy_project_version = 'f513ad86'",
    );
    let raw = |d: &Path| {
        count(
            d,
            "example/crop",
            &[
                "--with-feature-history",
                "--with-sample-history",
                "--include-soft-deleted",
            ],
        )
    };
    let before = raw(dir);
    // `list features` warns about it, as before
    let (_, err) = ok(dir, &["list", "features"]);
    assert!(
        err.contains("example/crop feature_version: stored deadbeef but recomputed ea834040"),
        "{err}"
    );
    std::fs::write(
        dir.join("crop.ndjson"),
        "{\"sample_uid\": \"s000001\", \"crop_path\": \"/c\", \"metaxy_provenance_by_field\": {\"audio\": \"a\", \"frames\": \"f\"}}\n",
    )
    .unwrap();
    for args in [
        &["metadata", "rebase", "example/crop", "--from", "34d75856"][..],
        &[
            "metadata",
            "rebase",
            "example/crop",
            "--from",
            "34d75856",
            "--dry-run",
        ],
        &[
            "metadata",
            "write",
            "example/crop",
            "--input",
            "crop.ndjson",
        ],
        &[
            "metadata",
            "delete",
            "example/crop",
            "--filter",
            "sample_uid = 's000001'",
        ],
        &[
            "metadata",
            "delete",
            "example/crop",
            "--hard",
            "--yes",
            "--filter",
            "sample_uid = 's000001'",
        ],
        // a cascade from upstream reaches crop too
        &[
            "metadata",
            "delete",
            "example/video",
            "--cascade",
            "--filter",
            "sample_uid = 's000001'",
        ],
    ] {
        let o = fails(dir, args);
        let err = text(&o.stderr);
        assert!(
            err.contains("refusing to write example/crop: its feature version recomputed from the pushed graph is ea834040, but the system table stores deadbeef for project version f513ad86"),
            "{args:?}: {err}"
        );
        assert!(err.contains("Push the graph with Metaxy first"), "{err}");
    }
    assert_eq!(raw(dir), before, "nothing was written");
    // a hard delete across every feature version neither stamps nor selects by the version: allowed
    ok(
        dir,
        &[
            "metadata",
            "delete",
            "example/crop",
            "--hard",
            "--with-feature-history",
            "--dry-run",
            "--filter",
            "sample_uid = 's000001'",
        ],
    );
    // features whose pushed version matches are unaffected
    let (_, err) = ok(
        dir,
        &[
            "metadata",
            "rebase",
            "example/face_detection",
            "--from",
            "f1526ee0",
            "--dry-run",
        ],
    );
    assert!(err.contains("Dry run: 50 row(s) would be rebased"), "{err}");
}

/// `row` projected onto `keys`, objects with sorted keys (struct member order differs between writers).
fn canonical(row: &Value, keys: &[&str]) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: std::collections::BTreeMap<&String, Value> =
                    m.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(b).unwrap()
            }
            other => other.clone(),
        }
    }
    let m: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| (k.to_string(), sorted(row.get(*k).unwrap_or(&Value::Null))))
        .collect();
    Value::Object(m).to_string()
}

fn canonical_rows(rows: &[Value], keys: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| canonical(r, keys)).collect();
    v.sort();
    v
}

/// The versioned columns a rebase rewrites, plus the ids and a user column it keeps.
const REBASED: [&str; 7] = [
    "sample_uid",
    "crop_path",
    "metaxy_provenance",
    "metaxy_provenance_by_field",
    "metaxy_data_version",
    "metaxy_feature_version",
    "metaxy_project_version",
];

fn read_rows(dir: &Path, feature: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["metadata", "read", feature, "--format", "json"];
    args.extend_from_slice(extra);
    let (out, _) = ok(dir, &args);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["rows"].as_array().unwrap().clone()
}

#[test]
fn rebase_with_an_explicit_target_version_succeeds() {
    // s04 has two pushed graphs: bc37caf4 (crop 34d75856) and f513ad86 (crop ea834040, the current one)
    let tmp = copy_of("duckdb", "s04_version_bump");
    let dir = tmp.path();
    let (_, err) = ok(
        dir,
        &[
            "metadata",
            "rebase",
            "example/crop",
            "--from",
            "34d75856",
            "--to",
            "ea834040",
        ],
    );
    assert_eq!(err, "✓ Rebased 50 row(s)\n");
    // exactly the rows Metaxy's own rebase to ea834040 left in s05
    let golden = json(scenario_dir("s05_rebased").join("expected/reads/example__crop.json"));
    assert_eq!(
        canonical_rows(&read_rows(dir, "example/crop", &[]), &REBASED),
        canonical_rows(golden["rows"].as_array().unwrap(), &REBASED)
    );

    // back to the older pushed version: its graph (bc37caf4) is loaded from the system table and the provenance is
    // recomputed under it, which gives the provenance Metaxy stored under 34d75856 (same upstream rows)
    let tmp = copy_of("duckdb", "s05_rebased");
    let dir = tmp.path();
    let args = [
        "metadata",
        "rebase",
        "example/crop",
        "--from",
        "ea834040",
        "--to",
        "34d75856",
    ];
    let raw = json(scenario_dir("s05_rebased").join("expected/raw/example__crop.json"));
    let mut latest_v1: std::collections::BTreeMap<String, Value> = Default::default();
    for r in raw["rows"].as_array().unwrap() {
        if r["metaxy_feature_version"] != "34d75856" {
            continue;
        }
        let id = r["sample_uid"].as_str().unwrap().to_string();
        let newer = latest_v1.get(&id).is_none_or(|o| {
            o["metaxy_updated_at"].as_str().unwrap() < r["metaxy_updated_at"].as_str().unwrap()
        });
        if newer {
            latest_v1.insert(id, r.clone());
        }
    }
    // the 50 samples stored under ea834040 (crop's v1 rows of 5 samples video no longer has are not rebased)
    let current = json(scenario_dir("s05_rebased").join("expected/reads/example__crop.json"));
    let expected: Vec<Value> = current["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| latest_v1[r["sample_uid"].as_str().unwrap()].clone())
        .collect();
    assert_eq!(expected.len(), 50);
    let (out, _) = ok(
        dir,
        &[&args[..], &["--dry-run", "--format", "json"]].concat(),
    );
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["to_version"], "34d75856");
    assert_eq!(plan["to_project_version"], "bc37caf4");
    let keys = &REBASED[..4];
    assert_eq!(
        canonical_rows(plan["rebased"].as_array().unwrap(), keys),
        canonical_rows(&expected, keys),
        "the provenance under the old graph"
    );
    let (_, err) = ok(dir, &args);
    assert_eq!(err, "✓ Rebased 50 row(s)\n");
    // the newest row per sample across versions is now the rebased one, stamped with the old versions
    let rows = read_rows(dir, "example/crop", &["--with-feature-history"]);
    assert_eq!(rows.len(), 50);
    assert!(rows
        .iter()
        .all(|r| r["metaxy_feature_version"] == "34d75856"
            && r["metaxy_project_version"] == "bc37caf4"));
    assert_eq!(canonical_rows(&rows, keys), canonical_rows(&expected, keys));
    // the current version's rows are untouched
    assert_eq!(count(dir, "example/crop", &[]), 50);
}
