//! `config print`: the resolved Metaxy configuration, as Metaxy's `config print` prints it.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{Cli, ConfigCommand, ConfigFormat};
use crate::cli::context::load_config;
use crate::cli::output::out;
use crate::cli::output::toml::dumps;

/// Runs a `config ...` command.
pub fn run(cli: &Cli, cmd: &ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Print { format } => config_print(cli, *format),
    }
}

/// `config print`: Metaxy's `config print` (TOML like `tomli_w`, or the JSON of `--format json`).
fn config_print(cli: &Cli, format: ConfigFormat) -> Result<ExitCode> {
    let (config, _) = load_config(cli)?;
    match format {
        ConfigFormat::Json => out(&config.to_print_json_string())?,
        ConfigFormat::Toml => out(&dumps(&config.to_print_json()))?,
    }
    Ok(ExitCode::SUCCESS)
}
