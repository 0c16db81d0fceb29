//! The rebase dialog (`R`): pick the stored feature version to rebase from, the plan computed in the background
//! and previewed (each sample's provenance old → new), then a confirmation.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// A feature version the rebase picker offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChoice {
    /// Feature version.
    pub feature_version: String,
    /// A project version it was pushed under (the newest).
    pub project_version: String,
    /// When that project version was pushed.
    pub recorded_at: String,
    /// Stored rows of this feature version in the store (`None` until counted).
    pub rows: Option<usize>,
    /// Whether this is the current feature version.
    pub current: bool,
}
/// The feature versions of `key` in the pushed history, newest first (one entry per version).
pub fn version_choices(
    pushed: &[PushedFeature],
    key: &FeatureKey,
    current: &str,
) -> Vec<VersionChoice> {
    let k = key.to_string();
    let mut rows: Vec<&PushedFeature> = pushed.iter().filter(|r| r.feature_key == k).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.recorded_at_us));
    let mut out: Vec<VersionChoice> = vec![];
    for r in rows {
        if out.iter().any(|c| c.feature_version == r.feature_version) {
            continue;
        }
        out.push(VersionChoice {
            feature_version: r.feature_version.clone(),
            project_version: r.project_version.clone(),
            recorded_at: r
                .recorded_at
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " "),
            rows: None,
            current: r.feature_version == current,
        });
    }
    out
}
/// Where a rebase dialog is.
pub enum RebaseStage {
    /// Picking the source feature version.
    Pick,
    /// The plan is being computed (Esc cancels).
    Planning,
    /// Old vs new provenance shown; waiting for confirmation.
    Preview {
        /// The plan.
        plan: Arc<RebasePlan>,
        /// First preview row shown.
        scroll: usize,
        /// Rendered preview (old vs new provenance per row).
        lines: Vec<PreviewLine>,
    },
    /// The rebase is running (cannot be cancelled).
    Running,
}
/// The rebase dialog (`R`).
pub struct RebaseDialog {
    /// Feature to rebase.
    pub feature: FeatureKey,
    /// Current (target) feature version.
    pub current: String,
    /// Versions of the feature in the pushed history.
    pub versions: Vec<VersionChoice>,
    /// Picker cursor.
    pub cursor: usize,
    /// Stage.
    pub stage: RebaseStage,
    /// Only one sample's rows: the SQL filter naming its ids (opened from the lookup screen); `None`: every row
    /// of the picked version.
    pub sample: Option<String>,
}
/// Preview lines of a rebase plan: per row the id columns, then per field `old → new` provenance (or `= value`
/// when unchanged), then the sample provenance `old → new`.
pub fn rebase_preview_lines(plan: &RebasePlan, ids: &[String]) -> Vec<PreviewLine> {
    use crate::engine::json::{by_field_value, df_to_json_rows};
    use crate::engine::schema as cols;
    let n = plan.rows.height().min(PREVIEW_ROWS);
    let new_rows = df_to_json_rows(&plan.rows.head(Some(n)), None).unwrap_or_default();
    let old_rows = df_to_json_rows(&plan.previous, None).unwrap_or_default();
    let key_of = |r: &serde_json::Value| -> String {
        ids.iter()
            .map(|c| r.get(c).map(|v| v.to_string()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    let old: std::collections::HashMap<String, &serde_json::Value> =
        old_rows.iter().map(|r| (key_of(r), r)).collect();
    let fields: Vec<String> = match plan
        .rows
        .column(cols::PROVENANCE_BY_FIELD)
        .map(|c| c.dtype().clone())
    {
        Ok(polars::prelude::DataType::Struct(m)) => {
            m.iter().map(|f| f.name().to_string()).collect()
        }
        _ => vec![],
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "null".into(),
        Some(o) => o.to_string(),
    };
    let mut out = vec![];
    for r in &new_rows {
        let o = old.get(&key_of(r)).copied();
        let mut cells: Vec<String> = ids.iter().map(|c| text(r.get(c))).collect();
        for f in &fields {
            let new =
                by_field_value(&r[cols::PROVENANCE_BY_FIELD], f).unwrap_or_else(|| "null".into());
            let was = o
                .and_then(|o| by_field_value(&o[cols::PROVENANCE_BY_FIELD], f))
                .unwrap_or_else(|| "null".into());
            cells.push(if was == new {
                format!("{f} = {new}")
            } else {
                format!("{f} {was} → {new}")
            });
        }
        let new = text(r.get(cols::PROVENANCE));
        let was = text(o.and_then(|o| o.get(cols::PROVENANCE)));
        cells.push(if was == new {
            format!("provenance = {new}")
        } else {
            format!("provenance {was} → {new}")
        });
        out.push(PreviewLine {
            cells,
            heading: false,
        });
    }
    if plan.rows.height() > n {
        out.push(PreviewLine {
            cells: vec![format!("… {} more row(s)", plan.rows.height() - n)],
            heading: true,
        });
    }
    out
}
/// Keys of the rebase dialog in each stage.
pub fn on_key(r: &mut RebaseDialog, key: KeyEvent) -> DialogAction {
    match &mut r.stage {
        RebaseStage::Running => DialogAction::None,
        RebaseStage::Planning => match key.code {
            KeyCode::Esc => DialogAction::Close,
            _ => DialogAction::None,
        },
        RebaseStage::Pick => {
            let last = r.versions.len().saturating_sub(1);
            match key.code {
                KeyCode::Esc => DialogAction::Close,
                KeyCode::Char('j') | KeyCode::Down => {
                    r.cursor = (r.cursor + 1).min(last);
                    DialogAction::None
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    r.cursor = r.cursor.saturating_sub(1);
                    DialogAction::None
                }
                KeyCode::Enter => match r.versions.get(r.cursor) {
                    Some(v) if !v.current => {
                        let from = v.feature_version.clone();
                        r.stage = RebaseStage::Planning;
                        DialogAction::PlanRebase(from)
                    }
                    _ => DialogAction::None,
                },
                _ => DialogAction::None,
            }
        }
        RebaseStage::Preview { plan, scroll, .. } => match key.code {
            KeyCode::Esc | KeyCode::Char('n') => DialogAction::Close,
            KeyCode::Char('j') | KeyCode::Down => {
                *scroll += 1;
                DialogAction::None
            }
            KeyCode::Char('k') | KeyCode::Up => {
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
            KeyCode::Enter | KeyCode::Char('y') => {
                let plan = plan.clone();
                if plan.rows.height() == 0 {
                    return DialogAction::Close;
                }
                r.stage = RebaseStage::Running;
                DialogAction::ExecuteRebase(plan)
            }
            _ => DialogAction::None,
        },
    }
}
pub fn draw(frame: &mut Frame, area: Rect, app: &App, r: &RebaseDialog) {
    let w = area.width.saturating_sub(4).clamp(20, 110);
    let title = match &r.sample {
        None => format!("Rebase {} onto {} (current)", r.feature, r.current),
        Some(s) => format!(
            "Rebase {} onto {} (current) · only {s}",
            r.feature, r.current
        ),
    };
    match &r.stage {
        RebaseStage::Pick | RebaseStage::Planning => {
            let h = (r.versions.len() as u16 + 8).min(area.height.saturating_sub(2));
            let inner = popup(frame, area, w, h, title, accent());
            draw_pick(frame, inner, app, r);
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

/// The pick and planning stages inside the popup: the stored feature versions, a note and the key hints.
fn draw_pick(frame: &mut Frame, inner: Rect, app: &App, r: &RebaseDialog) {
    let [label, list, note, hint] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from("Recompute provenance of the rows stored under this feature version:"),
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

impl App {
    /// `R`: opens the rebase dialog for the selected feature (feature versions from the pushed history, with
    /// their stored row counts loading in the background).
    pub(crate) fn open_rebase(&mut self) -> Vec<Command> {
        self.open_rebase_of(None)
    }

    /// The rebase dialog for the selected feature, of the rows passing `sample` (a SQL filter naming one
    /// sample's ids) when given.
    pub(crate) fn open_rebase_of(&mut self, sample: Option<String>) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot rebase", m);
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(def) = ws.graph.get(&key) else {
            return vec![];
        };
        if def.spec.is_root() {
            self.error_popup("Cannot rebase", root_rebase_message(&key));
            return vec![];
        }
        let current = ws
            .graph
            .feature_version(&key)
            .unwrap_or_default()
            .to_string();
        let versions = version_choices(&ws.pushed, &key, &current);
        let cursor = versions.iter().position(|v| !v.current).unwrap_or(0);
        self.overlay.dialog = Some(Dialog::Rebase(RebaseDialog {
            feature: key.clone(),
            current,
            versions,
            cursor,
            stage: RebaseStage::Pick,
            sample,
        }));
        vec![self.task(Job::CountVersions { ws, key })]
    }
}
