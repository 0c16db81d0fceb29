//! The dialogs: one file per dialog with its state, keys and painting. Delete, drop, rebase and write confirm before
//! they write (rainfrog / gitui style): the plan is computed in the background and shown, and only an explicit
//! confirmation writes. Esc cancels at any point before the write starts; a running write cannot be
//! interrupted (one transaction / commit per feature) and reports back with a toast.

pub mod columns;
pub mod delete;
pub mod drop;
pub mod export;
pub mod help;
pub mod palette;
pub mod rebase;
pub mod row_detail;
pub mod write;

pub use crate::tui::widgets::input::{edit_line, input_text, line_input};
pub use delete::{delete_preview_lines, DeleteDialog, DeleteStage};
pub use drop::{drop_preview_lines, DropDialog, DropStage};
pub use palette::{palette_matches, Palette, PALETTE};
pub use rebase::{rebase_preview_lines, version_choices, RebaseDialog, RebaseStage, VersionChoice};
pub use write::{
    list_dir, writable_file, write_preview_lines, PickerEntry, WriteDialog, WriteStage,
    WRITE_EXTENSIONS,
};

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// An open dialog (drawn over everything; it has the keyboard).
pub enum Dialog {
    /// Delete.
    Delete(Box<DeleteDialog>),
    /// Drop a feature's whole table.
    Drop(Box<DropDialog>),
    /// Rebase.
    Rebase(RebaseDialog),
    /// Write rows from a file.
    Write(Box<WriteDialog>),
    /// Export the Metadata tab's rows to a file (`e`).
    Export {
        /// Feature.
        feature: FeatureKey,
        /// Output path (relative to the working directory).
        path: Box<TextArea<'static>>,
    },
    /// Every column of one table row, full values (Enter on a row).
    RowDetail {
        /// Title (`example/crop · Stale · row 3`).
        title: String,
        /// `(column, value)` pairs.
        fields: Vec<(String, String)>,
        /// First line shown.
        scroll: usize,
    },
    /// The Metadata table's column picker (`s`): which columns are shown.
    Columns {
        /// `(column, shown)` in table order; the first `frozen` (id columns) always stay.
        items: Vec<(String, bool)>,
        /// Id columns at the front that cannot be hidden.
        frozen: usize,
        /// Cursor row.
        cursor: usize,
    },
    /// An error popup (Enter / Esc closes it).
    Error {
        /// Title.
        title: String,
        /// Message.
        message: String,
    },
}

/// What a key did to a dialog.
pub enum DialogAction {
    /// Nothing for the app to do.
    None,
    /// Close the dialog (cancel).
    Close,
    /// Compute the delete plan.
    PlanDelete(DeleteRequest),
    /// Perform the shown delete plan.
    ExecuteDelete(Arc<DeletePlan>),
    /// Leave the delete form for the drop dialog of this feature.
    OpenDrop(FeatureKey),
    /// Perform the shown drop plan.
    ExecuteDrop(Arc<crate::engine::ops::drop::DropPlan>),
    /// Compute the rebase plan from this version.
    PlanRebase(String),
    /// Perform the shown rebase plan.
    ExecuteRebase(Arc<RebasePlan>),
    /// List a directory for the file picker.
    ListDir(std::path::PathBuf),
    /// Read this file and prepare the write.
    PlanWrite(std::path::PathBuf),
    /// Perform the shown write plan.
    ExecuteWrite(Arc<WritePlan>),
    /// Export to this path.
    Export(std::path::PathBuf),
    /// Copy this text to the clipboard.
    Copy(String),
    /// Show only these columns of the Metadata table (hide the rest).
    HideColumns(Vec<String>),
}

impl Dialog {
    /// Whether background work of this dialog is running (shown as a pending task).
    pub fn busy(&self) -> Option<&'static str> {
        match self {
            Dialog::Delete(d) => match d.stage {
                DeleteStage::Planning => Some("planning delete"),
                DeleteStage::Running => Some("deleting"),
                _ => None,
            },
            Dialog::Drop(d) => match d.stage {
                DropStage::Planning => Some("counting rows to drop"),
                DropStage::Running => Some("dropping"),
                _ => None,
            },
            Dialog::Rebase(r) => match r.stage {
                RebaseStage::Planning => Some("planning rebase"),
                RebaseStage::Running => Some("rebasing"),
                _ => None,
            },
            Dialog::Write(w) => match w.stage {
                WriteStage::Planning => Some("reading the input file"),
                WriteStage::Running => Some("writing"),
                _ => None,
            },
            Dialog::Export { .. }
            | Dialog::Error { .. }
            | Dialog::RowDetail { .. }
            | Dialog::Columns { .. } => None,
        }
    }

    /// Handles a key (each dialog's own keys are in its file).
    pub fn on_key(&mut self, key: KeyEvent) -> DialogAction {
        match self {
            Dialog::Error { .. } => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogAction::Close,
                _ => DialogAction::None,
            },
            Dialog::Columns {
                items,
                frozen,
                cursor,
            } => columns::on_key(items, *frozen, cursor, key),
            Dialog::RowDetail { scroll, fields, .. } => row_detail::on_key(fields, scroll, key),
            Dialog::Delete(d) => delete::on_key(d, key),
            Dialog::Drop(d) => drop::on_key(d, key),
            Dialog::Write(w) => w.on_key(key),
            Dialog::Export { path, .. } => export::on_key(path, key),
            Dialog::Rebase(r) => rebase::on_key(r, key),
        }
    }
}

/// Most preview rows rendered per dialog (counts stay exact).
pub const PREVIEW_ROWS: usize = 500;

/// One line of a preview table: cells, and whether it is a heading (feature name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLine {
    /// Cell texts.
    pub cells: Vec<String>,
    /// A heading line (feature and count) rather than a row.
    pub heading: bool,
}

pub(crate) fn cell(df: &polars::prelude::DataFrame, c: &str, i: usize) -> String {
    df.column(c)
        .ok()
        .and_then(|s| s.get(i).ok().map(|v| crate::engine::json::any_to_cell(&v)))
        .unwrap_or_else(|| "-".into())
}

/// Draws a centered bordered popup titled `title`, returning its inner area.
pub fn popup(frame: &mut Frame, area: Rect, w: u16, h: u16, title: String, color: Color) -> Rect {
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

/// A line of `key description` hints.
pub fn key_hint(keys: &[(&str, &str)]) -> Line<'static> {
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
        } => row_detail::draw(frame, area, title, fields, *scroll),
        Dialog::Columns {
            items,
            frozen,
            cursor,
        } => columns::draw(frame, area, items, *frozen, *cursor),
        Dialog::Delete(d) => delete::draw(frame, area, app, d),
        Dialog::Drop(d) => drop::draw(frame, area, app, d),
        Dialog::Rebase(r) => rebase::draw(frame, area, app, r),
        Dialog::Write(w) => write::draw(frame, area, app, w),
        Dialog::Export { feature, path } => export::draw(frame, area, app, feature, path),
    }
}

/// The visible lines of a preview table, columns aligned.
pub fn preview_rows(
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

impl App {
    pub(crate) fn on_dialog_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(dialog) = self.overlay.dialog.as_mut() else {
            return vec![];
        };
        let action = dialog.on_key(key);
        let ws = self.workspace().cloned();
        match (action, ws) {
            (DialogAction::None, _) => vec![],
            (DialogAction::Close, _) => {
                self.overlay.dialog = None;
                vec![]
            }
            (_, None) => {
                self.overlay.dialog = None;
                vec![]
            }
            (DialogAction::PlanDelete(request), Some(ws)) => {
                vec![self.task(Job::PlanDelete { ws, request })]
            }
            (DialogAction::ExecuteDelete(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteDelete { ws, plan })]
            }
            (DialogAction::OpenDrop(key), Some(_)) => self.open_drop_for(key),
            (DialogAction::ExecuteDrop(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteDrop { ws, plan })]
            }
            (DialogAction::PlanRebase(from), Some(ws)) => {
                let Some(Dialog::Rebase(r)) = &self.overlay.dialog else {
                    return vec![];
                };
                vec![self.task(Job::PlanRebase {
                    ws,
                    key: r.feature.clone(),
                    from,
                    filter: r.sample.clone(),
                })]
            }
            (DialogAction::ExecuteRebase(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteRebase { ws, plan })]
            }
            (DialogAction::ListDir(dir), Some(_)) => vec![self.task(Job::ListDir { dir })],
            (DialogAction::HideColumns(cols), _) if self.screen == Screen::Sql => {
                self.overlay.dialog = None;
                self.console.hidden_columns = cols.into_iter().collect();
                self.console.col = 0;
                vec![]
            }
            (DialogAction::HideColumns(cols), _) => {
                self.overlay.dialog = None;
                self.details.hidden_columns = cols.into_iter().collect();
                self.details.nav[Tab::Metadata.index()].col = 0;
                vec![]
            }
            (DialogAction::Copy(text), _) => {
                self.toast("copied the row to the clipboard (OSC 52)".into(), false);
                vec![Command::Copy(text)]
            }
            (DialogAction::PlanWrite(path), Some(ws)) => {
                let Some(Dialog::Write(w)) = &self.overlay.dialog else {
                    return vec![];
                };
                vec![self.task(Job::PlanWrite {
                    ws,
                    key: w.feature.clone(),
                    path,
                })]
            }
            (DialogAction::ExecuteWrite(plan), Some(ws)) => {
                vec![self.task(Job::ExecuteWrite { ws, plan })]
            }
            (DialogAction::Export(path), Some(ws)) => {
                let Some(Dialog::Export { feature, .. }) = &self.overlay.dialog else {
                    return vec![];
                };
                let path = if path.is_absolute() {
                    path
                } else {
                    self.env.cwd.join(path)
                };
                if matches!(self.details.tab, Tab::New | Tab::Stale | Tab::Orphaned) {
                    let what = format!(
                        "{} samples of {feature}",
                        self.details.tab.label().to_lowercase()
                    );
                    let loaded = self.details.increments.ready(feature);
                    if loaded.is_some_and(|l| l.paged_in_store) {
                        // the tabs hold the store's first pages: the job computes the whole increment
                        use crate::engine::store::count_plan::IncrementKind;
                        return vec![self.task(Job::ExportWholeIncrement {
                            ws,
                            key: feature.clone(),
                            kind: match self.details.tab {
                                Tab::New => IncrementKind::New,
                                Tab::Stale => IncrementKind::Stale,
                                _ => IncrementKind::Orphaned,
                            },
                            filter: self.details.inc_filter.clone(),
                            what,
                            path,
                        })];
                    }
                    let Some(inc) = loaded.map(|l| l.increment.clone()) else {
                        let text = format!("the increment of {feature} is not loaded yet");
                        self.overlay.dialog = None;
                        self.toast(text, true);
                        return vec![];
                    };
                    let frame = match self.details.tab {
                        Tab::New => inc.new,
                        Tab::Stale => inc.stale,
                        _ => inc.orphaned,
                    };
                    let rows = match &self.details.inc_filter {
                        None => frame,
                        Some(f) => {
                            match crate::engine::store::filter::apply_filters(
                                frame,
                                std::slice::from_ref(f),
                            ) {
                                Ok(r) => r,
                                Err(e) => {
                                    self.error_popup("Export failed", e.to_string());
                                    return vec![];
                                }
                            }
                        }
                    };
                    return vec![self.task(Job::ExportIncrement { rows, what, path })];
                }
                vec![self.task(Job::Export {
                    ws,
                    key: feature.clone(),
                    view: self.details.view.clone(),
                    path,
                })]
            }
        }
    }
}

/// Applies a plan, a count or a listing to the open dialog (dropped when the dialog was closed meanwhile).
pub(crate) fn on_done(app: &mut App, result: JobResult) -> Vec<Command> {
    match result {
        JobResult::DeletePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            // dropped when the dialog was cancelled meanwhile
            if let (Some(Dialog::Delete(d)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(d.stage, DeleteStage::Planning) {
                    match result {
                        Ok(plan) => {
                            let lines = crate::tui::dialogs::delete_preview_lines(&plan, &graph);
                            d.stage = DeleteStage::Preview {
                                plan,
                                scroll: 0,
                                confirm: Box::new(crate::tui::dialogs::line_input("")),
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot plan the delete", e),
                    }
                }
            }
            vec![]
        }
        JobResult::DropPlanned { result } => {
            if let Some(Dialog::Drop(d)) = app.overlay.dialog.as_mut() {
                if matches!(d.stage, DropStage::Planning) {
                    match result {
                        Ok(plan) => {
                            d.stage = DropStage::Preview {
                                plan,
                                scroll: 0,
                                confirm: Box::new(crate::tui::dialogs::line_input("")),
                            }
                        }
                        Err(e) => app.error_popup("Cannot plan the drop", e),
                    }
                }
            }
            vec![]
        }
        JobResult::RebasePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            if let (Some(Dialog::Rebase(r)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(r.stage, RebaseStage::Planning) {
                    match result {
                        Ok(plan) => {
                            let ids = graph
                                .get(&plan.feature)
                                .map(|d| d.spec.id_columns.clone())
                                .unwrap_or_default();
                            let lines = crate::tui::dialogs::rebase_preview_lines(&plan, &ids);
                            r.stage = RebaseStage::Preview {
                                plan,
                                scroll: 0,
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot plan the rebase", e),
                    }
                }
            }
            vec![]
        }
        JobResult::VersionCounts { key, counts } => {
            if let Some(Dialog::Rebase(r)) = app.overlay.dialog.as_mut() {
                if r.feature == key {
                    for v in r.versions.iter_mut() {
                        v.rows = Some(
                            counts
                                .iter()
                                .find(|(fv, _)| *fv == v.feature_version)
                                .map(|(_, n)| *n)
                                .unwrap_or(0),
                        );
                    }
                }
            }
            vec![]
        }
        JobResult::DirListed { dir, result } => {
            if let Some(Dialog::Write(w)) = app.overlay.dialog.as_mut() {
                if w.dir == dir && matches!(w.stage, WriteStage::Pick) {
                    w.entries = Some(result);
                    w.cursor = 0;
                }
            }
            vec![]
        }
        JobResult::WritePlanned { result } => {
            let graph = app.workspace().map(|w| w.graph.clone());
            if let (Some(Dialog::Write(w)), Some(graph)) = (app.overlay.dialog.as_mut(), graph) {
                if matches!(w.stage, WriteStage::Planning) {
                    match result {
                        Ok((plan, existing)) => {
                            let lines = crate::tui::dialogs::write_preview_lines(&plan, &graph);
                            w.stage = WriteStage::Preview {
                                plan,
                                existing,
                                scroll: 0,
                                lines,
                            }
                        }
                        Err(e) => app.error_popup("Cannot prepare the write", e),
                    }
                }
            }
            vec![]
        }
        // routed elsewhere by `crate::tui::app::update`
        _ => vec![],
    }
}
