//! Keys of the SQL console: the editor (typing, F5 / Ctrl-R runs, Ctrl-P / Ctrl-N recall, Ctrl-L clears, Tab to the
//! results, Esc cancels a running query or leaves), the result table (move, scroll columns, sort, row detail,
//! column picker, export).

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::tui::screens::sql::{ConsoleFocus, SqlRunning, EXAMPLE_QUERY};

impl App {
    /// Opens the SQL console; the example query names the selected feature.
    pub(crate) fn open_console(&mut self) -> Vec<Command> {
        self.screen = Screen::Sql;
        if self.console.query() == EXAMPLE_QUERY {
            if let Some(e) = self.selected_entry() {
                let q = EXAMPLE_QUERY.replace("<feature>", &e.key.to_string());
                self.console.set_query(&q);
            }
        }
        vec![]
    }

    /// A key on the SQL console (it has the keyboard, dialogs and the palette aside).
    pub(crate) fn on_console_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(path) = self.console.export.as_mut() {
            return match key.code {
                KeyCode::Esc => {
                    self.console.export = None;
                    vec![]
                }
                KeyCode::Enter => self.export_console(),
                _ => {
                    edit_line(path, key);
                    vec![]
                }
            };
        }
        if key.code == KeyCode::Esc {
            if let Some(r) = &self.console.running {
                r.cancel.cancel();
                return vec![];
            }
            if self.console.focus == ConsoleFocus::Results {
                self.console.focus = ConsoleFocus::Editor;
            } else {
                self.screen = Screen::Features;
            }
            return vec![];
        }
        let run = key.code == KeyCode::F(5)
            || (ctrl && matches!(key.code, KeyCode::Char('r') | KeyCode::Enter));
        if run {
            return self.run_console_query();
        }
        match self.console.focus {
            ConsoleFocus::Editor => self.on_editor_key(key, ctrl),
            ConsoleFocus::Results => self.on_results_key(key),
        }
    }

    /// Starts the editor's query (unless one runs already).
    fn run_console_query(&mut self) -> Vec<Command> {
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        if self.console.running.is_some() {
            return vec![];
        }
        let query = self.console.query();
        if query.trim().is_empty() {
            return vec![];
        }
        let c = &mut self.console;
        if c.history.last() != Some(&query) {
            c.history.push(query.clone());
        }
        c.history_pos = None;
        c.error = None;
        let cancel = crate::engine::sql::SqlCancel::default();
        c.running = Some(SqlRunning {
            cancel: cancel.clone(),
            progress: "starting".into(),
        });
        vec![self.task(Job::RunSql { ws, query, cancel })]
    }

    fn on_editor_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Command> {
        let c = &mut self.console;
        match key.code {
            KeyCode::Tab if c.result.is_some() => c.focus = ConsoleFocus::Results,
            KeyCode::Char('p') if ctrl => {
                if c.history.is_empty() {
                    return vec![];
                }
                let pos = match c.history_pos {
                    None => c.history.len() - 1,
                    Some(p) => p.saturating_sub(1),
                };
                c.history_pos = Some(pos);
                let q = c.history[pos].clone();
                c.set_query(&q);
            }
            KeyCode::Char('l') if ctrl => {
                c.history_pos = None;
                c.set_query("");
            }
            KeyCode::Char('n') if ctrl => {
                let Some(p) = c.history_pos else {
                    return vec![];
                };
                if p + 1 < c.history.len() {
                    c.history_pos = Some(p + 1);
                    let q = c.history[p + 1].clone();
                    c.set_query(&q);
                } else {
                    c.history_pos = None;
                    c.set_query("");
                }
            }
            _ => {
                c.editor.input(key);
            }
        }
        vec![]
    }

    fn on_results_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let c = &mut self.console;
        let Some(r) = c.result.as_ref() else {
            c.focus = ConsoleFocus::Editor;
            return vec![];
        };
        let rows = r.table.rows.len();
        let last = rows.saturating_sub(1);
        let page = c.page.get().max(1);
        match key.code {
            KeyCode::Tab | KeyCode::Char('i') => c.focus = ConsoleFocus::Editor,
            KeyCode::Char('j') | KeyCode::Down => c.cursor = (c.cursor + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => c.cursor = c.cursor.saturating_sub(1),
            KeyCode::PageDown => c.cursor = (c.cursor + page).min(last),
            KeyCode::PageUp => c.cursor = c.cursor.saturating_sub(page),
            KeyCode::Char('g') | KeyCode::Home => c.cursor = 0,
            KeyCode::Char('G') | KeyCode::End => c.cursor = last,
            KeyCode::Char('h') | KeyCode::Left => c.col = c.col.saturating_sub(1),
            KeyCode::Char('l') | KeyCode::Right => {
                c.col = (c.col + 1).min(r.table.headers.len().saturating_sub(1))
            }
            KeyCode::Char('o') | KeyCode::Char('O') => {
                let n = r.table.headers.len();
                if n == 0 {
                    return vec![];
                }
                let (col, desc) = match (c.sort, key.code == KeyCode::Char('O')) {
                    (Some((col, desc)), true) => (col, !desc),
                    (Some((col, _)), false) => ((col + 1) % n, false),
                    (None, _) => (0, key.code == KeyCode::Char('O')),
                };
                if let Err(e) = c.sort_result(col, desc) {
                    c.error = Some(e);
                }
            }
            KeyCode::Enter => {
                let Some(row) = r.table.rows.get(c.cursor) else {
                    return vec![];
                };
                let fields = r
                    .table
                    .headers
                    .iter()
                    .cloned()
                    .zip(row.iter().map(|cell| cell.text.clone()))
                    .collect();
                let title = format!("SQL result · row {}", c.cursor + 1);
                self.overlay.dialog = Some(Dialog::RowDetail {
                    title,
                    fields,
                    scroll: 0,
                });
            }
            KeyCode::Char('s') => {
                let items = r
                    .table
                    .headers
                    .iter()
                    .map(|h| (h.clone(), !c.hidden_columns.contains(h)))
                    .collect();
                self.overlay.dialog = Some(Dialog::Columns {
                    items,
                    frozen: 0,
                    cursor: 0,
                });
            }
            KeyCode::Char('e') => c.export = Some(line_input("sql-result.parquet")),
            KeyCode::Char('q') => self.should_quit = true,
            _ => {}
        }
        vec![]
    }

    /// Exports the result rows to the typed path (relative to the working directory).
    fn export_console(&mut self) -> Vec<Command> {
        let Some(path) = self.console.export.take() else {
            return vec![];
        };
        let path = std::path::PathBuf::from(input_text(&path).trim());
        let Some(r) = self.console.result.as_ref() else {
            return vec![];
        };
        let path = if path.is_absolute() {
            path
        } else {
            self.env.cwd.join(path)
        };
        let rows = r.frame.clone();
        vec![self.task(Job::ExportIncrement {
            rows,
            what: "rows of the SQL result".into(),
            path,
        })]
    }
}
