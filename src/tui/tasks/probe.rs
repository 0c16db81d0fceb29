//! Job `ProbeStores`: whether each configured store can be opened, and what it holds (the stores screen).

use super::{guarded, Emit};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::OpenRequest;

/// Opens every configured store of the workspace's config and lists its tables; reports one
/// [`JobResult::StoreProbed`] per store (the embedded demo store, which has no config, as already open).
pub(super) fn probe_stores(req: &OpenRequest, ws: &Workspace, emit: &mut Emit<'_>) {
    for cfg in &ws.config.stores {
        let result = guarded(|| {
            crate::engine::store::probe_store(cfg, &req.opts.cwd)
                .map(|n| format!("reachable · {n} feature table(s)"))
                .map_err(|e| e.to_string())
        });
        if !emit(JobResult::StoreProbed {
            name: cfg.name.clone(),
            result,
        }) {
            return;
        }
    }
    if ws.config.stores.is_empty() {
        // the embedded demo store: already open
        let n = ws.store.list_tables().map(|t| t.len()).unwrap_or(0);
        emit(JobResult::StoreProbed {
            name: ws.store.name().to_string(),
            result: Ok(format!("reachable · {n} tables")),
        });
    }
}
