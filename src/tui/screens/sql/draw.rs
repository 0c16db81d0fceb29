//! Painting of the SQL console: the editor on top, a line saying what runs / what failed / what came back, the
//! result table below.

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::tui::screens::sql::{ConsoleFocus, SqlConsole, SqlResult};

/// Paints the SQL console into `area`.
pub(crate) fn draw_console(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    let c = &app.console;
    let editor_h = (c.editor.lines().len() as u16 + 2).clamp(4, (area.height / 2).max(4));
    let [top, line, bottom] = Layout::vertical([
        Constraint::Length(editor_h),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let title = Line::from(vec![
        Span::raw(" SQL ").bold(),
        Span::raw(format!("· store {} ", ws.store.name())).fg(muted()),
    ]);
    let block = pane_block(title, c.focus == ConsoleFocus::Editor).title_bottom(
        Line::from(
            " F5 / Ctrl-R run · Ctrl-P/N history · Ctrl-L clear · Tab results · Esc cancel / back ",
        )
        .fg(muted())
        .right_aligned(),
    );
    let inner = block.inner(top);
    frame.render_widget(block, top);
    frame.render_widget(&c.editor, inner);
    frame.render_widget(Paragraph::new(status_line(app, c)), line);
    let focused = c.focus == ConsoleFocus::Results;
    let hint = if let Some(p) = &c.export {
        let [l, i] = Layout::horizontal([Constraint::Length(12), Constraint::Min(1)])
            .areas(Rect { height: 1, ..line });
        frame.render_widget(Paragraph::new(" export to:").fg(accent()), l);
        frame.render_widget(p, i);
        " Enter export (.parquet, .csv, .ndjson) · Esc cancel "
    } else {
        " ↓↑ move · h/l columns · s show/hide · o/O sort · Enter row · e export · Tab editor "
    };
    let block = pane_block(Line::from(" Result ").bold(), focused)
        .title_bottom(Line::from(hint).fg(muted()).right_aligned());
    let inner = block.inner(bottom);
    frame.render_widget(block, bottom);
    match (&c.error, &c.result) {
        (Some(e), _) => frame.render_widget(
            Paragraph::new(e.clone())
                .fg(Color::Red)
                .wrap(Wrap { trim: false }),
            inner,
        ),
        (None, Some(r)) => draw_result(frame, inner, c, r, focused, app.details.column_width),
        (None, None) => frame.render_widget(Paragraph::new("no query run yet").fg(muted()), inner),
    }
}

/// What runs, what failed, or what the last query returned.
fn status_line(app: &App, c: &SqlConsole) -> Line<'static> {
    if let Some(r) = &c.running {
        return Line::from(vec![
            Span::raw(format!(" {} ", app.spinner())).fg(accent()),
            Span::raw(r.progress.clone()),
            Span::raw(" · Esc cancels").fg(muted()),
        ]);
    }
    if c.error.is_some() {
        return Line::from(Span::raw(" ✗ query failed").fg(Color::Red));
    }
    match &c.result {
        Some(r) => {
            let shown = r.table.rows.len();
            let mut s = format!(" ✓ {} row(s) in {} ms", r.frame.height(), r.millis);
            if r.truncated {
                s.push_str(" (more rows left out)");
            }
            if shown < r.frame.height() {
                s.push_str(&format!(" · table shows the first {shown}"));
            }
            let hidden = r
                .table
                .headers
                .iter()
                .filter(|h| c.hidden_columns.contains(*h))
                .count();
            if hidden > 0 {
                s.push_str(&format!(" · {hidden} hidden"));
            }
            if let Some((col, desc)) = c.sort {
                let name = r.table.headers.get(col).cloned().unwrap_or_default();
                s.push_str(&format!(
                    " · sorted by {name} {}",
                    if desc { "↓" } else { "↑" }
                ));
            }
            Line::from(vec![
                Span::raw(s).fg(Color::Green),
                Span::raw(if r.views.is_empty() {
                    String::new()
                } else {
                    format!(" · views {}", r.views.join(", "))
                })
                .fg(muted()),
                Span::raw(
                    r.pushed
                        .iter()
                        .map(|(v, f)| format!(" · pushed into {v}: {f}"))
                        .collect::<String>(),
                )
                .fg(muted()),
            ])
        }
        None => Line::from(""),
    }
}

/// The result table: header, rows from the console's offset, the cursor row reversed when focused; columns at
/// most `column_width` cells (`<` / `>` on the features screen).
fn draw_result(
    frame: &mut Frame,
    area: Rect,
    c: &SqlConsole,
    r: &SqlResult,
    focused: bool,
    column_width: u16,
) {
    let t = &r.table;
    if area.height < 2 || area.width == 0 {
        return;
    }
    let cap = column_width.max(1) as usize;
    let idx: Vec<usize> = (0..t.headers.len())
        .filter(|&i| !c.hidden_columns.contains(&t.headers[i]))
        .collect();
    let sc = ShownColumns {
        widths: idx
            .iter()
            .map(|&i| (t.widths.get(i).copied().unwrap_or(1) as usize).min(cap))
            .collect(),
        hidden: t.headers.len() - idx.len(),
        idx,
        frozen: 0,
    };
    let (c0, c1, _) = visible_columns(&sc, c.col, area.width);
    let mut layout: Vec<(usize, usize)> = vec![];
    let mut used = 0usize;
    for k in c0..c1 {
        let width = area.width as usize;
        if used >= width {
            break;
        }
        let w = sc.widths[k].min(width - used);
        layout.push((sc.idx[k], w));
        used += w + 2;
    }
    let header = Line::from(
        layout
            .iter()
            .flat_map(|&(k, w)| [Span::raw(fit(&t.headers[k], w)), Span::raw("  ")])
            .collect::<Vec<_>>(),
    )
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let page = (area.height - 1) as usize;
    c.page.set(page);
    let cursor = c.cursor.min(t.rows.len().saturating_sub(1));
    let mut offset = c.offset.get();
    if cursor < offset {
        offset = cursor;
    } else if cursor >= offset + page {
        offset = cursor + 1 - page;
    }
    c.offset.set(offset);
    let mut lines = vec![header];
    for (i, row) in t.rows.iter().enumerate().skip(offset).take(page) {
        let spans: Vec<Span> = layout
            .iter()
            .flat_map(|&(k, w)| {
                let cell = &row[k];
                [
                    Span::styled(fit(&cell.text, w), cell_style(cell.kind)),
                    Span::raw("  "),
                ]
            })
            .collect();
        let mut line = Line::from(spans);
        if focused && i == cursor {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}
