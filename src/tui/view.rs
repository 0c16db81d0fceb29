//! Pre-rendered tables: polars frames turned into rows of display strings on a background task, so the draw path
//! only slices and paints. Mirrors what `metaxy-tui metadata read` / `metadata increment` print, plus the
//! per-field provenance diff of stale samples.

use polars::prelude::DataFrame;

use crate::engine::error::Result;
use crate::engine::json::any_to_cell;
use crate::engine::schema as cols;
use crate::engine::versioning::cause::SampleCause;
use crate::engine::versioning::resolve::Increment;
use crate::engine::versioning::status::FeatureStatus;

/// At most this many rows of a frame are turned into display strings; the table title still reports the full
/// count (`rows 1-20 of 1200000 (first 20000 loaded)`).
pub const MAX_TABLE_ROWS: usize = 20_000;

/// Widest a column gets by default (longer values are truncated on screen; `<` / `>` change it).
pub const MAX_COLUMN_WIDTH: u16 = 48;

/// Widest a column can be made with `>` (and the cap of measured widths).
pub const WIDEST_COLUMN: u16 = 240;

/// How a cell is painted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// An ordinary value.
    Plain,
    /// A null value (dimmed).
    Null,
    /// An id / join column value.
    Key,
    /// A provenance that changed (`old → new`, highlighted): the per-field provenance diff of a stale sample.
    Changed,
    /// A provenance that did not change for a stale sample (dimmed).
    Unchanged,
}

/// One table cell: its text and how to paint it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Display text.
    pub text: String,
    /// Paint style.
    pub kind: CellKind,
}

impl Cell {
    fn new(text: String, kind: CellKind) -> Self {
        Self { text, kind }
    }
}

/// A frame rendered to strings: what the Metadata / New / Stale / Orphaned tabs show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableData {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows (at most [`MAX_TABLE_ROWS`]).
    pub rows: Vec<Vec<Cell>>,
    /// Display width of every column (header and loaded cells, capped at [`WIDEST_COLUMN`]; drawn at most
    /// `App::column_width` wide).
    pub widths: Vec<u16>,
    /// Rows in the frame (may exceed `rows.len()`).
    pub total_rows: usize,
    /// Leading key columns that stay visible while scrolling horizontally.
    pub frozen: usize,
    /// Per loaded row, a SQL predicate selecting it by its id columns (`sample_uid = 's000001'`), used to prefill
    /// delete filters; empty for tables that are not feature rows.
    pub row_filters: Vec<Option<String>>,
    /// Position of `rows[0]` in the whole table (a paged table holds a window of its rows).
    pub start: usize,
    /// `total_rows` is only a lower bound: the rows are still being counted.
    pub counting: bool,
    /// A window of a paged read (more rows are fetched on demand), not a table cut at [`MAX_TABLE_ROWS`].
    pub paged: bool,
}

impl TableData {
    /// Whether only the first [`MAX_TABLE_ROWS`] rows were loaded (a table that is not paged).
    pub fn truncated(&self) -> bool {
        !self.paged && self.total_rows > self.rows.len()
    }

    /// One past the position of the last loaded row.
    pub fn end(&self) -> usize {
        self.start + self.rows.len()
    }

    /// The loaded row at position `pos` of the whole table.
    pub fn row(&self, pos: usize) -> Option<&Vec<Cell>> {
        self.rows.get(pos.checked_sub(self.start)?)
    }

    /// The SQL predicate selecting the loaded row at position `pos` (see [`TableData::row_filters`]).
    pub fn row_filter(&self, pos: usize) -> Option<String> {
        self.row_filters
            .get(pos.checked_sub(self.start)?)
            .cloned()
            .flatten()
    }

    /// `pos` clamped to the loaded rows (the first loaded row when none is).
    pub fn clamp(&self, pos: usize) -> usize {
        pos.clamp(self.start, self.end().saturating_sub(1).max(self.start))
    }

    /// Adds the rows of `page` (rendered like this table) after the loaded rows (`append`) or before them, then
    /// drops rows from the other side beyond `cap` loaded rows; column widths only grow. Returns how many rows
    /// were dropped from the front and from the back.
    pub fn merge(&mut self, page: TableData, append: bool, cap: usize) -> (usize, usize) {
        for (w, p) in self.widths.iter_mut().zip(&page.widths) {
            *w = (*w).max(*p);
        }
        let n = page.rows.len();
        let filters = if page.row_filters.len() == n {
            page.row_filters
        } else {
            vec![None; n]
        };
        if self.row_filters.len() != self.rows.len() {
            self.row_filters = vec![None; self.rows.len()];
        }
        if append {
            self.rows.extend(page.rows);
            self.row_filters.extend(filters);
        } else {
            self.start = self.start.saturating_sub(n);
            let mut rows = page.rows;
            rows.append(&mut self.rows);
            self.rows = rows;
            let mut f = filters;
            f.append(&mut self.row_filters);
            self.row_filters = f;
        }
        let over = self.rows.len().saturating_sub(cap);
        if over == 0 {
            return (0, 0);
        }
        if append {
            self.rows.drain(..over);
            self.row_filters.drain(..over);
            self.start += over;
            (over, 0)
        } else {
            let keep = self.rows.len() - over;
            self.rows.truncate(keep);
            self.row_filters.truncate(keep);
            (0, over)
        }
    }

    fn finish(
        headers: Vec<String>,
        rows: Vec<Vec<Cell>>,
        total_rows: usize,
        frozen: usize,
    ) -> Self {
        let mut widths: Vec<u16> = headers.iter().map(|h| text_width(h)).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(text_width(&c.text));
            }
        }
        for w in &mut widths {
            *w = (*w).clamp(1, WIDEST_COLUMN);
        }
        let frozen = frozen.min(headers.len());
        Self {
            headers,
            rows,
            widths,
            total_rows,
            frozen,
            row_filters: vec![],
            start: 0,
            counting: false,
            paged: false,
        }
    }
}

/// Display width of a string in terminal cells.
pub fn text_width(s: &str) -> u16 {
    ratatui::text::Span::raw(s).width().min(u16::MAX as usize) as u16
}

/// Renders every value of column `name` (first [`MAX_TABLE_ROWS`] rows) with [`any_to_cell`].
fn column_cells(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .head(Some(MAX_TABLE_ROWS))
        .rechunk();
    Ok(s.iter().map(|v| sanitize(any_to_cell(&v))).collect())
}

/// Replaces control characters (newlines, tabs) so that a value stays on one table line.
fn sanitize(s: String) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        s
    }
}

fn has(df: &DataFrame, name: &str) -> bool {
    df.get_column_index(name).is_some()
}

/// The Metadata tab: every column of a default read, the `front` (id) columns first and frozen.
pub fn frame_table(df: &DataFrame, front: &[String]) -> Result<TableData> {
    let mut names: Vec<String> = front.iter().filter(|c| has(df, c)).cloned().collect();
    let frozen = names.len();
    for c in df.get_column_names() {
        if !names.iter().any(|n| n == c.as_str()) {
            names.push(c.to_string());
        }
    }
    let n = df.height().min(MAX_TABLE_ROWS);
    let mut rows: Vec<Vec<Cell>> = (0..n).map(|_| Vec::with_capacity(names.len())).collect();
    for (ci, name) in names.iter().enumerate() {
        for (r, text) in rows.iter_mut().zip(column_cells(df, name)?) {
            let kind = if ci < frozen {
                CellKind::Key
            } else if text == "null" {
                CellKind::Null
            } else {
                CellKind::Plain
            };
            r.push(Cell::new(text, kind));
        }
    }
    let mut t = TableData::finish(names, rows, df.height(), frozen);
    let ids: Vec<String> = front.iter().filter(|c| has(df, c)).cloned().collect();
    if !ids.is_empty() {
        t.row_filters = (0..n)
            .map(|r| crate::engine::ops::mutate::row_predicate(df, r, &ids))
            .collect();
    }
    Ok(t)
}

pub use crate::engine::json::by_field_value;

fn headers_for(inc: &Increment, df: &DataFrame) -> Vec<String> {
    let mut h = inc.key_columns(df);
    h.extend(inc.field_keys.iter().cloned());
    h.push(cols::PROVENANCE.to_string());
    h
}

fn opt_cell(v: Option<String>, kind: CellKind) -> Cell {
    match v {
        Some(s) => Cell::new(sanitize(s), kind),
        None => Cell::new("null".into(), CellKind::Null),
    }
}

fn key_cells(key: Vec<String>) -> Vec<Cell> {
    key.into_iter()
        .map(|t| Cell::new(sanitize(t), CellKind::Key))
        .collect()
}

/// The New or Orphaned tab: join columns, one column per field with its provenance hash, `metaxy_provenance`
/// (rows from the engine's [`Increment::provenance_rows`]).
pub fn provenance_table(inc: &Increment, df: &DataFrame) -> Result<TableData> {
    let headers = headers_for(inc, df);
    let frozen = headers.len() - inc.field_keys.len() - 1;
    let rows = inc
        .provenance_rows(df, Some(MAX_TABLE_ROWS))?
        .into_iter()
        .map(|p| {
            let mut r = key_cells(p.key);
            r.extend(p.fields.into_iter().map(|v| opt_cell(v, CellKind::Plain)));
            r.push(opt_cell(p.provenance, CellKind::Plain));
            r
        })
        .collect();
    Ok(TableData::finish(headers, rows, df.height(), frozen))
}

fn diff_cell(old: Option<Option<String>>, new: Option<String>) -> Cell {
    match (old, new) {
        (Some(o), n) if o == n => opt_cell(n, CellKind::Unchanged),
        (Some(o), n) => Cell::new(
            sanitize(format!(
                "{} → {}",
                o.as_deref().unwrap_or("null"),
                n.as_deref().unwrap_or("null")
            )),
            CellKind::Changed,
        ),
        (None, n) => opt_cell(n, CellKind::Plain),
    }
}

/// The Stale tab: like [`provenance_table`], but every field cell shows `old → new` where the provenance changed
/// and the new hash, dimmed, where it did not: the per-field provenance diff of the engine's
/// [`Increment::stale_diffs`].
pub fn stale_table(inc: &Increment) -> Result<TableData> {
    stale_table_with_causes(inc, None)
}

pub use crate::engine::versioning::cause::cause_text;

/// The Stale tab with a trailing `cause` column (which upstream data versions changed, from
/// [`crate::engine::versioning::cause::stale_causes`]) when `causes` are given.
pub fn stale_table_with_causes(
    inc: &Increment,
    causes: Option<&[SampleCause]>,
) -> Result<TableData> {
    let mut headers = headers_for(inc, &inc.stale);
    let frozen = headers.len() - inc.field_keys.len() - 1;
    let by_key: std::collections::HashMap<&Vec<String>, &SampleCause> = causes
        .unwrap_or_default()
        .iter()
        .map(|c| (&c.key, c))
        .collect();
    if causes.is_some() {
        headers.push("cause".into());
    }
    let rows = inc
        .stale_diffs(Some(MAX_TABLE_ROWS))?
        .into_iter()
        .map(|d| {
            let key = d.expected.key.clone();
            let mut r = key_cells(d.expected.key);
            let (old_fields, old_prov) = match d.stored {
                Some(s) => (s.fields.into_iter().map(Some).collect(), Some(s.provenance)),
                None => (vec![None; d.expected.fields.len()], None),
            };
            for (o, v) in old_fields.into_iter().zip(d.expected.fields) {
                r.push(diff_cell(o, v));
            }
            r.push(diff_cell(old_prov, d.expected.provenance));
            if causes.is_some() {
                r.push(match by_key.get(&key) {
                    Some(c) => Cell::new(cause_text(c), CellKind::Changed),
                    None => Cell::new("-".into(), CellKind::Null),
                });
            }
            r
        })
        .collect();
    Ok(TableData::finish(headers, rows, inc.stale.height(), frozen))
}

/// The three increment tabs of a feature, pre-rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncrementTables {
    /// New samples (in upstream, not stored).
    pub new: TableData,
    /// Stale samples with per-field provenance diffs.
    pub stale: TableData,
    /// Orphaned samples (stored, gone from upstream).
    pub orphaned: TableData,
    /// The aggregated stale causes of these tables ("4 stale: 2 because ..."), when causes were given.
    pub cause_summary: Option<String>,
}

impl IncrementTables {
    /// Renders the three frames of an increment.
    pub fn build(inc: &Increment) -> Result<Self> {
        Self::build_with_causes(inc, None)
    }

    /// Renders the three frames of an increment, the Stale tab with a `cause` column.
    pub fn build_with_causes(inc: &Increment, causes: Option<&[SampleCause]>) -> Result<Self> {
        Ok(Self {
            new: provenance_table(inc, &inc.new)?,
            stale: stale_table_with_causes(inc, causes)?,
            orphaned: provenance_table(inc, &inc.orphaned)?,
            cause_summary: causes
                .filter(|c| !c.is_empty())
                .map(crate::engine::versioning::cause::summary_line),
        })
    }
}

/// One feature's computed status: what the status job reports back (counts only where the store counts them).
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// The status as Metaxy's `metadata status` computes it. Its `increment` is `Some` only where the store
    /// declined to count and the increment was resolved anyway: the on-demand load reuses it.
    pub status: FeatureStatus,
    /// Computed before the last live refresh: shown until the new status replaces it, but not used to load
    /// the increment (the store changed since).
    pub outdated: bool,
}

impl StatusReport {
    /// A report of a freshly computed `status`.
    pub fn build(status: FeatureStatus) -> Self {
        Self {
            status,
            outdated: false,
        }
    }
}

/// A feature's increment loaded for the details pane (on demand, for the selected feature): the frames (for
/// the increment filter and exports), the rendered New / Stale / Orphaned tables and the stale causes.
#[derive(Debug, Clone)]
pub struct LoadedIncrement {
    /// The increment (`resolve_update` with default options, frames sorted by the join columns; only a window
    /// of it when [`LoadedIncrement::paged_in_store`]).
    pub increment: Increment,
    /// The rendered tabs, or why rendering failed.
    pub tables: std::result::Result<IncrementTables, String>,
    /// Why the stale samples are stale, aggregated ("10 stale: 5 because example/video.audio changed, ...");
    /// `None` without stale samples; a failed lookup says so here (the tables still render).
    pub cause_summary: Option<String>,
    /// `increment` holds only the first rows of each kind, computed by the store itself
    /// ([`crate::engine::versioning::pages`]: ClickHouse, large DuckDB and Delta increments; the tables' totals
    /// are the store's counts): a filter or an export of the increment computes the whole increment with the
    /// general engine.
    pub paged_in_store: bool,
}

impl LoadedIncrement {
    /// Renders `inc` without looking causes up.
    pub fn build(inc: Increment) -> Self {
        let tables = IncrementTables::build(&inc).map_err(|e| e.to_string());
        Self {
            increment: inc,
            tables,
            cause_summary: None,
            paged_in_store: false,
        }
    }

    /// Renders `inc` with its stale samples' causes looked up in `store` (slow: reads the upstream features'
    /// history, for at most [`MAX_TABLE_ROWS`] stale samples; call it off the draw path).
    pub fn build_with_causes(
        inc: Increment,
        store: &dyn crate::engine::store::MetadataStore,
        graph: &crate::engine::graph::FeatureGraph,
    ) -> Self {
        if inc.stale.height() == 0 {
            return Self::build(inc);
        }
        let causes = crate::engine::versioning::cause::stale_causes(
            store,
            graph,
            &inc,
            Some(MAX_TABLE_ROWS),
        );
        let (tables, summary) = match &causes {
            Ok(c) => {
                let tables =
                    IncrementTables::build_with_causes(&inc, Some(c)).map_err(|e| e.to_string());
                let mut line = crate::engine::versioning::cause::summary_line(c);
                if inc.stale.height() > c.len() {
                    line = format!("first {} of {}: {line}", c.len(), inc.stale.height());
                }
                let summary = tables.is_ok().then_some(line);
                (tables, summary)
            }
            Err(e) => {
                let tables = IncrementTables::build(&inc).map_err(|e| e.to_string());
                let summary = tables.is_ok().then(|| format!("causes unavailable: {e}"));
                (tables, summary)
            }
        };
        Self {
            increment: inc,
            tables,
            cause_summary: summary,
            paged_in_store: false,
        }
    }

    /// Renders a window of the increment computed by the store ([`crate::engine::versioning::pages::first_pages`]):
    /// each table titled with its kind's total in the store, the causes looked up for the first
    /// [`crate::engine::versioning::pages::CAUSE_ROWS`] loaded stale rows only, reading only their upstream rows
    /// ([`crate::engine::versioning::pages::page_causes`]; the summary says `first N of M: ...` when there are
    /// more stale rows, `causes unavailable: ...` when the lookup fails). Marked
    /// [`LoadedIncrement::paged_in_store`].
    pub fn from_pages(
        paged: crate::engine::versioning::pages::PagedIncrement,
        store: &dyn crate::engine::store::MetadataStore,
        graph: &crate::engine::graph::FeatureGraph,
    ) -> Self {
        use crate::engine::store::count_plan::IncrementKind;
        let inc = &paged.increment;
        let causes = (inc.stale.height() > 0)
            .then(|| crate::engine::versioning::pages::page_causes(store, graph, inc));
        let (built, summary) = match &causes {
            Some(Ok(c)) => {
                let mut line = crate::engine::versioning::cause::summary_line(c);
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
        let (tables, cause_summary) = match built {
            Ok(mut t) => {
                t.new.total_rows = paged.total(IncrementKind::New);
                t.stale.total_rows = paged.total(IncrementKind::Stale);
                t.orphaned.total_rows = paged.total(IncrementKind::Orphaned);
                (Ok(t), summary)
            }
            Err(e) => (Err(e.to_string()), None),
        };
        Self {
            increment: paged.increment,
            tables,
            cause_summary,
            paged_in_store: true,
        }
    }
}
