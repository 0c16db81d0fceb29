//! The SQL console (`:sql`, or `Q`): a query editor (tui-textarea) with history, the query run in the background
//! over the open store ([`crate::engine::sql::run_sql`]: every feature a view named by its key, `raw."k"`,
//! `increment."k"`), progress and Esc to cancel, errors in place, and the result rows in a table with sort, row
//! detail, a column picker (`s`) and export. Keys in [`keys`], painting in [`draw`].

pub mod draw;
pub mod keys;

#[allow(unused_imports)]
use crate::tui::prelude::*;

use polars::prelude::{DataFrame, SortMultipleOptions};

use crate::engine::sql::{SqlCancel, SqlOutput};

/// At most this many result rows are fetched (the table shows the first [`crate::tui::view::MAX_TABLE_ROWS`]).
pub const RESULT_ROWS: usize = 100_000;

/// The query the editor starts with.
pub const EXAMPLE_QUERY: &str = "-- every feature is a view named by its key; raw.\"key\": every stored row;\n-- increment.\"key\": new / stale / orphaned samples (column kind). F5 or Ctrl-R runs.\nSELECT * FROM \"<feature>\" LIMIT 100";

/// Which part of the console has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleFocus {
    /// The query editor.
    #[default]
    Editor,
    /// The result table.
    Results,
}

/// The rows of a finished query, ready to draw.
pub struct SqlResult {
    /// The query that produced them.
    pub query: String,
    /// The rows (at most [`RESULT_ROWS`]), in the query's order or the chosen sort.
    pub frame: DataFrame,
    /// The rows as a table.
    pub table: TableData,
    /// Whether rows beyond [`RESULT_ROWS`] were left out.
    pub truncated: bool,
    /// The views the query used.
    pub views: Vec<String>,
    /// The filters pushed into the scans of non-DuckDB stores, `(view, condition)`.
    pub pushed: Vec<(String, String)>,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

impl SqlResult {
    /// The result of `out` for `query`, taking `millis` ms.
    ///
    /// Errors: a cell that cannot be rendered (polars).
    pub fn build(out: SqlOutput, query: &str, millis: u64) -> crate::engine::error::Result<Self> {
        let table = crate::tui::view::frame_table(&out.frame, &[])?;
        Ok(Self {
            query: query.to_string(),
            frame: out.frame,
            table,
            truncated: out.truncated,
            views: out.views,
            pushed: out.pushed,
            millis,
        })
    }
}

/// A query running in the background.
pub struct SqlRunning {
    /// Esc stops it.
    pub cancel: SqlCancel,
    /// The last progress line.
    pub progress: String,
}

/// State of the SQL console.
pub struct SqlConsole {
    /// The query editor.
    pub editor: TextArea<'static>,
    /// Queries run, oldest first (Ctrl-P / Ctrl-N recall them).
    pub history: Vec<String>,
    /// Position in [`SqlConsole::history`] while recalling.
    pub history_pos: Option<usize>,
    /// Which part has the keyboard.
    pub focus: ConsoleFocus,
    /// The running query.
    pub running: Option<SqlRunning>,
    /// The last error (shown in place of the result).
    pub error: Option<String>,
    /// The last result.
    pub result: Option<SqlResult>,
    /// Cursor row in the result.
    pub cursor: usize,
    /// First result row shown (kept by draw so the cursor stays visible).
    pub offset: StdCell<usize>,
    /// Result rows that fit on screen (written by draw).
    pub page: StdCell<usize>,
    /// Horizontal scroll (first scrollable column shown).
    pub col: usize,
    /// Sort of the result: column index, descending.
    pub sort: Option<(usize, bool)>,
    /// The export path being typed (`e`).
    pub export: Option<TextArea<'static>>,
    /// Result columns hidden with the column picker (`s`), by name; kept across queries (names a result lacks
    /// are ignored).
    pub hidden_columns: std::collections::BTreeSet<String>,
}

impl Default for SqlConsole {
    fn default() -> Self {
        let mut editor = TextArea::from(EXAMPLE_QUERY.lines());
        editor.set_cursor_line_style(Style::default());
        editor.move_cursor(tui_textarea::CursorMove::Bottom);
        editor.move_cursor(tui_textarea::CursorMove::End);
        Self {
            editor,
            history: vec![],
            history_pos: None,
            focus: ConsoleFocus::Editor,
            running: None,
            error: None,
            result: None,
            cursor: 0,
            offset: StdCell::new(0),
            page: StdCell::new(1),
            col: 0,
            sort: None,
            export: None,
            hidden_columns: Default::default(),
        }
    }
}

impl SqlConsole {
    /// The editor's text.
    pub fn query(&self) -> String {
        self.editor.lines().join("\n")
    }

    /// Replaces the editor's text (a recalled query), cursor at the end.
    pub fn set_query(&mut self, q: &str) {
        let mut editor = TextArea::from(q.lines());
        editor.set_cursor_line_style(Style::default());
        editor.move_cursor(tui_textarea::CursorMove::Bottom);
        editor.move_cursor(tui_textarea::CursorMove::End);
        self.editor = editor;
    }

    /// Sorts the result by column `c` (`descending`), rebuilding its table; `None` keeps the query's order.
    ///
    /// Errors: polars sort or render errors (as text).
    pub fn sort_result(&mut self, c: usize, descending: bool) -> Result<(), String> {
        let Some(r) = self.result.as_mut() else {
            return Ok(());
        };
        let Some(name) = r.table.headers.get(c).cloned() else {
            return Ok(());
        };
        let sorted = r
            .frame
            .sort(
                [name.as_str()],
                SortMultipleOptions::default()
                    .with_order_descending(descending)
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            )
            .map_err(|e| e.to_string())?;
        r.table = crate::tui::view::frame_table(&sorted, &[]).map_err(|e| e.to_string())?;
        r.frame = sorted;
        self.sort = Some((c, descending));
        Ok(())
    }
}

/// Applies a SQL console job result.
pub(crate) fn on_done(app: &mut App, result: JobResult) -> Vec<Command> {
    let c = &mut app.console;
    match result {
        JobResult::SqlProgress { text } => {
            if let Some(r) = c.running.as_mut() {
                r.progress = text;
            }
        }
        JobResult::SqlDone { result } => {
            c.running = None;
            match result {
                Ok(r) => {
                    c.error = None;
                    c.result = Some(*r);
                    c.cursor = 0;
                    c.offset.set(0);
                    c.col = 0;
                    c.sort = None;
                }
                Err(e) => c.error = Some(e),
            }
        }
        _ => {}
    }
    vec![]
}
