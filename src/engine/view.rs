//! Reads and plans that a browser of a store needs beside Metaxy's own operations, shared by the TUI and the
//! CLI: the rows of a feature as a view shows them (Metaxy's read, a SQL filter, then a sort), its first page,
//! the id columns to key pages by, the write plan of a samples file with the count of samples already stored,
//! and an increment narrowed by a SQL filter with the causes of its stale samples (FORMAT.md, "Reading a
//! feature" and "Increments").

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::{plan_write, WritePlan};
use crate::engine::ops::write::WriteOptions;
use crate::engine::query::page::{read_page, PageAt, PageRead};
use crate::engine::query::read::ReadOptions;
use crate::engine::store::filter::apply_filters;
use crate::engine::store::filter::IdFilter;
use crate::engine::versioning::cause::{stale_causes, SampleCause};
use crate::engine::versioning::lookup::{Lookup, LookupOptions};
use crate::engine::versioning::resolve::Increment;
use crate::engine::versioning::samples::load_rows;
use crate::engine::workspace::Workspace;

/// The id columns of `key` in the workspace's graph, in spec order (none for a feature it does not have).
pub fn id_columns(ws: &Workspace, key: &FeatureKey) -> Vec<String> {
    ws.graph
        .get(key)
        .map(|d| d.spec.id_columns.clone())
        .unwrap_or_default()
}

/// The first page of a feature's rows as a view reads them.
#[derive(Debug)]
pub enum FirstPage {
    /// The store has no table for the feature.
    Missing,
    /// A keyset page read from the store in Metaxy's id order (`at_end`: no rows after it); later pages are
    /// read with [`read_page`] from its first or last row.
    Keyset {
        /// At most `page_rows` rows.
        rows: DataFrame,
        /// Whether the read has no rows after these.
        at_end: bool,
    },
    /// The whole read (the store has no ordered scan, or the view sorts): pages are slices of it.
    Whole(DataFrame),
}

/// The first page of `key` read with `opts` then sorted by `sort` (`(column, descending)`): a keyset page of
/// `page_rows` rows from the store when it has an ordered scan and the view keeps Metaxy's id order, else the
/// whole read ([`view_rows`]).
///
/// Errors: the engine's read errors (unknown feature, unreadable table, bad filter).
pub fn first_page(
    ws: &Workspace,
    key: &FeatureKey,
    opts: &ReadOptions,
    sort: Option<&(String, bool)>,
    page_rows: usize,
) -> Result<FirstPage> {
    if sort.is_none() {
        let _t = crate::engine::timing::span(|| format!("first page {key}"));
        match read_page(
            ws.store.as_ref(),
            &ws.graph,
            key,
            opts,
            &PageAt::First,
            page_rows,
        )? {
            PageRead::Missing => return Ok(FirstPage::Missing),
            PageRead::Page(p) => {
                return Ok(FirstPage::Keyset {
                    rows: p.rows,
                    at_end: p.at_end,
                })
            }
            PageRead::Unsupported => {}
        }
    }
    Ok(match view_rows(ws, key, opts, sort)? {
        None => FirstPage::Missing,
        Some(df) => FirstPage::Whole(df),
    })
}

/// A further keyset page of `key` (see [`read_page`]): `page_rows` rows after / before a row, or the last rows.
///
/// Errors: the engine's read errors.
pub fn keyset_page(
    ws: &Workspace,
    key: &FeatureKey,
    opts: &ReadOptions,
    at: &PageAt,
    page_rows: usize,
) -> Result<PageRead> {
    read_page(ws.store.as_ref(), &ws.graph, key, opts, at, page_rows)
}

/// How many rows [`view_rows`] would return without its sort (only the columns the read semantics need are
/// read); `None` when the store has no table for the feature.
///
/// Errors: the engine's read errors.
pub fn count_view_rows(
    ws: &Workspace,
    key: &FeatureKey,
    opts: &ReadOptions,
) -> Result<Option<usize>> {
    crate::engine::query::page::count_rows(ws.store.as_ref(), &ws.graph, key, opts)
}

/// The rows of `key` as a view shows them: Metaxy's read with `opts` (filter included), then sorted by `sort`
/// (`(column, descending)`, nulls last, stable; a column polars cannot order, such as a struct, by its text; an
/// unknown column leaves the order). `None` when the store has no table for the feature.
///
/// Errors: the engine's read errors; polars errors of the sort.
pub fn view_rows(
    ws: &Workspace,
    key: &FeatureKey,
    opts: &ReadOptions,
    sort: Option<&(String, bool)>,
) -> Result<Option<DataFrame>> {
    let Some(df) = ws.read(key, opts)? else {
        return Ok(None);
    };
    let Some((c, desc)) = sort else {
        return Ok(Some(df));
    };
    if df.get_column_index(c).is_none() {
        return Ok(Some(df));
    }
    let sort_opts = SortMultipleOptions::default()
        .with_order_descending(*desc)
        .with_nulls_last(true)
        .with_maintain_order(true);
    match df
        .clone()
        .lazy()
        .sort([c.as_str()], sort_opts.clone())
        .collect()
    {
        Ok(d) => Ok(Some(d)),
        // types polars cannot order (structs): by their text
        Err(_) => Ok(Some(
            df.lazy()
                .with_column(col(c.as_str()).cast(DataType::String).alias("__mx_sort"))
                .sort(["__mx_sort"], sort_opts)
                .drop(cols(["__mx_sort"]))
                .collect()?,
        )),
    }
}

/// Prepares a write of the samples file at `path` to `key` (Metaxy's system columns added, as `write` does) and
/// counts how many of its samples (by id columns) the store already holds. Returns `(plan, already stored)`.
///
/// Errors: unreadable or malformed samples file (a CSV line of the wrong width named by its line), a feature of
/// another project, rows that do not fit the target table (named by column and line, see
/// [`crate::engine::ops::validate`]), the engine's read errors.
pub fn plan_file_write(
    ws: &Workspace,
    key: &FeatureKey,
    path: &std::path::Path,
) -> Result<(WritePlan, usize)> {
    let (df, origin) = load_rows(path)?;
    let plan = plan_write(
        ws.store.as_ref(),
        &ws.graph,
        key,
        df,
        &WriteOptions {
            origin,
            ..Default::default()
        },
    )?;
    let ids = id_columns(ws, key);
    let existing = match ws.read(key, &ReadOptions::default())? {
        None => 0,
        Some(_) if ids.is_empty() => 0,
        Some(cur) => {
            let on: Vec<Expr> = ids.iter().map(|c| col(c.as_str())).collect();
            let sel: Vec<Expr> = ids.iter().map(|c| col(c.as_str())).collect();
            plan.rows
                .clone()
                .lazy()
                .select(sel.clone())
                .join(
                    cur.lazy().select(sel),
                    on.clone(),
                    on,
                    JoinArgs::new(JoinType::Semi),
                )
                .collect()?
                .height()
        }
    };
    Ok((plan, existing))
}

/// Why the stale samples of `inc` are stale (which upstream data versions changed), for at most `limit` of them;
/// `None` when nothing is stale (no lookup is made). Mirrors the causes `metaxy metadata increment` explains.
///
/// Errors: the engine's read errors of the upstream lookups.
pub fn causes_of_stale(
    ws: &Workspace,
    inc: &Increment,
    limit: Option<usize>,
) -> Result<Option<Vec<SampleCause>>> {
    if inc.stale.height() == 0 {
        return Ok(None);
    }
    stale_causes(ws.store.as_ref(), &ws.graph, inc, limit).map(Some)
}

/// `inc` with its new, stale and orphaned samples narrowed by the SQL filter `filter` (as `--filter` of a read).
///
/// Errors: a filter that does not parse or names unknown columns.
pub fn filter_increment(mut inc: Increment, filter: &str) -> Result<Increment> {
    let f = [filter.to_string()];
    inc.new = apply_filters(inc.new, &f)?;
    inc.stale = apply_filters(inc.stale, &f)?;
    inc.orphaned = apply_filters(inc.orphaned, &f)?;
    Ok(inc)
}

/// Where the samples `ids` are in every feature of the workspace's graph ([`crate::engine::versioning::lookup`]):
/// the shared call of `metaxy-tui metadata lookup` and the TUI's lookup screen.
///
/// Errors: [`crate::engine::error::EngineError::BadIds`] when no feature has the looked-up id columns.
pub fn lookup(ws: &Workspace, ids: &IdFilter, opts: &LookupOptions) -> Result<Lookup> {
    let _t = crate::engine::timing::span(|| "lookup".into());
    crate::engine::versioning::lookup::lookup(ws.store.as_ref(), &ws.graph, ids, opts)
}
