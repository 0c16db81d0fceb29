//! The history screen (`H`): pushed project versions, the graph diff between two of them, rows stored per
//! feature version, and `R` (rebase the selected feature from the cursor's version). Keys in [`keys`], painting
//! in [`draw`].

pub mod draw;
pub mod keys;

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// State of the history screen.
#[derive(Debug, Clone, Default)]
pub struct HistoryState {
    /// Cursor in the snapshot list (newest first).
    pub cursor: usize,
    /// The base version marked with `x` (the diff is base → cursor; without a mark, the version before the
    /// cursor's → cursor's).
    pub base: Option<String>,
    /// The diff shown, recomputed when the cursor or the base changes.
    pub diff: Option<Result<crate::engine::graph::diff::GraphDiff, String>>,
    /// First line of the diff pane shown.
    pub scroll: usize,
    /// Stored rows per feature and feature version (`None` while counting).
    pub rows: Option<HashMap<String, Vec<(String, usize)>>>,
}
/// What `R` on the history screen does for the selected feature at the cursor's project version (also shown on
/// that screen before the key is pressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryRebase {
    /// A root feature: nothing to rebase (Metaxy refuses).
    Root(FeatureKey),
    /// The feature is not part of the cursor's project version.
    Absent {
        /// The feature.
        key: FeatureKey,
        /// The cursor's project version.
        project_version: String,
    },
    /// The feature has its current feature version in the cursor's project version: nothing to rebase.
    Current {
        /// The feature.
        key: FeatureKey,
        /// Its (current) feature version.
        version: String,
    },
    /// Rebase `key` from `from` (its stored feature version in the cursor's project version) to `current`.
    From {
        /// The feature.
        key: FeatureKey,
        /// Source feature version.
        from: String,
        /// Current (target) feature version.
        current: String,
        /// The cursor's project version.
        project_version: String,
    },
}
