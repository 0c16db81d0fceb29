//! Helpers shared by the integration tests: fixture paths and workspace opening.

use std::collections::BTreeMap;
use std::path::PathBuf;

use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use serde_json::Value;

/// The eight cumulative DuckDB scenarios written by real Metaxy 0.1.11.
pub const SCENARIOS: [&str; 8] = [
    "s01_initial",
    "s02_mutated",
    "s03_cascaded",
    "s04_version_bump",
    "s05_rebased",
    "s06_soft_delete",
    "s07_hard_delete",
    "s08_copy",
];

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Directory of a DuckDB scenario.
pub fn scenario_dir(s: &str) -> PathBuf {
    fixtures().join("duckdb").join(s)
}

/// Opens a scenario the way a user would from inside its directory.
pub fn open_scenario(s: &str) -> Workspace {
    let dir = scenario_dir(s);
    let mut env = BTreeMap::new();
    env.insert("METAXY_FIXTURE_DIR".to_string(), dir.display().to_string());
    let opts = OpenOptions {
        cwd: dir,
        env,
        ..Default::default()
    };
    Workspace::open(&opts).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Reads a JSON file.
pub fn json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses an `expected/cli/*.txt` capture into (exit code, stdout).
pub fn cli_capture(path: PathBuf) -> (i32, String) {
    let text = std::fs::read_to_string(&path).unwrap();
    let code: i32 = text
        .lines()
        .find_map(|l| l.strip_prefix("# exit code: "))
        .and_then(|c| c.trim().parse().ok())
        .unwrap();
    let stdout = text
        .split("# --- stdout ---\n")
        .nth(1)
        .unwrap()
        .split("# --- stderr ---")
        .next()
        .unwrap()
        .to_string();
    (code, stdout)
}

/// Projects `row` onto the keys of `template` and renders it canonically (for multiset comparison).
pub fn project(row: &Value, keys: &[String]) -> String {
    let mut m = serde_json::Map::new();
    for k in keys {
        m.insert(k.clone(), row.get(k).cloned().unwrap_or(Value::Null));
    }
    serde_json::to_string(&Value::Object(m)).unwrap()
}

/// Sorted canonical projections of rows.
pub fn multiset(rows: &[Value], keys: &[String]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| project(r, keys)).collect();
    v.sort();
    v
}

/// Parses an `expected/cli/*.txt` capture into (exit code, stdout, stderr).
pub fn cli_capture_streams(path: PathBuf) -> (i32, String, String) {
    let (code, stdout) = cli_capture(path.clone());
    let text = std::fs::read_to_string(&path).unwrap();
    let stderr = text
        .split_once("# --- stderr ---\n")
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    (code, stdout, stderr)
}

/// `tests/fixtures/cli_extra/<scenario>/<name>.txt`: real Metaxy 0.1.11 outputs captured by
/// `tests/fixtures/cli_extra/capture.sh` for commands the reference kit did not capture.
pub fn extra_capture(scenario: &str, name: &str) -> (i32, String, String) {
    cli_capture_streams(
        fixtures()
            .join("cli_extra")
            .join(scenario)
            .join(format!("{name}.txt")),
    )
}
