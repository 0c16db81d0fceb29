//! metaxy-tui: a terminal UI and headless CLI for Metaxy metadata stores.
//!
//! * [`engine`]: config, stores, feature graph, reads, increments: byte-compatible with Metaxy 0.1.11.

/// The Metaxy release whose stores, hashes and semantics this build reproduces (FORMAT.md is verified against it).
pub const METAXY_COMPAT_VERSION: &str = "0.1.11";

/// What `metaxy-tui --version` prints after the program name: this crate's version and the Metaxy version it is
/// compatible with, e.g. `0.1.0 (compatible with Metaxy 0.1.11)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (compatible with Metaxy 0.1.11)"
);

pub mod cli;
pub mod engine;
pub mod tui;
