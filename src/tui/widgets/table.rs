//! The table widget of the tabs: frozen id columns, horizontal scroll, hidden columns, cell styles.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// The largest useful horizontal scroll of `t` in `width` cells: from there on, the last columns all fit.
pub(crate) fn max_scroll(t: &ShownColumns, width: u16) -> usize {
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
pub(crate) fn visible_columns(t: &ShownColumns, col: usize, width: u16) -> (usize, usize, usize) {
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
pub(crate) fn cell_style(kind: CellKind) -> Style {
    match kind {
        CellKind::Plain => Style::new(),
        CellKind::Null => Style::new().fg(muted()).add_modifier(Modifier::ITALIC),
        CellKind::Key => Style::new().fg(accent()),
        CellKind::Changed => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        CellKind::Unchanged => Style::new().fg(muted()),
    }
}
pub(crate) fn draw_table(frame: &mut Frame, area: Rect, t: &TableData, app: &App, focused: bool) {
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
