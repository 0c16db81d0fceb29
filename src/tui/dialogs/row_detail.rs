//! The row detail (Enter on a row): every column of one row in full; `y` copies it as JSON.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Keys of the row detail: scroll, y copies the row as JSON.
pub fn on_key(fields: &[(String, String)], scroll: &mut usize, key: KeyEvent) -> DialogAction {
    match key.code {
        KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogAction::Close,
        KeyCode::Char('j') | KeyCode::Down => {
            *scroll = (*scroll + 1).min(fields.len().saturating_sub(1));
            DialogAction::None
        }
        KeyCode::Char('k') | KeyCode::Up => {
            *scroll = scroll.saturating_sub(1);
            DialogAction::None
        }
        KeyCode::Char('y') => {
            let obj: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            DialogAction::Copy(serde_json::to_string(&obj).unwrap_or_default())
        }
        _ => DialogAction::None,
    }
}
/// Paints the row detail.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    fields: &[(String, String)],
    scroll: usize,
) {
    let w = area.width.saturating_sub(6).clamp(20, 140);
    let h = (fields.len() as u16 + 4)
        .min(area.height.saturating_sub(2))
        .max(5);
    let inner = popup(frame, area, w, h, title.to_string(), accent());
    let [body, hint] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let kw = fields
        .iter()
        .map(|(k, _)| text_width(k) as usize)
        .max()
        .unwrap_or(0)
        .min(40);
    let lines: Vec<Line> = fields
        .iter()
        .skip(scroll)
        .map(|(k, v)| {
            Line::from(vec![
                Span::raw(format!("{k:>kw$}  ")).fg(muted()),
                Span::raw(v.clone()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
    frame.render_widget(
        Paragraph::new(key_hint(&[
            ("j k", "scroll"),
            ("y", "copy as JSON"),
            ("Esc", "close"),
        ])),
        hint,
    );
}
