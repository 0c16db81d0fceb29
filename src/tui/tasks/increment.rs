//! The increment jobs of the details pane: `LoadIncrement` ([`load`], a feature's increment loaded on demand for
//! its New / Stale / Orphaned tabs) and `FilterIncrement` ([`filter`], a loaded increment narrowed by the
//! increment tabs' SQL filter), both with the causes of the stale samples.

use super::{guarded, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::versioning::resolve::{Increment, ResolveOptions};
use crate::engine::view::{causes_of_stale, filter_increment};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::{IncrementTables, LoadedIncrement, MAX_TABLE_ROWS};

/// Loads the increment of `key` for the details tabs: `seed` when the status job already resolved it (the store
/// declined to count), else `resolve_update` with default options (what `metaxy metadata increment` computes);
/// renders its tables and looks the stale samples' causes up (at most [`MAX_TABLE_ROWS`]; a failing lookup is
/// reported in the cause summary). Reports [`JobResult::IncrementLoaded`]; errors (and panics) as its message.
pub(super) fn load(ws: &Workspace, key: FeatureKey, seed: Option<Increment>, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        let inc = match seed {
            Some(inc) => inc,
            None => ws
                .increment(&key, &ResolveOptions::default())
                .map_err(|e| e.to_string())?,
        };
        Ok(Box::new(LoadedIncrement::build_with_causes(
            inc,
            ws.store.as_ref(),
            &ws.graph,
        )))
    });
    emit(JobResult::IncrementLoaded { key, result });
}

/// Filters `inc` with `filter` and renders its tables (causes looked up for at most [`MAX_TABLE_ROWS`] stale
/// samples; a failing lookup leaves them out); reports [`JobResult::IncrementFiltered`].
pub(super) fn filter(ws: &Workspace, inc: Increment, filter: String, emit: &mut Emit<'_>) {
    let key = inc.feature.clone();
    let result = guarded(|| {
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
