//! Live refresh: the TUI notices that the store changed (another process wrote it, e.g. a Metaxy pipeline) and
//! reloads in place, keeping the selected feature, the tab and the table cursor; and it treats a store busy with
//! another process's write ([`crate::engine::error::EngineError::Busy`]) as transient: a status-bar note and a
//! retry, never an error popup.
//!
//! Every [`POLL_TICKS`] ticks a [`Job::PollStore`] reads the store's change marker
//! ([`crate::engine::store::MetadataStore::change_marker`]: file sizes and times, no lock); a marker different from
//! the one the workspace was opened with starts a refresh ([`App::refresh`]): the workspace is reopened, statuses
//! are recomputed and the open table re-read while the old ones stay on screen until replaced. `L` toggles it.

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::engine::error::is_busy_message;

/// Ticks (~100 ms each) between two polls of the store's change marker.
pub const POLL_TICKS: usize = 20;

/// State of live refresh and of the store-busy note.
#[derive(Debug, Clone)]
pub struct LiveRefresh {
    /// Whether the store is polled for changes (`L` toggles; on by default).
    pub enabled: bool,
    /// Ticks since the last poll.
    pub ticks: usize,
    /// A poll is running.
    pub polling: bool,
    /// A refresh (reopen) is running; its result is applied in place.
    pub refreshing: bool,
    /// A read gave up on a store busy with another process's write: refresh at the next poll whatever the
    /// marker says (also when live refresh is off).
    pub retry: bool,
    /// Some read of this process is waiting for another process's write lock right now (reported by the
    /// runtime, [`Msg::LockWait`]).
    pub lock_wait: bool,
    /// The marker that started the running refresh.
    pub(crate) pending: Option<String>,
    /// The marker of a store whose refresh failed (not busy): not retried until the store changes again.
    pub(crate) failed: Option<Option<String>>,
}

impl Default for LiveRefresh {
    fn default() -> Self {
        Self {
            enabled: true,
            ticks: 0,
            polling: false,
            refreshing: false,
            retry: false,
            lock_wait: false,
            pending: None,
            failed: None,
        }
    }
}

impl LiveRefresh {
    /// Whether the status bar says "store busy (being written), retrying".
    pub fn busy(&self) -> bool {
        self.lock_wait || self.retry
    }
}

impl App {
    /// One tick of live refresh: after [`POLL_TICKS`] ticks, poll the store (when enabled, or a busy store is to
    /// be retried), or reopen a store whose first open found it busy.
    pub(crate) fn live_tick(&mut self) -> Vec<Command> {
        let live = &mut self.live;
        if live.polling || live.refreshing {
            return vec![];
        }
        live.ticks += 1;
        if live.ticks < POLL_TICKS {
            return vec![];
        }
        match &self.ws {
            WorkspaceState::Ready(ws) if self.live.enabled || self.live.retry => {
                self.live.ticks = 0;
                self.live.polling = true;
                let ws = ws.clone();
                vec![self.task(Job::PollStore { ws })]
            }
            WorkspaceState::Opening if self.live.retry => {
                self.live.retry = false;
                self.live.ticks = 0;
                self.start()
            }
            _ => vec![],
        }
    }

    /// A poll's result: refresh when the marker differs from the workspace's (or a busy read is to be retried).
    pub(crate) fn on_store_checked(&mut self, marker: Option<String>) -> Vec<Command> {
        self.live.polling = false;
        let Some(ws) = self.workspace() else {
            return vec![];
        };
        let changed = marker != ws.marker && self.live.failed.as_ref() != Some(&marker);
        if changed || self.live.retry {
            self.live.pending = marker;
            return self.refresh();
        }
        vec![]
    }

    /// Toggles live refresh (`L`).
    pub(crate) fn toggle_live(&mut self) -> Vec<Command> {
        self.live.enabled = !self.live.enabled;
        self.live.ticks = 0;
        let state = if self.live.enabled { "on" } else { "off" };
        self.toast(format!("live refresh {state} (L toggles)"), false);
        vec![]
    }

    /// Reopens the workspace in place (a new generation): what is on screen stays until the new statuses and
    /// reads replace it, and the selection, tab and cursors are kept ([`App::on_refreshed`]).
    pub(crate) fn refresh(&mut self) -> Vec<Command> {
        self.generation += 1;
        self.tasks.cancel_all();
        self.live.polling = false;
        self.live.refreshing = true;
        self.live.ticks = 0;
        self.features.statuses_cancelled = false;
        // a running load reports to the old generation (dropped): loaded again once the store is reopened
        self.details.increments.outdate();
        let job = match &self.stores.picked {
            Some(store) => Job::SwitchStore {
                store: store.clone(),
            },
            None => Job::Open,
        };
        vec![self.task(job)]
    }

    /// The result of a refresh's reopen. A busy store keeps the old view and retries at the next poll; another
    /// error keeps it too (with an error toast); a new workspace replaces the old one in place: old statuses stay
    /// shown until recomputed, loaded increments stay shown (outdated) until loaded again once their feature's
    /// new status is known, the selected feature's table stays until its new first page arrives, cursors are
    /// kept (pages are fetched up to the cursor again).
    pub(crate) fn on_refreshed(&mut self, result: Result<Arc<Workspace>, String>) -> Vec<Command> {
        self.live.refreshing = false;
        let ws = match result {
            Err(e) if is_busy_message(&e) => {
                self.live.retry = true;
                return vec![];
            }
            Err(e) => {
                self.live.retry = false;
                self.live.failed = Some(self.live.pending.take());
                self.toast(format!("live refresh failed: {e}"), true);
                return vec![];
            }
            Ok(ws) => ws,
        };
        self.live.retry = false;
        self.live.failed = None;
        let selected = self.selected_entry().map(|e| e.key.clone());
        let mut old_reports: HashMap<FeatureKey, Box<StatusReport>> = self
            .features
            .entries
            .drain(..)
            .filter_map(|e| {
                let mut r = e.report?;
                // shown until recomputed, never used to load an increment
                r.outdated = true;
                r.status.increment = None;
                Some((e.key, r))
            })
            .collect();
        let shown = selected
            .as_ref()
            .and_then(|k| match self.details.metadata.remove(k) {
                Some(Load::Ready(Some(mut p))) => {
                    p.fetching = None;
                    Some(p)
                }
                _ => None,
            });
        self.details.metadata.clear();
        self.details.read_in_flight = None;
        self.details.inc_filtered.clear();
        self.details.increments.outdate();
        self.history = HistoryState::default();
        self.features.reselect = selected.clone();
        let cmds = self.on_opened(Ok(ws));
        for e in &mut self.features.entries {
            if e.report.is_none() {
                e.report = old_reports.remove(&e.key);
            }
        }
        if let (Some(k), Some(p)) = (selected, shown) {
            if matches!(self.details.metadata.get(&k), Some(Load::Loading)) {
                self.details.metadata.insert(k, Load::Ready(Some(p)));
            }
        }
        cmds
    }

    /// Handles a background result that failed only because the store was busy with another process's write:
    /// no popup, no error status; the old content stays and a refresh is retried at the next poll. Returns the
    /// result untouched when it is anything else.
    pub(crate) fn absorb_busy(&mut self, result: JobResult) -> Option<JobResult> {
        fn busy<T>(r: &Result<T, String>) -> bool {
            matches!(r, Err(e) if is_busy_message(e))
        }
        match result {
            JobResult::Metadata { key, result, .. } if busy(&result) => {
                if matches!(self.details.metadata.get(&key), Some(Load::Loading)) {
                    self.details.metadata.remove(&key);
                }
                if self.details.read_in_flight.as_ref() == Some(&key) {
                    self.details.read_in_flight = None;
                }
            }
            JobResult::Page { key, result, .. } if busy(&result) => {
                if let Some(Load::Ready(Some(p))) = self.details.metadata.get_mut(&key) {
                    p.fetching = None;
                }
            }
            JobResult::RowCount { key, result, .. } if busy(&result) => {
                if let Some(Load::Ready(Some(p))) = self.details.metadata.get_mut(&key) {
                    p.table.counting = false;
                }
            }
            JobResult::IncrementLoaded { key, result } if busy(&result) => {
                self.details.increments.abandon(&key);
            }
            JobResult::Status { report }
                if report
                    .status
                    .error_message
                    .as_deref()
                    .is_some_and(is_busy_message) => {}
            JobResult::Opened { result } if busy(&result) && !self.live.refreshing => {}
            other => return Some(other),
        }
        self.live.retry = true;
        None
    }
}
