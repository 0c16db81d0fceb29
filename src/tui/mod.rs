//! The terminal UI: a k9s / gitui-style browser of a Metaxy metadata store.
//!
//! Left: every feature of the pushed graph with its metadata status (as `metaxy metadata status` computes it:
//! `○ root`, `✓ up to date`, `⚠ N new · S stale · O orphaned`, `✗ missing`, `! error`; `/` filters it by fuzzy
//! match on the key). Right: the selected feature's default read (`Metadata` tab) and its increment (`New`, `Stale`
//! with per-field provenance diffs, `Orphaned`). Bottom: the store, project version, hash algorithm and warnings.
//!
//! Architecture (Elm-style, like csvlens / gitui / television): [`app::App`] holds all state, [`msg::Msg`]
//! describes everything that happens, the pure [`app::update`] applies a message and returns [`msg::Command`]s
//! (slow work), [`draw`] paints an `&App`. The runtime runs commands on tokio blocking tasks, which report back
//! through a channel, so opening the store, computing statuses and reading tables never block drawing.

pub mod app;
pub mod dialogs;
pub mod draw;
pub mod live;
pub mod msg;
mod prelude;
mod runtime;
pub mod screens;
pub mod settings;
pub mod tasks;
pub mod view;
pub mod widgets;

#[cfg(test)]
mod tests;

use crate::engine::workspace::OpenOptions;

pub use app::{update, App, Tab};
pub use dialogs::help::HELP;
pub use draw::draw;
pub use msg::{Command, JobResult, Msg};
pub use runtime::{run_to_idle, source_label};
pub use tasks::{execute, open_workspace, CancelToken, Job};

/// What the TUI should open.
#[derive(Debug, Clone, Default)]
pub struct OpenRequest {
    /// Config discovery, store selection, snapshot, working directory and environment (as for every CLI command).
    pub opts: OpenOptions,
    /// Open the embedded demo store (`Workspace::open_demo`, with `opts.snapshot`) instead of a configured one.
    pub demo: bool,
}

/// Runs the TUI until the user quits (`q` / Ctrl-C).
///
/// Sets up the terminal (raw mode, alternate screen) and always restores it: on return, on error, and on a panic
/// of the UI thread (a panic hook restores the terminal before the previous hook prints). The workspace is opened
/// on a background task; failing to open it (no config, store missing, corrupt table, no pushed graph) is shown on
/// screen, not returned. Returns `Err` only for terminal I/O failures (e.g. stdout is not a terminal).
///
/// May be called from inside a tokio runtime (it then runs on a thread of its own).
pub fn run(req: OpenRequest) -> anyhow::Result<()> {
    runtime::run(req)
}
