//! The latest row per id of a Delta table read in two phases ("late materialisation",
//! [`MetadataStore::scan_latest`], shared half in [`crate::engine::store::late`]): first only the id columns,
//! `metaxy_feature_version`, `metaxy_updated_at` and `metaxy_deleted_at` of every data file that may hold the
//! feature version, then, once the winners are known, the other columns only of the files holding at least one
//! winner, taking the winning rows. A table written in several generations (every sample written again in a
//! later commit) thus never decodes the wide columns of the files later generations supersede.
//!
//! The pick is the engine's own ([`crate::engine::store::latest::keep_latest`] after the feature-version filter,
//! FORMAT.md §7.1) over the rows in the storage order of the single-pass read, so the winners, and their order,
//! are exactly that read's.
//!
//! [`MetadataStore::scan_latest`]: crate::engine::store::MetadataStore::scan_latest

use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use polars::prelude::{DataFrame, IdxCa, IdxSize};

use super::{may_hold_version, DeltaStore};
use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::store::api::{Columns, LatestScan};
use crate::engine::store::late::{self, LateStats};

impl DeltaStore {
    /// [`crate::engine::store::MetadataStore::scan_latest`]: the latest row per `id_columns` of the rows of
    /// `feature_version`, with the columns `columns` selects, in storage order, read in two phases (also what
    /// they read). [`LatestScan::Unsupported`] (the caller scans in one pass) when the table has fewer than two
    /// data files that may hold the version (nothing to skip), or lacks an id column or both timestamp columns.
    /// Errors: [`crate::engine::error::EngineError::CorruptTable`] for a table delta-rs or the parquet reader
    /// cannot read.
    pub(super) async fn read_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<(LatestScan, Option<LateStats>)> {
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let full: SchemaRef = state.snapshot().arrow_schema();
        let has = |c: &str| full.field_with_name(c).is_ok();
        let Some(mut pick) = late::pick_columns(has, id_columns) else {
            return Ok((LatestScan::Unsupported, None));
        };
        let planned = state
            .log_data()
            .into_iter()
            .filter(|f| may_hold_version(f.stats().as_deref(), feature_version))
            .count();
        if planned < 2 {
            return Ok((LatestScan::Unsupported, None));
        }
        let version = feature_version.filter(|_| has(cols::FEATURE_VERSION));
        if version.is_some() {
            pick.push(cols::FEATURE_VERSION.to_string());
        }
        let out_schema = columns.project_schema(&full);
        let (df, stats) = self
            .read_late(
                key,
                &table,
                feature_version,
                version,
                &pick,
                &out_schema,
                id_columns,
            )
            .await?;
        stats.note("delta", key);
        Ok((LatestScan::Rows(df), Some(stats)))
    }

    /// The two phases of [`DeltaStore::read_latest`]: the `pick` columns of every file that may hold
    /// `feature_version`, the winners among the rows of `version` ([`late::winners`]), then the rest of
    /// `out_schema` from the files holding a winner.
    #[allow(clippy::too_many_arguments)]
    async fn read_late(
        &self,
        key: &FeatureKey,
        table: &DeltaTable,
        feature_version: Option<&str>,
        version: Option<&str>,
        pick: &[String],
        out_schema: &SchemaRef,
        id_columns: &[String],
    ) -> Result<(DataFrame, LateStats)> {
        let t = crate::engine::timing::span(|| format!("delta late phase 1 {key}"));
        let (first, paths, rows) = self
            .decode_table(key, table, feature_version, &Columns::Only(pick.to_vec()))
            .await?;
        drop(t);
        let starts = late::starts(&rows);
        let (won_rows, won) = late::winners(first, id_columns, version)?;
        let mut stats = LateStats {
            files: paths.len(),
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
            let _t = crate::engine::timing::span(|| format!("delta late phase 2 {key}"));
            let (files, local) = late::by_file(&starts, &won);
            let read: Vec<String> = files.iter().map(|&f| paths[f].clone()).collect();
            let rest_schema = Columns::Only(rest).project_schema(out_schema);
            let (df, got) = self.decode_paths(key, table, &read, &rest_schema).await?;
            for (&f, &n) in files.iter().zip(&got) {
                if n != rows[f] {
                    return Err(
                        self.corrupt(key, format!("{}: {} rows, then {n}", paths[f], rows[f]))
                    );
                }
            }
            stats.files_read = files.len();
            stats.rows_read = df.height();
            // the winners' rows within the files read
            let mut take: Vec<IdxSize> = Vec::with_capacity(won.len());
            let mut offset = 0usize;
            for (&f, ps) in files.iter().zip(&local) {
                take.extend(ps.iter().map(|&p| (offset + p) as IdxSize));
                offset += rows[f];
            }
            second = Some(if take.len() == df.height() {
                df
            } else {
                df.take(&IdxCa::from_vec("".into(), take))?
            });
        }
        let names: Vec<&str> = out_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        Ok((late::assemble(won_rows, second, &names)?, stats))
    }
}

#[cfg(test)]
#[path = "latest_tests.rs"]
mod tests;
