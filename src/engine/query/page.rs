//! Paged reads: a feature's rows as Metaxy's `read()` returns them (current feature version, latest row per
//! sample, soft-deleted rows dropped, SQL filters; sorted by the id columns), fetched one page at a time by a
//! keyset walk over the id columns, so that a 10M-row feature shows its first rows without reading the table.
//!
//! Why this is exact: in id order every stored row of one sample is adjacent, so the latest-row-per-sample dedup,
//! the soft-delete removal and the filters can be applied to a page of stored rows on its own, as long as a page
//! never splits the rows of one sample (the last, possibly incomplete, sample of a full fetch is left for the
//! next one). The result of walking every page equals [`crate::engine::query::read::read_feature`]'s frame.

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::ReadOptions;
use crate::engine::query::read::{apply_read_semantics, read_feature, read_scope, sort_by_columns};
use crate::engine::store::{Columns, KeyRange, LatestScan, MetadataStore};

/// Where a page starts.
#[derive(Debug, Clone)]
pub enum PageAt {
    /// The first rows of the read.
    First,
    /// The rows right after the sample whose id values are in this 1-row frame of the id columns.
    After(DataFrame),
    /// The rows right before the sample whose id values are in this 1-row frame of the id columns.
    Before(DataFrame),
    /// The last rows of the read.
    Last,
}

/// One page of a read.
#[derive(Debug, Clone)]
pub struct Page {
    /// The rows, sorted by the id columns (all columns of the read options).
    pub rows: DataFrame,
    /// No row of the read comes before these (known for [`PageAt::First`], and when a backward walk ran out).
    pub at_start: bool,
    /// No row of the read comes after these (known for [`PageAt::Last`], and when a forward walk ran out).
    pub at_end: bool,
}

/// What [`read_page`] answered.
#[derive(Debug, Clone)]
pub enum PageRead {
    /// The store has no ordered scan for this table ([`MetadataStore::scan_ordered`]): read the whole feature.
    Unsupported,
    /// The store has no table for the feature.
    Missing,
    /// A page.
    Page(Page),
}

/// Stored rows fetched by the first keyset scan of a page (grown while pages come back short, e.g. under a
/// selective filter, up to [`MAX_FETCH`]).
const MIN_FETCH: usize = 64;
/// Largest single keyset scan.
const MAX_FETCH: usize = 1 << 20;

/// About `n` rows of `key` as [`read_feature`] with `opts` returns them (sorted by the id columns), starting at
/// `at`: exactly `n` rows, or fewer at the start / end of the read, or a few more with `with_sample_history` so
/// that the rows of one sample are never split between pages. The next page is `PageAt::After(last row's ids)`,
/// the previous one `PageAt::Before(first row's ids)`. `opts.unsorted` is ignored. Errors as [`read_feature`].
pub fn read_page(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ReadOptions,
    at: &PageAt,
    n: usize,
) -> Result<PageRead> {
    let def = graph.require(key)?;
    let ids = &def.spec.id_columns;
    if ids.is_empty() {
        return Ok(PageRead::Unsupported);
    }
    let (version, columns) = read_scope(graph, key, opts)?;
    let table = store.table_name(key);
    let n = n.max(1);
    let descending = matches!(at, PageAt::Before(_) | PageAt::Last);
    let mut bound: Option<DataFrame> = match at {
        PageAt::After(b) | PageAt::Before(b) => Some(b.clone()),
        _ => None,
    };
    // a few stored rows per sample is common (updates, soft deletes): fetch enough for one scan to fill the page
    let mut limit = (3 * n).max(MIN_FETCH);
    // processed chunks in walk order (reversed at the end when walking backwards)
    let mut chunks: Vec<DataFrame> = vec![];
    let mut got = 0usize;
    let exhausted = loop {
        let range = KeyRange {
            id_columns: ids,
            bound: bound.as_ref(),
            descending,
            limit,
        };
        let raw = match store.scan_ordered(key, version.as_deref(), &columns, &range)? {
            LatestScan::Rows(df) => df,
            LatestScan::Missing => return Ok(PageRead::Missing),
            LatestScan::Unsupported => return Ok(PageRead::Unsupported),
        };
        let full = raw.height() >= limit;
        let raw = if full {
            // the last sample may have more rows beyond the limit: leave it to the next scan
            let keep = group_start(&raw, ids, raw.height() - 1)?;
            if keep == 0 {
                // one sample has more stored rows than the limit
                limit = limit.saturating_mul(4);
                continue;
            }
            raw.slice(0, keep)
        } else {
            raw
        };
        if raw.height() > 0 {
            bound = Some(ids_row(&raw, ids, raw.height() - 1)?);
        }
        // rows of one sample back in storage order (the dedup keeps the one stored last among equal timestamps)
        let raw = if descending { raw.reverse() } else { raw };
        let df = apply_read_semantics(raw, &table, ids, version.as_deref(), &columns, opts, false)?;
        let df = sort_by_columns(df, ids)?;
        got += df.height();
        chunks.push(df);
        if !full {
            break true;
        }
        if got >= n {
            break false;
        }
        limit = limit.saturating_mul(2).min(MAX_FETCH);
    };
    if descending {
        chunks.reverse();
    }
    let mut rows = match chunks.len() {
        0 => DataFrame::empty(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut it = chunks.into_iter();
            let mut first = it.next().unwrap_or_default();
            for c in it {
                first.vstack_mut(&c)?;
            }
            first
        }
    };
    let mut trimmed = false;
    if rows.height() > n {
        trimmed = true;
        rows = if descending {
            let from = group_start(&rows, ids, rows.height() - n)?;
            rows.slice(from as i64, rows.height() - from)
        } else {
            let to = group_end(&rows, ids, n - 1)?;
            rows.slice(0, to)
        };
    }
    rows.rechunk_mut();
    let (at_start, at_end) = match at {
        PageAt::First => (true, exhausted && !trimmed),
        PageAt::After(_) => (false, exhausted && !trimmed),
        PageAt::Before(_) => (exhausted && !trimmed, false),
        PageAt::Last => (exhausted && !trimmed, true),
    };
    Ok(PageRead::Page(Page {
        rows,
        at_start,
        at_end,
    }))
}

/// Rows in the read of `key` with `opts` (what [`read_feature`] would return), reading only the columns the
/// read semantics and the filters need. `Ok(None)` when the store has no table for the feature.
pub fn count_rows(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ReadOptions,
) -> Result<Option<usize>> {
    let opts = ReadOptions {
        columns: Columns::Only(vec![]),
        unsorted: true,
        ..opts.clone()
    };
    Ok(read_feature(store, graph, key, &opts)?.map(|df| df.height()))
}

/// The id values of row `i` of `df` as a 1-row frame (a page bound).
pub fn ids_row(df: &DataFrame, ids: &[String], i: usize) -> Result<DataFrame> {
    Ok(df
        .select(ids.iter().map(String::as_str))?
        .slice(i as i64, 1))
}

/// Whether rows `a` and `b` of `df` have equal id values.
fn same_ids(df: &DataFrame, ids: &[String], a: usize, b: usize) -> Result<bool> {
    for c in ids {
        let s = df.column(c)?;
        if s.get(a)? != s.get(b)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// First row of the run of rows with the same ids as row `i` (rows of one sample are adjacent).
fn group_start(df: &DataFrame, ids: &[String], i: usize) -> Result<usize> {
    let mut s = i;
    while s > 0 && same_ids(df, ids, s - 1, i)? {
        s -= 1;
    }
    Ok(s)
}

/// One past the last row of the run of rows with the same ids as row `i`.
fn group_end(df: &DataFrame, ids: &[String], i: usize) -> Result<usize> {
    let mut e = i + 1;
    while e < df.height() && same_ids(df, ids, e, i)? {
        e += 1;
    }
    Ok(e)
}
