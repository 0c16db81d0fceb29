//! The write dialog (`w`): a file picker (parquet, csv, ndjson), the write plan computed in the background and
//! previewed (system columns added, samples already stored counted), then a confirmation.

#[allow(unused_imports)]
use crate::tui::prelude::*;

use super::cell;

/// File extensions `metadata write` reads.
pub const WRITE_EXTENSIONS: [&str; 6] = ["parquet", "pq", "csv", "ndjson", "jsonl", "json"];
/// One entry of the write dialog's file picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerEntry {
    /// File or directory name (`..` for the parent).
    pub name: String,
    /// A directory.
    pub is_dir: bool,
}
/// Whether `name` has an extension `metadata write` reads.
pub fn writable_file(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| WRITE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
/// Where a write dialog is.
pub enum WriteStage {
    /// Picking the input file.
    Pick,
    /// The file is being read and the rows prepared (Esc cancels).
    Planning,
    /// The prepared rows are shown; waiting for confirmation.
    Preview {
        /// The plan.
        plan: Arc<WritePlan>,
        /// How many of the incoming samples are already stored (their new rows will shadow the stored ones).
        existing: usize,
        /// First preview row shown.
        scroll: usize,
        /// Rendered preview.
        lines: Vec<PreviewLine>,
    },
    /// The write is running (cannot be cancelled).
    Running,
}
/// The write dialog (`w`): a file picker, then a preview of the rows Metaxy's `write()` would append.
pub struct WriteDialog {
    /// Feature to write to.
    pub feature: FeatureKey,
    /// Directory shown by the picker.
    pub dir: std::path::PathBuf,
    /// Its entries (`None` while listing; `Err` when it cannot be read).
    pub entries: Option<Result<Vec<PickerEntry>, String>>,
    /// Typed filter on entry names.
    pub filter: TextArea<'static>,
    /// Cursor among the visible entries.
    pub cursor: usize,
    /// The chosen file (set when planning starts).
    pub file: Option<std::path::PathBuf>,
    /// Stage.
    pub stage: WriteStage,
}
impl WriteDialog {
    /// Entries matching the filter (`..` only without a filter): `..`, directories, then readable files, by name.
    pub fn visible(&self) -> Vec<&PickerEntry> {
        let f = input_text(&self.filter).to_lowercase();
        match &self.entries {
            Some(Ok(e)) => e
                .iter()
                .filter(|e| f.is_empty() || (e.name != ".." && e.name.to_lowercase().contains(&f)))
                .collect(),
            _ => vec![],
        }
    }
}
impl WriteDialog {
    /// A new picker on `dir` (its listing is requested by the caller).
    pub fn new(feature: FeatureKey, dir: std::path::PathBuf) -> Self {
        Self {
            feature,
            dir,
            entries: None,
            filter: line_input(""),
            cursor: 0,
            file: None,
            stage: WriteStage::Pick,
        }
    }

    fn go(&mut self, dir: std::path::PathBuf) -> DialogAction {
        self.dir = dir.clone();
        self.entries = None;
        self.cursor = 0;
        self.filter = line_input("");
        DialogAction::ListDir(dir)
    }

    pub(crate) fn on_key(&mut self, key: KeyEvent) -> DialogAction {
        match &mut self.stage {
            WriteStage::Running => DialogAction::None,
            WriteStage::Planning => match key.code {
                KeyCode::Esc => DialogAction::Close,
                _ => DialogAction::None,
            },
            WriteStage::Preview { plan, scroll, .. } => match key.code {
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
                    self.stage = WriteStage::Running;
                    DialogAction::ExecuteWrite(plan)
                }
                _ => DialogAction::None,
            },
            WriteStage::Pick => {
                let n = self.visible().len();
                match key.code {
                    KeyCode::Esc => DialogAction::Close,
                    KeyCode::Down => {
                        self.cursor = (self.cursor + 1).min(n.saturating_sub(1));
                        DialogAction::None
                    }
                    KeyCode::Up => {
                        self.cursor = self.cursor.saturating_sub(1);
                        DialogAction::None
                    }
                    KeyCode::Backspace if input_text(&self.filter).is_empty() => {
                        match self.dir.parent().map(|p| p.to_path_buf()) {
                            Some(p) => self.go(p),
                            None => DialogAction::None,
                        }
                    }
                    KeyCode::Enter => {
                        let typed = input_text(&self.filter);
                        // a typed path (absolute or relative to the shown directory) wins when it names a file
                        if typed.contains('/') {
                            let p = self.dir.join(typed.trim());
                            return if writable_file(typed.trim()) {
                                self.file = Some(p.clone());
                                self.stage = WriteStage::Planning;
                                DialogAction::PlanWrite(p)
                            } else {
                                self.go(p)
                            };
                        }
                        let Some(e) = self
                            .visible()
                            .get(self.cursor.min(n.saturating_sub(1)))
                            .cloned()
                            .cloned()
                        else {
                            return DialogAction::None;
                        };
                        if e.name == ".." {
                            match self.dir.parent().map(|p| p.to_path_buf()) {
                                Some(p) => self.go(p),
                                None => DialogAction::None,
                            }
                        } else if e.is_dir {
                            let p = self.dir.join(&e.name);
                            self.go(p)
                        } else {
                            let p = self.dir.join(&e.name);
                            self.file = Some(p.clone());
                            self.stage = WriteStage::Planning;
                            DialogAction::PlanWrite(p)
                        }
                    }
                    _ => {
                        edit_line(&mut self.filter, key);
                        self.cursor = 0;
                        DialogAction::None
                    }
                }
            }
        }
    }
}
/// Lists `dir` for the picker: `..` (unless at the root), directories, then files `metadata write` reads, by name;
/// hidden entries are skipped.
pub fn list_dir(dir: &std::path::Path) -> Result<Vec<PickerEntry>, String> {
    let mut dirs = vec![];
    let mut files = vec![];
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            || (e.file_type().map(|t| t.is_symlink()).unwrap_or(false) && e.path().is_dir());
        if is_dir {
            dirs.push(PickerEntry { name, is_dir });
        } else if writable_file(&name) {
            files.push(PickerEntry { name, is_dir });
        }
    }
    dirs.sort_by(|a, b| a.name.cmp(&b.name));
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = vec![];
    if dir.parent().is_some() {
        out.push(PickerEntry {
            name: "..".into(),
            is_dir: true,
        });
    }
    out.extend(dirs);
    out.extend(files);
    Ok(out)
}
/// Preview lines of a write plan: id columns, provenance, data version, feature version of each prepared row.
pub fn write_preview_lines(
    plan: &WritePlan,
    graph: &crate::engine::graph::FeatureGraph,
) -> Vec<PreviewLine> {
    use crate::engine::schema as cols;
    let ids = graph
        .get(&plan.feature)
        .map(|d| d.spec.id_columns.clone())
        .unwrap_or_default();
    let n = plan.rows.height().min(PREVIEW_ROWS);
    let mut out: Vec<PreviewLine> = (0..n)
        .map(|i| {
            let mut cells: Vec<String> = ids.iter().map(|c| cell(&plan.rows, c, i)).collect();
            for c in [
                cols::PROVENANCE_BY_FIELD,
                cols::PROVENANCE,
                cols::DATA_VERSION,
                cols::FEATURE_VERSION,
            ] {
                cells.push(cell(&plan.rows, c, i));
            }
            PreviewLine {
                cells,
                heading: false,
            }
        })
        .collect();
    if plan.rows.height() > n {
        out.push(PreviewLine {
            cells: vec![format!("… {} more row(s)", plan.rows.height() - n)],
            heading: true,
        });
    }
    out
}
pub fn draw(frame: &mut Frame, area: Rect, app: &App, d: &WriteDialog) {
    let w = area.width.saturating_sub(4).clamp(20, 110);
    let h = area.height.saturating_sub(2).clamp(8, 30);
    let title = format!("Write rows to {}", d.feature);
    match &d.stage {
        WriteStage::Pick | WriteStage::Planning => {
            let inner = popup(frame, area, w, h, title, accent());
            draw_pick(frame, inner, app, d);
        }
        WriteStage::Preview {
            plan,
            existing,
            scroll,
            lines,
        } => {
            let inner = popup(frame, area, w, h, title, accent());
            draw_preview(frame, inner, d, plan, *existing, *scroll, lines);
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

/// The pick and planning stages inside the popup: directory, filter input, file list, a note and hints.
fn draw_pick(frame: &mut Frame, inner: Rect, app: &App, d: &WriteDialog) {
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
            Span::raw(crate::tui::widgets::status_bar::pretty_path(
                &d.dir.display().to_string(),
            )),
        ])),
        dir,
    );
    let [prompt, field] =
        Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
    frame.render_widget(Paragraph::new("> ").fg(accent()), prompt);
    frame.render_widget(&d.filter, field);
    let lines = pick_lines(app, d, list.height as usize);
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

/// The file list of the pick stage, scrolled to keep the cursor visible in `height` rows.
fn pick_lines(app: &App, d: &WriteDialog, height: usize) -> Vec<Line<'static>> {
    match &d.entries {
        None => vec![Line::from(format!("{} listing…", app.spinner())).fg(muted())],
        Some(Err(e)) => vec![Line::from(e.clone()).fg(Color::Red)],
        Some(Ok(_)) => {
            let vis = d.visible();
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
                        let l =
                            Line::from(format!("{} {}", if i == cursor { ">" } else { " " }, name));
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
    }
}

/// The preview stage inside the popup: summary, the rows to append and the key hints.
fn draw_preview(
    frame: &mut Frame,
    inner: Rect,
    d: &WriteDialog,
    plan: &WritePlan,
    existing: usize,
    scroll: usize,
    lines: &[PreviewLine],
) {
    let [summary, rows, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let n = plan.rows.height();
    let [head, sub] = preview_summary(d, plan, existing);
    frame.render_widget(
        Paragraph::new(vec![head, sub]).wrap(Wrap { trim: false }),
        summary,
    );
    frame.render_widget(
        Paragraph::new(preview_rows(
            lines,
            scroll,
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

/// The two summary lines of the preview: rows, file and new samples, then the versions and timestamp.
fn preview_summary(d: &WriteDialog, plan: &WritePlan, existing: usize) -> [Line<'static>; 2] {
    let n = plan.rows.height();
    let file = d
        .file
        .as_ref()
        .map(|p| crate::tui::widgets::status_bar::pretty_path(&p.display().to_string()))
        .unwrap_or_default();
    let head = Line::from(format!(
        "{n} row(s) from {file} will be appended: {} new sample(s), {existing} already stored (the new rows supersede them).",
        n.saturating_sub(existing)
    ))
    .bold();
    let sub = Line::from(format!(
        "feature version {} · project version {} · created/updated at {}",
        plan.rows
            .column(crate::engine::schema::FEATURE_VERSION)
            .ok()
            .and_then(|c| c.get(0).ok().map(|v| crate::engine::json::any_to_cell(&v)))
            .unwrap_or_default(),
        plan.rows
            .column(crate::engine::schema::PROJECT_VERSION)
            .ok()
            .and_then(|c| c.get(0).ok().map(|v| crate::engine::json::any_to_cell(&v)))
            .unwrap_or_default(),
        plan.timestamp.format("%Y-%m-%d %H:%M:%S UTC"),
    ))
    .fg(muted());
    [head, sub]
}

impl App {
    /// `w`: opens the write dialog for the selected feature (a file picker in the working directory).
    pub(crate) fn open_write(&mut self) -> Vec<Command> {
        let Some(key) = self.selected_entry().map(|e| e.key.clone()) else {
            return vec![];
        };
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot write", m);
            return vec![];
        }
        let dir = self.env.cwd.clone();
        self.overlay.dialog = Some(Dialog::Write(Box::new(WriteDialog::new(key, dir.clone()))));
        vec![self.task(Job::ListDir { dir })]
    }
}
