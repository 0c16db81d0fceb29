//! The integration test binary (one binary links the dependency graph once): engine conformance against Metaxy
//! fixtures, hash vectors, the real CLI binary, and the TUI end to end in tmux.

// unwrap is allowed here: test helpers outside #[test] fns (fixtures, tmux, CLI runs) panic on failure by design.
#![allow(clippy::unwrap_used)]

mod architecture;
mod causes;
mod cli;
mod cli_mutations;
mod common;
mod conformance;
mod drop;
mod fallback;
mod faults;
mod hashing;
mod iceberg_rest;
mod locking;
mod lookup;
mod mutations;
mod pages;
mod pg_tls;
mod pushdown;
mod robustness;
mod roundtrip;
mod s3;
mod samples;
mod sql;
mod tui_e2e;
