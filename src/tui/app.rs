//! The TUI state machine: [`App`] (all state), [`Msg`] (everything that can happen: keys, ticks, background
//! results), [`Command`] (slow work the runtime must start) and the pure [`update`] function tying them together.
//! Nothing here touches the terminal or blocks; `super::ui::draw` paints an `&App`.

#[allow(unused_imports)]
use crate::tui::prelude::*;

pub use crate::tui::dialogs::palette::{palette_matches, Palette, PALETTE};
pub use crate::tui::screens::details::paging::{
    Fetch, LoadedPage, PageRequest, PageSource, PagedTable, PAGE_ROWS, WINDOW_ROWS,
};
pub use crate::tui::screens::details::{Details, Tab, TableNav, TableView};
pub use crate::tui::screens::features::{
    filter_features, FeatureEntry, FeaturesScreen, Focus, VisibleFeature,
};
pub use crate::tui::screens::graph::GraphScreen;
pub use crate::tui::screens::history::{HistoryRebase, HistoryState};
pub use crate::tui::screens::lookup::{LookupLine, LookupScreen};
pub use crate::tui::screens::stores::{StoreRow, StoresScreen};
pub use crate::tui::screens::Screen;

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
    /// The SQL console.
    pub console: crate::tui::screens::sql::SqlConsole,
    /// The lookup screen.
    pub lookup: LookupScreen,
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
    /// Live refresh and the store-busy note ([`crate::tui::live`]).
    pub live: crate::tui::live::LiveRefresh,
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
            console: Default::default(),
            lookup: LookupScreen::default(),
            overlay: Overlay::default(),
            toast: None,
            tick: 0,
            should_quit: false,
            areas: StdCell::new(Areas::default()),
            tasks: Default::default(),
            live: Default::default(),
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
        self.details.increments.clear();
        self.features.statuses_cancelled = false;
        self.stores.probes.clear();
        self.live.polling = false;
        self.live.refreshing = false;
        self.live.failed = None;
        self.live.ticks = 0;
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
                    self.details
                        .increments
                        .ready(&e.key)?
                        .tables
                        .as_ref()
                        .ok()?
                };
                Some(match tab {
                    Tab::New => &t.new,
                    Tab::Stale => &t.stale,
                    _ => &t.orphaned,
                })
            }
        }
    }

    pub(crate) fn reset_nav(&mut self) {
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

    pub(crate) fn toast(&mut self, text: String, error: bool) {
        self.toast = Some(Toast {
            text,
            error,
            ticks_left: TOAST_TICKS,
        });
    }

    /// Why writes are refused in this state (a historical snapshot, no workspace), if they are.
    pub(crate) fn writes_refused(&self) -> Option<String> {
        let ws = self.workspace()?;
        ws.snapshot.as_ref().map(|s| {
            format!("The store is open on the historical graph {s}; deletes and rebases use the current graph. Reopen without --snapshot.")
        })
    }

    pub(crate) fn on_mouse(&mut self, m: MouseEvent) -> Vec<Command> {
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
            Screen::Sql => b.push("sql".into()),
            Screen::Lookup => b.push("lookup".into()),
            Screen::Features => {
                if let Some(e) = self.selected_entry() {
                    b.push(e.key.to_string());
                    b.push(self.details.tab.label().to_lowercase());
                }
            }
        }
        b
    }

    pub(crate) fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        // remapped keys (assets/tui-config.toml) stand for the built-in ones, except while text is typed
        let typing = self.overlay.dialog.is_some()
            || self.overlay.palette.is_some()
            || self.details.sql_input.is_some()
            || self.features.filter_input.is_some()
            || self.screen == Screen::Sql;
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
    pub(crate) fn on_builtin_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
            _ if self.screen == Screen::Sql && self.workspace().is_some() => {
                return self.on_console_key(key)
            }
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
                    input: crate::tui::dialogs::line_input(""),
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
        if key.code == KeyCode::Char('a') && !ctrl {
            return self.toggle_live();
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
        if key.code == KeyCode::Char('Q') {
            return self.open_console();
        }
        if key.code == KeyCode::Char('S') {
            if self.screen == Screen::Stores {
                self.screen = Screen::Features;
                return vec![];
            }
            return self.open_stores();
        }
        if key.code == KeyCode::Char('L') {
            if self.screen == Screen::Lookup {
                self.screen = self.lookup.back.take().unwrap_or(Screen::Features);
                return vec![];
            }
            return self.lookup_from_cursor();
        }
        if self.screen == Screen::Lookup {
            return self.on_lookup_key(key);
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
            KeyCode::Char('X') => return self.open_drop(),
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

    pub(crate) fn on_opened(&mut self, result: Result<Arc<Workspace>, String>) -> Vec<Command> {
        if self.live.refreshing {
            return self.on_refreshed(result);
        }
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
                // a reload (after a delete started from the lookup screen) looks the samples up again
                if let (Screen::Lookup, Some(ids)) = (self.screen, self.lookup.ids.clone()) {
                    cmds.extend(self.open_lookup(ids));
                }
                cmds
            }
        }
    }
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
            app.live_tick()
        }
        Msg::LockWait(waiting) => {
            app.live.lock_wait = waiting;
            vec![]
        }
        Msg::Done { generation, result } if generation == app.generation => on_done(app, result),
        // a result of an older generation (before a reload): drop it
        Msg::Done { .. } => vec![],
    }
}

/// Applies the result of a background job of the current generation: dialog results to the dialogs, reads to the
/// details pane, the rest here.
fn on_done(app: &mut App, result: JobResult) -> Vec<Command> {
    let Some(result) = app.absorb_busy(result) else {
        return vec![];
    };
    match result {
        r @ (JobResult::DeletePlanned { .. }
        | JobResult::DropPlanned { .. }
        | JobResult::RebasePlanned { .. }
        | JobResult::VersionCounts { .. }
        | JobResult::DirListed { .. }
        | JobResult::WritePlanned { .. }) => crate::tui::dialogs::on_done(app, r),
        r @ (JobResult::Metadata { .. }
        | JobResult::Page { .. }
        | JobResult::RowCount { .. }
        | JobResult::IncrementLoaded { .. }
        | JobResult::IncrementFiltered { .. }) => crate::tui::screens::details::on_done(app, r),
        JobResult::Exported { result } => {
            app.overlay.dialog = None;
            match result {
                Ok(text) => app.toast(text, false),
                Err(e) => app.error_popup("Export failed", e),
            }
            vec![]
        }
        r @ (JobResult::SqlProgress { .. } | JobResult::SqlDone { .. }) => {
            crate::tui::screens::sql::on_done(app, r)
        }
        JobResult::Looked { ids, result } => app.on_looked(ids, result),
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
        JobResult::StoreChecked { marker } => app.on_store_checked(marker),
        JobResult::Status { report } => {
            if let Some(e) = app
                .features
                .entries
                .iter_mut()
                .find(|e| e.key == report.status.feature_key)
            {
                e.report = Some(report);
            }
            // the selected feature's increment can load once its status is known
            let mut cmds = app.want_increment();
            cmds.extend(app.want_inc_filter());
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
    }
}
