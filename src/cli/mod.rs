//! Headless mode: `metaxy-tui <command> ...`. Command names and flags mirror Metaxy's CLI (`metaxy list features`,
//! `metaxy metadata status`, ...) and every command calls the same engine functions as the TUI.
//!
//! Conventions: data on stdout, messages on stderr; exit code 0 = ok, 1 = error (or `--assert-in-sync` found work),
//! 2 = usage error (clap).
//!
//! Layout (each layer imports only the ones above it):
//! - `args`: the clap definitions;
//! - `output`: stdout/stderr writers, tables, graph renderers and the TOML writer;
//! - `context`: opening the workspace or config and selecting features for a command;
//! - `commands`: one module per command group, each mapping its subcommands onto engine calls.

mod args;
mod commands;
mod context;
mod output;

pub use args::*;
pub use commands::execute;
