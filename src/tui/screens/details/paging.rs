//! Paging of the Metadata tab: a window of at most [`WINDOW_ROWS`] rendered rows over a read of any size, pages
//! of [`PAGE_ROWS`] fetched in the background (keyset pages from the store, or slices of a read held in memory).

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Rows fetched per page of the Metadata tab.
pub const PAGE_ROWS: usize = 500;
/// Most rows of the Metadata tab held at once (pages far from the cursor are dropped while scrolling).
pub const WINDOW_ROWS: usize = 5_000;
/// Where the Metadata tab's pages come from.
#[derive(Debug, Clone)]
pub enum PageSource {
    /// Keyset pages read from the store on demand ([`crate::engine::query::page::read_page`]); the table is never read
    /// whole.
    Store,
    /// The whole read, held in memory (stores without an ordered scan, sorts by a column other than the ids):
    /// pages are slices of it.
    Memory(Arc<polars::prelude::DataFrame>),
}
/// Which page to fetch, relative to the loaded rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// The first page (replaces the loaded rows).
    First,
    /// The page after the loaded rows.
    Next,
    /// The page before the loaded rows.
    Previous,
    /// The last page (replaces the loaded rows).
    Last,
}
/// How a page fetch reads its rows.
#[derive(Debug, Clone)]
pub enum PageRequest {
    /// A keyset page from the store.
    Keyset(crate::engine::query::page::PageAt),
    /// Rows `start..start + len` of a read held in memory.
    Slice {
        /// The whole read.
        frame: Arc<polars::prelude::DataFrame>,
        /// First row.
        start: usize,
        /// Rows (at most [`PAGE_ROWS`]; fewer right before the loaded rows near the start).
        len: usize,
    },
}
/// A page of the Metadata tab, rendered on a background task.
#[derive(Debug, Clone)]
pub struct LoadedPage {
    /// The rendered rows (`start` is set when `start` below is known).
    pub table: TableData,
    /// The id columns of the rows (page bounds for the next and previous pages).
    pub ids: polars::prelude::DataFrame,
    /// No row comes before these.
    pub at_start: bool,
    /// No row comes after these.
    pub at_end: bool,
    /// Set by the first page of a read: where the next pages come from.
    pub source: Option<PageSource>,
    /// Rows in the whole read, when known (reads held in memory, reads that fit in one page).
    pub total: Option<usize>,
    /// Position of the first row in the read, when known (slices, first pages).
    pub start: Option<usize>,
}
/// The Metadata tab of one feature: a window of at most [`WINDOW_ROWS`] rows of the read and how to fetch more.
#[derive(Debug, Clone)]
pub struct PagedTable {
    /// The loaded rows (positions `table.start..table.end()` of the read).
    pub table: TableData,
    /// Where pages come from.
    pub source: PageSource,
    /// The id columns of the loaded rows.
    pub ids: polars::prelude::DataFrame,
    /// The first loaded row is the first of the read.
    pub at_start: bool,
    /// The last loaded row is the last of the read.
    pub at_end: bool,
    /// Rows in the read (`None` while they are counted in the background).
    pub total: Option<usize>,
    /// The page being fetched.
    pub fetching: Option<Fetch>,
    /// `G` was pressed before the rows were counted: the last page is fetched when the count arrives.
    pub pending_end: bool,
}
impl PagedTable {
    /// The first page of a read.
    pub fn new(page: LoadedPage) -> Self {
        let mut table = page.table;
        table.start = 0;
        table.paged = true;
        let total = page
            .total
            .or_else(|| page.at_end.then_some(table.rows.len()));
        table.total_rows = total.unwrap_or(table.rows.len());
        table.counting = total.is_none();
        Self {
            table,
            source: page.source.unwrap_or(PageSource::Store),
            ids: page.ids,
            at_start: true,
            at_end: page.at_end,
            total,
            fetching: None,
            pending_end: false,
        }
    }

    /// Adds a fetched page to the window (replacing it for [`Fetch::First`] / [`Fetch::Last`]).
    pub fn apply(&mut self, fetch: Fetch, page: LoadedPage) {
        self.fetching = None;
        let n = page.table.rows.len();
        match fetch {
            Fetch::First | Fetch::Last => {
                let start = match (fetch, page.start, self.total) {
                    (_, Some(s), _) => s,
                    (Fetch::Last, None, Some(t)) => t.saturating_sub(n),
                    _ => 0,
                };
                let (total_rows, counting) = (self.table.total_rows, self.table.counting);
                let widths = std::mem::take(&mut self.table.widths);
                self.table = page.table;
                for (w, old) in self.table.widths.iter_mut().zip(widths) {
                    *w = (*w).max(old);
                }
                self.table.start = start;
                self.table.paged = true;
                self.table.total_rows = total_rows;
                self.table.counting = counting;
                self.ids = page.ids;
                self.at_start = page.at_start || start == 0;
                self.at_end = page.at_end;
            }
            Fetch::Next | Fetch::Previous => {
                let append = fetch == Fetch::Next;
                let (front, back) = self.table.merge(page.table, append, WINDOW_ROWS);
                let ids = if append {
                    self.ids.vstack(&page.ids)
                } else {
                    page.ids.vstack(&self.ids)
                };
                if let Ok(mut ids) = ids {
                    let keep = ids.height().saturating_sub(front + back);
                    ids = ids.slice(front as i64, keep);
                    ids.rechunk_mut();
                    self.ids = ids;
                }
                if append {
                    self.at_end = page.at_end;
                    self.at_start &= front == 0;
                } else {
                    self.at_start = page.at_start || self.table.start == 0;
                    self.at_end &= back == 0;
                }
            }
        }
        // positions are exact (a window grows only from the first page or the counted last page)
        if self.at_end && self.total.is_none() {
            self.set_total(self.table.end());
        }
        self.table.total_rows = self
            .total
            .unwrap_or_else(|| self.table.total_rows.max(self.table.end()));
    }

    /// The rows were counted.
    pub fn set_total(&mut self, total: usize) {
        self.total = Some(total);
        self.table.total_rows = total;
        self.table.counting = false;
    }

    /// How to fetch `fetch` (`None` when there is nothing to fetch).
    pub fn request(&self, fetch: Fetch) -> Option<PageRequest> {
        use crate::engine::query::page::PageAt;
        let t = &self.table;
        match &self.source {
            PageSource::Memory(frame) => {
                let total = frame.height();
                let (start, len) = match fetch {
                    Fetch::First => (0, PAGE_ROWS),
                    Fetch::Last => (total.saturating_sub(PAGE_ROWS), PAGE_ROWS),
                    Fetch::Next if t.end() < total => (t.end(), PAGE_ROWS),
                    Fetch::Previous if t.start > 0 => {
                        let s = t.start.saturating_sub(PAGE_ROWS);
                        (s, t.start - s)
                    }
                    _ => return None,
                };
                Some(PageRequest::Slice {
                    frame: frame.clone(),
                    start,
                    len,
                })
            }
            PageSource::Store => {
                let ids = &self.ids;
                let names: Vec<String> = ids
                    .get_column_names()
                    .iter()
                    .map(|c| c.to_string())
                    .collect();
                let row = |i: usize| crate::engine::query::page::ids_row(ids, &names, i).ok();
                Some(PageRequest::Keyset(match fetch {
                    Fetch::First => PageAt::First,
                    Fetch::Last => PageAt::Last,
                    Fetch::Next if !self.at_end && ids.height() > 0 => {
                        PageAt::After(row(ids.height() - 1)?)
                    }
                    Fetch::Previous if !self.at_start && ids.height() > 0 => {
                        PageAt::Before(row(0)?)
                    }
                    _ => return None,
                }))
            }
        }
    }
}
/// The position of the last row of a counted read.
pub(crate) fn n_last(p: &PagedTable) -> usize {
    p.total.unwrap_or(p.table.end()).saturating_sub(1)
}
