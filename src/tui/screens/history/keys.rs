//! Keys of the history screen and what `R` does there.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Why a root feature cannot be rebased (the popup of `R`).
pub(crate) fn root_rebase_message(key: &FeatureKey) -> String {
    format!("{key} is a root feature: its provenance comes from its producer, not from upstream features, so it cannot be rebased. Re-run the pipeline that writes it.")
}

impl App {
    /// What `R` on the history screen would do: the selected feature (of the feature list) at the project version
    /// under the history cursor. `None` without a workspace, a selected feature or a pushed version.
    pub fn history_rebase(&self) -> Option<HistoryRebase> {
        let ws = self.workspace()?;
        let key = self.selected_entry()?.key.clone();
        let snap = ws
            .history()
            .get(self.history.cursor)?
            .project_version
            .clone();
        let def = ws.graph.get(&key)?;
        if def.spec.is_root() {
            return Some(HistoryRebase::Root(key));
        }
        let current = ws
            .graph
            .feature_version(&key)
            .unwrap_or_default()
            .to_string();
        let Some(row) =
            crate::engine::graph::pushed_row(&ws.pushed, &ws.graph.project, &snap, &key)
        else {
            return Some(HistoryRebase::Absent {
                key,
                project_version: snap,
            });
        };
        if row.feature_version == current {
            return Some(HistoryRebase::Current {
                key,
                version: current,
            });
        }
        Some(HistoryRebase::From {
            key,
            from: row.feature_version.clone(),
            current,
            project_version: snap,
        })
    }
    /// `R` on the history screen: the rebase preview of the selected feature from its feature version in the
    /// project version under the cursor (the picker of [`Self::open_rebase`] skipped), then the usual confirmation.
    pub(crate) fn rebase_from_history(&mut self) -> Vec<Command> {
        if self.selected_entry().is_none() {
            return vec![];
        }
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot rebase", m);
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        match self.history_rebase() {
            None => vec![],
            Some(HistoryRebase::Root(key)) => {
                self.error_popup("Cannot rebase", root_rebase_message(&key));
                vec![]
            }
            Some(HistoryRebase::Absent {
                key,
                project_version,
            }) => {
                self.error_popup(
                    "Cannot rebase",
                    format!("{key} is not part of project version {project_version}: pick a version that has it (j/k)."),
                );
                vec![]
            }
            Some(HistoryRebase::Current { key, version }) => {
                self.error_popup(
                    "Nothing to rebase",
                    format!("{key} has its current feature version {version} in this project version. Pick an older project version (j/k) to rebase its rows from."),
                );
                vec![]
            }
            Some(HistoryRebase::From {
                key, from, current, ..
            }) => {
                let versions = version_choices(&ws.pushed, &key, &current);
                let cursor = versions
                    .iter()
                    .position(|v| v.feature_version == from)
                    .unwrap_or(0);
                self.overlay.dialog = Some(Dialog::Rebase(RebaseDialog {
                    feature: key.clone(),
                    current,
                    versions,
                    cursor,
                    stage: RebaseStage::Planning,
                    sample: None,
                }));
                vec![self.task(Job::PlanRebase {
                    ws,
                    key,
                    from,
                    filter: None,
                })]
            }
        }
    }
    /// `H`: the history screen (pushed project versions, newest first), with row counts per feature version
    /// loading in the background.
    pub(crate) fn open_history(&mut self) -> Vec<Command> {
        self.screen = Screen::History;
        // while the store is (re)opening, the screen fills in when it is ready (`on_opened`)
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let current = ws.graph.project_version.clone();
        let snaps = ws.history();
        if self.history.diff.is_none() {
            self.history.cursor = snaps
                .iter()
                .position(|s| s.project_version == current)
                .unwrap_or(0);
            self.recompute_diff();
        }
        if self.history.rows.is_some() {
            return vec![];
        }
        vec![self.task(Job::CountAllVersions { ws })]
    }
    /// Recomputes the history diff: base (marked, or the version pushed before the cursor's) → cursor.
    pub(crate) fn recompute_diff(&mut self) {
        let Some(ws) = self.workspace().cloned() else {
            return;
        };
        let snaps = ws.history();
        self.history.scroll = 0;
        let Some(to) = snaps.get(self.history.cursor) else {
            self.history.diff = None;
            return;
        };
        let from = match &self.history.base {
            Some(b) => Some(b.clone()),
            None => snaps
                .get(self.history.cursor + 1)
                .map(|s| s.project_version.clone()),
        };
        let to_v = to.project_version.clone();
        self.history.diff = Some((|| {
            let to_g = ws.graph_at(&to_v).map_err(|e| e.to_string())?;
            let from_g = match &from {
                Some(f) => ws.graph_at(f).map_err(|e| e.to_string())?,
                // the first pushed version: diff against itself shows every feature as unchanged
                None => to_g.clone(),
            };
            Ok(crate::engine::graph::diff::diff_graphs(&from_g, &to_g))
        })());
    }
    pub(crate) fn on_history_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let n = self.workspace().map(|w| w.history().len()).unwrap_or(0);
        match key.code {
            KeyCode::Esc => self.screen = Screen::Features,
            KeyCode::Char('j') | KeyCode::Down => {
                self.history.cursor = (self.history.cursor + 1).min(n.saturating_sub(1));
                self.recompute_diff();
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.history.cursor = self.history.cursor.saturating_sub(1);
                self.recompute_diff();
            }
            KeyCode::Char('x') | KeyCode::Char(' ') => {
                let v = self.workspace().and_then(|w| {
                    w.history()
                        .get(self.history.cursor)
                        .map(|s| s.project_version.clone())
                });
                self.history.base = if self.history.base == v { None } else { v };
                self.recompute_diff();
            }
            KeyCode::Char('R') => return self.rebase_from_history(),
            KeyCode::PageDown | KeyCode::Char('J') => self.history.scroll += 10,
            KeyCode::PageUp | KeyCode::Char('K') => {
                self.history.scroll = self.history.scroll.saturating_sub(10)
            }
            _ => {}
        }
        vec![]
    }
}
