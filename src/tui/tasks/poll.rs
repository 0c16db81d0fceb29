//! Job `PollStore`: the store's change marker for live refresh ([`crate::tui::live`]): file sizes and times only,
//! no store opened, no lock taken.

use super::Emit;
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;

/// Reports [`JobResult::StoreChecked`] with the store's current
/// [`crate::engine::store::MetadataStore::change_marker`].
pub(super) fn poll(ws: &Workspace, emit: &mut Emit<'_>) {
    emit(JobResult::StoreChecked {
        marker: ws.store.change_marker(),
    });
}
