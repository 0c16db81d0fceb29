//! Painting of the stores screen.

#[allow(unused_imports)]
use crate::tui::prelude::*;

pub(crate) fn draw_stores_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    let rows = app.store_rows();
    let title = Line::from(vec![
        Span::raw(format!(" Stores ({}) ", rows.len())).bold(),
        Span::raw(format!("· open: {} ", ws.store.name())).fg(muted()),
    ]);
    let block = pane_block(title, true).title_bottom(
        Line::from(format!(
            " ↓↑ move · Enter open the store · {} or Esc back ",
            bound_keys("S")
        ))
        .fg(muted())
        .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let name_w = rows
        .iter()
        .map(|r| text_width(&r.name) as usize + 2)
        .max()
        .unwrap_or(4)
        .max(6);
    let kind_w = rows
        .iter()
        .map(|r| text_width(&r.kind) as usize)
        .max()
        .unwrap_or(4)
        .max(4);
    let header = Line::from(vec![
        Span::raw(format!(
            "   {:<name_w$}  {:<kind_w$}  {:<9}  ",
            "store", "type", "hash"
        )),
        Span::raw("reachable / location / fallbacks"),
    ])
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let mut lines = vec![header];
    let cursor = app.stores.cursor.min(rows.len().saturating_sub(1));
    for (i, r) in rows.iter().enumerate() {
        let open = r.name == ws.store.name();
        let mark = if open { "▶" } else { " " };
        let name = if r.is_default {
            format!("{}*", r.name)
        } else {
            r.name.clone()
        };
        let (reach, reach_style) = if !r.supported {
            (
                "not supported by metaxy-tui".to_string(),
                Style::new().fg(muted()),
            )
        } else {
            match app.stores.probes.get(&r.name) {
                None => ("not checked".to_string(), Style::new().fg(muted())),
                Some(Load::Loading) => (
                    format!("{} opening…", app.spinner()),
                    Style::new().fg(muted()),
                ),
                Some(Load::Ready(s)) => (
                    format!("✓ {s}"),
                    Style::new().fg(status_color(StatusCategory::UpToDate)),
                ),
                Some(Load::Failed(e)) => (
                    format!("✗ {}", pretty_path(e.lines().next().unwrap_or_default())),
                    Style::new().fg(status_color(StatusCategory::Error)),
                ),
            }
        };
        let mut line = Line::from(vec![
            Span::raw(format!(" {mark} ")).fg(accent()),
            Span::raw(format!("{name:<name_w$}  ")).bold(),
            Span::raw(format!("{:<kind_w$}  ", r.kind)),
            Span::raw(format!("{:<9}  ", r.hash)).fg(muted()),
            Span::styled(reach, reach_style),
        ]);
        if i == cursor {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
        let mut detail = vec![Span::raw(format!("   {:<name_w$}  ", ""))];
        if !r.location.is_empty() {
            detail.push(Span::raw(pretty_path(&r.location)).fg(muted()));
        }
        if !r.fallbacks.is_empty() {
            detail
                .push(Span::raw(format!("  · fallbacks: {}", r.fallbacks.join(", "))).fg(muted()));
        }
        lines.push(Line::from(detail));
    }
    lines.push(Line::default());
    lines.push(
        Line::from("   * the config's default store · ▶ the store open now · Enter opens another (its graph and statuses)")
            .fg(muted()),
    );
    frame.render_widget(Paragraph::new(lines), inner);
}
