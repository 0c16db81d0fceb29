//! Root increments from a samples file (`metadata increment KEY --samples FILE`), against the increment real
//! Metaxy computed in scenario s02: `resolve_update("example/video", samples=<full new sample set>)` on the s01
//! store (`expected/steps/01_example__video.json`). The sample set is the s02 video rows, written as parquet,
//! ndjson and csv; every backend and every format must give Metaxy's increment.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use polars::prelude::*;
use serde_json::Value;

use crate::common::*;

/// Writes the sample set in `format` to `dir` and returns the path.
fn write_samples(rows: &[Value], dir: &Path, format: &str) -> std::path::PathBuf {
    let cols = ["sample_uid", "path", "frames", "duration", "size"];
    let ndjson = dir.join("samples.ndjson");
    {
        let mut f = File::create(&ndjson).unwrap();
        for r in rows {
            let mut m = serde_json::Map::new();
            for c in cols.iter().chain(["metaxy_provenance_by_field"].iter()) {
                m.insert(c.to_string(), r[*c].clone());
            }
            writeln!(f, "{}", Value::Object(m)).unwrap();
        }
    }
    match format {
        "ndjson" => ndjson,
        "parquet" => {
            let mut df = JsonReader::new(File::open(&ndjson).unwrap())
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .unwrap();
            let p = dir.join("samples.parquet");
            ParquetWriter::new(File::create(&p).unwrap())
                .finish(&mut df)
                .unwrap();
            p
        }
        _ => {
            let p = dir.join("samples.csv");
            let mut f = File::create(&p).unwrap();
            writeln!(
                f,
                "{},metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames",
                cols.join(",")
            )
            .unwrap();
            for r in rows {
                let mut cells: Vec<String> = cols
                    .iter()
                    .map(|c| match &r[*c] {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    })
                    .collect();
                for k in ["audio", "frames"] {
                    cells.push(r["metaxy_provenance_by_field"][k].as_str().unwrap().into());
                }
                writeln!(f, "{}", cells.join(",")).unwrap();
            }
            p
        }
    }
}

#[test]
fn root_increment_from_samples_file_equals_metaxy() {
    let tmp = tempfile::tempdir().unwrap();
    let s02 = json(scenario_dir("s02_mutated").join("expected/reads/example__video.json"));
    let rows = s02["rows"].as_array().unwrap();
    let want = json(scenario_dir("s02_mutated").join("expected/steps/01_example__video.json"));
    for format in ["parquet", "ndjson", "csv"] {
        let file = write_samples(rows, tmp.path(), format);
        for b in BACKENDS {
            let dir = scenario_dir_in(b, "s01_initial");
            let o = run_binary(
                &dir,
                &[
                    "metadata",
                    "increment",
                    "example/video",
                    "--samples",
                    file.to_str().unwrap(),
                    "--format",
                    "json",
                ],
            );
            assert!(
                o.status.success(),
                "{b} {format}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let got: Value = serde_json::from_slice(&o.stdout).unwrap();
            for (ours, theirs) in [
                ("new", "added"),
                ("stale", "changed"),
                ("orphaned", "removed"),
            ] {
                let exp = want[theirs].as_array().unwrap();
                let keys: Vec<String> = [
                    "sample_uid",
                    "metaxy_provenance_by_field",
                    "metaxy_provenance",
                ]
                .map(String::from)
                .to_vec();
                assert_eq!(
                    multiset(got[ours].as_array().unwrap(), &keys),
                    multiset(exp, &keys),
                    "{b} {format} {ours}"
                );
            }
            assert_eq!(got["counts"]["stale"], 10, "{b} {format}");
        }
    }
}

#[test]
fn bad_samples_files_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scenario_dir("s01_initial");
    let no_struct = tmp.path().join("ids.csv");
    std::fs::write(&no_struct, "sample_uid\ns000001\n").unwrap();
    let missing = tmp.path().join("nope.parquet");
    let odd = tmp.path().join("samples.xlsx");
    std::fs::write(&odd, "x").unwrap();
    for (file, msg) in [
        (&no_struct, "metaxy_provenance_by_field"),
        (&missing, "nope.parquet"),
        (&odd, "unknown samples format"),
    ] {
        let o = run_binary(
            &dir,
            &[
                "metadata",
                "increment",
                "example/video",
                "--samples",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", file.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(msg), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
