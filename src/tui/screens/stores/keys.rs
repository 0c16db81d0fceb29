//! Keys of the stores screen and its rows.

#[allow(unused_imports)]
use crate::tui::prelude::*;

impl App {
    /// The stores the stores screen lists: every configured store (the default first, then by name), and the
    /// configured types metaxy-tui cannot open.
    pub fn store_rows(&self) -> Vec<StoreRow> {
        let Some(ws) = self.workspace() else {
            return vec![];
        };
        let mut rows: Vec<StoreRow> = ws
            .config
            .store_summaries()
            .into_iter()
            .map(|st| StoreRow {
                kind: st.class_name(),
                location: st
                    .config
                    .as_ref()
                    .and_then(|c| c.location().ok())
                    .unwrap_or_default(),
                hash: st
                    .config
                    .as_ref()
                    .map(|c| c.hash_algorithm.as_str().to_string())
                    .unwrap_or_default(),
                fallbacks: st
                    .config
                    .as_ref()
                    .map(|c| c.fallback_stores.clone())
                    .unwrap_or_default(),
                supported: st.config.is_some(),
                name: st.name,
                is_default: st.is_default,
            })
            .collect();
        if rows.is_empty() {
            // the embedded demo store has no config of its own
            rows.push(StoreRow {
                name: ws.store.name().to_string(),
                is_default: true,
                kind: ws.store.display(),
                location: ws.store.location(),
                hash: ws.store.hash_algorithm().as_str().to_string(),
                fallbacks: vec![],
                supported: true,
            });
        }
        rows
    }
    /// `S`: the stores screen; every configured store is opened in the background to see whether it is
    /// reachable.
    pub(crate) fn open_stores(&mut self) -> Vec<Command> {
        self.screen = Screen::Stores;
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let current = ws.store.name().to_string();
        let rows = self.store_rows();
        if let Some(i) = rows.iter().position(|r| r.name == current) {
            self.stores.cursor = i;
        }
        if !self.stores.probes.is_empty() {
            return vec![];
        }
        for r in rows.iter().filter(|r| r.supported) {
            self.stores.probes.insert(r.name.clone(), Load::Loading);
        }
        vec![self.task(Job::ProbeStores { ws })]
    }
    /// Keys of the stores screen: move, Enter opens the store under the cursor (statuses recomputed), Esc back.
    pub(crate) fn on_stores_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let rows = self.store_rows();
        let last = rows.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => self.screen = Screen::Features,
            KeyCode::Char('j') | KeyCode::Down => {
                self.stores.cursor = (self.stores.cursor + 1).min(last)
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.stores.cursor = self.stores.cursor.saturating_sub(1)
            }
            KeyCode::Char('g') | KeyCode::Home => self.stores.cursor = 0,
            KeyCode::Char('G') | KeyCode::End => self.stores.cursor = last,
            KeyCode::Enter => {
                let Some(r) = rows.get(self.stores.cursor.min(last)) else {
                    return vec![];
                };
                if !r.supported {
                    self.error_popup(
                        format!("Cannot open {}", r.name),
                        format!("{}: this store type is not supported by metaxy-tui", r.kind),
                    );
                    return vec![];
                }
                if let Some(Load::Failed(e)) = self.stores.probes.get(&r.name) {
                    self.error_popup(format!("Cannot open {}", r.name), e.clone());
                    return vec![];
                }
                let current = self.workspace().map(|w| w.store.name().to_string());
                self.screen = Screen::Features;
                if current.as_deref() == Some(r.name.as_str()) {
                    return vec![];
                }
                // the selected feature stays selected when the other store's graph has it
                self.stores.picked = Some(r.name.clone());
                return self.start();
            }
            _ => {}
        }
        vec![]
    }
}
