//! The engine's architecture, read from its sources (`src/engine/**.rs`): the `crate::…`, `super::…` and
//! `self::…` paths of each file (comment lines ignored) give a module graph, checked at two levels:
//!
//! * layers: `engine::<layer>` (`engine::store`, `engine::query`, `engine::versioning`, `engine::error`, …); an
//!   import between two layers is an edge, and the layer graph must have no cycle;
//! * rooms: `engine::<layer>::<room>` (`engine::store::duckdb`, `engine::store::common`, the registry
//!   `engine::store` itself, `engine::versioning::resolve`, …); the room graph must have no cycle either, so a
//!   backend cannot import the registry that imports it.
//!
//! Besides: no engine file mentions `ratatui`, `crossterm` or `clap`, none imports `crate::tui` or `crate::cli`,
//! and no engine module outside the registry (`src/engine/store/mod.rs`) imports a backend module
//! (`store::duckdb`, `store::delta`, `store::lance`, `store::postgres`, `store::iceberg`, `store::clickhouse`),
//! except the backend's own files. The checks run on the real tree and on small synthetic trees that must fail
//! (the old flat layout's `store` <-> `delta` cycle among them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Backend folders under `engine::store`: only the registry may import them.
const BACKENDS: [&str; 6] = [
    "duckdb",
    "delta",
    "lance",
    "postgres",
    "iceberg",
    "clickhouse",
];

/// Crates the engine must never name.
const UI_CRATES: [&str; 3] = ["ratatui", "crossterm", "clap"];

/// A module path below `engine` (`["store", "duckdb", "sql"]`; `[]` is `engine` itself).
type ModPath = Vec<String>;

/// The engine's sources: module path -> text (a `mod.rs` is its folder's module).
fn read_tree(root: &Path) -> BTreeMap<ModPath, String> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                let mut sub = prefix.clone();
                sub.push(name);
                walk(&p, &sub, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut m = prefix.clone();
                if stem != "mod" {
                    m.push(stem.to_string());
                }
                out.insert(m, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &vec![], &mut out);
    out
}

/// `text` without comment lines (`//`, `//!`, `///`): doc links are not imports.
fn code_lines(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a path tail after a `::` (identifiers separated by `::`, or a `{…}` group, recursively) into full paths
/// starting with `base`.
fn parse_tail(s: &[u8], mut i: usize, base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = base;
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < s.len() && s[i] == b'{' {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == b'}' {
                    out.push(path.clone());
                    return i + 1;
                }
                let next = parse_tail(s, i, path.clone(), out);
                // `*`, `as name` and the like: skip what is not a path
                i = if next == i { i + 1 } else { next };
            }
        }
        let start = i;
        while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
            i += 1;
        }
        if i == start {
            out.push(path);
            return i;
        }
        path.push(String::from_utf8_lossy(&s[start..i]).to_string());
        if s[i..].starts_with(b"::") {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Every module-relative path a file names: `crate::…` as is, `super::…` / `self::…` resolved against `module`
/// (`super` of `a/b.rs` and of `a/b/mod.rs`, both module `a::b`, is `a`). Paths are from the crate root (`["engine", "store", …]`).
fn referenced_paths(module: &ModPath, text: &str) -> Vec<Vec<String>> {
    let code = code_lines(text);
    let s = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let boundary =
            i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_' || s[i - 1] == b':');
        if boundary {
            // the file's own module, from the crate root
            let mut here: Vec<String> = vec!["engine".into()];
            here.extend(module.iter().cloned());
            let base = if s[i..].starts_with(b"crate::") {
                Some((i + 7, vec![]))
            } else if s[i..].starts_with(b"super::") {
                let mut b = here.clone();
                b.pop();
                let mut j = i + 7;
                while s[j..].starts_with(b"super::") {
                    b.pop();
                    j += 7;
                }
                Some((j, b))
            } else if s[i..].starts_with(b"self::") {
                Some((i + 6, here))
            } else {
                None
            };
            if let Some((j, b)) = base {
                i = parse_tail(s, j, b, &mut out);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The longest prefix of `path` (from the crate root) that is an engine module, as a path below `engine`.
fn resolve(path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    if path.first().map(String::as_str) != Some("engine") {
        return None;
    }
    let below: ModPath = path[1..].to_vec();
    (0..=below.len())
        .rev()
        .map(|n| below[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// The node of module `m` at `depth` (1: layer, 2: room), as a display name (`engine::store::duckdb`).
fn node(m: &ModPath, depth: usize) -> String {
    let mut parts = vec!["engine".to_string()];
    parts.extend(m.iter().take(depth).cloned());
    parts.join("::")
}

/// A cycle of the graph (`a -> b -> … -> a`), if any; nodes and edges in sorted order for a stable report.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|x| x == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, edges, &mut state, &mut vec![]) {
                return Some(c);
            }
        }
    }
    None
}

/// Every architecture violation of the engine tree `tree` (module path -> source; `mod_rs`: the modules that are
/// a folder's `mod.rs`), one line each; empty when the tree is sound.
fn violations(tree: &BTreeMap<ModPath, String>, mod_rs: &BTreeSet<ModPath>) -> Vec<String> {
    let modules: BTreeSet<ModPath> = tree.keys().cloned().collect();
    let mut problems = Vec::new();
    let mut layers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in tree {
        let file = if mod_rs.contains(m) || m.is_empty() {
            format!(
                "src/engine/{}mod.rs",
                m.iter().map(|p| format!("{p}/")).collect::<String>()
            )
        } else {
            format!("src/engine/{}.rs", m.join("/"))
        };
        for word in UI_CRATES {
            let mentions = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == word);
            if mentions {
                problems.push(format!(
                    "{file} mentions `{word}` (the engine knows no UI crate)"
                ));
            }
        }
        for path in referenced_paths(m, text) {
            if matches!(path.first().map(String::as_str), Some("tui" | "cli")) {
                problems.push(format!("{file} imports crate::{}", path.join("::")));
            }
            let Some(target) = resolve(&path, &modules) else {
                continue;
            };
            // a backend module imported from outside the registry and outside that backend
            if target.len() >= 2 && target[0] == "store" && BACKENDS.contains(&target[1].as_str()) {
                let is_registry = m.as_slice() == ["store".to_string()];
                let same_backend = m.len() >= 2 && m[0] == "store" && m[1] == target[1];
                if !is_registry && !same_backend {
                    problems.push(format!(
                        "{file} imports the backend module engine::{} (only the registry src/engine/store/mod.rs may)",
                        target.join("::")
                    ));
                }
            }
            if m.is_empty() {
                continue; // engine/mod.rs declares and re-exports the layers: the root of the graph
            }
            for (depth, graph) in [(1, &mut layers), (2, &mut rooms)] {
                let (a, b) = (node(m, depth), node(&target, depth));
                if a != b && !target.is_empty() {
                    graph.entry(a).or_default().insert(b);
                }
            }
        }
    }
    for (what, graph) in [("layers", &layers), ("modules", &rooms)] {
        if let Some(cycle) = find_cycle(graph) {
            problems.push(format!(
                "import cycle between engine {what}: {}",
                cycle.join(" -> ")
            ));
        }
    }
    problems
}

/// Reads `src/engine` into a tree and the set of its `mod.rs` modules.
fn engine_tree(root: &Path) -> (BTreeMap<ModPath, String>, BTreeSet<ModPath>) {
    let tree = read_tree(root);
    let mod_rs = tree
        .keys()
        .filter(|m| {
            let mut p = root.to_path_buf();
            p.extend(m.iter());
            p.join("mod.rs").is_file()
        })
        .cloned()
        .collect();
    (tree, mod_rs)
}

/// A synthetic tree from `(file path below src/engine, source)` pairs.
fn synthetic(files: &[(&str, &str)]) -> (BTreeMap<ModPath, String>, BTreeSet<ModPath>) {
    let mut tree = BTreeMap::new();
    let mut mod_rs = BTreeSet::new();
    for (path, text) in files {
        let parts: Vec<&str> = path.trim_end_matches(".rs").split('/').collect();
        let mut m: ModPath = parts.iter().map(|s| s.to_string()).collect();
        if m.last().map(String::as_str) == Some("mod") {
            m.pop();
            mod_rs.insert(m.clone());
        }
        tree.insert(m, text.to_string());
    }
    (tree, mod_rs)
}

#[test]
fn engine_layers_have_no_cycle_no_ui_crate_and_one_backend_registry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let (tree, mod_rs) = engine_tree(&root);
    // the walk found the house (guards against a check that reads nothing)
    for m in [
        &["store"][..],
        &["store", "duckdb"],
        &["store", "delta"],
        &["store", "lance"],
        &["query", "read"],
        &["versioning", "resolve"],
    ] {
        let m: ModPath = m.iter().map(|s| s.to_string()).collect();
        assert!(tree.contains_key(&m), "engine::{} not found", m.join("::"));
    }
    let problems = violations(&tree, &mod_rs);
    assert!(
        problems.is_empty(),
        "architecture violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_old_flat_layout_is_rejected() {
    // the shape of the flat engine before the house: the factory imports each backend, the backends import the
    // factory's helpers, and the versioning logic imports the DuckDB-only counts
    let (tree, mod_rs) = synthetic(&[
        ("mod.rs", "pub mod store; pub mod delta; pub mod read;"),
        (
            "store.rs",
            "use crate::engine::delta::DeltaStore;\nuse crate::engine::schema;",
        ),
        (
            "delta.rs",
            "use crate::engine::store::{\n    resolve_local_path, MetadataStore,\n};",
        ),
        ("read.rs", "use crate::engine::store::MetadataStore;"),
    ]);
    let problems = violations(&tree, &mod_rs);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("import cycle between engine layers")
                && p.contains("engine::delta")
                && p.contains("engine::store")),
        "{problems:?}"
    );
}

#[test]
fn a_backend_importing_the_registry_is_a_cycle() {
    let (tree, mod_rs) = synthetic(&[
        ("mod.rs", "pub mod store;"),
        ("store/mod.rs", "pub mod duckdb; pub mod common;\nfn f() { duckdb::open(); }\nuse crate::engine::store::duckdb::DuckDbStore;"),
        ("store/common.rs", ""),
        ("store/duckdb/mod.rs", "use super::open_store;\nuse crate::engine::store::common::x;"),
    ]);
    let problems = violations(&tree, &mod_rs);
    assert_eq!(
        problems,
        vec!["import cycle between engine modules: engine::store -> engine::store::duckdb -> engine::store"],
    );
}

#[test]
fn backend_imports_outside_the_registry_ui_crates_and_the_tui_are_reported() {
    let (tree, mod_rs) = synthetic(&[
        ("mod.rs", "pub mod store; pub mod versioning;"),
        ("store/mod.rs", "pub mod duckdb;"),
        ("store/duckdb/mod.rs", "pub mod counts; use crate::engine::store::duckdb::counts::x;"),
        ("store/duckdb/counts.rs", ""),
        ("versioning/mod.rs", "pub mod status;"),
        (
            "versioning/status.rs",
            "use crate::engine::{keys, store::duckdb::counts::count_in_duckdb};\nuse ratatui::Frame;\nfn f() { crate::tui::run(); }",
        ),
    ]);
    let problems = violations(&tree, &mod_rs);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].contains("mentions `ratatui`"), "{problems:?}");
    assert!(
        problems[1].contains("imports the backend module engine::store::duckdb::counts"),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("imports crate::tui::run"),
        "{problems:?}"
    );
}

#[test]
fn paths_in_comments_are_not_imports() {
    let (tree, mod_rs) = synthetic(&[
        ("mod.rs", "pub mod a; pub mod b;"),
        ("a.rs", "use crate::engine::b::X;"),
        (
            "b.rs",
            "//! see [`crate::engine::a`]\n/// [`crate::engine::a::f`]\npub struct X;",
        ),
    ]);
    assert!(violations(&tree, &mod_rs).is_empty());
}
