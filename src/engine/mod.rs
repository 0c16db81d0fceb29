//! The engine: everything that reads and computes Metaxy metadata. It knows nothing of the terminal UI or of
//! argument parsing; the TUI (`crate::tui`) and the headless CLI (`crate::cli`) both call into it.

pub mod cause;
pub mod config;
pub mod counts;
pub mod delta;
pub mod describe;
pub mod duck_udf;
pub mod error;
pub mod fault;
pub mod frame;
pub mod graph;
pub mod graph_diff;
pub mod hashing;
pub mod json;
pub mod keys;
pub mod lance;
pub mod mutate;
pub mod page;
pub mod read;
pub mod resolve;
pub mod rt;
pub mod samples;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod timing;
pub mod view_ops;
pub mod workspace;
pub mod write;
