//! Crash consistency: the real binary is killed (SIGABRT at a failpoint, `METAXY_TUI_FAILPOINT`, see
//! `metaxy_tui::engine::fault`) after a write has put data on disk but before it committed. The store must still be
//! read by us and by real Metaxy, with no trace of the interrupted feature write: exactly Metaxy's goldens of the
//! scenario the store was copied from. A multi-feature delete killed between features keeps the finished feature
//! and nothing of the next.

use std::path::Path;
use std::process::Command;

use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::query::read::ReadOptions;
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

use crate::common::*;
use crate::roundtrip::metaxy_check;

/// Runs the binary with a failpoint; asserts it was aborted there (killed by a signal, not a clean exit).
fn run_killed_at(dir: &Path, failpoint: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(dir)
        .envs(scenario_env(dir))
        .env("METAXY_TUI_FAILPOINT", failpoint)
        .env_remove("METAXY_CONFIG")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "expected an abort at {failpoint} for {args:?}, got {:?}: {stderr}",
        out.status
    );
    assert!(
        stderr.contains(&format!("failpoint {failpoint} reached")),
        "{stderr}"
    );
}

fn open(dir: &Path) -> Workspace {
    let opts = OpenOptions {
        cwd: dir.to_path_buf(),
        env: scenario_env(dir),
        ..Default::default()
    };
    Workspace::open(&opts).expect("the store opens after the crash")
}

fn raw_count(ws: &Workspace, key: &str) -> usize {
    ws.read(
        &FeatureKey::parse(key).unwrap(),
        &ReadOptions {
            with_feature_history: true,
            with_sample_history: true,
            include_soft_deleted: true,
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap()
    .height()
}

const SOFT: [&str; 5] = [
    "metadata",
    "delete",
    "example/stt",
    "--filter",
    "sample_uid IN ('s000001', 's000006')",
];
const HARD: [&str; 7] = [
    "metadata",
    "delete",
    "example/face_detection",
    "--hard",
    "--yes",
    "--filter",
    "sample_uid IN ('s000001', 's000005')",
];

/// `metadata write` of one new example/video sample (an append, like the soft delete's tombstones).
const WRITE: [&str; 5] = [
    "metadata",
    "write",
    "example/video",
    "--input",
    "rows.ndjson",
];

#[test]
fn a_write_killed_before_its_commit_leaves_the_store_as_it_was() {
    for (b, point) in [
        ("duckdb", "duckdb.before_commit"),
        ("delta", "delta.before_commit"),
        ("lancedb", "lance.before_commit"),
        ("iceberg", "iceberg.before_commit"),
        ("postgres", "postgres.before_commit"),
        ("clickhouse", "clickhouse.before_commit"),
    ] {
        for args in [&SOFT[..], &HARD[..], &WRITE[..]] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            copy_dir(&scenario_dir_in(b, "s05_rebased"), dir);
            std::fs::write(
                dir.join("rows.ndjson"),
                "{\"sample_uid\": \"n1\", \"path\": \"/n1\", \"metaxy_provenance_by_field\": {\"audio\": \"a1\", \"frames\": \"f1\"}}\n",
            )
            .unwrap();
            run_killed_at(dir, point, args);
            let ws = open(dir);
            // our reads: unchanged
            let index = json(scenario_dir_in(b, "s05_rebased").join("expected/reads_index.json"));
            for k in ["example/stt", "example/face_detection", "example/video"] {
                assert_eq!(
                    raw_count(&ws, k) as u64,
                    index[k]["raw_table"]["count"].as_u64().unwrap(),
                    "{b} {args:?}: {k} changed by an interrupted write"
                );
            }
            drop(ws);
            // Metaxy's reads: exactly its own goldens of the scenario we started from
            metaxy_check(
                dir,
                &scenario_dir_in(b, "s05_rebased").join("expected"),
                &[],
                &format!("{b} killed at {point} during {args:?}"),
            );
        }
    }
}

#[test]
fn a_cascade_killed_between_features_keeps_whole_feature_writes() {
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s05_rebased"), dir);
        let before = open(dir);
        let crop = raw_count(&before, "example/crop");
        let face = raw_count(&before, "example/face_detection");
        drop(before);
        // soft delete of one sample in crop, cascading to face_detection and av_report: killed after crop's commit
        run_killed_at(
            dir,
            "write.between_features",
            &[
                "metadata",
                "delete",
                "example/crop",
                "--cascade",
                "--filter",
                "sample_uid = 's000001'",
            ],
        );
        let ws = open(dir);
        assert_eq!(
            raw_count(&ws, "example/crop"),
            crop + 1,
            "{b}: crop's tombstone committed"
        );
        assert_eq!(
            raw_count(&ws, "example/face_detection"),
            face,
            "{b}: nothing of the next feature"
        );
        let live = ws
            .read(
                &FeatureKey::parse("example/crop").unwrap(),
                &ReadOptions::default(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(live.height(), 49, "{b}");
        drop(ws);
        // Metaxy reads every other feature exactly as before
        metaxy_check(
            dir,
            &scenario_dir_in(b, "s05_rebased").join("expected"),
            &[
                "--features",
                "example/video,example/stt,example/face_detection,example/chunk,example/chunk_summary",
                "--check",
                "reads,raw",
            ],
            &format!("{b} cascade killed between features"),
        );
    }
}

/// A large write killed with SIGKILL at several moments (startup, reading the input, writing data, committing):
/// every time, the store reads either as before or with the whole write, for us and for Metaxy.
#[test]
fn a_large_write_killed_at_random_moments_is_all_or_nothing() {
    use polars::prelude::*;
    for b in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_dir(&scenario_dir_in(b, "s01_initial"), dir);
        let n = 60_000usize;
        {
            let ids: Vec<String> = (0..n).map(|i| format!("k{i:07}")).collect();
            let audio: Vec<String> = (0..n).map(|i| format!("audio-{i}")).collect();
            let frames: Vec<String> = (0..n).map(|i| format!("frames-{i}")).collect();
            let pbf = df!("audio" => audio, "frames" => frames)
                .unwrap()
                .into_struct("metaxy_provenance_by_field".into())
                .into_series();
            let mut df = DataFrame::new(
                n,
                vec![Column::new("sample_uid".into(), ids), pbf.into_column()],
            )
            .unwrap();
            ParquetWriter::new(std::fs::File::create(dir.join("big.parquet")).unwrap())
                .finish(&mut df)
                .unwrap();
        }
        let before = raw_count(&open(dir), "example/video");
        let mut landed = 0;
        for delay_ms in [30u64, 150, 400, 900, 1600] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
                .args([
                    "metadata",
                    "write",
                    "example/video",
                    "--input",
                    "big.parquet",
                ])
                .current_dir(dir)
                .envs(scenario_env(dir))
                .env_remove("METAXY_CONFIG")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = child.kill();
            let _ = child.wait();
            let now = raw_count(&open(dir), "example/video");
            assert!(
                (now - before) % n == 0,
                "{b}: a write killed after {delay_ms} ms left {} extra rows (not a multiple of {n})",
                now - before
            );
            landed = (now - before) / n;
            eprintln!("{b}: killed after {delay_ms} ms: {landed} write(s) landed");
        }
        // Metaxy reads the store too, with the same rows
        let out = tempfile::tempdir().unwrap();
        crate::roundtrip::metaxy_dump(dir, "dev", out.path(), &format!("{b} after kills"));
        let theirs = json(out.path().join("raw/example__video.json"));
        assert_eq!(
            theirs["rows"].as_array().unwrap().len(),
            before + landed * n,
            "{b}: Metaxy's raw row count"
        );
    }
}
