//! Painting: [`draw`] renders an `&App` into a frame. It never blocks and never fails: every size is clamped so
//! that any terminal (down to a few cells) renders without panicking.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Clear, List, ListItem, ListState, Paragraph, Tabs, Wrap,
};
use ratatui::Frame;

use crate::engine::status::StatusCategory;
use crate::engine::workspace::Workspace;
use crate::tui::app::{App, FeatureEntry, Focus, Load, Screen, Tab, WorkspaceState};
use crate::tui::view::{text_width, CellKind, StatusReport, TableData};

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
        WorkspaceState::Ready(ws) => draw_main(frame, body, app, ws),
    }
    let bar = Paragraph::new(status_lines).style(Style::new().bg(Color::Rgb(30, 30, 30)));
    frame.render_widget(bar, status);
    if let Some(d) = &app.overlay.dialog {
        crate::tui::dialog_ui::draw_dialog(frame, body, app, d);
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

fn draw_graph_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    use crate::tui::graph_view::{blit, layout, paint, relatives, Emphasis};
    let title = Line::from(vec![
        Span::raw(" Feature graph ").bold(),
        Span::raw(format!("· {} features ", app.features.entries.len())).fg(muted()),
    ]);
    let block = pane_block(title, true).title_bottom(
        Line::from(format!(
            " ←↓↑→ {} move · Enter open · / search · {} collapse prefix · {} all · {} or Esc back ",
            bound_keys("h j k l").replace(' ', ""),
            bound_keys("c"),
            bound_keys("C"),
            bound_keys("v")
        ))
        .fg(muted())
        .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.features.entries.is_empty() {
        frame.render_widget(
            Paragraph::new("The graph has no features.").fg(muted()),
            inner,
        );
        return;
    }
    let (legend_area, canvas_area) = if inner.height > 3 {
        let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
        (Some(a), b)
    } else {
        (None, inner)
    };
    let model = app.graph_model(&ws.graph);
    let status = |n: usize| app.group_status(&model, n);
    // a collapsed prefix takes the colour of its most urgent status
    let color = |n: usize| {
        let rank = |c: StatusCategory| match c {
            StatusCategory::Error | StatusCategory::Missing => 4,
            StatusCategory::NeedsUpdate => 3,
            StatusCategory::UpToDate => 2,
            StatusCategory::RootFeature => 1,
        };
        model.members[n]
            .iter()
            .filter_map(|&f| app.features.entries.get(f).and_then(|e| e.report.as_ref()))
            .map(|r| r.status.status)
            .max_by_key(|&c| rank(c))
            .map(status_color)
            .unwrap_or_else(muted)
    };
    let (up, down) = relatives(&ws.graph, app.features.selected);
    let emphasis = |n: usize| {
        let m = &model.members[n];
        if m.contains(&app.features.selected) {
            Emphasis::Selected
        } else if m.iter().any(|f| up.contains(f)) {
            Emphasis::Upstream
        } else if m.iter().any(|f| down.contains(f)) {
            Emphasis::Downstream
        } else {
            Emphasis::Other
        }
    };
    let lay = layout(&model, &status);
    let grid = paint(&model, &lay, &status, &color, &emphasis);
    // keep the selected box visible
    let (mut sx, mut sy) = app.graph.scroll.get();
    if let Some(n) = model
        .node_of
        .get(app.features.selected)
        .and_then(|&n| lay.nodes.get(n))
    {
        let x0 = lay.layer_x[n.layer];
        let x1 = x0 + lay.layer_w[n.layer];
        let (w, h) = (canvas_area.width as usize, canvas_area.height as usize);
        if x0 < sx {
            sx = x0;
        } else if x1 > sx + w {
            sx = x1.saturating_sub(w);
        }
        if n.y < sy {
            sy = n.y;
        } else if n.y + 4 > sy + h {
            sy = (n.y + 4).saturating_sub(h);
        }
    }
    app.graph.scroll.set((sx, sy));
    blit(frame.buffer_mut(), canvas_area, &grid, sx, sy);
    if let Some(l) = legend_area {
        let sel = app
            .features
            .entries
            .get(app.features.selected)
            .map(|e| e.key.to_string())
            .unwrap_or_default();
        let mut spans = vec![
            Span::raw(sel).bold().fg(accent()),
            Span::raw(format!(
                "  {} upstream · {} downstream",
                up.len(),
                down.len()
            ))
            .fg(muted()),
            Span::raw("   ■ upstream").fg(Color::Magenta),
            Span::raw("  ■ downstream").fg(Color::Green),
        ];
        if lay.width > canvas_area.width as usize || lay.height > canvas_area.height as usize {
            spans.push(
                Span::raw(format!(
                    "   scrolled {sx},{sy} of {}x{}",
                    lay.width, lay.height
                ))
                .fg(muted()),
            );
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), l);
    }
    if let Some(input) = &app.features.filter_input {
        let r = Rect {
            y: area.y + area.height.saturating_sub(2),
            height: 1,
            x: area.x + 1,
            width: area.width.saturating_sub(2),
        };
        frame.render_widget(Clear, r);
        let [p, f] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(r);
        frame.render_widget(Paragraph::new("/ ").fg(Color::Yellow), p);
        frame.render_widget(input, f);
    }
}

fn draw_stores_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
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

fn draw_history_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    use crate::engine::graph_diff::{DiffStatus, FieldChangeKind};
    let snaps = ws.history();
    let h = &app.history;
    let current = ws.graph.project_version.clone();
    let left_w = 52.min(area.width / 2).max(20);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    // pushed project versions
    let block = pane_block(
        Line::from(format!(" Pushed project versions ({}) ", snaps.len())).bold(),
        true,
    )
    .title_bottom(
        Line::from(format!(
            " j k select · x base · {} rebase · H/Esc back ",
            bound_keys("R")
        ))
        .fg(muted())
        .right_aligned(),
    );
    let inner = block.inner(left);
    frame.render_widget(block, left);
    let mut lines = vec![Line::from(format!(
        "  {:<10} {:<20} {:>8}",
        "version", "pushed at (UTC)", "features"
    ))
    .fg(muted())];
    for (i, sn) in snaps.iter().enumerate() {
        let mut tag = String::new();
        if sn.project_version == current {
            tag.push_str(" current");
        }
        if h.base.as_deref() == Some(sn.project_version.as_str()) {
            tag.push_str(" base");
        }
        let text = format!(
            "{} {:<10} {:<20} {:>8}{tag}",
            if i == h.cursor { ">" } else { " " },
            sn.project_version,
            sn.recorded_at
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " "),
            sn.feature_count
        );
        let l = Line::from(text);
        lines.push(if i == h.cursor {
            l.bold().fg(Color::Black).bg(accent())
        } else if h.base.as_deref() == Some(sn.project_version.as_str()) {
            l.fg(Color::Magenta)
        } else {
            l
        });
    }
    if snaps.is_empty() {
        lines.push(Line::from("No graph was ever pushed to this store.").fg(muted()));
    }
    // what `R` does for the feature selected in the feature list
    if let Some(r) = app.history_rebase() {
        use crate::tui::app::HistoryRebase;
        let r_key = bound_keys("R");
        let (key, text) = match &r {
            HistoryRebase::Root(k) => (k, "root feature: cannot be rebased".to_string()),
            HistoryRebase::Absent { key, .. } => (key, "not in this version".to_string()),
            HistoryRebase::Current { key, version } => {
                (key, format!("{version} here = current: nothing to rebase"))
            }
            HistoryRebase::From {
                key, from, current, ..
            } => (key, format!("{r_key}: rebase its rows {from} → {current}")),
        };
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("  selected ").fg(muted()),
            Span::raw(key.to_string()).bold(),
        ]));
        let l = Line::from(format!("  {text}"));
        lines.push(if matches!(r, HistoryRebase::From { .. }) {
            l.fg(accent())
        } else {
            l.fg(muted())
        });
    }
    frame.render_widget(Paragraph::new(lines), inner);

    // the diff
    let title = match &h.diff {
        Some(Ok(d)) if d.from_project_version == d.to_project_version => {
            format!(" {} (first pushed version) ", d.to_project_version)
        }
        Some(Ok(d)) => format!(" {} → {} ", d.from_project_version, d.to_project_version),
        _ => " Graph diff ".into(),
    };
    let block = pane_block(Line::from(title).bold(), false);
    let inner = block.inner(right);
    frame.render_widget(block, right);
    let mut out: Vec<Line> = vec![];
    match &h.diff {
        None => out.push(Line::from("Select a version.").fg(muted())),
        Some(Err(e)) => out.extend(error_lines("Cannot load the graphs:", e)),
        Some(Ok(d)) => {
            let count = |st: DiffStatus| d.with_status(st).count();
            let moved = d
                .features
                .iter()
                .filter(|f| f.status == DiffStatus::Unchanged && f.version_changed())
                .count();
            out.push(Line::from(format!(
                "{} changed · {} added · {} removed · {} with a new version because upstream changed",
                count(DiffStatus::Changed),
                count(DiffStatus::Added),
                count(DiffStatus::Removed),
                moved
            )));
            out.push(
                Line::from("rows: stored rows of the feature version in this store (old → new)")
                    .fg(muted()),
            );
            out.push(Line::default());
            let rows_of = |key: &str, v: &Option<String>| -> String {
                match (&h.rows, v) {
                    (None, _) => app.spinner().to_string(),
                    (_, None) => "-".into(),
                    (Some(r), Some(v)) => r
                        .get(key)
                        .and_then(|c| c.iter().find(|(fv, _)| fv == v))
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_else(|| "0".into()),
                }
            };
            for f in &d.features {
                let (mark, color) = match f.status {
                    DiffStatus::Added => ("+", Color::Green),
                    DiffStatus::Removed => ("-", Color::Red),
                    DiffStatus::Changed => ("~", Color::Yellow),
                    DiffStatus::Unchanged if f.version_changed() => ("·", Color::Cyan),
                    DiffStatus::Unchanged => ("=", muted()),
                };
                let versions = match (&f.old_version, &f.new_version) {
                    (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
                    (Some(a), Some(_)) => a.clone(),
                    (None, Some(b)) => format!("(new) {b}"),
                    (Some(a), None) => format!("{a} (removed)"),
                    (None, None) => String::new(),
                };
                let rows = if f.old_version == f.new_version {
                    rows_of(&f.key, &f.new_version)
                } else {
                    format!(
                        "{} → {}",
                        rows_of(&f.key, &f.old_version),
                        rows_of(&f.key, &f.new_version)
                    )
                };
                let note = match f.status {
                    DiffStatus::Unchanged if f.version_changed() => "  (upstream changed)",
                    _ => "",
                };
                out.push(Line::from(vec![
                    Span::styled(format!("{mark} "), Style::new().fg(color).bold()),
                    Span::styled(format!("{:<28}", f.key), Style::new().fg(color)),
                    Span::raw(format!(" {versions:<21}")),
                    Span::raw(format!(" rows {rows}")).fg(muted()),
                    Span::raw(note).fg(muted()),
                ]));
                for c in &f.field_changes {
                    let (k, v) = match c.kind {
                        FieldChangeKind::Added => (
                            "+",
                            format!("(new) {}", c.new_version.clone().unwrap_or_default()),
                        ),
                        FieldChangeKind::Removed => (
                            "-",
                            format!("{} (removed)", c.old_version.clone().unwrap_or_default()),
                        ),
                        FieldChangeKind::Changed => (
                            "~",
                            format!(
                                "{} → {}",
                                c.old_version.clone().unwrap_or_default(),
                                c.new_version.clone().unwrap_or_default()
                            ),
                        ),
                    };
                    let code = f
                        .fields
                        .iter()
                        .find(|fv| fv.key == c.field)
                        .map(|fv| format!("  code_version {}", fv.code_version))
                        .unwrap_or_default();
                    out.push(
                        Line::from(format!("      {k} field {:<16} {v}{code}", c.field)).fg(color),
                    );
                }
            }
        }
    }
    let start = h.scroll.min(out.len().saturating_sub(1));
    frame.render_widget(Paragraph::new(out.split_off(start)), inner);
}

/// Below this width only the focused pane is shown.
const SINGLE_PANE_WIDTH: u16 = 60;

fn draw_main(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
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

fn entry_status(app: &App, e: &FeatureEntry) -> (String, String, Style) {
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
fn list_width(app: &App, total: u16) -> (u16, bool) {
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

fn pane_block(title: Line<'_>, focused: bool) -> Block<'_> {
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

fn draw_list(frame: &mut Frame, area: Rect, app: &App, two_line: bool) {
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
fn highlighted(text: &str, matched: &[usize], style: Style) -> Vec<Span<'static>> {
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

fn tab_title(app: &App, tab: Tab) -> String {
    let n = tab.index() + 1;
    let label = tab.label();
    if tab == Tab::Metadata || tab == Tab::Detail {
        return format!("{n} {label}");
    }
    let Some(e) = app.selected_entry() else {
        return format!("{n} {label}");
    };
    match &e.report {
        None => format!("{n} {label} {}", app.spinner()),
        Some(r) => {
            let s = &r.status;
            let c = match tab {
                Tab::New => s.missing,
                Tab::Stale => s.stale,
                _ => s.orphaned,
            };
            let shown = match (
                &app.details.inc_filter,
                app.details.inc_filtered.get(&e.key),
            ) {
                (Some(_), Some(Load::Ready(t))) => Some(match tab {
                    Tab::New => t.new.total_rows,
                    Tab::Stale => t.stale.total_rows,
                    _ => t.orphaned.total_rows,
                }),
                _ => None,
            };
            match (c, shown) {
                (Some(c), Some(f)) => format!("{n} {label} ({f}/{c})"),
                (Some(c), None) => format!("{n} {label} ({c})"),
                _ => format!("{n} {label}"),
            }
        }
    }
}

fn draw_details(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    let focused = app.features.focus == Focus::Details;
    let [tabs_area, pane] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let titles: Vec<Line> = Tab::ALL
        .iter()
        .map(|t| Line::from(tab_title(app, *t)))
        .collect();
    let tabs = Tabs::new(titles)
        .select(app.details.tab.index())
        .style(Style::new().fg(muted()))
        .highlight_style(Style::new().fg(Color::Black).bg(accent()).bold())
        .divider("│");
    frame.render_widget(tabs, tabs_area);
    let mut a = app.areas.get();
    a.tabs = tabs_area;
    app.areas.set(a);

    let Some(entry) = app.selected_entry() else {
        frame.render_widget(
            Paragraph::new("No feature selected.").block(pane_block(Line::default(), focused)),
            pane,
        );
        return;
    };
    let key = entry.key.to_string();
    let title = Line::from(vec![
        Span::raw(" "),
        Span::raw(key.clone()).bold(),
        Span::raw(format!(" · {} ", app.details.tab.label())),
    ]);
    let mut block = pane_block(title, focused);
    let inner = block.inner(pane);
    let (info_area, body) = if inner.height >= 6 {
        let [i, _, b] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        (Some(i), b)
    } else {
        (None, inner)
    };

    if app.details.tab == Tab::Detail {
        frame.render_widget(block, pane);
        let lines = detail_lines(app, ws, entry);
        let start = app.details.nav[Tab::Detail.index()]
            .cursor
            .min(lines.len().saturating_sub(1));
        frame.render_widget(
            Paragraph::new(lines.into_iter().skip(start).collect::<Vec<_>>()),
            inner,
        );
        return;
    }
    let table: Option<&TableData> = app.current_table();
    if let Some(t) = table {
        let nav = &app.details.nav[app.details.tab.index()];
        let (start, end) = nav.visible_in(
            t.start,
            t.rows.len(),
            body.height.saturating_sub(1) as usize,
        );
        let sc = shown_columns(t, app);
        nav.max_col.set(max_scroll(&sc, body.width));
        let of = if t.counting {
            format!("≥{} (counting…)", t.total_rows)
        } else {
            t.total_rows.to_string()
        };
        let mut range = if t.rows.is_empty() {
            format!(" rows 0 of {of} ")
        } else {
            format!(" rows {}-{} of {of} ", start + 1, end)
        };
        if t.truncated() {
            range = format!("{}(first {} loaded) ", range, t.rows.len());
        }
        let (c0, c1, ctotal) = visible_columns(&sc, nav.col, body.width);
        if c0 > 0 || c1 < ctotal {
            let first = if c0 == 0 { 1 } else { sc.frozen + c0 + 1 };
            range.push_str(&format!(
                "· cols {first}-{} of {} ",
                sc.frozen + c1,
                sc.idx.len()
            ));
        }
        if sc.hidden > 0 {
            range.push_str(&format!("· {} hidden ", sc.hidden));
        }
        block = block.title(Line::from(range).right_aligned());
        if matches!(app.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
            if let Some(f) = &app.details.inc_filter {
                block = block.title_bottom(
                    Line::from(format!(" filter: {f} "))
                        .fg(Color::Magenta)
                        .left_aligned(),
                );
            }
        }
        if app.details.tab == Tab::Metadata {
            if let Some(d) = app.details.view.describe() {
                block = block.title_bottom(
                    Line::from(format!(" {d} "))
                        .fg(Color::Magenta)
                        .left_aligned(),
                );
            }
        }
        if app.details.tab == Tab::Stale && t.total_rows > 0 {
            block = block.title_bottom(Line::from(vec![
                Span::raw(" "),
                Span::styled("old → new", Style::new().fg(Color::Yellow).bold()),
                Span::raw(" changed provenance · "),
                Span::styled("dimmed", Style::new().fg(muted())),
                Span::raw(" unchanged "),
            ]));
        }
    }
    frame.render_widget(block, pane);
    if let (Some(input), Some(i)) = (&app.details.sql_input, info_area) {
        let r = Rect { y: i.y + 1, ..i };
        let [p, f] = Layout::horizontal([Constraint::Length(6), Constraint::Min(1)]).areas(r);
        frame.render_widget(Paragraph::new("WHERE ").fg(Color::Yellow).bold(), p);
        frame.render_widget(input, f);
    }
    if let Some(i) = info_area {
        frame.render_widget(Paragraph::new(info_line(ws, entry)), i);
        if app.details.tab == Tab::Stale {
            let summary = if app.details.inc_filter.is_some() {
                match app.details.inc_filtered.get(&entry.key) {
                    Some(Load::Ready(t)) => t.cause_summary.as_ref(),
                    _ => None,
                }
            } else {
                entry.report.as_ref().and_then(|r| r.cause_summary.as_ref())
            };
            if let Some(summary) = summary {
                let why = Rect { y: i.y + 1, ..i };
                frame.render_widget(
                    Paragraph::new(Line::from(vec![
                        Span::styled("why: ", Style::new().fg(muted())),
                        Span::styled(summary.clone(), Style::new().fg(Color::Yellow)),
                    ])),
                    why,
                );
            }
        }
    }
    if let Some(t) = table {
        draw_table(frame, body, t, app, focused);
        if t.rows.is_empty() {
            let msg = match app.details.tab {
                Tab::Metadata => "No rows in the default read.".to_string(),
                tab => format!("✓ No {} samples.", tab.label().to_lowercase()),
            };
            let [_, m] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(body);
            frame.render_widget(Paragraph::new(msg).fg(Color::Green), m);
        }
        return;
    }
    let msg: Vec<Line> = match app.details.tab {
        Tab::Metadata => match app.details.metadata.get(&entry.key) {
            None | Some(Load::Loading) => vec![spinner_line(app, &format!("Reading {key}…"))],
            Some(Load::Failed(e)) => error_lines(&format!("Reading {key} failed:"), e),
            Some(Load::Ready(_)) => vec![
                Line::from(format!("The store has no table for {key} (status: missing).")).fg(Color::Red),
                Line::default(),
                Line::from("Nothing has been written for this feature yet.").fg(muted()),
            ],
        },
        _ if app.details.inc_filter.is_some()
            && entry.report.as_ref().is_some_and(|r| r.status.increment.is_some()) =>
        {
            match app.details.inc_filtered.get(&entry.key) {
                Some(Load::Failed(e)) => error_lines("Filtering the increment failed:", e),
                _ => vec![spinner_line(app, &format!("Filtering the increment of {key}…"))],
            }
        }
        _ => match &entry.report {
            None => vec![spinner_line(app, &format!("Computing the increment of {key}…"))],
            Some(r) if r.status.status == StatusCategory::Error => {
                error_lines(&format!("Computing the status of {key} failed:"), r.status.error_message.as_deref().unwrap_or("unknown error"))
            }
            Some(r) if r.status.is_root_feature => vec![
                Line::from(vec![
                    Span::raw(format!("{key} is a ")),
                    Span::styled("root feature", Style::new().fg(Color::Blue).bold()),
                    Span::raw(" (no upstream dependencies)."),
                ]),
                Line::default(),
                Line::from("Root increments need a samples file (id columns + metaxy_provenance_by_field):"),
                Line::from(format!("  metaxy-tui metadata increment {key} --samples FILE")).fg(accent()),
                Line::from("(coming later)").fg(muted()),
            ],
            Some(r) => error_lines("Rendering the increment failed:", r.render_error.as_deref().unwrap_or("no increment")),
        },
    };
    frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: false }), body);
}

/// The Detail tab: everything the pushed definition says about a feature, plus where its rows come from.
fn detail_lines(app: &App, ws: &Workspace, entry: &FeatureEntry) -> Vec<Line<'static>> {
    use crate::engine::graph::{FieldsMapping, Lineage};
    let key = &entry.key;
    let Some(def) = ws.graph.get(key) else {
        return vec![Line::from("Not in the graph.").fg(Color::Red)];
    };
    let head = |s: &str| Line::from(s.to_string()).bold().fg(accent());
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::raw(format!("  {k:<20}")).fg(muted()),
            Span::raw(v),
        ])
    };
    let v = ws.graph.versions_of(key);
    let mut out = vec![head("Feature")];
    out.push(kv("key", key.to_string()));
    out.push(kv("class", def.pushed.feature_class_path.clone()));
    out.push(kv("id columns", def.spec.id_columns.join(", ")));
    if let Some(v) = v {
        out.push(kv("feature version", v.feature_version.clone()));
        out.push(kv("definition version", v.definition_version.clone()));
        out.push(kv("code version", v.code_version.clone()));
    }
    out.push(kv(
        "project version",
        format!(
            "{} (pushed {} UTC)",
            def.pushed.project_version,
            def.pushed
                .recorded_at
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " ")
        ),
    ));
    let source = ws.store.resolved_from(key);
    out.push(kv(
        "read from",
        format!("store {} · {}", source.name, source.location()),
    ));
    match entry.report.as_ref().map(|r| &r.status) {
        Some(st) => out.push(kv(
            "rows",
            format!(
                "{} (default read: current version, latest per sample, live){}",
                st.store_rows,
                if st.metadata_exists {
                    ""
                } else {
                    " · no table yet"
                }
            ),
        )),
        None => out.push(kv("rows", format!("{} counting…", app.spinner()))),
    }
    if let Some(d) = &def.spec.description {
        out.push(kv("description", d.clone()));
    }
    out.push(Line::default());
    out.push(head("Fields"));
    for (fi, f) in def.spec.fields.iter().enumerate() {
        let fv = v
            .and_then(|v| {
                v.field_versions
                    .iter()
                    .find(|(k, _)| *k == f.key.to_string())
            })
            .map(|(_, x)| x.clone())
            .unwrap_or_default();
        let parents = ws
            .graph
            .parent_fields(key, fi)
            .map(|p| {
                p.iter()
                    .map(|(a, b)| format!("{a}.{b}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|e| format!("error: {e}"));
        out.push(Line::from(vec![
            Span::raw(format!("  {:<16}", f.key.to_string())).bold(),
            Span::raw(format!("code_version {:<6} ", f.code_version)).fg(muted()),
            Span::raw(format!("version {fv:<10} ")),
            Span::raw(if parents.is_empty() {
                "(root field)".to_string()
            } else {
                format!("← {parents}")
            })
            .fg(Color::Magenta),
        ]));
    }
    out.push(Line::default());
    out.push(head("Dependencies"));
    if def.spec.deps.is_empty() {
        out.push(
            Line::from("  none: a root feature (its provenance comes from its producer)")
                .fg(muted()),
        );
    }
    for d in &def.spec.deps {
        let lineage = match &d.lineage {
            Lineage::Identity => "1:1".to_string(),
            Lineage::Aggregation { on } => format!(
                "N:1 on {}",
                on.clone()
                    .map(|o| o.join(", "))
                    .unwrap_or_else(|| "id columns".into())
            ),
            Lineage::Expansion { on, .. } => format!("1:N on {}", on.join(", ")),
        };
        let mapping = match &d.fields_mapping {
            FieldsMapping::Default {
                match_suffix,
                exclude_fields,
            } => {
                let mut m = "default".to_string();
                if *match_suffix {
                    m.push_str(", suffix match");
                }
                if !exclude_fields.is_empty() {
                    m.push_str(&format!(
                        ", excluding {}",
                        exclude_fields
                            .iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                m
            }
            other => format!("{other:?}").to_lowercase(),
        };
        out.push(Line::from(vec![
            Span::raw(format!("  {}", d.feature)).bold(),
            Span::raw(if d.optional { "  (optional)" } else { "" }).fg(Color::Yellow),
        ]));
        out.push(kv("  lineage", lineage));
        out.push(kv(
            "  select",
            match &d.select {
                None => "all columns".into(),
                Some(c) if c.is_empty() => "ids and system columns only".into(),
                Some(c) => c.join(", "),
            },
        ));
        if !d.rename.is_empty() {
            out.push(kv(
                "  rename",
                d.rename
                    .iter()
                    .map(|(a, b)| format!("{a} → {b}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        if !d.sql_filters.is_empty() {
            out.push(kv("  filters", d.sql_filters.join(" AND ")));
        }
        out.push(kv("  fields mapping", mapping));
    }
    let children = ws.graph.children(key);
    out.push(Line::default());
    out.push(head("Downstream"));
    out.push(Line::from(if children.is_empty() {
        "  none (a leaf feature)".to_string()
    } else {
        format!(
            "  {}",
            children
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }));
    out
}

fn spinner_line(app: &App, text: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(app.spinner(), Style::new().fg(accent())),
        Span::raw(format!(" {text}")),
    ])
}

fn error_lines(head: &str, msg: &str) -> Vec<Line<'static>> {
    let mut v = vec![
        Line::from(format!("! {head}")).fg(Color::Red).bold(),
        Line::default(),
    ];
    v.extend(
        msg.lines()
            .map(|l| Line::from(l.to_string()).fg(Color::Red)),
    );
    v
}

fn info_line<'a>(ws: &Workspace, entry: &FeatureEntry) -> Line<'a> {
    let mut parts: Vec<Span> = vec![];
    let sep = || Span::raw(" · ").fg(muted());
    if let Some(def) = ws.graph.get(&entry.key) {
        let version = ws.graph.feature_version(&entry.key).unwrap_or("");
        parts.push(Span::raw("version ").fg(muted()));
        parts.push(Span::raw(version.to_string()));
        parts.push(sep());
        parts.push(Span::raw("ids ").fg(muted()));
        parts.push(Span::raw(def.spec.id_columns.join(", ")));
        parts.push(sep());
        if def.spec.deps.is_empty() {
            parts.push(Span::raw("root").fg(Color::Blue));
        } else {
            parts.push(Span::raw("deps ").fg(muted()));
            parts.push(Span::raw(
                def.spec
                    .deps
                    .iter()
                    .map(|d| d.feature.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        parts.push(sep());
        parts.push(Span::raw("fields ").fg(muted()));
        parts.push(Span::raw(
            def.spec
                .fields
                .iter()
                .map(|f| f.key.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if let Some(r) = &entry.report {
        if r.status.metadata_exists {
            parts.push(sep());
            parts.push(Span::raw(format!("{} rows", r.status.store_rows)));
        }
        // Metaxy's resolved_from: rows that come from a fallback store, not from the store itself
        let source = r
            .status
            .store_metadata
            .as_ref()
            .and_then(|m| m["resolved_from"]["name"].as_str());
        if let Some(src) = source.filter(|s| *s != ws.store.name()) {
            parts.push(sep());
            parts.push(Span::raw(format!("from fallback store {src}")).fg(Color::Yellow));
        }
    }
    Line::from(parts)
}

/// The largest useful horizontal scroll of `t` in `width` cells: from there on, the last columns all fit.
fn max_scroll(t: &ShownColumns, width: u16) -> usize {
    let total = t.idx.len().saturating_sub(t.frozen);
    let mut used: usize = t.widths[..t.frozen].iter().map(|w| w + 2).sum();
    let mut first = total;
    while first > 0 && used + t.widths[t.frozen + first - 1] <= width as usize {
        used += t.widths[t.frozen + first - 1] + 2;
        first -= 1;
    }
    first.min(total.saturating_sub(1))
}

/// The columns a table shows: indices into its headers (the frozen id columns first), their widths on screen.
pub struct ShownColumns {
    /// Header indices, frozen first.
    pub idx: Vec<usize>,
    /// Width on screen of each shown column.
    pub widths: Vec<usize>,
    /// Leading frozen columns.
    pub frozen: usize,
    /// Columns hidden with the column picker.
    pub hidden: usize,
}

/// The columns `t` shows on the current tab: every column but those hidden with the column picker (Metadata tab;
/// id columns always stay), each at most `app.details.column_width` wide.
pub fn shown_columns(t: &TableData, app: &App) -> ShownColumns {
    let cap = app.details.column_width.max(1) as usize;
    let hide = app.details.tab == Tab::Metadata;
    let mut idx = vec![];
    let mut hidden = 0;
    for (c, h) in t.headers.iter().enumerate() {
        if hide && c >= t.frozen && app.details.hidden_columns.contains(h) {
            hidden += 1;
            continue;
        }
        idx.push(c);
    }
    let widths = idx
        .iter()
        .map(|&c| (t.widths.get(c).copied().unwrap_or(1) as usize).min(cap))
        .collect();
    ShownColumns {
        idx,
        widths,
        frozen: t.frozen.min(t.headers.len()),
        hidden,
    }
}

/// Columns shown for horizontal scroll `col` in `width` cells: `(first, end, total)` counted over the scrollable
/// (non-frozen) shown columns, 0-based, `end` exclusive.
fn visible_columns(t: &ShownColumns, col: usize, width: u16) -> (usize, usize, usize) {
    let total = t.idx.len().saturating_sub(t.frozen);
    let first = col.min(max_scroll(t, width));
    let mut used: usize = t.widths[..t.frozen].iter().map(|w| w + 2).sum();
    let mut end = first;
    while end < total && used < width as usize {
        used += t.widths[t.frozen + end] + 2;
        end += 1;
    }
    (first, end, total)
}

/// Truncates `s` to `w` cells (ending with `…` when cut) and pads it with spaces to exactly `w` cells.
pub fn fit(s: &str, w: usize) -> String {
    let total = text_width(s) as usize;
    if total <= w {
        return format!("{s}{}", " ".repeat(w - total));
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let cw = text_width(&s[i..i + c.len_utf8()]) as usize;
        if used + cw > w - 1 {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    used += 1;
    out.push_str(&" ".repeat(w.saturating_sub(used)));
    out
}

fn cell_style(kind: CellKind) -> Style {
    match kind {
        CellKind::Plain => Style::new(),
        CellKind::Null => Style::new().fg(muted()).add_modifier(Modifier::ITALIC),
        CellKind::Key => Style::new().fg(accent()),
        CellKind::Changed => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        CellKind::Unchanged => Style::new().fg(muted()),
    }
}

fn draw_table(frame: &mut Frame, area: Rect, t: &TableData, app: &App, focused: bool) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let mut a = app.areas.get();
    a.table = area;
    app.areas.set(a);
    let nav = &app.details.nav[app.details.tab.index()];
    let sc = shown_columns(t, app);
    let (c0, c1, _) = visible_columns(&sc, nav.col, area.width);
    // (header index, shown width)
    let cols: Vec<(usize, usize)> = (0..sc.frozen)
        .chain((c0..c1).map(|c| c + sc.frozen))
        .map(|k| (sc.idx[k], sc.widths[k]))
        .collect();
    let width = area.width as usize;
    // (column index, width on screen)
    let mut layout: Vec<(usize, usize)> = vec![];
    let mut used = 0usize;
    for &(c, cw) in &cols {
        if used >= width {
            break;
        }
        let w = cw.min(width - used);
        layout.push((c, w));
        used += w + 2;
    }
    let header = Line::from(
        layout
            .iter()
            .flat_map(|&(c, w)| [Span::raw(fit(&t.headers[c], w)), Span::raw("  ")])
            .collect::<Vec<_>>(),
    )
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let mut lines = vec![header];
    let (start, end) = (
        nav.offset.get().max(t.start),
        (nav.offset.get() + nav.page.get()).min(t.end()),
    );
    let cursor = t.clamp(nav.cursor);
    for (i, row) in (start..end).filter_map(|i| Some((i, t.row(i)?))) {
        let mut spans = vec![];
        for &(c, w) in &layout {
            let cell = &row[c];
            spans.push(Span::styled(fit(&cell.text, w), cell_style(cell.kind)));
            spans.push(Span::raw("  "));
        }
        let marked = app.details.tab == Tab::Metadata && app.details.marked.contains_key(&i);
        if marked {
            spans.insert(0, Span::raw("✚ ").fg(Color::Magenta).bold());
        }
        let mut line = Line::from(spans);
        if marked {
            line = line.style(Style::new().fg(Color::Magenta));
        }
        if focused && i == cursor {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// `s` with the temp directory shown as `$TMPDIR` and the home directory as `~`.
pub fn pretty_path(s: &str) -> String {
    let mut out = s.to_string();
    let tmp = std::env::temp_dir();
    let tmp = tmp.to_string_lossy();
    let tmp = tmp.trim_end_matches('/');
    if tmp.len() > 1 {
        out = out.replace(tmp, "$TMPDIR");
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = home.to_string_lossy().trim_end_matches('/').to_string();
        if home.len() > 1 {
            out = out.replace(&home, "~");
        }
    }
    out
}

/// The status bar: one line when it fits in `width`, otherwise the store on the first line and the project, hash
/// algorithm and warnings on the second.
fn status_bar_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let mut lines = store_bar_lines(app, width);
    let mut extra: Vec<Span<'static>> = vec![];
    if let Some(task) = app.overlay.dialog.as_ref().and_then(|d| d.busy()) {
        extra.push(Span::styled(
            format!(" {} {task}… ", app.spinner()),
            Style::new().fg(Color::Yellow),
        ));
    }
    if let Some(t) = &app.toast {
        let style = if t.error {
            Style::new().fg(Color::White).bg(Color::Red).bold()
        } else {
            Style::new().fg(Color::Black).bg(Color::Green).bold()
        };
        extra.push(Span::styled(format!(" {} ", t.text), style));
    }
    if !app.details.marked.is_empty() {
        extra.push(Span::styled(
            format!(
                " {} row(s) marked (d: delete them) ",
                app.details.marked.len()
            ),
            Style::new().fg(Color::Magenta),
        ));
    }
    if !extra.is_empty() {
        lines.insert(0, Line::from(extra));
    }
    lines
}

fn store_bar_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let sep = || Span::raw(" │ ").fg(muted());
    match &app.ws {
        WorkspaceState::Ready(ws) => {
            let mut store: Vec<Span<'static>> = vec![];
            if ws.demo {
                store.push(Span::styled(
                    " DEMO store (embedded example, no metaxy.toml found) ",
                    Style::new().fg(Color::Black).bg(Color::Yellow).bold(),
                ));
                store.push(Span::raw(" "));
            }
            store.push(Span::raw("store ").fg(muted()));
            store.push(Span::raw(pretty_path(&ws.describe_store())));
            let mut project: Vec<Span<'static>> = vec![
                Span::raw("project ").fg(muted()),
                Span::raw(format!(
                    "{} @ {}",
                    ws.graph.project, ws.graph.project_version
                )),
                sep(),
                Span::raw("hash ").fg(muted()),
                Span::raw(ws.store.hash_algorithm().as_str()),
            ];
            let mm = app.features.mismatches;
            if mm > 0 {
                project.push(sep());
                project.push(Span::styled(
                    format!(
                        "⚠ {mm} version mismatch{} (stored vs recomputed)",
                        if mm == 1 { "" } else { "es" }
                    ),
                    Style::new().fg(Color::Yellow).bold(),
                ));
            }
            let one = Line::from(
                store
                    .iter()
                    .cloned()
                    .chain([sep()])
                    .chain(project.iter().cloned())
                    .collect::<Vec<_>>(),
            );
            if one.width() <= width as usize {
                vec![one]
            } else {
                vec![Line::from(store), Line::from(project)]
            }
        }
        WorkspaceState::Opening => {
            vec![Line::from(format!("{} opening…", app.spinner())).fg(muted())]
        }
        WorkspaceState::Failed(_) => vec![Line::from("no store opened").fg(Color::Red)],
    }
}

/// Every key binding, grouped: what the help overlay lists.
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Global",
        &[
            ("?", "toggle this help"),
            (":", "command palette (fuzzy)"),
            ("q  Ctrl-C", "quit"),
            ("r", "reload: reopen store, recompute status"),
            ("Tab  Shift-Tab", "next / previous tab"),
            ("1 … 5", "Metadata New Stale Orphaned Detail"),
            ("v", "feature graph drawing (Esc back)"),
            ("H", "pushed versions and graph diffs"),
            ("S", "stores: reachable or not, open another"),
        ],
    ),
    (
        "Feature list",
        &[
            ("j k  ↓ ↑", "select next / previous feature"),
            ("g G  Home End", "first / last feature"),
            ("PgDn PgUp  ^d ^u", "move 10 / 5 features"),
            ("Enter  l  →", "focus the table"),
            ("/", "fuzzy filter (Enter keeps, Esc clears)"),
            ("Esc", "clear the filter / cancel statuses"),
        ],
    ),
    (
        "Graph screen (v)",
        &[
            ("h j k l  ← ↓ ↑ →", "nearest feature in that direction"),
            ("c", "collapse / expand the key prefix"),
            ("C", "collapse every prefix / expand all"),
            ("Enter", "open the feature's tables"),
        ],
    ),
    (
        "History screen (H)",
        &[("j k  x  R", "version · diff base · rebase from it")],
    ),
    (
        "Table",
        &[
            ("j k  ↓ ↑", "next / previous row"),
            ("PgDn PgUp  Space", "page down / up"),
            ("^d ^u", "half page down / up"),
            ("g G  Home End", "first / last row"),
            ("h l  ← →", "scroll columns left / right"),
            ("0 $", "first / last column"),
            ("< >", "narrower / wider columns"),
            ("x", "mark / unmark the row (Metadata tab)"),
            ("y", "copy the cursor row as JSON (OSC 52)"),
            ("Enter", "every column of the row, full values"),
            ("Esc", "back to the feature list"),
        ],
    ),
    (
        "Metadata tab",
        &[
            ("f", "SQL filter (↑↓ history, empty clears)"),
            ("F  A  D", "all versions / every row / deleted"),
            ("o  O", "sort by next column / reverse"),
            ("s", "column picker: show / hide columns"),
            ("e", "export the view (parquet/csv/ndjson)"),
        ],
    ),
    (
        "Writes (previewed, then confirmed)",
        &[
            ("d", "delete marked/cursor rows or by SQL"),
            ("R", "rebase from an older feature version"),
            ("w", "write rows from a file"),
            ("Tab ^F ^D", "delete form: hard, versions, cascade"),
            ("y  Enter", "confirm (hard: type the key first)"),
            ("Esc  n", "cancel: nothing is written"),
        ],
    ),
];

fn draw_palette(frame: &mut Frame, area: Rect, p: &crate::tui::app::Palette) {
    use crate::tui::app::{palette_matches, PALETTE};
    let matches = palette_matches(&crate::tui::dialog::input_text(&p.input));
    let h = (matches.len() as u16 + 4).min(area.height).max(3);
    let r = Rect {
        y: area.y + 1,
        height: h,
        ..centered(area, 70, h)
    };
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(accent()))
        .title(Line::from(" Command ").bold())
        .title_bottom(
            Line::from(" ↑↓ pick · Enter run · Esc close ")
                .fg(muted())
                .right_aligned(),
        );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    if inner.height == 0 {
        return;
    }
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let [c, f] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
    frame.render_widget(Paragraph::new(": ").fg(Color::Yellow).bold(), c);
    frame.render_widget(&p.input, f);
    let cursor = p.cursor.min(matches.len().saturating_sub(1));
    let lines: Vec<Line> = matches
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let (name, desc, k) = PALETTE[i];
            let l = Line::from(vec![
                Span::raw(format!(" {name:<24}")),
                Span::raw(format!("{desc:<44}")).fg(muted()),
                Span::raw(bound_keys(&k.to_string())).fg(Color::Yellow),
            ]);
            if n == cursor {
                l.bold().bg(Color::Rgb(40, 60, 80))
            } else {
                l
            }
        })
        .collect();
    if lines.is_empty() {
        frame.render_widget(Paragraph::new(" no command matches").fg(muted()), list);
    } else {
        frame.render_widget(Paragraph::new(lines), list);
    }
}

/// A help key text with remapped keys shown as bound (`assets/tui-config.toml`): every word of `k` that is the
/// built-in key of a remappable action becomes that action's key.
pub fn bound_keys(k: &str) -> String {
    let map = &crate::tui::settings::active().keys;
    k.split(' ')
        .map(|w| {
            let mut c = w.chars();
            let one = if w == "Space" {
                Some(' ')
            } else {
                match (c.next(), c.next()) {
                    (Some(ch), None) => Some(ch),
                    _ => None,
                }
            };
            match one {
                Some(ch) => map
                    .shown(crossterm::event::KeyCode::Char(ch))
                    .map(crate::tui::settings::key_name)
                    .unwrap_or_else(|| w.to_string()),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn help_lines(groups: &[(&str, &[(&str, &str)])]) -> Vec<Line<'static>> {
    let mut lines = vec![];
    for (group, keys) in groups {
        lines.push(Line::from(format!(" {group}")).bold().fg(accent()));
        for (k, d) in *keys {
            let k = bound_keys(k);
            lines.push(Line::from(vec![
                Span::raw(format!("   {k:<18}")).fg(Color::Yellow),
                Span::raw(d.to_string()),
            ]));
        }
        lines.push(Line::default());
    }
    lines
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let rows: usize = HELP.iter().map(|(_, k)| k.len() + 2).sum::<usize>() + 1;
    // two columns when one would not fit the height and the terminal is wide enough
    let split = rows + 2 > area.height as usize && area.width >= 110;
    // the split point that balances the two columns
    let half = (1..HELP.len())
        .min_by_key(|&k| {
            let l: usize = HELP[..k].iter().map(|(_, x)| x.len() + 2).sum();
            let r: usize = HELP[k..].iter().map(|(_, x)| x.len() + 2).sum();
            l.max(r)
        })
        .unwrap_or(1);
    let (w, h) = if split {
        let left: usize = HELP[..half].iter().map(|(_, k)| k.len() + 2).sum();
        let right: usize = HELP[half..].iter().map(|(_, k)| k.len() + 2).sum();
        (area.width.min(150), left.max(right) as u16 + 3)
    } else {
        (76, rows as u16 + 2)
    };
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(accent()))
        .title(Line::from(" Keys ").bold())
        .title_bottom(
            Line::from(" ? or Esc to close ")
                .fg(muted())
                .right_aligned(),
        );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    if split {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(help_lines(&HELP[..half])), a);
        frame.render_widget(Paragraph::new(help_lines(&HELP[half..])), b);
    } else {
        frame.render_widget(Paragraph::new(help_lines(HELP)), inner);
    }
}
