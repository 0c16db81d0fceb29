//! Keys of the lookup screen, and how a lookup starts: `L` on a table row (its id columns), or the palette's
//! `lookup column=value ...`.

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::engine::store::filter::IdFilter;
use crate::engine::versioning::lookup::{parse_ids, FeatureLookup, Lookup, SampleLookup};
use crate::tui::screens::lookup::{lookup_lines, LookupLine};

impl App {
    /// Starts a lookup of `ids` and shows the lookup screen (Esc returns to the current screen).
    pub(crate) fn open_lookup(&mut self, ids: IdFilter) -> Vec<Command> {
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        if self.screen != Screen::Lookup {
            self.lookup.back = Some(self.screen);
        }
        self.screen = Screen::Lookup;
        self.lookup.ids = Some(ids.clone());
        self.lookup.result = Some(Load::Loading);
        self.lookup.cursor = 0;
        vec![self.task(Job::Lookup { ws, ids })]
    }

    /// `lookup column=value ...` typed in the palette: the samples, one per word (composite ids joined by `,`).
    pub(crate) fn lookup_typed(&mut self, text: &str) -> Vec<Command> {
        let specs: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        match parse_ids(&specs) {
            Ok(ids) => self.open_lookup(ids),
            Err(e) => {
                self.error_popup("Cannot look up", e.to_string());
                vec![]
            }
        }
    }

    /// `L`: looks up the sample of the cursor row of the current table (its id columns; an increment's join
    /// columns), or says how to type ids.
    pub(crate) fn lookup_from_cursor(&mut self) -> Vec<Command> {
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let ids = (|| {
            let key = self.selected_entry()?.key.clone();
            let def = ws.graph.get(&key)?;
            let t = self.current_table()?;
            let pos = t.clamp(self.details.nav[self.details.tab.index()].cursor);
            let row = t.rows.get(pos.checked_sub(t.start)?)?;
            let mut columns = vec![];
            let mut values = vec![];
            for c in &def.spec.id_columns {
                if let Some(i) = t.headers.iter().position(|h| h == c) {
                    columns.push(c.clone());
                    values.push(row.get(i)?.text.clone());
                }
            }
            (!columns.is_empty()).then(|| IdFilter::new(columns, vec![values]))
        })();
        match ids {
            Some(ids) => self.open_lookup(ids),
            None => {
                self.toast(
                    "no row under the cursor: open a table (Metadata, New, Stale, Orphaned), or type `: lookup column=value`"
                        .into(),
                    true,
                );
                vec![]
            }
        }
    }

    /// A finished lookup (dropped when it is not the last one asked for).
    pub(crate) fn on_looked(
        &mut self,
        ids: IdFilter,
        result: Result<Arc<Lookup>, String>,
    ) -> Vec<Command> {
        if self.lookup.ids.as_ref() != Some(&ids) {
            return vec![];
        }
        self.lookup.result = Some(match result {
            Ok(l) => Load::Ready(l),
            Err(e) => Load::Failed(e),
        });
        vec![]
    }

    /// The lookup and the line under the cursor, when the lookup is done.
    pub fn lookup_selection(&self) -> Option<(&Lookup, &FeatureLookup, Option<&SampleLookup>)> {
        let Some(Load::Ready(l)) = &self.lookup.result else {
            return None;
        };
        let lines = lookup_lines(l);
        let LookupLine { feature, sample } =
            *lines.get(self.lookup.cursor.min(lines.len().saturating_sub(1)))?;
        let f = l.features.get(feature)?;
        Some((l, f, sample.and_then(|s| f.samples.get(s))))
    }

    /// Keys of the lookup screen: move, Enter shows the row, `d` / `R` delete / rebase it, Esc back.
    pub(crate) fn on_lookup_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let n = match &self.lookup.result {
            Some(Load::Ready(l)) => lookup_lines(l).len(),
            _ => 0,
        };
        let last = n.saturating_sub(1);
        let c = &mut self.lookup.cursor;
        match key.code {
            KeyCode::Esc => self.screen = self.lookup.back.take().unwrap_or(Screen::Features),
            KeyCode::Char('j') | KeyCode::Down => *c = (*c + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => *c = c.saturating_sub(1),
            KeyCode::PageDown => *c = (*c + 10).min(last),
            KeyCode::PageUp => *c = c.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => *c = 0,
            KeyCode::Char('G') | KeyCode::End => *c = last,
            KeyCode::Enter => self.lookup_row_detail(),
            KeyCode::Char('d') => return self.lookup_write(false),
            KeyCode::Char('R') => return self.lookup_write(true),
            _ => {}
        }
        vec![]
    }

    /// Enter: every column of the sample's current row, its stale cause and every stored row, in the row detail.
    fn lookup_row_detail(&mut self) {
        let Some((_, f, Some(s))) = self.lookup_selection() else {
            return;
        };
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            o => o.to_string(),
        };
        let mut fields: Vec<(String, String)> = vec![("state".into(), s.state.label().into())];
        if let Some(c) = &s.cause {
            fields.push((
                "stale because".into(),
                crate::engine::versioning::cause::cause_text(c),
            ));
        }
        if let Some(e) = &f.error {
            fields.push(("error".into(), e.clone()));
        }
        if let Some(r) = &f.resolved_from {
            fields.push((
                "resolved_from".into(),
                format!("{} ({})", r.name, r.location()),
            ));
        }
        match s.row.as_ref().and_then(|r| r.as_object()) {
            Some(o) => fields.extend(o.iter().map(|(k, v)| (k.clone(), text(v)))),
            None => fields.extend(s.ids.iter().cloned()),
        }
        for (i, h) in s.history.iter().enumerate() {
            fields.push((format!("stored row {}", i + 1), h.to_string()));
        }
        let ids: Vec<String> = s.ids.iter().map(|(c, v)| format!("{c}={v}")).collect();
        self.overlay.dialog = Some(Dialog::RowDetail {
            title: format!(" {} · {} ", f.feature, ids.join(",")),
            fields,
            scroll: 0,
        });
    }

    /// `d` / `R` on a line: the delete dialog prefilled with the sample's ids (its cascade option previews the
    /// downstream rows), or the rebase dialog of its feature limited to the sample's rows (its preview lists them).
    fn lookup_write(&mut self, rebase: bool) -> Vec<Command> {
        let Some((_, f, sample)) = self.lookup_selection() else {
            return vec![];
        };
        let Ok(key) = FeatureKey::parse(&f.feature) else {
            return vec![];
        };
        let filter = sample.map(|s| {
            let columns = s.ids.iter().map(|(c, _)| c.clone()).collect();
            let values = s.ids.iter().map(|(_, v)| v.clone()).collect();
            IdFilter::new(columns, vec![values]).sql_filter()
        });
        // the dialogs act on the selected feature: select it (its tables load as usual)
        let mut cmds = match self.features.entries.iter().position(|e| e.key == key) {
            Some(i) => {
                self.features.filter.clear();
                self.features.visible = filter_features(&self.features.entries, "");
                let pos = self
                    .features
                    .visible
                    .iter()
                    .position(|v| v.index == i)
                    .unwrap_or(0);
                self.select(pos)
            }
            None => return vec![],
        };
        if rebase {
            cmds.extend(self.open_rebase_of(filter));
            return cmds;
        }
        if let Some(m) = self.writes_refused() {
            self.error_popup("Cannot delete", m);
            return cmds;
        }
        self.overlay.dialog = Some(Dialog::Delete(Box::new(DeleteDialog::new(
            key,
            filter.as_deref().unwrap_or_default(),
        ))));
        cmds
    }
}
