//! Jobs that plan and perform writes: delete, drop, rebase and write of a samples file (plans only read; each
//! execution reports a toast text or the error, the store left as it was).

use std::path::Path;
use std::sync::Arc;

use super::{guarded, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::{DeletePlan, DeleteRequest, RebasePlan, WritePlan};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;

/// Plans a delete (reads only); reports [`JobResult::DeletePlanned`].
pub(super) fn plan_delete(ws: &Workspace, request: &DeleteRequest, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        crate::engine::ops::mutate::plan_delete(ws.store.as_ref(), &ws.graph, request)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    emit(JobResult::DeletePlanned { result });
}

/// Performs a confirmed delete plan; reports [`JobResult::Mutated`].
pub(super) fn execute_delete(ws: &Workspace, plan: &DeletePlan, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        let done = crate::engine::ops::mutate::execute_delete(ws.store.as_ref(), &ws.graph, plan)
            .map_err(|e| e.to_string())?;
        let total: usize = done.iter().map(|(_, n)| n).sum();
        let features = done.iter().filter(|(_, n)| *n > 0).count();
        let mode = if plan.request.hard { "hard" } else { "soft" };
        Ok(format!(
            "✓ {mode} deleted {total} row(s) in {features} feature(s)"
        ))
    });
    emit(JobResult::Mutated { result });
}

/// Plans dropping `key`'s table (reads only: its stored rows per feature version); reports
/// [`JobResult::DropPlanned`].
pub(super) fn plan_drop(ws: &Workspace, key: &FeatureKey, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        crate::engine::ops::drop::plan_drop(ws.store.as_ref(), &ws.graph, std::slice::from_ref(key))
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    emit(JobResult::DropPlanned { result });
}

/// Performs a confirmed drop plan; reports [`JobResult::Mutated`].
pub(super) fn execute_drop(
    ws: &Workspace,
    plan: &crate::engine::ops::drop::DropPlan,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        let done = crate::engine::ops::drop::execute_drop(ws.store.as_ref(), plan)
            .map_err(|e| e.to_string())?;
        let total: usize = done.iter().map(|(_, n)| n).sum();
        let keys: Vec<String> = plan.dropped().map(|f| f.feature.to_string()).collect();
        Ok(if plan.keeps_empty_table {
            format!(
                "✓ deleted every row of {} ({total} row(s)); the empty Delta table stays",
                keys.join(", ")
            )
        } else {
            format!(
                "✓ dropped the table of {} ({total} row(s))",
                keys.join(", ")
            )
        })
    });
    emit(JobResult::Mutated { result });
}

/// Plans a rebase of `key` from feature version `from`, of the rows passing `filter` when given (reads only);
/// reports [`JobResult::RebasePlanned`].
pub(super) fn plan_rebase(
    ws: &Workspace,
    key: &FeatureKey,
    from: &str,
    filter: Option<&str>,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| {
        crate::engine::ops::mutate::plan_rebase(
            ws.store.as_ref(),
            &ws.graph,
            &ws.pushed,
            key,
            from,
            None,
            &filter.map(str::to_string).into_iter().collect::<Vec<_>>(),
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    });
    emit(JobResult::RebasePlanned { result });
}

/// Performs a confirmed rebase plan; reports [`JobResult::Mutated`].
pub(super) fn execute_rebase(ws: &Workspace, plan: &RebasePlan, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        let n = crate::engine::ops::mutate::execute_rebase(ws.store.as_ref(), &ws.graph, plan)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "✓ rebased {n} row(s) of {} from {} to {}",
            plan.feature, plan.from_version, plan.to_version
        ))
    });
    emit(JobResult::Mutated { result });
}

/// Reads the samples file at `path` and prepares its write to `key`; reports [`JobResult::WritePlanned`] with
/// the plan and how many of its samples are already stored.
pub(super) fn plan_write(ws: &Workspace, key: &FeatureKey, path: &Path, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        crate::engine::view::plan_file_write(ws, key, path)
            .map(|(plan, existing)| (Arc::new(plan), existing))
            .map_err(|e| e.to_string())
    });
    emit(JobResult::WritePlanned { result });
}

/// Performs a confirmed write plan; reports [`JobResult::Mutated`].
pub(super) fn execute_write(ws: &Workspace, plan: &WritePlan, emit: &mut Emit<'_>) {
    let result = guarded(|| {
        let n = crate::engine::ops::mutate::execute_write(ws.store.as_ref(), plan)
            .map_err(|e| e.to_string())?;
        Ok(format!("✓ wrote {n} row(s) to {}", plan.feature))
    });
    emit(JobResult::Mutated { result });
}
