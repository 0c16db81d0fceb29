//! `metadata drop` (Metaxy's `drop_feature_metadata`) through the real binary on copies of Metaxy's fixture stores,
//! on every backend: the dry run lists the stored rows per feature version and changes nothing, a drop without
//! `--yes` off a terminal is refused, and the drop removes the feature's table (Delta: every row, the empty table
//! kept, as Metaxy does) while every other feature and the system table stay as they were (files byte-identical
//! outside the dropped table). Real Metaxy then sees exactly what its own drop leaves behind.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metaxy_tui::engine::json::df_to_json_rows;
use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::query::read::ReadOptions;
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use serde_json::Value;

use crate::common::*;
use crate::roundtrip::{metaxy_python, roundtrip_dir};

/// The dropped feature: two feature versions stored in `s05_rebased` (34d75856 and the rebased ea834040).
const FEATURE: &str = "example/crop";
const SCENARIO: &str = "s05_rebased";

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

fn open(dir: &Path) -> Workspace {
    Workspace::open(&OpenOptions {
        cwd: dir.to_path_buf(),
        env: scenario_env(dir),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Every stored row of `key` (all versions, all rows per sample, tombstones), canonical and sorted; `None` when
/// the store has no table for it.
fn raw(ws: &Workspace, key: &FeatureKey) -> Option<Vec<String>> {
    let df = ws
        .read(
            key,
            &ReadOptions {
                with_feature_history: true,
                with_sample_history: true,
                include_soft_deleted: true,
                ..Default::default()
            },
        )
        .unwrap()?;
    let mut rows: Vec<String> = df_to_json_rows(&df, None)
        .unwrap()
        .iter()
        .map(|r| {
            let sorted: BTreeMap<&String, &Value> = r.as_object().unwrap().iter().collect();
            serde_json::to_string(&sorted).unwrap()
        })
        .collect();
    rows.sort();
    Some(rows)
}

/// What must not change: the raw rows of every feature but `except`, and the system table's rows.
fn others(ws: &Workspace, except: &FeatureKey) -> (BTreeMap<String, Option<Vec<String>>>, String) {
    let rows = ws
        .graph
        .features
        .iter()
        .map(|f| &f.spec.key)
        .filter(|k| *k != except)
        .map(|k| (k.to_string(), raw(ws, k)))
        .collect();
    let mut system: Vec<String> = ws
        .store
        .system_rows()
        .unwrap()
        .iter()
        .map(|p| format!("{p:?}"))
        .collect();
    system.sort();
    (rows, system.join("\n"))
}

/// A hash of every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&p).unwrap().hash(&mut h);
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), h.finish());
            }
        }
    }
    out
}

/// The files (relative paths) added, removed or changed between two [`files`] snapshots.
fn changed(before: &BTreeMap<PathBuf, u64>, after: &BTreeMap<PathBuf, u64>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = before
        .iter()
        .filter(|(p, h)| after.get(*p) != Some(h))
        .map(|(p, _)| p.clone())
        .chain(after.keys().filter(|p| !before.contains_key(*p)).cloned())
        .collect();
    v.sort();
    v
}

/// Where a drop of [`FEATURE`] may change files, per backend (PostgreSQL and ClickHouse stores are not files).
fn allowed_change(b: &str, p: &Path) -> bool {
    let p = p.to_string_lossy();
    match b {
        "duckdb" => p.starts_with("store/metadata.duckdb"),
        "delta" => p.starts_with("store/example/crop.delta/_delta_log/"),
        "lancedb" => p.starts_with("store/example__crop.lance/"),
        // the catalog row goes; the table's files stay (pyiceberg's drop_table does not purge them)
        "iceberg" => p == "store/catalog.db",
        _ => false,
    }
}

#[test]
fn drop_previews_refuses_without_yes_and_drops_only_the_feature_table_on_every_backend() {
    let key = FeatureKey::parse(FEATURE).unwrap();
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, SCENARIO), dir);
        let ws = open(dir);
        let versions = ws.store.rows_per_feature_version(&key).unwrap().unwrap();
        assert_eq!(versions.len(), 2, "{b}: {versions:?}");
        let total: usize = versions.iter().map(|(_, n)| n).sum();
        let kept = others(&ws, &key);
        let crop_rows = raw(&ws, &key).unwrap();
        let current = ws.graph.feature_version(&key).unwrap().to_string();
        drop(ws);
        let before = files(dir);

        // dry run: rows per feature version, nothing changed
        let (_, err) = ok(dir, &["metadata", "drop", FEATURE, "--dry-run"]);
        assert!(
            err.contains("Dry run (drop feature metadata)"),
            "{b}: {err}"
        );
        for (v, n) in &versions {
            let cur = if *v == current { " (current)" } else { "" };
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("{v}{cur}")) && l.contains(&format!("{n} row(s)"))),
                "{b}: no line for version {v} with {n} rows: {err}"
            );
        }
        assert!(
            err.contains(&format!("Total rows to drop: {total}")),
            "{b}: {err}"
        );
        let (out, _) = ok(
            dir,
            &["metadata", "drop", FEATURE, "--dry-run", "--format", "json"],
        );
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["dry_run"], true);
        assert_eq!(doc["total_rows"].as_u64(), Some(total as u64), "{b}");
        let listed: Vec<(String, usize)> = doc["features"][0]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["feature_version"].as_str().unwrap().to_string(),
                    v["rows"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(listed, versions, "{b}");
        assert_eq!(doc["keeps_empty_table"], b == "delta", "{b}");

        // without --yes and not on a terminal: refused
        let o = fails(dir, &["metadata", "drop", FEATURE]);
        assert!(
            text(&o.stderr).contains("requires --yes when stdin is not a terminal"),
            "{b}: {}",
            text(&o.stderr)
        );
        assert!(
            changed(&before, &files(dir)).is_empty(),
            "{b}: dry run or refusal changed files"
        );
        let ws = open(dir);
        assert_eq!(raw(&ws, &key).as_ref(), Some(&crop_rows), "{b}");
        assert_eq!(others(&ws, &key), kept, "{b}");
        drop(ws);

        // the drop
        let (_, err) = ok(dir, &["metadata", "drop", FEATURE, "--yes"]);
        assert!(
            err.contains(&format!("✓ Drop complete: 1 feature(s), {total} row(s)")),
            "{b}: {err}"
        );
        let ws = open(dir);
        let local = ws.store.local();
        if b == "delta" {
            // Metaxy's Delta drop is a delete-all commit: the table stays, with no rows
            assert!(local.has_feature(&key).unwrap(), "{b}");
            assert_eq!(local.rows_per_feature_version(&key).unwrap(), Some(vec![]));
            assert_eq!(raw(&ws, &key), Some(vec![]), "{b}");
        } else {
            assert!(!local.has_feature(&key).unwrap(), "{b}: table still there");
            assert!(
                !local
                    .list_tables()
                    .unwrap()
                    .contains(&local.table_name(&key)),
                "{b}"
            );
            assert_eq!(local.rows_per_feature_version(&key).unwrap(), None, "{b}");
            assert_eq!(raw(&ws, &key), None, "{b}");
        }
        assert_eq!(
            others(&ws, &key),
            kept,
            "{b}: other features or the system table changed"
        );
        drop(ws);
        let touched = changed(&before, &files(dir));
        assert!(
            touched.iter().all(|p| allowed_change(b, p)),
            "{b}: files outside the dropped table changed: {touched:?}"
        );
        if !matches!(b, "postgres" | "clickhouse") {
            assert!(!touched.is_empty(), "{b}: nothing changed on disk");
        }

        // again: nothing left to drop (Delta: the empty table is dropped again, 0 rows)
        let (_, err) = ok(dir, &["metadata", "drop", FEATURE, "--yes"]);
        assert!(err.contains("0 row(s)"), "{b}: {err}");

        // the store stays writable: a dropped root feature is written again (its table created anew)
        ok(dir, &["metadata", "drop", "example/video", "--yes"]);
        std::fs::write(
            dir.join("new.csv"),
            "sample_uid,path,size,frames,duration,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\nn000001,videos/n1.mp4,5,7,0.5,audio-v1-n1,frames-v1-n1\nn000002,videos/n2.mp4,6,8,0.25,audio-v1-n2,frames-v1-n2\n",
        )
        .unwrap();
        ok(
            dir,
            &["metadata", "write", "example/video", "--input", "new.csv"],
        );
        let ws = open(dir);
        let video = FeatureKey::parse("example/video").unwrap();
        assert_eq!(raw(&ws, &video).map(|r| r.len()), Some(2), "{b}");
    }
}

#[test]
fn drop_refuses_system_tables_and_reports_features_without_a_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", SCENARIO), dir);
    let before = files(dir);
    for k in [
        "metaxy-system/feature_versions",
        "metaxy_system/feature_versions",
    ] {
        let o = fails(dir, &["metadata", "drop", k, "--yes"]);
        assert!(
            text(&o.stderr).contains("system table"),
            "{k}: {}",
            text(&o.stderr)
        );
    }
    // a key with no table: Metaxy's drop is a no-op, ours says so
    let (_, err) = ok(dir, &["metadata", "drop", "nobody/here", "--yes"]);
    assert!(
        err.contains("nobody/here: nothing dropped (no table nobody__here in store \"dev\")"),
        "{err}"
    );
    assert!(changed(&before, &files(dir)).is_empty());
    // several keys, JSON: rows dropped per feature
    let (out, _) = ok(
        dir,
        &[
            "metadata",
            "drop",
            FEATURE,
            "example/stt",
            "nobody/here",
            "--yes",
            "--format",
            "json",
        ],
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["dropped"][FEATURE].as_u64(), Some(120), "{doc}");
    assert!(doc["dropped"]["example/stt"].as_u64().unwrap() > 0, "{doc}");
    assert_eq!(doc["dropped"]["nobody/here"].as_u64(), Some(0), "{doc}");
    let ws = open(dir);
    assert!(!ws.store.system_rows().unwrap().is_empty());
    for k in [FEATURE, "example/stt"] {
        assert!(!ws
            .store
            .has_feature(&FeatureKey::parse(k).unwrap())
            .unwrap());
    }
}

#[test]
fn only_the_primary_store_of_a_fallback_chain_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(&scenario_dir_in("duckdb", "s08_copy"), dir);
    let toml = std::fs::read_to_string(dir.join("metaxy.toml")).unwrap().replace(
        "database = \"${METAXY_FIXTURE_DIR:-.}/store/metadata.duckdb\"",
        "database = \"${METAXY_FIXTURE_DIR:-.}/store/metadata.duckdb\"\nfallback_stores = [\"archive\"]",
    );
    std::fs::write(dir.join("metaxy.toml"), toml).unwrap();
    let archive_before = files(&dir.join("store_archive"));
    ok(dir, &["metadata", "drop", FEATURE, "--yes"]);
    assert!(changed(&archive_before, &files(&dir.join("store_archive"))).is_empty());
    let key = FeatureKey::parse(FEATURE).unwrap();
    let ws = open(dir);
    assert!(!ws.store.local().has_feature(&key).unwrap());
    // the feature is now read from the fallback store, which still has it
    assert_eq!(
        ws.store.source_of(&key).unwrap().as_deref(),
        Some("archive")
    );
    assert!(raw(&ws, &key).is_some_and(|r| !r.is_empty()));
    drop(ws);
    // dropping again drops nothing: the fallback store is never written
    let (_, err) = ok(dir, &["metadata", "drop", FEATURE, "--yes"]);
    assert!(
        err.contains("read from fallback store \"archive\", which is never written"),
        "{err}"
    );
    assert!(changed(&archive_before, &files(&dir.join("store_archive"))).is_empty());
}

/// `tests/roundtrip/mx_drop.py` on `dir`: what real Metaxy sees (`has_feature`, raw row counts, system rows),
/// after Metaxy's own `drop_feature_metadata(KEY)` for each of `drop`.
fn metaxy_sees(dir: &Path, drop: &[&str]) -> Value {
    let mut args = vec![];
    if !drop.is_empty() {
        args.push("--drop");
        args.extend_from_slice(drop);
    }
    let o = Command::new(metaxy_python())
        .arg(roundtrip_dir().join("mx_drop.py"))
        .arg("--scenario-dir")
        .arg(dir)
        .args(&args)
        .envs(scenario_env(dir))
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "mx_drop.py on {}: {}\n{}",
        dir.display(),
        text(&o.stdout),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn metaxy_sees_our_drop_as_it_sees_its_own() {
    for b in BACKENDS {
        // ours
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, SCENARIO), tmp.path());
        ok(tmp.path(), &["metadata", "drop", FEATURE, "--yes"]);
        let ours = metaxy_sees(tmp.path(), &[]);
        // Metaxy's own drop on another copy
        let tmp2 = tempfile::tempdir().unwrap();
        copy_dir(&scenario_dir_in(b, SCENARIO), tmp2.path());
        let theirs = metaxy_sees(tmp2.path(), &[FEATURE]);
        assert_eq!(
            ours, theirs,
            "{b}: Metaxy sees our drop differently from its own"
        );
        let crop = &ours["features"][FEATURE];
        if b == "delta" {
            assert_eq!(crop["has_feature"], true, "{b}: {crop}");
            assert_eq!(crop["rows"], 0, "{b}: {crop}");
        } else {
            assert_eq!(crop["has_feature"], false, "{b}: {crop}");
            assert_eq!(crop["error"], "FeatureNotFoundError", "{b}: {crop}");
        }
        assert!(ours["system_rows"].as_u64().unwrap() > 0, "{b}");
        for (k, f) in ours["features"].as_object().unwrap() {
            if k != FEATURE {
                assert_eq!(f["has_feature"], true, "{b} {k}");
                assert!(f["rows"].as_u64().unwrap() > 0, "{b} {k}");
            }
        }
        // and our engine reads Metaxy's drop as it reads its own
        let mine = open(tmp.path());
        let its = open(tmp2.path());
        let key = FeatureKey::parse(FEATURE).unwrap();
        assert_eq!(raw(&mine, &key), raw(&its, &key), "{b}");
        assert_eq!(
            mine.store.local().has_feature(&key).unwrap(),
            its.store.local().has_feature(&key).unwrap(),
            "{b}"
        );
    }
}
