//! Job `Lookup`: the samples' state in every feature of the graph (the engine's shared lookup call).

use std::sync::Arc;

use super::{guarded, Emit};
use crate::engine::store::filter::IdFilter;
use crate::engine::versioning::lookup::LookupOptions;
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;

/// Looks `ids` up (every stored row of each sample included, for the row detail); reports
/// [`JobResult::Looked`].
pub(super) fn run(ws: &Workspace, ids: IdFilter, emit: &mut Emit<'_>) {
    let opts = LookupOptions {
        with_sample_history: true,
    };
    let result = guarded(|| {
        crate::engine::view::lookup(ws, &ids, &opts)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    emit(JobResult::Looked { ids, result });
}
