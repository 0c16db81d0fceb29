//! The stores screen (`S`): every configured store, whether it can be opened; Enter opens one. Keys in
//! [`keys`], painting in [`draw`].

pub mod draw;
pub mod keys;

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// State of the stores screen.
#[derive(Debug, Default)]
pub struct StoresScreen {
    /// Cursor in the list.
    pub cursor: usize,
    /// Whether each configured store can be opened (by name): `Ready(what it holds)` or `Failed(why not)`.
    pub probes: HashMap<String, Load<String>>,
    /// The store picked here (opened instead of the configured default from then on).
    pub picked: Option<String>,
}
/// One line of the stores screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRow {
    /// Store name.
    pub name: String,
    /// The config's default store.
    pub is_default: bool,
    /// Backend (`DuckDBMetadataStore`), or the configured class name of an unsupported type.
    pub kind: String,
    /// Location as configured (DuckDB `database`, Delta `root_path`, LanceDB `uri`).
    pub location: String,
    /// Hash algorithm.
    pub hash: String,
    /// Fallback stores.
    pub fallbacks: Vec<String>,
    /// Whether metaxy-tui can open this type.
    pub supported: bool,
}
