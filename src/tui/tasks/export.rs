//! Jobs `Export` / `ExportIncrement` / `ExportWholeIncrement`: writing a feature's rows as the Metadata tab reads them, or one frame of an
//! increment, to a `.parquet`, `.csv` or `.ndjson` file.

use std::path::Path;

use super::{guarded, no_table, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::store::count_plan::IncrementKind;
use crate::engine::store::filter::apply_filters;
use crate::engine::versioning::samples::export_frame;
use crate::engine::view::view_rows;
use crate::engine::workspace::Workspace;
use crate::tui::app::TableView;
use crate::tui::msg::JobResult;

/// Exports one frame of an increment (`what`: `new samples of example/crop`); reports [`JobResult::Exported`].
pub(super) fn increment(
    mut rows: polars::prelude::DataFrame,
    what: &str,
    path: &Path,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        export_frame(&mut rows, path)?;
        Ok(format!(
            "✓ exported {} {what} to {}",
            rows.height(),
            path.display()
        ))
    });
    emit(JobResult::Exported { result });
}

/// Exports the `kind` frame of the whole increment of `key` (computed by the general engine), narrowed by
/// `filter`; reports [`JobResult::Exported`].
pub(super) fn whole_increment(
    ws: &Workspace,
    key: &FeatureKey,
    kind: IncrementKind,
    filter: Option<&str>,
    what: &str,
    path: &Path,
    emit: &mut Emit<'_>,
) {
    let rows = guarded(|| {
        let inc = super::increment::whole(ws, key)?;
        let frame = match kind {
            IncrementKind::New => inc.new,
            IncrementKind::Stale => inc.stale,
            IncrementKind::Orphaned => inc.orphaned,
        };
        match filter {
            None => Ok(frame),
            Some(f) => apply_filters(frame, &[f.to_string()]).map_err(|e| e.to_string()),
        }
    });
    match rows {
        Ok(rows) => increment(rows, what, path, emit),
        Err(e) => {
            emit(JobResult::Exported { result: Err(e) });
        }
    }
}

/// Exports the rows of `key` as `view` shows them; reports [`JobResult::Exported`].
pub(super) fn view(
    ws: &Workspace,
    key: &FeatureKey,
    view: &TableView,
    path: &Path,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        let mut df = view_rows(ws, key, &view.read_options(), view.sort.as_ref())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| no_table(key))?;
        export_frame(&mut df, path)?;
        Ok(format!(
            "✓ exported {} row(s) of {key} to {}",
            df.height(),
            path.display()
        ))
    });
    emit(JobResult::Exported { result });
}
