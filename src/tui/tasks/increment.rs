//! The increment jobs of the details pane: `LoadIncrement` ([`load`], a feature's increment loaded on demand for
//! its New / Stale / Orphaned tabs) and `FilterIncrement` ([`filter`], a loaded increment narrowed by the
//! increment tabs' SQL filter), both with the causes of the stale samples. On a store that computes increment
//! pages itself (ClickHouse; DuckDB and local Delta stores from 5M stored rows on;
//! [`crate::engine::versioning::pages`]) the load takes only the first rows of each tab
//! from the store, and only those rows leave it ([`LoadedIncrement::paged_in_store`]); other stores, and plans the
//! store declines, use the general engine. A filter of such a window computes the whole increment with the
//! general engine first (a filter may select any row).

use super::{guarded, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::versioning::pages::first_pages_for;
use crate::engine::versioning::resolve::{Increment, ResolveOptions};
use crate::engine::view::{causes_of_stale, filter_increment};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::{IncrementTables, LoadedIncrement, MAX_TABLE_ROWS};

/// Loads the increment of `key` for the details tabs ([`load_increment`]); reports [`JobResult::IncrementLoaded`];
/// errors (and panics) as its message.
pub(super) fn load(ws: &Workspace, key: FeatureKey, seed: Option<Increment>, emit: &mut Emit<'_>) {
    let result = guarded(|| load_increment(ws, &key, seed).map(Box::new));
    emit(JobResult::IncrementLoaded { key, result });
}

/// The increment of `key` as the details tabs show it: `seed` when the status job already resolved it (the store
/// declined to count); else, where the store computes increment pages itself, the first [`MAX_TABLE_ROWS`] rows
/// of each kind from the store ([`first_pages_for`], rendered by [`LoadedIncrement::from_pages`]: the tables' totals
/// the store's counts, the causes of the first [`crate::engine::versioning::pages::CAUSE_ROWS`] loaded stale rows
/// only); else `resolve_update` with default options (what `metaxy metadata increment` computes), rendered with
/// the stale samples' causes (at most [`MAX_TABLE_ROWS`]; a failing lookup is reported in the cause summary).
/// Which path was taken is said with `METAXY_TUI_TIMINGS`; a failing page query falls back to the general engine.
///
/// Errors: resolving the increment failed (the message).
pub fn load_increment(
    ws: &Workspace,
    key: &FeatureKey,
    seed: Option<Increment>,
) -> Result<LoadedIncrement, String> {
    if seed.is_none() {
        match paged(ws, key) {
            Ok(Some(l)) => return Ok(l),
            Ok(None) => {}
            Err(e) => {
                if crate::engine::timing::enabled() {
                    eprintln!(
                        "timing increment-tabs {key}: store pages failed ({e}): general engine"
                    );
                }
            }
        }
    }
    let _t = crate::engine::timing::span(|| format!("increment-tabs {key} general engine"));
    let inc = match seed {
        Some(inc) => inc,
        None => ws
            .increment(key, &ResolveOptions::default())
            .map_err(|e| e.to_string())?,
    };
    Ok(LoadedIncrement::build_with_causes(
        inc,
        ws.store.as_ref(),
        &ws.graph,
    ))
}

/// The first pages of `key`'s increment computed by the store, rendered; `Ok(None)` when the store does not page
/// this plan (root features never).
fn paged(
    ws: &Workspace,
    key: &FeatureKey,
) -> crate::engine::error::Result<Option<LoadedIncrement>> {
    let pages = {
        let _t = crate::engine::timing::span(|| format!("increment-tabs {key} store pages"));
        first_pages_for(
            ws.store.as_ref(),
            &ws.graph,
            key,
            &ResolveOptions::default(),
            MAX_TABLE_ROWS,
        )?
    };
    let Some(pages) = pages else {
        if crate::engine::timing::enabled() {
            eprintln!("timing increment-tabs {key}: not paged in the store: general engine");
        }
        return Ok(None);
    };
    Ok(Some(LoadedIncrement::from_pages(
        pages,
        ws.store.as_ref(),
        &ws.graph,
    )))
}

/// Filters `inc` (`None`: the whole increment of `key`, computed now) with `filter` and renders its tables
/// (causes looked up for at most [`MAX_TABLE_ROWS`] stale samples; a failing lookup leaves them out); reports
/// [`JobResult::IncrementFiltered`].
pub(super) fn filter(
    ws: &Workspace,
    key: FeatureKey,
    inc: Option<Increment>,
    filter: String,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        let inc = match inc {
            Some(i) => i,
            None => whole(ws, &key)?,
        };
        let inc = filter_increment(inc, &filter).map_err(|e| e.to_string())?;
        let causes = causes_of_stale(ws, &inc, Some(MAX_TABLE_ROWS))
            .ok()
            .flatten();
        IncrementTables::build_with_causes(&inc, causes.as_deref())
            .map(Box::new)
            .map_err(|e| e.to_string())
    });
    emit(JobResult::IncrementFiltered {
        key,
        filter,
        result,
    });
}

/// The whole increment of `key` by the general engine (for a filter or an export of tabs that hold only the
/// store's first pages).
pub(super) fn whole(ws: &Workspace, key: &FeatureKey) -> Result<Increment, String> {
    let _t = crate::engine::timing::span(|| {
        format!("increment-tabs {key} whole increment (general engine)")
    });
    ws.increment(key, &ResolveOptions::default())
        .map_err(|e| e.to_string())
}
