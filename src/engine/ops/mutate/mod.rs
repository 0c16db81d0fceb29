//! Mutations: write, soft and hard delete, rebase and copy (FORMAT.md §7.2 to §7.6), each split into a *plan*
//! (pure reads: exactly the rows that will be appended or removed, for previews and `--dry-run`) and an *execute*
//! step that performs the plan with one transaction / commit / Lance version per feature.
//!
//! Writes go to the store's own tables only ([`MetadataStore::local`]): fallback stores are never written.

mod copy;
#[cfg(test)]
mod tests;

pub use copy::{execute_copy, plan_copy, CopyRequest, CopyStats, FeatureCopy};

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::{FeatureDef, FeatureGraph, PushedFeature};
use crate::engine::keys::FeatureKey;
use crate::engine::ops::validate::{target_of, validate_input};
use crate::engine::ops::write::{
    add_system_columns, timestamp_lit, transaction_timestamp, WriteOptions,
};
use crate::engine::query::read::{read_feature, sort_by_columns, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::store::filter::apply_filters;
use crate::engine::store::{Columns, MetadataStore};
use crate::engine::versioning::resolve::expected_frame;

// ------------------------------------------------------------------------------------------------------------
// checks every mutation makes before it plans anything

/// Project validation of a mutation of `key` through `graph` (whose project is the config's `project`, or the
/// newest pushed project when that is unset): the feature must be one of this project's features. Metaxy before
/// 0.1.0 raised `ValueError("Cannot write to feature ... from project ...")` in `write` for a feature of another
/// project (`_validate_project_write`); 0.1.11 no longer checks, but a feature of another project still has no
/// definition in this project's graph, so its rows cannot be computed through this config.
///
/// Returns the feature's definition. Errors: [`EngineError::ForeignProject`] when only other projects pushed `key`
/// (or its definition came from another project), [`EngineError::UnknownFeature`] when nobody did.
pub fn check_project<'g>(graph: &'g FeatureGraph, key: &FeatureKey) -> Result<&'g FeatureDef> {
    let foreign = |projects: String| EngineError::ForeignProject {
        feature: key.to_string(),
        projects,
        project: graph.project.clone(),
    };
    if let Some(def) = graph.get(key) {
        if def.pushed.project != graph.project {
            return Err(foreign(format!("{:?}", def.pushed.project)));
        }
        return Ok(def);
    }
    let others = graph.other_projects_of(key);
    if !others.is_empty() {
        let names: Vec<String> = others.iter().map(|p| format!("{p:?}")).collect();
        return Err(foreign(names.join(" and ")));
    }
    graph.require(key)
}

/// Refuses to stamp a feature version the system table does not hold: the feature version of `key` recomputed
/// from `graph` (what writes stamp into `metaxy_feature_version`, what hard deletes select) must equal the version
/// Metaxy stored for it when the graph was pushed. Metaxy itself always stamps the version of the graph it loaded
/// from code, which `metaxy push` recorded; a differing recomputation means the pushed graph and the rows to be
/// written would disagree (the code changed without a push, or a spec this engine hashes differently).
///
/// Errors: [`EngineError::UnpushedFeatureVersion`] naming both versions; [`EngineError::UnknownFeature`].
pub fn check_pushed_version(graph: &FeatureGraph, key: &FeatureKey) -> Result<()> {
    let def = graph.require(key)?;
    let computed = graph.feature_version(key).unwrap_or_default();
    if computed != def.pushed.feature_version {
        return Err(EngineError::UnpushedFeatureVersion {
            feature: key.to_string(),
            stored: def.pushed.feature_version.clone(),
            computed: computed.to_string(),
            project_version: graph.project_version.clone(),
        });
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// write

/// Prepared rows of a write: what [`execute_write`] appends.
#[derive(Debug, Clone)]
pub struct WritePlan {
    /// Target feature.
    pub feature: FeatureKey,
    /// Rows with every system column filled (Metaxy `_add_system_columns`), in input order.
    pub rows: DataFrame,
    /// The transaction timestamp stamped into `metaxy_created_at` / `metaxy_updated_at`.
    pub timestamp: DateTime<Utc>,
}

/// Plans Metaxy's `write(feature, df, materialization_id)`: checks the feature belongs to the graph's project
/// ([`check_project`]) and that its recomputed feature version is the pushed one ([`check_pushed_version`]), then
/// validates `df` against the target table ([`target_of`], [`validate_input`]: null ids or provenance, columns the
/// backend would refuse, values that do not convert losslessly to the table's types) and fills the system columns
/// with the current graph's feature and project versions (see [`add_system_columns`]).
///
/// Errors: [`EngineError::ForeignProject`], [`EngineError::UnpushedFeatureVersion`],
/// [`EngineError::UnknownFeature`], [`EngineError::Schema`] (naming the column and the first bad row as
/// `opts.origin` describes it).
pub fn plan_write(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    df: DataFrame,
    opts: &WriteOptions,
) -> Result<WritePlan> {
    check_project(graph, key)?;
    check_pushed_version(graph, key)?;
    let target = target_of(store, key)?;
    let df = validate_input(graph, key, df, &target, &opts.origin)?;
    let ts = transaction_timestamp();
    let rows = add_system_columns(df, graph, key, store.hash_algorithm(), ts, opts)?;
    Ok(WritePlan {
        feature: key.clone(),
        rows,
        timestamp: ts,
    })
}

/// Appends a planned write to the store's own table (one transaction / commit). Returns the rows written.
pub fn execute_write(store: &dyn MetadataStore, plan: &WritePlan) -> Result<usize> {
    if plan.rows.height() == 0 {
        return Ok(0);
    }
    store.local().append(&plan.feature, &plan.rows)?;
    Ok(plan.rows.height())
}

// ------------------------------------------------------------------------------------------------------------
// delete

/// A delete request (Metaxy `delete(feature, filters, soft=..., with_feature_history=..., with_sample_history=...)`;
/// CLI `metadata delete`).
#[derive(Debug, Clone, Default)]
pub struct DeleteRequest {
    /// Features to delete from, in order.
    pub features: Vec<FeatureKey>,
    /// SQL WHERE fragments, AND-ed. Empty = every row (of the current feature version unless
    /// `with_feature_history`).
    pub filters: Vec<String>,
    /// Hard delete (physically remove rows) instead of Metaxy's default soft delete (append tombstones).
    pub hard: bool,
    /// Also rows of other feature versions.
    pub with_feature_history: bool,
    /// Soft delete only: tombstone every stored row per sample, not only the latest.
    pub with_sample_history: bool,
    /// Also delete the same samples (matching values of the shared id columns) in every downstream feature of
    /// each feature (anam-org/metaxy#245). Not something Metaxy does itself; the preview lists them.
    pub cascade: bool,
}

/// What a delete will do to one feature.
#[derive(Debug, Clone)]
pub struct FeatureDelete {
    /// The feature.
    pub feature: FeatureKey,
    /// Rows that will be tombstoned (soft: the rows read, `metaxy_deleted_at` still null) or physically removed
    /// (hard: the stored rows, every column). Sorted by id columns.
    pub rows: DataFrame,
    /// SQL filters the execution uses for this feature (the request's, or the cascade's id filter).
    pub filters: Vec<String>,
    /// `Some(v)`: a hard delete removes only rows of feature version `v`.
    pub feature_version: Option<String>,
    /// Set when this feature is only deleted because an upstream feature is (cascade): that upstream's key.
    pub cascaded_from: Option<FeatureKey>,
    /// Why nothing can be deleted here (no table, ...); `rows` is then empty.
    pub skipped: Option<String>,
    /// Something the user should know before confirming (a soft delete of rows read from a fallback store: the
    /// tombstones go to this store, whose new table then shadows every fallback row of the feature, as in Metaxy).
    pub warning: Option<String>,
}

/// The previewed effect of a delete request.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// The request.
    pub request: DeleteRequest,
    /// One entry per affected feature: the requested ones first, then cascaded ones in topological order.
    pub features: Vec<FeatureDelete>,
}

impl DeletePlan {
    /// Total rows that will be tombstoned or removed.
    pub fn total_rows(&self) -> usize {
        self.features.iter().map(|f| f.rows.height()).sum()
    }
}

fn hard_delete_rows(
    store: &dyn MetadataStore,
    key: &FeatureKey,
    feature_version: Option<&str>,
    filters: &[String],
    graph: &FeatureGraph,
) -> Result<Option<DataFrame>> {
    let local = store.local();
    let Some(mut df) = local.scan(key, feature_version, &Columns::All)? else {
        return Ok(None);
    };
    if let Some(v) = feature_version {
        if has_column(&df, cols::FEATURE_VERSION) {
            df = df
                .lazy()
                .filter(col(cols::FEATURE_VERSION).eq(lit(v.to_string())))
                .collect()?;
        }
    }
    let df = apply_filters(df, filters)?;
    let ids = graph.require(key)?.spec.id_columns.clone();
    sort_by_columns(df, &ids).map(Some)
}

fn soft_delete_rows(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    req: &DeleteRequest,
    filters: &[String],
) -> Result<Option<DataFrame>> {
    read_feature(
        store,
        graph,
        key,
        &ReadOptions {
            with_feature_history: req.with_feature_history,
            with_sample_history: req.with_sample_history,
            include_soft_deleted: false,
            feature_version: None,
            unsorted: false,
            filters: filters.to_vec(),
            columns: Default::default(),
        },
    )
}

/// A SQL literal for one id value (strings quoted, numbers and booleans as they are); `None` for null and
/// other types.
pub fn sql_literal(v: &AnyValue) -> Option<String> {
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        AnyValue::StringOwned(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        AnyValue::Boolean(b) => Some(b.to_string()),
        AnyValue::Int8(_)
        | AnyValue::Int16(_)
        | AnyValue::Int32(_)
        | AnyValue::Int64(_)
        | AnyValue::UInt8(_)
        | AnyValue::UInt16(_)
        | AnyValue::UInt32(_)
        | AnyValue::UInt64(_) => Some(v.to_string()),
        _ => None,
    }
}

/// A SQL filter selecting the samples of `rows` by `columns` (`c IN (...)` for one column, an OR of AND-ed
/// equalities otherwise). `None` when `rows` is empty.
fn id_filter(rows: &DataFrame, columns: &[String]) -> Result<Option<String>> {
    let distinct = rows
        .select(columns.iter().map(String::as_str))?
        .unique_stable(None, UniqueKeepStrategy::First, None)?;
    if distinct.height() == 0 {
        return Ok(None);
    }
    let unsupported = |c: &str, t: &DataType| {
        EngineError::InvalidOperation(format!(
            "cannot cascade on id column {c} of type {t} (string, integer and boolean id columns are supported)"
        ))
    };
    if columns.len() == 1 {
        let c = &columns[0];
        let s = distinct.column(c)?;
        let mut lits = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            let v = s.get(i)?;
            if matches!(v, AnyValue::Null) {
                continue;
            }
            lits.push(sql_literal(&v).ok_or_else(|| unsupported(c, s.dtype()))?);
        }
        if lits.is_empty() {
            return Ok(None);
        }
        return Ok(Some(format!("{c} IN ({})", lits.join(", "))));
    }
    let mut ors = Vec::with_capacity(distinct.height());
    for i in 0..distinct.height() {
        let mut ands = Vec::with_capacity(columns.len());
        for c in columns {
            let s = distinct.column(c)?;
            let v = s.get(i)?;
            match v {
                AnyValue::Null => ands.push(format!("{c} IS NULL")),
                _ => ands.push(format!(
                    "{c} = {}",
                    sql_literal(&v).ok_or_else(|| unsupported(c, s.dtype()))?
                )),
            }
        }
        ors.push(format!("({})", ands.join(" AND ")));
    }
    Ok(Some(ors.join(" OR ")))
}

/// A SQL predicate selecting row `row` of `df` by `columns` (`a = 'x' AND b = 1`), for prefilling a delete filter
/// from a table cursor. `None` when a value is of an unsupported type.
pub fn row_predicate(df: &DataFrame, row: usize, columns: &[String]) -> Option<String> {
    let mut parts = Vec::with_capacity(columns.len());
    for c in columns {
        let v = df.column(c).ok()?.get(row).ok()?;
        match v {
            AnyValue::Null => parts.push(format!("{c} IS NULL")),
            v => parts.push(format!("{c} = {}", sql_literal(&v)?)),
        }
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// Every feature downstream of `key`, in topological order.
pub fn downstream(graph: &FeatureGraph, key: &FeatureKey) -> Vec<FeatureKey> {
    let mut seen: BTreeSet<FeatureKey> = BTreeSet::new();
    let mut stack = vec![key.clone()];
    while let Some(k) = stack.pop() {
        for c in graph.children(&k) {
            if seen.insert(c.clone()) {
                stack.push(c);
            }
        }
    }
    graph
        .topological_order()
        .into_iter()
        .filter(|k| seen.contains(k))
        .collect()
}

/// Plans a delete: for each feature, exactly the rows that will be tombstoned (soft) or removed (hard), read from
/// the store as it is now. Soft deletes read like Metaxy (current version unless `with_feature_history`, latest row
/// per sample unless `with_sample_history`, live rows, fallback stores allowed); hard deletes select the store's
/// own stored rows of the current feature version (all versions with `with_feature_history`) matching the filters.
///
/// Every feature, requested or cascaded, must pass [`check_project`]; [`check_pushed_version`] too, unless the
/// delete is hard with `with_feature_history` (the only delete that neither stamps nor selects by the current
/// feature version).
///
/// Errors: [`EngineError::ForeignProject`], [`EngineError::UnpushedFeatureVersion`],
/// [`EngineError::UnknownFeature`], [`EngineError::BadFilter`], [`EngineError::InvalidOperation`] for a cascade
/// over id columns of unsupported types, [`EngineError::Schema`] for a soft delete into a table whose system columns
/// do not have Metaxy's types ([`target_of`]).
pub fn plan_delete(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    req: &DeleteRequest,
) -> Result<DeletePlan> {
    let mut out: Vec<FeatureDelete> = Vec::new();
    let uses_version = !(req.hard && req.with_feature_history);
    for key in &req.features {
        check_project(graph, key)?;
        if uses_version {
            check_pushed_version(graph, key)?;
        }
        if !req.hard {
            // tombstones go through the same checks as every write (a text metaxy_updated_at is refused)
            target_of(store, key)?;
        }
    }
    let mut planned: BTreeSet<FeatureKey> = BTreeSet::new();
    let mut queue: Vec<(FeatureKey, Vec<String>, Option<FeatureKey>)> = req
        .features
        .iter()
        .map(|k| (k.clone(), req.filters.clone(), None))
        .collect();
    let mut i = 0;
    while i < queue.len() {
        let (key, filters, cascaded_from) = queue[i].clone();
        i += 1;
        if !planned.insert(key.clone()) {
            continue;
        }
        if cascaded_from.is_some() {
            check_project(graph, &key)?;
            if uses_version {
                check_pushed_version(graph, &key)?;
            }
            if !req.hard {
                target_of(store, &key)?;
            }
        }
        let version = (!req.with_feature_history)
            .then(|| graph.feature_version(&key).unwrap_or_default().to_string());
        let rows = if req.hard {
            hard_delete_rows(store, &key, version.as_deref(), &filters, graph)?
        } else {
            soft_delete_rows(store, graph, &key, req, &filters)?
        };
        let (rows, skipped) = match rows {
            Some(r) => (r, None),
            None => (
                DataFrame::empty(),
                Some(format!(
                    "no table {} in store {:?}",
                    store.local().table_name(&key),
                    store.local().name()
                )),
            ),
        };
        if req.cascade && rows.height() > 0 {
            let ids = graph.require(&key)?.spec.id_columns.clone();
            for d in downstream(graph, &key) {
                if planned.contains(&d) {
                    continue;
                }
                let dids = &graph.require(&d)?.spec.id_columns;
                let shared: Vec<String> =
                    ids.iter().filter(|c| dids.contains(c)).cloned().collect();
                if shared.is_empty() {
                    continue;
                }
                if let Some(f) = id_filter(&rows, &shared)? {
                    queue.push((d, vec![f], Some(key.clone())));
                }
            }
        }
        let mut warning = None;
        if !req.hard && rows.height() > 0 && !store.local().has_feature(&key)? {
            if let Some(src) = store.source_of(&key)? {
                warning = Some(format!(
                    "{key} is read from fallback store {src:?}: the tombstones are written to {:?}, whose new table will then hide every row of {src:?} for this feature (Metaxy reads a feature from the first store that has its table)",
                    store.local().name()
                ));
            }
        }
        out.push(FeatureDelete {
            feature: key,
            rows,
            filters,
            feature_version: if req.hard { version } else { None },
            cascaded_from,
            skipped,
            warning,
        });
    }
    Ok(DeletePlan {
        request: req.clone(),
        features: out,
    })
}

/// Performs a planned delete, feature by feature (each one transaction / commit / Lance version). Soft deletes
/// append the planned rows as tombstones (`metaxy_deleted_at` = one transaction timestamp, original
/// `metaxy_updated_at` and `metaxy_created_at` kept, current feature and project versions); hard deletes remove the
/// matching stored rows. Returns `(feature, rows)` per feature, in plan order; stops at the first error.
pub fn execute_delete(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    plan: &DeletePlan,
) -> Result<Vec<(FeatureKey, usize)>> {
    let mut done = Vec::with_capacity(plan.features.len());
    for f in &plan.features {
        if !done.is_empty() {
            crate::engine::fault::point("write.between_features");
        }
        if f.skipped.is_some() || f.rows.height() == 0 {
            done.push((f.feature.clone(), 0));
            continue;
        }
        let n = if plan.request.hard {
            store
                .local()
                .delete_rows(&f.feature, f.feature_version.as_deref(), &f.filters)?
        } else {
            let ts = transaction_timestamp();
            let marked = f
                .rows
                .clone()
                .lazy()
                .with_column(timestamp_lit(ts).alias(cols::DELETED_AT))
                .collect()?;
            let rows = add_system_columns(
                marked,
                graph,
                &f.feature,
                store.hash_algorithm(),
                ts,
                &WriteOptions {
                    keep_updated_at: true,
                    ..Default::default()
                },
            )?;
            store.local().append(&f.feature, &rows)?;
            rows.height()
        };
        done.push((f.feature.clone(), n));
    }
    Ok(done)
}

// ------------------------------------------------------------------------------------------------------------
// rebase

/// The previewed effect of a rebase (Metaxy `store.rebase(F, df, to_feature_version)` + `write(...,
/// preserve_feature_version=True)`; CLI `metadata rebase F --from V [--to V]`).
#[derive(Debug, Clone)]
pub struct RebasePlan {
    /// The feature.
    pub feature: FeatureKey,
    /// Source feature version (rows read with `metaxy_feature_version == from`).
    pub from_version: String,
    /// Target feature version.
    pub to_version: String,
    /// Project version of the target graph.
    pub to_project_version: String,
    /// Rows read (the stored rows of `from_version`: latest per sample, live).
    pub source_rows: usize,
    /// The rebased frame exactly as Metaxy's `rebase` returns it (before `write`): user columns and
    /// `metaxy_created_at` kept, new `metaxy_provenance[_by_field]`, data versions nulled where they equalled the
    /// old provenance, versions set to the target. Sorted by id columns.
    pub rows: DataFrame,
    /// `id columns + metaxy_provenance_by_field + metaxy_provenance` of the source rows (old provenance), for
    /// per-row old-vs-new previews.
    pub previous: DataFrame,
}

/// Plans a rebase of `key` from feature version `from` to `to` (the current version of `graph` when `None`),
/// of the stored rows that pass `filters` (SQL WHERE fragments; empty: every row of `from`, as Metaxy's CLI does;
/// Metaxy's `store.rebase(F, df)` takes any such frame, e.g. one sample's rows from a lookup).
///
/// `pushed` are the system-table rows, used to load the graph of another target version (Metaxy
/// `load_graph_from_snapshot`). The feature must pass [`check_project`], and its feature version recomputed from
/// the target graph must be the one stored for that graph ([`check_pushed_version`]): a rebase never stamps a
/// version Metaxy did not push.
///
/// Errors: [`EngineError::ForeignProject`], [`EngineError::UnpushedFeatureVersion`],
/// [`EngineError::InvalidOperation`] for a root feature or an unknown target version,
/// [`EngineError::FeatureNotFound`] when the store has no table for `key` (the CLI treats that as 0 rows),
/// [`EngineError::Schema`] when its system columns do not have Metaxy's types ([`target_of`]), and any error of
/// reading upstream features under the target graph.
pub fn plan_rebase(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    pushed: &[PushedFeature],
    key: &FeatureKey,
    from: &str,
    to: Option<&str>,
    filters: &[String],
) -> Result<RebasePlan> {
    let def = check_project(graph, key)?;
    if def.spec.is_root() {
        return Err(EngineError::InvalidOperation(format!(
            "Cannot rebase root feature {key}. Root features have user-defined provenance that cannot be automatically rebased. Re-run the computation pipeline to generate new data."
        )));
    }
    let current = graph.feature_version(key).unwrap_or_default().to_string();
    let owned;
    let (target, to_version): (&FeatureGraph, String) = match to {
        None => (graph, current.clone()),
        Some(v) if v == current => (graph, current.clone()),
        Some(v) => {
            let key_str = key.to_string();
            let mut pvs: Vec<&PushedFeature> = pushed
                .iter()
                .filter(|r| r.feature_key == key_str && r.feature_version == v)
                .collect();
            pvs.sort_by_key(|r| std::cmp::Reverse(r.recorded_at_us));
            let Some(row) = pvs.first() else {
                return Err(EngineError::InvalidOperation(format!(
                    "Feature version '{v}' for '{key}' not found in system storage. Run `metaxy push` first."
                )));
            };
            owned = FeatureGraph::from_rows(
                pushed,
                Some(graph.project.as_str()),
                Some(row.project_version.as_str()),
                graph.truncation,
                store.name(),
            )?;
            (&owned, v.to_string())
        }
    };
    check_pushed_version(target, key)?;
    target_of(store, key)?;
    let local = store.local();
    let existing = read_feature(
        local,
        graph,
        key,
        &ReadOptions {
            with_feature_history: true,
            feature_version: Some(from.to_string()),
            filters: filters.to_vec(),
            ..Default::default()
        },
    )?
    .ok_or_else(|| EngineError::FeatureNotFound {
        feature: key.to_string(),
        store: local.name().to_string(),
        table: local.table_name(key),
    })?;
    let ids = def.spec.id_columns.clone();
    let prev_cols: Vec<String> = ids
        .iter()
        .cloned()
        .chain([
            cols::PROVENANCE_BY_FIELD.to_string(),
            cols::PROVENANCE.to_string(),
        ])
        .filter(|c| has_column(&existing, c))
        .collect();
    let previous = existing.select(prev_cols.iter().map(String::as_str))?;
    let source_rows = existing.height();
    let has_dv = has_column(&existing, cols::DATA_VERSION)
        && has_column(&existing, cols::DATA_VERSION_BY_FIELD);
    // data versions that merely copied the provenance are recomputed after the write; user overrides survive
    let mut lf = existing.lazy();
    if has_dv {
        let same = col(cols::DATA_VERSION).eq(col(cols::PROVENANCE));
        lf = lf.with_columns([
            when(same.clone())
                .then(lit(NULL).cast(DataType::String))
                .otherwise(col(cols::DATA_VERSION))
                .alias(cols::DATA_VERSION),
            when(same)
                .then(lit(NULL))
                .otherwise(col(cols::DATA_VERSION_BY_FIELD))
                .alias(cols::DATA_VERSION_BY_FIELD),
        ]);
    }
    let working = lf.collect()?;
    let drop: Vec<&str> = [
        cols::PROVENANCE,
        cols::PROVENANCE_BY_FIELD,
        cols::FEATURE_VERSION,
        cols::PROJECT_VERSION,
    ]
    .into_iter()
    .filter(|c| has_column(&working, c))
    .collect();
    let working = working.drop_many(drop);
    let expected = expected_frame(store, target, key, &[])?;
    for c in &ids {
        if !has_column(&expected, c) {
            return Err(EngineError::InvalidOperation(format!(
                "cannot rebase {key}: the recomputed rows have no id column {c:?} (expansion lineage)"
            )));
        }
    }
    let sel: Vec<Expr> = ids
        .iter()
        .map(|c| col(c.as_str()))
        .chain([col(cols::PROVENANCE), col(cols::PROVENANCE_BY_FIELD)])
        .collect();
    let on: Vec<Expr> = ids.iter().map(|c| col(c.as_str())).collect();
    let rebased = working
        .lazy()
        .join(
            expected.lazy().select(sel),
            on.clone(),
            on,
            JoinArgs::new(JoinType::Inner),
        )
        .with_columns([
            lit(to_version.clone()).alias(cols::FEATURE_VERSION),
            lit(target.project_version.clone()).alias(cols::PROJECT_VERSION),
        ])
        .collect()?;
    let rows = sort_by_columns(rebased, &ids)?;
    Ok(RebasePlan {
        feature: key.clone(),
        from_version: from.to_string(),
        to_version,
        to_project_version: target.project_version.clone(),
        source_rows,
        rows,
        previous: sort_by_columns(previous, &ids)?,
    })
}

/// Writes a planned rebase with `preserve_feature_version=True` (data versions refilled from the new provenance,
/// `metaxy_updated_at` re-stamped). Returns the rows written.
pub fn execute_rebase(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    plan: &RebasePlan,
) -> Result<usize> {
    if plan.rows.height() == 0 {
        return Ok(0);
    }
    let ts = transaction_timestamp();
    let rows = add_system_columns(
        plan.rows.clone(),
        graph,
        &plan.feature,
        store.hash_algorithm(),
        ts,
        &WriteOptions {
            preserve_feature_version: true,
            ..Default::default()
        },
    )?;
    store.local().append(&plan.feature, &rows)?;
    Ok(rows.height())
}
