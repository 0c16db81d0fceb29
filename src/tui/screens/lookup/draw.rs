//! Painting of the lookup screen: one line per feature and sample (state, ids, feature version, updated at, how
//! the walk reached it), and below the selected line's details (stale cause, error, where it was read from).

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::engine::schema as cols;
use crate::engine::versioning::lookup::{SampleLookup, SampleState};
use crate::tui::screens::lookup::{ids_text, lookup_lines};

/// Colour of a sample state (the status colours of the feature list).
fn state_color(s: SampleState) -> Color {
    status_color(match s {
        SampleState::UpToDate => StatusCategory::UpToDate,
        SampleState::Stored => StatusCategory::RootFeature,
        SampleState::Stale | SampleState::New => StatusCategory::NeedsUpdate,
        SampleState::Orphaned
        | SampleState::SoftDeleted
        | SampleState::NotStored
        | SampleState::Absent => StatusCategory::Error,
    })
}

/// A column of the sample's current row as text (`-` when missing or null).
fn row_cell(s: &SampleLookup, column: &str) -> String {
    match s.row.as_ref().and_then(|r| r.get(column)) {
        None | Some(serde_json::Value::Null) => "-".into(),
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(v) => v.to_string(),
    }
}

pub(crate) fn draw_lookup_screen(frame: &mut Frame, area: Rect, app: &App) {
    let what = app.lookup.ids.as_ref().map(ids_text).unwrap_or_default();
    let title = Line::from(vec![
        Span::raw(" Lookup ").bold(),
        Span::raw(format!("· {what} ")).fg(muted()),
    ]);
    let block = pane_block(title, true).title_bottom(
        Line::from(" ↓↑ move · Enter row · d delete · R rebase · Esc back ")
            .fg(muted())
            .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let l = match &app.lookup.result {
        None => return,
        Some(Load::Loading) => {
            frame.render_widget(
                Paragraph::new(format!(
                    " {} looking up {what} in every feature…",
                    app.spinner()
                ))
                .fg(muted()),
                inner,
            );
            return;
        }
        Some(Load::Failed(e)) => {
            frame.render_widget(
                Paragraph::new(format!(" ✗ {e}"))
                    .fg(status_color(StatusCategory::Error))
                    .wrap(Wrap { trim: false }),
                inner,
            );
            return;
        }
        Some(Load::Ready(l)) => l,
    };
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(inner);
    let lines = lookup_lines(l);
    let key_w = l
        .features
        .iter()
        .map(|f| text_width(&f.feature) as usize)
        .max()
        .unwrap_or(7)
        .max(7);
    let ids_of = |s: &SampleLookup| {
        s.ids
            .iter()
            .map(|(c, v)| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ids_w = l
        .features
        .iter()
        .flat_map(|f| f.samples.iter().map(|s| text_width(&ids_of(s)) as usize))
        .max()
        .unwrap_or(3)
        .clamp(3, 40);
    let header = Line::from(format!(
        " {:<key_w$}  {:<12}  {:<ids_w$}  {:<8}  {:<20}  reached",
        "feature", "state", "ids", "version", "updated at"
    ))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows_h = list.height.saturating_sub(1) as usize;
    let cursor = app.lookup.cursor.min(lines.len().saturating_sub(1));
    let mut offset = app.lookup.offset.get().min(cursor);
    if rows_h > 0 && cursor >= offset + rows_h {
        offset = cursor + 1 - rows_h;
    }
    app.lookup.offset.set(offset);
    let mut out = vec![header];
    for (i, line) in lines.iter().enumerate().skip(offset).take(rows_h) {
        let f = &l.features[line.feature];
        let first = i == 0 || lines[i - 1].feature != line.feature;
        let name = if first {
            f.feature.clone()
        } else {
            String::new()
        };
        let reached = f
            .reached
            .clone()
            .unwrap_or_else(|| "no shared id column".into());
        let mut spans = vec![Span::raw(format!(" {name:<key_w$}  ")).bold()];
        match line.sample.and_then(|s| f.samples.get(s)) {
            Some(s) => {
                spans
                    .push(Span::raw(format!("{:<12}  ", s.state.label())).fg(state_color(s.state)));
                spans.push(Span::raw(format!("{:<ids_w$}  ", fit(&ids_of(s), ids_w))));
                spans.push(
                    Span::raw(format!(
                        "{:<8}  ",
                        fit(&row_cell(s, cols::FEATURE_VERSION), 8)
                    ))
                    .fg(muted()),
                );
                spans.push(
                    Span::raw(format!("{:<20}  ", fit(&row_cell(s, cols::UPDATED_AT), 20)))
                        .fg(muted()),
                );
            }
            None => spans.push(
                Span::raw(format!(
                    "{:<12}  {:<ids_w$}  {:<8}  {:<20}  ",
                    "-", "", "", ""
                ))
                .fg(muted()),
            ),
        }
        spans.push(Span::raw(reached).fg(muted()));
        let mut ln = Line::from(spans);
        if i == cursor {
            ln = ln.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        out.push(ln);
    }
    frame.render_widget(Paragraph::new(out), list);
    frame.render_widget(
        Paragraph::new(detail_text(app)).wrap(Wrap { trim: true }),
        detail,
    );
}

/// The details of the selected line: stale cause, error, where it was read from.
fn detail_text(app: &App) -> Vec<Line<'static>> {
    let Some((_, f, s)) = app.lookup_selection() else {
        return vec![];
    };
    let mut out = vec![Line::from(format!(
        " {} · version {} · ids {}",
        f.feature,
        f.feature_version,
        f.id_columns.join(", ")
    ))
    .fg(muted())];
    if let Some(r) = &f.resolved_from {
        out.push(
            Line::from(format!(
                " read from store {} ({})",
                r.name,
                pretty_path(&r.location())
            ))
            .fg(muted()),
        );
    }
    if let Some(c) = s.and_then(|s| s.cause.as_ref()) {
        out.push(
            Line::from(format!(
                " stale because {}",
                crate::engine::versioning::cause::cause_text(c)
            ))
            .fg(status_color(StatusCategory::NeedsUpdate)),
        );
    }
    if let Some(e) = &f.error {
        out.push(Line::from(format!(" ✗ {e}")).fg(status_color(StatusCategory::Error)));
    }
    out
}
