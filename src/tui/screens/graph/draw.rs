//! Painting of the graph screen.

#[allow(unused_imports)]
use crate::tui::prelude::*;

pub(crate) fn draw_graph_screen(frame: &mut Frame, area: Rect, app: &App, ws: &Workspace) {
    use crate::tui::screens::graph::layout::{blit, layout, paint, relatives, Emphasis};
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
