//! The increments of the details pane's New / Stale / Orphaned tabs, loaded on demand: the status job only
//! counts ([`crate::tui::tasks`] `ComputeStatuses`), and the selected feature's increment (frames, rendered
//! tables, stale causes) is loaded by one background job at a time (`Job::LoadIncrement`). The last
//! [`KEPT_INCREMENTS`] loaded increments are kept; older ones are dropped. A live refresh marks them outdated:
//! still shown, loaded again when their feature is selected.

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::tui::view::LoadedIncrement;

/// How many loaded increments are kept (the most recently selected features).
pub const KEPT_INCREMENTS: usize = 4;

/// The loaded (or loading) increments, most recently selected last.
#[derive(Debug, Default)]
pub struct Increments {
    /// Per feature, most recently used last; at most [`KEPT_INCREMENTS`] (plus the one in flight).
    entries: Vec<(FeatureKey, Load<Box<LoadedIncrement>>)>,
    /// Features whose entry was loaded before the last live refresh: shown until loaded again.
    outdated: BTreeSet<String>,
    /// The feature whose load is running (at most one at a time; the latest selection wins).
    pub in_flight: Option<FeatureKey>,
}

impl Increments {
    /// The entry of `key`, if it is kept.
    pub fn get(&self, key: &FeatureKey) -> Option<&Load<Box<LoadedIncrement>>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, l)| l)
    }

    /// The loaded increment of `key`, if it is loaded (possibly outdated).
    pub fn ready(&self, key: &FeatureKey) -> Option<&LoadedIncrement> {
        match self.get(key)? {
            Load::Ready(l) => Some(l),
            _ => None,
        }
    }

    /// The loaded increment of `key` when it was loaded after the last refresh.
    pub fn current(&self, key: &FeatureKey) -> Option<&LoadedIncrement> {
        self.ready(key).filter(|_| !self.is_outdated(key))
    }

    /// Whether the entry of `key` predates the last live refresh.
    pub fn is_outdated(&self, key: &FeatureKey) -> bool {
        self.outdated.contains(&key.to_string())
    }

    /// The kept features, least recently used first.
    pub fn keys(&self) -> Vec<&FeatureKey> {
        self.entries.iter().map(|(k, _)| k).collect()
    }

    /// Drops everything (a reload: the store may have changed).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// A live refresh: a running load's result will be dropped (older generation), loaded entries stay shown
    /// but are outdated.
    pub fn outdate(&mut self) {
        if let Some(k) = self.in_flight.take() {
            self.entries
                .retain(|(e, l)| e != &k || !matches!(l, Load::Loading));
        }
        self.outdated = self.entries.iter().map(|(k, _)| k.to_string()).collect();
    }

    /// Marks `key` most recently used.
    fn touch(&mut self, key: &FeatureKey) {
        if let Some(i) = self.entries.iter().position(|(k, _)| k == key) {
            let e = self.entries.remove(i);
            self.entries.push(e);
        }
    }

    /// Records that the load of `key` starts: a new entry shows the loading state, an outdated one stays shown.
    fn begin(&mut self, key: FeatureKey) {
        if self.get(&key).is_none() {
            self.entries.push((key.clone(), Load::Loading));
        }
        self.touch(&key);
        self.in_flight = Some(key);
        self.evict();
    }

    /// Drops the least recently used entries beyond [`KEPT_INCREMENTS`] (never the one in flight).
    fn evict(&mut self) {
        while self.entries.len() > KEPT_INCREMENTS {
            let Some(i) = self
                .entries
                .iter()
                .position(|(k, _)| Some(k) != self.in_flight.as_ref())
            else {
                return;
            };
            let (k, _) = self.entries.remove(i);
            self.outdated.remove(&k.to_string());
        }
    }

    /// Applies a finished load; `false` when its entry was dropped meanwhile (the result is then ignored).
    fn finish(&mut self, key: &FeatureKey, result: Result<Box<LoadedIncrement>, String>) -> bool {
        if self.in_flight.as_ref() == Some(key) {
            self.in_flight = None;
        }
        let Some((_, l)) = self.entries.iter_mut().find(|(k, _)| k == key) else {
            return false;
        };
        *l = match result {
            Ok(i) => Load::Ready(i),
            Err(e) => Load::Failed(e),
        };
        self.outdated.remove(&key.to_string());
        true
    }

    /// A load of `key` that gave up on a busy store: forgotten (loaded again later), an outdated entry kept.
    pub(crate) fn abandon(&mut self, key: &FeatureKey) {
        if self.in_flight.as_ref() == Some(key) {
            self.in_flight = None;
        }
        self.entries
            .retain(|(k, l)| k != key || !matches!(l, Load::Loading));
    }
}

impl App {
    /// Starts loading the selected feature's increment when its status is known (and fresh), it has one (not a
    /// root feature, not an error) and it is not loaded yet (or outdated); one load at a time, none while a live
    /// refresh reopens the store; when it finishes the then-selected feature is considered again. An increment the status job already resolved is reused.
    pub(crate) fn want_increment(&mut self) -> Vec<Command> {
        // while a live refresh reopens the store, a load would read the old one: wait for the new statuses
        if self.details.increments.in_flight.is_some() || self.live.refreshing {
            return vec![];
        }
        let Some(ws) = self.workspace().cloned() else {
            return vec![];
        };
        let Some(e) = self.selected_entry() else {
            return vec![];
        };
        let Some(r) = e.report.as_ref().filter(|r| !r.outdated) else {
            return vec![];
        };
        if r.status.missing.is_none() {
            return vec![];
        }
        let key = e.key.clone();
        let seed = r.status.increment.clone().map(Box::new);
        let incs = &mut self.details.increments;
        if incs.get(&key).is_some() && !incs.is_outdated(&key) {
            incs.touch(&key);
            return vec![];
        }
        incs.begin(key.clone());
        vec![self.task(Job::LoadIncrement { ws, key, seed })]
    }

    /// A finished load: kept (unless dropped meanwhile), errors shown in place; then the next wanted load and
    /// the increment filter of the selected feature.
    pub(crate) fn on_increment_loaded(
        &mut self,
        key: FeatureKey,
        result: Result<Box<LoadedIncrement>, String>,
    ) -> Vec<Command> {
        if self.details.increments.finish(&key, result) {
            self.details.inc_filtered.remove(&key);
        }
        let mut cmds = self.want_increment();
        cmds.extend(self.want_inc_filter());
        cmds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> FeatureKey {
        FeatureKey::parse(s).unwrap()
    }

    /// Loads `key` to completion (a failure stands for any finished load).
    fn load(incs: &mut Increments, key: &str) {
        incs.begin(k(key));
        assert!(incs.finish(&k(key), Err("x".into())));
    }

    fn kept(incs: &Increments) -> Vec<String> {
        incs.keys().iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn the_least_recently_selected_is_evicted() {
        let mut incs = Increments::default();
        for f in ["a/1", "a/2", "a/3", "a/4"] {
            load(&mut incs, f);
        }
        incs.touch(&k("a/1"));
        load(&mut incs, "a/5");
        assert_eq!(kept(&incs), ["a/3", "a/4", "a/1", "a/5"]);
        assert_eq!(incs.entries.len(), KEPT_INCREMENTS);
    }

    #[test]
    fn a_result_for_a_dropped_entry_is_ignored_and_the_one_in_flight_is_never_evicted() {
        let mut incs = Increments::default();
        incs.begin(k("a/1"));
        for f in ["a/2", "a/3", "a/4", "a/5"] {
            incs.entries.push((k(f), Load::Failed("x".into())));
            incs.evict();
        }
        assert!(
            kept(&incs).contains(&"a/1".to_string()),
            "{:?}",
            kept(&incs)
        );
        assert_eq!(incs.entries.len(), KEPT_INCREMENTS);
        assert!(incs.finish(&k("a/1"), Err("done".into())));
        assert!(
            !incs.finish(&k("a/2"), Err("late".into())),
            "a/2 was evicted"
        );
        assert!(incs.get(&k("a/2")).is_none());
    }

    #[test]
    fn a_refresh_outdates_loaded_entries_and_drops_the_one_loading() {
        let mut incs = Increments::default();
        load(&mut incs, "a/1");
        incs.begin(k("a/2"));
        incs.outdate();
        assert!(incs.in_flight.is_none());
        assert_eq!(kept(&incs), ["a/1"]);
        assert!(incs.is_outdated(&k("a/1")));
        assert!(
            incs.ready(&k("a/1")).is_none(),
            "a failure, not a loaded increment"
        );
        // loading it again keeps the old entry shown until the result replaces it
        incs.begin(k("a/1"));
        assert!(matches!(incs.get(&k("a/1")), Some(Load::Failed(_))));
        assert!(incs.finish(&k("a/1"), Err("new".into())));
        assert!(!incs.is_outdated(&k("a/1")));
        incs.abandon(&k("a/1"));
        assert_eq!(kept(&incs), ["a/1"], "a finished entry is kept");
    }
}
