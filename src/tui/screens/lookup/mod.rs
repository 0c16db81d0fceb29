//! The lookup screen (`L`): where the looked-up samples are in every feature of the graph (the engine's
//! [`crate::engine::versioning::lookup`]), one line per feature and sample with its state; Enter shows the row,
//! `d` / `R` start the delete / rebase dialogs on it. Keys in [`keys`], painting in [`draw`].

pub mod draw;
pub mod keys;

#[allow(unused_imports)]
use crate::tui::prelude::*;

use crate::engine::store::filter::IdFilter;
use crate::engine::versioning::lookup::Lookup;

/// State of the lookup screen.
#[derive(Debug, Default)]
pub struct LookupScreen {
    /// The samples looked up (`None` before the first lookup).
    pub ids: Option<IdFilter>,
    /// The lookup, computed in the background.
    pub result: Option<Load<Arc<Lookup>>>,
    /// Cursor among [`lookup_lines`].
    pub cursor: usize,
    /// First line shown (written by draw).
    pub offset: StdCell<usize>,
    /// The screen Esc returns to.
    pub back: Option<Screen>,
}

/// One line of the lookup screen: a feature and one of its samples (`None`: the feature has none, it shares no
/// id column with the samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLine {
    /// Index in [`Lookup::features`].
    pub feature: usize,
    /// Index in that feature's samples.
    pub sample: Option<usize>,
}

/// The lines of the lookup screen, in topological feature order, every sample of a feature one after the other.
pub fn lookup_lines(l: &Lookup) -> Vec<LookupLine> {
    let mut out = vec![];
    for (fi, f) in l.features.iter().enumerate() {
        if f.samples.is_empty() {
            out.push(LookupLine {
                feature: fi,
                sample: None,
            });
        }
        for si in 0..f.samples.len() {
            out.push(LookupLine {
                feature: fi,
                sample: Some(si),
            });
        }
    }
    out
}

/// The samples as people type them: `sample_uid=s000010` (composite ids joined by `,`, samples by a space).
pub fn ids_text(ids: &IdFilter) -> String {
    ids.rows
        .iter()
        .map(|r| {
            ids.columns
                .iter()
                .zip(r)
                .map(|(c, v)| format!("{c}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
