//! Crash points for crash-consistency tests: when the environment variable `METAXY_TUI_FAILPOINT` names a point,
//! the process aborts there, exactly as a `kill -9` at that moment would (no unwinding, no cleanup). Points sit
//! where a write has put data on disk but not yet committed it:
//!
//! - `duckdb.before_commit`: rows inserted inside the open DuckDB transaction;
//! - `delta.before_commit`: new Parquet data files written, Delta log entry not yet written;
//! - `lance.before_commit`: new Lance data files (append) or deletion files (delete) written, the manifest of the
//!   new table version not yet written;
//! - `clickhouse.before_commit`: a ClickHouse write about to send its one `INSERT` / `DELETE` / `TRUNCATE` (the
//!   new table of a first write may already exist, empty);
//! - `write.between_features`: a multi-feature mutation after its first feature's commit.
//!
//! Unset (always, outside tests) this is one environment lookup per write.

/// Aborts the process when `METAXY_TUI_FAILPOINT` equals `name`.
pub fn point(name: &str) {
    if std::env::var_os("METAXY_TUI_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("metaxy-tui: failpoint {name} reached, aborting");
        std::process::abort();
    }
}
