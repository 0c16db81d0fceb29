//! Keys of the graph screen: move between nodes, collapse / expand prefixes, open a feature.

#[allow(unused_imports)]
use crate::tui::prelude::*;

impl App {
    /// The status line of feature `i` as the graph and the list show it (`⚠ 5 new · 10 stale · 5 orphaned`).
    pub fn node_status(&self, i: usize) -> String {
        match self.features.entries.get(i).and_then(|e| e.report.as_ref()) {
            None => format!("{} computing…", self.spinner()),
            Some(r) => format!("{} {}", r.status.status.icon(), status_text(r)),
        }
    }
    /// The nodes the graph screen draws: the features, with the collapsed key prefixes merged.
    pub fn graph_model(
        &self,
        graph: &crate::engine::graph::FeatureGraph,
    ) -> crate::tui::screens::graph::layout::GraphModel {
        crate::tui::screens::graph::layout::GraphModel::new(graph, &self.graph.collapsed)
            .unwrap_or_else(|_| crate::tui::screens::graph::layout::GraphModel::features(graph))
    }
    /// The status line of node `n` of the graph screen: the feature's status, or for a collapsed prefix how many
    /// of its features have each status (`✓ 2 · ⚠ 1 · 1 computing…`).
    pub fn group_status(
        &self,
        model: &crate::tui::screens::graph::layout::GraphModel,
        n: usize,
    ) -> String {
        let members = &model.members[n];
        if model.prefix[n].is_none() {
            return members
                .first()
                .map(|&f| self.node_status(f))
                .unwrap_or_default();
        }
        let mut counts: Vec<(&'static str, usize)> = vec![];
        let mut pending = 0;
        for &f in members {
            match self.features.entries.get(f).and_then(|e| e.report.as_ref()) {
                None => pending += 1,
                Some(r) => {
                    let icon = r.status.status.icon();
                    match counts.iter_mut().find(|(i, _)| *i == icon) {
                        Some(c) => c.1 += 1,
                        None => counts.push((icon, 1)),
                    }
                }
            }
        }
        let mut parts: Vec<String> = counts.iter().map(|(i, c)| format!("{i} {c}")).collect();
        if pending > 0 {
            parts.push(format!("{} {pending} computing…", self.spinner()));
        }
        parts.join(" · ")
    }
    /// `c` on the graph screen: collapses the selected feature's key prefix into one node, or expands the
    /// collapsed node it is in.
    pub(crate) fn toggle_collapse(&mut self, ws: &Workspace) {
        let model = self.graph_model(&ws.graph);
        let node = model
            .node_of
            .get(self.features.selected)
            .copied()
            .unwrap_or(0);
        if let Some(p) = model.prefix.get(node).cloned().flatten() {
            self.graph.collapsed.remove(&p);
            return;
        }
        let Some(key) = self
            .features
            .entries
            .get(self.features.selected)
            .map(|e| e.key.clone())
        else {
            return;
        };
        let Some(p) = crate::tui::screens::graph::layout::prefix_of(&key) else {
            self.toast(format!("{key} has no key prefix to collapse"), true);
            return;
        };
        let mut next = self.graph.collapsed.clone();
        next.insert(p);
        match crate::tui::screens::graph::layout::GraphModel::new(&ws.graph, &next) {
            Ok(_) => self.graph.collapsed = next,
            Err(e) => self.toast(e, true),
        }
    }
    /// `C` on the graph screen: expands everything when anything is collapsed, else collapses every top-level key
    /// prefix shared by two or more features (skipping those that would draw a cycle).
    pub(crate) fn toggle_collapse_all(&mut self, ws: &Workspace) {
        if !self.graph.collapsed.is_empty() {
            self.graph.collapsed.clear();
            return;
        }
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for e in &self.features.entries {
            if let Some(p) = crate::tui::screens::graph::layout::prefix_of(&e.key) {
                let top = p.split('/').next().unwrap_or(&p).to_string();
                *counts.entry(top).or_default() += 1;
            }
        }
        let mut skipped = vec![];
        for (p, n) in counts {
            if n < 2 {
                continue;
            }
            let mut next = self.graph.collapsed.clone();
            next.insert(p.clone());
            if crate::tui::screens::graph::layout::GraphModel::new(&ws.graph, &next).is_ok() {
                self.graph.collapsed = next;
            } else {
                skipped.push(p);
            }
        }
        if !skipped.is_empty() {
            self.toast(
                format!("not collapsed (would draw a cycle): {}", skipped.join(", ")),
                true,
            );
        }
    }
    /// Keys of the graph screen: arrows / hjkl move to the nearest feature in that direction, Enter opens the
    /// feature's tables, Esc goes back, `/` searches, `c` / `C` collapse key prefixes.
    pub(crate) fn on_graph_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.code == KeyCode::Esc {
            self.screen = Screen::Features;
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        if self.features.entries.is_empty() {
            return vec![];
        }
        let dir = match key.code {
            KeyCode::Char('h') | KeyCode::Left => Some((-1, 0)),
            KeyCode::Char('l') | KeyCode::Right => Some((1, 0)),
            KeyCode::Char('k') | KeyCode::Up => Some((0, -1)),
            KeyCode::Char('j') | KeyCode::Down => Some((0, 1)),
            _ => None,
        };
        if let Some((dx, dy)) = dir {
            let model = self.graph_model(&ws.graph);
            let status = |i: usize| self.group_status(&model, i);
            let lay = crate::tui::screens::graph::layout::layout(&model, &status);
            let from = model
                .node_of
                .get(self.features.selected)
                .copied()
                .unwrap_or(0);
            if let Some(n) = lay.neighbour(from, dx, dy) {
                if let Some(f) = lay.nodes[n]
                    .feature
                    .and_then(|m| model.members[m].first().copied())
                {
                    // keep the feature list's filter consistent: a hidden feature clears the filter
                    if !self.features.visible.iter().any(|v| v.index == f) {
                        self.features.filter.clear();
                        self.features.visible = filter_features(&self.features.entries, "");
                    }
                    if f != self.features.selected {
                        self.features.selected = f;
                        self.reset_nav();
                    }
                    let mut c = self.want_metadata();
                    c.extend(self.want_increment());
                    c.extend(self.want_inc_filter());
                    return c;
                }
            }
            return vec![];
        }
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Features;
                vec![]
            }
            KeyCode::Enter => {
                self.screen = Screen::Features;
                self.features.focus = Focus::Details;
                self.want_metadata()
            }
            KeyCode::Char('/') => {
                let mut input = TextArea::new(vec![self.features.filter.clone()]);
                input.set_cursor_line_style(Style::new());
                input.move_cursor(tui_textarea::CursorMove::End);
                self.features.filter_input = Some(input);
                vec![]
            }
            KeyCode::Char('d') => self.open_delete(),
            KeyCode::Char('R') => self.open_rebase(),
            KeyCode::Char('w') => self.open_write(),
            KeyCode::Char('c') => {
                self.toggle_collapse(&ws);
                vec![]
            }
            KeyCode::Char('C') => {
                self.toggle_collapse_all(&ws);
                vec![]
            }
            _ => vec![],
        }
    }
}
