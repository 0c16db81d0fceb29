//! The latest row per id of an Iceberg table read in two phases ("late materialisation",
//! [`MetadataStore::scan_latest`], shared half in [`crate::engine::store::late`]): first only the columns the
//! latest-row pick needs (the id columns, `metaxy_updated_at`, `metaxy_deleted_at`) of every live data file, then,
//! once the winners are known, the other columns only of the files holding at least one winner, taking the
//! winning rows. A table written in several generations (every sample written again in a later snapshot) thus
//! never decodes the wide columns of the files later generations supersede.
//!
//! The pick is the engine's own ([`keep_latest`]: the greatest `coalesce(metaxy_deleted_at, metaxy_updated_at)`
//! per id, the row stored last among equal timestamps, FORMAT.md §7.1) over the rows in the same append order as
//! the single-pass read (the feature-version predicate filters them in the reader in both phases alike), so the
//! winners, and their order, are exactly that read's.
//!
//! [`MetadataStore::scan_latest`]: crate::engine::store::MetadataStore::scan_latest

use std::sync::Arc;

use ::iceberg::table::Table;
use arrow::array::{RecordBatch, UInt32Array};
use arrow::datatypes::{Schema, SchemaRef};
use polars::prelude::DataFrame;

use super::read::ReadPlan;
use super::IcebergStore;
use crate::engine::error::Result;
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::{Columns, LatestScan};
use crate::engine::store::late::{self, LateStats};
use crate::engine::store::latest::keep_latest;

/// Whether the two-phase read can pay on `plan`: its files come from more than one append (distinct data
/// sequence numbers), so later generations may supersede whole files. A single generation keeps the one pass.
fn pays(plan: &ReadPlan) -> bool {
    let mut seqs = plan.files.iter().map(|f| f.sequence_number);
    let first = seqs.next();
    seqs.any(|s| Some(s) != first)
}

/// `schema` reduced to the named columns (table order).
fn only(schema: &SchemaRef, names: &[String]) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| names.contains(f.name()))
            .cloned()
            .collect::<Vec<_>>(),
    ))
}

impl IcebergStore {
    /// [`crate::engine::store::MetadataStore::scan_latest`] on a loaded table: the latest row per `id_columns` of
    /// the rows of `feature_version`, with the columns `columns` selects, in append order (the single-pass
    /// read's order). Read in two phases when [`pays`] (also what they read), else in one pass deduplicated by
    /// [`keep_latest`]. [`LatestScan::Unsupported`] when the table lacks an id column or both timestamp columns.
    /// Errors: [`crate::engine::error::EngineError::CorruptTable`] for a table the crate cannot plan or read.
    pub(super) async fn read_latest(
        &self,
        key: &FeatureKey,
        table: &Table,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<(LatestScan, Option<LateStats>)> {
        let plan = self.plan_read(key, table, feature_version, None).await?;
        let has = |c: &str| plan.schema.fields().iter().any(|f| f.name() == c);
        let Some(pick) = late::pick_columns(has, id_columns) else {
            return Ok((LatestScan::Unsupported, None));
        };
        let out_schema = columns.project_schema(&plan.schema);
        if !pays(&plan) {
            let all: Vec<usize> = (0..plan.files.len()).collect();
            let batches: Vec<RecordBatch> = self
                .read_files(key, &plan, &all, &out_schema)
                .await?
                .into_iter()
                .flatten()
                .collect();
            let df = record_batches_to_df(&out_schema, &batches)?;
            return Ok((LatestScan::Rows(keep_latest(df, id_columns)?), None));
        }
        let (df, stats) = self
            .read_late(key, &plan, &pick, &out_schema, id_columns)
            .await?;
        stats.note("iceberg", key);
        Ok((LatestScan::Rows(df), Some(stats)))
    }

    /// The two phases of [`IcebergStore::read_latest`] on `plan`: the `pick` columns of every file, the winners
    /// ([`late::winners`]), then the rest of `out_schema` from the files holding a winner.
    async fn read_late(
        &self,
        key: &FeatureKey,
        plan: &ReadPlan,
        pick: &[String],
        out_schema: &SchemaRef,
        id_columns: &[String],
    ) -> Result<(DataFrame, LateStats)> {
        let t = crate::engine::timing::span(|| format!("iceberg late phase 1 {key}"));
        let pick_schema = only(&plan.schema, pick);
        let all: Vec<usize> = (0..plan.files.len()).collect();
        let per_file = self.read_files(key, plan, &all, &pick_schema).await?;
        let rows: Vec<usize> = per_file
            .iter()
            .map(|bs| bs.iter().map(RecordBatch::num_rows).sum())
            .collect();
        let starts = late::starts(&rows);
        let batches: Vec<RecordBatch> = per_file.into_iter().flatten().collect();
        let first = record_batches_to_df(&pick_schema, &batches)?;
        drop(t);
        // the reader already filtered the feature version (the same predicate in both phases)
        let (won_rows, won) = late::winners(first, id_columns, None)?;
        let mut stats = LateStats {
            files: plan.files.len(),
            rows: starts.last().copied().unwrap_or(0),
            winners: won.len(),
            ..LateStats::default()
        };
        let rest: Vec<String> = out_schema
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|c| !pick.contains(c))
            .collect();
        let mut second = None;
        if !rest.is_empty() {
            let _t = crate::engine::timing::span(|| format!("iceberg late phase 2 {key}"));
            let (df, read) = self
                .read_winners(key, plan, &only(out_schema, &rest), &starts, &won)
                .await?;
            (stats.files_read, stats.rows_read) = read;
            second = Some(df);
        }
        let names: Vec<&str> = out_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        Ok((late::assemble(won_rows, second, &names)?, stats))
    }

    /// The columns of `schema` of the rows at the global positions `won` (ascending), file `i` holding the
    /// positions `starts[i]..starts[i + 1]`: only the files holding one of them are read. Also how many files and
    /// rows were read. Errors: [`crate::engine::error::EngineError::CorruptTable`] for a file the crate cannot
    /// read or that returns another number of rows than in the first phase.
    async fn read_winners(
        &self,
        key: &FeatureKey,
        plan: &ReadPlan,
        schema: &SchemaRef,
        starts: &[usize],
        won: &[usize],
    ) -> Result<(DataFrame, (usize, usize))> {
        let (files, local) = late::by_file(starts, won);
        let read = self.read_files(key, plan, &files, schema).await?;
        let mut rows_read = 0usize;
        let mut out = Vec::with_capacity(files.len());
        for ((bs, take), &f) in read.into_iter().zip(local).zip(&files) {
            let b =
                arrow::compute::concat_batches(schema, &bs).map_err(|e| self.corrupt(key, e))?;
            rows_read += b.num_rows();
            let expected = starts[f + 1] - starts[f];
            if b.num_rows() != expected {
                return Err(self.corrupt(
                    key,
                    format!(
                        "data file {} returned {expected} rows, then {}",
                        plan.files[f].data_file.file_path(),
                        b.num_rows()
                    ),
                ));
            }
            if take.len() == b.num_rows() {
                out.push(b);
            } else {
                let idx = UInt32Array::from_iter_values(take.into_iter().map(|p| p as u32));
                out.push(
                    arrow::compute::take_record_batch(&b, &idx)
                        .map_err(|e| self.corrupt(key, e))?,
                );
            }
        }
        Ok((
            record_batches_to_df(schema, &out)?,
            (files.len(), rows_read),
        ))
    }
}

#[cfg(test)]
#[path = "latest_tests.rs"]
mod tests;
