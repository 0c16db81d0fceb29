//! Keys of the feature list: movement, the `/` filter input, selection (which starts the selected feature's
//! reads).

#[allow(unused_imports)]
use crate::tui::prelude::*;

impl App {
    /// Selects the feature at position `pos` of the visible list (clamped; nothing when none is visible).
    pub(crate) fn select(&mut self, pos: usize) -> Vec<Command> {
        let Some(last) = self.features.visible.len().checked_sub(1) else {
            return vec![];
        };
        let i = self.features.visible[pos.min(last)].index;
        if i != self.features.selected {
            self.features.selected = i;
            self.reset_nav();
        }
        let mut c = self.want_metadata();
        c.extend(self.want_increment());
        c.extend(self.want_inc_filter());
        c
    }
    pub(crate) fn on_list_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Command> {
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
    pub(crate) fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
    pub(crate) fn set_filter(&mut self, query: String) -> Vec<Command> {
        if query == self.features.filter {
            return vec![];
        }
        self.features.filter = query;
        self.features.visible = filter_features(&self.features.entries, &self.features.filter);
        self.features.list_offset.set(0);
        if self.features.filter.is_empty() {
            let mut c = self.want_metadata();
            c.extend(self.want_increment());
            c.extend(self.want_inc_filter());
            return c;
        }
        self.select(0)
    }
    /// Keeps the selection on a visible feature: the first visible one when the selected one is filtered out.
    pub(crate) fn fix_selection(&mut self) {
        if self.selected_position().is_none() {
            if let Some(v) = self.features.visible.first() {
                self.features.selected = v.index;
            }
        }
    }
}
