//! `metaxy-tui`: with a command, headless mode (see `metaxy-tui --help`); without one, the terminal UI.

use std::process::ExitCode;

use clap::Parser;
use metaxy_tui::cli::{Cli, Command};
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};

fn main() -> ExitCode {
    let _t = metaxy_tui::engine::timing::span(|| "process".into());
    // Metaxy's CLI loads `.env` from the working directory before parsing arguments.
    if let Ok(cwd) = std::env::current_dir() {
        let _ = dotenvy::from_path(cwd.join(".env"));
    }
    let cli = Cli::parse();
    match &cli.command {
        None | Some(Command::Demo) => {
            let mut opts = OpenOptions::from_process();
            opts.config_file = cli.config_file.clone();
            opts.store = cli.store.clone();
            opts.snapshot = cli.snapshot.clone();
            let demo =
                matches!(cli.command, Some(Command::Demo)) || !Workspace::config_exists(&opts);
            match metaxy_tui::tui::settings::Settings::load(cli.tui_config.as_deref()) {
                Ok(s) => metaxy_tui::tui::settings::install(s),
                Err(e) => {
                    eprintln!("error: TUI settings: {e}");
                    return ExitCode::from(1);
                }
            }
            match metaxy_tui::tui::run(metaxy_tui::tui::OpenRequest { opts, demo }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Some(_) => metaxy_tui::cli::execute(&cli),
    }
}
