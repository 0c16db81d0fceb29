//! Resolving a user's reference to a pushed feature graph: `current`, `latest`, a full project version or an
//! abbreviated one (a unique prefix, like a short git hash). Used by `graph-diff`, `graph render --snapshot` and
//! `describe graph --snapshot`; [`crate::engine::workspace::Workspace::graph_at`] turns the result into a graph.

use crate::engine::error::EngineError;
use crate::engine::graph::Snapshot;

/// The literal that names the current graph (Metaxy: the graph defined in code; here: the newest pushed project
/// version, since the store is all this program reads).
pub const CURRENT: &str = "current";

/// The literal that names the most recently pushed project version (Metaxy's `latest`).
pub const LATEST: &str = "latest";

/// What a snapshot reference denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRef {
    /// The current graph ([`CURRENT`]).
    Current,
    /// A pushed project version, spelled out in full.
    Version(String),
}

/// Errors of [`resolve_reference`] and [`crate::engine::workspace::Workspace::graph_at`].
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// `latest` was asked for but nothing was ever pushed.
    #[error(
        "no project version has been pushed to this store yet, so `latest` cannot be resolved"
    )]
    NoSnapshots,
    /// The reference matches no pushed project version.
    #[error(
        "unknown project version {reference:?}; pushed project versions (newest first): {known}"
    )]
    Unknown {
        /// The reference as given.
        reference: String,
        /// The pushed project versions, comma-separated (or `none`).
        known: String,
    },
    /// The reference is a prefix of several pushed project versions.
    #[error("project version prefix {reference:?} is ambiguous: it matches {candidates}")]
    Ambiguous {
        /// The reference as given.
        reference: String,
        /// The matching project versions, comma-separated.
        candidates: String,
    },
    /// Loading the graph of the resolved version failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Resolves `reference` against `history` (pushed project versions, newest first, as
/// [`crate::engine::graph::snapshots`] returns them).
///
/// * `current` → [`SnapshotRef::Current`];
/// * `latest` → the newest pushed project version ([`SnapshotError::NoSnapshots`] if none);
/// * a full project version → itself;
/// * otherwise a case-insensitive prefix that matches exactly one pushed project version → that version
///   ([`SnapshotError::Ambiguous`] for several, [`SnapshotError::Unknown`] for none or an empty reference).
pub fn resolve_reference(
    reference: &str,
    history: &[Snapshot],
) -> Result<SnapshotRef, SnapshotError> {
    let reference = reference.trim();
    if reference == CURRENT {
        return Ok(SnapshotRef::Current);
    }
    if reference == LATEST {
        return history
            .first()
            .map(|s| SnapshotRef::Version(s.project_version.clone()))
            .ok_or(SnapshotError::NoSnapshots);
    }
    if let Some(s) = history.iter().find(|s| s.project_version == reference) {
        return Ok(SnapshotRef::Version(s.project_version.clone()));
    }
    let wanted = reference.to_lowercase();
    let matches: Vec<&str> = if wanted.is_empty() {
        vec![]
    } else {
        history
            .iter()
            .map(|s| s.project_version.as_str())
            .filter(|pv| pv.to_lowercase().starts_with(&wanted))
            .collect()
    };
    match matches.as_slice() {
        [one] => Ok(SnapshotRef::Version(one.to_string())),
        [] => Err(SnapshotError::Unknown {
            reference: reference.to_string(),
            known: if history.is_empty() {
                "none".to_string()
            } else {
                history
                    .iter()
                    .map(|s| s.project_version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
        many => Err(SnapshotError::Ambiguous {
            reference: reference.to_string(),
            candidates: many.join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(versions: &[&str]) -> Vec<Snapshot> {
        versions
            .iter()
            .enumerate()
            .map(|(i, v)| Snapshot {
                project_version: v.to_string(),
                recorded_at: String::new(),
                recorded_at_us: 100 - i as i64,
                feature_count: 1,
            })
            .collect()
    }

    #[test]
    fn literals_full_versions_and_unique_prefixes_resolve() {
        let h = history(&["f513ad86", "bc37caf4", "bc99aaaa"]);
        assert_eq!(
            resolve_reference("current", &h).unwrap(),
            SnapshotRef::Current
        );
        assert_eq!(
            resolve_reference("latest", &h).unwrap(),
            SnapshotRef::Version("f513ad86".into())
        );
        assert_eq!(
            resolve_reference("bc37caf4", &h).unwrap(),
            SnapshotRef::Version("bc37caf4".into())
        );
        assert_eq!(
            resolve_reference("F5", &h).unwrap(),
            SnapshotRef::Version("f513ad86".into())
        );
        assert_eq!(
            resolve_reference("bc37", &h).unwrap(),
            SnapshotRef::Version("bc37caf4".into())
        );
    }

    #[test]
    fn ambiguous_unknown_and_empty_references_fail() {
        let h = history(&["f513ad86", "bc37caf4", "bc99aaaa"]);
        match resolve_reference("bc", &h) {
            Err(SnapshotError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, "bc37caf4, bc99aaaa")
            }
            other => panic!("{other:?}"),
        }
        match resolve_reference("deadbeef", &h) {
            Err(SnapshotError::Unknown { known, .. }) => {
                assert_eq!(known, "f513ad86, bc37caf4, bc99aaaa")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve_reference("", &h),
            Err(SnapshotError::Unknown { .. })
        ));
        assert!(matches!(
            resolve_reference("latest", &[]),
            Err(SnapshotError::NoSnapshots)
        ));
    }

    #[test]
    fn a_full_version_wins_over_longer_versions_it_prefixes() {
        let h = history(&["abc", "abcd"]);
        assert_eq!(
            resolve_reference("abc", &h).unwrap(),
            SnapshotRef::Version("abc".into())
        );
    }
}
