//! The column picker (`s`): show or hide the Metadata table's columns (id columns stay).

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Keys of the column picker: move, Space / x toggle, a all / none, Enter applies.
pub fn on_key(
    items: &mut [(String, bool)],
    frozen: usize,
    cursor: &mut usize,
    key: KeyEvent,
) -> DialogAction {
    let last = items.len().saturating_sub(1);
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => DialogAction::Close,
        KeyCode::Enter => DialogAction::HideColumns(
            items
                .iter()
                .filter(|(_, shown)| !shown)
                .map(|(c, _)| c.clone())
                .collect(),
        ),
        KeyCode::Char('j') | KeyCode::Down => {
            *cursor = (*cursor + 1).min(last);
            DialogAction::None
        }
        KeyCode::Char('k') | KeyCode::Up => {
            *cursor = cursor.saturating_sub(1);
            DialogAction::None
        }
        KeyCode::Char('g') | KeyCode::Home => {
            *cursor = 0;
            DialogAction::None
        }
        KeyCode::Char('G') | KeyCode::End => {
            *cursor = last;
            DialogAction::None
        }
        KeyCode::Char(' ') | KeyCode::Char('x') => {
            if *cursor >= frozen {
                if let Some(it) = items.get_mut(*cursor) {
                    it.1 = !it.1;
                }
            }
            *cursor = (*cursor + 1).min(last);
            DialogAction::None
        }
        KeyCode::Char('a') => {
            let all = items.iter().all(|(_, s)| *s);
            for it in items.iter_mut().skip(frozen) {
                it.1 = !all;
            }
            DialogAction::None
        }
        _ => DialogAction::None,
    }
}
/// Paints the column picker.
pub fn draw(frame: &mut Frame, area: Rect, items: &[(String, bool)], frozen: usize, cursor: usize) {
    let w = items
        .iter()
        .map(|(c, _)| text_width(c))
        .max()
        .unwrap_or(10)
        .max(56)
        + 8;
    let h = (items.len() as u16 + 4)
        .min(area.height.saturating_sub(2))
        .max(5);
    let shown = items.iter().filter(|(_, s)| *s).count();
    let inner = popup(
        frame,
        area,
        w.min(area.width),
        h,
        format!("Columns · {shown} of {} shown", items.len()),
        accent(),
    );
    let [body, hint] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let rows = body.height as usize;
    let first = cursor.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = items
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, (c, s))| {
            let mark = if i < frozen {
                "[id]"
            } else if *s {
                "[x] "
            } else {
                "[ ] "
            };
            let mut l = Line::from(vec![
                Span::raw(format!(" {mark} ")).fg(if *s { accent() } else { muted() }),
                Span::raw(c.clone()),
            ]);
            if i == cursor {
                l = l.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            l
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        Paragraph::new(key_hint(&[
            ("Space", "show / hide"),
            ("a", "all / none"),
            ("Enter", "apply"),
            ("Esc", "cancel"),
        ])),
        hint,
    );
}
