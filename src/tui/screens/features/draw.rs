//! Painting of the features screen: the feature list (one or two lines per feature) beside the details pane,
//! or one pane on narrow terminals.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Below this width only the focused pane is shown.
pub(crate) const SINGLE_PANE_WIDTH: u16 = 60;
pub(crate) fn draw_main(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    if area.width < SINGLE_PANE_WIDTH {
        match app.features.focus {
            Focus::List => draw_list(frame, area, app, list_width(app, area.width).1),
            Focus::Details => draw_details(frame, area, app, ws),
        }
        return;
    }
    let (left_w, two_line) = list_width(app, area.width);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    draw_list(frame, left, app, two_line);
    draw_details(frame, right, app, ws);
}
pub(crate) fn entry_status(app: &App, e: &FeatureEntry) -> (String, String, Style) {
    match &e.report {
        None if app.features.statuses_cancelled => (
            "·".to_string(),
            "cancelled (r)".into(),
            Style::new().fg(muted()),
        ),
        None => (
            app.spinner().to_string(),
            "computing…".into(),
            Style::new().fg(muted()),
        ),
        Some(r) => {
            let c = r.status.status;
            (
                c.icon().to_string(),
                status_text(r),
                Style::new().fg(status_color(c)),
            )
        }
    }
}
/// Width of the feature list and whether its items need two lines (key, then status) to fit.
pub(crate) fn list_width(app: &App, total: u16) -> (u16, bool) {
    let keyw = app
        .features
        .entries
        .iter()
        .map(|f| text_width(&f.key.to_string()))
        .max()
        .unwrap_or(8);
    let statw = app
        .features
        .entries
        .iter()
        .map(|f| text_width(&entry_status(app, f).1))
        .max()
        .unwrap_or(10)
        .max(10);
    let one_line = 2 + 2 + keyw + 2 + statw + 1;
    let max = if total < SINGLE_PANE_WIDTH {
        total
    } else {
        (total * 45 / 100).max(24).min(total)
    };
    if one_line <= max {
        (one_line, false)
    } else {
        ((2 + 2 + keyw.max(statw + 1) + 1).min(max), true)
    }
}
pub(crate) fn pane_block(title: Line<'_>, focused: bool) -> Block<'_> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            Style::new().fg(accent())
        } else {
            Style::new().fg(muted())
        })
        .title(title)
}
pub(crate) fn draw_list(frame: &mut Frame, area: Rect, app: &App, two_line: bool) {
    let focused = app.features.focus == Focus::List;
    let title = if app.features.filter.is_empty() && app.features.filter_input.is_none() {
        Line::from(format!(" Features ({}) ", app.features.entries.len())).bold()
    } else {
        Line::from(vec![
            Span::raw(format!(
                " Features ({}/{}) ",
                app.features.visible.len(),
                app.features.entries.len()
            ))
            .bold(),
            Span::styled(
                format!("/{} ", app.features.filter),
                Style::new().fg(Color::Yellow),
            ),
        ])
    };
    let block = pane_block(title, focused);
    if app.features.entries.is_empty() {
        let p = Paragraph::new("The pushed graph has no features.")
            .fg(muted())
            .block(block)
            .wrap(Wrap { trim: true });
        frame.render_widget(p, area);
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let list_area = match &app.features.filter_input {
        Some(input) if inner.height > 0 => {
            let [list_area, input_area] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
            let [slash, text] =
                Layout::horizontal([Constraint::Length(1), Constraint::Min(0)]).areas(input_area);
            frame.render_widget(Paragraph::new("/").fg(Color::Yellow).bold(), slash);
            frame.render_widget(input, text);
            list_area
        }
        _ => inner,
    };
    if app.features.visible.is_empty() {
        frame.render_widget(
            Paragraph::new("no feature matches")
                .fg(muted())
                .wrap(Wrap { trim: true }),
            list_area,
        );
        return;
    }
    let keyw = app
        .features
        .entries
        .iter()
        .map(|f| f.key.to_string().chars().count())
        .max()
        .unwrap_or(0);
    let matched_style = Style::new()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let items: Vec<ListItem> = app
        .features
        .visible
        .iter()
        .map(|v| {
            let e = &app.features.entries[v.index];
            let (icon, text, style) = entry_status(app, e);
            let mut line = vec![Span::styled(icon, style), Span::raw(" ")];
            line.extend(highlighted(
                &format!("{:<keyw$}", e.key.to_string()),
                &v.matched,
                matched_style,
            ));
            if two_line {
                ListItem::new(vec![
                    Line::from(line),
                    Line::from(vec![Span::raw("  "), Span::styled(text, style)]),
                ])
            } else {
                line.push(Span::raw("  "));
                line.push(Span::styled(text, style));
                ListItem::new(Line::from(line))
            }
        })
        .collect();
    let highlight = if focused {
        Style::new()
            .bg(Color::Rgb(40, 60, 80))
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let list = List::new(items)
        .highlight_style(highlight)
        .highlight_symbol("▌");
    let mut state = ListState::default()
        .with_offset(app.features.list_offset.get())
        .with_selected(app.selected_position());
    frame.render_stateful_widget(list, list_area, &mut state);
    app.features.list_offset.set(state.offset());
    let mut a = app.areas.get();
    a.list = list_area;
    a.list_item_height = if two_line { 2 } else { 1 };
    app.areas.set(a);
}
/// `text` as spans, the characters at positions `matched` in `style`.
pub(crate) fn highlighted(text: &str, matched: &[usize], style: Style) -> Vec<Span<'static>> {
    if matched.is_empty() {
        return vec![Span::raw(text.to_string())];
    }
    let mut spans: Vec<Span<'static>> = vec![];
    let mut run = String::new();
    let mut run_matched = false;
    for (i, c) in text.chars().enumerate() {
        let m = matched.contains(&i);
        if m != run_matched && !run.is_empty() {
            let s = std::mem::take(&mut run);
            spans.push(if run_matched {
                Span::styled(s, style)
            } else {
                Span::raw(s)
            });
        }
        run_matched = m;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(if run_matched {
            Span::styled(run, style)
        } else {
            Span::raw(run)
        });
    }
    spans
}
