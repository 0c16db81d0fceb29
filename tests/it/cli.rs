//! The real `metaxy-tui` binary in headless mode, run from fixture scenario directories like a user would.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

fn run(dir: &Path, args: &[&str]) -> Output {
    run_binary(dir, args)
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the binary and asserts success; returns (stdout, stderr).
fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: exit {:?}, stderr: {}",
        o.status,
        text(&o.stderr)
    );
    (text(&o.stdout), text(&o.stderr))
}

/// Masks `YYYY-MM-DD HH:MM:SS` wall-clock timestamps.
fn mask_times(s: &str) -> String {
    regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        .unwrap()
        .replace_all(s, "<time>")
        .into_owned()
}

#[test]
fn describe_graph_equals_metaxy() {
    for (s, tag) in [("s01_initial", "s01"), ("s04_version_bump", "s04")] {
        let dir = scenario_dir(s);
        let (code, _, want) =
            cli_capture_streams(dir.join(format!("expected/cli/{tag}_describe_graph.txt")));
        assert_eq!(code, 0);
        let (stdout, stderr) = ok(&dir, &["describe", "graph"]);
        // Metaxy prints everything on stderr; we print the message there and the data on stdout
        assert_eq!(format!("{stderr}\n{stdout}"), want, "{s}");
        assert!(stdout.starts_with(" Graph Snapshot: "), "{stdout}");
    }
    // a historical snapshot, by full version or prefix: Metaxy 0.1.11 announces the snapshot but then describes the
    // current graph (its title says f513ad86); we describe the snapshot itself
    let dir = scenario_dir("s04_version_bump");
    let (_, _, metaxy) = extra_capture("s04_version_bump", "s04_describe_graph_snapshot_v1");
    for reference in ["bc37caf4", "bc37"] {
        let (stdout, stderr) = ok(&dir, &["describe", "graph", "--snapshot", reference]);
        assert_eq!(
            format!("{stderr}\n{stdout}"),
            metaxy
                .replace("Graph Snapshot: f513ad86", "Graph Snapshot: bc37caf4")
                .replace("snapshot: bc37caf4\n", &format!("snapshot: {reference}\n")),
        );
    }
    let j = stdout_json(&run(&dir, &["describe", "graph", "--format", "json"]));
    assert_eq!(
        j,
        serde_json::json!({
            "metaxy_project_version": "f513ad86",
            "total_features": 7,
            "graph_depth": 3,
            "root_features": ["example/video"],
            "leaf_features": ["example/av_report", "example/chunk_summary", "example/face_detection"],
            "projects": {"example_overview": 7},
            "filtered_features": 7,
            "filter_project": "example_overview",
        })
    );
    let o = run(&dir, &["describe", "graph", "--snapshot", "0000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown project version \"0000\""));
}

#[test]
fn history_equals_metaxy_up_to_wall_clock() {
    for (s, tag) in [("s01_initial", "s01"), ("s04_version_bump", "s04")] {
        let dir = scenario_dir(s);
        let (code, _, want) =
            cli_capture_streams(dir.join(format!("expected/cli/{tag}_history.txt")));
        assert_eq!(code, 0);
        let (stdout, _) = ok(&dir, &["history"]);
        assert_eq!(mask_times(&stdout), mask_times(&want), "{s}");
    }
    let dir = scenario_dir("s04_version_bump");
    let (_, _, want) = extra_capture("s04_version_bump", "s04_history_limit_1");
    let (stdout, _) = ok(&dir, &["history", "--limit", "1"]);
    assert_eq!(mask_times(&stdout), mask_times(&want));
    let j = stdout_json(&run(&dir, &["history", "--format", "json"]));
    assert_eq!(j["snapshot_count"], 2);
    assert_eq!(j["project"], "example_overview");
    let snaps = j["snapshots"].as_array().unwrap();
    let versions: Vec<&str> = snaps
        .iter()
        .map(|s| s["project_version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["f513ad86", "bc37caf4"]);
    assert!(snaps.iter().all(|s| s["feature_count"] == 7));
    let (newer, older) = (
        snaps[0]["recorded_at"].as_str().unwrap(),
        snaps[1]["recorded_at"].as_str().unwrap(),
    );
    assert!(newer > older, "{newer} vs {older}");
    // a store without pushed graphs (the target of `metaxy metadata copy`)
    let copy = scenario_dir("s08_copy");
    let o = run(&copy, &["history", "--store", "archive"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(text(&o.stderr), "No graph snapshots recorded yet\n");
    let j = stdout_json(&run(
        &copy,
        &["history", "--store", "archive", "-f", "json"],
    ));
    assert_eq!(j["snapshot_count"], 0);
    let o = run(&copy, &["graph-diff", "latest", "--store", "archive"]);
    assert!(text(&o.stderr)
        .contains("no pushed feature graph; using the graph pushed to store \"dev\""));
    let one = stdout_json(&run(&dir, &["history", "--limit", "1", "-f", "json"]));
    assert_eq!(one["snapshots"][0]["project_version"], "f513ad86");
    assert_eq!(one["snapshot_count"], 1);
}

#[test]
fn graph_diff_plain_equals_metaxy() {
    let dir = scenario_dir("s04_version_bump");
    let (code, want, _) =
        cli_capture_streams(dir.join("expected/cli/s04_graph_diff_v1_current.txt"));
    assert_eq!(code, 0);
    for args in [
        &["graph-diff", "bc37caf4", "current"][..],
        &["graph-diff", "render", "bc37caf4", "current"],
        &["graph-diff", "bc37caf4"],
        &["graph-diff", "bc37", "f513"],
        &["graph-diff", "BC37CAF4", "latest", "--format", "plain"],
        &["graph-diff", "render", "bc37caf4", "-f", "terminal"],
    ] {
        let (stdout, _) = ok(&dir, args);
        assert_eq!(stdout, want, "{args:?}");
    }
    for (name, args) in [
        (
            "s04_graph_diff_v2_v1",
            &["graph-diff", "f513ad86", "bc37caf4"][..],
        ),
        ("s04_graph_diff_v2_current", &["graph-diff", "f513ad86"]),
        (
            "s04_graph_diff_v1_latest",
            &["graph-diff", "render", "bc37caf4", "latest"],
        ),
    ] {
        let (code, want, _) = extra_capture("s04_version_bump", name);
        assert_eq!(code, 0);
        assert_eq!(ok(&dir, args).0, want, "{name}");
    }
}

#[test]
fn graph_diff_json_and_mermaid_equal_metaxy() {
    let dir = scenario_dir("s04_version_bump");
    let (_, want, _) = extra_capture("s04_version_bump", "s04_graph_diff_v1_current_json");
    let (stdout, _) = ok(
        &dir,
        &["graph-diff", "bc37caf4", "current", "--format", "json"],
    );
    assert_eq!(stdout, want);
    let (code, want, _) =
        cli_capture_streams(dir.join("expected/cli/s04_graph_diff_v1_current_mermaid.txt"));
    assert_eq!(code, 0);
    let (stdout, _) = ok(&dir, &["graph-diff", "bc37caf4", "--format", "mermaid"]);
    assert_valid_mermaid(&stdout);
    // Metaxy's chart, minus its two defects: rich wrapped one long line at 200 columns, and HTML attributes are
    // double-quoted inside double-quoted labels (Mermaid ends the label at the first inner quote)
    assert_eq!(metaxy_quoting(&stdout), unwrap_rich(&want));
}

/// Undoes rich's wrapping of lines longer than 200 columns (it breaks after a space; continuation lines of a
/// Mermaid chart never start with a space).
fn unwrap_rich(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in s.split('\n') {
        match out.last_mut() {
            Some(prev) if prev.ends_with(' ') && !line.is_empty() && !line.starts_with(' ') => {
                prev.push_str(line)
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// Our Mermaid chart with single-quoted HTML attributes put back in Metaxy's double quotes.
fn metaxy_quoting(chart: &str) -> String {
    let label = regex::Regex::new(r#"^(    \w+\[")(.*)("\])$"#).unwrap();
    let lines: Vec<String> = chart
        .lines()
        .map(|l| match label.captures(l) {
            Some(c) => format!("{}{}{}", &c[1], c[2].replace('\'', "\""), &c[3]),
            None => l.to_string(),
        })
        .collect();
    format!("{}\n", lines.join("\n"))
}

/// `tests/fixtures/cli_extra/graph_evolution`: a store with two pushed graphs — version 1 (bc37caf4) and version 3
/// with a feature added, one removed, fields added, removed and changed (see its features.py).
fn evolution_dir() -> std::path::PathBuf {
    fixtures().join("cli_extra/graph_evolution")
}

#[test]
fn graph_diff_with_added_removed_and_changed_features_equals_metaxy() {
    let dir = evolution_dir();
    for (name, args) in [
        (
            "evo_graph_diff_v1_current",
            &["graph-diff", "bc37caf4", "current"][..],
        ),
        (
            "evo_graph_diff_current_v1",
            &["graph-diff", "render", "current", "bc37"],
        ),
        (
            "evo_graph_diff_v1_current_json",
            &["graph-diff", "bc37caf4", "-f", "json"],
        ),
    ] {
        let (code, want, _) = extra_capture("graph_evolution", name);
        assert_eq!(code, 0);
        let (stdout, stderr) = ok(&dir, args);
        assert_eq!(stdout, want, "{name}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(
            stderr.contains(": 1 added, 1 removed, 2 changed, 4 unchanged"),
            "{stderr}"
        );
    }
    let (_, want, _) = extra_capture("graph_evolution", "evo_graph_diff_v1_current_mermaid");
    let (chart, _) = ok(
        &dir,
        &["graph-diff", "bc37caf4", "current", "-f", "mermaid"],
    );
    assert_valid_mermaid(&chart);
    assert_eq!(metaxy_quoting(&chart), unwrap_rich(&want));
    let j = stdout_json(&run(&dir, &["graph-diff", "bc37caf4", "--format", "json"]));
    let status = |k: &str| j["nodes"][k]["status"].as_str().unwrap().to_string();
    assert_eq!(status("example/thumbnail"), "added");
    assert_eq!(status("example/face_detection"), "removed");
    assert_eq!(status("example/chunk"), "changed");
    assert_eq!(status("example/crop"), "unchanged");
}

#[test]
fn evolution_store_history_describe_and_render_equal_metaxy() {
    let dir = evolution_dir();
    let (_, _, want) = extra_capture("graph_evolution", "evo_history");
    assert_eq!(mask_times(&ok(&dir, &["history"]).0), mask_times(&want));
    let (_, _, want) = extra_capture("graph_evolution", "evo_describe_graph");
    let (stdout, stderr) = ok(&dir, &["describe", "graph"]);
    assert_eq!(format!("{stderr}\n{stdout}"), want);
    let (_, want, _) = extra_capture("graph_evolution", "evo_graph_render");
    assert_eq!(ok(&dir, &["graph", "render"]).0, want);
}

#[test]
fn graph_diff_reports_bad_references() {
    let dir = scenario_dir("s04_version_bump");
    let o = run(&dir, &["graph-diff", "deadbeef", "current"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("unknown project version \"deadbeef\"") && err.contains("f513ad86, bc37caf4"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = run(&dir, &["graph-diff", "bc37caf4", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("cannot load TO graph \"nope\""));
    // usage errors
    assert_eq!(run(&dir, &["graph-diff"]).status.code(), Some(2));
    assert_eq!(
        run(&dir, &["graph-diff", "a", "b", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
}

/// Structural checks of a Mermaid flowchart: front matter, one `flowchart` line, node definitions with a
/// double-quoted label free of inner double quotes, style and link lines between defined node ids only.
fn assert_valid_mermaid(chart: &str) {
    let lines: Vec<&str> = chart.lines().collect();
    assert_eq!(lines[0], "---", "{chart}");
    let end = lines[1..].iter().position(|l| *l == "---").unwrap() + 1;
    assert!(lines[1..end].iter().all(|l| l.starts_with("title: ")));
    assert_eq!(lines[end + 1], "flowchart TB");
    let node = regex::Regex::new(r#"^    ([A-Za-z_][A-Za-z0-9_]*)\["([^"]*)"\]$"#).unwrap();
    let style = regex::Regex::new(
        r"^    style ([A-Za-z0-9_]+) [a-z-]+:[#A-Za-z0-9]+(,[a-z-]+:[#A-Za-z0-9]+)*$",
    )
    .unwrap();
    let link = regex::Regex::new(r"^    ([A-Za-z0-9_]+) --> ([A-Za-z0-9_]+)$").unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut links = 0;
    for l in &lines[end + 2..] {
        if l.is_empty() || l.starts_with("    %%") {
            continue;
        }
        if let Some(c) = node.captures(l) {
            assert!(ids.insert(c[1].to_string()), "duplicate node {l}");
            assert_ne!(&c[1], "end");
            let open = c[2].matches("<div").count()
                + c[2].matches("<font").count()
                + c[2].matches("<b>").count();
            let close = c[2].matches("</div>").count()
                + c[2].matches("</font>").count()
                + c[2].matches("</b>").count();
            assert_eq!(open, close, "unbalanced html in {l}");
        } else if let Some(c) = style.captures(l) {
            assert!(ids.contains(&c[1]), "style of unknown node: {l}");
        } else if let Some(c) = link.captures(l) {
            assert!(
                ids.contains(&c[1]) && ids.contains(&c[2]),
                "link to unknown node: {l}"
            );
            links += 1;
        } else {
            panic!("not a Mermaid flowchart statement: {l:?}");
        }
    }
    assert!(!ids.is_empty() && links > 0, "{chart}");
}

#[test]
fn graph_render_terminal_equals_metaxy() {
    for (s, name, args) in [
        ("s01_initial", "s01_graph_render", &["graph", "render"][..]),
        (
            "s04_version_bump",
            "s04_graph_render",
            &["graph", "render", "--format", "terminal"],
        ),
        (
            "s04_version_bump",
            "s04_graph_render_snapshot_v1",
            &["graph", "render", "--snapshot", "bc37caf4"],
        ),
    ] {
        let (code, want, _) = extra_capture(s, name);
        assert_eq!(code, 0);
        let (stdout, _) = ok(&scenario_dir(s), args);
        assert_eq!(stdout, want, "{name}");
    }
}

#[test]
fn graph_render_graphviz_is_metaxys_dot() {
    let attrs = regex::Regex::new(r"\[[^\]]*\]").unwrap();
    for (s, name) in [
        ("s01_initial", "s01_graph_render_graphviz"),
        ("s04_version_bump", "s04_graph_render_graphviz"),
    ] {
        let (code, want, _) = extra_capture(s, name);
        assert_eq!(code, 0);
        let (stdout, _) = ok(&scenario_dir(s), &["graph", "render", "-f", "graphviz"]);
        // Metaxy's CLI prints the DOT through rich, whose markup parser removes every `[...]` attribute list
        assert_eq!(attrs.replace_all(&stdout, ""), want, "{name}");
        assert!(stdout.contains(
            "    \"example/video\" [label=\"example/video\\nv: c2ac395f\", shape=doubleoctagon, color=\"#00FFFF\"];"
        ));
        assert!(stdout.contains(
            "    \"example/crop\" -> \"example/crop::frames\" [style=dashed, arrowhead=none];"
        ));
        assert!(stdout.starts_with("strict digraph {\n") && stdout.ends_with("}\n"));
        assert_eq!(stdout.matches('{').count(), stdout.matches('}').count());
        assert_eq!(stdout.matches('"').count() % 2, 0);
    }
    let (stdout, _) = ok(
        &scenario_dir("s04_version_bump"),
        &["graph", "render", "-f", "graphviz", "--snapshot", "bc37"],
    );
    assert!(stdout.contains("label=\"Graph (snapshot: bc37caf4)\";"));
    assert!(stdout.contains("\"example/crop\" [label=\"example/crop\\nv: 34d75856\", shape=box"));
}

#[test]
fn graph_render_mermaid_and_json() {
    let dir = scenario_dir("s04_version_bump");
    let (chart, _) = ok(&dir, &["graph", "render", "--format", "mermaid"]);
    assert_valid_mermaid(&chart);
    assert!(chart.contains("    %% Snapshot version: f513ad86\n"));
    assert!(chart.contains("    example_crop[\"<div style='text-align:left'><b>example/crop</b><br/><small><font color='#666'>Project: example_overview</font></small><br/>ea834040<br/><font color='#999'>---</font><br/>- audio (4c726c4b)<br/>- frames (d8787fa9)</div>\"]\n"));
    assert_eq!(chart.matches(" --> ").count(), 7);
    assert!(chart.contains("    example_video --> example_crop\n"));
    let j = stdout_json(&run(&dir, &["graph", "render", "--format", "json"]));
    assert_eq!(j["project_version"], "f513ad86");
    let nodes = j["nodes"].as_array().unwrap();
    let keys: Vec<&str> = nodes.iter().map(|n| n["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "example/video",
            "example/crop",
            "example/stt",
            "example/av_report",
            "example/chunk",
            "example/chunk_summary",
            "example/face_detection"
        ]
    );
    let crop = &nodes[1];
    assert_eq!(crop["feature_version"], "ea834040");
    assert_eq!(crop["dependencies"], serde_json::json!(["example/video"]));
    assert_eq!(
        crop["fields"][1],
        serde_json::json!({"key": "frames", "code_version": "2", "version": "d8787fa9",
            "deps": [{"feature": "example/video", "fields": ["frames"]}]})
    );
    assert_eq!(nodes[0]["is_root"], true);
    assert!(nodes[0]["fields"][0].get("deps").is_none());
    assert_eq!(j["edges"].as_array().unwrap().len(), 7);
    assert_eq!(
        j["edges"][0],
        serde_json::json!({"from": "example/video", "to": "example/crop"})
    );
    let old = stdout_json(&run(
        &dir,
        &["graph", "render", "-f", "json", "--snapshot", "latest"],
    ));
    assert_eq!(old["project_version"], "f513ad86");
    let old = stdout_json(&run(
        &dir,
        &["graph", "render", "-f", "json", "--snapshot", "bc37caf4"],
    ));
    assert_eq!(old["nodes"][1]["feature_version"], "34d75856");
}

/// Runs the binary with `METAXY_FIXTURE_DIR` set, as the reference kit ran Metaxy.
fn run_in_fixture(s: &str, args: &[&str]) -> (String, String) {
    let dir = scenario_dir(s);
    let o = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(args)
        .current_dir(&dir)
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .env("METAXY_FIXTURE_DIR", &dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let root = format!("{}/", fixtures().display());
    (
        text(&o.stdout).replace(&root, "<fixtures>/"),
        text(&o.stderr),
    )
}

#[test]
fn config_print_equals_metaxy() {
    for (s, tag) in [("s01_initial", "s01"), ("s04_version_bump", "s04")] {
        let (code, want, _) = cli_capture_streams(
            scenario_dir(s).join(format!("expected/cli/{tag}_config_print_json.txt")),
        );
        assert_eq!(code, 0);
        assert_eq!(
            run_in_fixture(s, &["config", "print", "--format", "json"]).0,
            want,
            "{s}"
        );
    }
    // TOML: Metaxy prints it through rich's Syntax, which pads every line with spaces to the terminal width
    let (_, want, _) = extra_capture("s01_initial", "s01_config_print");
    let trim = |s: &str| {
        s.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim_end()
            .to_string()
    };
    let (toml, _) = run_in_fixture("s01_initial", &["config", "print"]);
    assert_eq!(trim(&toml), trim(&want));
    assert_eq!(
        run_in_fixture("s01_initial", &["config", "print", "-f", "plain"]).0,
        toml
    );
    assert!(toml.lines().all(|l| l == l.trim_end()));
}

#[test]
fn list_stores_shows_every_store() {
    let dir = scenario_dir("s01_initial");
    let (code, want, _) = cli_capture_streams(dir.join("expected/cli/s01_list_stores.txt"));
    assert_eq!(code, 0);
    let (stdout, _) = ok(&dir, &["list", "stores"]);
    // Metaxy's columns (Name, Info, Fallbacks) come first, then ours (Type, Location, Hash)
    let metaxy_row = want.lines().nth(3).unwrap();
    assert_eq!(
        metaxy_row,
        "│ dev (default) │ DuckDBMetadataStore(backend=duckdb) │ -         │"
    );
    let row = stdout.lines().nth(3).unwrap();
    assert!(row.starts_with("│ dev (default) │ DuckDBMetadataStore(backend=duckdb) │ -         │ metaxy.ext.duckdb.DuckDBMetadataStore │ ./store/metadata.duckdb │ xxhash32 │"), "{stdout}");
    let header = stdout.lines().nth(1).unwrap();
    assert!(
        header.starts_with(
            "┃ Name          ┃ Info                                ┃ Fallbacks ┃ Type"
        ),
        "{stdout}"
    );
    assert!(stdout.ends_with("\nTotal: 1 store(s)\n"));
    let (_, want, _) = extra_capture("s01_initial", "s01_list_stores_json");
    let metaxy: Value = serde_json::from_str(&want).unwrap();
    let ours = stdout_json(&run(&dir, &["list", "stores", "--format", "json"]));
    let keys = ["name", "is_default", "info", "fallbacks"];
    let project = |v: &Value| {
        let stores: Vec<Value> = v["stores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                serde_json::json!(keys
                    .iter()
                    .map(|k| (k.to_string(), s[*k].clone()))
                    .collect::<serde_json::Map<_, _>>())
            })
            .collect();
        (v["default_store"].clone(), v["store_count"].clone(), stores)
    };
    assert_eq!(project(&ours), project(&metaxy));
    assert_eq!(ours["stores"][0]["hash_algorithm"], "xxhash32");
    assert_eq!(
        ours["stores"][0]["type"],
        "metaxy.ext.duckdb.DuckDBMetadataStore"
    );

    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("lake")).unwrap();
    std::fs::write(
        tmp.path().join("metaxy.toml"),
        r#"store = "prod"
[stores.prod]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"
[stores.prod.config]
root_path = "./lake"
fallback_stores = ["archive", "cold"]
hash_algorithm = "md5"
[stores.archive]
type = "metaxy.ext.lancedb.LanceDBMetadataStore"
[stores.archive.config]
uri = "db://user:secret@example.com/lance"
[stores.cold]
type = "metaxy.ext.polars.handlers.delta.DeltaMetadataStore"
[stores.cold.config]
root_path = "s3://bucket/metaxy/"
[stores.ch]
type = "metaxy.ext.bigquery.BigQueryMetadataStore"
[stores.ch.config]
project_id = "p"
dataset_id = "d"
"#,
    )
    .unwrap();
    let j = stdout_json(&run(tmp.path(), &["list", "stores", "-f", "json"]));
    let names: Vec<&str> = j["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod", "archive", "ch", "cold"]);
    let lake = std::fs::canonicalize(tmp.path().join("lake")).unwrap();
    assert_eq!(
        j["stores"][0]["info"],
        format!("DeltaMetadataStore(path={})", lake.display())
    );
    assert_eq!(
        j["stores"][0]["fallbacks"],
        serde_json::json!(["archive", "cold"])
    );
    assert_eq!(j["stores"][0]["hash_algorithm"], "md5");
    assert_eq!(j["stores"][0]["location"], "./lake");
    assert_eq!(
        j["stores"][1]["info"],
        "LanceDBMetadataStore(path=db://***:***@example.com/lance)"
    );
    assert_eq!(
        j["stores"][3]["info"],
        "DeltaMetadataStore(path=s3://bucket/metaxy)"
    );
    assert!(j["stores"][2]["info"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    assert_eq!(j["store_count"], 4);
    let (plain, _) = ok(tmp.path(), &["list", "stores"]);
    assert!(
        plain.contains("│ prod (default) │") && plain.contains("│ archive, cold │"),
        "{plain}"
    );
    assert!(plain.ends_with("\nTotal: 4 store(s)\n"));
}

/// Issue 16 point 4: a feature whose status errors (its data files gone) fails `metadata status`, with and without
/// `--assert-in-sync`, in both formats, so a CI gate cannot stay green on a broken store. Metaxy 0.1.11 exits 0.
#[test]
fn status_exits_1_when_a_feature_errors() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir_in("delta", "s02_mutated"), tmp.path());
    // a healthy store passes first (status reports needs-update but no error)
    let ok = run(tmp.path(), &["metadata", "status", "--all-features"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let table = tmp.path().join("store/example/crop.delta");
    for e in std::fs::read_dir(&table).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "parquet") {
            std::fs::remove_file(p).unwrap();
        }
    }
    for args in [
        &["metadata", "status", "--all-features"][..],
        &["metadata", "status", "--all-features", "--format", "json"][..],
        &["metadata", "status", "example/crop", "--assert-in-sync"][..],
    ] {
        let o = run(tmp.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("feature(s) could not be checked"),
            "{args:?}: {err}"
        );
    }
}
