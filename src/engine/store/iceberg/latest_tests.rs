//! Tests of the two-phase latest-row read: equal to the single-pass read (scan, then the engine's pick) on tables
//! written in several generations, and reading only the files that hold a winner.

use super::*;
use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::rt::block_on;
use crate::engine::store::api::MetadataStore;
use polars::prelude::*;

fn store(dir: &std::path::Path) -> IcebergStore {
    let mut config = serde_json::Map::new();
    config.insert("warehouse".into(), serde_json::Value::String("wh".into()));
    let cfg = StoreConfig {
        name: "dev".into(),
        type_path: super::super::CLASS_PATH.into(),
        kind: StoreKind::Iceberg,
        deprecated_type: false,
        config,
        hash_algorithm: HashAlgorithm::Xxhash32,
        fallback_stores: vec![],
        map_datatype: false,
    };
    IcebergStore::open(&cfg, dir).unwrap()
}

/// One row to append: sample, chunk, feature version, updated_at (µs), deleted_at (µs), payload.
type Row<'a> = (&'a str, i64, &'a str, i64, Option<i64>, &'a str);

/// Appends `rows` as one data file (one snapshot).
fn append(s: &IcebergStore, key: &FeatureKey, rows: &[Row]) {
    let ts = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    let col = |name: &str, v: Vec<Option<i64>>| {
        Series::new(name.into(), v).cast(&ts).unwrap().into_column()
    };
    let df = DataFrame::new(
        rows.len(),
        vec![
            Series::new(
                "sample_uid".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "chunk_idx".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "metaxy_feature_version".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )
            .into_column(),
            col(
                "metaxy_updated_at",
                rows.iter().map(|r| Some(r.3)).collect(),
            ),
            col("metaxy_deleted_at", rows.iter().map(|r| r.4).collect()),
            Series::new(
                "payload".into(),
                rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            )
            .into_column(),
        ],
    )
    .unwrap();
    s.append(key, &df).unwrap();
}

/// Samples `s000..` (`n` of them) with payloads `{tag} {sample}`.
fn generation(n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("s{i:03}"), format!("{tag} s{i:03}")))
        .collect()
}

/// The rows of `g`: chunk 0, feature version `version`, updated at `ts`, not deleted.
fn rows_of<'a>(g: &'a [(String, String)], version: &'a str, ts: i64) -> Vec<Row<'a>> {
    g.iter()
        .map(|(s, p)| (s.as_str(), 0, version, ts, None, p.as_str()))
        .collect()
}

/// The two-phase read of `key` against the single-pass one (the projected scan, then the engine's pick), and
/// (the engine's read semantics then treat both alike: the version filter and soft-delete drop run after
/// the pick on either); the stats of the two-phase read.
fn check(
    s: &IcebergStore,
    key: &FeatureKey,
    ids: &[&str],
    columns: &Columns,
) -> (DataFrame, Option<LateStats>) {
    let ids: Vec<String> = ids.iter().map(|c| c.to_string()).collect();
    let table = block_on(s.load(key)).unwrap().unwrap();
    let (got, stats) = block_on(s.read_latest(key, &table, Some("v1"), columns, &ids)).unwrap();
    let LatestScan::Rows(got) = got else {
        panic!("not answered: {got:?}")
    };
    let scanned = s.scan(key, Some("v1"), columns).unwrap().unwrap();
    let want = keep_latest(scanned, &ids).unwrap();
    assert!(got.equals_missing(&want), "got {got}\nwant {want}");
    let via_trait = s.scan_latest(key, Some("v1"), columns, &ids).unwrap();
    let LatestScan::Rows(via_trait) = via_trait else {
        panic!("not answered")
    };
    assert!(via_trait.equals_missing(&got));
    (got, stats)
}

fn payloads(df: &DataFrame) -> Vec<String> {
    df.column("payload")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|p| p.unwrap_or_default().to_string())
        .collect()
}

/// The whole first generation superseded by a later one: its file is read for the pick columns only, never in
/// the second phase; the result is the second generation, equal to the single-pass read.
#[test]
fn fully_superseded_generation_is_not_read_in_phase_two() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let key = FeatureKey::parse("t/late").unwrap();
    let old = generation(20, "old");
    let new = generation(20, "new");
    append(&s, &key, &rows_of(&old, "v1", 1_000));
    append(&s, &key, &rows_of(&new, "v1", 2_000));
    let (df, stats) = check(&s, &key, &["sample_uid"], &Columns::All);
    assert_eq!(
        stats,
        Some(LateStats {
            files: 2,
            rows: 40,
            winners: 20,
            files_read: 1,
            rows_read: 20,
        })
    );
    assert!(payloads(&df).iter().all(|p| p.starts_with("new ")));
    // only the pick columns asked for: no second phase at all
    let (_, stats) = check(
        &s,
        &key,
        &["sample_uid"],
        &Columns::Only(vec!["sample_uid".into(), "metaxy_updated_at".into()]),
    );
    assert_eq!(stats.map(|s| (s.files_read, s.rows_read)), Some((0, 0)));
}

/// A later generation rewriting part of the samples: both files are read in the second phase, the first only
/// for its surviving rows; a later generation holding only older timestamps is skipped.
#[test]
fn partially_superseded_and_older_generations() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let key = FeatureKey::parse("t/late").unwrap();
    let old = generation(20, "old");
    let new = generation(8, "new");
    let stale = generation(20, "stale");
    append(&s, &key, &rows_of(&old, "v1", 1_000));
    append(&s, &key, &rows_of(&new, "v1", 2_000));
    append(&s, &key, &rows_of(&stale, "v1", 500));
    let (df, stats) = check(&s, &key, &["sample_uid"], &Columns::All);
    assert_eq!(
        stats,
        Some(LateStats {
            files: 3,
            rows: 48,
            winners: 20,
            files_read: 2,
            rows_read: 28,
        })
    );
    let p = payloads(&df);
    assert_eq!(p.iter().filter(|p| p.starts_with("new ")).count(), 8);
    assert_eq!(p.iter().filter(|p| p.starts_with("old ")).count(), 12);
    check(
        &s,
        &key,
        &["sample_uid"],
        &Columns::Except(vec!["chunk_idx".into()]),
    );
}

/// Soft deletes (a later `metaxy_deleted_at` wins over an earlier update and is dropped by the read semantics
/// afterwards; an earlier deletion loses to a later update), ties on `metaxy_updated_at` (the row stored last
/// wins, within a file and across files), composite ids, and rows of another feature version ignored.
#[test]
fn soft_deletes_ties_composite_ids_and_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let key = FeatureKey::parse("t/late").unwrap();
    append(
        &s,
        &key,
        &[
            ("a", 0, "v1", 100, None, "a0 first"),
            ("a", 1, "v1", 100, None, "a1 first"),
            ("b", 0, "v1", 100, None, "b0 first"),
            ("b", 0, "v1", 100, None, "b0 tie in file"),
            ("c", 0, "v1", 100, Some(150), "c0 deleted early"),
            ("d", 0, "v1", 300, None, "d0 newest"),
        ],
    );
    append(
        &s,
        &key,
        &[
            ("a", 0, "v1", 100, None, "a0 tie across files"),
            ("b", 1, "v1", 90, None, "b1 only"),
            ("c", 0, "v1", 200, None, "c0 updated later"),
            ("d", 0, "v1", 200, Some(250), "d0 deleted before newest"),
            ("a", 1, "v1", 100, Some(400), "a1 deleted"),
        ],
    );
    append(
        &s,
        &key,
        &[
            ("a", 0, "v2", 900, None, "a0 other version"),
            ("e", 0, "v2", 900, None, "e0 other version"),
        ],
    );
    for ids in [&["sample_uid", "chunk_idx"][..], &["sample_uid"][..]] {
        let (df, stats) = check(&s, &key, ids, &Columns::All);
        assert!(stats.is_some());
        let p = payloads(&df);
        assert!(!p.iter().any(|p| p.contains("other version")));
        if ids.len() == 2 {
            assert_eq!(
                p,
                [
                    "b0 tie in file",
                    "d0 newest",
                    "a0 tie across files",
                    "b1 only",
                    "c0 updated later",
                    "a1 deleted"
                ]
            );
        }
    }
}

/// One generation (a single append): the one-pass read, equal to the scan and the engine's pick.
#[test]
fn one_generation_keeps_the_single_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let key = FeatureKey::parse("t/late").unwrap();
    append(
        &s,
        &key,
        &[
            ("a", 0, "v1", 100, None, "a first"),
            ("a", 0, "v1", 50, None, "a older"),
            ("b", 0, "v1", 100, None, "b"),
        ],
    );
    let (df, stats) = check(&s, &key, &["sample_uid"], &Columns::All);
    assert_eq!(stats, None);
    assert_eq!(payloads(&df), ["a first", "b"]);
    let table = block_on(s.load(&key)).unwrap().unwrap();
    let nope = block_on(s.read_latest(
        &key,
        &table,
        Some("v1"),
        &Columns::All,
        &["nope".to_string()],
    ))
    .unwrap();
    assert!(matches!(nope.0, LatestScan::Unsupported));
    let missing = FeatureKey::parse("t/missing").unwrap();
    assert!(matches!(
        s.scan_latest(&missing, None, &Columns::All, &["a".to_string()])
            .unwrap(),
        LatestScan::Missing
    ));
}
