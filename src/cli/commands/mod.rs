//! Command handlers: one module per command group. [`execute`] routes a parsed [`Cli`] to its handler; each handler
//! maps its subcommand onto engine calls and renders plain or JSON output.

mod config;
mod describe;
mod graph;
mod history;
mod list;
mod metadata;
mod sql;

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::args::{Cli, Command};

/// Runs a headless command and returns the process exit code (0 ok, 1 error or out of sync).
pub fn execute(cli: &Cli) -> ExitCode {
    match execute_inner(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Routes the command to its group's handler; errors become exit code 1 in [`execute`].
fn execute_inner(cli: &Cli) -> Result<ExitCode> {
    let Some(cmd) = &cli.command else {
        bail!("no command given")
    };
    match cmd {
        Command::Demo => bail!("`demo` opens the TUI; run it in a terminal"),
        Command::List(c) => list::run(cli, c),
        Command::Describe(c) => describe::run(cli, c),
        Command::Graph(c) => graph::render(cli, c),
        Command::GraphDiff(c) => graph::diff(cli, c),
        Command::History { limit, format } => history::run(cli, *limit, *format),
        Command::Config(c) => config::run(cli, c),
        Command::Metadata(c) => metadata::run(cli, c),
        Command::Sql {
            query,
            format,
            output,
            limit,
        } => sql::run(cli, query, *format, output.as_deref(), *limit),
    }
}
