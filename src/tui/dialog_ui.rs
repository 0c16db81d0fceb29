//! Painting of the dialogs of [`crate::tui::dialog`] (pure: reads the dialog state only).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::dialog::{
    input_text, DeleteDialog, DeleteStage, Dialog, PreviewLine, RebaseDialog, RebaseStage,
    WriteDialog, WriteStage,
};
use crate::tui::ui::{accent, centered, fit, muted};
use crate::tui::view::text_width;

fn popup(frame: &mut Frame, area: Rect, w: u16, h: u16, title: String, color: Color) -> Rect {
    let r = centered(
        area,
        w.min(area.width.saturating_sub(2)).max(1),
        h.min(area.height).max(1),
    );
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(color))
        .title(Line::from(format!(" {title} ")).bold().fg(color));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    inner
}

fn key_hint(keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = vec![];
    for (i, (k, d)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  ·  ").fg(muted()));
        }
        spans.push(Span::raw(k.to_string()).fg(Color::Yellow).bold());
        spans.push(Span::raw(format!(" {d}")));
    }
    Line::from(spans)
}

/// Paints the open dialog over everything.
pub fn draw_dialog(frame: &mut Frame, area: Rect, app: &App, dialog: &Dialog) {
    match dialog {
        Dialog::Error { title, message } => {
            let lines: Vec<Line> = message
                .lines()
                .map(|l| Line::from(l.to_string()).fg(Color::Red))
                .chain([Line::default(), key_hint(&[("Enter/Esc", "close")])])
                .collect();
            let w = 80u16;
            let h = (message.len() as u16 / (w - 4) + message.lines().count() as u16 + 4).min(20);
            let inner = popup(frame, area, w, h, format!("✗ {title}"), Color::Red);
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        Dialog::RowDetail {
            title,
            fields,
            scroll,
        } => {
            let w = area.width.saturating_sub(6).clamp(20, 140);
            let h = (fields.len() as u16 + 4)
                .min(area.height.saturating_sub(2))
                .max(5);
            let inner = popup(frame, area, w, h, title.clone(), accent());
            let [body, hint] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let kw = fields
                .iter()
                .map(|(k, _)| text_width(k) as usize)
                .max()
                .unwrap_or(0)
                .min(40);
            let lines: Vec<Line> = fields
                .iter()
                .skip(*scroll)
                .map(|(k, v)| {
                    Line::from(vec![
                        Span::raw(format!("{k:>kw$}  ")).fg(muted()),
                        Span::raw(v.clone()),
                    ])
                })
                .collect();
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            frame.render_widget(
                Paragraph::new(key_hint(&[
                    ("j k", "scroll"),
                    ("y", "copy as JSON"),
                    ("Esc", "close"),
                ])),
                hint,
            );
        }
        Dialog::Columns {
            items,
            frozen,
            cursor,
        } => {
            let w = items
                .iter()
                .map(|(c, _)| text_width(c))
                .max()
                .unwrap_or(10)
                .max(56)
                + 8;
            let h = (items.len() as u16 + 4)
                .min(area.height.saturating_sub(2))
                .max(5);
            let shown = items.iter().filter(|(_, s)| *s).count();
            let inner = popup(
                frame,
                area,
                w.min(area.width),
                h,
                format!("Columns · {shown} of {} shown", items.len()),
                accent(),
            );
            let [body, hint] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let rows = body.height as usize;
            let first = cursor.saturating_sub(rows.saturating_sub(1));
            let lines: Vec<Line> = items
                .iter()
                .enumerate()
                .skip(first)
                .take(rows)
                .map(|(i, (c, s))| {
                    let mark = if i < *frozen {
                        "[id]"
                    } else if *s {
                        "[x] "
                    } else {
                        "[ ] "
                    };
                    let mut l = Line::from(vec![
                        Span::raw(format!(" {mark} ")).fg(if *s { accent() } else { muted() }),
                        Span::raw(c.clone()),
                    ]);
                    if i == *cursor {
                        l = l.style(Style::new().add_modifier(Modifier::REVERSED));
                    }
                    l
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), body);
            frame.render_widget(
                Paragraph::new(key_hint(&[
                    ("Space", "show / hide"),
                    ("a", "all / none"),
                    ("Enter", "apply"),
                    ("Esc", "cancel"),
                ])),
                hint,
            );
        }
        Dialog::Delete(d) => draw_delete(frame, area, app, d),
        Dialog::Rebase(r) => draw_rebase(frame, area, app, r),
        Dialog::Write(w) => draw_write(frame, area, app, w),
        Dialog::Export { feature, path } => {
            let inner = popup(frame, area, 90, 7, format!("Export {feature}"), accent());
            let [l, i, n, h] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Length(2),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(
                Paragraph::new(
                    "File (.parquet, .csv or .ndjson; relative to the working directory):",
                )
                .fg(muted()),
                l,
            );
            let [p, f] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(i);
            frame.render_widget(Paragraph::new("> ").fg(accent()), p);
            frame.render_widget(path.as_ref(), f);
            let what = app.details.view.describe().unwrap_or_else(|| {
                "the default read (current version, latest per sample, live)".into()
            });
            frame.render_widget(
                Paragraph::new(format!(
                    "Writes every row of {what}, not only the loaded ones."
                ))
                .fg(muted())
                .wrap(Wrap { trim: false }),
                n,
            );
            frame.render_widget(
                Paragraph::new(key_hint(&[("Enter", "export"), ("Esc", "cancel")])),
                h,
            );
        }
    }
}

fn draw_write(frame: &mut Frame, area: Rect, app: &App, d: &WriteDialog) {
    let w = area.width.saturating_sub(4).clamp(20, 110);
    let h = area.height.saturating_sub(2).clamp(8, 30);
    let title = format!("Write rows to {}", d.feature);
    match &d.stage {
        WriteStage::Pick | WriteStage::Planning => {
            let inner = popup(frame, area, w, h, title, accent());
            let [dir, input, list, note, hint] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Min(1),
                Constraint::Length(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::raw("in ").fg(muted()),
                    Span::raw(crate::tui::ui::pretty_path(&d.dir.display().to_string())),
                ])),
                dir,
            );
            let [prompt, field] =
                Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
            frame.render_widget(Paragraph::new("> ").fg(accent()), prompt);
            frame.render_widget(&d.filter, field);
            let lines: Vec<Line> = match &d.entries {
                None => vec![Line::from(format!("{} listing…", app.spinner())).fg(muted())],
                Some(Err(e)) => vec![Line::from(e.clone()).fg(Color::Red)],
                Some(Ok(_)) => {
                    let vis = d.visible();
                    let height = list.height as usize;
                    let cursor = d.cursor.min(vis.len().saturating_sub(1));
                    let start = cursor.saturating_sub(height.saturating_sub(1));
                    if vis.is_empty() {
                        vec![Line::from("no .parquet, .csv or .ndjson file here").fg(muted())]
                    } else {
                        vis.iter()
                            .enumerate()
                            .skip(start)
                            .take(height)
                            .map(|(i, e)| {
                                let name = if e.is_dir {
                                    format!("{}/", e.name)
                                } else {
                                    e.name.clone()
                                };
                                let l = Line::from(format!(
                                    "{} {}",
                                    if i == cursor { ">" } else { " " },
                                    name
                                ));
                                if i == cursor {
                                    l.bold().fg(Color::Black).bg(accent())
                                } else if e.is_dir {
                                    l.fg(Color::Blue)
                                } else {
                                    l
                                }
                            })
                            .collect()
                    }
                }
            };
            frame.render_widget(Paragraph::new(lines), list);
            let n = if matches!(d.stage, WriteStage::Planning) {
                Line::from(vec![
                    Span::raw(app.spinner()).fg(accent()),
                    Span::raw(" reading the file and filling the system columns…"),
                ])
            } else {
                Line::from("Rows need the id columns and metaxy_provenance_by_field (CSV: metaxy_provenance_by_field.<field>).").fg(muted())
            };
            frame.render_widget(Paragraph::new(n), note);
            frame.render_widget(
                Paragraph::new(key_hint(&[
                    ("↑↓", "pick"),
                    ("Enter", "open / preview"),
                    ("type", "filter or path"),
                    ("⌫", "parent"),
                    ("Esc", "cancel"),
                ])),
                hint,
            );
        }
        WriteStage::Preview {
            plan,
            existing,
            scroll,
            lines,
        } => {
            let inner = popup(frame, area, w, h, title, accent());
            let [summary, rows, footer] = Layout::vertical([
                Constraint::Length(3),
                Constraint::Min(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            let n = plan.rows.height();
            let file = d
                .file
                .as_ref()
                .map(|p| crate::tui::ui::pretty_path(&p.display().to_string()))
                .unwrap_or_default();
            let head = Line::from(format!(
                "{n} row(s) from {file} will be appended: {} new sample(s), {existing} already stored (the new rows supersede them).",
                n.saturating_sub(*existing)
            ))
            .bold();
            let sub = Line::from(format!(
                "feature version {} · project version {} · created/updated at {}",
                plan.rows
                    .column(crate::engine::read::cols::FEATURE_VERSION)
                    .ok()
                    .and_then(|c| c.get(0).ok().map(|v| crate::engine::json::any_to_cell(&v)))
                    .unwrap_or_default(),
                plan.rows
                    .column(crate::engine::read::cols::PROJECT_VERSION)
                    .ok()
                    .and_then(|c| c.get(0).ok().map(|v| crate::engine::json::any_to_cell(&v)))
                    .unwrap_or_default(),
                plan.timestamp.format("%Y-%m-%d %H:%M:%S UTC"),
            ))
            .fg(muted());
            frame.render_widget(
                Paragraph::new(vec![head, sub]).wrap(Wrap { trim: false }),
                summary,
            );
            frame.render_widget(
                Paragraph::new(preview_rows(
                    lines,
                    *scroll,
                    rows.height as usize,
                    rows.width as usize,
                )),
                rows,
            );
            let hint = if n == 0 {
                key_hint(&[("Enter/Esc", "close")])
            } else {
                key_hint(&[
                    ("y/Enter", "write"),
                    ("j k PgUp PgDn", "scroll"),
                    ("n/Esc", "cancel"),
                ])
            };
            frame.render_widget(Paragraph::new(hint), footer);
        }
        WriteStage::Running => {
            let inner = popup(frame, area, 60, 5, "Write".into(), accent());
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(vec![
                        Span::raw(app.spinner()).fg(accent()),
                        Span::raw(format!(" appending rows to {}…", d.feature)),
                    ]),
                    Line::from("one transaction; this cannot be interrupted").fg(muted()),
                ]),
                inner,
            );
        }
    }
}

fn preview_rows(
    lines: &[PreviewLine],
    scroll: usize,
    height: usize,
    width: usize,
) -> Vec<Line<'static>> {
    // column widths over every non-heading line
    let mut widths: Vec<usize> = vec![];
    for l in lines.iter().filter(|l| !l.heading) {
        for (i, c) in l.cells.iter().enumerate() {
            let w = text_width(c) as usize;
            if widths.len() <= i {
                widths.push(w);
            } else {
                widths[i] = widths[i].max(w);
            }
        }
    }
    let start = scroll.min(lines.len().saturating_sub(height.max(1)));
    lines
        .iter()
        .skip(start)
        .take(height)
        .map(|l| {
            if l.heading {
                Line::from(fit(&l.cells.join(" "), width))
                    .bold()
                    .fg(accent())
            } else {
                let text = l
                    .cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}", w = *w))
                    .collect::<Vec<_>>()
                    .join(" │ ");
                let line = Line::from(fit(&format!("  {text}"), width));
                if l.cells.iter().any(|c| c.contains(" → ")) {
                    line.fg(Color::Yellow)
                } else {
                    line
                }
            }
        })
        .collect()
}

fn draw_delete(frame: &mut Frame, area: Rect, app: &App, d: &DeleteDialog) {
    let mode = if d.hard { "hard" } else { "soft" };
    let color = if d.hard { Color::Red } else { Color::Yellow };
    let w = area.width.saturating_sub(4).clamp(20, 110);
    match &d.stage {
        DeleteStage::Form | DeleteStage::Planning => {
            let inner = popup(
                frame,
                area,
                w,
                15,
                format!("Delete from {}", d.feature),
                color,
            );
            let [label, input, opts, note, hint] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Length(4),
                Constraint::Min(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(
                Paragraph::new("Filter (SQL WHERE; empty = every row of the selected versions):")
                    .fg(muted()),
                label,
            );
            let [prompt, field] =
                Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
            frame.render_widget(Paragraph::new("> ").fg(accent()), prompt);
            frame.render_widget(&d.filter, field);
            let onoff = |b: bool| if b { "yes" } else { "no" };
            let opt = |k: &str, name: &str, v: String, hint: &str| {
                Line::from(vec![
                    Span::raw(format!("{k:<5}")).fg(Color::Yellow).bold(),
                    Span::raw(format!("{name:<22}")),
                    Span::raw(v).bold(),
                    Span::raw(format!("  {hint}")).fg(muted()),
                ])
            };
            let lines = vec![
                Line::default(),
                opt(
                    "Tab",
                    "mode",
                    mode.to_string(),
                    if d.hard {
                        "physically removes stored rows"
                    } else {
                        "appends tombstones (metaxy_deleted_at)"
                    },
                ),
                opt(
                    "^F",
                    "all feature versions",
                    onoff(d.with_feature_history).to_string(),
                    "no = only rows of the current feature version",
                ),
                opt(
                    "^D",
                    "cascade downstream",
                    onoff(d.cascade).to_string(),
                    "also delete these samples in downstream features",
                ),
            ];
            frame.render_widget(Paragraph::new(lines), opts);
            let note_text = if matches!(d.stage, DeleteStage::Planning) {
                Line::from(vec![
                    Span::raw(app.spinner()).fg(accent()),
                    Span::raw(" counting the rows that would be deleted…"),
                ])
            } else {
                Line::from("Nothing is written until you confirm the preview.").fg(muted())
            };
            frame.render_widget(Paragraph::new(vec![Line::default(), note_text]), note);
            frame.render_widget(
                Paragraph::new(key_hint(&[("Enter", "preview"), ("Esc", "cancel")])),
                hint,
            );
        }
        DeleteStage::Preview {
            plan,
            scroll,
            confirm,
            lines,
        } => {
            let h = area.height.saturating_sub(2).clamp(8, 30);
            let title = format!("Confirm {mode} delete");
            let inner = popup(frame, area, w, h, title, color);
            let footer_h = if d.hard { 3 } else { 2 };
            let [summary, rows, footer] = Layout::vertical([
                Constraint::Length(2),
                Constraint::Min(1),
                Constraint::Length(footer_h),
            ])
            .areas(inner);
            let total = plan.total_rows();
            let features = plan.features.iter().filter(|f| f.rows.height() > 0).count();
            let filt = input_text(&d.filter);
            let head = if total == 0 {
                Line::from("No row matches: nothing would be deleted.").bold()
            } else {
                Line::from(format!(
                    "{total} row(s) in {features} feature(s) will be {}.",
                    if d.hard {
                        "physically removed"
                    } else {
                        "soft-deleted (tombstones appended)"
                    }
                ))
                .bold()
                .fg(color)
            };
            let sub = Line::from(format!(
                "filter: {}   versions: {}   cascade: {}",
                if filt.trim().is_empty() {
                    "(none)"
                } else {
                    filt.trim()
                },
                if d.with_feature_history {
                    "all"
                } else {
                    "current"
                },
                if d.cascade { "yes" } else { "no" },
            ))
            .fg(muted());
            frame.render_widget(Paragraph::new(vec![head, sub]), summary);
            frame.render_widget(
                Paragraph::new(preview_rows(
                    lines,
                    *scroll,
                    rows.height as usize,
                    rows.width as usize,
                )),
                rows,
            );
            let mut f = vec![];
            if total == 0 {
                f.push(key_hint(&[("Enter/Esc", "close")]));
            } else if d.hard {
                let [label, field] = Layout::horizontal([
                    Constraint::Length(40.min(footer.width)),
                    Constraint::Min(1),
                ])
                .areas(Rect {
                    height: 1,
                    ..footer
                });
                frame.render_widget(
                    Paragraph::new(format!("Type {} to confirm: ", d.feature)).fg(Color::Red),
                    label,
                );
                frame.render_widget(confirm.as_ref(), field);
                let ok = d.confirmed();
                f.push(Line::default());
                f.push(key_hint(&[
                    (
                        "Enter",
                        if ok {
                            "delete for good"
                        } else {
                            "(type the key first)"
                        },
                    ),
                    ("↑↓ PgUp PgDn", "scroll"),
                    ("Esc", "cancel"),
                ]));
            } else {
                f.push(key_hint(&[
                    ("y/Enter", "delete"),
                    ("j k PgUp PgDn", "scroll"),
                    ("n/Esc", "cancel"),
                ]));
            }
            if !(total > 0 && d.hard) {
                frame.render_widget(Paragraph::new(f), footer);
            } else {
                frame.render_widget(
                    Paragraph::new(f),
                    Rect {
                        y: footer.y + 1,
                        height: footer.height.saturating_sub(1),
                        ..footer
                    },
                );
            }
        }
        DeleteStage::Running => {
            let inner = popup(frame, area, 60, 5, format!("{mode} delete"), color);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(vec![
                        Span::raw(app.spinner()).fg(accent()),
                        Span::raw(format!(" deleting from {}…", d.feature)),
                    ]),
                    Line::from("one transaction per feature; this cannot be interrupted")
                        .fg(muted()),
                ]),
                inner,
            );
        }
    }
}

fn draw_rebase(frame: &mut Frame, area: Rect, app: &App, r: &RebaseDialog) {
    let w = area.width.saturating_sub(4).clamp(20, 110);
    let title = format!("Rebase {} onto {} (current)", r.feature, r.current);
    match &r.stage {
        RebaseStage::Pick | RebaseStage::Planning => {
            let h = (r.versions.len() as u16 + 8).min(area.height.saturating_sub(2));
            let inner = popup(frame, area, w, h, title, accent());
            let [label, list, note, hint] = Layout::vertical([
                Constraint::Length(2),
                Constraint::Min(1),
                Constraint::Length(2),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(
                        "Recompute provenance of the rows stored under this feature version:",
                    ),
                    Line::from(format!(
                        "  {:<20} {:<16} {:<20} {:>8}",
                        "feature version", "project version", "pushed at", "rows"
                    ))
                    .fg(muted()),
                ]),
                label,
            );
            let lines: Vec<Line> = r
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let rows = v
                        .rows
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| app.spinner().to_string());
                    let name = if v.current {
                        format!("{} (current)", v.feature_version)
                    } else {
                        v.feature_version.clone()
                    };
                    let text = format!(
                        "{} {:<20} {:<16} {:<20} {:>8}",
                        if i == r.cursor { ">" } else { " " },
                        name,
                        v.project_version,
                        v.recorded_at,
                        rows
                    );
                    let l = Line::from(text);
                    if i == r.cursor {
                        l.bold().fg(Color::Black).bg(accent())
                    } else if v.current {
                        l.fg(muted())
                    } else {
                        l
                    }
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), list);
            let n = if matches!(r.stage, RebaseStage::Planning) {
                Line::from(vec![
                    Span::raw(app.spinner()).fg(accent()),
                    Span::raw(" recomputing provenance under the current graph…"),
                ])
            } else if r.versions.iter().all(|v| v.current) {
                Line::from("Only the current feature version was ever pushed: nothing to rebase.")
                    .fg(muted())
            } else {
                Line::from("Nothing is written until you confirm the preview.").fg(muted())
            };
            frame.render_widget(Paragraph::new(n), note);
            frame.render_widget(
                Paragraph::new(key_hint(&[
                    ("j k", "pick"),
                    ("Enter", "preview"),
                    ("Esc", "cancel"),
                ])),
                hint,
            );
        }
        RebaseStage::Preview {
            plan,
            scroll,
            lines,
        } => {
            let h = area.height.saturating_sub(2).clamp(8, 30);
            let inner = popup(frame, area, w, h, title, accent());
            let [summary, rows, footer] = Layout::vertical([
                Constraint::Length(2),
                Constraint::Min(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            let n = plan.rows.height();
            let changed = lines
                .iter()
                .filter(|l| !l.heading && l.cells.iter().any(|c| c.contains(" → ")))
                .count();
            let head = if n == 0 {
                Line::from(format!(
                    "No stored row of {} can be rebased (no rows, or no upstream rows under the current graph).",
                    plan.from_version
                ))
                .bold()
            } else {
                Line::from(format!(
                    "{n} row(s) of {} will be rewritten as {} (project {}); {changed} shown with changed provenance.",
                    plan.from_version, plan.to_version, plan.to_project_version
                ))
                .bold()
            };
            let sub = Line::from(
                "user columns and metaxy_created_at are kept; rows are appended (the old version stays in the history)",
            )
            .fg(muted());
            frame.render_widget(Paragraph::new(vec![head, sub]), summary);
            frame.render_widget(
                Paragraph::new(preview_rows(
                    lines,
                    *scroll,
                    rows.height as usize,
                    rows.width as usize,
                )),
                rows,
            );
            let hint = if n == 0 {
                key_hint(&[("Enter/Esc", "close")])
            } else {
                key_hint(&[
                    ("y/Enter", "rebase"),
                    ("j k PgUp PgDn", "scroll"),
                    ("n/Esc", "cancel"),
                ])
            };
            frame.render_widget(Paragraph::new(hint), footer);
        }
        RebaseStage::Running => {
            let inner = popup(frame, area, 60, 5, "Rebase".into(), accent());
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(vec![
                        Span::raw(app.spinner()).fg(accent()),
                        Span::raw(format!(" writing rebased rows of {}…", r.feature)),
                    ]),
                    Line::from("one transaction; this cannot be interrupted").fg(muted()),
                ]),
                inner,
            );
        }
    }
}
