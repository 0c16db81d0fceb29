//! Jobs `CountRows`, `CountVersions`, `CountAllVersions`: row counts of the Metadata tab's read and stored rows
//! per feature version (rebase picker, history screen).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use super::{guarded, no_table, CancelToken, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::view::count_view_rows;
use crate::engine::workspace::Workspace;
use crate::tui::app::TableView;
use crate::tui::msg::JobResult;

/// Counts the rows of the Metadata tab's read; reports [`JobResult::RowCount`].
pub(super) fn count_rows(
    ws: &Workspace,
    key: FeatureKey,
    view: &TableView,
    view_generation: u64,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        count_view_rows(ws, &key, &view.read_options())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| no_table(&key))
    });
    emit(JobResult::RowCount {
        view: view_generation,
        key,
        result,
    });
}

/// Counts stored rows per feature version of `key` (none on errors); reports [`JobResult::VersionCounts`].
pub(super) fn versions(ws: &Workspace, key: FeatureKey, emit: &mut Emit<'_>) {
    let counts = guarded(|| {
        ws.store
            .rows_per_feature_version(&key)
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string())
    })
    .unwrap_or_default();
    emit(JobResult::VersionCounts { key, counts });
}

/// Counts stored rows per feature version of every feature (features that fail are left out); stops early once
/// `cancel` is cancelled; reports [`JobResult::RowsPerVersion`].
pub(super) fn all_versions(ws: &Workspace, cancel: &CancelToken, emit: &mut Emit<'_>) {
    let mut counts = HashMap::new();
    for f in &ws.graph.features {
        let key = &f.spec.key;
        if cancel.cancelled() {
            return;
        }
        if let Ok(Ok(c)) = std::panic::catch_unwind(AssertUnwindSafe(|| {
            ws.store
                .rows_per_feature_version(key)
                .map(Option::unwrap_or_default)
        })) {
            counts.insert(key.to_string(), c);
        }
    }
    emit(JobResult::RowsPerVersion { counts });
}
