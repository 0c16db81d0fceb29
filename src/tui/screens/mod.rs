//! The top-level screens: each a folder with its state (`mod.rs`), its keys (`keys.rs`) and its painting
//! (`draw.rs`).

pub mod details;
pub mod features;
pub mod graph;
pub mod history;
pub mod lookup;
pub mod sql;
pub mod stores;

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// The top-level screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Feature list and the selected feature's tables.
    Features,
    /// The feature graph drawing (`v`).
    Graph,
    /// Pushed project versions and the graph diff between two of them (`H`).
    History,
    /// Every configured store, whether it can be opened; Enter opens one (`S`).
    Stores,
    /// The SQL console over the open store (`Q`, `:sql`).
    Sql,
    /// Where samples are in every feature (`L`).
    Lookup,
}
