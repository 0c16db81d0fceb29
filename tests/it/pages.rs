//! Increment pages computed in DuckDB (`increment_page` of DuckDB and local Delta stores, forced at any size with
//! an explicit row threshold of 0): the pages concatenate to exactly the general engine's increments, and the
//! TUI's tabs rendered from them equal the tabs of the whole increment. `metadata increment --limit` takes the
//! pages (DuckDB and Delta through the binary with the thresholds' environment overrides; ClickHouse always) and
//! prints what the general engine prints. The ClickHouse versions of the engine tests are in [`crate::pushdown`].

use metaxy_tui::engine::store::count_plan::{IncrementKind, PageWindow};
use metaxy_tui::engine::versioning::counts::increment_counts;
use metaxy_tui::engine::versioning::pages::{first_pages_in, increment_page_in};
use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

/// Pages of this many rows, so that kinds span several.
const PAGE: usize = 3;

/// The workspace of the fixture copy (or fixture) in `dir`.
fn open_dir(dir: &std::path::Path) -> Workspace {
    Workspace::open(&OpenOptions {
        cwd: dir.to_path_buf(),
        env: crate::common::scenario_env(dir),
        ..Default::default()
    })
    .unwrap()
}

/// Every DuckDB or Delta workspace to check: each fixture of `backend` (Map mode included) and a copy with ties
/// and null timestamps (`_tmp` keeps the copy alive).
fn workspaces(backend: &str, tmp: &std::path::Path) -> Vec<(String, Workspace)> {
    let mut out: Vec<(String, Workspace)> = crate::common::all_scenarios()
        .into_iter()
        .filter(|(a, b)| *a == backend || *b == backend)
        .map(|(a, b)| {
            let dir = crate::common::scenario_dir_in(a, b);
            (format!("{a}/{b}"), open_dir(&dir))
        })
        .collect();
    let ws = if backend == "duckdb" {
        crate::pushdown::duckdb_with_ties("s02_mutated", tmp)
    } else {
        crate::pushdown::delta_with_ties("s06_soft_delete", tmp);
        open_dir(tmp)
    };
    out.push(("ties".into(), ws));
    out
}

/// Walks every kind of every non-root feature of `ws` in pages of [`PAGE`] rows (row threshold 0) and checks them
/// against the general engine: the same rows in the same (id) order, the same per-field and sample provenance, the
/// same stored provenance of the stale rows (per-field diffs), no overlap, totals equal to the engine's (and to the
/// store's counts where it counts in-process), the first pages of all kinds equal to the kinds' first pages.
/// Returns (features paged, kinds spanning several pages, features declined).
fn check_pages(label: &str, ws: &Workspace) -> (usize, usize, usize) {
    let (mut paged, mut multi, mut declined) = (0, 0, 0);
    let narrow = ResolveOptions {
        narrow_target: true,
        ..Default::default()
    };
    for key in ws.graph.topological_order() {
        if ws.graph.require(&key).unwrap().spec.is_root() {
            continue;
        }
        let store = ws.store.as_ref();
        let Some(first) = first_pages_in(store, &ws.graph, &key, PAGE, Some(0)).unwrap() else {
            declined += 1;
            continue;
        };
        let inc = resolve_update(store, &ws.graph, &key, &ResolveOptions::default()).unwrap();
        let want_totals = (inc.new.height(), inc.stale.height(), inc.orphaned.height());
        assert_eq!(first.totals, want_totals, "{label} {key}");
        if let Some(c) = increment_counts(store, &ws.graph, &key, &narrow).unwrap() {
            assert_eq!((c.new, c.stale, c.orphaned), want_totals, "{label} {key}");
        }
        assert_eq!(
            first.increment.target_exists, inc.target_exists,
            "{label} {key}"
        );
        for kind in IncrementKind::ALL {
            let (want, total) = match kind {
                IncrementKind::New => (&inc.new, want_totals.0),
                IncrementKind::Stale => (&inc.stale, want_totals.1),
                IncrementKind::Orphaned => (&inc.orphaned, want_totals.2),
            };
            let (mut got, mut stale_got) = (vec![], vec![]);
            let mut offset = 0;
            loop {
                let window = PageWindow {
                    offset,
                    limit: PAGE,
                    min_rows: Some(0),
                };
                let p = increment_page_in(store, &ws.graph, &key, kind, window)
                    .unwrap()
                    .expect("first page taken, a later one declined");
                assert_eq!(p.total(kind), total, "{label} {key} {kind:?}");
                let pi = &p.increment;
                let frame = match kind {
                    IncrementKind::New => &pi.new,
                    IncrementKind::Stale => &pi.stale,
                    IncrementKind::Orphaned => &pi.orphaned,
                };
                let n = frame.height();
                assert!(n <= PAGE);
                if offset == 0 {
                    let f = match kind {
                        IncrementKind::New => &first.increment.new,
                        IncrementKind::Stale => &first.increment.stale,
                        IncrementKind::Orphaned => &first.increment.orphaned,
                    };
                    assert_eq!(
                        pi.provenance_rows(frame, None).unwrap(),
                        first.increment.provenance_rows(f, None).unwrap()
                    );
                }
                got.extend(pi.provenance_rows(frame, None).unwrap());
                if kind == IncrementKind::Stale {
                    stale_got.extend(pi.stale_diffs(None).unwrap());
                }
                offset += n;
                if n < PAGE {
                    break;
                }
            }
            assert_eq!(got.len(), total, "{label} {key} {kind:?}");
            let keys: std::collections::HashSet<&Vec<String>> =
                got.iter().map(|r| &r.key).collect();
            assert_eq!(
                keys.len(),
                got.len(),
                "{label} {key} {kind:?}: pages overlap"
            );
            if total > PAGE {
                multi += 1;
            }
            // the general engine's frames are sorted by the join columns, as the pages are
            assert_eq!(
                got,
                inc.provenance_rows(want, None).unwrap(),
                "{label} {key} {kind:?}"
            );
            if kind == IncrementKind::Stale {
                let want = inc.stale_diffs(None).unwrap();
                assert_eq!(stale_got, want, "{label} {key} stale diffs");
                assert!(stale_got.iter().all(|d| d.stored.is_some()));
            }
        }
        paged += 1;
    }
    (paged, multi, declined)
}

/// On every DuckDB fixture (and with ties and null timestamps) the pages computed in DuckDB equal the general
/// engine's increments ([`check_pages`]); a feature is paged exactly when the store counts it in DuckDB.
#[test]
fn in_duckdb_increment_pages_equal_the_engine_increments_on_every_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut paged, mut multi) = (0, 0);
    for (label, ws) in workspaces("duckdb", tmp.path()) {
        let (p, m, _) = check_pages(&label, &ws);
        (paged, multi) = (paged + p, multi + m);
        let narrow = ResolveOptions {
            narrow_target: true,
            ..Default::default()
        };
        for key in ws.graph.topological_order() {
            if ws.graph.require(&key).unwrap().spec.is_root() {
                continue;
            }
            let store = ws.store.as_ref();
            let pages = first_pages_in(store, &ws.graph, &key, PAGE, Some(0)).unwrap();
            let counts = increment_counts(store, &ws.graph, &key, &narrow).unwrap();
            assert_eq!(pages.is_some(), counts.is_some(), "{label} {key}");
        }
    }
    eprintln!("paged in DuckDB: {paged} features, {multi} kinds over several pages");
    assert!(paged >= 24, "{paged} features took the in-DuckDB page path");
    assert!(multi > 0, "no kind spans several pages");
}

/// On every Delta fixture (and with ties across data files and null timestamps) the pages computed by DuckDB over
/// the parquet files equal the general engine's increments ([`check_pages`]).
#[test]
fn delta_increment_pages_in_duckdb_equal_the_engine_increments_on_every_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut paged, mut multi) = (0, 0);
    for (label, ws) in workspaces("delta", tmp.path()) {
        let (p, m, _) = check_pages(&label, &ws);
        if label == "ties" {
            assert!(p >= 3, "ties: {p} features paged");
        }
        (paged, multi) = (paged + p, multi + m);
    }
    eprintln!("paged in DuckDB over Delta: {paged} features, {multi} kinds over several pages");
    assert!(paged >= 24, "{paged} features took the in-DuckDB page path");
    assert!(multi > 0, "no kind spans several pages");
}

/// The TUI's increment tabs rendered from the first pages computed in DuckDB (what `load_increment` renders when
/// the store pages: [`metaxy_tui::tui::view::LoadedIncrement::from_pages`]) equal the tabs of the general
/// engine's whole increment (rows, per-field diffs, causes, totals) on the DuckDB and Delta fixtures; at the
/// default thresholds the fixtures are too small to page, and `load_increment` takes the general engine.
#[test]
fn tui_increment_tabs_from_duckdb_pages_equal_the_engine() {
    use metaxy_tui::tui::tasks::load_increment;
    use metaxy_tui::tui::view::{LoadedIncrement, MAX_TABLE_ROWS};
    let mut paged = 0;
    for backend in ["duckdb", "delta"] {
        for s in [
            "s02_mutated",
            "s03_cascaded",
            "s06_soft_delete",
            "s07_hard_delete",
        ] {
            let ws = crate::common::open_scenario_in(backend, s);
            let store = ws.store.as_ref();
            for key in ws.graph.topological_order() {
                if ws.graph.require(&key).unwrap().spec.is_root() {
                    continue;
                }
                let general = LoadedIncrement::build_with_causes(
                    ws.increment(&key, &ResolveOptions::default()).unwrap(),
                    store,
                    &ws.graph,
                );
                let loaded = load_increment(&ws, &key, None).unwrap();
                assert!(!loaded.paged_in_store, "{backend} {s} {key}");
                assert_eq!(loaded.tables, general.tables, "{backend} {s} {key}");
                let Some(pages) =
                    first_pages_in(store, &ws.graph, &key, MAX_TABLE_ROWS, Some(0)).unwrap()
                else {
                    continue;
                };
                let r = LoadedIncrement::from_pages(pages, store, &ws.graph);
                assert!(r.paged_in_store);
                assert_eq!(r.tables, general.tables, "{backend} {s} {key}");
                assert_eq!(
                    r.cause_summary, general.cause_summary,
                    "{backend} {s} {key}"
                );
                paged += 1;
            }
        }
    }
    assert!(paged >= 20, "{paged} features paged");
}

/// `metadata increment <feature> --limit <n>` (`args` appended) in `dir` with the extra environment `env`
/// (stdout, stderr).
fn increment_cli(
    dir: &std::path::Path,
    feature: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(["metadata", "increment", feature])
        .args(args)
        .current_dir(dir)
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .envs(crate::common::scenario_env(dir))
        .envs(env.iter().copied())
        .output()
        .expect("binary runs");
    assert!(
        o.status.success(),
        "{} {feature}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The headless `metadata increment --limit 2` pages in DuckDB when the store's row threshold is forced to 0
/// (`METAXY_TUI_DUCKDB_PAGES_ROWS=0` on DuckDB, `METAXY_TUI_DELTA_DUCKDB_ROWS=0` on Delta; `duckdb-page` in the
/// timings) and prints exactly what the general engine prints (`METAXY_TUI_NO_STORE_COUNTS=1`): counts, rows,
/// per-field diffs and causes, as JSON and as tables; at the default thresholds the fixtures take the general
/// engine.
#[test]
fn increment_cli_with_a_limit_pages_in_duckdb_and_equals_the_engine() {
    let mut taken = 0;
    for (backend, var) in [
        ("duckdb", "METAXY_TUI_DUCKDB_PAGES_ROWS"),
        ("delta", "METAXY_TUI_DELTA_DUCKDB_ROWS"),
    ] {
        for s in ["s02_mutated", "s06_soft_delete"] {
            let dir = crate::common::scenario_dir_in(backend, s);
            let ws = open_dir(&dir);
            for key in ws.graph.topological_order() {
                if ws.graph.require(&key).unwrap().spec.is_root() {
                    continue;
                }
                let f = key.to_string();
                for format in ["json", "plain"] {
                    let args = ["--limit", "2", "--format", format];
                    let (engine, _) =
                        increment_cli(&dir, &f, &args, &[("METAXY_TUI_NO_STORE_COUNTS", "1")]);
                    let (duck, timings) =
                        increment_cli(&dir, &f, &args, &[(var, "0"), ("METAXY_TUI_TIMINGS", "1")]);
                    if format == "json" {
                        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
                        assert_eq!(parse(&duck), parse(&engine), "{backend} {s} {f}");
                    } else {
                        assert_eq!(duck, engine, "{backend} {s} {f}");
                    }
                    let n = timings.matches("timing duckdb-page ").count();
                    assert!(n == 0 || n == 3, "{backend} {s} {f}: {n} pages");
                    taken += n / 3;
                }
                let (_, timings) = increment_cli(
                    &dir,
                    &f,
                    &["--limit", "2", "--format", "json"],
                    &[("METAXY_TUI_TIMINGS", "1")],
                );
                assert!(
                    !timings.contains("timing duckdb-page "),
                    "{backend} {s} {f}"
                );
            }
        }
    }
    assert!(taken >= 12, "{taken} runs paged in DuckDB");
}

/// On ClickHouse `metadata increment --limit 2` always pages in the server (`clickhouse-page` in the timings) and
/// prints exactly what the general engine prints, as JSON and as tables.
#[test]
fn increment_cli_with_a_limit_pages_in_clickhouse_and_equals_the_engine() {
    let mut taken = 0;
    for s in ["s02_mutated", "s06_soft_delete"] {
        let dir = crate::common::scenario_dir_in("clickhouse", s);
        let ws = open_dir(&dir);
        for key in ws.graph.topological_order() {
            if ws.graph.require(&key).unwrap().spec.is_root() {
                continue;
            }
            let f = key.to_string();
            for format in ["json", "plain"] {
                let args = ["--limit", "2", "--format", format];
                let (engine, _) =
                    increment_cli(&dir, &f, &args, &[("METAXY_TUI_NO_STORE_COUNTS", "1")]);
                let (paged, timings) =
                    increment_cli(&dir, &f, &args, &[("METAXY_TUI_TIMINGS", "1")]);
                if format == "json" {
                    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
                    assert_eq!(parse(&paged), parse(&engine), "clickhouse {s} {f}");
                } else {
                    assert_eq!(paged, engine, "clickhouse {s} {f}");
                }
                taken += timings.matches("timing clickhouse-page ").count() / 3;
            }
        }
    }
    assert!(taken >= 8, "{taken} runs paged in ClickHouse");
}
