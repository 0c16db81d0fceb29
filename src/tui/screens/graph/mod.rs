//! The graph screen (`v`): the pushed feature graph drawn as a DAG ([`layout`]), nodes coloured by status,
//! prefixes collapsible. Keys in [`keys`], painting in [`draw`].

pub mod draw;
pub mod keys;
pub mod layout;

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// State of the graph screen.
#[derive(Debug, Default)]
pub struct GraphScreen {
    /// Scroll of the graph drawing (columns, rows; maintained by draw to keep the selection visible).
    pub scroll: StdCell<(usize, usize)>,
    /// Key prefixes collapsed into one node (`c` / `C`).
    pub collapsed: std::collections::BTreeSet<String>,
}
