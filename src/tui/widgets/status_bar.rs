//! The bottom bars: the status line (toasts, statuses, warnings) and the store line.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// `s` with the home directory shown as `~`, and the temp directory as `$TMPDIR` when the `TMPDIR` environment
/// variable names it (so the label is one the user can expand in a shell; with `TMPDIR` unset the real path, e.g.
/// `/tmp`, is shown). Unit tests always use the `$TMPDIR` label, so snapshots are the same whether or not the
/// machine sets `TMPDIR`.
pub fn pretty_path(s: &str) -> String {
    let mut out = s.to_string();
    let tmp_is_named = cfg!(test) || std::env::var_os("TMPDIR").is_some_and(|v| !v.is_empty());
    if tmp_is_named {
        let tmp = std::env::temp_dir();
        let tmp = tmp.to_string_lossy();
        let tmp = tmp.trim_end_matches('/');
        if tmp.len() > 1 {
            out = out.replace(tmp, "$TMPDIR");
        }
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
pub(crate) fn status_bar_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let mut lines = store_bar_lines(app, width);
    let mut extra: Vec<Span<'static>> = vec![];
    if let Some(task) = app.overlay.dialog.as_ref().and_then(|d| d.busy()) {
        extra.push(Span::styled(
            format!(" {} {task}… ", app.spinner()),
            Style::new().fg(Color::Yellow),
        ));
    }
    if app.live.busy() {
        extra.push(Span::styled(
            format!(" {} store busy (being written), retrying ", app.spinner()),
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
pub(crate) fn store_bar_lines(app: &App, width: u16) -> Vec<Line<'static>> {
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
            // live refresh (crate::tui::live): on is the quiet default; off and a running refresh are shown
            if !app.live.enabled {
                store.push(Span::raw(" (live refresh off)").fg(muted()));
            } else if app.live.refreshing {
                store.push(Span::raw(format!(" {} refreshing", app.spinner())).fg(Color::Yellow));
            }
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
