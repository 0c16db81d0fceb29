//! Confirm-before-write dialogs (rainfrog / gitui style): delete and rebase are planned in the background, the
//! plan (counts per feature and the exact rows) is shown, and only an explicit confirmation writes. A hard delete
//! needs the feature key typed. Esc cancels at any point before the write starts; a running write cannot be
//! interrupted (it is one transaction / commit per feature) and reports back with a toast.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Style;
use tui_textarea::TextArea;

use crate::engine::graph::PushedFeature;
use crate::engine::keys::FeatureKey;
use crate::engine::mutate::{DeletePlan, DeleteRequest, RebasePlan, WritePlan};

/// A one-line text input.
pub fn line_input(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.set_cursor_line_style(Style::new());
    t.move_cursor(tui_textarea::CursorMove::End);
    t
}

/// The text of a one-line input.
pub fn input_text(t: &TextArea<'_>) -> String {
    t.lines().concat()
}

/// Feeds a key to a one-line input (newlines and tabs ignored; a multi-line paste is joined).
pub fn edit_line(t: &mut TextArea<'static>, key: KeyEvent) {
    if matches!(
        key.code,
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab | KeyCode::Char('\n' | '\r' | '\t')
    ) {
        return;
    }
    t.input(key);
    if t.lines().len() > 1 {
        *t = line_input(&t.lines().concat());
    }
}

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

    /// Whether the typed confirmation allows a hard delete.
    pub fn confirmed(&self) -> bool {
        match &self.stage {
            DeleteStage::Preview { confirm, .. } => {
                !self.hard || input_text(confirm).trim() == self.feature.to_string()
            }
            _ => false,
        }
    }
}

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
}

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

/// An open dialog (drawn over everything; it has the keyboard).
pub enum Dialog {
    /// Delete.
    Delete(Box<DeleteDialog>),
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

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> DialogAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Dialog::Error { .. } => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogAction::Close,
                _ => DialogAction::None,
            },
            Dialog::Columns {
                items,
                frozen,
                cursor,
            } => {
                let last = items.len().saturating_sub(1);
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') => DialogAction::Close,
                    KeyCode::Enter => DialogAction::HideColumns(
                        items
                            .iter()
                            .filter(|(_, shown)| !shown)
                            .map(|(c, _)| c.clone())
                            .collect(),
                    ),
                    KeyCode::Char('j') | KeyCode::Down => {
                        *cursor = (*cursor + 1).min(last);
                        DialogAction::None
                    }
                    KeyCode::Char('k') | KeyCode::Up => {
                        *cursor = cursor.saturating_sub(1);
                        DialogAction::None
                    }
                    KeyCode::Char('g') | KeyCode::Home => {
                        *cursor = 0;
                        DialogAction::None
                    }
                    KeyCode::Char('G') | KeyCode::End => {
                        *cursor = last;
                        DialogAction::None
                    }
                    KeyCode::Char(' ') | KeyCode::Char('x') => {
                        if *cursor >= *frozen {
                            if let Some(it) = items.get_mut(*cursor) {
                                it.1 = !it.1;
                            }
                        }
                        *cursor = (*cursor + 1).min(last);
                        DialogAction::None
                    }
                    KeyCode::Char('a') => {
                        let all = items.iter().all(|(_, s)| *s);
                        for it in items.iter_mut().skip(*frozen) {
                            it.1 = !all;
                        }
                        DialogAction::None
                    }
                    _ => DialogAction::None,
                }
            }
            Dialog::RowDetail { scroll, fields, .. } => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogAction::Close,
                KeyCode::Char('j') | KeyCode::Down => {
                    *scroll = (*scroll + 1).min(fields.len().saturating_sub(1));
                    DialogAction::None
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    *scroll = scroll.saturating_sub(1);
                    DialogAction::None
                }
                KeyCode::Char('y') => {
                    let obj: serde_json::Map<String, serde_json::Value> = fields
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect();
                    DialogAction::Copy(serde_json::to_string(&obj).unwrap_or_default())
                }
                _ => DialogAction::None,
            },
            Dialog::Delete(d) => match &mut d.stage {
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
                        if d.hard && input_text(confirm).trim() != d.feature.to_string() {
                            return DialogAction::None;
                        }
                        d.stage = DeleteStage::Running;
                        DialogAction::ExecuteDelete(plan)
                    }
                    KeyCode::Char('y') if !d.hard => {
                        let plan = plan.clone();
                        if plan.total_rows() == 0 {
                            return DialogAction::Close;
                        }
                        d.stage = DeleteStage::Running;
                        DialogAction::ExecuteDelete(plan)
                    }
                    KeyCode::Char('n') if !d.hard => DialogAction::Close,
                    KeyCode::Char('j') if !d.hard => {
                        *scroll += 1;
                        DialogAction::None
                    }
                    KeyCode::Char('k') if !d.hard => {
                        *scroll = scroll.saturating_sub(1);
                        DialogAction::None
                    }
                    _ if d.hard => {
                        edit_line(confirm.as_mut(), key);
                        DialogAction::None
                    }
                    _ => DialogAction::None,
                },
            },
            Dialog::Write(w) => w.on_key(key),
            Dialog::Export { path, .. } => match key.code {
                KeyCode::Esc => DialogAction::Close,
                KeyCode::Enter => {
                    let p = input_text(path).trim().to_string();
                    if p.is_empty() {
                        DialogAction::None
                    } else {
                        DialogAction::Export(std::path::PathBuf::from(p))
                    }
                }
                _ => {
                    edit_line(path.as_mut(), key);
                    DialogAction::None
                }
            },
            Dialog::Rebase(r) => match &mut r.stage {
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
            },
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

fn cell(df: &polars::prelude::DataFrame, c: &str, i: usize) -> String {
    df.column(c)
        .ok()
        .and_then(|s| s.get(i).ok().map(|v| crate::engine::json::any_to_cell(&v)))
        .unwrap_or_else(|| "-".into())
}

/// Preview lines of a delete plan: per feature a heading (`example/stt: 8 row(s)`), then its rows (id columns,
/// feature version, provenance, updated_at), at most [`PREVIEW_ROWS`] in all.
pub fn delete_preview_lines(
    plan: &DeletePlan,
    graph: &crate::engine::graph::FeatureGraph,
) -> Vec<PreviewLine> {
    use crate::engine::read::cols;
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

/// Preview lines of a rebase plan: per row the id columns, then per field `old → new` provenance (or `= value`
/// when unchanged), then the sample provenance `old → new`.
pub fn rebase_preview_lines(plan: &RebasePlan, ids: &[String]) -> Vec<PreviewLine> {
    use crate::engine::json::{by_field_value, df_to_json_rows};
    use crate::engine::read::cols;
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

    fn on_key(&mut self, key: KeyEvent) -> DialogAction {
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
    use crate::engine::read::cols;
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
