//! Painting of the history screen.

#[allow(unused_imports)]
use crate::tui::prelude::*;

pub(crate) fn draw_history_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    let left_w = 52.min(area.width / 2).max(20);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    draw_versions_pane(frame, left, app, ws);
    draw_diff_pane(frame, right, app);
}

/// The left pane: the pushed project versions (cursor, base, current) and what `R` does for the selected feature.
fn draw_versions_pane(frame: &mut Frame, left: Rect, app: &App, ws: &Workspace) {
    let snaps = ws.history();
    let h = &app.history;
    let current = ws.graph.project_version.clone();
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
}

/// The right pane: the graph diff between the base and the selected version, scrolled by `h.scroll`.
fn draw_diff_pane(frame: &mut Frame, right: Rect, app: &App) {
    use crate::engine::graph::diff::DiffStatus;
    let h = &app.history;
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
            feature_diff_lines(&mut out, d, &rows_of);
        }
    }
    let start = h.scroll.min(out.len().saturating_sub(1));
    frame.render_widget(Paragraph::new(out.split_off(start)), inner);
}

/// One line per feature of `d` (status mark, key, versions, stored rows) and one per changed field, appended to
/// `out`; `rows_of(key, version)` gives the stored row count shown for a feature version.
fn feature_diff_lines(
    out: &mut Vec<Line<'static>>,
    d: &crate::engine::graph::diff::GraphDiff,
    rows_of: &dyn Fn(&str, &Option<String>) -> String,
) {
    use crate::engine::graph::diff::{DiffStatus, FieldChangeKind};
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
            out.push(Line::from(format!("      {k} field {:<16} {v}{code}", c.field)).fg(color));
        }
    }
}
