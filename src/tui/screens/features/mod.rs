//! The features screen's left pane: every feature of the pushed graph with its status, the `/` filter and the
//! selection. Keys in [`keys`], painting in [`draw`].

pub mod draw;
pub mod keys;

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Rows moved by PgUp / PgDn in the feature list.
pub(crate) const LIST_PAGE: usize = 10;
/// State of the features screen's left pane: the feature list, its filter and the selection.
#[derive(Default)]
pub struct FeaturesScreen {
    /// Features of `ws.graph.features`, in graph order, with their statuses.
    pub entries: Vec<FeatureEntry>,
    /// Selected feature index (into `entries`). While any feature is visible, it is one of them.
    pub selected: usize,
    /// The feature-list filter (`/`): a fuzzy query on feature keys; empty for none.
    pub filter: String,
    /// The filter being typed (`Some` while the one-line input has the keyboard).
    pub filter_input: Option<TextArea<'static>>,
    /// The lines of the feature list in display order: the features matching [`FeaturesScreen::filter`].
    pub visible: Vec<VisibleFeature>,
    /// First visible line of the feature list (maintained by draw).
    pub list_offset: StdCell<usize>,
    /// Focused pane.
    pub focus: Focus,
    /// Feature to reselect after a reload.
    pub(crate) reselect: Option<FeatureKey>,
    /// The status computation was cancelled with Esc (features without a status stay unknown until `r`).
    pub statuses_cancelled: bool,
    /// `ws.graph.mismatches().len()` of the opened workspace (stored vs recomputed versions).
    pub mismatches: usize,
}
/// Which pane receives movement keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    /// The feature list (left).
    #[default]
    List,
    /// The table of the current tab (right).
    Details,
}
/// One line of the feature list.
#[derive(Debug, Clone)]
pub struct FeatureEntry {
    /// Feature key.
    pub key: FeatureKey,
    /// Computed status (`None` while computing).
    pub report: Option<Box<StatusReport>>,
}
/// One line of the (possibly filtered) feature list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleFeature {
    /// Index into [`App::features`].
    pub index: usize,
    /// Character positions of the feature key matched by the filter (empty without a filter).
    pub matched: Vec<usize>,
}
/// The features matching `query` by fuzzy match on the key (skim's algorithm, smart case): best score first, ties
/// in graph order, with the matched character positions. An empty query keeps every feature in graph order.
pub fn filter_features(features: &[FeatureEntry], query: &str) -> Vec<VisibleFeature> {
    if query.is_empty() {
        return (0..features.len())
            .map(|index| VisibleFeature {
                index,
                matched: vec![],
            })
            .collect();
    }
    let matcher = SkimMatcherV2::default();
    let mut scored: Vec<(i64, VisibleFeature)> = features
        .iter()
        .enumerate()
        .filter_map(|(index, f)| {
            let (score, matched) = matcher.fuzzy_indices(&f.key.to_string(), query)?;
            Some((score, VisibleFeature { index, matched }))
        })
        .collect();
    // stable: equal scores keep graph order
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.into_iter().map(|(_, v)| v).collect()
}
