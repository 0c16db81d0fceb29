//! `metadata ...`: one module per subcommand. Reads (`status`, `increment`, `read`, `lookup`) call the workspace's
//! engine queries; mutations (`write`, `delete`, `drop`, `rebase`, `copy`) plan first with the engine's `plan_*` (which only
//! reads), print the plan for `--dry-run`, and otherwise execute it. [`run`] turns the parsed options into the
//! engine's request types and calls the subcommand's module.

mod copy;
mod delete;
mod drop;
mod increment;
mod lookup;
mod read;
mod rebase;
mod status;
mod write;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{Cli, MetadataCommand};
use crate::cli::context::{open, open_store_named, select, select_for_write};
use crate::engine::ops::mutate::{CopyRequest, DeleteRequest};
use crate::engine::query::read::ReadOptions;

/// Runs a `metadata ...` command.
pub fn run(cli: &Cli, cmd: &MetadataCommand) -> Result<ExitCode> {
    match cmd {
        MetadataCommand::Status {
            selector,
            filters,
            snapshot,
            assert_in_sync,
            format,
        } => {
            let ws = open(cli, snapshot.clone())?;
            status::run(
                &ws,
                &select(&ws, selector)?,
                filters,
                ws.snapshot.as_deref(),
                *assert_in_sync,
                *format,
            )
        }
        MetadataCommand::Increment {
            feature,
            filters,
            limit,
            no_causes,
            samples,
            format,
        } => {
            let ws = open(cli, None)?;
            let mut opts = filters.resolve_options();
            if let Some(path) = samples {
                opts.samples = Some(crate::engine::versioning::samples::load_samples(path)?);
            }
            increment::run(&ws, feature, &opts, *limit, !*no_causes, *format)
        }
        MetadataCommand::Read {
            feature,
            filters,
            with_feature_history,
            with_sample_history,
            include_soft_deleted,
            limit,
            format,
        } => {
            let ws = open(cli, None)?;
            let opts = ReadOptions {
                with_feature_history: *with_feature_history,
                with_sample_history: *with_sample_history,
                include_soft_deleted: *include_soft_deleted,
                feature_version: None,
                unsorted: false,
                filters: filters.clone(),
                columns: Default::default(),
            };
            read::run(&ws, feature, &opts, *limit, *format)
        }
        MetadataCommand::Lookup {
            ids,
            with_sample_history,
            format,
        } => lookup::run(&open(cli, None)?, ids, *with_sample_history, *format),
        MetadataCommand::Write {
            feature,
            input,
            materialization_id,
            dry_run,
            format,
        } => write::run(
            &open(cli, None)?,
            feature,
            input,
            materialization_id.clone(),
            *dry_run,
            *format,
        ),
        MetadataCommand::Delete {
            selector,
            filters,
            soft: _,
            hard,
            with_feature_history,
            with_sample_history,
            cascade,
            dry_run,
            yes,
            limit,
            format,
        } => {
            let ws = open(cli, None)?;
            let req = DeleteRequest {
                features: select_for_write(&ws, selector)?,
                filters: filters.clone(),
                hard: *hard,
                with_feature_history: *with_feature_history,
                with_sample_history: *with_sample_history,
                cascade: *cascade,
            };
            delete::run(&ws, &req, *dry_run, *yes, *limit, *format)
        }
        MetadataCommand::Drop {
            features,
            yes,
            dry_run,
            format,
        } => {
            let ws = open(cli, None)?;
            let keys = features
                .iter()
                .map(|k| crate::engine::keys::FeatureKey::parse(k))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            drop::run(&ws, &keys, *dry_run, *yes, *format)
        }
        MetadataCommand::Rebase {
            feature,
            from_version,
            to_version,
            dry_run,
            format,
        } => rebase::run(
            &open(cli, None)?,
            feature,
            from_version,
            to_version.as_deref(),
            *dry_run,
            *format,
        ),
        MetadataCommand::Copy {
            selector,
            from_store,
            to_store,
            filters,
            with_feature_history: _,
            no_with_feature_history,
            with_sample_history,
            dry_run,
            format,
        } => {
            let ws = open_store_named(cli, from_store)?;
            let req = CopyRequest {
                features: Some(select_for_write(&ws, selector)?),
                filters: filters.clone(),
                with_feature_history: !*no_with_feature_history,
                with_sample_history: *with_sample_history,
            };
            copy::run(&ws, to_store, &req, *dry_run, *format)
        }
    }
}
