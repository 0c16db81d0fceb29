//! Counts-only increments computed in one DuckDB query (`metadata status`): when the target's plan is a plain
//! one (identity deps without renames, filters or optional deps; no filters, staleness predicates or samples),
//! the whole of Metaxy's `resolve_update` as far as its counts go (feature-version filter, latest row per id,
//! soft-delete removal, per-field and sample provenance from the upstream data versions, the comparison) runs
//! inside DuckDB with the engine's row hash registered as a C-API function ([`crate::engine::store::duckql::udf`]), and
//! only four numbers come back: new, stale, orphaned and `Materialized`. DuckDB stores run it over their own
//! tables; local Delta stores over their tables' parquet files once the tables hold
//! [`crate::engine::store::delta::DUCKDB_ROWS`] rows (below that the engine's own decode is faster). DuckDB
//! spills beyond a memory limit ([`crate::engine::store::duckql::udf::counts_memory_limit`]), so the counts of a
//! 100M-row increment take bounded memory. ClickHouse counts in its own SQL. Other backends, plans that do not
//! qualify and anything DuckDB fails on use [`crate::engine::versioning::resolve::resolve_update`]; both give the
//! same counts (tested on every DuckDB and Delta fixture).
//! `METAXY_TUI_NO_STORE_COUNTS=1` turns this off.

use crate::engine::error::Result;
use crate::engine::graph::{FeatureGraph, Lineage};
use crate::engine::keys::FeatureKey;
use crate::engine::store::count_plan::{CountDep, CountPlan, IncrementCounts, RecipePiece};
use crate::engine::store::MetadataStore;
use crate::engine::versioning::resolve::{join_columns, ResolveOptions};

/// The [`CountPlan`] of `key`, or `None` when the plan or the options need the general engine.
pub fn count_plan(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<CountPlan>> {
    if !opts.is_plain() {
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
/// backend cannot (then use [`crate::engine::versioning::resolve::resolve_update`]).
pub fn increment_counts(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<IncrementCounts>> {
    // METAXY_TUI_NO_STORE_COUNTS=1: always the general engine (for comparisons and benchmarks)
    if std::env::var_os("METAXY_TUI_NO_STORE_COUNTS").is_some_and(|v| v != "0") {
        return Ok(None);
    }
    let Some(plan) = count_plan(store, graph, key, opts)? else {
        return Ok(None);
    };
    if crate::engine::hashing::check_algorithm(plan.algorithm).is_err() {
        return Ok(None);
    }
    let _t = crate::engine::timing::span(|| format!("counts-in-store {key}"));
    store.local().increment_counts(&plan)
}

/// The counts of `key`'s increment when the primary store has no table for `key` yet (Metaxy's first run of a
/// feature): every expected sample is new, none is stale or orphaned, so only the ids of the upstream join are
/// needed. Each dep is read through the store (fallbacks included) with its id columns alone, with Metaxy's read
/// semantics (current feature version, latest row per id, soft-deleted rows dropped), and the deps are inner-joined
/// on the join columns, as [`crate::engine::versioning::resolve::resolve_update`] joins required deps. No data
/// version is read and nothing is hashed.
///
/// `None` when the target has a table in the primary store, when the plan or the options do not qualify (the same
/// rules as [`count_plan`]), or when an upstream has no table (the general engine then reports it), and with
/// `METAXY_TUI_NO_STORE_COUNTS=1`. Errors: reading an upstream fails.
pub fn absent_target_counts(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<IncrementCounts>> {
    use crate::engine::query::read::{read_feature, ReadOptions};
    use crate::engine::store::api::Columns;
    use polars::prelude::*;
    if std::env::var_os("METAXY_TUI_NO_STORE_COUNTS").is_some_and(|v| v != "0") {
        return Ok(None);
    }
    if store.local().has_feature(key)? {
        return Ok(None);
    }
    let Some(plan) = count_plan(store, graph, key, opts)? else {
        return Ok(None);
    };
    let _t = crate::engine::timing::span(|| format!("absent-target counts {key}"));
    let j = plan.join_columns.clone();
    let read = |feature: &FeatureKey| {
        let ro = ReadOptions {
            unsorted: true,
            columns: Columns::Only(j.clone()),
            ..Default::default()
        };
        read_feature(store, graph, feature, &ro)
    };
    let frames: Vec<Result<Option<DataFrame>>> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .deps
            .iter()
            .map(|d| s.spawn(|| read(&d.feature)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::engine::error::EngineError::Plan {
                        feature: key.to_string(),
                        message: "reading an upstream panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut joined: Option<DataFrame> = None;
    for f in frames {
        let Some(df) = f? else {
            return Ok(None);
        };
        let df = df.select(j.iter().map(|c| c.as_str()))?;
        joined = Some(match joined {
            None => df,
            Some(left) => {
                let on: Vec<Expr> = j.iter().map(|c| col(c.as_str())).collect();
                left.lazy()
                    .join(df.lazy(), on.clone(), on, JoinArgs::new(JoinType::Inner))
                    .collect()?
            }
        });
    }
    let Some(joined) = joined else {
        return Ok(None);
    };
    Ok(Some(IncrementCounts {
        new: joined.height(),
        stale: 0,
        orphaned: 0,
        current_rows: 0,
        target_exists: false,
    }))
}
