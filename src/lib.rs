//! metaxy-tui: a terminal UI and headless CLI for Metaxy metadata stores.
//!
//! * [`engine`]: config, stores, feature graph, reads, increments: byte-compatible with Metaxy 0.1.11.
pub mod cli;
pub mod engine;
pub mod tui;
