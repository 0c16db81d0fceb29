//! The delete dialog (`d`): a form (filter, soft / hard, cascade, feature history), the plan computed in the
//! background and previewed (rows per feature, the rows themselves), then an explicit confirmation (a hard
//! delete, and a delete without a filter, i.e. of every row of the feature, need the feature key typed). `^X` in
//! the form switches to the drop dialog ([`super::drop`]: the whole table).

#[allow(unused_imports)]
use crate::tui::prelude::*;

use super::cell;

/// Where a delete dialog is.
pub enum DeleteStage {
    /// Editing the filter and the options.
    Form,
    /// The plan is being computed (Esc cancels).
    Planning,
    /// The plan is shown; waiting for confirmation.
    Preview {
        /// The plan.
        plan: Arc<DeletePlan>,
        /// First preview line shown.
        scroll: usize,
        /// Hard delete: the feature key must be typed here.
        confirm: Box<TextArea<'static>>,
        /// Rendered preview.
        lines: Vec<PreviewLine>,
    },
    /// The delete is running (cannot be cancelled).
    Running,
}
/// The delete dialog (`d`).
pub struct DeleteDialog {
    /// Feature the delete starts from.
    pub feature: FeatureKey,
    /// SQL filter (empty = every row of the current feature version).
    pub filter: TextArea<'static>,
    /// Hard delete instead of soft.
    pub hard: bool,
    /// Include rows of every feature version.
    pub with_feature_history: bool,
    /// Delete the same samples downstream too.
    pub cascade: bool,
    /// Stage.
    pub stage: DeleteStage,
}
impl DeleteDialog {
    /// A new dialog for `feature` with a prefilled filter.
    pub fn new(feature: FeatureKey, filter: &str) -> Self {
        Self {
            feature,
            filter: line_input(filter),
            hard: false,
            with_feature_history: false,
            cascade: false,
            stage: DeleteStage::Form,
        }
    }

    /// The engine request for the current form.
    pub fn request(&self) -> DeleteRequest {
        let f = input_text(&self.filter);
        DeleteRequest {
            features: vec![self.feature.clone()],
            filters: if f.trim().is_empty() {
                vec![]
            } else {
                vec![f.trim().to_string()]
            },
            hard: self.hard,
            with_feature_history: self.with_feature_history,
            with_sample_history: false,
            cascade: self.cascade,
        }
    }

    /// Whether confirming needs the feature key typed: a hard delete, or a delete without a filter (every row of
    /// the feature: `d` `Enter` `Enter` must not delete a whole feature, issue 16 point 3).
    pub fn typed(&self) -> bool {
        self.hard || input_text(&self.filter).trim().is_empty()
    }

    /// Whether the typed confirmation (when [`Self::typed`]) allows the delete.
    pub fn confirmed(&self) -> bool {
        match &self.stage {
            DeleteStage::Preview { confirm, .. } => {
                !self.typed() || input_text(confirm).trim() == self.feature.to_string()
            }
            _ => false,
        }
    }
}
/// Preview lines of a delete plan: per feature a heading (`example/stt: 8 row(s)`), then its rows (id columns,
/// feature version, provenance, updated_at), at most [`PREVIEW_ROWS`] in all.
pub fn delete_preview_lines(
    plan: &DeletePlan,
    graph: &crate::engine::graph::FeatureGraph,
) -> Vec<PreviewLine> {
    use crate::engine::schema as cols;
    let mut out = vec![];
    let mut budget = PREVIEW_ROWS;
    for f in &plan.features {
        let mut head = format!("{}: {} row(s)", f.feature, f.rows.height());
        if let Some(up) = &f.cascaded_from {
            head.push_str(&format!("  (cascade from {up})"));
        }
        if let Some(s) = &f.skipped {
            head.push_str(&format!("  (skipped: {s})"));
        }
        out.push(PreviewLine {
            cells: vec![head],
            heading: true,
        });
        if let Some(w) = &f.warning {
            out.push(PreviewLine {
                cells: vec![format!("⚠ {w}")],
                heading: true,
            });
        }
        let ids = graph
            .get(&f.feature)
            .map(|d| d.spec.id_columns.clone())
            .unwrap_or_default();
        let shown = f.rows.height().min(budget);
        budget -= shown;
        for i in 0..shown {
            let mut cells: Vec<String> = ids.iter().map(|c| cell(&f.rows, c, i)).collect();
            for c in [cols::FEATURE_VERSION, cols::PROVENANCE, cols::UPDATED_AT] {
                cells.push(cell(&f.rows, c, i));
            }
            out.push(PreviewLine {
                cells,
                heading: false,
            });
        }
        if shown < f.rows.height() {
            out.push(PreviewLine {
                cells: vec![format!("… {} more row(s)", f.rows.height() - shown)],
                heading: true,
            });
        }
    }
    out
}
/// Keys of the delete dialog in each stage.
pub fn on_key(d: &mut DeleteDialog, key: KeyEvent) -> DialogAction {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let typed = d.typed();
    match &mut d.stage {
        DeleteStage::Running => DialogAction::None,
        DeleteStage::Planning => match key.code {
            KeyCode::Esc => DialogAction::Close,
            _ => DialogAction::None,
        },
        DeleteStage::Form => match key.code {
            KeyCode::Esc => DialogAction::Close,
            KeyCode::Enter => {
                d.stage = DeleteStage::Planning;
                DialogAction::PlanDelete(d.request())
            }
            KeyCode::Tab | KeyCode::BackTab => {
                d.hard = !d.hard;
                DialogAction::None
            }
            KeyCode::Char('f') if ctrl => {
                d.with_feature_history = !d.with_feature_history;
                DialogAction::None
            }
            KeyCode::Char('d') if ctrl => {
                d.cascade = !d.cascade;
                DialogAction::None
            }
            KeyCode::Char('x') if ctrl => DialogAction::OpenDrop(d.feature.clone()),
            _ => {
                edit_line(&mut d.filter, key);
                DialogAction::None
            }
        },
        DeleteStage::Preview {
            plan,
            scroll,
            confirm,
            ..
        } => match key.code {
            KeyCode::Esc => DialogAction::Close,
            KeyCode::Down => {
                *scroll += 1;
                DialogAction::None
            }
            KeyCode::Up => {
                *scroll = scroll.saturating_sub(1);
                DialogAction::None
            }
            KeyCode::PageDown => {
                *scroll += 10;
                DialogAction::None
            }
            KeyCode::PageUp => {
                *scroll = scroll.saturating_sub(10);
                DialogAction::None
            }
            KeyCode::Enter => {
                let plan = plan.clone();
                if plan.total_rows() == 0 {
                    return DialogAction::Close;
                }
                if typed && input_text(confirm).trim() != d.feature.to_string() {
                    return DialogAction::None;
                }
                d.stage = DeleteStage::Running;
                DialogAction::ExecuteDelete(plan)
            }
            KeyCode::Char('y') if !typed => {
                let plan = plan.clone();
                if plan.total_rows() == 0 {
                    return DialogAction::Close;
                }
                d.stage = DeleteStage::Running;
                DialogAction::ExecuteDelete(plan)
            }
            KeyCode::Char('n') if !typed => DialogAction::Close,
            KeyCode::Char('j') if !typed => {
                *scroll += 1;
                DialogAction::None
            }
            KeyCode::Char('k') if !typed => {
                *scroll = scroll.saturating_sub(1);
                DialogAction::None
            }
            _ if typed => {
                edit_line(confirm.as_mut(), key);
                DialogAction::None
            }
            _ => DialogAction::None,
        },
    }
}
pub fn draw(frame: &mut Frame, area: Rect, app: &App, d: &DeleteDialog) {
    let mode = if d.hard { "hard" } else { "soft" };
    let color = if d.hard { Color::Red } else { Color::Yellow };
    let w = area.width.saturating_sub(4).clamp(20, 110);
    match &d.stage {
        DeleteStage::Form | DeleteStage::Planning => draw_form(frame, area, app, d, w),
        DeleteStage::Preview {
            plan,
            scroll,
            confirm,
            lines,
        } => {
            let h = area.height.saturating_sub(2).clamp(8, 30);
            let title = format!("Confirm {mode} delete");
            let inner = popup(frame, area, w, h, title, color);
            let footer_h = if d.typed() { 3 } else { 2 };
            let [summary, rows, footer] = Layout::vertical([
                Constraint::Length(2),
                Constraint::Min(1),
                Constraint::Length(footer_h),
            ])
            .areas(inner);
            let total = plan.total_rows();
            frame.render_widget(Paragraph::new(preview_summary(d, plan)), summary);
            frame.render_widget(
                Paragraph::new(preview_rows(
                    lines,
                    *scroll,
                    rows.height as usize,
                    rows.width as usize,
                )),
                rows,
            );
            draw_preview_footer(frame, d, confirm, footer, total);
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

/// The form and planning stages: filter input, the three options, a note (or the planning spinner) and hints.
fn draw_form(frame: &mut Frame, area: Rect, app: &App, d: &DeleteDialog, w: u16) {
    let mode = if d.hard { "hard" } else { "soft" };
    let color = if d.hard { Color::Red } else { Color::Yellow };
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
        Paragraph::new(key_hint(&[
            ("Enter", "preview"),
            ("^X", "drop the whole table instead"),
            ("Esc", "cancel"),
        ])),
        hint,
    );
}

/// The two summary lines of the preview: how many rows would be deleted, then the filter and options.
fn preview_summary(d: &DeleteDialog, plan: &DeletePlan) -> Vec<Line<'static>> {
    let color = if d.hard { Color::Red } else { Color::Yellow };
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
    vec![head, sub]
}

/// The preview footer: the typed confirmation of a hard or unfiltered delete (when rows would go) and the key hints.
fn draw_preview_footer(
    frame: &mut Frame,
    d: &DeleteDialog,
    confirm: &TextArea<'static>,
    footer: Rect,
    total: usize,
) {
    let mut f = vec![];
    if total == 0 {
        f.push(key_hint(&[("Enter/Esc", "close")]));
    } else if d.typed() {
        let [label, field] =
            Layout::horizontal([Constraint::Length(40.min(footer.width)), Constraint::Min(1)])
                .areas(Rect {
                    height: 1,
                    ..footer
                });
        frame.render_widget(
            Paragraph::new(format!("Type {} to confirm: ", d.feature)).fg(Color::Red),
            label,
        );
        frame.render_widget(confirm, field);
        let ok = d.confirmed();
        f.push(Line::default());
        f.push(key_hint(&[
            (
                "Enter",
                if !ok {
                    "(type the key first)"
                } else if d.hard {
                    "delete for good"
                } else {
                    "delete every row"
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
    if !(total > 0 && d.typed()) {
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

impl App {
    /// `d`: opens the delete dialog for the selected feature, the filter prefilled with the marked rows (`x`) or,
    /// in the focused Metadata table, the cursor row.
    pub(crate) fn open_delete(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot delete", m);
            return vec![];
        }
        let mut filter = String::new();
        if self.details.tab == Tab::Metadata {
            if let Some(t) = self.current_table() {
                let preds: Vec<String> = if !self.details.marked.is_empty() {
                    self.details.marked.values().flatten().cloned().collect()
                } else if self.features.focus == Focus::Details {
                    t.row_filter(t.clamp(self.details.nav[0].cursor))
                        .into_iter()
                        .collect()
                } else {
                    vec![]
                };
                filter = match preds.len() {
                    0 => String::new(),
                    1 => preds[0].clone(),
                    _ => preds
                        .iter()
                        .map(|p| format!("({p})"))
                        .collect::<Vec<_>>()
                        .join(" OR "),
                };
            }
        }
        self.overlay.dialog = Some(Dialog::Delete(Box::new(DeleteDialog::new(key, &filter))));
        vec![]
    }
}
