//! The real `metaxy-tui` binary in headless mode, run from fixture scenario directories like a user would.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(dir)
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .env_remove("METAXY_FIXTURE_DIR")
        .output()
        .expect("binary runs")
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn status_json_equals_metaxy_in_every_scenario() {
    for s in SCENARIOS {
        let dir = scenario_dir(s);
        let Some(path) = std::fs::read_dir(dir.join("expected/cli"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("metadata_status_json.txt"))
        else {
            continue;
        };
        let (_, want) = cli_capture(path);
        let o = run(
            &dir,
            &["metadata", "status", "--all-features", "--format", "json"],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            want.trim(),
            "{s}"
        );
        assert!(o.status.success());
    }
}

#[test]
fn increment_json_equals_metaxy_resolve_update() {
    for s in ["s02_mutated", "s03_cascaded", "s05_rebased"] {
        let dir = scenario_dir(s);
        let want = json(dir.join("expected/increments/example__crop.json"));
        let got = stdout_json(&run(
            &dir,
            &["metadata", "increment", "example/crop", "--format", "json"],
        ));
        assert_eq!(got["feature"], "example/crop");
        assert_eq!(got["feature_version"], want["feature_version"]);
        assert_eq!(got["id_columns"], want["id_columns"]);
        let keys = vec![
            "sample_uid".to_string(),
            "metaxy_provenance_by_field".into(),
            "metaxy_provenance".into(),
        ];
        for (ours, theirs) in [
            ("new", "added"),
            ("stale", "changed"),
            ("orphaned", "removed"),
        ] {
            let g = got[ours].as_array().unwrap();
            let w = want[theirs].as_array().unwrap();
            assert_eq!(multiset(g, &keys), multiset(w, &keys), "{s} {ours}");
            for row in g {
                let mut k: Vec<&String> = row.as_object().unwrap().keys().collect();
                k.sort();
                assert_eq!(
                    k,
                    [
                        "metaxy_provenance",
                        "metaxy_provenance_by_field",
                        "sample_uid"
                    ],
                    "{s}: row shape"
                );
            }
        }
    }
    // --limit caps the rows but not the counts
    let got = stdout_json(&run(
        &scenario_dir("s02_mutated"),
        &["metadata", "increment", "example/crop", "--limit", "2"],
    ));
    assert_eq!(got["stale"].as_array().unwrap().len(), 2);
    assert_eq!(got["counts"]["stale"], 10);
}

#[test]
fn assert_in_sync_exit_codes() {
    let o = run(
        &scenario_dir("s02_mutated"),
        &["metadata", "status", "--all-features", "--assert-in-sync"],
    );
    assert_eq!(o.status.code(), Some(1), "s02 needs updates");
    let o = run(
        &scenario_dir("s03_cascaded"),
        &[
            "metadata",
            "status",
            "example/crop",
            "example/face_detection",
            "--assert-in-sync",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("example/crop") && text.contains('✓'),
        "{text}"
    );
}

#[test]
fn read_command_applies_metaxy_read_semantics() {
    let dir = scenario_dir("s06_soft_delete");
    let live = stdout_json(&run(&dir, &["metadata", "read", "example/stt"]));
    let all = stdout_json(&run(
        &dir,
        &["metadata", "read", "example/stt", "--include-soft-deleted"],
    ));
    assert!(all["count"].as_u64() > live["count"].as_u64());
    let one = stdout_json(&run(
        &dir,
        &[
            "metadata",
            "read",
            "example/stt",
            "--filter",
            "sample_uid = 's000002'",
            "--with-sample-history",
        ],
    ));
    assert!(one["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["sample_uid"] == "s000002"));
    let lim = stdout_json(&run(
        &dir,
        &["metadata", "read", "example/video", "--limit", "3"],
    ));
    assert_eq!(lim["rows"].as_array().unwrap().len(), 3);
    let plain = run(
        &dir,
        &[
            "metadata",
            "read",
            "example/video",
            "--limit",
            "1",
            "--format",
            "plain",
        ],
    );
    assert!(String::from_utf8_lossy(&plain.stdout).contains("1 of 50 row(s)"));
}

#[test]
fn list_and_describe_match_metaxy_json() {
    let dir = scenario_dir("s01_initial");
    let (_, want) = cli_capture(dir.join("expected/cli/s01_list_features_json.txt"));
    let got = stdout_json(&run(&dir, &["list", "features", "--format", "json"]));
    assert_eq!(got, serde_json::from_str::<Value>(&want).unwrap());
    let (_, want) = cli_capture(dir.join("expected/cli/s01_describe_features_json.txt"));
    let got = stdout_json(&run(
        &dir,
        &["describe", "features", "--all-features", "--format", "json"],
    ));
    let want: Value = serde_json::from_str(&want).unwrap();
    // field deps list order is a Python set's order in Metaxy: compare with sorted field lists
    fn norm(v: &Value) -> Value {
        let mut v = v.clone();
        for f in v["features"].as_array_mut().unwrap() {
            for fl in f["fields"].as_array_mut().unwrap() {
                if let Some(deps) = fl.get_mut("deps").and_then(Value::as_array_mut) {
                    for d in deps {
                        if let Some(a) = d["fields"].as_array_mut() {
                            a.sort_by_key(|x| x.as_str().unwrap_or("").to_string());
                        }
                    }
                }
            }
        }
        v
    }
    assert_eq!(norm(&got), norm(&want));
    let (_, want) = cli_capture(
        scenario_dir("s04_version_bump").join("expected/cli/s04_describe_features.txt"),
    );
    let got = run(
        &scenario_dir("s04_version_bump"),
        &["describe", "features", "example/crop"],
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), want.trim());
    let stores = run(&dir, &["list", "stores"]);
    let text = String::from_utf8_lossy(&stores.stdout);
    assert!(
        text.contains("dev (default)") && text.contains("xxhash32"),
        "{text}"
    );
}

#[test]
fn bad_input_gives_clear_errors_and_exit_codes() {
    let dir = scenario_dir("s02_mutated");
    // unknown feature
    let o = run(&dir, &["metadata", "increment", "example/nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in the feature graph"));
    // bad filter
    let o = run(
        &dir,
        &[
            "metadata",
            "status",
            "--all-features",
            "--filter",
            "sample_uid = = 1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad filter"));
    // root increment needs samples
    let o = run(&dir, &["metadata", "increment", "example/video"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("root feature"));
    // usage error
    let o = run(&dir, &["metadata", "status", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    // missing store file, broken config, wrong hash algorithm
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("metaxy.toml"), "[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"nope.duckdb\"\n").unwrap();
    let o = run(tmp.path(), &["list", "features"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(tmp.path().join("metaxy.toml"), "store = [broken").unwrap();
    let o = run(tmp.path(), &["list", "features"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!o.stderr.is_empty());
    let db = scenario_dir("s02_mutated").join("store/metadata.duckdb");
    std::fs::write(
        tmp.path().join("metaxy.toml"),
        format!("[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = {:?}\nhash_algorithm = \"sha256\"\n", db.display().to_string()),
    )
    .unwrap();
    let o = run(tmp.path(), &["metadata", "status", "--all-features"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sha256"));
    // a corrupt database file
    std::fs::write(tmp.path().join("bad.duckdb"), b"this is not a duckdb file").unwrap();
    std::fs::write(tmp.path().join("metaxy.toml"), "[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"bad.duckdb\"\n").unwrap();
    let o = run(tmp.path(), &["list", "features"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot open"));
}

#[test]
fn opening_never_writes_to_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let src = scenario_dir("s02_mutated");
    std::fs::create_dir_all(tmp.path().join("store")).unwrap();
    std::fs::copy(
        src.join("store/metadata.duckdb"),
        tmp.path().join("store/metadata.duckdb"),
    )
    .unwrap();
    std::fs::copy(src.join("metaxy.toml"), tmp.path().join("metaxy.toml")).unwrap();
    let before = std::fs::read(tmp.path().join("store/metadata.duckdb")).unwrap();
    let o = run(
        tmp.path(),
        &["metadata", "status", "--all-features", "--format", "json"],
    );
    assert!(o.status.success());
    assert_eq!(
        before,
        std::fs::read(tmp.path().join("store/metadata.duckdb")).unwrap(),
        "store bytes changed"
    );
    assert!(!tmp.path().join("store/metadata.duckdb.wal").exists());
}
