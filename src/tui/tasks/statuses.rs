//! Job `ComputeStatuses`: every feature's status in graph order (as `metaxy metadata status` computes it), with
//! its increment and the causes of staleness, one result per feature.

use super::{guarded, CancelToken, Emit};
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::versioning::status::FeatureStatus;
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::StatusReport;

/// Reports one [`JobResult::Status`] per feature; stops before the next feature once `cancel` is cancelled. A
/// feature whose computation fails (or panics) reports an error status; one that failed because the store is busy
/// with another process's write ends the job (the UI retries later).
pub(super) fn compute(ws: &Workspace, cancel: &CancelToken, emit: &mut Emit<'_>) {
    for f in &ws.graph.features {
        if cancel.cancelled() {
            return;
        }
        let key = &f.spec.key;
        let report = guarded(|| {
            Ok(StatusReport::build_with_causes(
                ws.status(key, &ResolveOptions::default()),
                ws.store.as_ref(),
                &ws.graph,
            ))
        })
        .unwrap_or_else(|e| StatusReport::build(FeatureStatus::error(key, e)));
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
