//! Counts-only increments computed inside the store (`metadata status`): when the target's plan is a plain one
//! (identity deps without renames, selects, filters or optional deps; no filters or staleness predicates), the
//! whole of `resolve_update` (latest row per id, soft-delete removal, per-field provenance from the upstream
//! data versions, the comparison) can run as one query of the backend, with the engine's hash function
//! registered in it, and only four numbers come back. Backends that cannot do it (or plans that do not qualify)
//! fall back to [`crate::engine::resolve::resolve_update`]; both give the same counts (tested on every DuckDB
//! fixture).

use crate::engine::config::HashAlgorithm;
use crate::engine::error::Result;
use crate::engine::graph::{FeatureGraph, Lineage};
use crate::engine::keys::FeatureKey;
use crate::engine::resolve::{join_columns, ResolveOptions};
use crate::engine::store::MetadataStore;

/// One piece of a field's provenance recipe (FORMAT.md §5.3): the pieces are joined by `|` and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipePiece {
    /// A constant (field key, code version, `upstream/key.field`).
    Lit(String),
    /// The data version of field `field` (struct key) of dep number `dep`.
    DataVersion {
        /// Index into [`CountPlan::deps`].
        dep: usize,
        /// Struct key of the upstream field.
        field: String,
    },
}

/// An upstream feature of a [`CountPlan`].
#[derive(Debug, Clone)]
pub struct CountDep {
    /// Upstream feature.
    pub feature: FeatureKey,
    /// Its current feature version (rows of other versions are ignored).
    pub feature_version: String,
    /// Its id columns (identity lineage: the join columns).
    pub id_columns: Vec<String>,
    /// Struct keys of `metaxy_data_version_by_field` the recipes read.
    pub fields: Vec<String>,
}

/// What a backend needs to count an increment by itself.
#[derive(Debug, Clone)]
pub struct CountPlan {
    /// Target feature.
    pub target: FeatureKey,
    /// Its current feature version.
    pub feature_version: String,
    /// Its id columns (equal, as a set, to the join columns).
    pub id_columns: Vec<String>,
    /// Join columns.
    pub join_columns: Vec<String>,
    /// Upstream features, inner-joined on the join columns.
    pub deps: Vec<CountDep>,
    /// Per target field, in sorted struct-key order (the order of the sample provenance): its recipe.
    pub fields: Vec<(String, Vec<RecipePiece>)>,
    /// Row hash algorithm.
    pub algorithm: HashAlgorithm,
    /// Hash truncation length.
    pub truncation: usize,
}

/// The counts of an increment (Metaxy's `metadata status` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncrementCounts {
    /// New samples.
    pub new: usize,
    /// Stale samples.
    pub stale: usize,
    /// Orphaned samples.
    pub orphaned: usize,
    /// Rows of the target's default read (`Materialized`); 0 when it has no table.
    pub current_rows: usize,
    /// Whether the target has a table in the (primary) store.
    pub target_exists: bool,
}

/// The [`CountPlan`] of `key`, or `None` when the plan or the options need the general engine.
pub fn count_plan(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<CountPlan>> {
    if opts.skip_comparison
        || opts.samples.is_some()
        || !opts.stale_if.is_empty()
        || !opts.global_filters.is_empty()
        || !opts.target_filters.is_empty()
    {
        return Ok(None);
    }
    let def = graph.require(key)?;
    let spec = &def.spec;
    if spec.is_root() {
        return Ok(None);
    }
    let j = join_columns(graph, key)?;
    let same_set =
        |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|c| b.contains(c));
    if !same_set(&spec.id_columns, &j) {
        return Ok(None);
    }
    let primary = store.local().name().to_string();
    let mut deps = Vec::new();
    for d in &spec.deps {
        let plain = matches!(d.lineage, Lineage::Identity)
            && d.rename.is_empty()
            && d.sql_filters.is_empty()
            && !d.optional;
        let Some(up) = graph.get(&d.feature) else {
            return Ok(None);
        };
        // (`select` only picks the user columns carried along: it changes no count)
        // every upstream must come from the primary store (no fallback store involved)
        if !plain
            || !same_set(&up.spec.id_columns, &j)
            || store.source_of(&d.feature)?.as_deref() != Some(primary.as_str())
        {
            return Ok(None);
        }
        deps.push(CountDep {
            feature: d.feature.clone(),
            feature_version: graph
                .feature_version(&d.feature)
                .unwrap_or_default()
                .to_string(),
            id_columns: up.spec.id_columns.clone(),
            fields: vec![],
        });
    }
    let mut fields = Vec::new();
    for (fi, f) in spec.fields.iter().enumerate() {
        let mut pieces = vec![
            RecipePiece::Lit(f.key.to_string()),
            RecipePiece::Lit(f.code_version.clone()),
        ];
        for (pk, pf) in graph.parent_fields(key, fi)? {
            let Some(di) = deps.iter().position(|d| &d.feature == pk) else {
                return Ok(None);
            };
            let sk = pf.struct_key();
            if !deps[di].fields.contains(&sk) {
                deps[di].fields.push(sk.clone());
            }
            pieces.push(RecipePiece::Lit(format!("{pk}.{pf}")));
            pieces.push(RecipePiece::DataVersion { dep: di, field: sk });
        }
        fields.push((f.key.struct_key(), pieces));
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(CountPlan {
        target: key.clone(),
        feature_version: graph.feature_version(key).unwrap_or_default().to_string(),
        id_columns: spec.id_columns.clone(),
        join_columns: j,
        deps,
        fields,
        algorithm: store.hash_algorithm(),
        truncation: graph.truncation,
    }))
}

/// The counts of `key`'s increment computed by the store itself, or `None` when the plan does not qualify or the
/// backend cannot (then use [`crate::engine::resolve::resolve_update`]).
pub fn increment_counts(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<IncrementCounts>> {
    let Some(plan) = count_plan(store, graph, key, opts)? else {
        return Ok(None);
    };
    if crate::engine::hashing::check_algorithm(plan.algorithm).is_err() {
        return Ok(None);
    }
    let _t = crate::engine::timing::span(|| format!("counts-in-store {key}"));
    store.local().increment_counts(&plan)
}
