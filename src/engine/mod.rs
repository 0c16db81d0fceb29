//! The engine: everything that reads and computes Metaxy metadata. It knows nothing of the terminal UI or of
//! argument parsing; the TUI (`crate::tui`) and the headless CLI (`crate::cli`) both call into it.
//!
//! Layers, each importing only the ones above it (checked by `tests/it/architecture.rs`):
//! * foundations: [`error`], [`keys`], [`schema`] (column names), [`hashing`], [`frame`], [`timing`], [`fault`],
//!   [`rt`], and [`config`] (`metaxy.toml` / `pyproject.toml`);
//! * [`graph`]: the feature graph, its diff, description and snapshots;
//! * [`store`]: the [`store::MetadataStore`] contract, the backend registry and one folder per backend;
//! * [`query`]: Metaxy's read semantics, keyset pages, JSON cells;
//! * [`versioning`]: increments (`resolve_update`), their causes, statuses, counts and samples;
//! * [`ops`]: writes and mutations (delete, rebase, copy, write);
//! * [`workspace`]: a project opened once (config, graph, stores) for the CLI and the TUI;
//! * [`view`] and [`sql`]: reads the TUI and the CLI share, and SQL over a store (top layer).

pub mod config;
pub mod error;
pub mod fault;
pub mod frame;
pub mod graph;
pub mod hashing;
pub mod json;
pub mod keys;
pub mod ops;
pub mod query;
pub mod rt;
pub mod schema;
pub mod sql;
pub mod store;
pub mod timing;
pub mod versioning;
pub mod view;
pub mod workspace;
