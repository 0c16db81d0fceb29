//! Robustness regressions (issue 16, points 2 and 5), through the real binary and the engine:
//!
//! - every bad write input (a string in an integer column, `101.5` into an integer column, a text
//!   `metaxy_created_at`, a ragged CSV line, null ids, null provenance, a column the backend would not add) is
//!   refused with one line naming the column / line, and the store is byte-identical afterwards, on DuckDB, Delta,
//!   LanceDB and Iceberg (PostgreSQL: its table contents);
//! - on Delta and Iceberg (whose Metaxy stores add new columns) an extra column is written with its values;
//! - a soft delete into a table whose `metaxy_updated_at` is text is refused;
//! - bad configs, bad store locations, corrupt stores and bad filters are one clean line naming the key, file or
//!   path at fault (no Rust source paths, no polars plan dumps);
//! - a killed DuckDB write cannot leak its staging file outside the store;
//! - property tests (proptest) feed the config, SQL filter and feature-spec parsers arbitrary and mutated inputs:
//!   they return Ok or Err and never panic. `PROPTEST_CASES=100000 cargo test --test it fuzz` runs them longer.

use std::path::Path;

use metaxy_tui::engine::config::MetaxyConfig;
use metaxy_tui::engine::graph::spec::FeatureSpec;
use metaxy_tui::engine::store::filter::apply_filters;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::common::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of scenario `s` of backend `b` in a fresh temp dir.
fn copy_of(b: &str, s: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir_in(b, s), tmp.path());
    tmp
}

/// Every file under `dir/store*` (relative path and contents), hashed: equal hashes = byte-identical stores.
fn hash_store(dir: &Path) -> String {
    fn walk(root: &Path, p: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("store") {
            walk(dir, &e.path(), &mut files);
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for (rel, bytes) in &files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(bytes);
    }
    format!("{:x} ({} files)", h.finalize(), files.len())
}

/// Every stored row of `feature` (history, tombstones), as the binary reads them, as canonical JSON.
fn raw_rows(dir: &Path, feature: &str) -> String {
    let o = run_binary(
        dir,
        &[
            "metadata",
            "read",
            feature,
            "--with-feature-history",
            "--with-sample-history",
            "--include-soft-deleted",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    multiset(
        v["rows"].as_array().unwrap(),
        &row_keys(v["rows"].as_array().unwrap()),
    )
    .join("\n")
}

/// The store's state: file hashes, plus the table contents (PostgreSQL keeps its store in the server).
fn state(b: &str, dir: &Path) -> String {
    if b == "postgres" {
        raw_rows(dir, "example/video")
    } else {
        hash_store(dir)
    }
}

/// Runs the binary expecting exit 1 with a one-line error; returns that line.
fn one_line_error(dir: &Path, args: &[&str]) -> String {
    let o = run_binary(dir, args);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{args:?} should fail: stdout {} stderr {err}",
        text(&o.stdout)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.last().copied().unwrap_or_default().to_string();
    assert!(last.starts_with("error: "), "{args:?}: {err}");
    assert!(
        !err.contains(".rs:") && !err.contains("Resolved plan") && !err.contains("\n   0: "),
        "{args:?}: source paths or a plan dump in {err}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("error")).count(),
        1,
        "{args:?}: one error line expected in {err}"
    );
    last
}

const HEADER: &str =
    "sample_uid,path,frames,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames";

/// `(file name, contents, what the error must say)`: each bad input of issue 16 point 2.
fn bad_inputs() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "string_in_int.csv",
            format!("{HEADER}\nz1,/z1,100,a,f\nz2,/z2,notanint,a,f\n"),
            "column frames: \"notanint\" in line 3 of",
        ),
        (
            "float_in_int.ndjson",
            concat!(
                "{\"sample_uid\": \"z1\", \"frames\": 100, \"metaxy_provenance_by_field\": {\"audio\": \"a\", \"frames\": \"f\"}}\n",
                "{\"sample_uid\": \"z2\", \"frames\": 101.5, \"metaxy_provenance_by_field\": {\"audio\": \"a\", \"frames\": \"f\"}}\n"
            )
            .to_string(),
            "column frames: 101.5 in line 2 of",
        ),
        (
            "created_text.csv",
            "sample_uid,metaxy_created_at,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\nz1,yesterday,a,f\n".to_string(),
            "column metaxy_created_at: \"yesterday\" in line 2 of",
        ),
        (
            "ragged.csv",
            format!("{HEADER}\nz0,/z0,1,a,f\nz1,onlytwo\n"),
            "line 3 has 2 field(s), the header has 5",
        ),
        (
            "null_id.csv",
            format!("{HEADER}\nz1,/z1,1,a,f\n,/z2,2,a,f\n"),
            "id column sample_uid is null in line 3 of",
        ),
        (
            "null_field.ndjson",
            "{\"sample_uid\": \"z1\", \"metaxy_provenance_by_field\": {\"audio\": null, \"frames\": \"f\"}}\n".to_string(),
            "metaxy_provenance_by_field.audio is null in line 1 of",
        ),
        (
            "null_struct.ndjson",
            concat!(
                "{\"sample_uid\": \"z1\", \"metaxy_provenance_by_field\": {\"audio\": \"a\", \"frames\": \"f\"}}\n",
                "\n",
                "{\"sample_uid\": \"z2\", \"metaxy_provenance_by_field\": null}\n"
            )
            .to_string(),
            "metaxy_provenance_by_field is null in line 3 of",
        ),
    ]
}

fn refuses_bad_writes_on(b: &str) {
    let tmp = copy_of(b, "s01_initial");
    let dir = tmp.path();
    let before = state(b, dir);
    for (name, contents, expect) in bad_inputs() {
        std::fs::write(dir.join(name), contents).unwrap();
        for dry in [true, false] {
            let mut args = vec!["metadata", "write", "example/video", "--input", name];
            if dry {
                args.push("--dry-run");
            }
            let err = one_line_error(dir, &args);
            assert!(err.contains(expect), "{b} {name}: {err}");
        }
        assert_eq!(state(b, dir), before, "{b} {name}: the store changed");
    }
    // a column the table lacks: refused where Metaxy's backend refuses it, written with its values elsewhere
    std::fs::write(
        dir.join("extra.csv"),
        format!("{HEADER},extra_col\nz1,/z1,1,a,f,hello\n"),
    )
    .unwrap();
    let args = ["metadata", "write", "example/video", "--input", "extra.csv"];
    if matches!(b, "delta" | "iceberg") {
        let o = run_binary(dir, &args);
        assert!(o.status.success(), "{b}: {}", text(&o.stderr));
        let o = run_binary(
            dir,
            &[
                "metadata",
                "read",
                "example/video",
                "--filter",
                "sample_uid = 'z1'",
                "--format",
                "json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["rows"][0]["extra_col"], "hello", "{b}: {v}");
        assert_eq!(v["rows"][0]["frames"], 1, "{b}: {v}");
    } else {
        let err = one_line_error(dir, &args);
        assert!(err.contains("has no column(s) extra_col"), "{b}: {err}");
        assert_eq!(state(b, dir), before, "{b} extra column: the store changed");
    }
}

#[test]
fn bad_write_inputs_are_refused_and_leave_duckdb_untouched() {
    refuses_bad_writes_on("duckdb");
}

#[test]
fn bad_write_inputs_are_refused_and_leave_delta_untouched() {
    refuses_bad_writes_on("delta");
}

#[test]
fn bad_write_inputs_are_refused_and_leave_lancedb_untouched() {
    refuses_bad_writes_on("lancedb");
}

#[test]
fn bad_write_inputs_are_refused_and_leave_iceberg_untouched() {
    refuses_bad_writes_on("iceberg");
}

#[test]
fn bad_write_inputs_are_refused_and_leave_postgres_untouched() {
    refuses_bad_writes_on("postgres");
}

#[test]
fn a_soft_delete_into_a_text_updated_at_is_refused() {
    let tmp = copy_of("duckdb", "s01_initial");
    let dir = tmp.path();
    {
        let db = duckdb::Connection::open(dir.join("store/metadata.duckdb")).unwrap();
        db.execute_batch(
            "ALTER TABLE example__video ALTER metaxy_updated_at TYPE VARCHAR; CHECKPOINT",
        )
        .unwrap();
    }
    let before = hash_store(dir);
    let err = one_line_error(
        dir,
        &[
            "metadata",
            "delete",
            "example/video",
            "--filter",
            "sample_uid = 's000001'",
        ],
    );
    assert!(
        err.contains("stores metaxy_updated_at as str")
            && err.contains("Metaxy stores a timestamp"),
        "{err}"
    );
    std::fs::write(dir.join("ok.csv"), format!("{HEADER}\nz1,/z1,1,a,f\n")).unwrap();
    let err = one_line_error(
        dir,
        &["metadata", "write", "example/video", "--input", "ok.csv"],
    );
    assert!(err.contains("metaxy_updated_at"), "{err}");
    assert_eq!(hash_store(dir), before);
}

#[test]
fn a_duckdb_write_stages_its_rows_inside_the_store() {
    let tmp = copy_of("duckdb", "s01_initial");
    let dir = tmp.path();
    // a staging file left by a killed process (pid that cannot exist) beside the database
    let leftover = dir.join("store/.metadata.duckdb.metaxy-tui-append-4294967294-0.parquet");
    std::fs::write(&leftover, b"partial").unwrap();
    std::fs::write(dir.join("ok.csv"), format!("{HEADER}\nz1,/z1,1,a,f\n")).unwrap();
    let o = run_binary(
        dir,
        &["metadata", "write", "example/video", "--input", "ok.csv"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        !leftover.exists(),
        "the dead process's staging file is removed"
    );
    let names: Vec<String> = std::fs::read_dir(dir.join("store"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("metaxy-tui-append")),
        "{names:?}"
    );
}

/// A scenario copy whose `metaxy.toml` is replaced by `toml`.
fn with_config(b: &str, toml: &str) -> tempfile::TempDir {
    let tmp = copy_of(b, "s01_initial");
    std::fs::write(tmp.path().join("metaxy.toml"), toml).unwrap();
    tmp
}

#[test]
fn bad_configs_and_locations_are_one_line_naming_the_key_or_path() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "delta",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"\n[stores.dev.config]\nroot_path = \"store\"\nstorage_options = \"nope\"\n".into(),
            vec!["storage_options must be a table", "got a string"],
        ),
        (
            "lancedb",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n[stores.dev.config]\nuri = \"store\"\nconnect_kwargs = \"nope\"\n".into(),
            vec!["connect_kwargs must be a table"],
        ),
        (
            "duckdb",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"/dev/null\"\n".into(),
            vec!["/dev/null is not a regular file"],
        ),
        (
            "duckdb",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"store\"\n".into(),
            vec!["is a directory, not a DuckDB database file"],
        ),
        (
            "delta",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"\n[stores.dev.config]\nroot_path = \"metaxy.toml\"\n".into(),
            vec!["root_path", "metaxy.toml is a file, not a directory"],
        ),
        (
            "lancedb",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n[stores.dev.config]\nuri = \"metaxy.toml\"\n".into(),
            vec!["uri", "metaxy.toml is a file, not a directory"],
        ),
        (
            "duckdb",
            "store = \"dev\"\n[stores.dev.config]\ndatabase = \"store/metadata.duckdb\"\n".into(),
            vec!["stores.dev.type", "has no 'type' key"],
        ),
        (
            "duckdb",
            "store = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"store/metadata.duckdb\"\nhash_algorithm = \"nope\"\n".into(),
            vec!["hash_algorithm 'nope'"],
        ),
    ];
    for (b, toml, expect) in cases {
        let tmp = with_config(b, &toml);
        let err = one_line_error(tmp.path(), &["list", "features"]);
        for e in expect {
            assert!(err.contains(e), "{b} {toml}: {err}");
        }
        assert!(!err.contains("run `metaxy push`"), "{err}");
    }
}

#[test]
fn corrupt_stores_and_bad_filters_are_one_clean_line() {
    // a DuckDB file that is not a database
    let tmp = copy_of("duckdb", "s01_initial");
    std::fs::write(tmp.path().join("store/metadata.duckdb"), b"not a database").unwrap();
    let err = one_line_error(tmp.path(), &["list", "features"]);
    assert!(err.contains("metadata.duckdb"), "{err}");
    // a Delta data file cut short
    let tmp = copy_of("delta", "s01_initial");
    let table = tmp.path().join("store/example/video.delta");
    let part = std::fs::read_dir(&table)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .unwrap()
        .path();
    std::fs::write(&part, b"PAR1").unwrap();
    let err = one_line_error(
        tmp.path(),
        &["metadata", "read", "example/video", "--format", "json"],
    );
    assert!(err.contains("video"), "{err}");
    // a Lance data file removed
    let tmp = copy_of("lancedb", "s01_initial");
    let data = tmp.path().join("store/example__video.lance/data");
    for e in std::fs::read_dir(&data).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    one_line_error(
        tmp.path(),
        &["metadata", "read", "example/video", "--format", "json"],
    );
    // filters that do not parse or name unknown columns
    let tmp = copy_of("duckdb", "s01_initial");
    for f in [
        "sample_uid = ",
        "nope_col = 1",
        "sample_uid IN (",
        "frames + 'a' > 1",
    ] {
        let err = one_line_error(
            tmp.path(),
            &["metadata", "read", "example/video", "--filter", f],
        );
        assert!(err.contains("filter"), "{f}: {err}");
    }
}

// ------------------------------------------------------------------------------------------------------------
// fuzz: the parsers return Ok or Err, never panic

const TOML_KEYS: &[&str] = &[
    "project",
    "store",
    "entrypoints",
    "hash_truncation_length",
    "auto_create_tables",
    "extend",
    "stores.dev.type",
    "stores.dev.config.database",
    "stores.dev.config.root_path",
    "stores.dev.config.uri",
    "stores.dev.config.storage_options",
    "stores.dev.config.connect_kwargs",
    "stores.dev.config.fallback_stores",
    "stores.dev.config.hash_algorithm",
    "stores.dev.config.layout",
    "stores.dev.config.table_prefix",
    "stores.x.type",
    "ext.sqlmodel.enable",
];

const TOML_VALUES: &[&str] = &[
    "\"dev\"",
    "\"metaxy.ext.duckdb.DuckDBMetadataStore\"",
    "\"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"",
    "\"metaxy.ext.lancedb.LanceDBMetadataStore\"",
    "\"${HOME:-/x}/db\"",
    "\"${UNSET}\"",
    "\"${\"",
    "1",
    "-5",
    "true",
    "[]",
    "[\"dev\"]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "\"nope\"",
    "\"xxhash64\"",
    "\"flat\"",
    "\"\"",
];

fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec((0..TOML_KEYS.len(), 0..TOML_VALUES.len()), 0..8).prop_map(
            |pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v)| format!("{} = {}\n", TOML_KEYS[k], TOML_VALUES[v]))
                    .collect::<String>()
            }
        ),
    ]
}

const SQL_TOKENS: &[&str] = &[
    "sample_uid",
    "frames",
    "path",
    "nope",
    "=",
    "<>",
    "<",
    ">=",
    "IN",
    "(",
    ")",
    ",",
    "'s1'",
    "'",
    "1",
    "1.5",
    "-",
    "+",
    "*",
    "/",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "LIKE",
    "'%a'",
    "BETWEEN",
    "CAST",
    "AS",
    "INT",
    "VARCHAR",
    "\"frames\"",
    "TRUE",
    "lower(",
    "coalesce(",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "::",
    "[",
    "]",
    ";",
    "--",
    "/*",
];

fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(0..SQL_TOKENS.len(), 1..10).prop_map(|t| t
            .iter()
            .map(|i| SQL_TOKENS[*i])
            .collect::<Vec<_>>()
            .join(" ")),
    ]
}

/// The `feature_spec` texts Metaxy stored in the DuckDB `s01_initial` fixture.
fn stored_specs() -> &'static [String] {
    static SPECS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| {
        open_scenario("s01_initial")
            .pushed
            .iter()
            .map(|p| p.feature_spec.clone())
            .collect()
    })
}

fn frame() -> polars::prelude::DataFrame {
    use polars::prelude::*;
    df!(
        "sample_uid" => ["s1", "s2", "s3"],
        "frames" => [1i64, 2, 3],
        "path" => [Some("a"), None, Some("c")]
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        // small by default (CI); PROPTEST_CASES raises it
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fuzz_config_parser_never_panics(text in config_text()) {
        let env: std::collections::BTreeMap<String, String> =
            [("HOME".to_string(), "/home/u".to_string())].into_iter().collect();
        let r = MetaxyConfig::from_toml_str(&text, Path::new("/nonexistent"), &env);
        if let Ok(cfg) = r {
            let _ = cfg.store_config(None);
        }
    }

    #[test]
    fn fuzz_filter_parser_never_panics(sql in filter_text()) {
        let _ = apply_filters(frame(), &[sql]);
    }

    #[test]
    fn fuzz_feature_spec_parser_never_panics(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        insert in any::<String>(),
        raw in any::<String>(),
    ) {
        let specs = stored_specs();
        let spec = &specs[which.index(specs.len())];
        let at = cut.index(spec.len() + 1);
        let at = (0..=at).rev().find(|i| spec.is_char_boundary(*i)).unwrap_or(0);
        let mutated = format!("{}{insert}{}", &spec[..at], &spec[at..]);
        let _ = FeatureSpec::from_json_str(&mutated);
        let _ = FeatureSpec::from_json_str(&spec[..at]);
        let _ = FeatureSpec::from_json_str(&raw);
        // every JSON value type in place of each top-level member
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(spec) {
            for k in m.keys() {
                for v in [serde_json::json!(null), serde_json::json!(1), serde_json::json!("x"),
                          serde_json::json!([]), serde_json::json!({}), serde_json::json!([insert.clone()])] {
                    let mut m2 = m.clone();
                    m2.insert(k.clone(), v);
                    let _ = FeatureSpec::from_json(serde_json::Value::Object(m2));
                }
            }
        }
    }
}
