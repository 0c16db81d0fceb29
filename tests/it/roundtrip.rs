//! Round trip with real Metaxy 0.1.11: the real `metaxy-tui` binary mutates copies of Metaxy's fixture stores
//! (rebase, soft delete, hard delete, copy, write), then real Metaxy (the pinned environment of
//! `tests/roundtrip/requirements.lock.txt`, installed by `tests/roundtrip/setup_venv.sh` on first use) reads the
//! result and must get exactly Metaxy's own goldens for that scenario (`tests/roundtrip/mx_check.py`; timestamps
//! we stamped with the wall clock compared only for null / not null).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::*;

pub fn roundtrip_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/roundtrip")
}

/// The venv's python (installed on first use; the test fails when it cannot be installed).
pub fn metaxy_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("bash")
            .arg(roundtrip_dir().join("setup_venv.sh"))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "setup_venv.sh failed (is PyPI reachable?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().expect("python path").trim())
    })
    .clone()
}

/// Runs `mx_check.py` on `dir` against `expected`; returns its JSON report, asserting every check passed.
pub fn metaxy_check(dir: &Path, expected: &Path, extra: &[&str], what: &str) -> Value {
    let out = Command::new(metaxy_python())
        .arg(roundtrip_dir().join("mx_check.py"))
        .arg("--scenario-dir")
        .arg(dir)
        .arg("--expected")
        .arg(expected)
        .arg("--ignore-timestamps")
        .args(extra)
        .envs(scenario_env(dir))
        .output()
        .expect("python runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: mx_check printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "{what}: Metaxy does not read our store as it reads its own:\n{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    assert!(
        report["checks"].as_u64().unwrap() > 0,
        "{what}: no checks ran"
    );
    report
}

pub fn tui(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(dir)
        .envs(scenario_env(dir))
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "metaxy-tui {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ids_filter(meta: &Value) -> String {
    let ids: Vec<String> = meta["steps"][0]["sample_uids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("'{}'", v.as_str().unwrap()))
        .collect();
    format!("sample_uid IN ({})", ids.join(", "))
}

#[test]
fn metaxy_reads_our_mutations_like_its_own() {
    for b in BACKENDS {
        // s04 -> rebase (as in s05: crop, face_detection, then av_report through the CLI)
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s04_version_bump"), dir);
        tui(
            dir,
            &["metadata", "rebase", "example/crop", "--from", "34d75856"],
        );
        tui(
            dir,
            &[
                "metadata",
                "rebase",
                "example/face_detection",
                "--from",
                "f1526ee0",
            ],
        );
        tui(
            dir,
            &[
                "metadata",
                "rebase",
                "example/av_report",
                "--from",
                "542f3bec",
            ],
        );
        metaxy_check(
            dir,
            &scenario_dir_in(b, "s05_rebased").join("expected"),
            &[],
            &format!("{b} rebase"),
        );

        // s05 -> soft delete (s06)
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s05_rebased"), dir);
        let meta = json(scenario_dir_in(b, "s06_soft_delete").join("scenario.json"));
        tui(
            dir,
            &[
                "metadata",
                "delete",
                "example/stt",
                "--filter",
                &ids_filter(&meta),
            ],
        );
        metaxy_check(
            dir,
            &scenario_dir_in(b, "s06_soft_delete").join("expected"),
            &[],
            &format!("{b} soft delete"),
        );

        // s06 -> hard delete (s07)
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s06_soft_delete"), dir);
        let meta = json(scenario_dir_in(b, "s07_hard_delete").join("scenario.json"));
        tui(
            dir,
            &[
                "metadata",
                "delete",
                "example/face_detection",
                "--hard",
                "--yes",
                "--filter",
                &ids_filter(&meta),
            ],
        );
        metaxy_check(
            dir,
            &scenario_dir_in(b, "s07_hard_delete").join("expected"),
            &[],
            &format!("{b} hard delete"),
        );

        // s07 -> copy dev -> archive (s08): Metaxy's raw rows of the archive = its archive_raw goldens
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s07_hard_delete"), dir);
        std::fs::copy(
            scenario_dir_in(b, "s08_copy").join("metaxy.toml"),
            dir.join("metaxy.toml"),
        )
        .unwrap();
        tui(
            dir,
            &[
                "metadata",
                "copy",
                "--all-features",
                "--from",
                "dev",
                "--to",
                "archive",
            ],
        );
        let exp = tempfile::tempdir().unwrap();
        copy_dir(
            &scenario_dir_in(b, "s08_copy").join("expected/archive_raw"),
            &exp.path().join("raw"),
        );
        metaxy_check(
            dir,
            exp.path(),
            &["--store", "archive", "--check", "raw"],
            &format!("{b} copy"),
        );
    }
}

/// What real Metaxy reads from store `store` of `dir` (`mx_check.py --dump`): the dump directory.
pub fn metaxy_dump(dir: &Path, store: &str, out: &Path, what: &str) {
    let o = Command::new(metaxy_python())
        .arg(roundtrip_dir().join("mx_check.py"))
        .arg("--scenario-dir")
        .arg(dir)
        .arg("--dump")
        .arg(out)
        .args(["--store", store])
        .envs(scenario_env(dir))
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "{what}: Metaxy cannot read store {store}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Rows with wall-clock timestamps reduced to null / not null, canonical and sorted.
fn canonical(rows: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut m = r.as_object().unwrap().clone();
            for c in [
                "metaxy_created_at",
                "metaxy_updated_at",
                "metaxy_deleted_at",
            ] {
                if let Some(x) = m.get_mut(c) {
                    *x = Value::Bool(x.is_null());
                }
            }
            let sorted: std::collections::BTreeMap<_, _> = m.into_iter().collect();
            serde_json::to_string(&sorted).unwrap()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn map_mode_writes_are_read_back_by_metaxy() {
    use metaxy_tui::engine::json::df_to_json_rows;
    use metaxy_tui::engine::keys::FeatureKey;
    use metaxy_tui::engine::query::read::ReadOptions;
    use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
    for b in MAP_MODE_BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&fixtures().join("map_mode").join(b), dir);
        // a second store of the same backend, for a copy into new Map-mode tables
        let (ty, key) = match b {
            "duckdb" => ("metaxy.ext.duckdb.DuckDBMetadataStore", "database"),
            "delta" => (
                "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
                "root_path",
            ),
            _ => ("metaxy.ext.lancedb.LanceDBMetadataStore", "uri"),
        };
        let loc = if b == "duckdb" {
            "${METAXY_FIXTURE_DIR:-.}/store_archive/metadata.duckdb"
        } else {
            "${METAXY_FIXTURE_DIR:-.}/store_archive"
        };
        let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
        toml.push_str(&format!(
            "\n[stores.archive]\ntype = \"{ty}\"\n\n[stores.archive.config]\n{key} = \"{loc}\"\n"
        ));
        std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
        tui(
            dir,
            &[
                "metadata",
                "delete",
                "example/crop",
                "--filter",
                "sample_uid IN ('s000001', 's000002')",
            ],
        );
        tui(
            dir,
            &[
                "metadata",
                "copy",
                "--all-features",
                "--from",
                "dev",
                "--to",
                "archive",
            ],
        );
        for store in ["dev", "archive"] {
            let out = tempfile::tempdir().unwrap();
            metaxy_dump(dir, store, out.path(), &format!("{b} map mode {store}"));
            let env = scenario_env(dir);
            let ws = Workspace::open(&OpenOptions {
                cwd: dir.to_path_buf(),
                env,
                store: Some(store.into()),
                ..Default::default()
            })
            .unwrap();
            for table in ["example__video", "example__crop", "example__chunk"] {
                let theirs = json(out.path().join(format!("raw/{table}.json")));
                let key = FeatureKey::parse(&table.replace("__", "/")).unwrap();
                let ours = ws
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
                assert_eq!(
                    canonical(&df_to_json_rows(&ours, None).unwrap()),
                    canonical(theirs["rows"].as_array().unwrap()),
                    "{b} {store} {table}: Metaxy reads other rows than we do"
                );
                // Metaxy sees maps, not structs, in the tables we created
                let schema = theirs["polars_schema"]["metaxy_provenance_by_field"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert!(
                    schema.starts_with("Map(") || schema.starts_with("List(Struct({'key'"),
                    "{b} {store} {table}: {schema}"
                );
            }
        }
    }
}

#[test]
fn metaxy_reads_rows_we_wrote_and_sees_them_as_new_downstream() {
    use metaxy_tui::engine::json::df_to_json_rows;
    use metaxy_tui::engine::keys::FeatureKey;
    use metaxy_tui::engine::query::read::ReadOptions;
    use metaxy_tui::engine::versioning::resolve::ResolveOptions;
    use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s01_initial"), dir);
        std::fs::write(
            dir.join("new.csv"),
            "sample_uid,path,size,frames,duration,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\nn000001,videos/n1.mp4,5,7,0.5,audio-v1-n1,frames-v1-n1\ns000003,videos/s3b.mp4,6,8,0.25,audio-v2-s3,frames-v1-s3\n",
        )
        .unwrap();
        tui(
            dir,
            &[
                "metadata",
                "write",
                "example/video",
                "--input",
                "new.csv",
                "--materialization-id",
                "m1",
            ],
        );
        let out = tempfile::tempdir().unwrap();
        metaxy_dump(dir, "dev", out.path(), &format!("{b} write"));
        let env = scenario_env(dir);
        let ws = Workspace::open(&OpenOptions {
            cwd: dir.to_path_buf(),
            env,
            ..Default::default()
        })
        .unwrap();
        let video = FeatureKey::parse("example/video").unwrap();
        let ours = ws
            .read(
                &video,
                &ReadOptions {
                    with_feature_history: true,
                    with_sample_history: true,
                    include_soft_deleted: true,
                    ..Default::default()
                },
            )
            .unwrap()
            .unwrap();
        let theirs = json(out.path().join("raw/example__video.json"));
        assert_eq!(
            canonical(&df_to_json_rows(&ours, None).unwrap()),
            canonical(theirs["rows"].as_array().unwrap()),
            "{b}: raw video rows"
        );
        // Metaxy's resolve_update of crop: n000001 new, s000003 stale (audio changed), as ours says
        let inc = ws
            .increment(
                &FeatureKey::parse("example/crop").unwrap(),
                &ResolveOptions::default(),
            )
            .unwrap();
        let theirs = json(out.path().join("increments/example__crop.json"));
        for (name, df) in [
            ("added", &inc.new),
            ("changed", &inc.stale),
            ("removed", &inc.orphaned),
        ] {
            let rows = theirs[name].as_array().unwrap();
            let keys = row_keys(rows);
            assert_eq!(
                multiset(&df_to_json_rows(df, None).unwrap(), &keys),
                multiset(rows, &keys),
                "{b}: crop {name}"
            );
        }
        assert_eq!(inc.new.height(), 1, "{b}");
        assert_eq!(inc.stale.height(), 1, "{b}");
    }
}

#[test]
fn an_iceberg_store_we_create_by_copy_from_duckdb_is_read_by_metaxy() {
    // DuckDB s07 dev -> a new Iceberg store (catalog, namespace and tables created by us): Metaxy's raw rows of the
    // Iceberg store = its archive goldens of the DuckDB copy (s08)
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", "s07_hard_delete"), dir);
    let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
    toml.push_str(
        "\n[stores.archive]\ntype = \"metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore\"\n\n\
         [stores.archive.config]\nwarehouse = \"${METAXY_FIXTURE_DIR:-.}/store_archive\"\n",
    );
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "archive",
        ],
    );
    assert!(dir.join("store_archive/catalog.db").is_file());
    let exp = tempfile::tempdir().unwrap();
    copy_dir(
        &scenario_dir_in("duckdb", "s08_copy").join("expected/archive_raw"),
        &exp.path().join("raw"),
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "archive", "--check", "raw"],
        "duckdb -> new iceberg store copy",
    );
}

/// A PostgreSQL store created from nothing by `copy` from a DuckDB store (tables made with Metaxy's DDL by us) and
/// the reverse direction: real Metaxy opens both and reads exactly the rows Metaxy's own copy (s08) produced.
#[test]
fn a_postgres_store_made_by_copy_from_duckdb_is_opened_by_metaxy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", "s07_hard_delete"), dir);
    let url = pg_fresh_db(None);
    let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
    toml.push_str(&format!(
        "\n[stores.pg]\ntype = \"metaxy.ext.postgresql.PostgreSQLMetadataStore\"\n\n[stores.pg.config]\nconnection_string = \"{url}\"\n\n[stores.back]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\n[stores.back.config]\ndatabase = \"${{METAXY_FIXTURE_DIR:-.}}/store_back/metadata.duckdb\"\n"
    ));
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    let exp = tempfile::tempdir().unwrap();
    copy_dir(
        &scenario_dir_in("duckdb", "s08_copy").join("expected/archive_raw"),
        &exp.path().join("raw"),
    );
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "pg",
        ],
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "pg", "--check", "raw"],
        "duckdb -> postgres copy",
    );
    // and back: PostgreSQL -> a new DuckDB file
    std::fs::create_dir_all(dir.join("store_back")).unwrap();
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "pg",
            "--to",
            "back",
        ],
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "back", "--check", "raw"],
        "postgres -> duckdb copy",
    );
}

/// A ClickHouse store created from nothing by `copy` from a DuckDB store (tables made with Metaxy's DDL by us) and
/// the reverse direction: real Metaxy opens both and reads exactly the rows Metaxy's own copy (s08) produced.
#[test]
fn a_clickhouse_store_made_by_copy_from_duckdb_is_opened_by_metaxy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", "s07_hard_delete"), dir);
    let url = ch_fresh_db(None);
    let mut toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap();
    toml.push_str(&format!(
        "\n[stores.ch]\ntype = \"metaxy.ext.clickhouse.ClickHouseMetadataStore\"\n\n[stores.ch.config]\nconnection_string = \"{url}\"\n\n[stores.back]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\n[stores.back.config]\ndatabase = \"${{METAXY_FIXTURE_DIR:-.}}/store_back/metadata.duckdb\"\n"
    ));
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    let exp = tempfile::tempdir().unwrap();
    copy_dir(
        &scenario_dir_in("duckdb", "s08_copy").join("expected/archive_raw"),
        &exp.path().join("raw"),
    );
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "dev",
            "--to",
            "ch",
        ],
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "ch", "--check", "raw"],
        "duckdb -> clickhouse copy",
    );
    // and back: ClickHouse -> a new DuckDB file
    std::fs::create_dir_all(dir.join("store_back")).unwrap();
    tui(
        dir,
        &[
            "metadata",
            "copy",
            "--all-features",
            "--from",
            "ch",
            "--to",
            "back",
        ],
    );
    metaxy_check(
        dir,
        exp.path(),
        &["--store", "back", "--check", "raw"],
        "clickhouse -> duckdb copy",
    );
}
