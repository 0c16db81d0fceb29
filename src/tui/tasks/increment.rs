//! Job `FilterIncrement`: a feature's increment narrowed by the increment tabs' SQL filter, with the causes of
//! its stale samples. When the tabs hold only the store's first pages of the increment
//! ([`crate::tui::view::StatusReport::paged_in_store`]), the whole increment is computed here by the general
//! engine first (a filter may select any row).

use super::{guarded, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::versioning::resolve::{Increment, ResolveOptions};
use crate::engine::view::{causes_of_stale, filter_increment};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::{IncrementTables, MAX_TABLE_ROWS};

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
