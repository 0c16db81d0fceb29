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

fn tui(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(dir)
        .env("METAXY_FIXTURE_DIR", dir)
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

fn ids_filter(meta: &Value) -> String {
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
