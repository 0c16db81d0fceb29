//! Job `FilterIncrement`: a feature's increment narrowed by the increment tabs' SQL filter, with the causes of
//! its stale samples.

use super::{guarded, Emit};
use crate::engine::versioning::resolve::Increment;
use crate::engine::view::{causes_of_stale, filter_increment};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::{IncrementTables, MAX_TABLE_ROWS};

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
