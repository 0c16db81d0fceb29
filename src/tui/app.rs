//! The TUI state machine: [`App`] (all state), [`Msg`] (everything that can happen: keys, ticks, background
//! results), [`Command`] (slow work the runtime must start) and the pure [`update`] function tying them together.
//! Nothing here touches the terminal or blocks; `super::ui::draw` paints an `&App`.

use std::cell::Cell as StdCell;
use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use ratatui::style::Style;
use tui_textarea::TextArea;

use crate::engine::keys::FeatureKey;
use crate::engine::mutate::{DeletePlan, DeleteRequest, RebasePlan, WritePlan};
use crate::engine::workspace::Workspace;
use crate::tui::dialog::{
    version_choices, DeleteDialog, DeleteStage, Dialog, DialogAction, PickerEntry, RebaseDialog,
    RebaseStage, WriteDialog, WriteStage,
};
use crate::tui::msg::{Command, JobResult, Msg};
use crate::tui::tasks::Job;
use crate::tui::view::TableData;

/// How long a toast stays in the status bar, in ticks (~100 ms each).
pub const TOAST_TICKS: usize = 60;

/// A short message about finished background work, shown in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// The message.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// Ticks left before it disappears.
    pub ticks_left: usize,
}

/// Braille spinner frames (one per [`Msg::Tick`]).
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Rows moved by PgUp / PgDn in the feature list.
const LIST_PAGE: usize = 10;

/// Right-pane tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The feature's default read (current version, latest row per id, soft-deleted hidden).
    Metadata,
    /// Increment: samples in upstream but not stored.
    New,
    /// Increment: samples whose provenance changed (per-field diff).
    Stale,
    /// Increment: stored samples gone from upstream.
    Orphaned,
    /// The feature's definition: ids, fields with versions and parents, deps with lineage, versions, rows.
    Detail,
}

impl Tab {
    /// Tabs in display order (keys `1`-`4`).
    pub const ALL: [Tab; 5] = [
        Tab::Metadata,
        Tab::New,
        Tab::Stale,
        Tab::Orphaned,
        Tab::Detail,
    ];

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        match self {
            Tab::Metadata => 0,
            Tab::New => 1,
            Tab::Stale => 2,
            Tab::Orphaned => 3,
            Tab::Detail => 4,
        }
    }

    /// Tab label without counts.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Metadata => "Metadata",
            Tab::New => "New",
            Tab::Stale => "Stale",
            Tab::Orphaned => "Orphaned",
            Tab::Detail => "Detail",
        }
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// How the Metadata tab reads and shows a feature's rows (Metaxy read options plus a SQL filter and a sort).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableView {
    /// SQL WHERE filter (`f`), applied after Metaxy's read semantics.
    pub filter: Option<String>,
    /// Rows of every feature version (`F`).
    pub with_feature_history: bool,
    /// Every stored row per sample, not only the latest (`A`).
    pub with_sample_history: bool,
    /// Soft-deleted rows too (`D`).
    pub include_soft_deleted: bool,
    /// Sort column and descending (`o` / `O`).
    pub sort: Option<(String, bool)>,
}

impl TableView {
    /// The engine read options of this view.
    pub fn read_options(&self) -> crate::engine::read::ReadOptions {
        crate::engine::read::ReadOptions {
            with_feature_history: self.with_feature_history,
            with_sample_history: self.with_sample_history,
            include_soft_deleted: self.include_soft_deleted,
            feature_version: None,
            unsorted: false,
            filters: self.filter.iter().cloned().collect(),
            columns: Default::default(),
        }
    }

    /// `filter: … · all versions · sample history · soft-deleted · sorted by x ↓`, or `None` for Metaxy's default
    /// read.
    pub fn describe(&self) -> Option<String> {
        let mut p = vec![];
        if let Some(f) = &self.filter {
            p.push(format!("filter: {f}"));
        }
        if self.with_feature_history {
            p.push("all feature versions".into());
        }
        if self.with_sample_history {
            p.push("every row per sample".into());
        }
        if self.include_soft_deleted {
            p.push("soft-deleted rows shown".into());
        }
        if let Some((c, desc)) = &self.sort {
            p.push(format!("sorted by {c} {}", if *desc { "↓" } else { "↑" }));
        }
        (!p.is_empty()).then(|| p.join(" · "))
    }
}

/// Rows fetched per page of the Metadata tab.
pub const PAGE_ROWS: usize = 500;
/// Most rows of the Metadata tab held at once (pages far from the cursor are dropped while scrolling).
pub const WINDOW_ROWS: usize = 5_000;

/// Where the Metadata tab's pages come from.
#[derive(Debug, Clone)]
pub enum PageSource {
    /// Keyset pages read from the store on demand ([`crate::engine::page::read_page`]); the table is never read
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
    Keyset(crate::engine::page::PageAt),
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
        use crate::engine::page::PageAt;
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
                let row = |i: usize| crate::engine::page::ids_row(ids, &names, i).ok();
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

/// Where the last frame put the clickable parts (written by draw, read by mouse handling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    /// The feature list's rows (inside its border).
    pub list: ratatui::layout::Rect,
    /// Lines per list item (1, or 2 when the status goes below the key).
    pub list_item_height: u16,
    /// The tab bar.
    pub tabs: ratatui::layout::Rect,
    /// The table body (header row first).
    pub table: ratatui::layout::Rect,
}

/// The command palette (`:`): a fuzzy-filtered list of commands, run by the key that does the same.
pub struct Palette {
    /// What is typed.
    pub input: TextArea<'static>,
    /// Cursor among the matches.
    pub cursor: usize,
}

/// Commands of the palette: `(name, what it does, key it sends)`.
pub const PALETTE: &[(&str, &str, char)] = &[
    ("graph", "draw the feature graph", 'v'),
    ("history", "pushed versions and graph diffs", 'H'),
    ("stores", "every configured store; open another", 'S'),
    ("reload", "re-open the store and recompute statuses", 'r'),
    ("delete", "delete rows of the selected feature", 'd'),
    (
        "rebase",
        "rebase the selected feature from an older version",
        'R',
    ),
    ("write", "write rows from a file", 'w'),
    ("filter", "SQL filter of the Metadata tab", 'f'),
    ("export", "export the Metadata view", 'e'),
    (
        "toggle feature history",
        "Metadata tab: every feature version",
        'F',
    ),
    (
        "toggle sample history",
        "Metadata tab: every stored row per sample",
        'A',
    ),
    (
        "toggle soft-deleted",
        "Metadata tab: soft-deleted rows",
        'D',
    ),
    ("sort", "Metadata tab: sort by the next column", 'o'),
    ("columns", "Metadata tab: show / hide columns", 's'),
    ("wider columns", "tables: widen every column", '>'),
    ("narrower columns", "tables: narrow every column", '<'),
    ("tab metadata", "the default read", '1'),
    ("tab new", "new samples", '2'),
    ("tab stale", "stale samples and why", '3'),
    ("tab orphaned", "orphaned samples", '4'),
    ("tab detail", "the feature's definition", '5'),
    ("search features", "fuzzy filter of the feature list", '/'),
    ("help", "every key", '?'),
    ("quit", "leave metaxy-tui", 'q'),
];

/// Palette entries matching `query` (fuzzy, best first; all in order for an empty query).
pub fn palette_matches(query: &str) -> Vec<usize> {
    if query.is_empty() {
        return (0..PALETTE.len()).collect();
    }
    let m = SkimMatcherV2::default();
    let mut v: Vec<(i64, usize)> = PALETTE
        .iter()
        .enumerate()
        .filter_map(|(i, (name, desc, _))| {
            let a = m.fuzzy_match(name, query);
            let b = m.fuzzy_match(desc, query).map(|s| s / 2);
            a.max(b).map(|s| (s, i))
        })
        .collect();
    v.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
    v.into_iter().map(|(_, i)| i).collect()
}

/// The top-level screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Feature list and the selected feature's tables.
    Features,
    /// The feature graph drawing (`v`).
    Graph,
    /// Pushed project versions and the graph diff between two of them (`H`).
    History,
    /// Every configured store, whether it can be opened; Enter opens one (`S`).
    Stores,
}

/// One line of the stores screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRow {
    /// Store name.
    pub name: String,
    /// The config's default store.
    pub is_default: bool,
    /// Backend (`DuckDBMetadataStore`), or the configured class name of an unsupported type.
    pub kind: String,
    /// Location as configured (DuckDB `database`, Delta `root_path`, LanceDB `uri`).
    pub location: String,
    /// Hash algorithm.
    pub hash: String,
    /// Fallback stores.
    pub fallbacks: Vec<String>,
    /// Whether metaxy-tui can open this type.
    pub supported: bool,
}

/// State of the history screen.
#[derive(Debug, Clone, Default)]
pub struct HistoryState {
    /// Cursor in the snapshot list (newest first).
    pub cursor: usize,
    /// The base version marked with `x` (the diff is base → cursor; without a mark, the version before the
    /// cursor's → cursor's).
    pub base: Option<String>,
    /// The diff shown, recomputed when the cursor or the base changes.
    pub diff: Option<Result<crate::engine::graph_diff::GraphDiff, String>>,
    /// First line of the diff pane shown.
    pub scroll: usize,
    /// Stored rows per feature and feature version (`None` while counting).
    pub rows: Option<HashMap<String, Vec<(String, usize)>>>,
}

/// What `R` on the history screen does for the selected feature at the cursor's project version (also shown on
/// that screen before the key is pressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryRebase {
    /// A root feature: nothing to rebase (Metaxy refuses).
    Root(FeatureKey),
    /// The feature is not part of the cursor's project version.
    Absent {
        /// The feature.
        key: FeatureKey,
        /// The cursor's project version.
        project_version: String,
    },
    /// The feature has its current feature version in the cursor's project version: nothing to rebase.
    Current {
        /// The feature.
        key: FeatureKey,
        /// Its (current) feature version.
        version: String,
    },
    /// Rebase `key` from `from` (its stored feature version in the cursor's project version) to `current`.
    From {
        /// The feature.
        key: FeatureKey,
        /// Source feature version.
        from: String,
        /// Current (target) feature version.
        current: String,
        /// The cursor's project version.
        project_version: String,
    },
}

/// Which pane receives movement keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    /// The feature list (left).
    #[default]
    List,
    /// The table of the current tab (right).
    Details,
}

/// Something loaded in the background.
#[derive(Debug, Clone)]
pub enum Load<T> {
    /// Still running (a spinner is shown).
    Loading,
    /// Done.
    Ready(T),
    /// Failed with this message.
    Failed(String),
}

/// The workspace (config + store + graph) being opened, opened, or not openable.
#[derive(Clone)]
pub enum WorkspaceState {
    /// `Workspace::open` / `open_demo` is running.
    Opening,
    /// Opened.
    Ready(Arc<Workspace>),
    /// Opening failed (no config, store missing, corrupt table, no pushed graph...): the message is shown.
    Failed(String),
}

/// One line of the feature list.
#[derive(Debug, Clone)]
pub struct FeatureEntry {
    /// Feature key.
    pub key: FeatureKey,
    /// Computed status (`None` while computing).
    pub report: Option<Box<StatusReport>>,
}

/// One line of the (possibly filtered) feature list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleFeature {
    /// Index into [`App::features`].
    pub index: usize,
    /// Character positions of the feature key matched by the filter (empty without a filter).
    pub matched: Vec<usize>,
}

/// The features matching `query` by fuzzy match on the key (skim's algorithm, smart case): best score first, ties
/// in graph order, with the matched character positions. An empty query keeps every feature in graph order.
pub fn filter_features(features: &[FeatureEntry], query: &str) -> Vec<VisibleFeature> {
    if query.is_empty() {
        return (0..features.len())
            .map(|index| VisibleFeature {
                index,
                matched: vec![],
            })
            .collect();
    }
    let matcher = SkimMatcherV2::default();
    let mut scored: Vec<(i64, VisibleFeature)> = features
        .iter()
        .enumerate()
        .filter_map(|(index, f)| {
            let (score, matched) = matcher.fuzzy_indices(&f.key.to_string(), query)?;
            Some((score, VisibleFeature { index, matched }))
        })
        .collect();
    // stable: equal scores keep graph order
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.into_iter().map(|(_, v)| v).collect()
}

/// Scroll state of one table tab. `offset` and `page` are written back by the draw pass (like ratatui's
/// `TableState`), so that paging and keeping the cursor visible follow the real viewport.
#[derive(Debug, Clone, Default)]
pub struct TableNav {
    /// Cursor row.
    pub cursor: usize,
    /// Horizontal scroll: number of non-frozen columns skipped.
    pub col: usize,
    /// First visible row (maintained by draw).
    pub offset: StdCell<usize>,
    /// Visible body rows at the last draw.
    pub page: StdCell<usize>,
    /// Largest useful horizontal scroll at the last draw (the last columns all fit from there).
    pub max_col: StdCell<usize>,
}

impl TableNav {
    /// Row range shown for `total` rows with `height` visible rows, keeping the cursor visible; remembers it.
    pub fn visible(&self, total: usize, height: usize) -> (usize, usize) {
        self.visible_in(0, total, height)
    }

    /// Row range shown of the loaded rows `start..start + len` (positions in the whole table) with `height`
    /// visible rows, keeping the cursor (clamped to the loaded rows) visible; remembers it.
    pub fn visible_in(&self, start: usize, len: usize, height: usize) -> (usize, usize) {
        let height = height.max(1);
        let total = start + len;
        let last = total.saturating_sub(1).max(start);
        let cursor = self.cursor.clamp(start, last);
        let mut off = self.offset.get().clamp(start, last);
        if cursor < off {
            off = cursor;
        } else if cursor >= off + height {
            off = cursor + 1 - height;
        }
        self.offset.set(off);
        self.page.set(height);
        (off, (off + height).min(total))
    }
}

/// The position of the last row of a counted read.
fn n_last(p: &PagedTable) -> usize {
    p.total.unwrap_or(p.table.end()).saturating_sub(1)
}

/// State of the features screen's left pane: the feature list, its filter and the selection.
#[derive(Default)]
pub struct FeaturesScreen {
    /// Features of `ws.graph.features`, in graph order, with their statuses.
    pub entries: Vec<FeatureEntry>,
    /// Selected feature index (into `entries`). While any feature is visible, it is one of them.
    pub selected: usize,
    /// The feature-list filter (`/`): a fuzzy query on feature keys; empty for none.
    pub filter: String,
    /// The filter being typed (`Some` while the one-line input has the keyboard).
    pub filter_input: Option<TextArea<'static>>,
    /// The lines of the feature list in display order: the features matching [`FeaturesScreen::filter`].
    pub visible: Vec<VisibleFeature>,
    /// First visible line of the feature list (maintained by draw).
    pub list_offset: StdCell<usize>,
    /// Focused pane.
    pub focus: Focus,
    /// Feature to reselect after a reload.
    pub(crate) reselect: Option<FeatureKey>,
    /// The status computation was cancelled with Esc (features without a status stay unknown until `r`).
    pub statuses_cancelled: bool,
    /// `ws.graph.mismatches().len()` of the opened workspace (stored vs recomputed versions).
    pub mismatches: usize,
}

/// State of the features screen's right pane: the tabs, their reads, views, filters and scroll.
pub struct Details {
    /// Active right-pane tab.
    pub tab: Tab,
    /// Scroll state per tab (reset when the selection changes).
    pub nav: [TableNav; 5],
    /// Default reads per feature (`Ready(None)`: the store has no table for it).
    pub metadata: HashMap<FeatureKey, Load<Option<Box<PagedTable>>>>,
    /// The feature whose read is running (at most one at a time; the latest selection wins).
    pub read_in_flight: Option<FeatureKey>,
    /// How the Metadata tab reads rows.
    pub view: TableView,
    /// Bumped when [`Details::view`] changes; reads of an older view are dropped.
    pub view_generation: u64,
    /// The SQL filter being typed (`f`).
    pub sql_input: Option<TextArea<'static>>,
    /// Filters applied before, newest last (Up / Down in the filter input).
    pub sql_history: Vec<String>,
    /// Position in [`Details::sql_history`] while browsing it.
    pub(crate) sql_history_pos: Option<usize>,
    /// SQL filter of the increment tabs (New / Stale / Orphaned), applied to every feature's increment.
    pub inc_filter: Option<String>,
    /// Filtered increment tables per feature (while [`Details::inc_filter`] is set).
    pub inc_filtered: HashMap<FeatureKey, Load<crate::tui::view::IncrementTables>>,
    /// Whether the SQL input edits the increment filter (else the Metadata filter).
    pub(crate) sql_for_increment: bool,
    /// Rows of the Metadata tab marked with `x` (positions in the read) with the SQL predicate selecting each,
    /// for a delete of those samples.
    pub marked: std::collections::BTreeMap<usize, Option<String>>,
    /// Columns of the Metadata table hidden with the column picker (`s`), by name, for every feature.
    pub hidden_columns: std::collections::BTreeSet<String>,
    /// Widest a table column is drawn (`<` / `>`), in cells.
    pub column_width: u16,
}

impl Default for Details {
    fn default() -> Self {
        Self {
            tab: Tab::Metadata,
            nav: Default::default(),
            metadata: HashMap::new(),
            read_in_flight: None,
            view: TableView::default(),
            view_generation: 0,
            sql_input: None,
            sql_history: vec![],
            sql_history_pos: None,
            inc_filter: None,
            inc_filtered: HashMap::new(),
            sql_for_increment: false,
            marked: Default::default(),
            hidden_columns: Default::default(),
            column_width: crate::tui::view::MAX_COLUMN_WIDTH,
        }
    }
}

/// State of the graph screen.
#[derive(Debug, Default)]
pub struct GraphScreen {
    /// Scroll of the graph drawing (columns, rows; maintained by draw to keep the selection visible).
    pub scroll: StdCell<(usize, usize)>,
    /// Key prefixes collapsed into one node (`c` / `C`).
    pub collapsed: std::collections::BTreeSet<String>,
}

/// State of the stores screen.
#[derive(Debug, Default)]
pub struct StoresScreen {
    /// Cursor in the list.
    pub cursor: usize,
    /// Whether each configured store can be opened (by name): `Ready(what it holds)` or `Failed(why not)`.
    pub probes: HashMap<String, Load<String>>,
    /// The store picked here (opened instead of the configured default from then on).
    pub picked: Option<String>,
}

/// What is drawn over the screens and has the keyboard first.
#[derive(Default)]
pub struct Overlay {
    /// The open dialog (delete, rebase, write, error popup, ...).
    pub dialog: Option<Dialog>,
    /// The open command palette.
    pub palette: Option<Palette>,
    /// Help overlay visible.
    pub help: bool,
}

/// Where the TUI runs: what it opens and the process's working directory.
#[derive(Debug, Clone)]
pub struct Env {
    /// What is being opened (shown while opening and on errors), e.g. `demo store` or a directory.
    pub source: String,
    /// Directory the write dialog's file picker starts in (the process's working directory).
    pub cwd: std::path::PathBuf,
}

/// Everything the TUI knows. [`update`] changes it, `draw` paints it.
pub struct App {
    /// Bumped by every (re)load; background results from older generations are dropped.
    pub generation: u64,
    /// The workspace.
    pub ws: WorkspaceState,
    /// What is opened, and from where.
    pub env: Env,
    /// The top-level screen.
    pub screen: Screen,
    /// The feature list (left pane of the features screen).
    pub features: FeaturesScreen,
    /// The tabs of the selected feature (right pane of the features screen).
    pub details: Details,
    /// The graph screen.
    pub graph: GraphScreen,
    /// The history screen.
    pub history: HistoryState,
    /// The stores screen.
    pub stores: StoresScreen,
    /// Dialog, palette and help.
    pub overlay: Overlay,
    /// The last toast (finished write, failure), until it times out.
    pub toast: Option<Toast>,
    /// Spinner frame counter ([`Msg::Tick`]).
    pub tick: usize,
    /// Set by `q` / Ctrl-C.
    pub should_quit: bool,
    /// Clickable areas of the last frame.
    pub areas: StdCell<Areas>,
    /// Cancellation tokens of the background jobs of the current generation.
    pub tasks: crate::tui::tasks::Running,
}

impl App {
    /// A fresh app about to open `source` (a label for the loading screen). Call [`App::start`] for the first
    /// command.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            generation: 0,
            ws: WorkspaceState::Opening,
            env: Env {
                source: source.into(),
                cwd: std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/")),
            },
            screen: Screen::Features,
            features: FeaturesScreen::default(),
            details: Details::default(),
            graph: GraphScreen::default(),
            history: HistoryState::default(),
            stores: StoresScreen::default(),
            overlay: Overlay::default(),
            toast: None,
            tick: 0,
            should_quit: false,
            areas: StdCell::new(Areas::default()),
            tasks: Default::default(),
        }
    }

    /// Starts (or restarts) opening the workspace: a new generation, everything loaded so far dropped.
    pub fn start(&mut self) -> Vec<Command> {
        self.generation += 1;
        // jobs of the previous generation: their results would be dropped anyway
        self.tasks.cancel_all();
        self.features.reselect = self
            .selected_entry()
            .map(|e| e.key.clone())
            .or(self.features.reselect.take());
        self.ws = WorkspaceState::Opening;
        self.features.entries.clear();
        self.features.visible.clear();
        self.details.metadata.clear();
        self.details.read_in_flight = None;
        self.reset_nav();
        self.history = HistoryState::default();
        self.details.inc_filtered.clear();
        self.features.statuses_cancelled = false;
        self.stores.probes.clear();
        let job = match &self.stores.picked {
            Some(store) => Job::SwitchStore {
                store: store.clone(),
            },
            None => Job::Open,
        };
        vec![self.task(job)]
    }

    /// A background job of the current generation, with a cancellation token of its own (the status
    /// computation's is kept for Esc).
    pub(crate) fn task(&mut self, job: Job) -> Command {
        let cancel = self.tasks.token();
        if matches!(job, Job::ComputeStatuses { .. }) {
            self.tasks.statuses = Some(cancel.clone());
        }
        Command::Task {
            generation: self.generation,
            cancel,
            job,
        }
    }

    /// The opened workspace, if any.
    pub fn workspace(&self) -> Option<&Arc<Workspace>> {
        match &self.ws {
            WorkspaceState::Ready(ws) => Some(ws),
            _ => None,
        }
    }

    /// The selected feature line (`None` when no feature is visible, e.g. nothing matches the filter).
    pub fn selected_entry(&self) -> Option<&FeatureEntry> {
        if self.features.visible.is_empty() {
            return None;
        }
        self.features.entries.get(self.features.selected)
    }

    /// Position of the selected feature in [`App::visible`].
    pub fn selected_position(&self) -> Option<usize> {
        self.features
            .visible
            .iter()
            .position(|v| v.index == self.features.selected)
    }

    /// The current spinner frame.
    pub fn spinner(&self) -> &'static str {
        SPINNER[self.tick % SPINNER.len()]
    }

    /// Statuses computed so far.
    pub fn statuses_done(&self) -> usize {
        self.features
            .entries
            .iter()
            .filter(|f| f.report.is_some())
            .count()
    }

    /// The table the current tab shows, if it is loaded.
    pub fn current_table(&self) -> Option<&TableData> {
        let e = self.selected_entry()?;
        match self.details.tab {
            Tab::Metadata => match self.details.metadata.get(&e.key)? {
                Load::Ready(Some(p)) => Some(&p.table),
                _ => None,
            },
            Tab::Detail => None,
            tab => {
                let t = if self.details.inc_filter.is_some() {
                    match self.details.inc_filtered.get(&e.key)? {
                        Load::Ready(t) => t,
                        _ => return None,
                    }
                } else {
                    e.report.as_ref()?.tables.as_ref()?
                };
                Some(match tab {
                    Tab::New => &t.new,
                    Tab::Stale => &t.stale,
                    _ => &t.orphaned,
                })
            }
        }
    }

    fn reset_nav(&mut self) {
        self.details.nav = Default::default();
        self.details.marked.clear();
    }

    /// Shows an error popup.
    pub fn error_popup(&mut self, title: impl Into<String>, message: impl Into<String>) {
        self.overlay.dialog = Some(Dialog::Error {
            title: title.into(),
            message: message.into(),
        });
    }

    fn toast(&mut self, text: String, error: bool) {
        self.toast = Some(Toast {
            text,
            error,
            ticks_left: TOAST_TICKS,
        });
    }

    /// Why writes are refused in this state (a historical snapshot, no workspace), if they are.
    fn writes_refused(&self) -> Option<String> {
        let ws = self.workspace()?;
        ws.snapshot.as_ref().map(|s| {
            format!("The store is open on the historical graph {s}; deletes and rebases use the current graph. Reopen without --snapshot.")
        })
    }

    /// `d`: opens the delete dialog for the selected feature, the filter prefilled with the marked rows (`x`) or,
    /// in the focused Metadata table, the cursor row.
    fn open_delete(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot delete", m);
            return vec![];
        }
        let mut filter = String::new();
        if self.details.tab == Tab::Metadata {
            if let Some(t) = self.current_table() {
                let preds: Vec<String> = if !self.details.marked.is_empty() {
                    self.details.marked.values().flatten().cloned().collect()
                } else if self.features.focus == Focus::Details {
                    t.row_filter(t.clamp(self.details.nav[0].cursor))
                        .into_iter()
                        .collect()
                } else {
                    vec![]
                };
                filter = match preds.len() {
                    0 => String::new(),
                    1 => preds[0].clone(),
                    _ => preds
                        .iter()
                        .map(|p| format!("({p})"))
                        .collect::<Vec<_>>()
                        .join(" OR "),
                };
            }
        }
        self.overlay.dialog = Some(Dialog::Delete(Box::new(DeleteDialog::new(key, &filter))));
        vec![]
    }

    /// `R`: opens the rebase dialog for the selected feature (feature versions from the pushed history, with
    /// their stored row counts loading in the background).
    fn open_rebase(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot rebase", m);
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(def) = ws.graph.get(&key) else {
            return vec![];
        };
        if def.spec.is_root() {
            self.error_popup("Cannot rebase", root_rebase_message(&key));
            return vec![];
        }
        let current = ws
            .graph
            .feature_version(&key)
            .unwrap_or_default()
            .to_string();
        let versions = version_choices(&ws.pushed, &key, &current);
        let cursor = versions.iter().position(|v| !v.current).unwrap_or(0);
        self.overlay.dialog = Some(Dialog::Rebase(RebaseDialog {
            feature: key.clone(),
            current,
            versions,
            cursor,
            stage: RebaseStage::Pick,
        }));
        vec![self.task(Job::CountVersions { ws, key })]
    }

    /// What `R` on the history screen would do: the selected feature (of the feature list) at the project version
    /// under the history cursor. `None` without a workspace, a selected feature or a pushed version.
    pub fn history_rebase(&self) -> Option<HistoryRebase> {
        let ws = self.workspace()?;
        let key = self.selected_entry()?.key.clone();
        let snap = ws
            .history()
            .get(self.history.cursor)?
            .project_version
            .clone();
        let def = ws.graph.get(&key)?;
        if def.spec.is_root() {
            return Some(HistoryRebase::Root(key));
        }
        let current = ws
            .graph
            .feature_version(&key)
            .unwrap_or_default()
            .to_string();
        let Some(row) =
            crate::engine::graph::pushed_row(&ws.pushed, &ws.graph.project, &snap, &key)
        else {
            return Some(HistoryRebase::Absent {
                key,
                project_version: snap,
            });
        };
        if row.feature_version == current {
            return Some(HistoryRebase::Current {
                key,
                version: current,
            });
        }
        Some(HistoryRebase::From {
            key,
            from: row.feature_version.clone(),
            current,
            project_version: snap,
        })
    }

    /// `R` on the history screen: the rebase preview of the selected feature from its feature version in the
    /// project version under the cursor (the picker of [`Self::open_rebase`] skipped), then the usual confirmation.
    fn rebase_from_history(&mut self) -> Vec<Command> {
        if self.selected_entry().is_none() {
            return vec![];
        }
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot rebase", m);
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        match self.history_rebase() {
            None => vec![],
            Some(HistoryRebase::Root(key)) => {
                self.error_popup("Cannot rebase", root_rebase_message(&key));
                vec![]
            }
            Some(HistoryRebase::Absent {
                key,
                project_version,
            }) => {
                self.error_popup(
                    "Cannot rebase",
                    format!("{key} is not part of project version {project_version}: pick a version that has it (j/k)."),
                );
                vec![]
            }
            Some(HistoryRebase::Current { key, version }) => {
                self.error_popup(
                    "Nothing to rebase",
                    format!("{key} has its current feature version {version} in this project version. Pick an older project version (j/k) to rebase its rows from."),
                );
                vec![]
            }
            Some(HistoryRebase::From {
                key, from, current, ..
            }) => {
                let versions = version_choices(&ws.pushed, &key, &current);
                let cursor = versions
                    .iter()
                    .position(|v| v.feature_version == from)
                    .unwrap_or(0);
                self.overlay.dialog = Some(Dialog::Rebase(RebaseDialog {
                    feature: key.clone(),
                    current,
                    versions,
                    cursor,
                    stage: RebaseStage::Planning,
                }));
                vec![self.task(Job::PlanRebase { ws, key, from })]
            }
        }
    }

    /// `w`: opens the write dialog for the selected feature (a file picker in the working directory).
    fn open_write(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot write", m);
            return vec![];
        }
        let dir = self.env.cwd.clone();
        self.overlay.dialog = Some(Dialog::Write(Box::new(WriteDialog::new(key, dir.clone()))));
        vec![self.task(Job::ListDir { dir })]
    }

    fn on_dialog_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(dialog) = self.overlay.dialog.as_mut() else {
            return vec![];
        };
        let action = dialog.on_key(key);
        let ws = self.workspace().cloned();
        let generation = self.generation;
        match (action, ws) {
            (DialogAction::None, _) => vec![],
            (DialogAction::Close, _) => {
                self.overlay.dialog = None;
                vec![]
            }
            (_, None) => {
                self.overlay.dialog = None;
                vec![]
            }
            (DialogAction::PlanDelete(request), Some(ws)) => {
                vec![self.task(Job::PlanDelete { ws, request })]
            }
            (DialogAction::ExecuteDelete(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteDelete { ws, plan })]
            }
            (DialogAction::PlanRebase(from), Some(ws)) => {
                let Some(Dialog::Rebase(r)) = &self.overlay.dialog else {
                    return vec![];
                };
                vec![self.task(Job::PlanRebase {
                    ws,
                    key: r.feature.clone(),
                    from,
                })]
            }
            (DialogAction::ExecuteRebase(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteRebase { ws, plan })]
            }
            (DialogAction::ListDir(dir), Some(_)) => vec![self.task(Job::ListDir { dir })],
            (DialogAction::HideColumns(cols), _) => {
                self.overlay.dialog = None;
                self.details.hidden_columns = cols.into_iter().collect();
                self.details.nav[Tab::Metadata.index()].col = 0;
                vec![]
            }
            (DialogAction::Copy(text), _) => {
                self.toast("copied the row to the clipboard (OSC 52)".into(), false);
                vec![Command::Copy(text)]
            }
            (DialogAction::PlanWrite(path), Some(ws)) => {
                let Some(Dialog::Write(w)) = &self.overlay.dialog else {
                    return vec![];
                };
                vec![self.task(Job::PlanWrite {
                    ws,
                    key: w.feature.clone(),
                    path,
                })]
            }
            (DialogAction::ExecuteWrite(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteWrite { ws, plan })]
            }
            (DialogAction::Export(path), Some(ws)) => {
                let Some(Dialog::Export { feature, .. }) = &self.overlay.dialog else {
                    return vec![];
                };
                let path = if path.is_absolute() {
                    path
                } else {
                    self.env.cwd.join(path)
                };
                if matches!(self.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
                    let Some(inc) = self
                        .selected_entry()
                        .and_then(|e| e.report.as_ref())
                        .and_then(|r| r.status.increment.clone())
                    else {
                        self.overlay.dialog = None;
                        return vec![];
                    };
                    let frame = match self.details.tab {
                        Tab::New => inc.new,
                        Tab::Stale => inc.stale,
                        _ => inc.orphaned,
                    };
                    let rows = match &self.details.inc_filter {
                        None => frame,
                        Some(f) => {
                            match crate::engine::read::apply_filters(frame, std::slice::from_ref(f))
                            {
                                Ok(r) => r,
                                Err(e) => {
                                    self.error_popup("Export failed", e.to_string());
                                    return vec![];
                                }
                            }
                        }
                    };
                    return vec![self.task(Job::ExportIncrement {
                        rows,
                        what: format!(
                            "{} samples of {feature}",
                            self.details.tab.label().to_lowercase()
                        ),
                        path,
                    })];
                }
                vec![self.task(Job::Export {
                    ws,
                    key: feature.clone(),
                    view: self.details.view.clone(),
                    path,
                })]
            }
        }
    }

    /// Selects the feature at position `pos` of the visible list (clamped; nothing when none is visible).
    fn select(&mut self, pos: usize) -> Vec<Command> {
        let Some(last) = self.features.visible.len().checked_sub(1) else {
            return vec![];
        };
        let i = self.features.visible[pos.min(last)].index;
        if i != self.features.selected {
            self.features.selected = i;
            self.reset_nav();
        }
        let mut c = self.want_metadata();
        c.extend(self.want_inc_filter());
        c
    }

    /// Starts the default read of the selected feature when the Metadata tab shows it and it is not loaded yet
    /// (one read at a time; when it finishes, the then-selected feature is considered again).
    fn want_metadata(&mut self) -> Vec<Command> {
        if self.details.tab != Tab::Metadata || self.details.read_in_flight.is_some() {
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if self.details.metadata.contains_key(&key) {
            return vec![];
        }
        self.details.metadata.insert(key.clone(), Load::Loading);
        self.details.read_in_flight = Some(key.clone());
        vec![self.task(Job::ReadMetadata {
            ws,
            key,
            view: self.details.view.clone(),
            view_generation: self.details.view_generation,
        })]
    }

    /// Applies a new view: drops every loaded read and reads the selected feature again.
    fn set_view(&mut self, view: TableView) -> Vec<Command> {
        if view == self.details.view {
            return vec![];
        }
        self.details.view = view;
        self.details.view_generation += 1;
        self.details.metadata.clear();
        self.details.read_in_flight = None;
        self.details.nav[Tab::Metadata.index()] = TableNav::default();
        self.details.marked.clear();
        self.want_metadata()
    }

    /// Keys of the Metadata tab's view: `f` filter, `F` / `A` / `D` toggles, `o` / `O` sort, `y` copy the row,
    /// `e` export. `None` when the key is not one of them.
    fn on_view_key(&mut self, key: KeyEvent) -> Option<Vec<Command>> {
        if matches!(self.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
            return self.on_increment_view_key(key);
        }
        if self.details.tab != Tab::Metadata {
            return None;
        }
        let mut v = self.details.view.clone();
        match key.code {
            KeyCode::Char('f') => {
                self.details.sql_input = Some(crate::tui::dialog::line_input(
                    self.details.view.filter.as_deref().unwrap_or(""),
                ));
                self.details.sql_history_pos = None;
                return Some(vec![]);
            }
            KeyCode::Char('F') => v.with_feature_history = !v.with_feature_history,
            KeyCode::Char('A') => v.with_sample_history = !v.with_sample_history,
            KeyCode::Char('D') => v.include_soft_deleted = !v.include_soft_deleted,
            KeyCode::Char('o') | KeyCode::Char('O') => {
                let headers: Vec<String> = self
                    .current_table()
                    .map(|t| t.headers.clone())
                    .unwrap_or_default();
                if headers.is_empty() {
                    return Some(vec![]);
                }
                v.sort = match (&v.sort, key.code) {
                    (Some((c, d)), KeyCode::Char('O')) => Some((c.clone(), !d)),
                    (None, KeyCode::Char('O')) => Some((headers[0].clone(), true)),
                    (None, _) => Some((headers[0].clone(), false)),
                    (Some((c, _)), _) => headers
                        .iter()
                        .position(|h| h == c)
                        .and_then(|i| headers.get(i + 1))
                        .map(|h| (h.clone(), false)),
                };
            }
            KeyCode::Char('y') if self.features.focus == Focus::Details => {
                let Some(t) = self.current_table() else {
                    return Some(vec![]);
                };
                let c = t.clamp(self.details.nav[0].cursor);
                let Some(row) = t.row(c) else {
                    return Some(vec![]);
                };
                let obj: serde_json::Map<String, serde_json::Value> = t
                    .headers
                    .iter()
                    .zip(row)
                    .map(|(h, cell)| (h.clone(), serde_json::Value::String(cell.text.clone())))
                    .collect();
                let text = serde_json::to_string(&obj).unwrap_or_default();
                self.toast(
                    format!("copied row {} to the clipboard (OSC 52)", c + 1),
                    false,
                );
                return Some(vec![Command::Copy(text)]);
            }
            KeyCode::Char('s') => {
                let Some(t) = self.current_table() else {
                    return Some(vec![]);
                };
                let items = t
                    .headers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        (
                            h.clone(),
                            i < t.frozen || !self.details.hidden_columns.contains(h),
                        )
                    })
                    .collect();
                self.overlay.dialog = Some(Dialog::Columns {
                    items,
                    frozen: t.frozen,
                    cursor: t.frozen.min(t.headers.len().saturating_sub(1)),
                });
                return Some(vec![]);
            }
            KeyCode::Char('e') => {
                let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
                    return Some(vec![]);
                };
                self.overlay.dialog = Some(Dialog::Export {
                    feature: key.clone(),
                    path: Box::new(crate::tui::dialog::line_input(&format!(
                        "{}.parquet",
                        key.table_name()
                    ))),
                });
                return Some(vec![]);
            }
            _ => return None,
        }
        Some(self.set_view(v))
    }

    fn on_palette_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(p) = self.overlay.palette.as_mut() else {
            return vec![];
        };
        let matches = palette_matches(&crate::tui::dialog::input_text(&p.input));
        match key.code {
            KeyCode::Esc => {
                self.overlay.palette = None;
                vec![]
            }
            KeyCode::Down => {
                p.cursor = (p.cursor + 1).min(matches.len().saturating_sub(1));
                vec![]
            }
            KeyCode::Up => {
                p.cursor = p.cursor.saturating_sub(1);
                vec![]
            }
            KeyCode::Enter => {
                let chosen = matches
                    .get(p.cursor.min(matches.len().saturating_sub(1)))
                    .copied();
                self.overlay.palette = None;
                match chosen {
                    Some(i) => self.on_builtin_key(KeyEvent::new(
                        KeyCode::Char(PALETTE[i].2),
                        KeyModifiers::NONE,
                    )),
                    None => vec![],
                }
            }
            _ => {
                crate::tui::dialog::edit_line(&mut p.input, key);
                p.cursor = 0;
                vec![]
            }
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> Vec<Command> {
        if self.overlay.dialog.is_some() || self.overlay.help || self.overlay.palette.is_some() {
            return vec![];
        }
        let a = self.areas.get();
        let inside = |r: ratatui::layout::Rect| {
            m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height
        };
        let key = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let code = if m.kind == MouseEventKind::ScrollDown {
                    KeyCode::Down
                } else {
                    KeyCode::Up
                };
                if self.screen == Screen::Features {
                    if inside(a.list) {
                        self.features.focus = Focus::List;
                    } else if inside(a.table) {
                        self.features.focus = Focus::Details;
                    }
                }
                self.on_builtin_key(key(code))
            }
            MouseEventKind::Down(MouseButton::Left) if self.screen == Screen::Features => {
                if inside(a.list) && a.list_item_height > 0 {
                    self.features.focus = Focus::List;
                    let pos = self.features.list_offset.get()
                        + ((m.row - a.list.y) / a.list_item_height) as usize;
                    if pos < self.features.visible.len() {
                        return self.select(pos);
                    }
                } else if inside(a.tabs) {
                    // tab titles are laid out left to right, separated by one cell
                    let mut x = a.tabs.x;
                    for t in Tab::ALL {
                        let w = crate::tui::view::text_width(&format!(" {} ", t.label())) + 4;
                        if m.column >= x && m.column < x + w {
                            return self.set_tab(t);
                        }
                        x += w;
                    }
                } else if inside(a.table) {
                    self.features.focus = Focus::Details;
                    if m.row > a.table.y {
                        let nav = &mut self.details.nav[self.details.tab.index()];
                        nav.cursor = nav.offset.get() + (m.row - a.table.y - 1) as usize;
                        let c = self.details.nav[self.details.tab.index()].cursor;
                        let c = self.current_table().map(|t| t.clamp(c)).unwrap_or(0);
                        self.details.nav[self.details.tab.index()].cursor = c;
                    }
                }
                vec![]
            }
            _ => vec![],
        }
    }

    /// Where the user is, for the header: store › feature › tab (or the screen).
    pub fn breadcrumbs(&self) -> Vec<String> {
        let mut b = vec![];
        if let Some(ws) = self.workspace() {
            b.push(format!("store {}", ws.store.name()));
        }
        match self.screen {
            Screen::Graph => b.push("feature graph".into()),
            Screen::History => b.push("history".into()),
            Screen::Stores => b.push("stores".into()),
            Screen::Features => {
                if let Some(e) = self.selected_entry() {
                    b.push(e.key.to_string());
                    b.push(self.details.tab.label().to_lowercase());
                }
            }
        }
        b
    }

    /// `f` filters the increment tabs by SQL (on the increment's columns: ids, provenance), `e` exports the shown
    /// tab's rows.
    fn on_increment_view_key(&mut self, key: KeyEvent) -> Option<Vec<Command>> {
        match key.code {
            KeyCode::Char('f') => {
                self.details.sql_input = Some(crate::tui::dialog::line_input(
                    self.details.inc_filter.as_deref().unwrap_or(""),
                ));
                self.details.sql_for_increment = true;
                self.details.sql_history_pos = None;
                Some(vec![])
            }
            KeyCode::Char('e') => {
                let e = self.selected_entry()?;
                let name = format!(
                    "{}.{}.parquet",
                    e.key.table_name(),
                    self.details.tab.label().to_lowercase()
                );
                self.overlay.dialog = Some(Dialog::Export {
                    feature: e.key.clone(),
                    path: Box::new(crate::tui::dialog::line_input(&name)),
                });
                Some(vec![])
            }
            _ => None,
        }
    }

    /// Starts filtering the selected feature's increment when a filter is set and it is not filtered yet.
    fn want_inc_filter(&mut self) -> Vec<Command> {
        let Some(filter) = self.details.inc_filter.clone() else {
            return vec![];
        };
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(e) = self.selected_entry() else {
            return vec![];
        };
        if self.details.inc_filtered.contains_key(&e.key) {
            return vec![];
        }
        let Some(inc) = e.report.as_ref().and_then(|r| r.status.increment.clone()) else {
            return vec![];
        };
        let key = e.key.clone();
        self.details.inc_filtered.insert(key, Load::Loading);
        vec![self.task(Job::FilterIncrement {
            ws,
            inc: Box::new(inc),
            filter,
        })]
    }

    /// A key while the SQL filter input has the keyboard: Enter applies (empty = no filter), Esc cancels, Up /
    /// Down recall earlier filters.
    fn on_sql_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(input) = self.details.sql_input.as_mut() else {
            return vec![];
        };
        match key.code {
            KeyCode::Esc => {
                self.details.sql_input = None;
                self.details.sql_for_increment = false;
                vec![]
            }
            KeyCode::Enter => {
                let text = crate::tui::dialog::input_text(input).trim().to_string();
                self.details.sql_input = None;
                if !text.is_empty() && self.details.sql_history.last() != Some(&text) {
                    self.details.sql_history.push(text.clone());
                }
                if std::mem::take(&mut self.details.sql_for_increment) {
                    let f = (!text.is_empty()).then_some(text);
                    if f != self.details.inc_filter {
                        self.details.inc_filter = f;
                        self.details.inc_filtered.clear();
                        self.details.nav[self.details.tab.index()] = TableNav::default();
                    }
                    return self.want_inc_filter();
                }
                let mut v = self.details.view.clone();
                v.filter = (!text.is_empty()).then_some(text);
                self.set_view(v)
            }
            KeyCode::Up | KeyCode::Down => {
                if self.details.sql_history.is_empty() {
                    return vec![];
                }
                let last = self.details.sql_history.len() - 1;
                let pos = match (self.details.sql_history_pos, key.code) {
                    (None, KeyCode::Up) => Some(last),
                    (None, _) => None,
                    (Some(p), KeyCode::Up) => Some(p.saturating_sub(1)),
                    (Some(p), _) if p >= last => None,
                    (Some(p), _) => Some(p + 1),
                };
                self.details.sql_history_pos = pos;
                let text = pos
                    .map(|p| self.details.sql_history[p].clone())
                    .unwrap_or_default();
                *input = crate::tui::dialog::line_input(&text);
                vec![]
            }
            _ => {
                crate::tui::dialog::edit_line(input, key);
                vec![]
            }
        }
    }

    fn set_tab(&mut self, tab: Tab) -> Vec<Command> {
        self.details.tab = tab;
        let mut c = self.want_metadata();
        c.extend(self.want_inc_filter());
        c
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        // remapped keys (assets/tui-config.toml) stand for the built-in ones, except while text is typed
        let typing = self.overlay.dialog.is_some()
            || self.overlay.palette.is_some()
            || self.details.sql_input.is_some()
            || self.features.filter_input.is_some();
        let key = if typing {
            key
        } else {
            match crate::tui::settings::active().keys.translate(key) {
                Some(k) => k,
                None => return vec![],
            }
        };
        self.on_builtin_key(key)
    }

    /// Handles a key in terms of the built-in bindings (after remapping).
    fn on_builtin_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.should_quit = true;
                return vec![];
            }
            _ if self.overlay.dialog.is_some() => return self.on_dialog_key(key),
            _ if self.overlay.palette.is_some() => return self.on_palette_key(key),
            _ if self.details.sql_input.is_some() => return self.on_sql_key(key),
            _ if self.features.filter_input.is_some() => return self.on_filter_key(key),
            KeyCode::Char('q') => {
                self.should_quit = true;
                return vec![];
            }
            KeyCode::Char('?') => {
                self.overlay.help = !self.overlay.help;
                return vec![];
            }
            KeyCode::Char(':') if !self.overlay.help => {
                self.overlay.palette = Some(Palette {
                    input: crate::tui::dialog::line_input(""),
                    cursor: 0,
                });
                return vec![];
            }
            _ => {}
        }
        if self.overlay.help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                self.overlay.help = false;
            }
            return vec![];
        }
        if key.code == KeyCode::Char('r') && !ctrl {
            return self.start();
        }
        if key.code == KeyCode::Char('v') && !ctrl {
            self.screen = match self.screen {
                Screen::Graph => Screen::Features,
                _ => Screen::Graph,
            };
            return vec![];
        }
        if key.code == KeyCode::Char('H') {
            if self.screen == Screen::History {
                self.screen = Screen::Features;
                return vec![];
            }
            return self.open_history();
        }
        if key.code == KeyCode::Char('S') {
            if self.screen == Screen::Stores {
                self.screen = Screen::Features;
                return vec![];
            }
            return self.open_stores();
        }
        if self.screen == Screen::Stores {
            return self.on_stores_key(key);
        }
        if self.screen == Screen::Graph {
            return self.on_graph_key(key);
        }
        if self.screen == Screen::History {
            return self.on_history_key(key);
        }
        if self.features.entries.is_empty() {
            return vec![];
        }
        if !ctrl {
            if let Some(cmds) = self.on_view_key(key) {
                return cmds;
            }
        }
        match key.code {
            KeyCode::Char('<') => {
                self.details.column_width = self.details.column_width.saturating_sub(4).max(4);
                self.toast(
                    format!("columns at most {} cells wide", self.details.column_width),
                    false,
                );
                return vec![];
            }
            KeyCode::Char('>') => {
                self.details.column_width =
                    (self.details.column_width + 4).min(crate::tui::view::WIDEST_COLUMN);
                self.toast(
                    format!("columns at most {} cells wide", self.details.column_width),
                    false,
                );
                return vec![];
            }
            KeyCode::Char('d') if !ctrl => return self.open_delete(),
            KeyCode::Char('R') => return self.open_rebase(),
            KeyCode::Char('w') if !ctrl => return self.open_write(),
            KeyCode::Tab => return self.set_tab(self.details.tab.next()),
            KeyCode::BackTab => return self.set_tab(self.details.tab.prev()),
            KeyCode::Char(c @ '1'..='5') => {
                return self.set_tab(Tab::ALL[c as usize - '1' as usize])
            }
            _ => {}
        }
        match self.features.focus {
            Focus::List => self.on_list_key(key, ctrl),
            Focus::Details => self.on_details_key(key, ctrl),
        }
    }

    /// The stores the stores screen lists: every configured store (the default first, then by name), and the
    /// configured types metaxy-tui cannot open.
    pub fn store_rows(&self) -> Vec<StoreRow> {
        let Some(ws) = self.workspace() else {
            return vec![];
        };
        let mut rows: Vec<StoreRow> = ws
            .config
            .store_summaries()
            .into_iter()
            .map(|st| StoreRow {
                kind: st.class_name(),
                location: st
                    .config
                    .as_ref()
                    .and_then(|c| c.location().ok())
                    .unwrap_or_default(),
                hash: st
                    .config
                    .as_ref()
                    .map(|c| c.hash_algorithm.as_str().to_string())
                    .unwrap_or_default(),
                fallbacks: st
                    .config
                    .as_ref()
                    .map(|c| c.fallback_stores.clone())
                    .unwrap_or_default(),
                supported: st.config.is_some(),
                name: st.name,
                is_default: st.is_default,
            })
            .collect();
        if rows.is_empty() {
            // the embedded demo store has no config of its own
            rows.push(StoreRow {
                name: ws.store.name().to_string(),
                is_default: true,
                kind: ws.store.display(),
                location: ws.store.location(),
                hash: ws.store.hash_algorithm().as_str().to_string(),
                fallbacks: vec![],
                supported: true,
            });
        }
        rows
    }

    /// `S`: the stores screen; every configured store is opened in the background to see whether it is
    /// reachable.
    fn open_stores(&mut self) -> Vec<Command> {
        self.screen = Screen::Stores;
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let current = ws.store.name().to_string();
        let rows = self.store_rows();
        if let Some(i) = rows.iter().position(|r| r.name == current) {
            self.stores.cursor = i;
        }
        if !self.stores.probes.is_empty() {
            return vec![];
        }
        for r in rows.iter().filter(|r| r.supported) {
            self.stores.probes.insert(r.name.clone(), Load::Loading);
        }
        vec![self.task(Job::ProbeStores { ws })]
    }

    /// Keys of the stores screen: move, Enter opens the store under the cursor (statuses recomputed), Esc back.
    fn on_stores_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let rows = self.store_rows();
        let last = rows.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => self.screen = Screen::Features,
            KeyCode::Char('j') | KeyCode::Down => {
                self.stores.cursor = (self.stores.cursor + 1).min(last)
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.stores.cursor = self.stores.cursor.saturating_sub(1)
            }
            KeyCode::Char('g') | KeyCode::Home => self.stores.cursor = 0,
            KeyCode::Char('G') | KeyCode::End => self.stores.cursor = last,
            KeyCode::Enter => {
                let Some(r) = rows.get(self.stores.cursor.min(last)) else {
                    return vec![];
                };
                if !r.supported {
                    self.error_popup(
                        format!("Cannot open {}", r.name),
                        format!("{}: this store type is not supported by metaxy-tui", r.kind),
                    );
                    return vec![];
                }
                if let Some(Load::Failed(e)) = self.stores.probes.get(&r.name) {
                    self.error_popup(format!("Cannot open {}", r.name), e.clone());
                    return vec![];
                }
                let current = self.workspace().map(|w| w.store.name().to_string());
                self.screen = Screen::Features;
                if current.as_deref() == Some(r.name.as_str()) {
                    return vec![];
                }
                // the selected feature stays selected when the other store's graph has it
                self.stores.picked = Some(r.name.clone());
                return self.start();
            }
            _ => {}
        }
        vec![]
    }

    /// `H`: the history screen (pushed project versions, newest first), with row counts per feature version
    /// loading in the background.
    fn open_history(&mut self) -> Vec<Command> {
        self.screen = Screen::History;
        // while the store is (re)opening, the screen fills in when it is ready (`on_opened`)
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let current = ws.graph.project_version.clone();
        let snaps = ws.history();
        if self.history.diff.is_none() {
            self.history.cursor = snaps
                .iter()
                .position(|s| s.project_version == current)
                .unwrap_or(0);
            self.recompute_diff();
        }
        if self.history.rows.is_some() {
            return vec![];
        }
        vec![self.task(Job::CountAllVersions { ws })]
    }

    /// Recomputes the history diff: base (marked, or the version pushed before the cursor's) → cursor.
    fn recompute_diff(&mut self) {
        let Some(ws) = self.workspace().cloned() else {
            return;
        };
        let snaps = ws.history();
        self.history.scroll = 0;
        let Some(to) = snaps.get(self.history.cursor) else {
            self.history.diff = None;
            return;
        };
        let from = match &self.history.base {
            Some(b) => Some(b.clone()),
            None => snaps
                .get(self.history.cursor + 1)
                .map(|s| s.project_version.clone()),
        };
        let to_v = to.project_version.clone();
        self.history.diff = Some((|| {
            let to_g = ws.graph_at(&to_v).map_err(|e| e.to_string())?;
            let from_g = match &from {
                Some(f) => ws.graph_at(f).map_err(|e| e.to_string())?,
                // the first pushed version: diff against itself shows every feature as unchanged
                None => to_g.clone(),
            };
            Ok(crate::engine::graph_diff::diff_graphs(&from_g, &to_g))
        })());
    }

    fn on_history_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let n = self.workspace().map(|w| w.history().len()).unwrap_or(0);
        match key.code {
            KeyCode::Esc => self.screen = Screen::Features,
            KeyCode::Char('j') | KeyCode::Down => {
                self.history.cursor = (self.history.cursor + 1).min(n.saturating_sub(1));
                self.recompute_diff();
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.history.cursor = self.history.cursor.saturating_sub(1);
                self.recompute_diff();
            }
            KeyCode::Char('x') | KeyCode::Char(' ') => {
                let v = self.workspace().and_then(|w| {
                    w.history()
                        .get(self.history.cursor)
                        .map(|s| s.project_version.clone())
                });
                self.history.base = if self.history.base == v { None } else { v };
                self.recompute_diff();
            }
            KeyCode::Char('R') => return self.rebase_from_history(),
            KeyCode::PageDown | KeyCode::Char('J') => self.history.scroll += 10,
            KeyCode::PageUp | KeyCode::Char('K') => {
                self.history.scroll = self.history.scroll.saturating_sub(10)
            }
            _ => {}
        }
        vec![]
    }

    /// The status line of feature `i` as the graph and the list show it (`⚠ 5 new · 10 stale · 5 orphaned`).
    pub fn node_status(&self, i: usize) -> String {
        match self.features.entries.get(i).and_then(|e| e.report.as_ref()) {
            None => format!("{} computing…", self.spinner()),
            Some(r) => format!(
                "{} {}",
                r.status.status.icon(),
                crate::tui::ui::status_text(r)
            ),
        }
    }

    /// The nodes the graph screen draws: the features, with the collapsed key prefixes merged.
    pub fn graph_model(
        &self,
        graph: &crate::engine::graph::FeatureGraph,
    ) -> crate::tui::graph_view::GraphModel {
        crate::tui::graph_view::GraphModel::new(graph, &self.graph.collapsed)
            .unwrap_or_else(|_| crate::tui::graph_view::GraphModel::features(graph))
    }

    /// The status line of node `n` of the graph screen: the feature's status, or for a collapsed prefix how many
    /// of its features have each status (`✓ 2 · ⚠ 1 · 1 computing…`).
    pub fn group_status(&self, model: &crate::tui::graph_view::GraphModel, n: usize) -> String {
        let members = &model.members[n];
        if model.prefix[n].is_none() {
            return members
                .first()
                .map(|&f| self.node_status(f))
                .unwrap_or_default();
        }
        let mut counts: Vec<(&'static str, usize)> = vec![];
        let mut pending = 0;
        for &f in members {
            match self.features.entries.get(f).and_then(|e| e.report.as_ref()) {
                None => pending += 1,
                Some(r) => {
                    let icon = r.status.status.icon();
                    match counts.iter_mut().find(|(i, _)| *i == icon) {
                        Some(c) => c.1 += 1,
                        None => counts.push((icon, 1)),
                    }
                }
            }
        }
        let mut parts: Vec<String> = counts.iter().map(|(i, c)| format!("{i} {c}")).collect();
        if pending > 0 {
            parts.push(format!("{} {pending} computing…", self.spinner()));
        }
        parts.join(" · ")
    }

    /// `c` on the graph screen: collapses the selected feature's key prefix into one node, or expands the
    /// collapsed node it is in.
    fn toggle_collapse(&mut self, ws: &Workspace) {
        let model = self.graph_model(&ws.graph);
        let node = model
            .node_of
            .get(self.features.selected)
            .copied()
            .unwrap_or(0);
        if let Some(p) = model.prefix.get(node).cloned().flatten() {
            self.graph.collapsed.remove(&p);
            return;
        }
        let Some(key) = self
            .features
            .entries
            .get(self.features.selected)
            .map(|e| e.key.clone())
        else {
            return;
        };
        let Some(p) = crate::tui::graph_view::prefix_of(&key) else {
            self.toast(format!("{key} has no key prefix to collapse"), true);
            return;
        };
        let mut next = self.graph.collapsed.clone();
        next.insert(p);
        match crate::tui::graph_view::GraphModel::new(&ws.graph, &next) {
            Ok(_) => self.graph.collapsed = next,
            Err(e) => self.toast(e, true),
        }
    }

    /// `C` on the graph screen: expands everything when anything is collapsed, else collapses every top-level key
    /// prefix shared by two or more features (skipping those that would draw a cycle).
    fn toggle_collapse_all(&mut self, ws: &Workspace) {
        if !self.graph.collapsed.is_empty() {
            self.graph.collapsed.clear();
            return;
        }
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for e in &self.features.entries {
            if let Some(p) = crate::tui::graph_view::prefix_of(&e.key) {
                let top = p.split('/').next().unwrap_or(&p).to_string();
                *counts.entry(top).or_default() += 1;
            }
        }
        let mut skipped = vec![];
        for (p, n) in counts {
            if n < 2 {
                continue;
            }
            let mut next = self.graph.collapsed.clone();
            next.insert(p.clone());
            if crate::tui::graph_view::GraphModel::new(&ws.graph, &next).is_ok() {
                self.graph.collapsed = next;
            } else {
                skipped.push(p);
            }
        }
        if !skipped.is_empty() {
            self.toast(
                format!("not collapsed (would draw a cycle): {}", skipped.join(", ")),
                true,
            );
        }
    }

    /// Keys of the graph screen: arrows / hjkl move to the nearest feature in that direction, Enter opens the
    /// feature's tables, Esc goes back, `/` searches, `c` / `C` collapse key prefixes.
    fn on_graph_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.code == KeyCode::Esc {
            self.screen = Screen::Features;
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        if self.features.entries.is_empty() {
            return vec![];
        }
        let dir = match key.code {
            KeyCode::Char('h') | KeyCode::Left => Some((-1, 0)),
            KeyCode::Char('l') | KeyCode::Right => Some((1, 0)),
            KeyCode::Char('k') | KeyCode::Up => Some((0, -1)),
            KeyCode::Char('j') | KeyCode::Down => Some((0, 1)),
            _ => None,
        };
        if let Some((dx, dy)) = dir {
            let model = self.graph_model(&ws.graph);
            let status = |i: usize| self.group_status(&model, i);
            let lay = crate::tui::graph_view::layout(&model, &status);
            let from = model
                .node_of
                .get(self.features.selected)
                .copied()
                .unwrap_or(0);
            if let Some(n) = lay.neighbour(from, dx, dy) {
                if let Some(f) = lay.nodes[n]
                    .feature
                    .and_then(|m| model.members[m].first().copied())
                {
                    // keep the feature list's filter consistent: a hidden feature clears the filter
                    if !self.features.visible.iter().any(|v| v.index == f) {
                        self.features.filter.clear();
                        self.features.visible = filter_features(&self.features.entries, "");
                    }
                    if f != self.features.selected {
                        self.features.selected = f;
                        self.reset_nav();
                    }
                    return self.want_metadata();
                }
            }
            return vec![];
        }
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Features;
                vec![]
            }
            KeyCode::Enter => {
                self.screen = Screen::Features;
                self.features.focus = Focus::Details;
                self.want_metadata()
            }
            KeyCode::Char('/') => {
                let mut input = TextArea::new(vec![self.features.filter.clone()]);
                input.set_cursor_line_style(Style::new());
                input.move_cursor(tui_textarea::CursorMove::End);
                self.features.filter_input = Some(input);
                vec![]
            }
            KeyCode::Char('d') => self.open_delete(),
            KeyCode::Char('R') => self.open_rebase(),
            KeyCode::Char('w') => self.open_write(),
            KeyCode::Char('c') => {
                self.toggle_collapse(&ws);
                vec![]
            }
            KeyCode::Char('C') => {
                self.toggle_collapse_all(&ws);
                vec![]
            }
            _ => vec![],
        }
    }

    fn on_list_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Command> {
        let last = self.features.visible.len().saturating_sub(1);
        let s = self.selected_position().unwrap_or(0);
        match key.code {
            KeyCode::Char('/') => {
                let mut input = TextArea::new(vec![self.features.filter.clone()]);
                input.set_cursor_line_style(Style::new());
                input.move_cursor(tui_textarea::CursorMove::End);
                self.features.filter_input = Some(input);
                vec![]
            }
            KeyCode::Esc if !self.features.filter.is_empty() => self.set_filter(String::new()),
            KeyCode::Esc
                if !self.features.statuses_cancelled
                    && self.statuses_done() < self.features.entries.len() =>
            {
                self.features.statuses_cancelled = true;
                self.toast(
                    format!(
                        "status computation cancelled after {}/{} features (r restarts)",
                        self.statuses_done(),
                        self.features.entries.len()
                    ),
                    false,
                );
                vec![Command::Cancel {
                    generation: self.generation,
                    token: self.tasks.statuses.clone().unwrap_or_default(),
                }]
            }
            KeyCode::Char('j') | KeyCode::Down => self.select(s.saturating_add(1)),
            KeyCode::Char('k') | KeyCode::Up => self.select(s.saturating_sub(1)),
            KeyCode::Char('g') | KeyCode::Home => self.select(0),
            KeyCode::Char('G') | KeyCode::End => self.select(last),
            KeyCode::PageDown => self.select(s.saturating_add(LIST_PAGE)),
            KeyCode::PageUp => self.select(s.saturating_sub(LIST_PAGE)),
            KeyCode::Char('d') if ctrl => self.select(s.saturating_add(LIST_PAGE / 2)),
            KeyCode::Char('u') if ctrl => self.select(s.saturating_sub(LIST_PAGE / 2)),
            KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right => {
                self.features.focus = Focus::Details;
                vec![]
            }
            _ => vec![],
        }
    }

    /// A key while the filter input has the keyboard: Enter keeps the filter, Esc clears it, everything else edits.
    fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => {
                self.features.filter_input = None;
                return self.set_filter(String::new());
            }
            KeyCode::Enter => {
                self.features.filter_input = None;
                return vec![];
            }
            KeyCode::Char('m') if ctrl && !alt => {
                self.features.filter_input = None;
                return vec![];
            }
            // one line, no tabs: keys that would insert a newline or a tab do nothing
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Char('\n' | '\r' | '\t') => return vec![],
            _ => {}
        }
        let Some(input) = self.features.filter_input.as_mut() else {
            return vec![];
        };
        input.input(key);
        if input.lines().len() > 1 {
            // a paste of several lines: keep one line
            let joined = input.lines().concat();
            let mut one = TextArea::new(vec![joined]);
            one.set_cursor_line_style(Style::new());
            one.move_cursor(tui_textarea::CursorMove::End);
            *input = one;
        }
        let query = input.lines().concat();
        self.set_filter(query)
    }

    /// Applies a filter query: recomputes the visible lines and, when the query changed, selects the best match
    /// (an empty query keeps the selection).
    fn set_filter(&mut self, query: String) -> Vec<Command> {
        if query == self.features.filter {
            return vec![];
        }
        self.features.filter = query;
        self.features.visible = filter_features(&self.features.entries, &self.features.filter);
        self.features.list_offset.set(0);
        if self.features.filter.is_empty() {
            return self.want_metadata();
        }
        self.select(0)
    }

    /// Keeps the selection on a visible feature: the first visible one when the selected one is filtered out.
    fn fix_selection(&mut self) {
        if self.selected_position().is_none() {
            if let Some(v) = self.features.visible.first() {
                self.features.selected = v.index;
            }
        }
    }

    fn on_details_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Command> {
        if key.code == KeyCode::Esc {
            self.features.focus = Focus::List;
            return vec![];
        }
        if key.code == KeyCode::Enter {
            if let Some(t) = self.current_table() {
                let c = t.clamp(self.details.nav[self.details.tab.index()].cursor);
                if let Some(row) = t.row(c) {
                    let fields = t
                        .headers
                        .iter()
                        .zip(row)
                        .map(|(h, cell)| (h.clone(), cell.text.clone()))
                        .collect();
                    let feature = self
                        .selected_entry()
                        .map(|e| e.key.to_string())
                        .unwrap_or_default();
                    self.overlay.dialog = Some(Dialog::RowDetail {
                        title: format!("{feature} · {} · row {}", self.details.tab.label(), c + 1),
                        fields,
                        scroll: 0,
                    });
                }
            }
            return vec![];
        }
        let loaded = self.current_table().is_some();
        // loaded rows (a window of the read on the Metadata tab) and the read's last row
        let (first_row, last_row, total) = if self.details.tab == Tab::Detail {
            // the Detail tab scrolls by line
            (0, 99, 100)
        } else {
            self.current_table()
                .map(|t| {
                    (
                        t.start,
                        t.end().saturating_sub(1).max(t.start),
                        t.total_rows,
                    )
                })
                .unwrap_or((0, 0, 0))
        };
        let last_of_all = total.saturating_sub(1);
        let mut jump = None;
        let nav = &mut self.details.nav[self.details.tab.index()];
        let page = nav.page.get().max(1);
        let last_col = if loaded { nav.max_col.get() } else { 0 };
        let c = nav.cursor.clamp(first_row, last_row);
        let rows = last_row + 1 - first_row;
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => nav.cursor = (c + 1).min(last_row),
            KeyCode::Char('k') | KeyCode::Up => nav.cursor = c.saturating_sub(1).max(first_row),
            KeyCode::PageDown | KeyCode::Char(' ') => nav.cursor = (c + page).min(last_row),
            KeyCode::PageUp => nav.cursor = c.saturating_sub(page).max(first_row),
            KeyCode::Char('d') if ctrl => nav.cursor = (c + page / 2).min(last_row),
            KeyCode::Char('u') if ctrl => nav.cursor = c.saturating_sub(page / 2).max(first_row),
            KeyCode::Char('g') | KeyCode::Home => {
                nav.cursor = 0;
                jump = (first_row > 0).then_some(Fetch::First);
            }
            KeyCode::Char('G') | KeyCode::End => {
                nav.cursor = last_row;
                jump = Some(Fetch::Last);
            }
            KeyCode::Char('h') | KeyCode::Left => nav.col = nav.col.min(last_col).saturating_sub(1),
            KeyCode::Char('l') | KeyCode::Right => nav.col = (nav.col + 1).min(last_col),
            KeyCode::Char('x') if self.details.tab == Tab::Metadata && loaded && rows > 0 => {
                nav.cursor = (c + 1).min(last_row);
                let pred = self.current_table().and_then(|t| t.row_filter(c));
                if self.details.marked.remove(&c).is_none() {
                    self.details.marked.insert(c, pred);
                }
            }
            KeyCode::Char('0') => nav.col = 0,
            KeyCode::Char('$') => nav.col = last_col,
            _ => {}
        }
        if self.details.tab != Tab::Metadata {
            return vec![];
        }
        if matches!(key.code, KeyCode::Char('g') | KeyCode::Home) {
            // a `G` still waiting for the count is overridden
            let key = self.selected_entry().map(|e| e.key.clone());
            if let Some(Load::Ready(Some(p))) = key.and_then(|k| self.details.metadata.get_mut(&k))
            {
                p.pending_end = false;
            }
        }
        match jump {
            Some(Fetch::Last) => self.jump_to_end(last_of_all),
            Some(f) => self.fetch_page(f),
            None => self.want_page(),
        }
    }

    /// `G` on the Metadata tab: the last row; fetches the last page unless it is loaded (after the rows are
    /// counted, if they are still being counted).
    fn jump_to_end(&mut self, last: usize) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        let Some(Load::Ready(Some(p))) = self.details.metadata.get_mut(&key) else {
            return vec![];
        };
        if p.at_end {
            return vec![];
        }
        if p.total.is_none() {
            p.pending_end = true;
            return vec![];
        }
        self.details.nav[Tab::Metadata.index()].cursor = last;
        self.fetch_page(Fetch::Last)
    }

    /// Fetches the page `fetch` of the selected feature's Metadata table unless a fetch is running or there is
    /// nothing to fetch.
    fn fetch_page(&mut self, fetch: Fetch) -> Vec<Command> {
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        let Some(Load::Ready(Some(p))) = self.details.metadata.get_mut(&key) else {
            return vec![];
        };
        // a jump wins over a running next / previous fetch (whose result is then dropped)
        let jump = matches!(fetch, Fetch::First | Fetch::Last);
        if p.fetching.is_some() && !(jump && p.fetching != Some(fetch)) {
            return vec![];
        }
        let Some(request) = p.request(fetch) else {
            return vec![];
        };
        p.fetching = Some(fetch);
        vec![self.task(Job::FetchPage {
            view_generation: self.details.view_generation,
            ws,
            key,
            view: self.details.view.clone(),
            fetch,
            request,
        })]
    }

    /// Fetches the next (previous) page when the Metadata cursor is within a page ([`PAGE_ROWS`], at least three
    /// screens) of the last (first) loaded row, so that the page arrives before the cursor gets there.
    fn want_page(&mut self) -> Vec<Command> {
        if self.details.tab != Tab::Metadata {
            return vec![];
        }
        let Some(Load::Ready(Some(p))) = self
            .selected_entry()
            .and_then(|e| self.details.metadata.get(&e.key))
        else {
            return vec![];
        };
        let nav = &self.details.nav[Tab::Metadata.index()];
        let margin = PAGE_ROWS.max(3 * nav.page.get());
        let c = p.table.clamp(nav.cursor);
        if !p.at_end && c + margin >= p.table.end() {
            self.fetch_page(Fetch::Next)
        } else if !p.at_start && c < p.table.start + margin {
            self.fetch_page(Fetch::Previous)
        } else {
            vec![]
        }
    }

    fn on_opened(&mut self, result: Result<Arc<Workspace>, String>) -> Vec<Command> {
        match result {
            Err(e) => {
                self.ws = WorkspaceState::Failed(e);
                vec![]
            }
            Ok(ws) => {
                self.features.entries = ws
                    .graph
                    .features
                    .iter()
                    .map(|f| FeatureEntry {
                        key: f.spec.key.clone(),
                        report: None,
                    })
                    .collect();
                let keep = self.features.reselect.take();
                self.features.selected = keep
                    .and_then(|k| self.features.entries.iter().position(|f| f.key == k))
                    .unwrap_or(0);
                self.features.visible =
                    filter_features(&self.features.entries, &self.features.filter);
                self.fix_selection();
                self.features.mismatches = ws.graph.mismatches().len();
                self.ws = WorkspaceState::Ready(ws.clone());
                let mut cmds = vec![];
                if !self.features.entries.is_empty() {
                    cmds.push(self.task(Job::ComputeStatuses { ws }));
                }
                cmds.extend(self.want_metadata());
                if self.screen == Screen::History {
                    cmds.extend(self.open_history());
                }
                cmds
            }
        }
    }
}

/// Why a root feature cannot be rebased (the popup of `R`).
fn root_rebase_message(key: &FeatureKey) -> String {
    format!("{key} is a root feature: its provenance comes from its producer, not from upstream features, so it cannot be rebased. Re-run the pipeline that writes it.")
}

/// Applies one message to the app and returns the slow work to start. Pure: no I/O, no clock.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => app.on_key(k),
        Msg::Mouse(m) => app.on_mouse(m),
        Msg::Tick => {
            app.tick = app.tick.wrapping_add(1);
            if let Some(t) = app.toast.as_mut() {
                t.ticks_left = t.ticks_left.saturating_sub(1);
                if t.ticks_left == 0 {
                    app.toast = None;
                }
            }
            vec![]
        }
        Msg::Done { generation, result } if generation == app.generation => on_done(app, result),
        // a result of an older generation (before a reload): drop it
        Msg::Done { .. } => vec![],
    }
}

/// Applies the result of a background job of the current generation.
fn on_done(app: &mut App, result: JobResult) -> Vec<Command> {
    match result {
        JobResult::DeletePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            // dropped when the dialog was cancelled meanwhile
            if let (Some(Dialog::Delete(d)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(d.stage, DeleteStage::Planning) {
                    match result {
                        Ok(plan) => {
                            let lines = crate::tui::dialog::delete_preview_lines(&plan, &graph);
                            d.stage = DeleteStage::Preview {
                                plan,
                                scroll: 0,
                                confirm: Box::new(crate::tui::dialog::line_input("")),
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot plan the delete", e),
                    }
                }
            }
            vec![]
        }
        JobResult::RebasePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            if let (Some(Dialog::Rebase(r)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(r.stage, RebaseStage::Planning) {
                    match result {
                        Ok(plan) => {
                            let ids = graph
                                .get(&plan.feature)
                                .map(|d| d.spec.id_columns.clone())
                                .unwrap_or_default();
                            let lines = crate::tui::dialog::rebase_preview_lines(&plan, &ids);
                            r.stage = RebaseStage::Preview {
                                plan,
                                scroll: 0,
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot plan the rebase", e),
                    }
                }
            }
            vec![]
        }
        JobResult::VersionCounts { key, counts } => {
            if let Some(Dialog::Rebase(r)) = app.overlay.dialog.as_mut() {
                if r.feature == key {
                    for v in r.versions.iter_mut() {
                        v.rows = Some(
                            counts
                                .iter()
                                .find(|(fv, _)| *fv == v.feature_version)
                                .map(|(_, n)| *n)
                                .unwrap_or(0),
                        );
                    }
                }
            }
            vec![]
        }
        JobResult::DirListed { dir, result } => {
            if let Some(Dialog::Write(w)) = app.overlay.dialog.as_mut() {
                if w.dir == dir && matches!(w.stage, WriteStage::Pick) {
                    w.entries = Some(result);
                    w.cursor = 0;
                }
            }
            vec![]
        }
        JobResult::WritePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            if let (Some(Dialog::Write(w)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(w.stage, WriteStage::Planning) {
                    match result {
                        Ok((plan, existing)) => {
                            let lines = crate::tui::dialog::write_preview_lines(&plan, &graph);
                            w.stage = WriteStage::Preview {
                                plan,
                                existing,
                                scroll: 0,
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot prepare the write", e),
                    }
                }
            }
            vec![]
        }
        JobResult::IncrementFiltered {
            key,
            filter,
            result,
        } => {
            if app.details.inc_filter.as_ref() == Some(&filter) {
                match result {
                    Ok(t) => {
                        app.details.inc_filtered.insert(key, Load::Ready(*t));
                    }
                    Err(e) => {
                        app.details
                            .inc_filtered
                            .insert(key, Load::Failed(e.clone()));
                        app.error_popup("Bad increment filter", e);
                    }
                }
            }
            vec![]
        }
        JobResult::Exported { result } => {
            app.overlay.dialog = None;
            match result {
                Ok(text) => app.toast(text, false),
                Err(e) => app.error_popup("Export failed", e),
            }
            vec![]
        }
        JobResult::RowsPerVersion { counts } => {
            app.history.rows = Some(counts);
            vec![]
        }
        JobResult::Mutated { result } => {
            app.overlay.dialog = None;
            match result {
                Ok(text) => {
                    app.toast(text, false);
                    app.start()
                }
                Err(e) => {
                    app.toast("write failed; the store was left as it was".into(), true);
                    app.error_popup("Write failed", e);
                    vec![]
                }
            }
        }
        JobResult::Opened { result } => app.on_opened(result),
        JobResult::Status { report } => {
            if let Some(e) = app
                .features
                .entries
                .iter_mut()
                .find(|e| e.key == report.status.feature_key)
            {
                e.report = Some(report);
            }
            vec![]
        }
        JobResult::Metadata { view, .. }
        | JobResult::Page { view, .. }
        | JobResult::RowCount { view, .. }
            if view != app.details.view_generation =>
        {
            vec![]
        }
        JobResult::Metadata { key, result, .. } => {
            if app.details.read_in_flight.as_ref() == Some(&key) {
                app.details.read_in_flight = None;
            }
            let mut cmds = vec![];
            let counted = match &result {
                Ok(Some(p)) => p.total.is_some() || p.at_end,
                _ => true,
            };
            if !counted {
                if let Some(ws) = app.workspace().cloned() {
                    cmds.push(app.task(Job::CountRows {
                        view_generation: app.details.view_generation,
                        ws,
                        key: key.clone(),
                        view: app.details.view.clone(),
                    }));
                }
            }
            app.details.metadata.insert(
                key,
                match result {
                    Ok(p) => Load::Ready(p.map(|p| Box::new(PagedTable::new(*p)))),
                    Err(e) => Load::Failed(e),
                },
            );
            cmds.extend(app.want_metadata());
            cmds.extend(app.want_page());
            cmds
        }
        JobResult::StoreProbed { name, result } => {
            app.stores.probes.insert(
                name,
                match result {
                    Ok(s) => Load::Ready(s),
                    Err(e) => Load::Failed(e),
                },
            );
            vec![]
        }
        JobResult::Page {
            key, fetch, result, ..
        } => {
            let Some(Load::Ready(Some(p))) = app.details.metadata.get_mut(&key) else {
                return vec![];
            };
            // a jump was asked for meanwhile: this page is not next to the loaded rows any more
            if p.fetching != Some(fetch) {
                return vec![];
            }
            match result {
                Ok(page) => p.apply(fetch, *page),
                Err(e) => {
                    p.fetching = None;
                    app.error_popup(format!("Reading {key} failed"), e);
                    return vec![];
                }
            }
            if matches!(fetch, Fetch::Last) {
                app.details.nav[Tab::Metadata.index()].cursor = p.table.end().saturating_sub(1);
            }
            if matches!(fetch, Fetch::First) {
                app.details.nav[Tab::Metadata.index()].cursor = 0;
            }
            app.want_page()
        }
        JobResult::RowCount { key, result, .. } => {
            let Some(Load::Ready(Some(p))) = app.details.metadata.get_mut(&key) else {
                return vec![];
            };
            match result {
                Ok(n) => p.set_total(n),
                Err(e) => {
                    p.table.counting = false;
                    app.toast(format!("counting the rows of {key} failed: {e}"), true);
                    return vec![];
                }
            }
            if std::mem::take(&mut p.pending_end) {
                let last = n_last(p);
                let on_it = app.selected_entry().map(|e| &e.key) == Some(&key);
                if on_it && app.details.tab == Tab::Metadata {
                    return app.jump_to_end(last);
                }
            }
            vec![]
        }
    }
}
