//! Job `Open` / `SwitchStore`: opening the workspace of the run request (demo, discovered or explicit config,
//! optionally another configured store).

use std::sync::Arc;

use super::{guarded, Emit};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::OpenRequest;

/// Opens the workspace a request asks for (demo or discovered / explicit config).
pub fn open_workspace(req: &OpenRequest) -> Result<Workspace, String> {
    let r = if req.demo {
        Workspace::open_demo_private(req.opts.snapshot.clone())
    } else {
        Workspace::open(&req.opts)
    };
    r.map_err(|e| e.to_string())
}

/// Opens the request's workspace, on `store` instead of the configured default when given; reports
/// [`JobResult::Opened`].
pub(super) fn open(req: &OpenRequest, store: Option<String>, emit: &mut Emit<'_>) {
    let result = match store {
        None => guarded(|| open_workspace(req)),
        Some(store) => {
            let mut r = req.clone();
            r.demo = false;
            r.opts.store = Some(store);
            guarded(|| open_workspace(&r))
        }
    };
    emit(JobResult::Opened {
        result: result.map(Arc::new),
    });
}
