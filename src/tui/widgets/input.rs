//! The one-line text input of filters, paths and confirmations.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// A one-line text input.
pub fn line_input(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.set_cursor_line_style(Style::new());
    t.move_cursor(tui_textarea::CursorMove::End);
    t
}
/// The text of a one-line input.
pub fn input_text(t: &TextArea<'_>) -> String {
    t.lines().concat()
}
/// Feeds a key to a one-line input (newlines and tabs ignored; a multi-line paste is joined).
pub fn edit_line(t: &mut TextArea<'static>, key: KeyEvent) {
    if matches!(
        key.code,
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab | KeyCode::Char('\n' | '\r' | '\t')
    ) {
        return;
    }
    t.input(key);
    if t.lines().len() > 1 {
        *t = line_input(&t.lines().concat());
    }
}
