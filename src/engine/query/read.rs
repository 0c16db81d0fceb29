//! Metaxy's read semantics (`MetadataStore.read`, FORMAT.md §7.1), shared by every backend.

use polars::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::{complete_by_field_members, has_column};
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::store::filter::apply_filters;
use crate::engine::store::{Columns, LatestScan, MetadataStore};

pub use crate::engine::store::latest::keep_latest;

/// Options of a read (Metaxy `read(...)` keyword arguments / `metaxy-tui metadata read` flags).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keep rows of every feature version (default: only the current feature version).
    pub with_feature_history: bool,
    /// Keep every row per id (default: only the latest by `coalesce(deleted_at, updated_at)`).
    pub with_sample_history: bool,
    /// Keep soft-deleted rows (default: drop rows with `metaxy_deleted_at` set).
    pub include_soft_deleted: bool,
    /// Only this feature version (requires `with_feature_history`, as in Metaxy).
    pub feature_version: Option<String>,
    /// SQL WHERE fragments, AND-ed, applied after dedup and soft-delete removal.
    pub filters: Vec<String>,
    /// Skip the final sort by id columns (internal reads whose row order does not matter: the inputs of
    /// `resolve_update`, counts).
    pub unsorted: bool,
    /// Which columns to read (projection pushdown). The id columns, the columns the read semantics need
    /// (`metaxy_feature_version`, `metaxy_updated_at`, `metaxy_deleted_at`) and every column a filter names are
    /// always read.
    pub columns: Columns,
}

/// `df` filtered by `predicate` (null = false), without copying anything when every row passes (the usual case
/// for the version filter a backend has already pushed down, and for tables without soft deletes).
fn filter_if_needed(df: DataFrame, predicate: Expr) -> Result<DataFrame> {
    let mask = df
        .clone()
        .lazy()
        .select([predicate.fill_null(lit(false)).alias("__mx_keep")])
        .collect()?;
    let mask = mask.column("__mx_keep")?.bool()?.clone();
    if mask.len() == df.height() && mask.all() {
        return Ok(df);
    }
    Ok(df.filter(&mask)?)
}

/// Sorts a frame by the given columns that exist in it (for stable, readable output).
pub fn sort_by_columns(df: DataFrame, by: &[String]) -> Result<DataFrame> {
    let present: Vec<&str> = by
        .iter()
        .map(String::as_str)
        .filter(|c| has_column(&df, c))
        .collect();
    if present.is_empty() || df.height() < 2 {
        return Ok(df);
    }
    // already in order (an O(n) check): nothing to do
    if let [one] = present.as_slice() {
        if df
            .column(one)?
            .as_materialized_series()
            .is_sorted(SortOptions::default())
            .unwrap_or(false)
        {
            return Ok(df);
        }
    }
    Ok(df
        .lazy()
        .sort(
            present,
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()?)
}

/// What a read of `key` with `opts` scans: the feature-version filter (the current feature version of `graph`,
/// the given one, or none with `with_feature_history`) and the columns (the requested ones plus the id columns,
/// the columns the read semantics need and every column a filter names).
pub(crate) fn read_scope(
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ReadOptions,
) -> Result<(Option<String>, Columns)> {
    let def = graph.require(key)?;
    let version_filter: Option<String> = if let Some(v) = &opts.feature_version {
        Some(v.clone())
    } else if opts.with_feature_history {
        None
    } else {
        Some(graph.feature_version(key).unwrap_or_default().to_string())
    };
    let mut columns = opts.columns.clone();
    for c in def.spec.id_columns.iter().map(String::as_str).chain([
        cols::FEATURE_VERSION,
        cols::UPDATED_AT,
        cols::DELETED_AT,
    ]) {
        columns = columns.with(c);
    }
    Ok((version_filter, columns.with_filter_columns(&opts.filters)))
}

/// Metaxy's read semantics on scanned rows `df` of table `table` (scanned with `columns`): the feature-version
/// filter, the latest row per `id_columns` (unless `with_sample_history`, or `deduped` when the backend did it),
/// soft-deleted rows dropped (unless `include_soft_deleted`), then the SQL filters. Row order is not kept.
/// Errors: [`EngineError::CorruptTable`] when system or id columns are missing, [`EngineError::BadFilter`].
pub(crate) fn apply_read_semantics(
    mut df: DataFrame,
    table: &str,
    id_columns: &[String],
    version_filter: Option<&str>,
    columns: &Columns,
    opts: &ReadOptions,
    deduped: bool,
) -> Result<DataFrame> {
    let table = table.to_string();

    for c in [cols::PROVENANCE_BY_FIELD, cols::PROVENANCE] {
        if columns.keeps(c) && !has_column(&df, c) {
            return Err(EngineError::CorruptTable {
                table: table.clone(),
                message: format!("missing system column {c}"),
            });
        }
    }
    if let Some(v) = version_filter {
        if has_column(&df, cols::FEATURE_VERSION) {
            let _t = crate::engine::timing::span(|| "version filter".into());
            df = filter_if_needed(df, col(cols::FEATURE_VERSION).eq(lit(v.to_string())))?;
        }
    }
    if !opts.with_sample_history {
        let ids = id_columns;
        for c in ids {
            if !has_column(&df, c) {
                return Err(EngineError::CorruptTable {
                    table: table.clone(),
                    message: format!("missing id column {c}"),
                });
            }
        }
        if !deduped {
            df = keep_latest(df, ids)?;
        }
    }
    if !opts.include_soft_deleted && has_column(&df, cols::DELETED_AT) {
        df = filter_if_needed(df, col(cols::DELETED_AT).is_null())?;
    }
    apply_filters(df, &opts.filters)
}

/// Reads `key` from `store` with Metaxy's semantics, in order: (1) current feature version of `graph` unless
/// `with_feature_history` (or the given `feature_version`); (2) latest row per id column set unless
/// `with_sample_history`; (3) drop soft-deleted unless `include_soft_deleted`; (4) SQL filters. Rows are sorted by
/// id columns. The `*_by_field` structs carry every field of the feature (a Map-mode frame with no rows, or whose
/// maps lack a key, gets null members, like Struct mode). `Ok(None)` when the store has no table for `key`
/// (Metaxy raises `FeatureNotFoundError`).
pub fn read_feature(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ReadOptions,
) -> Result<Option<DataFrame>> {
    let def = graph.require(key)?;
    let (version_filter, columns) = read_scope(graph, key, opts)?;
    let t = crate::engine::timing::span(|| format!("scan {key}"));
    let mut deduped = false;
    let scanned = if opts.with_sample_history {
        store.scan(key, version_filter.as_deref(), &columns)?
    } else {
        match store.scan_latest(
            key,
            version_filter.as_deref(),
            &columns,
            &def.spec.id_columns,
        )? {
            LatestScan::Rows(df) => {
                deduped = true;
                Some(df)
            }
            LatestScan::Missing => None,
            LatestScan::Unsupported => store.scan(key, version_filter.as_deref(), &columns)?,
        }
    };
    let Some(mut df) = scanned else {
        return Ok(None);
    };
    drop(t);
    let _t = crate::engine::timing::span(|| format!("read-semantics {key} ({} rows)", df.height()));
    df = apply_read_semantics(
        df,
        &store.table_name(key),
        &def.spec.id_columns,
        version_filter.as_deref(),
        &columns,
        opts,
        deduped,
    )?;
    // Map-mode tables read as structs of the keys present in the rows: give them every field, as in Struct mode
    let fields: Vec<String> = def.spec.fields.iter().map(|f| f.key.struct_key()).collect();
    df = complete_by_field_members(df, &fields)?;
    if opts.unsorted {
        return Ok(Some(df));
    }
    sort_by_columns(df, &def.spec.id_columns).map(Some)
}

#[cfg(test)]
mod keep_latest_tests {
    use super::*;

    fn ts(v: &[Option<i64>]) -> Column {
        Series::new("metaxy_updated_at".into(), v)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap()
            .into_column()
    }

    /// The `row` numbers a dedup kept, sorted.
    fn rows_of(df: &DataFrame) -> Vec<u32> {
        let mut rows: Vec<u32> = df
            .column("row")
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        rows.sort();
        rows
    }

    /// Sorted and unique, sorted with duplicates, unsorted, string ids, null timestamps and ties: the latest row
    /// per id wins, the one stored last among equal timestamps.
    #[test]
    fn keep_latest_picks_the_latest_row_per_id() {
        let ids = vec!["id".to_string()];
        let pick = |id: Column, t: &[Option<i64>]| {
            let n = id.len() as u32;
            let df = DataFrame::new(
                id.len(),
                vec![
                    id,
                    ts(t),
                    Series::new("row".into(), (0..n).collect::<Vec<u32>>()).into_column(),
                ],
            )
            .unwrap();
            rows_of(&keep_latest(df, &ids).unwrap())
        };
        let ints = |v: &[i64]| Series::new("id".into(), v).into_column();
        assert_eq!(
            pick(ints(&[1, 2, 3]), &[Some(1), Some(1), Some(1)]),
            vec![0, 1, 2]
        );
        assert_eq!(
            pick(ints(&[1, 1, 2]), &[Some(5), Some(3), Some(1)]),
            vec![0, 2]
        );
        assert_eq!(
            pick(ints(&[1, 1, 2]), &[Some(5), Some(5), Some(1)]),
            vec![1, 2],
            "tie: stored last"
        );
        assert_eq!(
            pick(ints(&[2, 1, 2, 1]), &[None, Some(1), Some(0), None]),
            vec![1, 2],
            "null is oldest"
        );
        // two chunks, each sorted, disjoint ranges (unique) and overlapping ones (duplicates)
        let mut two = Series::new("id".into(), &[5i64, 6]);
        two.append(&Series::new("id".into(), &[1i64, 2])).unwrap();
        assert_eq!(two.n_chunks(), 2);
        assert_eq!(
            pick(two.clone().into_column(), &[Some(1); 4]),
            vec![0, 1, 2, 3]
        );
        let mut dup = Series::new("id".into(), &[1i64, 2]);
        dup.append(&Series::new("id".into(), &[2i64, 3])).unwrap();
        assert_eq!(
            pick(dup.into_column(), &[Some(1), Some(9), Some(1), Some(1)]),
            vec![0, 1, 3]
        );
        let strs = Series::new("id".into(), &["b", "a", "b"]).into_column();
        assert_eq!(pick(strs, &[Some(2), Some(1), Some(1)]), vec![0, 1]);
        // two id columns (the grouped path)
        let df = df!("a" => [1i64, 1, 1], "b" => ["x", "x", "y"], "row" => [0u32, 1, 2]).unwrap();
        let df = df.hstack(&[ts(&[Some(1), Some(2), Some(0)])]).unwrap();
        let out = keep_latest(df, &["a".to_string(), "b".to_string()]).unwrap();
        assert_eq!(rows_of(&out), vec![1, 2]);
    }
}
