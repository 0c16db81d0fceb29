//! Jobs `ReadMetadata` / `FetchPage`: pages of the Metadata tab, rendered for drawing. Keyset pages come from the
//! store when it has an ordered scan and the view keeps Metaxy's id order; otherwise the whole read is held in
//! memory and pages are slices of it (see `crate::engine::view`).

use std::sync::Arc;

use super::{guarded, Emit};
use crate::engine::keys::FeatureKey;
use crate::engine::query::page::PageRead;
use crate::engine::view::{first_page, id_columns, keyset_page, FirstPage};
use crate::engine::workspace::Workspace;
use crate::tui::app::{Fetch, LoadedPage, PageRequest, PageSource, TableView, PAGE_ROWS};
use crate::tui::msg::JobResult;
use crate::tui::view::frame_table;

/// Reads the first page of `key` as `view` shows it; reports [`JobResult::Metadata`].
pub(super) fn read_first(
    ws: &Workspace,
    key: FeatureKey,
    view: &TableView,
    view_generation: u64,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| first(ws, &key, view));
    emit(JobResult::Metadata {
        key,
        result,
        view: view_generation,
    });
}

/// Fetches a further page; reports [`JobResult::Page`].
pub(super) fn fetch(
    ws: &Workspace,
    key: FeatureKey,
    view: &TableView,
    view_generation: u64,
    fetch: Fetch,
    request: &PageRequest,
    emit: &mut Emit<'_>,
) {
    let result = guarded(|| further(ws, &key, view, request).map(Box::new));
    emit(JobResult::Page {
        view: view_generation,
        key,
        fetch,
        result,
    });
}

/// Renders rows of a feature's read into a page (`ids`: the feature's id columns, frozen and first).
fn render_page(
    df: &polars::prelude::DataFrame,
    ids: &[String],
    at_start: bool,
    at_end: bool,
) -> Result<LoadedPage, String> {
    let present: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|c| df.get_column_index(c).is_some())
        .collect();
    Ok(LoadedPage {
        table: frame_table(df, ids).map_err(|e| e.to_string())?,
        ids: df.select(present).map_err(|e| e.to_string())?,
        at_start,
        at_end,
        source: None,
        total: None,
        start: None,
    })
}

/// The first page of the Metadata tab (`None`: the store has no table for the feature).
fn first(
    ws: &Workspace,
    key: &FeatureKey,
    view: &TableView,
) -> Result<Option<Box<LoadedPage>>, String> {
    let ids = id_columns(ws, key);
    let read = first_page(ws, key, &view.read_options(), view.sort.as_ref(), PAGE_ROWS)
        .map_err(|e| e.to_string())?;
    let page = match read {
        FirstPage::Missing => return Ok(None),
        FirstPage::Keyset { rows, at_end } => {
            let mut page = render_page(&rows, &ids, true, at_end)?;
            page.source = Some(PageSource::Store);
            page
        }
        FirstPage::Whole(df) => {
            let total = df.height();
            let frame = Arc::new(df);
            let mut page = render_page(&frame.slice(0, PAGE_ROWS), &ids, true, total <= PAGE_ROWS)?;
            page.source = Some(PageSource::Memory(frame));
            page.total = Some(total);
            page
        }
    };
    let mut page = page;
    page.start = Some(0);
    Ok(Some(Box::new(page)))
}

/// A further page of the Metadata tab.
fn further(
    ws: &Workspace,
    key: &FeatureKey,
    view: &TableView,
    request: &PageRequest,
) -> Result<LoadedPage, String> {
    let ids = id_columns(ws, key);
    match request {
        PageRequest::Slice { frame, start, len } => {
            let df = frame.slice(*start as i64, *len);
            let end = start + df.height();
            let mut page = render_page(&df, &ids, *start == 0, end >= frame.height())?;
            page.start = Some(*start);
            page.total = Some(frame.height());
            Ok(page)
        }
        PageRequest::Keyset(at) => {
            match keyset_page(ws, key, &view.read_options(), at, PAGE_ROWS)
                .map_err(|e| e.to_string())?
            {
                PageRead::Page(p) => render_page(&p.rows, &ids, p.at_start, p.at_end),
                PageRead::Missing => Err(format!("the store has no table for {key} any more")),
                PageRead::Unsupported => Err(format!("the store cannot page {key}")),
            }
        }
    }
}
