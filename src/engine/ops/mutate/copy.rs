//! Copy (FORMAT.md §7.6): the rows of features of one store appended to another (Metaxy `copy_metadata`), as a
//! plan ([`plan_copy`]) and its execution ([`execute_copy`]).

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::check_project;
use crate::engine::ops::validate::{conform_rows, target_of};
use crate::engine::ops::write::{add_system_columns, transaction_timestamp, WriteOptions};
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::store::MetadataStore;
use crate::engine::versioning::samples::RowOrigin;

/// A copy request (Metaxy `dst.copy_metadata(src, features, global_filters, with_feature_history,
/// with_sample_history)`; CLI `metadata copy`).
#[derive(Debug, Clone)]
pub struct CopyRequest {
    /// Features to copy; `None` = every feature of the graph (Metaxy: the current project's features).
    pub features: Option<Vec<FeatureKey>>,
    /// SQL filters applied to every feature's read.
    pub filters: Vec<String>,
    /// Copy rows of every feature version (Metaxy's default `True`).
    pub with_feature_history: bool,
    /// Copy every row per sample instead of the latest.
    pub with_sample_history: bool,
}

impl Default for CopyRequest {
    fn default() -> Self {
        Self {
            features: None,
            filters: vec![],
            with_feature_history: true,
            with_sample_history: false,
        }
    }
}

/// One feature of a copy.
#[derive(Debug, Clone)]
pub struct FeatureCopy {
    /// The feature.
    pub feature: FeatureKey,
    /// Rows read from the source (written with `preserve_feature_version=True`).
    pub rows: DataFrame,
    /// Why the feature is skipped (not in the source, no rows), as Metaxy logs it.
    pub skipped: Option<String>,
}

/// Plans a copy: the rows each feature's source read returns (source store only, no fallback, soft-deleted rows
/// excluded; the system table is never copied). Each feature must pass [`check_project`]; the rows keep their
/// stored versions (`preserve_feature_version`), so no version check is needed.
///
/// Errors: [`EngineError::ForeignProject`], [`EngineError::UnknownFeature`], read errors.
pub fn plan_copy(
    source: &dyn MetadataStore,
    graph: &FeatureGraph,
    req: &CopyRequest,
) -> Result<Vec<FeatureCopy>> {
    let keys: Vec<FeatureKey> = match &req.features {
        Some(k) => k.clone(),
        None => graph.features.iter().map(|f| f.spec.key.clone()).collect(),
    };
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        check_project(graph, &key)?;
        let rows = read_feature(
            source.local(),
            graph,
            &key,
            &ReadOptions {
                with_feature_history: req.with_feature_history,
                with_sample_history: req.with_sample_history,
                filters: req.filters.clone(),
                ..Default::default()
            },
        )?;
        let (rows, skipped) = match rows {
            None => (
                DataFrame::empty(),
                Some(format!("not found in store {:?}", source.local().name())),
            ),
            Some(r) if r.height() == 0 => (r, Some("no rows".to_string())),
            Some(r) => (r, None),
        };
        out.push(FeatureCopy {
            feature: key,
            rows,
            skipped,
        });
    }
    Ok(out)
}

/// Totals of a finished copy (Metaxy's `{"features_copied", "rows_copied"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CopyStats {
    /// Features with at least one row copied.
    pub features_copied: usize,
    /// Rows written.
    pub rows_copied: usize,
}

/// Writes a planned copy into `dest` (its own tables), feature by feature, with `preserve_feature_version=True`:
/// `metaxy_updated_at` re-stamped, `metaxy_materialization_id` reset, everything else as read. Every feature's rows
/// are validated against its destination table first ([`target_of`], [`conform_rows`]), so a feature that cannot
/// be written stops the copy before anything is written.
///
/// Errors: [`EngineError::Schema`] from validation, the destination's write errors.
pub fn execute_copy(
    dest: &dyn MetadataStore,
    graph: &FeatureGraph,
    plan: &[FeatureCopy],
) -> Result<CopyStats> {
    let mut stats = CopyStats {
        features_copied: 0,
        rows_copied: 0,
    };
    let mut ready = Vec::with_capacity(plan.len());
    for f in plan {
        if f.skipped.is_some() || f.rows.height() == 0 {
            continue;
        }
        let target = target_of(dest, &f.feature)?;
        let rows = conform_rows(&f.feature, f.rows.clone(), &target, &RowOrigin::Frame)?;
        ready.push((f, rows));
    }
    for (f, rows) in ready {
        let ts = transaction_timestamp();
        let rows = add_system_columns(
            rows,
            graph,
            &f.feature,
            dest.hash_algorithm(),
            ts,
            &WriteOptions {
                preserve_feature_version: true,
                ..Default::default()
            },
        )?;
        dest.local().append(&f.feature, &rows)?;
        stats.features_copied += 1;
        stats.rows_copied += rows.height();
    }
    Ok(stats)
}
