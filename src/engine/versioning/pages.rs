//! Pages of an increment computed by the store itself ([`MetadataStore::increment_page`]: ClickHouse, and DuckDB
//! and local Delta stores for large increments): the rows of
//! one kind (new / stale / orphaned) a screen shows, ordered by the join columns, without reading the upstreams or
//! the target into memory. The plan is the counts plan ([`crate::engine::versioning::counts::count_plan`]); where
//! it does not qualify or the store declines, `None` tells the caller to run
//! [`crate::engine::versioning::resolve::resolve_update`]. `METAXY_TUI_NO_STORE_COUNTS=1` turns this off too.
//!
//! [`MetadataStore::increment_page`]: crate::engine::store::MetadataStore::increment_page

use polars::prelude::DataFrame;

use crate::engine::error::Result;
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::store::count_plan::{CountPlan, IncrementKind, PageWindow};
use crate::engine::store::MetadataStore;
use crate::engine::versioning::counts::count_plan;
use crate::engine::versioning::resolve::{Increment, ResolveOptions};

/// A window of an increment: an [`Increment`] whose frames hold only the loaded rows of each kind (the frames'
/// columns are those of the tabs: join columns, `metaxy_provenance_by_field`, `metaxy_provenance`; the stored
/// provenance of the loaded stale rows in `stale_previous`), and how many rows each kind has in all.
#[derive(Debug, Clone)]
pub struct PagedIncrement {
    /// The loaded rows ([`Increment::current_rows`] is not known here: 0).
    pub increment: Increment,
    /// Rows of each kind in the whole increment: `(new, stale, orphaned)`.
    pub totals: (usize, usize, usize),
    /// Position of the first loaded row of each kind: `(new, stale, orphaned)`.
    pub offsets: (usize, usize, usize),
}

impl PagedIncrement {
    /// The total of `kind`.
    pub fn total(&self, kind: IncrementKind) -> usize {
        match kind {
            IncrementKind::New => self.totals.0,
            IncrementKind::Stale => self.totals.1,
            IncrementKind::Orphaned => self.totals.2,
        }
    }
}

/// The counts plan of `key` when the store may page its increment (`None`: the general engine).
fn page_plan(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
) -> Result<Option<CountPlan>> {
    if std::env::var_os("METAXY_TUI_NO_STORE_COUNTS").is_some_and(|v| v != "0") {
        return Ok(None);
    }
    let Some(plan) = count_plan(store, graph, key, &ResolveOptions::default())? else {
        return Ok(None);
    };
    if crate::engine::hashing::check_algorithm(plan.algorithm).is_err() {
        return Ok(None);
    }
    Ok(Some(plan))
}

/// An increment of `key` with no rows yet (the frames empty).
fn empty_increment(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    plan: &CountPlan,
) -> Result<Increment> {
    let spec = &graph.require(key)?.spec;
    Ok(Increment {
        feature: key.clone(),
        feature_version: plan.feature_version.clone(),
        id_columns: plan.id_columns.clone(),
        join_columns: plan.join_columns.clone(),
        field_keys: spec.fields.iter().map(|f| f.key.struct_key()).collect(),
        new: DataFrame::empty(),
        stale: DataFrame::empty(),
        orphaned: DataFrame::empty(),
        stale_previous: DataFrame::empty(),
        target_exists: false,
        current_rows: 0,
        upstream_sources: plan
            .deps
            .iter()
            .map(|d| (d.feature.to_string(), store.local().name().to_string()))
            .collect(),
    })
}

/// Rows `offset..offset + limit` of `kind` of `key`'s increment (with default options: no filters, samples or
/// staleness predicates), computed by the store: the returned increment holds them in the frame of `kind`
/// (`stale_previous` too for stale rows), the other frames empty.
///
/// `None` when the plan does not qualify for the counts query or the store cannot (ClickHouse pages every
/// qualifying plan; DuckDB and local Delta stores only from their row thresholds on; other backends never); the
/// caller then runs the general engine. Errors: the store's, reading a table or decoding the answer.
pub fn increment_page(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    kind: IncrementKind,
    offset: usize,
    limit: usize,
) -> Result<Option<PagedIncrement>> {
    let window = PageWindow {
        offset,
        limit,
        min_rows: None,
    };
    increment_page_in(store, graph, key, kind, window)
}

/// [`increment_page`] with the whole [`PageWindow`]: `window.min_rows` overrides the row threshold from which a
/// DuckDB or Delta store pages (`Some(0)`: whatever the size, as the tests force it without touching the
/// process's environment).
pub fn increment_page_in(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    kind: IncrementKind,
    window: PageWindow,
) -> Result<Option<PagedIncrement>> {
    let offset = window.offset;
    let Some(plan) = page_plan(store, graph, key)? else {
        return Ok(None);
    };
    let mut inc = empty_increment(store, graph, key, &plan)?;
    let mut paged = PagedIncrement {
        increment: inc.clone(),
        totals: (0, 0, 0),
        offsets: (offset, offset, offset),
    };
    let _t = crate::engine::timing::span(|| format!("page-in-store {key} {kind:?}"));
    let Some(page) = store.local().increment_page(&plan, kind, window)? else {
        return Ok(None);
    };
    inc.target_exists = page.target_exists;
    match kind {
        IncrementKind::New => {
            inc.new = page.rows;
            paged.totals.0 = page.total;
        }
        IncrementKind::Stale => {
            inc.stale = page.rows;
            inc.stale_previous = page.previous;
            paged.totals.1 = page.total;
        }
        IncrementKind::Orphaned => {
            inc.orphaned = page.rows;
            paged.totals.2 = page.total;
        }
    }
    paged.increment = inc;
    Ok(Some(paged))
}

/// The first `limit` rows of every kind of `key`'s increment computed by the store, in one [`PagedIncrement`]
/// (three page queries and three counts): what the TUI's New / Stale / Orphaned tabs load first. `None` as for
/// [`increment_page`] (when any kind is declined).
pub fn first_pages(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    limit: usize,
) -> Result<Option<PagedIncrement>> {
    first_pages_in(store, graph, key, limit, None)
}

/// [`first_pages`] for a caller holding resolve options (the CLI's `metadata increment --limit`, the TUI's tabs):
/// also `None` (the caller runs the general engine) when `limit` is 0, when `opts` asks for more than the plain
/// increment ([`ResolveOptions::is_plain`]) or when `key` is a root feature (whose increment needs `samples`).
/// Errors: `key` not in the graph, or [`first_pages`]'s.
pub fn first_pages_for(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
    limit: usize,
) -> Result<Option<PagedIncrement>> {
    if limit == 0 || !opts.is_plain() || graph.require(key)?.spec.is_root() {
        return Ok(None);
    }
    first_pages(store, graph, key, limit)
}

/// [`first_pages`] with `min_rows` as in [`increment_page_in`] (`None`: the store's own threshold).
pub fn first_pages_in(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    limit: usize,
    min_rows: Option<u64>,
) -> Result<Option<PagedIncrement>> {
    let mut out: Option<PagedIncrement> = None;
    for kind in IncrementKind::ALL {
        let window = PageWindow {
            offset: 0,
            limit,
            min_rows,
        };
        let Some(p) = increment_page_in(store, graph, key, kind, window)? else {
            return Ok(None);
        };
        out = Some(match out {
            None => p,
            Some(mut acc) => {
                let (a, b) = (&mut acc.increment, p.increment);
                match kind {
                    IncrementKind::New => a.new = b.new,
                    IncrementKind::Stale => {
                        a.stale = b.stale;
                        a.stale_previous = b.stale_previous;
                    }
                    IncrementKind::Orphaned => a.orphaned = b.orphaned,
                }
                a.target_exists |= b.target_exists;
                acc.totals = (
                    acc.totals.0 + p.totals.0,
                    acc.totals.1 + p.totals.1,
                    acc.totals.2 + p.totals.2,
                );
                acc
            }
        });
    }
    Ok(out)
}

/// Most loaded stale rows whose causes [`page_causes`] looks up: their ids travel in the `WHERE` of one scan per
/// upstream feature (well inside ClickHouse's default statement size).
pub const CAUSE_ROWS: usize = 1_000;

/// The causes of the first [`CAUSE_ROWS`] stale rows of a window of the increment
/// ([`crate::engine::versioning::cause::stale_causes`]), with the upstream reads restricted to those rows' ids
/// (pushed into the store's scans, [`MetadataStore::scan_ids`]): neither the upstreams nor their history are read
/// whole. The window's plan qualified for the counts query, so every dep is an identity dep on the join columns.
///
/// Errors: reading an upstream feature failed.
pub fn page_causes(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    inc: &Increment,
) -> Result<Vec<crate::engine::versioning::cause::SampleCause>> {
    use crate::engine::store::filter::IdFilter;
    let rows: Vec<Vec<String>> = inc
        .provenance_rows(&inc.stale, Some(CAUSE_ROWS))?
        .into_iter()
        .map(|r| r.key)
        .collect();
    let ids = IdFilter::new(inc.key_columns(&inc.stale), rows);
    let scopes: std::collections::HashMap<FeatureKey, IdFilter> = graph
        .require(&inc.feature)?
        .spec
        .deps
        .iter()
        .map(|d| (d.feature.clone(), ids.clone()))
        .collect();
    use crate::engine::versioning::lookup::scoped::{ScanMemo, ScopedStore};
    let memo = ScanMemo::default();
    let scoped = ScopedStore::new(store, &scopes, &memo);
    crate::engine::versioning::cause::stale_causes(&scoped, graph, inc, Some(CAUSE_ROWS))
}
