//! The features screen's right pane: the selected feature's tabs (Metadata, New, Stale, Orphaned, Info), how
//! the Metadata tab reads rows ([`TableView`]) and the scroll of each tab. Paging in [`paging`], keys in
//! [`keys`], painting in [`draw`].

pub mod draw;
pub mod increments;
pub mod keys;
pub mod paging;

#[allow(unused_imports)]
use crate::tui::prelude::*;

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
    /// The increments of the New / Stale / Orphaned tabs, loaded on demand for the selected feature.
    pub increments: increments::Increments,
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
            increments: Default::default(),
            inc_filter: None,
            inc_filtered: HashMap::new(),
            sql_for_increment: false,
            marked: Default::default(),
            hidden_columns: Default::default(),
            column_width: crate::tui::view::MAX_COLUMN_WIDTH,
        }
    }
}
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

    pub(crate) fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    pub(crate) fn prev(self) -> Tab {
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
    pub fn read_options(&self) -> crate::engine::query::read::ReadOptions {
        crate::engine::query::read::ReadOptions {
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

/// Applies a read of the details pane: first page, further page, row count, loaded or filtered increment (reads
/// of an older view are dropped).
pub(crate) fn on_done(app: &mut App, result: JobResult) -> Vec<Command> {
    match result {
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
        JobResult::IncrementLoaded { key, result } => app.on_increment_loaded(key, result),
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
        // routed elsewhere by `crate::tui::app::update`
        _ => vec![],
    }
}
