//! Painting: [`draw`] renders an `&App` into a frame. It never blocks and never fails: every size is clamped so
//! that any terminal (down to a few cells) renders without panicking.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Accent colour (titles, keys, focus) of the active theme.
pub fn accent() -> Color {
    crate::tui::settings::theme().accent
}

/// Colour of secondary text of the active theme.
pub fn muted() -> Color {
    crate::tui::settings::theme().muted
}

/// Color of a status category (root blue, up to date green, needs update yellow, missing/error red).
pub fn status_color(c: StatusCategory) -> Color {
    let t = crate::tui::settings::theme();
    match c {
        StatusCategory::RootFeature => t.root,
        StatusCategory::UpToDate => t.up_to_date,
        StatusCategory::NeedsUpdate => t.needs_update,
        StatusCategory::Missing | StatusCategory::Error => t.error,
    }
}

/// Status text next to the icon, as in the feature list: `root`, `up to date`, `N new · S stale · O orphaned`,
/// `missing`, `error`.
pub fn status_text(r: &StatusReport) -> String {
    let s = &r.status;
    match s.status {
        StatusCategory::RootFeature => "root".into(),
        StatusCategory::UpToDate => "up to date".into(),
        StatusCategory::NeedsUpdate => format!(
            "{} new · {} stale · {} orphaned",
            s.missing.unwrap_or(0),
            s.stale.unwrap_or(0),
            s.orphaned.unwrap_or(0)
        ),
        StatusCategory::Missing => "missing".into(),
        StatusCategory::Error => "error".into(),
    }
}

/// Paints the whole UI.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let status_lines = status_bar_lines(app, area.width);
    let status_h = (status_lines.len() as u16)
        .min(area.height.saturating_sub(2))
        .max(1);
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status_h),
    ])
    .areas(area);
    draw_header(frame, header, app);
    match &app.ws {
        WorkspaceState::Opening => draw_opening(frame, body, app),
        WorkspaceState::Failed(e) => draw_failed(frame, body, app, e),
        WorkspaceState::Ready(ws) if app.screen == Screen::Graph => {
            draw_graph_screen(frame, body, app, ws)
        }
        WorkspaceState::Ready(ws) if app.screen == Screen::History => {
            draw_history_screen(frame, body, app, ws)
        }
        WorkspaceState::Ready(ws) if app.screen == Screen::Stores => {
            draw_stores_screen(frame, body, app, ws)
        }
        WorkspaceState::Ready(ws) if app.screen == Screen::Sql => {
            crate::tui::screens::sql::draw::draw_console(frame, body, app, ws)
        }
        WorkspaceState::Ready(_) if app.screen == Screen::Lookup => {
            draw_lookup_screen(frame, body, app)
        }
        WorkspaceState::Ready(ws) => draw_main(frame, body, app, ws),
    }
    let bar = Paragraph::new(status_lines).style(Style::new().bg(Color::Rgb(30, 30, 30)));
    frame.render_widget(bar, status);
    if let Some(d) = &app.overlay.dialog {
        draw_dialog(frame, body, app, d);
    }
    if let Some(p) = &app.overlay.palette {
        draw_palette(frame, body, p);
    }
    if app.overlay.help {
        draw_help(frame, area);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let mut left = vec![Span::styled(
        " metaxy-tui ",
        Style::new().fg(Color::Black).bg(accent()).bold(),
    )];
    if let Some(ws) = app.workspace() {
        let crumbs = app.breadcrumbs();
        for (i, c) in crumbs.iter().enumerate() {
            left.push(Span::raw(if i == 0 { " " } else { " › " }).fg(muted()));
            left.push(if i + 1 == crumbs.len() {
                Span::raw(c.clone()).bold()
            } else {
                Span::raw(c.clone())
            });
        }
        left.push(Span::raw(format!(" · {} features", app.features.entries.len())).fg(muted()));
        let done = app.statuses_done();
        if done < app.features.entries.len() && app.features.statuses_cancelled {
            left.push(Span::styled(
                format!(
                    " · statuses {done}/{} (cancelled)",
                    app.features.entries.len()
                ),
                Style::new().fg(muted()),
            ));
        } else if done < app.features.entries.len() {
            left.push(Span::styled(
                format!(
                    " · {} statuses {done}/{}",
                    app.spinner(),
                    app.features.entries.len()
                ),
                Style::new().fg(Color::Yellow),
            ));
        }
        if let Some(s) = &ws.snapshot {
            left.push(Span::styled(
                format!(" · snapshot {s}"),
                Style::new().fg(Color::Magenta),
            ));
        }
    }
    let left = Line::from(left);
    let hints = Line::from(format!(
        " {}:help  {}:commands  {}:graph  {}:history  {}:delete  {}:quit ",
        bound_keys("?"),
        bound_keys(":"),
        bound_keys("v"),
        bound_keys("H"),
        bound_keys("d"),
        bound_keys("q")
    ))
    .fg(muted());
    let lw = left.width();
    frame.render_widget(Paragraph::new(left), area);
    if lw + hints.width() < area.width as usize {
        frame.render_widget(Paragraph::new(hints).alignment(Alignment::Right), area);
    }
}

/// A `w` x `h` rectangle centred in `area` (clamped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_opening(frame: &mut Frame, area: Rect, app: &App) {
    let lines = vec![
        Line::from(vec![
            Span::styled(app.spinner(), Style::new().fg(accent())),
            Span::raw(" Opening the metadata store…"),
        ]),
        Line::from(app.env.source.clone()).fg(muted()),
    ];
    let r = centered(area, area.width, 2);
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

fn draw_failed(frame: &mut Frame, area: Rect, app: &App, err: &str) {
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Red))
        .title(
            Line::from(" ✗ Cannot open the metadata store ")
                .bold()
                .fg(Color::Red),
        );
    let mut lines = vec![
        Line::from(vec![
            Span::raw("Source: ").fg(muted()),
            Span::raw(app.env.source.clone()),
        ]),
        Line::default(),
    ];
    lines.extend(
        err.lines()
            .map(|l| Line::from(l.to_string()).fg(Color::Red)),
    );
    lines.push(Line::default());
    lines.push(Line::from("Press r to retry, q to quit.").fg(muted()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
