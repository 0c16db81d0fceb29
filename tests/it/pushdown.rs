//! Pushdowns into the backends give exactly the engine's own results: DuckDB's latest-row-per-id dedup
//! (`scan_latest`, a `QUALIFY` window) against the engine's `keep_latest` on a plain scan, ties and null
//! timestamps included; projected reads against full reads.

use metaxy_tui::engine::query::read::{keep_latest, read_feature, sort_by_columns, ReadOptions};
use metaxy_tui::engine::store::{Columns, LatestScan};

use crate::common::open_copy;
use metaxy_tui::engine::keys::FeatureKey;

/// A copy of DuckDB fixture `scenario` in `dir` where every video row is stored again with the same timestamps (a
/// tie: the copy, stored last, must win) and a few more with all timestamps null (they must lose against any real
/// timestamp).
pub(crate) fn duckdb_with_ties(
    scenario: &str,
    dir: &std::path::Path,
) -> metaxy_tui::engine::workspace::Workspace {
    drop(open_copy("duckdb", scenario, dir));
    {
        let conn = duckdb::Connection::open(dir.join("store/metadata.duckdb")).unwrap();
        conn.execute_batch(
            "INSERT INTO example__video SELECT * REPLACE (path || '-tie' AS path) FROM example__video;
             INSERT INTO example__video SELECT * REPLACE (path || '-null' AS path, NULL AS metaxy_updated_at,
                 NULL AS metaxy_deleted_at) FROM example__video WHERE path NOT LIKE '%-tie' LIMIT 5;",
        )
        .unwrap();
    }
    let mut env = std::collections::BTreeMap::new();
    env.insert("METAXY_FIXTURE_DIR".to_string(), dir.display().to_string());
    metaxy_tui::engine::workspace::Workspace::open(&metaxy_tui::engine::workspace::OpenOptions {
        cwd: dir.to_path_buf(),
        env,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn duckdb_latest_per_id_equals_the_engine_dedup_with_ties_and_null_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = duckdb_with_ties("s02_mutated", tmp.path());
    let store = ws.store.as_ref();
    let mut checked = 0;
    for key in ws.graph.topological_order() {
        let key = &key;
        let ids = &ws.graph.require(key).unwrap().spec.id_columns;
        let version = ws.graph.feature_version(key).map(str::to_string);
        for v in [version.as_deref(), None] {
            let LatestScan::Rows(pushed) = store.scan_latest(key, v, &Columns::All, ids).unwrap()
            else {
                continue;
            };
            let plain = store.scan(key, v, &Columns::All).unwrap().unwrap();
            let ours = keep_latest(plain, ids).unwrap();
            let a = sort_by_columns(pushed, ids).unwrap();
            let b = sort_by_columns(ours, ids).unwrap();
            assert!(a.equals_missing(&b), "{key} {v:?}:\n{a}\n{b}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
    // the tie went to the row stored last
    let video = ws
        .graph
        .topological_order()
        .into_iter()
        .find(|k| k.to_string() == "example/video")
        .unwrap();
    let df = read_feature(store, &ws.graph, &video, &ReadOptions::default())
        .unwrap()
        .unwrap();
    let paths = df.column("path").unwrap().str().unwrap();
    assert!(paths.iter().all(|p| p.unwrap().ends_with("-tie")), "{df}");
}

#[test]
fn projected_reads_equal_full_reads_on_every_backend() {
    for b in ["duckdb", "delta", "lancedb", "postgres", "clickhouse"] {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s02_mutated", tmp.path());
        for key in ws.graph.topological_order() {
            let key = &key;
            let full =
                read_feature(ws.store.as_ref(), &ws.graph, key, &ReadOptions::default()).unwrap();
            let Some(full) = full else { continue };
            let keep = vec!["metaxy_provenance".to_string()];
            let opts = ReadOptions {
                columns: Columns::Only(keep),
                ..Default::default()
            };
            let narrow = read_feature(ws.store.as_ref(), &ws.graph, key, &opts)
                .unwrap()
                .unwrap();
            let names: Vec<String> = narrow
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert!(names.len() < full.width(), "{b} {key}: {names:?}");
            let expected = full.select(names.clone()).unwrap();
            assert!(
                expected.equals_missing(&narrow),
                "{b} {key}:\n{expected}\n{narrow}"
            );
        }
    }
}

/// Walks every page of a read forwards from the start and backwards from the end.
fn walk_pages(
    ws: &metaxy_tui::engine::workspace::Workspace,
    key: &metaxy_tui::engine::keys::FeatureKey,
    opts: &ReadOptions,
    n: usize,
) -> Option<(polars::prelude::DataFrame, polars::prelude::DataFrame)> {
    use metaxy_tui::engine::query::page::{ids_row, read_page, PageAt, PageRead};
    let ids = ws.graph.require(key).unwrap().spec.id_columns.clone();
    let store = ws.store.as_ref();
    let walk = |backwards: bool| -> Option<polars::prelude::DataFrame> {
        let mut at = if backwards {
            PageAt::Last
        } else {
            PageAt::First
        };
        let mut pages = vec![];
        for _ in 0..10_000 {
            let PageRead::Page(p) = read_page(store, &ws.graph, key, opts, &at, n).unwrap() else {
                return None;
            };
            assert!(
                p.rows.height() >= n || p.at_start || p.at_end,
                "{key}: short page of {} rows in the middle",
                p.rows.height()
            );
            let done = if backwards { p.at_start } else { p.at_end };
            if p.rows.height() > 0 {
                at = if backwards {
                    PageAt::Before(ids_row(&p.rows, &ids, 0).unwrap())
                } else {
                    PageAt::After(ids_row(&p.rows, &ids, p.rows.height() - 1).unwrap())
                };
            }
            pages.push(p.rows);
            if done {
                break;
            }
            assert!(pages.last().unwrap().height() > 0, "{key}: empty page");
        }
        if backwards {
            pages.reverse();
        }
        let mut all = pages[0].clone();
        for p in &pages[1..] {
            all.vstack_mut(p).unwrap();
        }
        Some(all)
    };
    Some((walk(false)?, walk(true)?))
}

fn check_pages(ws: &metaxy_tui::engine::workspace::Workspace, quick: bool) -> usize {
    use metaxy_tui::engine::query::page::count_rows;
    let variants = [
        ReadOptions::default(),
        ReadOptions {
            include_soft_deleted: true,
            ..Default::default()
        },
        ReadOptions {
            with_sample_history: true,
            ..Default::default()
        },
        ReadOptions {
            with_feature_history: true,
            include_soft_deleted: true,
            ..Default::default()
        },
        ReadOptions {
            filters: vec!["metaxy_data_version IS NOT NULL".into()],
            ..Default::default()
        },
    ];

    let mut checked = 0;
    for key in ws.graph.topological_order() {
        for opts in &variants {
            let Some(full) = read_feature(ws.store.as_ref(), &ws.graph, &key, opts).unwrap() else {
                continue;
            };
            assert_eq!(
                count_rows(ws.store.as_ref(), &ws.graph, &key, opts).unwrap(),
                Some(full.height())
            );
            // page sizes that split samples' rows (sample history), cut short pages and fit everything
            let sizes: &[usize] = match (opts.with_sample_history, quick) {
                (true, false) => &[1, 4],
                (false, false) => &[3, 1000],
                (true, true) => &[2],
                (false, true) => &[3],
            };
            for &n in sizes {
                let (fwd, back) = walk_pages(ws, &key, opts, n).expect("ordered pages");
                assert!(
                    fwd.equals_missing(&full),
                    "{key} {opts:?} n={n} forward:\n{fwd}\n{full}"
                );
                assert!(
                    back.equals_missing(&full),
                    "{key} {opts:?} n={n} backward:\n{back}\n{full}"
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Paged reads (a keyset walk in id order, DuckDB `ORDER BY ids LIMIT n`) give exactly the rows of a full read,
/// in the same order, whatever the page size: duplicates with equal and null timestamps, soft deletes, a filter,
/// sample history and feature history included, on DuckDB, Delta and LanceDB.
#[test]
fn paged_reads_walk_exactly_the_rows_of_a_full_read() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = duckdb_with_ties("s06_soft_delete", tmp.path());
    let checked = check_pages(&ws, false);
    assert!(checked >= 20, "{checked}");
}

/// Delta pages through its id-order index (only the files and rows of a page are decoded): the same walk.
#[test]
fn paged_reads_on_delta_walk_exactly_the_rows_of_a_full_read() {
    let tmp = tempfile::tempdir().unwrap();
    let delta = open_copy("delta", "s06_soft_delete", tmp.path());
    let checked = check_pages(&delta, true);
    assert!(checked >= 10, "{checked}");
}

/// LanceDB pages through its id-order index too (`take_row_ids` of the page's rows): the same walk.
#[test]
fn paged_reads_on_lancedb_walk_exactly_the_rows_of_a_full_read() {
    let tmp = tempfile::tempdir().unwrap();
    let lance = open_copy("lancedb", "s06_soft_delete", tmp.path());
    let checked = check_pages(&lance, true);
    assert!(checked >= 10, "{checked}");
}

/// The counts computed by one DuckDB query (`metadata status` on DuckDB stores) equal the general engine's
/// increments on every DuckDB fixture, and the fast path is actually taken; other backends never take it.
#[test]
fn in_duckdb_counts_equal_the_engine_increments_on_every_fixture() {
    use metaxy_tui::engine::versioning::counts::increment_counts;
    use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
    let mut fast: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut total: std::collections::BTreeMap<&str, usize> = Default::default();
    for (b, s) in crate::common::all_scenarios() {
        if b != "duckdb" && b != "delta" && b != "lancedb" {
            continue;
        }
        let ws = crate::common::open_scenario_in(b, s);
        let opts = ResolveOptions {
            narrow_target: true,
            ..Default::default()
        };
        for key in ws.graph.topological_order() {
            if ws.graph.require(&key).unwrap().spec.is_root() {
                continue;
            }
            *total.entry(b).or_default() += 1;
            let Some(c) = increment_counts(ws.store.as_ref(), &ws.graph, &key, &opts).unwrap()
            else {
                continue;
            };
            let inc = resolve_update(
                ws.store.as_ref(),
                &ws.graph,
                &key,
                &ResolveOptions::default(),
            )
            .unwrap();
            assert_eq!(
                (c.new, c.stale, c.orphaned, c.current_rows, c.target_exists),
                (
                    inc.new.height(),
                    inc.stale.height(),
                    inc.orphaned.height(),
                    inc.current_rows,
                    inc.target_exists
                ),
                "{b} {s} {key}"
            );
            *fast.entry(b).or_default() += 1;
        }
    }
    eprintln!("took the in-DuckDB path: {fast:?} of {total:?}");
    let (f, t) = (fast.get("duckdb").copied().unwrap_or(0), total["duckdb"]);
    assert!(
        f >= 24 && f < t,
        "duckdb: {f} of {t} took the in-DuckDB path"
    );
    assert_eq!(fast.get("delta"), None);
    assert_eq!(fast.get("lancedb"), None);
}

/// A copy of PostgreSQL fixture `scenario` in `dir` with the same ties as [`duckdb_with_ties`]: every video row
/// stored again with the same timestamps (the copy, stored last, must win) and five with null timestamps.
fn postgres_with_ties(
    scenario: &str,
    dir: &std::path::Path,
) -> metaxy_tui::engine::workspace::Workspace {
    drop(open_copy("postgres", scenario, dir));
    let env = crate::common::scenario_env(dir);
    let url = &env["METAXY_FIXTURE_PG"];
    let (server, db) = url.rsplit_once('/').unwrap();
    crate::common::pg_exec(
        server,
        db,
        "CREATE TEMP TABLE t AS SELECT * FROM example__video;
         UPDATE t SET path = path || '-tie';
         INSERT INTO example__video SELECT * FROM t;
         INSERT INTO example__video SELECT * FROM example__video WHERE path NOT LIKE '%-tie' LIMIT 5;
         UPDATE example__video SET path = path || '-null', metaxy_updated_at = NULL, metaxy_deleted_at = NULL
           WHERE ctid IN (SELECT ctid FROM example__video ORDER BY ctid DESC LIMIT 5);",
    )
    .unwrap();
    metaxy_tui::engine::workspace::Workspace::open(&metaxy_tui::engine::workspace::OpenOptions {
        cwd: dir.to_path_buf(),
        env,
        ..Default::default()
    })
    .unwrap()
}

/// PostgreSQL's latest-row-per-id query (`DISTINCT ON` ordered by the timestamps, then `ctid`) equals the
/// engine's dedup of a plain scan, ties and null timestamps included; the ties go to the row stored last.
#[test]
fn postgres_latest_per_id_equals_the_engine_dedup_with_ties_and_null_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = postgres_with_ties("s02_mutated", tmp.path());
    let store = ws.store.as_ref();
    let mut checked = 0;
    for key in ws.graph.topological_order() {
        let ids = &ws.graph.require(&key).unwrap().spec.id_columns;
        let version = ws.graph.feature_version(&key).map(str::to_string);
        for v in [version.as_deref(), None] {
            let LatestScan::Rows(pushed) = store.scan_latest(&key, v, &Columns::All, ids).unwrap()
            else {
                panic!("{key}: PostgreSQL answers the latest-row scan itself");
            };
            let plain = store.scan(&key, v, &Columns::All).unwrap().unwrap();
            let ours = keep_latest(plain, ids).unwrap();
            let a = sort_by_columns(pushed, ids).unwrap();
            let b = sort_by_columns(ours, ids).unwrap();
            assert!(a.equals_missing(&b), "{key} {v:?}:\n{a}\n{b}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
    let video = metaxy_tui::engine::keys::FeatureKey::parse("example/video").unwrap();
    let df = read_feature(store, &ws.graph, &video, &ReadOptions::default())
        .unwrap()
        .unwrap();
    let paths = df.column("path").unwrap().str().unwrap();
    assert!(paths.iter().all(|p| p.unwrap().ends_with("-tie")), "{df}");
}

/// PostgreSQL pages with `ORDER BY ids, ctid LIMIT n` after a keyset bound: the same walk as DuckDB's.
#[test]
fn paged_reads_on_postgres_walk_exactly_the_rows_of_a_full_read() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = postgres_with_ties("s06_soft_delete", tmp.path());
    let checked = check_pages(&ws, false);
    assert!(checked >= 20, "{checked}");
}

/// A copy of ClickHouse fixture `scenario` in `dir` with the same ties as [`duckdb_with_ties`]: every video row
/// inserted again (a later block) with the same timestamps (the copy, stored last, must win) and five with null
/// timestamps.
fn clickhouse_with_ties(
    scenario: &str,
    dir: &std::path::Path,
) -> metaxy_tui::engine::workspace::Workspace {
    drop(open_copy("clickhouse", scenario, dir));
    let env = crate::common::scenario_env(dir);
    let url = &env["METAXY_FIXTURE_CH"];
    let db = url.rsplit_once('/').unwrap().1;
    let server = crate::common::ch_server();
    for q in [
        "INSERT INTO example__video SELECT * REPLACE (concat(path, '-tie') AS path) FROM example__video \
         ORDER BY toUInt64OrZero(splitByChar('_', _part)[2]), _part_offset",
        "INSERT INTO example__video SELECT * REPLACE (concat(path, '-null') AS path, NULL AS metaxy_updated_at, \
         NULL AS metaxy_deleted_at) FROM example__video WHERE NOT endsWith(path, '-tie') LIMIT 5",
    ] {
        crate::common::ch_exec(&server, db, q, None).unwrap();
    }
    metaxy_tui::engine::workspace::Workspace::open(&metaxy_tui::engine::workspace::OpenOptions {
        cwd: dir.to_path_buf(),
        env,
        ..Default::default()
    })
    .unwrap()
}

/// ClickHouse's latest-row-per-id query (`ORDER BY ids, timestamps DESC, storage order DESC LIMIT 1 BY ids`)
/// equals the engine's dedup of a plain scan, ties and null timestamps included; the ties go to the row stored
/// last.
#[test]
fn clickhouse_latest_per_id_equals_the_engine_dedup_with_ties_and_null_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = clickhouse_with_ties("s02_mutated", tmp.path());
    let store = ws.store.as_ref();
    let mut checked = 0;
    for key in ws.graph.topological_order() {
        let ids = &ws.graph.require(&key).unwrap().spec.id_columns;
        let version = ws.graph.feature_version(&key).map(str::to_string);
        for v in [version.as_deref(), None] {
            let LatestScan::Rows(pushed) = store.scan_latest(&key, v, &Columns::All, ids).unwrap()
            else {
                panic!("{key}: ClickHouse answers the latest-row scan itself");
            };
            let plain = store.scan(&key, v, &Columns::All).unwrap().unwrap();
            let ours = keep_latest(plain, ids).unwrap();
            let a = sort_by_columns(pushed, ids).unwrap();
            let b = sort_by_columns(ours, ids).unwrap();
            assert!(a.equals_missing(&b), "{key} {v:?}:\n{a}\n{b}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
    let video = metaxy_tui::engine::keys::FeatureKey::parse("example/video").unwrap();
    let df = read_feature(store, &ws.graph, &video, &ReadOptions::default())
        .unwrap()
        .unwrap();
    let paths = df.column("path").unwrap().str().unwrap();
    assert!(paths.iter().all(|p| p.unwrap().ends_with("-tie")), "{df}");
}

/// ClickHouse pages with `ORDER BY ids, storage order LIMIT n` after a keyset bound: the same walk as DuckDB's.
#[test]
fn paged_reads_on_clickhouse_walk_exactly_the_rows_of_a_full_read() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = clickhouse_with_ties("s06_soft_delete", tmp.path());
    let checked = check_pages(&ws, false);
    assert!(checked >= 20, "{checked}");
}

/// A filtered ClickHouse hard delete removes exactly the rows it selected even when ClickHouse merges the table's
/// parts between the selection and the `DELETE` (rows named by identity, not by `_part`/`_part_offset`, which a
/// merge renames); rows that differ only by NULL against an empty string are told apart.
#[test]
fn clickhouse_filtered_hard_delete_survives_a_merge_between_select_and_delete() {
    use metaxy_tui::engine::store::clickhouse::ClickHouseStore;
    let tmp = tempfile::tempdir().unwrap();
    let ws = clickhouse_with_ties("s06_soft_delete", tmp.path());
    let env = crate::common::scenario_env(tmp.path());
    let db = env["METAXY_FIXTURE_CH"]
        .rsplit_once('/')
        .unwrap()
        .1
        .to_string();
    let server = crate::common::ch_server();
    let q = |sql: &str| {
        crate::common::ch_exec(&server, &db, sql, None)
            .unwrap()
            .trim()
            .to_string()
    };
    // no background merge until the test merges itself (after the selection)
    q("SYSTEM STOP MERGES example__video");
    // two more parts: one row with a NULL path, its twin with an empty path
    for path in ["NULL", "''"] {
        q(&format!(
            "INSERT INTO example__video SELECT * REPLACE ({path} AS path) FROM (SELECT * FROM example__video \
             WHERE endsWith(path, '-null') ORDER BY sample_uid LIMIT 1)"
        ));
    }
    // and 8,000 more rows, so the DELETE naming them is past ClickHouse's 256 KiB default statement size
    q("INSERT INTO example__video SELECT v.* REPLACE (concat('bulk-', toString(n.number)) AS path) FROM \
       (SELECT * FROM example__video ORDER BY sample_uid, path LIMIT 1) AS v CROSS JOIN numbers(8000) AS n");
    let count = |cond: &str| -> usize {
        q(&format!(
            "SELECT countIf({cond}) FROM example__video FORMAT TSVRaw"
        ))
        .parse()
        .unwrap()
    };
    let (all, ties) = (count("1"), count("endsWith(path, '-tie')"));
    let (nulls, empties) = (count("path IS NULL"), count("path = ''"));
    assert!(
        ties >= 5 && nulls == 1 && empties == 1,
        "{all} rows, {ties} ties, {nulls} null paths, {empties} empty paths"
    );
    let parts = || {
        q("SELECT arrayStringConcat(arraySort(groupArray(name)), ',') FROM system.parts \
           WHERE database = currentDatabase() AND table = 'example__video' AND active FORMAT TSVRaw")
    };
    let before = parts();
    assert!(before.contains(','), "several parts to merge: {before}");

    let store = ClickHouseStore::open(&ws.store_config, tmp.path()).unwrap();
    let video = metaxy_tui::engine::keys::FeatureKey::parse("example/video").unwrap();
    let filters = vec!["path IS NULL OR path LIKE '%-tie' OR path LIKE 'bulk-%'".to_string()];
    let selection = store.hard_delete_selection(&video, None, &filters).unwrap();
    assert_eq!(selection.rows, ties + 1 + 8000);
    q("SYSTEM START MERGES example__video");
    q("OPTIMIZE TABLE example__video FINAL");
    let after = parts();
    assert_ne!(before, after, "the merge renamed the parts");
    assert_eq!(store.delete_selection(&selection).unwrap(), ties + 1 + 8000);
    assert_eq!(count("1"), all - ties - 1 - 8000);
    assert_eq!(count("startsWith(path, 'bulk-')"), 0);
    assert_eq!(count("endsWith(path, '-tie')"), 0);
    assert_eq!(count("path IS NULL"), 0);
    assert_eq!(count("path = ''"), 1, "the empty-string twin stays");
    // a small delete next: its statement's size never lowers the server's limit (the test engine keeps settings
    // for its session, so a lowered limit would break every later long query)
    let twin = vec!["path = ''".to_string()];
    let small = store.hard_delete_selection(&video, None, &twin).unwrap();
    assert_eq!(store.delete_selection(&small).unwrap(), 1);
    assert_eq!(count("path = ''"), 0);
    let limit: usize = q("SELECT getSetting('max_query_size') FORMAT TSVRaw")
        .parse()
        .unwrap();
    assert!(limit >= 262_144, "max_query_size is now {limit}");
}

/// The counts computed by one ClickHouse query (hashes in SQL with ClickHouse's own functions) equal the general
/// engine's increments on every ClickHouse fixture feature the query accepts, and the query is actually taken.
#[test]
fn in_clickhouse_counts_equal_the_engine_increments_on_every_fixture() {
    use metaxy_tui::engine::versioning::counts::increment_counts;
    use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
    let (mut fast, mut total) = (0, 0);
    for s in crate::common::SCENARIOS {
        let ws = crate::common::open_scenario_in("clickhouse", s);
        let opts = ResolveOptions {
            narrow_target: true,
            ..Default::default()
        };
        for key in ws.graph.topological_order() {
            if ws.graph.require(&key).unwrap().spec.is_root() {
                continue;
            }
            total += 1;
            let Some(c) = increment_counts(ws.store.as_ref(), &ws.graph, &key, &opts).unwrap()
            else {
                continue;
            };
            let inc = resolve_update(
                ws.store.as_ref(),
                &ws.graph,
                &key,
                &ResolveOptions::default(),
            )
            .unwrap();
            assert_eq!(
                (c.new, c.stale, c.orphaned, c.current_rows, c.target_exists),
                (
                    inc.new.height(),
                    inc.stale.height(),
                    inc.orphaned.height(),
                    inc.current_rows,
                    inc.target_exists
                ),
                "clickhouse {s} {key}"
            );
            fast += 1;
        }
    }
    eprintln!("took the in-ClickHouse path: {fast} of {total}");
    assert!(fast >= 24, "{fast} of {total} took the in-ClickHouse path");
}

/// A feature whose table is not in the store yet (dropped here, as before Metaxy's first run of it) is counted from
/// the ids of its upstreams alone (`absent_target_counts`): the counts equal the general engine's increment on every
/// backend, for every feature nothing depends on, and the shortcut is taken.
#[test]
fn absent_target_counts_equal_the_engine_increments_on_every_backend() {
    use metaxy_tui::engine::store::open_store_for_write;
    use metaxy_tui::engine::versioning::counts::absent_target_counts;
    use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
    for b in crate::common::BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(b, "s02_mutated", tmp.path());
        let graph = ws.graph.clone();
        let leaves: Vec<_> = graph
            .topological_order()
            .into_iter()
            .filter(|k| !graph.require(k).unwrap().spec.is_root())
            .filter(|k| {
                !graph
                    .features
                    .iter()
                    .any(|f| f.spec.deps.iter().any(|d| &d.feature == k))
            })
            .collect();
        assert!(!leaves.is_empty(), "{b}");
        let writer = open_store_for_write(&ws.store_config, tmp.path()).unwrap();
        // Metaxy's drop on Delta keeps an empty table: the feature still has one, so the shortcut does not apply
        let keeps_table = writer.drop_keeps_empty_table();
        for k in &leaves {
            writer.drop_feature(k).unwrap();
        }
        drop(writer);
        drop(ws);
        let ws = metaxy_tui::engine::workspace::Workspace::open(
            &metaxy_tui::engine::workspace::OpenOptions {
                cwd: tmp.path().to_path_buf(),
                env: crate::common::scenario_env(tmp.path()),
                ..Default::default()
            },
        )
        .unwrap();
        let opts = ResolveOptions {
            narrow_target: true,
            ..Default::default()
        };
        let mut taken = 0;
        for k in &leaves {
            let inc = resolve_update(ws.store.as_ref(), &ws.graph, k, &ResolveOptions::default())
                .unwrap();
            assert!(inc.new.height() > 0, "{b} {k}");
            let counted = absent_target_counts(ws.store.as_ref(), &ws.graph, k, &opts).unwrap();
            if ws.store.local().has_feature(k).unwrap() {
                assert!(keeps_table && counted.is_none(), "{b} {k}: a table exists");
                continue;
            }
            // (features with other lineages or renames keep the general engine)
            let Some(c) = counted else { continue };
            assert_eq!(
                (c.new, c.stale, c.orphaned, c.current_rows, c.target_exists),
                (
                    inc.new.height(),
                    inc.stale.height(),
                    inc.orphaned.height(),
                    inc.current_rows,
                    inc.target_exists
                ),
                "{b} {k}"
            );
            taken += 1;
        }
        assert!(
            keeps_table || taken > 0,
            "{b}: the shortcut was never taken"
        );
        // a feature with a table is never counted this way
        let root = ws.graph.topological_order()[1].clone();
        assert!(
            absent_target_counts(ws.store.as_ref(), &ws.graph, &root, &opts)
                .unwrap()
                .is_none(),
            "{b} {root}"
        );
    }
}

/// The pages of every increment kind computed in ClickHouse (`increment_page`, small pages so that a kind spans
/// several) concatenate to exactly the general engine's increment rows on every ClickHouse fixture feature the
/// counts query accepts: same ids in the same (id) order, same per-field and sample provenance, same stored provenance of
/// the stale rows (the per-field diff and the causes come from these), no overlap, totals equal to the counts;
/// the first pages of all kinds agree with them; and the path is actually taken.
#[test]
fn in_clickhouse_increment_pages_equal_the_engine_increments_on_every_fixture() {
    use metaxy_tui::engine::store::count_plan::IncrementKind;
    use metaxy_tui::engine::versioning::counts::increment_counts;
    use metaxy_tui::engine::versioning::pages::{first_pages, increment_page};
    use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
    const PAGE: usize = 3;
    let (mut paged, mut multi) = (0, 0);
    for s in crate::common::SCENARIOS {
        let ws = crate::common::open_scenario_in("clickhouse", s);
        let narrow = ResolveOptions {
            narrow_target: true,
            ..Default::default()
        };
        for key in ws.graph.topological_order() {
            if ws.graph.require(&key).unwrap().spec.is_root() {
                continue;
            }
            let store = ws.store.as_ref();
            let counts = increment_counts(store, &ws.graph, &key, &narrow).unwrap();
            let Some(first) = first_pages(store, &ws.graph, &key, PAGE).unwrap() else {
                assert!(
                    counts.is_none(),
                    "clickhouse {s} {key}: counted but not paged"
                );
                continue;
            };
            let c = counts.expect("paged but not counted");
            let inc = resolve_update(store, &ws.graph, &key, &ResolveOptions::default()).unwrap();
            assert_eq!(first.totals, (c.new, c.stale, c.orphaned), "{s} {key}");
            assert_eq!(
                first.increment.target_exists, inc.target_exists,
                "{s} {key}"
            );
            for kind in IncrementKind::ALL {
                let (want, total) = match kind {
                    IncrementKind::New => (&inc.new, c.new),
                    IncrementKind::Stale => (&inc.stale, c.stale),
                    IncrementKind::Orphaned => (&inc.orphaned, c.orphaned),
                };
                let mut got = vec![];
                let mut stale_got = vec![];
                let mut offset = 0;
                loop {
                    let p = increment_page(store, &ws.graph, &key, kind, offset, PAGE)
                        .unwrap()
                        .expect("first page taken, a later one declined");
                    assert_eq!(p.total(kind), total, "{s} {key} {kind:?}");
                    let pi = &p.increment;
                    let frame = match kind {
                        IncrementKind::New => &pi.new,
                        IncrementKind::Stale => &pi.stale,
                        IncrementKind::Orphaned => &pi.orphaned,
                    };
                    let n = frame.height();
                    assert!(n <= PAGE);
                    if offset == 0 {
                        // the first page of all kinds at once holds the same rows
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
                assert_eq!(got.len(), total, "{s} {key} {kind:?}");
                let keys: std::collections::HashSet<&Vec<String>> =
                    got.iter().map(|r| &r.key).collect();
                assert_eq!(keys.len(), got.len(), "{s} {key} {kind:?}: pages overlap");
                if total > PAGE {
                    multi += 1;
                }
                // the general engine's frames are sorted by the join columns, as the pages are
                assert_eq!(
                    got,
                    inc.provenance_rows(want, None).unwrap(),
                    "clickhouse {s} {key} {kind:?}"
                );
                if kind == IncrementKind::Stale {
                    let want = inc.stale_diffs(None).unwrap();
                    assert_eq!(stale_got, want, "clickhouse {s} {key} stale diffs");
                    assert!(stale_got.iter().all(|d| d.stored.is_some()));
                }
            }
            paged += 1;
        }
    }
    eprintln!("paged in ClickHouse: {paged} features, {multi} kinds over several pages");
    assert!(
        paged >= 24,
        "{paged} features took the in-ClickHouse page path"
    );
    assert!(multi > 0, "no kind spans several pages");
}

/// The TUI on a ClickHouse store: the status job counts in the store (`status_counts_first`: the same counts as
/// the general engine, no increment resolved where the store counts), and the on-demand increment load
/// ([`metaxy_tui::tui::tasks::load_increment`], given what the status job resolved, as the `LoadIncrement` job is)
/// takes the in-ClickHouse page path for every feature the counts query accepts (the loaded increment marked
/// `paged_in_store`) and renders the same New / Stale / Orphaned tables (rows, per-field diffs, causes, totals) as
/// the general engine's whole increment; features it declines, and every feature on DuckDB, take the general
/// engine.
#[test]
fn tui_increment_tabs_on_clickhouse_are_paged_in_the_store_and_equal_the_engine() {
    use metaxy_tui::engine::versioning::counts::count_plan;
    use metaxy_tui::engine::versioning::resolve::ResolveOptions;
    use metaxy_tui::engine::versioning::status::FeatureStatus;
    use metaxy_tui::tui::tasks::load_increment;
    use metaxy_tui::tui::view::LoadedIncrement;
    let (mut paged, mut declined) = (0, 0);
    let st = |s: &FeatureStatus| {
        (
            s.status,
            s.missing,
            s.stale,
            s.orphaned,
            s.store_rows,
            s.metadata_exists,
        )
    };
    for s in crate::common::SCENARIOS {
        let ws = crate::common::open_scenario_in("clickhouse", s);
        for key in ws.graph.topological_order() {
            let plain = count_plan(
                ws.store.as_ref(),
                &ws.graph,
                &key,
                &ResolveOptions::default(),
            )
            .unwrap()
            .is_some();
            // what the status job reports
            let status = ws.status_counts_first(&key, &ResolveOptions::default());
            let full = ws.status(&key, &ResolveOptions::default());
            assert_eq!(st(&status), st(&full), "clickhouse {s} {key}");
            if ws.graph.require(&key).unwrap().spec.is_root() {
                assert!(!plain, "clickhouse {s} {key}: a root feature with a plan");
                continue;
            }
            // what the load job makes of it
            let seed = status.increment.clone();
            let r = load_increment(&ws, &key, seed).unwrap();
            assert_eq!(r.paged_in_store, plain, "clickhouse {s} {key}");
            let general = LoadedIncrement::build_with_causes(
                ws.increment(&key, &ResolveOptions::default()).unwrap(),
                ws.store.as_ref(),
                &ws.graph,
            );
            assert_eq!(r.tables, general.tables, "clickhouse {s} {key}");
            assert_eq!(
                r.cause_summary, general.cause_summary,
                "clickhouse {s} {key}"
            );
            if r.paged_in_store {
                assert!(
                    status.increment.is_none(),
                    "counted in the store, yet the whole increment was resolved"
                );
                paged += 1;
            } else {
                assert!(status.increment.is_some(), "clickhouse {s} {key}");
                declined += 1;
            }
        }
    }
    eprintln!("TUI tabs paged in ClickHouse: {paged}, general engine: {declined}");
    assert!(
        paged >= 24 && declined > 0,
        "{paged} paged, {declined} declined"
    );
    let ws = crate::common::open_scenario_in("duckdb", "s02_mutated");
    for key in ws.graph.topological_order() {
        if ws.graph.require(&key).unwrap().spec.is_root() {
            continue;
        }
        assert!(
            !load_increment(&ws, &key, None).unwrap().paged_in_store,
            "duckdb {key}"
        );
    }
}

/// A plan the page query cannot express is declined (`None`, the caller runs the general engine): a hash algorithm
/// ClickHouse has no function for, an upstream data version that is no member of the `Tuple`, and (pages only: the
/// counts query needs no stored field provenance) a field the target's `metaxy_provenance_by_field` lacks.
#[test]
fn clickhouse_pages_decline_plans_they_cannot_express() {
    use metaxy_tui::engine::config::HashAlgorithm;
    use metaxy_tui::engine::keys::FeatureKey;
    use metaxy_tui::engine::store::count_plan::{IncrementKind, RecipePiece};
    use metaxy_tui::engine::versioning::counts::count_plan;
    use metaxy_tui::engine::versioning::resolve::ResolveOptions;
    let ws = crate::common::open_scenario_in("clickhouse", "s02_mutated");
    let key = FeatureKey::parse("example/crop").unwrap();
    let store = ws.store.local();
    let plan = count_plan(
        ws.store.as_ref(),
        &ws.graph,
        &key,
        &ResolveOptions::default(),
    )
    .unwrap()
    .expect("a plain plan");
    let page = |p: &metaxy_tui::engine::store::count_plan::CountPlan| {
        IncrementKind::ALL
            .iter()
            .map(|k| {
                let w = metaxy_tui::engine::store::count_plan::PageWindow {
                    offset: 0,
                    limit: 10,
                    min_rows: None,
                };
                store.increment_page(p, *k, w).unwrap().is_some()
            })
            .collect::<Vec<bool>>()
    };
    assert_eq!(page(&plan), [true, true, true]);
    let mut sha = plan.clone();
    sha.algorithm = HashAlgorithm::Sha256;
    assert_eq!(page(&sha), [false, false, false]);
    assert!(store.increment_counts(&sha).unwrap().is_none());
    let mut member = plan.clone();
    member.deps[0].fields.push("no_such_field".into());
    assert_eq!(page(&member), [false, false, false]);
    let mut stored = plan.clone();
    stored.fields.push((
        "zz_no_such_field".into(),
        vec![RecipePiece::Lit("x".into())],
    ));
    assert!(store.increment_counts(&stored).unwrap().is_some());
    assert_eq!(page(&stored), [false, false, false]);
}

/// On ClickHouse the increment counts stay in the server even for a feature without a table yet: `metadata status`
/// takes the ClickHouse counts query (`clickhouse-counts` in `METAXY_TUI_TIMINGS`), not the absent-target shortcut
/// that reads every upstream id into the process, and its counts equal the general engine's.
#[test]
fn clickhouse_counts_an_absent_target_in_clickhouse() {
    use metaxy_tui::engine::store::open_store_for_write;
    use metaxy_tui::engine::versioning::resolve::{resolve_update, ResolveOptions};
    let tmp = tempfile::tempdir().unwrap();
    let ws = open_copy("clickhouse", "s02_mutated", tmp.path());
    let leaf = FeatureKey::parse("example/crop").unwrap();
    let writer = open_store_for_write(&ws.store_config, tmp.path()).unwrap();
    assert!(writer.drop_feature(&leaf).unwrap());
    drop(writer);
    let inc = resolve_update(
        ws.store.as_ref(),
        &ws.graph,
        &leaf,
        &ResolveOptions::default(),
    )
    .unwrap();
    assert!(!inc.target_exists && inc.new.height() > 0);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(["metadata", "status", "example/crop", "--format", "json"])
        .current_dir(tmp.path())
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .envs(crate::common::scenario_env(tmp.path()))
        .env("METAXY_TUI_TIMINGS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("clickhouse-counts example/crop"),
        "{stderr}"
    );
    assert!(!stderr.contains("absent-target counts"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &doc["features"]["example/crop"];
    assert_eq!(f["missing"], serde_json::json!(inc.new.height()), "{doc}");
    assert_eq!(f["stale"], serde_json::json!(0));
    assert_eq!(f["orphaned"], serde_json::json!(0));
}

/// `metadata status --all-features --format json` in `dir` with the extra environment `env` (stdout, stderr).
fn status_json(dir: &std::path::Path, env: &[(&str, &str)]) -> (String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args(["metadata", "status", "--all-features", "--format", "json"])
        .current_dir(dir)
        .env_remove("METAXY_CONFIG")
        .env_remove("METAXY_CONFIG_FILE")
        .envs(crate::common::scenario_env(dir))
        .envs(env.iter().copied())
        .output()
        .expect("binary runs");
    assert!(
        o.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A copy of Delta fixture `scenario` in `dir` where every video row is stored again in a data file of its own with
/// the same timestamps (a tie across files) and five more with null timestamps (they lose against any timestamp).
pub(crate) fn delta_with_ties(scenario: &str, dir: &std::path::Path) {
    use polars::prelude::*;
    let ws = open_copy("delta", scenario, dir);
    let writer = metaxy_tui::engine::store::open_store_for_write(&ws.store_config, dir).unwrap();
    let key = FeatureKey::parse("example/video").unwrap();
    let df = writer.scan(&key, None, &Columns::All).unwrap().unwrap();
    let suffixed = |df: &DataFrame, suffix: &str| {
        let mut df = df.clone();
        let path: StringChunked = df
            .column("path")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|p| p.map(|p| format!("{p}{suffix}")))
            .collect();
        df.with_column(path.with_name("path".into()).into_column())
            .unwrap();
        df
    };
    writer.append(&key, &suffixed(&df, "-tie")).unwrap();
    let mut nulls = suffixed(&df.head(Some(5)), "-null");
    for c in ["metaxy_updated_at", "metaxy_deleted_at"] {
        let dtype = nulls.column(c).unwrap().dtype().clone();
        nulls
            .with_column(Column::full_null(c.into(), 5, &dtype))
            .unwrap();
    }
    writer.append(&key, &nulls).unwrap();
}

/// Delta stores count large increments inside DuckDB over the tables' parquet files, in bounded memory. Forced on
/// the fixtures (`METAXY_TUI_DELTA_DUCKDB_ROWS=0`), `metadata status` gives exactly what the general engine gives
/// (`METAXY_TUI_NO_STORE_COUNTS=1`) on every Delta fixture, Map mode included, and on a copy with ties across data
/// files and null timestamps; and the DuckDB path is taken (`duckdb-counts` in the timings).
#[test]
fn delta_counts_in_duckdb_equal_the_engine_on_every_fixture_and_with_ties() {
    let mut dirs: Vec<(String, std::path::PathBuf)> = crate::common::all_scenarios()
        .into_iter()
        .filter(|(a, b)| *a == "delta" || *b == "delta")
        .map(|(a, b)| (format!("{a}/{b}"), crate::common::scenario_dir_in(a, b)))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    delta_with_ties("s06_soft_delete", tmp.path());
    dirs.push(("ties".into(), tmp.path().to_path_buf()));
    assert!(dirs.len() >= 10, "{}", dirs.len());
    let mut taken = 0;
    for (label, dir) in &dirs {
        let (engine, _) = status_json(dir, &[("METAXY_TUI_NO_STORE_COUNTS", "1")]);
        let (duck, timings) = status_json(
            dir,
            &[
                ("METAXY_TUI_DELTA_DUCKDB_ROWS", "0"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(parse(&duck), parse(&engine), "{label}");
        let n = timings.matches("timing duckdb-counts ").count();
        if label == "ties" {
            assert!(n >= 3, "{label}: {n} features counted in DuckDB");
        }
        taken += n;
    }
    assert!(taken >= 24, "{taken} features counted in DuckDB");
}

/// Large counts run as several queries over disjoint ranges of an integer join column, whose counts add up to the
/// single query's. Forced on copies of DuckDB fixtures whose `sample_uid` is made an integer
/// (`METAXY_TUI_PARTITION_ROWS=7`: several ranges per feature), `metadata status` gives exactly the general
/// engine's counts, also with ties and null timestamps; and the partitioned path is taken. The same for the dense
/// path (the default on such ids: DuckDB scans, the pick and comparison run in Rust), in one range and in several.
#[test]
fn partitioned_counts_equal_the_engine_on_integer_ids() {
    let (mut taken, mut dense_taken) = (0, 0);
    for (s, ties) in [
        ("s02_mutated", false),
        ("s06_soft_delete", false),
        ("s02_mutated", true),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        if ties {
            drop(duckdb_with_ties(s, dir));
        } else {
            drop(open_copy("duckdb", s, dir));
        }
        {
            let conn = duckdb::Connection::open(dir.join("store/metadata.duckdb")).unwrap();
            let tables: Vec<String> = conn
                .prepare(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = 'sample_uid'",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert!(tables.len() >= 5, "{tables:?}");
            for t in tables {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{t}\" ALTER sample_uid TYPE BIGINT USING CAST(substr(sample_uid, 2) AS BIGINT)"
                ))
                .unwrap();
            }
        }
        let (engine, _) = status_json(dir, &[("METAXY_TUI_NO_STORE_COUNTS", "1")]);
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let (parts, timings) = status_json(
            dir,
            &[
                ("METAXY_TUI_PARTITION_ROWS", "7"),
                ("METAXY_TUI_DENSE_COUNTS", "off"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        assert_eq!(parse(&parts), parse(&engine), "{s} ties={ties}");
        let (one, single) = status_json(
            dir,
            &[
                ("METAXY_TUI_DENSE_COUNTS", "off"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        assert_eq!(parse(&one), parse(&engine), "{s} ties={ties}");
        assert!(!single.contains("duckdb-counts-part"), "{s}");
        let n = timings.matches("timing duckdb-counts-part ").count();
        assert!(n >= 8, "{s} ties={ties}: {n} partition queries");
        taken += n;
        // the dense path (integer ids, dense): one range, then several
        let (dense, timings) = status_json(dir, &[("METAXY_TUI_TIMINGS", "1")]);
        assert_eq!(parse(&dense), parse(&engine), "{s} ties={ties} dense");
        let n = timings.matches("timing dense-counts ").count();
        let in_one_query = single.matches("timing duckdb-counts ").count();
        assert!(
            n >= 3 && n == in_one_query,
            "{s} ties={ties}: {n} dense counts"
        );
        assert!(!timings.contains("timing duckdb-counts "), "{s}: {timings}");
        let (dense_parts, timings) = status_json(
            dir,
            &[
                ("METAXY_TUI_PARTITION_ROWS", "7"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        assert_eq!(
            parse(&dense_parts),
            parse(&engine),
            "{s} ties={ties} dense parts"
        );
        let n = timings.matches("timing dense-counts-part ").count();
        assert!(n >= 8, "{s} ties={ties}: {n} dense ranges");
        dense_taken += n;
    }
    assert!(taken >= 30, "{taken}");
    assert!(dense_taken >= 30, "{dense_taken}");
}

/// Rewrites every feature table of the Delta store in `dir` that has a `sample_uid` (`s000123`) with that column
/// made an integer (`123`): the table is removed and written again from its rows in storage order (one file), so
/// ties keep their order.
fn delta_integer_ids(dir: &std::path::Path) {
    use polars::prelude::*;
    let ws = metaxy_tui::engine::workspace::Workspace::open(
        &metaxy_tui::engine::workspace::OpenOptions {
            cwd: dir.to_path_buf(),
            env: crate::common::scenario_env(dir),
            ..Default::default()
        },
    )
    .unwrap();
    let writer = metaxy_tui::engine::store::open_store_for_write(&ws.store_config, dir).unwrap();
    let mut converted = 0;
    for key in ws.graph.topological_order() {
        let Some(mut df) = writer.scan(&key, None, &Columns::All).unwrap() else {
            continue;
        };
        let Ok(ids) = df.column("sample_uid").map(|c| c.str().unwrap().clone()) else {
            continue;
        };
        let ints: Int64Chunked = ids
            .iter()
            .map(|v| v.map(|v| v[1..].parse::<i64>().unwrap()))
            .collect();
        df.with_column(ints.with_name("sample_uid".into()).into_column())
            .unwrap();
        let table = dir.join("store").join(format!("{key}.delta"));
        assert!(table.is_dir(), "{}", table.display());
        std::fs::remove_dir_all(&table).unwrap();
        writer.append(&key, &df).unwrap();
        converted += 1;
    }
    assert!(converted >= 5, "{converted} tables converted");
}

/// Delta plans over dense integer ids are counted by the dense path over the parquet files (DuckDB scans, the
/// latest-row pick and the comparison run in our code). On copies of Delta fixtures whose `sample_uid` is made an
/// integer (soft deletes; ties across files and NULL timestamps), `metadata status` gives exactly the general
/// engine's counts, in one id range and in several (`METAXY_TUI_PARTITION_ROWS=7`); and the dense path is taken.
#[test]
fn delta_dense_counts_equal_the_engine_on_integer_ids() {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    for (s, ties) in [
        ("s02_mutated", false),
        ("s06_soft_delete", false),
        ("s06_soft_delete", true),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        if ties {
            delta_with_ties(s, dir);
        } else {
            drop(open_copy("delta", s, dir));
        }
        delta_integer_ids(dir);
        let (engine, _) = status_json(dir, &[("METAXY_TUI_NO_STORE_COUNTS", "1")]);
        let (dense, timings) = status_json(
            dir,
            &[
                ("METAXY_TUI_DELTA_DUCKDB_ROWS", "0"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        assert_eq!(parse(&dense), parse(&engine), "{s} ties={ties}");
        let n = timings.matches("timing dense-counts ").count();
        assert!(n >= 3, "{s} ties={ties}: {n} dense counts\n{timings}");
        let (parts, timings) = status_json(
            dir,
            &[
                ("METAXY_TUI_DELTA_DUCKDB_ROWS", "0"),
                ("METAXY_TUI_PARTITION_ROWS", "7"),
                ("METAXY_TUI_TIMINGS", "1"),
            ],
        );
        assert_eq!(parse(&parts), parse(&engine), "{s} ties={ties} ranges");
        let n = timings.matches("timing dense-counts-part ").count();
        assert!(n >= 8, "{s} ties={ties}: {n} dense ranges");
    }
}
