//! The drop dialog (`X`, the palette's "drop table", or `^X` in the delete form): Metaxy's
//! `drop_feature_metadata` for the selected feature. The stored rows per feature version are counted in the
//! background and shown; dropping needs the feature key typed. The system table is never touched; on Delta the
//! table stays, empty (as Metaxy's drop leaves it).

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::engine::ops::drop::DropPlan;

/// Where a drop dialog is.
pub enum DropStage {
    /// The stored rows per feature version are being counted (Esc cancels).
    Planning,
    /// The plan is shown; the feature key must be typed to confirm.
    Preview {
        /// The plan.
        plan: Arc<DropPlan>,
        /// First version line shown.
        scroll: usize,
        /// The typed confirmation (the feature key).
        confirm: Box<TextArea<'static>>,
    },
    /// The drop is running (cannot be cancelled).
    Running,
}

/// The drop dialog.
pub struct DropDialog {
    /// The feature whose table is dropped.
    pub feature: FeatureKey,
    /// Stage.
    pub stage: DropStage,
}

impl DropDialog {
    /// A new dialog for `feature`, planning.
    pub fn new(feature: FeatureKey) -> Self {
        Self {
            feature,
            stage: DropStage::Planning,
        }
    }

    /// Whether the shown plan drops something (the store has the feature's table).
    pub fn drops(&self) -> bool {
        matches!(&self.stage, DropStage::Preview { plan, .. } if plan.dropped().next().is_some())
    }

    /// Whether the typed confirmation is the feature key.
    pub fn confirmed(&self) -> bool {
        match &self.stage {
            DropStage::Preview { confirm, .. } => {
                input_text(confirm).trim() == self.feature.to_string()
            }
            _ => false,
        }
    }
}

/// Keys of the drop dialog in each stage.
pub fn on_key(d: &mut DropDialog, key: KeyEvent) -> DialogAction {
    let drops = d.drops();
    let confirmed = d.confirmed();
    match &mut d.stage {
        DropStage::Running => DialogAction::None,
        DropStage::Planning => match key.code {
            KeyCode::Esc => DialogAction::Close,
            _ => DialogAction::None,
        },
        DropStage::Preview {
            plan,
            scroll,
            confirm,
        } => match key.code {
            KeyCode::Esc => DialogAction::Close,
            KeyCode::Enter if !drops => DialogAction::Close,
            KeyCode::Enter if confirmed => {
                let plan = plan.clone();
                d.stage = DropStage::Running;
                DialogAction::ExecuteDrop(plan)
            }
            KeyCode::Enter => DialogAction::None,
            KeyCode::Down | KeyCode::PageDown => {
                *scroll += if key.code == KeyCode::Down { 1 } else { 10 };
                DialogAction::None
            }
            KeyCode::Up | KeyCode::PageUp => {
                *scroll = scroll.saturating_sub(if key.code == KeyCode::Up { 1 } else { 10 });
                DialogAction::None
            }
            _ if drops => {
                edit_line(confirm.as_mut(), key);
                DialogAction::None
            }
            _ => DialogAction::None,
        },
    }
}

/// The preview lines of a drop plan: per feature the table and its stored rows per feature version (the current
/// one marked), or why nothing is dropped, and its note.
pub fn drop_preview_lines(plan: &DropPlan) -> Vec<Line<'static>> {
    let mut out = vec![];
    for f in &plan.features {
        if let Some(s) = &f.skipped {
            out.push(Line::from(format!("Nothing to drop: {s}.")).bold());
            continue;
        }
        out.push(
            Line::from(format!(
                "{} · table {} · {} row(s)",
                f.feature,
                f.table,
                f.rows()
            ))
            .bold()
            .fg(accent()),
        );
        out.push(Line::from(format!("  {:<22}{:>10}", "feature version", "rows")).fg(muted()));
        if f.versions.is_empty() {
            out.push(Line::from("  (the table holds no row)").fg(muted()));
        }
        for (v, n) in &f.versions {
            let current = f.current_version.as_deref() == Some(v.as_str());
            let label = if current {
                format!("{v} (current)")
            } else {
                v.clone()
            };
            out.push(Line::from(format!("  {label:<22}{n:>10}")));
        }
        if let Some(n) = &f.note {
            out.push(Line::from(format!("⚠ {n}")).fg(Color::Yellow));
        }
    }
    out
}

/// Paints the drop dialog.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, d: &DropDialog) {
    let w = area.width.saturating_sub(4).clamp(20, 100);
    match &d.stage {
        DropStage::Planning | DropStage::Running => {
            let (title, what, sub) = if matches!(d.stage, DropStage::Planning) {
                (
                    "Drop table",
                    "counting the stored rows per feature version…",
                    "Esc cancels; nothing is written before you confirm",
                )
            } else {
                (
                    "Dropping",
                    "dropping the table…",
                    "one transaction / commit; this cannot be interrupted",
                )
            };
            let inner = popup(
                frame,
                area,
                70,
                5,
                format!("{title} · {}", d.feature),
                Color::Red,
            );
            frame.render_widget(
                Paragraph::new(vec![
                    Line::from(vec![
                        Span::raw(app.spinner()).fg(accent()),
                        Span::raw(format!(" {what}")),
                    ]),
                    Line::from(sub).fg(muted()),
                ]),
                inner,
            );
        }
        DropStage::Preview {
            plan,
            scroll,
            confirm,
        } => {
            let lines = drop_preview_lines(plan);
            let h = (lines.len() as u16 + 9).clamp(10, area.height.saturating_sub(2).max(10));
            let inner = popup(
                frame,
                area,
                w,
                h,
                format!("Drop the metadata of {}", d.feature),
                Color::Red,
            );
            let [summary, body, footer] = Layout::vertical([
                Constraint::Length(3),
                Constraint::Min(1),
                Constraint::Length(3),
            ])
            .areas(inner);
            frame.render_widget(Paragraph::new(summary_lines(d, plan)), summary);
            let start = (*scroll).min(lines.len().saturating_sub(body.height.max(1) as usize));
            frame.render_widget(
                Paragraph::new(lines.into_iter().skip(start).collect::<Vec<_>>()),
                body,
            );
            draw_footer(frame, d, confirm, footer);
        }
    }
}

/// The summary above the versions: what goes, where, and what stays.
fn summary_lines(d: &DropDialog, plan: &DropPlan) -> Vec<Line<'static>> {
    if !d.drops() {
        return vec![Line::from("The store has no table for this feature.").bold()];
    }
    let versions: usize = plan.dropped().map(|f| f.versions.len()).sum();
    let head = if plan.keeps_empty_table {
        format!(
            "Every row ({}) in {versions} feature version(s) will be deleted; the empty Delta table stays.",
            plan.total_rows()
        )
    } else {
        format!(
            "The whole table goes: {} row(s) in {versions} feature version(s).",
            plan.total_rows()
        )
    };
    vec![
        Line::from(head).bold().fg(Color::Red),
        Line::from(format!(
            "store {} · the system table (pushed feature graph) is not touched · cannot be undone",
            plan.store
        ))
        .fg(muted()),
    ]
}

/// The typed confirmation and the key hints.
fn draw_footer(frame: &mut Frame, d: &DropDialog, confirm: &TextArea<'static>, footer: Rect) {
    if !d.drops() {
        frame.render_widget(
            Paragraph::new(vec![Line::default(), key_hint(&[("Enter/Esc", "close")])]),
            footer,
        );
        return;
    }
    let label = format!("Type {} to confirm: ", d.feature);
    let [l, field] = Layout::horizontal([
        Constraint::Length((text_width(&label)).min(footer.width)),
        Constraint::Min(1),
    ])
    .areas(Rect {
        height: 1,
        ..footer
    });
    frame.render_widget(Paragraph::new(label).fg(Color::Red), l);
    frame.render_widget(confirm, field);
    let hint = key_hint(&[
        (
            "Enter",
            if d.confirmed() {
                "drop for good"
            } else {
                "(type the key first)"
            },
        ),
        ("↑↓ PgUp PgDn", "scroll"),
        ("Esc", "cancel"),
    ]);
    frame.render_widget(
        Paragraph::new(vec![Line::default(), hint]),
        Rect {
            y: footer.y + 1,
            height: footer.height.saturating_sub(1),
            ..footer
        },
    );
}

impl App {
    /// `X` (or the palette's "drop table"): opens the drop dialog for the selected feature and starts counting
    /// its stored rows per feature version.
    pub(crate) fn open_drop(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        self.open_drop_for(key)
    }

    /// Opens the drop dialog for `key` (replacing any dialog) and starts planning it.
    pub(crate) fn open_drop_for(&mut self, key: FeatureKey) -> Vec<Command> {
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot drop", m);
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        self.overlay.dialog = Some(Dialog::Drop(Box::new(DropDialog::new(key.clone()))));
        vec![self.task(Job::PlanDrop { ws, key })]
    }
}
