//! Keys of the details pane: tabs, table movement, views of the Metadata tab (`F` `A` `D` `o` `O`), the SQL filter
//! input (`f`), row marks, paging.

#[allow(unused_imports)]
use crate::tui::prelude::*;

impl App {
    /// Starts the default read of the selected feature when the Metadata tab shows it and it is not loaded yet
    /// (one read at a time; when it finishes, the then-selected feature is considered again).
    pub(crate) fn want_metadata(&mut self) -> Vec<Command> {
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
    pub(crate) fn set_view(&mut self, view: TableView) -> Vec<Command> {
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
    pub(crate) fn on_view_key(&mut self, key: KeyEvent) -> Option<Vec<Command>> {
        if matches!(self.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
            return self.on_increment_view_key(key);
        }
        if self.details.tab != Tab::Metadata {
            return None;
        }
        let mut v = self.details.view.clone();
        match key.code {
            KeyCode::Char('f') => {
                self.details.sql_input = Some(crate::tui::dialogs::line_input(
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
                    path: Box::new(crate::tui::dialogs::line_input(&format!(
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
    /// `f` filters the increment tabs by SQL (on the increment's columns: ids, provenance), `e` exports the shown
    /// tab's rows.
    pub(crate) fn on_increment_view_key(&mut self, key: KeyEvent) -> Option<Vec<Command>> {
        match key.code {
            KeyCode::Char('f') => {
                self.details.sql_input = Some(crate::tui::dialogs::line_input(
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
                    path: Box::new(crate::tui::dialogs::line_input(&name)),
                });
                Some(vec![])
            }
            _ => None,
        }
    }
    /// Starts filtering the selected feature's increment when a filter is set and it is not filtered yet.
    pub(crate) fn want_inc_filter(&mut self) -> Vec<Command> {
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
        // the loaded increment (not one outdated by a refresh: its reload filters again)
        let Some(loaded) = self.details.increments.current(&e.key) else {
            return vec![];
        };
        // only the store's first pages of it: the job computes the whole increment
        let inc = (!loaded.paged_in_store).then(|| Box::new(loaded.increment.clone()));
        let key = e.key.clone();
        self.details.inc_filtered.insert(key.clone(), Load::Loading);
        vec![self.task(Job::FilterIncrement {
            ws,
            key,
            inc,
            filter,
        })]
    }
    /// A key while the SQL filter input has the keyboard: Enter applies (empty = no filter), Esc cancels, Up /
    /// Down recall earlier filters.
    pub(crate) fn on_sql_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
                let text = crate::tui::dialogs::input_text(input).trim().to_string();
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
                *input = crate::tui::dialogs::line_input(&text);
                vec![]
            }
            _ => {
                crate::tui::dialogs::edit_line(input, key);
                vec![]
            }
        }
    }
    pub(crate) fn set_tab(&mut self, tab: Tab) -> Vec<Command> {
        self.details.tab = tab;
        let mut c = self.want_metadata();
        c.extend(self.want_increment());
        c.extend(self.want_inc_filter());
        c
    }
    pub(crate) fn on_details_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Command> {
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
    pub(crate) fn jump_to_end(&mut self, last: usize) -> Vec<Command> {
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
    pub(crate) fn fetch_page(&mut self, fetch: Fetch) -> Vec<Command> {
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
    pub(crate) fn want_page(&mut self) -> Vec<Command> {
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
}
