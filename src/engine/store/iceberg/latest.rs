//! The latest row per id of an Iceberg table read in two phases ("late materialisation",
//! [`MetadataStore::scan_latest`]): first only the columns the latest-row pick needs (the id columns,
//! `metaxy_updated_at`, `metaxy_deleted_at`) of every live data file, then, once the winners are known, the other
//! columns only of the files holding at least one winner, taking the winning rows. A table written in several
//! generations (every sample written again in a later snapshot) thus never decodes the wide columns of the rows
//! later generations supersede.
//!
//! The pick is the engine's own ([`keep_latest`]: the greatest `coalesce(metaxy_deleted_at, metaxy_updated_at)`
//! per id, the row stored last among equal timestamps, FORMAT.md §7.1) over the rows in the same append order as
//! the single-pass read, so the winners, and their order, are exactly that read's.
//!
//! [`MetadataStore::scan_latest`]: crate::engine::store::MetadataStore::scan_latest

use std::sync::Arc;

use ::iceberg::table::Table;
use arrow::array::{RecordBatch, UInt32Array};
use arrow::datatypes::{Schema, SchemaRef};
use polars::prelude::{DataFrame, IdxCa, IdxSize, IntoColumn, IntoSeries};

use super::read::ReadPlan;
use super::IcebergStore;
use crate::engine::error::Result;
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::keep_latest;
use crate::engine::schema as cols;
use crate::engine::store::api::{Columns, LatestScan};

/// The row-position column added to the first phase's rows (not a column name Metaxy writes).
const POS: &str = "__metaxy_tui_late_pos";

/// What a two-phase read read: the first phase every planned file's pick columns, the second only the files
/// and rows below.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct LateStats {
    /// Data files planned (that may hold the feature version), all read in the first phase.
    pub files: usize,
    /// Rows the first phase returned (after the feature-version filter).
    pub rows: usize,
    /// Rows that won the pick (the latest per id).
    pub winners: usize,
    /// Data files the second phase read: those holding at least one winner.
    pub files_read: usize,
    /// Rows the second phase decoded (every row of the files it read).
    pub rows_read: usize,
}

/// The columns of `schema` the latest-row pick needs (`ids`, then the timestamp columns present), `None` when an
/// id column is missing or neither timestamp column exists (the single-pass read and the engine decide then).
fn pick_columns(schema: &SchemaRef, ids: &[String]) -> Option<Vec<String>> {
    let has = |c: &str| schema.fields().iter().any(|f| f.name() == c);
    if ids.is_empty() || !ids.iter().all(|c| has(c)) {
        return None;
    }
    let ts: Vec<String> = [cols::UPDATED_AT, cols::DELETED_AT]
        .into_iter()
        .filter(|c| has(c))
        .map(str::to_string)
        .collect();
    if ts.is_empty() {
        return None;
    }
    Some(ids.iter().cloned().chain(ts).collect())
}

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
    /// read's order). Read in two phases when [`pays`], else in one pass deduplicated by [`keep_latest`].
    /// [`LatestScan::Unsupported`] when the table lacks an id column or both timestamp columns.
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
        let Some(pick) = pick_columns(&plan.schema, id_columns) else {
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
        if crate::engine::timing::enabled() {
            eprintln!(
                "timing-note iceberg late read {key}: phase 1 {} files {} rows, {} winners, phase 2 {} of {} \
                 files {} rows",
                stats.files, stats.rows, stats.winners, stats.files_read, stats.files, stats.rows_read
            );
        }
        Ok((LatestScan::Rows(df), Some(stats)))
    }

    /// The two phases of [`IcebergStore::read_latest`] on `plan`: the `pick` columns of every file, the winners
    /// by [`keep_latest`], then the rest of `out_schema` from the files holding a winner.
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
        // first global row position of each file (and the total at the end)
        let mut starts = Vec::with_capacity(per_file.len() + 1);
        let mut n = 0usize;
        for bs in &per_file {
            starts.push(n);
            n += bs.iter().map(RecordBatch::num_rows).sum::<usize>();
        }
        starts.push(n);
        let batches: Vec<RecordBatch> = per_file.into_iter().flatten().collect();
        let mut first = record_batches_to_df(&pick_schema, &batches)?;
        let pos = IdxCa::from_vec(POS.into(), (0..n as IdxSize).collect());
        first.with_column(pos.into_series().into_column())?;
        drop(t);
        let winners = keep_latest(first, id_columns)?;
        let ids_of = |w: &DataFrame| -> Result<Vec<usize>> {
            Ok(w.column(POS)?
                .idx()?
                .into_no_null_iter()
                .map(|p| p as usize)
                .collect())
        };
        let mut won = ids_of(&winners)?;
        // the engine's pick keeps the table's row order; sort should it ever not
        let winners = if won.windows(2).all(|w| w[0] < w[1]) {
            winners
        } else {
            let w = winners.sort([POS], Default::default())?;
            won = ids_of(&w)?;
            w
        };
        let mut stats = LateStats {
            files: plan.files.len(),
            rows: n,
            winners: won.len(),
            ..LateStats::default()
        };
        let rest: Vec<String> = out_schema
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|c| !pick.contains(c))
            .collect();
        let mut df = winners.drop(POS)?;
        if !rest.is_empty() {
            let _t = crate::engine::timing::span(|| format!("iceberg late phase 2 {key}"));
            let (second, read) = self
                .read_winners(key, plan, &only(out_schema, &rest), &starts, &won)
                .await?;
            (stats.files_read, stats.rows_read) = read;
            df = df.hstack(second.columns())?;
        }
        let names: Vec<&str> = out_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        Ok((df.select(names)?, stats))
    }

    /// The columns of `schema` of the rows at the global positions `won` (ascending), file `i` holding the
    /// positions `starts[i]..starts[i + 1]`: only the files holding one of them are read. Also how many files and
    /// rows were read.
    async fn read_winners(
        &self,
        key: &FeatureKey,
        plan: &ReadPlan,
        schema: &SchemaRef,
        starts: &[usize],
        won: &[usize],
    ) -> Result<(DataFrame, (usize, usize))> {
        // per file holding a winner: its local positions
        let mut files: Vec<usize> = vec![];
        let mut local: Vec<Vec<u32>> = vec![];
        let mut f = 0usize;
        for &p in won {
            while starts[f + 1] <= p {
                f += 1;
            }
            if files.last() != Some(&f) {
                files.push(f);
                local.push(vec![]);
            }
            if let Some(l) = local.last_mut() {
                l.push((p - starts[f]) as u32);
            }
        }
        let read = self.read_files(key, plan, &files, schema).await?;
        let mut rows_read = 0usize;
        let mut out = Vec::with_capacity(files.len());
        for ((bs, take), &f) in read.into_iter().zip(local).zip(&files) {
            let b =
                arrow::compute::concat_batches(schema, &bs).map_err(|e| self.corrupt(key, e))?;
            rows_read += b.num_rows();
            if b.num_rows() != starts[f + 1] - starts[f] {
                return Err(self.corrupt(
                    key,
                    format!(
                        "data file {} returned {} rows, then {}",
                        plan.files[f].data_file.file_path(),
                        starts[f + 1] - starts[f],
                        b.num_rows()
                    ),
                ));
            }
            if take.len() == b.num_rows() {
                out.push(b);
            } else {
                let idx = UInt32Array::from(take);
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
