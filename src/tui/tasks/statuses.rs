//! Job `ComputeStatuses`: every feature's status in graph order (as `metaxy metadata status` computes it), with
//! its increment and the causes of staleness, one result per feature. On a store that computes increment pages
//! itself (ClickHouse, [`crate::engine::versioning::pages`]) the counts and the first rows of each tab come from
//! the store, and only those rows leave it; other stores, and plans the store declines, use the general engine.

use super::{guarded, CancelToken, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::store::count_plan::IncrementKind;
use crate::engine::versioning::cause::summary_line;
use crate::engine::versioning::pages::{first_pages, page_causes, PagedIncrement};
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::versioning::status::FeatureStatus;
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::view::{IncrementTables, StatusReport, MAX_TABLE_ROWS};

/// Reports one [`JobResult::Status`] per feature; stops before the next feature once `cancel` is cancelled. A
/// feature whose computation fails (or panics) reports an error status; one that failed because the store is busy
/// with another process's write ends the job (the UI retries later).
pub(super) fn compute(ws: &Workspace, cancel: &CancelToken, emit: &mut Emit<'_>) {
    for f in &ws.graph.features {
        if cancel.cancelled() {
            return;
        }
        let key = &f.spec.key;
        let report = guarded(|| Ok(feature_report(ws, key)))
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

/// The status of `key` with its rendered increment tabs, as the status job reports it: from the store's own
/// increment pages when it computes them (the first [`MAX_TABLE_ROWS`] rows of each kind, the tables' totals the
/// store's counts, the causes looked up for the first [`crate::engine::versioning::pages::CAUSE_ROWS`] loaded stale
/// rows only, reading only their upstream rows; [`StatusReport::paged_in_store`] set),
/// otherwise from the general engine's whole increment ([`StatusReport::build_with_causes`]). Which path was taken
/// is said with `METAXY_TUI_TIMINGS`. Failures become an error status.
pub fn feature_report(ws: &Workspace, key: &FeatureKey) -> StatusReport {
    match paged_report(ws, key) {
        Ok(Some(r)) => return r,
        Ok(None) => {}
        Err(e) => {
            if crate::engine::timing::enabled() {
                eprintln!("timing increment-tabs {key}: store pages failed ({e}): general engine");
            }
        }
    }
    let _t = crate::engine::timing::span(|| format!("increment-tabs {key} general engine"));
    StatusReport::build_with_causes(
        ws.status(key, &ResolveOptions::default()),
        ws.store.as_ref(),
        &ws.graph,
    )
}

/// The report of `key` from the store's increment pages; `Ok(None)` when the store does not page this plan.
fn paged_report(
    ws: &Workspace,
    key: &FeatureKey,
) -> crate::engine::error::Result<Option<StatusReport>> {
    if ws.graph.require(key)?.spec.is_root() {
        return Ok(None);
    }
    let pages = {
        let _t = crate::engine::timing::span(|| format!("increment-tabs {key} store pages"));
        first_pages(ws.store.as_ref(), &ws.graph, key, MAX_TABLE_ROWS)?
    };
    let Some(paged) = pages else {
        if crate::engine::timing::enabled() {
            eprintln!("timing increment-tabs {key}: not paged in the store: general engine");
        }
        return Ok(None);
    };
    // the counts come from the store too (one query; `narrow_target` lets the status take it)
    let mut status = ws.status(
        key,
        &ResolveOptions {
            narrow_target: true,
            ..Default::default()
        },
    );
    if status.error_message.is_some() {
        return Ok(Some(StatusReport::build(status)));
    }
    // the tables hold a window of the increment: nothing may take it for the whole one
    status.increment = None;
    let (tables, render_error, cause_summary) = paged_tables(ws, &paged);
    Ok(Some(StatusReport {
        status,
        tables,
        render_error,
        cause_summary,
        paged_in_store: true,
    }))
}

/// The tables of a window of the increment (each titled with its kind's total) and the stale causes summary (of
/// the stale rows whose causes were looked up, `first N of M: ...` when there are more).
fn paged_tables(
    ws: &Workspace,
    paged: &PagedIncrement,
) -> (Option<IncrementTables>, Option<String>, Option<String>) {
    let inc = &paged.increment;
    let causes = if inc.stale.height() > 0 {
        Some(page_causes(ws.store.as_ref(), &ws.graph, inc))
    } else {
        None
    };
    let (built, summary) = match &causes {
        Some(Ok(c)) => {
            let mut line = summary_line(c);
            let total = paged.total(IncrementKind::Stale);
            if total > c.len() {
                line = format!("first {} of {total}: {line}", c.len());
            }
            (IncrementTables::build_with_causes(inc, Some(c)), Some(line))
        }
        Some(Err(e)) => (
            IncrementTables::build(inc),
            Some(format!("causes unavailable: {e}")),
        ),
        None => (IncrementTables::build(inc), None),
    };
    match built {
        Ok(mut t) => {
            t.new.total_rows = paged.total(IncrementKind::New);
            t.stale.total_rows = paged.total(IncrementKind::Stale);
            t.orphaned.total_rows = paged.total(IncrementKind::Orphaned);
            (Some(t), None, summary)
        }
        Err(e) => (None, Some(e.to_string()), None),
    }
}
