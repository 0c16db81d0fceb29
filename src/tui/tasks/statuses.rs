//! Job `ComputeStatuses`: every feature's status in graph order (as `metaxy metadata status` computes it), one
//! result per feature. Counts come from the store where it can count them (no row frames); the increment itself
//! is loaded later, on demand, for the selected feature ([`super::increment::load`]).

use super::{guarded, CancelToken, Emit};
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::versioning::status::FeatureStatus;
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::StatusReport;

/// Reports one [`JobResult::Status`] per feature; stops before the next feature once `cancel` is cancelled. A
/// feature whose computation fails (or panics) reports an error status; one that failed because the store is busy
/// with another process's write ends the job (the UI retries later). Where the store declines to count, the
/// status carries the full increment (default options), which the details pane then reuses. The store's reads
/// stay open for the job's duration ([`crate::engine::store::MetadataStore::keep_reads_open`]: a DuckDB file is
/// opened once for every feature, not twice per feature) and are closed when it ends.
pub(super) fn compute(ws: &Workspace, cancel: &CancelToken, emit: &mut Emit<'_>) {
    let _kept = ws.store.keep_reads_open();
    for f in &ws.graph.features {
        if cancel.cancelled() {
            return;
        }
        let key = &f.spec.key;
        let status = guarded(|| Ok(ws.status_counts_first(key, &ResolveOptions::default())))
            .unwrap_or_else(|e| FeatureStatus::error(key, e));
        let report = StatusReport::build(status);
        // a store busy with another process's write: the next features would wait for it too; the UI retries
        let busy = report
            .status
            .error_message
            .as_deref()
            .is_some_and(crate::engine::error::is_busy_message);
        if !emit(JobResult::Status {
            report: Box::new(report),
        }) || busy
        {
            return;
        }
    }
}
