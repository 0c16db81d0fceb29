//! `resolve_update` (FORMAT.md §6): expected provenance from upstream data versions, then the increment
//! (new / stale / orphaned) against the stored rows. Mirrors Metaxy 0.1.11's Polars versioning engine
//! (`UpstreamPreparer`, `FeatureDepTransformer`, lineage handlers, `IncrementResolver`).

mod compare;
mod expected;

use polars::prelude::*;
use serde_json::Value;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::{FeatureDep, FeatureGraph, Lineage};
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, sort_by_columns, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::store::filter::parse_filter;
use crate::engine::store::{Columns, MetadataStore};

use compare::compare;
pub use expected::{expected_frame, samples_expected};

/// Options of `resolve_update` (Metaxy keyword arguments; CLI `--global-filter`, `--filter`, `--stale-if`).
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// SQL filters applied on read to every feature (upstream and target).
    pub global_filters: Vec<String>,
    /// SQL filters applied only to the target's current (stored) rows.
    pub target_filters: Vec<String>,
    /// Staleness predicates (SQL) evaluated on the target's current rows: a match is stale even when the
    /// provenance is unchanged.
    pub stale_if: Vec<String>,
    /// Metaxy `skip_comparison=True`: every expected row is new; stale and orphaned are empty.
    pub skip_comparison: bool,
    /// Metaxy's `samples`: the expected rows given by the caller instead of computed from upstream (required for
    /// root features). Must hold the join columns and a `metaxy_provenance_by_field` struct; see
    /// [`samples_expected`]. Load files with [`crate::engine::versioning::samples::load_samples`].
    pub samples: Option<DataFrame>,
    /// Read only the target columns the comparison needs (join columns, provenance, columns named by the target
    /// filters and `stale_if`): for callers that only count (`metadata status`). `orphaned` then carries those
    /// columns only instead of the whole stored rows, and no frame is sorted by the join columns.
    pub narrow_target: bool,
}

impl ResolveOptions {
    /// Whether these options ask for the plain increment (Metaxy's `resolve_update(key)` with no arguments): no
    /// global or target filters, no `stale_if`, no `samples`, no `skip_comparison`. `narrow_target` is only a read
    /// hint and does not count. The store-side counts and pages compute only the plain increment.
    pub fn is_plain(&self) -> bool {
        self.global_filters.is_empty()
            && self.target_filters.is_empty()
            && self.stale_if.is_empty()
            && !self.skip_comparison
            && self.samples.is_none()
    }
}

/// The result of `resolve_update` for one feature (Metaxy `Increment`).
///
/// Frames: `new` and `stale` carry the expected (recomputed) columns: the join columns, the upstream user
/// columns that survived `select`, `metaxy_provenance_by_field` (struct, spec field order), `metaxy_provenance`,
/// `metaxy_data_version_by_field`, `metaxy_data_version`. `orphaned` carries the stored rows. `stale_previous`
/// holds, for every stale sample, the stored provenance (join columns + the two provenance columns) so a caller
/// can show per-field diffs.
#[derive(Debug, Clone)]
pub struct Increment {
    /// Target feature.
    pub feature: FeatureKey,
    /// Current feature version of the target.
    pub feature_version: String,
    /// The target's id columns.
    pub id_columns: Vec<String>,
    /// Columns the comparison joins on (`plan.input_id_columns`, falling back to the id columns).
    pub join_columns: Vec<String>,
    /// Field struct keys in spec order.
    pub field_keys: Vec<String>,
    /// Samples in upstream but not stored (Metaxy `added` / `new`).
    pub new: DataFrame,
    /// Samples stored with a different provenance or matching a staleness predicate (`changed` / `stale`).
    pub stale: DataFrame,
    /// Samples stored but gone from upstream (`removed` / `orphaned`).
    pub orphaned: DataFrame,
    /// Stored provenance of the stale samples.
    pub stale_previous: DataFrame,
    /// Whether the target had a table in the store.
    pub target_exists: bool,
    /// Rows of the target's default read (current version, latest per id, live, after global and target
    /// filters): Metaxy's `Materialized` count. 0 when the table does not exist.
    pub current_rows: usize,
    /// Where each upstream feature was read from: `(feature key, store name)`, in dep order (Metaxy's
    /// `resolved_from`; a fallback store's name when the primary lacks the feature). The target itself is always
    /// read from the primary store (`allow_fallback=False`).
    pub upstream_sources: Vec<(String, String)>,
}

pub(super) fn plan_err(key: &FeatureKey, m: impl Into<String>) -> EngineError {
    EngineError::Plan {
        feature: key.to_string(),
        message: m.into(),
    }
}

/// Input id columns of one dep after lineage (Metaxy `FeaturePlan.get_input_id_columns_for_dep`).
fn input_ids_for_dep(graph: &FeatureGraph, target_ids: &[String], dep: &FeatureDep) -> Vec<String> {
    let Some(up) = graph.get(&dep.feature) else {
        return vec![];
    };
    match &dep.lineage {
        Lineage::Identity => up
            .spec
            .id_columns
            .iter()
            .map(|c| rename_of(dep, c))
            .collect(),
        Lineage::Aggregation { on } => on.clone().unwrap_or_else(|| target_ids.to_vec()),
        Lineage::Expansion { on, .. } => on.clone(),
    }
}

pub(super) fn rename_of(dep: &FeatureDep, c: &str) -> String {
    dep.rename
        .iter()
        .find(|(o, _)| o == c)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| c.to_string())
}

/// `plan.input_id_columns or feature.id_columns`: the intersection over deps of their input id columns
/// (order: as in the first dep), falling back to the target's id columns.
pub fn join_columns(graph: &FeatureGraph, key: &FeatureKey) -> Result<Vec<String>> {
    let def = graph.require(key)?;
    let ids = &def.spec.id_columns;
    let lists: Vec<Vec<String>> = def
        .spec
        .deps
        .iter()
        .map(|d| input_ids_for_dep(graph, ids, d))
        .filter(|l| !l.is_empty())
        .collect();
    let mut out: Vec<String> = match lists.first() {
        None => vec![],
        Some(first) => first
            .iter()
            .filter(|c| lists.iter().all(|l| l.contains(c)))
            .cloned()
            .collect(),
    };
    if out.is_empty() {
        out = ids.clone();
    }
    if out.is_empty() {
        return Err(plan_err(
            key,
            "no shared id columns across upstream features; add renames or lineage `on` columns",
        ));
    }
    Ok(out)
}

fn empty_like(df: &DataFrame) -> DataFrame {
    df.clear()
}

/// `resolve_update(feature)` for a non-root feature against `store` (FORMAT.md §6).
///
/// Errors: [`EngineError::RootNeedsSamples`] for root features, [`EngineError::FeatureNotFound`] when an upstream
/// table is missing (Metaxy raises `FeatureNotFoundError` too), [`EngineError::BadFilter`] for unusable filters.
pub fn resolve_update(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Increment> {
    let def = graph.require(key)?;
    let spec = &def.spec;
    let j = join_columns(graph, key)?;
    for f in opts.stale_if.iter() {
        let _ = parse_filter(f)?;
    }
    let mut target_filters = opts.global_filters.clone();
    target_filters.extend(opts.target_filters.iter().cloned());
    // outputs are sorted by the join columns at the end; the inputs need no order
    let upstream_sources: Vec<(String, String)> = spec
        .deps
        .iter()
        .map(|d| {
            let src = store.source_of(&d.feature)?.unwrap_or_default();
            Ok((d.feature.to_string(), src))
        })
        .collect::<Result<_>>()?;
    // Metaxy reads the target with allow_fallback=False: only the primary store's rows count as done
    let current_opts = ReadOptions {
        filters: target_filters.clone(),
        unsorted: true,
        columns: if opts.narrow_target {
            let mut keep: Vec<String> = j.clone();
            keep.push(cols::PROVENANCE.into());
            keep.push(cols::PROVENANCE_BY_FIELD.into());
            Columns::Only(keep).with_filter_columns(&opts.stale_if)
        } else {
            Columns::All
        },
        ..Default::default()
    };
    // the expected frame and the stored rows are computed at the same time
    let (expected, current) = std::thread::scope(|scope| {
        let current = scope.spawn(|| read_feature(store.local(), graph, key, &current_opts));
        let expected = match &opts.samples {
            Some(samples) => samples_expected(
                samples,
                graph,
                key,
                &j,
                &target_filters,
                store.hash_algorithm(),
            ),
            None => expected_frame(store, graph, key, &opts.global_filters),
        };
        let current = current
            .join()
            .unwrap_or_else(|_| Err(plan_err(key, "reading the stored rows panicked")));
        (expected, current)
    });
    let (expected, current) = (expected?, current?);
    let field_keys: Vec<String> = spec.fields.iter().map(|f| f.key.struct_key()).collect();
    let feature_version = graph.feature_version(key).unwrap_or_default().to_string();
    let current_rows = current.as_ref().map_or(0, DataFrame::height);
    let mk =
        |new: DataFrame, stale: DataFrame, orphaned: DataFrame, prev: DataFrame, exists: bool| {
            Increment {
                feature: key.clone(),
                feature_version: feature_version.clone(),
                id_columns: spec.id_columns.clone(),
                join_columns: j.clone(),
                field_keys: field_keys.clone(),
                new,
                stale,
                orphaned,
                stale_previous: prev,
                target_exists: exists,
                current_rows,
                upstream_sources: upstream_sources.clone(),
            }
        };
    // counts-only callers (`narrow_target`) get the frames in whatever order they come
    let sort = |df: DataFrame| -> Result<DataFrame> {
        if opts.narrow_target {
            Ok(df)
        } else {
            sort_by_columns(df, &j)
        }
    };
    let Some(current) = current else {
        let e = empty_like(&expected);
        let expected = sort(expected)?;
        return Ok(mk(expected, e.clone(), e.clone(), e, false));
    };
    if opts.skip_comparison {
        let e = empty_like(&expected);
        let expected = sort(expected)?;
        return Ok(mk(expected, e.clone(), e.clone(), e, true));
    }
    for c in &j {
        if !has_column(&current, c) {
            return Err(EngineError::CorruptTable {
                table: store.table_name(key),
                message: format!("missing join column {c}"),
            });
        }
    }
    let has_pred = !opts.stale_if.is_empty();
    let current = collapse_and_mark(current, &spec.deps, &j, &opts.stale_if)?;
    let _t = crate::engine::timing::span(|| format!("compare {key}"));
    let (new, stale, orphaned, stale_previous) = compare(&expected, &current, &j, has_pred)?;
    let stale_previous = sort(stale_previous)?;
    let orphaned = sort(orphaned)?;
    let new = sort(new)?;
    let stale = sort(stale)?;
    Ok(mk(new, stale, orphaned, stale_previous, true))
}

/// One sample of an increment frame as shown to people: the join-column values (rendered with
/// [`crate::engine::json::any_to_cell`]), the per-field provenance hashes in spec field order, and
/// `metaxy_provenance`. `None` = null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceRow {
    /// Values of [`Increment::key_columns`].
    pub key: Vec<String>,
    /// `metaxy_provenance_by_field[f]` for every field of [`Increment::field_keys`].
    pub fields: Vec<Option<String>>,
    /// `metaxy_provenance`.
    pub provenance: Option<String>,
}

/// A stale sample: the expected (recomputed) provenance and the stored one it differs from (`None` when the
/// stored row could not be matched, which only happens for frames not produced by [`resolve_update`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRow {
    /// Recomputed provenance (what a rerun would write).
    pub expected: ProvenanceRow,
    /// Stored provenance.
    pub stored: Option<ProvenanceRow>,
}

impl Increment {
    /// The join columns present in `df`: the key of each [`ProvenanceRow`].
    pub fn key_columns(&self, df: &DataFrame) -> Vec<String> {
        crate::engine::frame::present_columns(df, Some(&self.join_columns))
    }

    /// The first `limit` rows (all when `None`) of one of this increment's frames (`new`, `stale`, `orphaned`,
    /// `stale_previous`) as [`ProvenanceRow`]s. `*_by_field` may be a struct or a map.
    pub fn provenance_rows(
        &self,
        df: &DataFrame,
        limit: Option<usize>,
    ) -> Result<Vec<ProvenanceRow>> {
        use crate::engine::json::{any_to_cell, any_to_json, by_field_value};
        let n = limit.map_or(df.height(), |l| l.min(df.height()));
        let column = |name: &str| -> Result<Option<Series>> {
            Ok(match df.column(name) {
                Ok(c) => Some(c.as_materialized_series().head(Some(n)).rechunk()),
                Err(_) => None,
            })
        };
        let mut keys: Vec<Vec<String>> = vec![Vec::with_capacity(self.join_columns.len()); n];
        for c in self.key_columns(df) {
            if let Some(s) = column(&c)? {
                for (k, v) in keys.iter_mut().zip(s.iter()) {
                    k.push(any_to_cell(&v));
                }
            }
        }
        let by_field: Vec<Value> = match column(cols::PROVENANCE_BY_FIELD)? {
            Some(s) => s.iter().map(|v| any_to_json(&v)).collect(),
            None => vec![Value::Null; n],
        };
        let provenance: Vec<Option<String>> = match column(cols::PROVENANCE)? {
            Some(s) => s
                .iter()
                .map(|v| match any_to_json(&v) {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    o => Some(o.to_string()),
                })
                .collect(),
            None => vec![None; n],
        };
        Ok(keys
            .into_iter()
            .zip(by_field)
            .zip(provenance)
            .map(|((key, bf), provenance)| ProvenanceRow {
                key,
                fields: self
                    .field_keys
                    .iter()
                    .map(|f| by_field_value(&bf, f))
                    .collect(),
                provenance,
            })
            .collect())
    }

    /// The first `limit` stale samples (all when `None`), each with the stored provenance it replaces (from
    /// [`Increment::stale_previous`], matched on the join columns): the per-field provenance diff shown by both
    /// `metaxy-tui metadata increment --format plain` and the TUI's Stale tab.
    pub fn stale_diffs(&self, limit: Option<usize>) -> Result<Vec<StaleRow>> {
        let mut stored: std::collections::HashMap<Vec<String>, ProvenanceRow> =
            std::collections::HashMap::new();
        for r in self.provenance_rows(&self.stale_previous, None)? {
            stored.entry(r.key.clone()).or_insert(r);
        }
        Ok(self
            .provenance_rows(&self.stale, limit)?
            .into_iter()
            .map(|expected| {
                let stored = stored.get(&expected.key).cloned();
                StaleRow { expected, stored }
            })
            .collect())
    }
}

/// The stored rows prepared for the comparison: children of expansion deps collapsed back to the parent level
/// (first non-null value per join key), and with `stale_if` predicates the OR of them as `__mx_stale_pred`.
///
/// Errors: [`EngineError::BadFilter`] for an unusable predicate.
fn collapse_and_mark(
    mut current: DataFrame,
    deps: &[FeatureDep],
    j: &[String],
    stale_if: &[String],
) -> Result<DataFrame> {
    // expansion deps: collapse current children back to the parent level
    let on: Vec<Expr> = j.iter().map(|c| col(c.as_str())).collect();
    for dep in deps {
        if matches!(dep.lineage, Lineage::Expansion { .. }) {
            let non_key: Vec<Expr> = current
                .get_column_names()
                .into_iter()
                .filter(|c| !j.iter().any(|x| x == c.as_str()))
                .map(|c| col(c.as_str()).drop_nulls().first())
                .collect();
            current = current
                .lazy()
                .group_by_stable(on.clone())
                .agg(non_key)
                .collect()?;
        }
    }
    // staleness predicates on the current rows
    let has_pred = !stale_if.is_empty();
    if has_pred {
        let mut pred: Option<Expr> = None;
        for f in stale_if {
            let e = parse_filter(f)?;
            pred = Some(match pred {
                None => e,
                Some(p) => p.or(e),
            });
        }
        let pred = pred.unwrap_or(lit(false));
        current = current
            .lazy()
            .with_column(pred.fill_null(lit(false)).alias("__mx_stale_pred"))
            .collect()
            .map_err(|e| EngineError::BadFilter {
                filter: stale_if.join(" OR "),
                message: e.to_string(),
            })?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::expected::rows_line_up;
    use super::*;

    fn frame(ids: Vec<Option<u64>>, v: &str) -> DataFrame {
        let n = ids.len();
        df!("sample_uid" => ids, "v" => vec![v; n]).unwrap()
    }

    /// Deps line up row for row only with one join column, no nulls, strictly increasing ids on the left and the
    /// same ids in the same order on the right.
    #[test]
    fn rows_line_up_only_for_identical_strictly_increasing_ids() {
        let on = vec!["sample_uid".to_string()];
        let ids = |v: &[u64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        let a = frame(ids(&[1, 2, 5, 9]), "a");
        assert!(rows_line_up(
            &a,
            &frame(ids(&[1, 2, 5, 9]), "b"),
            &on,
            false
        ));
        assert!(!rows_line_up(
            &a,
            &frame(ids(&[1, 2, 9, 5]), "b"),
            &on,
            false
        ));
        assert!(!rows_line_up(&a, &frame(ids(&[1, 2, 5]), "b"), &on, false));
        assert!(!rows_line_up(
            &a,
            &frame(ids(&[1, 2, 5, 10]), "b"),
            &on,
            false
        ));
        let dup = frame(ids(&[1, 2, 2, 9]), "a");
        assert!(!rows_line_up(&dup, &dup.clone(), &on, false));
        let unsorted = frame(ids(&[2, 1, 5, 9]), "a");
        assert!(!rows_line_up(&unsorted, &unsorted.clone(), &on, false));
        let nulls = frame(vec![Some(1), None, Some(5), Some(9)], "a");
        assert!(!rows_line_up(&nulls, &nulls.clone(), &on, false));
        let two = vec!["sample_uid".to_string(), "v".to_string()];
        assert!(!rows_line_up(&a, &a.clone(), &two, false));
        let s = df!("sample_uid" => ["a", "b", "c"], "v" => [1, 2, 3]).unwrap();
        assert!(rows_line_up(&s, &s.clone(), &on, false));
        // ids known unique from the read: any order, as long as both sides agree
        assert!(rows_line_up(&unsorted, &unsorted.clone(), &on, true));
        assert!(!rows_line_up(&unsorted, &a, &on, true));
        assert!(!rows_line_up(&nulls, &nulls.clone(), &on, true));
    }
}
