//! `resolve_update` (FORMAT.md §6): expected provenance from upstream data versions, then the increment
//! (new / stale / orphaned) against the stored rows. Mirrors Metaxy 0.1.11's Polars versioning engine
//! (`UpstreamPreparer`, `FeatureDepTransformer`, lineage handlers, `IncrementResolver`).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde_json::Value;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::{FeatureDep, FeatureGraph, Lineage};
use crate::engine::hashing::{check_algorithm, hash_expr, hash_joined_expr, Piece};
use crate::engine::keys::FeatureKey;
use crate::engine::read::{
    apply_filters, cols, parse_filter, read_feature, sort_by_columns, ReadOptions,
};
use crate::engine::store::{Columns, MetadataStore};

/// Whether an inner join of `left` and `right` on the single column `on` is the row-by-row concatenation of the
/// two: the column has no nulls, its values are unique in `left` (`left_unique`: known from the read, else
/// checked as strictly increasing) and `right` holds the same values in the same order. O(n), no hashing;
/// `false` for anything else (several join columns, other types), which then takes the hash join.
fn rows_line_up(left: &DataFrame, right: &DataFrame, on: &[String], left_unique: bool) -> bool {
    let [c] = on else {
        return false;
    };
    let (Ok(l), Ok(r)) = (left.column(c), right.column(c)) else {
        return false;
    };
    if l.len() != r.len() || l.dtype() != r.dtype() || l.null_count() > 0 || r.null_count() > 0 {
        return false;
    }
    let (l, r) = (l.as_materialized_series(), r.as_materialized_series());
    if left_unique {
        return l.equals(r);
    }
    fn increasing<T: PartialOrd>(mut it: impl Iterator<Item = T>) -> bool {
        let Some(mut prev) = it.next() else {
            return true;
        };
        for v in it {
            if v <= prev {
                return false;
            }
            prev = v;
        }
        true
    }
    let strictly = match l.dtype() {
        DataType::UInt64 => l.u64().map(|ca| increasing(ca.iter().flatten())),
        DataType::Int64 => l.i64().map(|ca| increasing(ca.iter().flatten())),
        DataType::UInt32 => l.u32().map(|ca| increasing(ca.iter().flatten())),
        DataType::Int32 => l.i32().map(|ca| increasing(ca.iter().flatten())),
        DataType::String => l.str().map(|ca| increasing(ca.iter().flatten())),
        _ => return false,
    };
    matches!(strictly, Ok(true)) && l.equals(r)
}

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
    /// [`samples_expected`]. Load files with [`crate::engine::samples::load_samples`].
    pub samples: Option<DataFrame>,
    /// Read only the target columns the comparison needs (join columns, provenance, columns named by the target
    /// filters and `stale_if`): for callers that only count (`metadata status`). `orphaned` then carries those
    /// columns only instead of the whole stored rows, and no frame is sorted by the join columns.
    pub narrow_target: bool,
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

struct PreparedDep {
    dep: FeatureDep,
    df: DataFrame,
    /// upstream field struct key -> temp column holding its data version
    dv_cols: BTreeMap<String, String>,
    /// Columns the rows are known to be unique on (the upstream's id columns after renames: the read kept the
    /// latest row per id); empty when unknown (aggregation lineage keeps every row).
    unique_on: Vec<String>,
}

fn plan_err(key: &FeatureKey, m: impl Into<String>) -> EngineError {
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

fn rename_of(dep: &FeatureDep, c: &str) -> String {
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

const SYSTEM_DROP: [&str; 6] = [
    cols::FEATURE_VERSION,
    cols::PROJECT_VERSION,
    cols::CREATED_AT,
    cols::UPDATED_AT,
    cols::DELETED_AT,
    cols::MATERIALIZATION_ID,
];
const METAXY_LOADED: [&str; 4] = [
    cols::PROVENANCE_BY_FIELD,
    cols::PROVENANCE,
    cols::DATA_VERSION_BY_FIELD,
    cols::DATA_VERSION,
];

/// One dep's upstream frame, renamed, filtered and lineage-transformed, ready to join (the arguments are the
/// pieces of Metaxy's `FeatureDepTransformer` state).
#[allow(clippy::too_many_arguments)]
fn prepare_dep(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    target: &FeatureKey,
    target_ids: &[String],
    di: usize,
    dep: &FeatureDep,
    global_filters: &[String],
    trunc: usize,
) -> Result<PreparedDep> {
    let up = graph.get(&dep.feature).ok_or_else(|| {
        plan_err(
            target,
            format!("upstream feature {} is not in the graph", dep.feature),
        )
    })?;
    // the upstream's own provenance and bookkeeping columns are dropped below: never read them (unless a filter
    // names them)
    let unused: Vec<String> = [
        cols::PROVENANCE_BY_FIELD,
        cols::PROVENANCE,
        cols::DATA_VERSION,
        cols::PROJECT_VERSION,
        cols::CREATED_AT,
        cols::MATERIALIZATION_ID,
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    let opts = ReadOptions {
        filters: global_filters.to_vec(),
        unsorted: true,
        columns: Columns::Except(unused).with_filter_columns(&dep.sql_filters),
        ..Default::default()
    };
    let mut df = read_feature(store, graph, &dep.feature, &opts)?.ok_or_else(|| {
        EngineError::FeatureNotFound {
            feature: dep.feature.to_string(),
            store: store.name().to_string(),
            table: store.table_name(&dep.feature),
        }
    })?;
    let table = store.table_name(&dep.feature);
    // 1. drop columns that are not carried through joins
    let drop: Vec<&str> = SYSTEM_DROP
        .iter()
        .copied()
        .filter(|c| has_column(&df, c))
        .collect();
    df = df.drop_many(drop);
    // 2. renames: user renames + suffix on the four provenance columns
    let suffix = dep.feature.column_suffix();
    let mut renames: Vec<(String, String)> = dep.rename.clone();
    for c in METAXY_LOADED {
        renames.push((c.to_string(), format!("{c}{suffix}")));
    }
    for (old, new) in &renames {
        if has_column(&df, old) {
            df.rename(old, PlSmallStr::from(new.as_str()))
                .map_err(|e| {
                    plan_err(
                        target,
                        format!("rename {old} -> {new} on {}: {e}", dep.feature),
                    )
                })?;
        }
    }
    // 3. static sql_filters of the dep (after rename)
    df = apply_filters(df, &dep.sql_filters)?;
    // 4. select
    let lineage_on: Vec<String> = match &dep.lineage {
        Lineage::Aggregation { on: Some(on) } => on.clone(),
        Lineage::Expansion { on, .. } => on.clone(),
        _ => vec![],
    };
    let renamed_ids: Vec<String> = up
        .spec
        .id_columns
        .iter()
        .map(|c| rename_of(dep, c))
        .collect();
    let selected: Option<Vec<String>> = dep.select.as_ref().map(|sel| {
        let mut out: Vec<String> = sel.clone();
        for c in lineage_on.iter().map(|c| rename_of(dep, c)) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if lineage_on.is_empty() {
            for c in &renamed_ids {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        // (the upstream's own provenance columns are not read at all: see `unused`)
        for c in METAXY_LOADED {
            let c = format!("{c}{suffix}");
            if has_column(&df, &c) {
                out.push(c);
            }
        }
        out
    });
    if let Some(sel) = &selected {
        for c in sel {
            if !has_column(&df, c) {
                return Err(EngineError::CorruptTable {
                    table: table.clone(),
                    message: format!(
                        "column {c} selected by {target}'s dependency on {} does not exist",
                        dep.feature
                    ),
                });
            }
        }
        df = df.select(sel.iter().map(|s| PlSmallStr::from(s.as_str())))?;
    }
    // 5. extract upstream data versions per field into flat temp columns (with N:1 aggregation if needed)
    let dvbf = format!("{}{suffix}", cols::DATA_VERSION_BY_FIELD);
    if !has_column(&df, &dvbf) {
        return Err(EngineError::CorruptTable {
            table,
            message: format!("missing {}", cols::DATA_VERSION_BY_FIELD),
        });
    }
    let mut dv_cols = BTreeMap::new();
    let mut exprs = Vec::new();
    let agg_groups: Option<(Vec<String>, Vec<String>)> = match &dep.lineage {
        Lineage::Aggregation { on } => {
            let group = on.clone().unwrap_or_else(|| target_ids.to_vec());
            let order: Vec<String> = match &selected {
                None => renamed_ids.clone(),
                Some(sel) => renamed_ids
                    .iter()
                    .filter(|c| sel.contains(c))
                    .cloned()
                    .collect(),
            };
            let order = if order.is_empty() {
                group.clone()
            } else {
                order
            };
            Some((group, order))
        }
        _ => None,
    };
    for f in &up.spec.fields {
        let sk = f.key.struct_key();
        let name = format!("__mx_dv{di}__{sk}");
        let field = col(dvbf.as_str())
            .struct_()
            .field_by_name(&sk)
            .cast(DataType::String);
        let e = match &agg_groups {
            None => field,
            Some((group, order)) => {
                let joined = field
                    .sort_by(
                        order.iter().map(|c| col(c.as_str())).collect::<Vec<_>>(),
                        SortMultipleOptions::default(),
                    )
                    .str()
                    .join("|", true)
                    .over(group.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())?;
                hash_expr(joined, store.hash_algorithm(), trunc)
            }
        };
        exprs.push(e.alias(name.as_str()));
        dv_cols.insert(sk, name);
    }
    df = df
        .lazy()
        .with_columns(exprs)
        .collect()
        .map_err(|e| EngineError::CorruptTable {
            table: table.clone(),
            message: format!("reading data versions: {e}"),
        })?;
    let drop: Vec<String> = METAXY_LOADED
        .iter()
        .map(|c| format!("{c}{suffix}"))
        .collect();
    df = df.drop_many(drop);
    let unique_on = if matches!(dep.lineage, Lineage::Aggregation { .. }) {
        vec![]
    } else {
        renamed_ids.clone()
    };
    Ok(PreparedDep {
        dep: dep.clone(),
        df,
        dv_cols,
        unique_on,
    })
}

/// Computes the expected frame of a non-root feature: upstream rows prepared per dep, joined on the join columns,
/// with `metaxy_provenance_by_field`, `metaxy_provenance` and the data-version copies (FORMAT.md §5.3).
pub fn expected_frame(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    global_filters: &[String],
) -> Result<DataFrame> {
    let def = graph.require(key)?;
    let spec = &def.spec;
    if spec.is_root() {
        return Err(EngineError::RootNeedsSamples(key.to_string()));
    }
    let algo = store.hash_algorithm();
    check_algorithm(algo)?;
    let trunc = graph.truncation;
    let j = join_columns(graph, key)?;
    // the deps are read and prepared at the same time (one thread each)
    let prepared: Vec<PreparedDep> = std::thread::scope(|scope| {
        let handles: Vec<_> = spec
            .deps
            .iter()
            .enumerate()
            .map(|(di, dep)| {
                scope.spawn(move || {
                    let _t = crate::engine::timing::span(|| format!("prepare-dep {}", dep.feature));
                    prepare_dep(
                        store,
                        graph,
                        key,
                        &spec.id_columns,
                        di,
                        dep,
                        global_filters,
                        trunc,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(plan_err(key, "reading an upstream feature panicked")))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    // collisions: non-join, non-temp columns present in more than one dep
    if prepared.len() > 1 {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &prepared {
            for c in p.df.get_column_names() {
                if !c.starts_with("__mx_") && !j.iter().any(|x| x == c.as_str()) {
                    seen.entry(c.to_string())
                        .or_default()
                        .push(p.dep.feature.to_string());
                }
            }
        }
        let clashes: Vec<String> = seen
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, _)| k)
            .collect();
        if !clashes.is_empty() {
            return Err(plan_err(
                key,
                format!("column collisions {clashes:?} across upstream features; add explicit renames or select in the FeatureDep"),
            ));
        }
    }
    for p in &prepared {
        for c in &j {
            if !has_column(&p.df, c) {
                return Err(plan_err(
                    key,
                    format!("join column {c} is missing from upstream {}", p.dep.feature),
                ));
            }
        }
    }
    // join: required deps inner, then optional deps left (full + coalesced ids when every dep is optional)
    let all_optional = prepared.iter().all(|p| p.dep.optional);
    let on: Vec<Expr> = j.iter().map(|c| col(c.as_str())).collect();
    let mut order: Vec<&PreparedDep> = prepared.iter().filter(|p| !p.dep.optional).collect();
    order.extend(prepared.iter().filter(|p| p.dep.optional));
    // while the deps line up row for row (same ids in the same order, unique), the inner join is a horizontal
    // concatenation: done eagerly without a hash join; the first dep that does not goes to the lazy join
    let mut eager: Option<(DataFrame, bool)> = None;
    let mut lf: Option<LazyFrame> = None;
    let same_set =
        |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|c| b.contains(c));
    for p in order {
        if lf.is_none() {
            match eager.take() {
                None => {
                    eager = Some((p.df.clone(), same_set(&p.unique_on, &j)));
                    continue;
                }
                Some((left, unique))
                    if !p.dep.optional && rows_line_up(&left, &p.df, &j, unique) =>
                {
                    let _t = crate::engine::timing::span(|| format!("positional join {key}"));
                    let extra: Vec<Column> =
                        p.df.columns()
                            .iter()
                            .filter(|c| !j.iter().any(|k| k.as_str() == c.name().as_str()))
                            .cloned()
                            .collect();
                    eager = Some((left.hstack(&extra)?, unique));
                    continue;
                }
                Some((left, _)) => lf = Some(left.lazy()),
            }
        }
        let right = p.df.clone().lazy();
        lf = Some(match lf {
            None => right,
            Some(left) => {
                let how = if !p.dep.optional {
                    JoinType::Inner
                } else if all_optional {
                    JoinType::Full
                } else {
                    JoinType::Left
                };
                let args = JoinArgs::new(how).with_coalesce(JoinCoalesce::CoalesceColumns);
                left.join(right, on.clone(), on.clone(), args)
            }
        });
    }
    let mut lf = lf
        .or_else(|| eager.map(|(df, _)| df.lazy()))
        .ok_or_else(|| plan_err(key, "feature has no deps"))?;
    // per-field provenance
    let dep_index: BTreeMap<String, usize> = prepared
        .iter()
        .enumerate()
        .map(|(i, p)| (p.dep.feature.to_string(), i))
        .collect();
    let mut field_exprs = Vec::new();
    let mut field_names = Vec::new();
    for (fi, f) in spec.fields.iter().enumerate() {
        let parents = graph.parent_fields(key, fi)?;
        let mut parts: Vec<Piece> = vec![
            Piece::Lit(f.key.to_string()),
            Piece::Lit(f.code_version.clone()),
        ];
        for (pk, pf) in parents {
            let di = *dep_index.get(&pk.to_string()).ok_or_else(|| {
                plan_err(
                    key,
                    format!("field {} depends on {pk}, which is not a dependency", f.key),
                )
            })?;
            let p = &prepared[di];
            let c = p
                .dv_cols
                .get(&pf.struct_key())
                .ok_or_else(|| plan_err(key, format!("upstream field {pk}.{pf} not found")))?;
            parts.push(Piece::Lit(format!("{pk}.{pf}")));
            let mut e = col(c.as_str());
            if p.dep.optional {
                e = e.fill_null(lit(""));
            }
            parts.push(Piece::Col(e));
        }
        let name = format!("__mx_pf__{}", f.key.struct_key());
        field_exprs.push(hash_joined_expr(parts, "|", algo, trunc).alias(name.as_str()));
        field_names.push((f.key.struct_key(), name));
    }
    lf = lf.with_columns(field_exprs);
    let struct_expr = as_struct(
        field_names
            .iter()
            .map(|(sk, n)| col(n.as_str()).alias(sk.as_str()))
            .collect(),
    );
    let mut sorted = field_names.clone();
    sorted.sort();
    let prov = hash_joined_expr(
        sorted
            .iter()
            .map(|(_, n)| Piece::Col(col(n.as_str())))
            .collect(),
        "|",
        algo,
        trunc,
    );
    lf = lf.with_columns([
        struct_expr.alias(cols::PROVENANCE_BY_FIELD),
        prov.alias(cols::PROVENANCE),
    ]);
    lf = lf.with_columns([
        col(cols::PROVENANCE_BY_FIELD).alias(cols::DATA_VERSION_BY_FIELD),
        col(cols::PROVENANCE).alias(cols::DATA_VERSION),
    ]);
    let t = crate::engine::timing::span(|| format!("join+hash {key}"));
    let df = lf.collect()?;
    drop(t);
    let temp: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|c| c.starts_with("__mx_"))
        .cloned()
        .collect();
    Ok(df.drop_many(temp))
}

/// The expected frame from caller-supplied `samples` (Metaxy `resolve_update(..., samples=...)`): filtered by the
/// global and target filters, `metaxy_provenance` always recomputed from `metaxy_provenance_by_field` (hash of the
/// spec fields' values joined by `|` in sorted struct-key order, FORMAT.md §5.3: Metaxy overwrites a supplied
/// one), and `metaxy_data_version_by_field` / `metaxy_data_version` copied from provenance when absent.
///
/// Errors: [`EngineError::BadSamples`] when a join column or the provenance struct is missing or a spec field is
/// absent from the struct; [`EngineError::BadFilter`] for unusable filters.
pub fn samples_expected(
    samples: &DataFrame,
    graph: &FeatureGraph,
    key: &FeatureKey,
    join_columns: &[String],
    filters: &[String],
    algo: crate::engine::config::HashAlgorithm,
) -> Result<DataFrame> {
    let def = graph.require(key)?;
    check_algorithm(algo)?;
    let bad = |m: String| EngineError::BadSamples(m);
    for c in join_columns {
        if !has_column(samples, c) {
            return Err(bad(format!(
                "samples lack id column {c:?} of {key} (have: {})",
                column_list(samples)
            )));
        }
    }
    let pbf = samples.column(cols::PROVENANCE_BY_FIELD).map_err(|_| {
        bad(format!(
            "samples lack the {} struct column (have: {})",
            cols::PROVENANCE_BY_FIELD,
            column_list(samples)
        ))
    })?;
    let DataType::Struct(members) = pbf.dtype() else {
        return Err(bad(format!(
            "{} must be a struct of field -> provenance string, got {}",
            cols::PROVENANCE_BY_FIELD,
            pbf.dtype()
        )));
    };
    let mut keys: Vec<String> = def.spec.fields.iter().map(|f| f.key.struct_key()).collect();
    for k in &keys {
        if !members.iter().any(|m| m.name().as_str() == k) {
            return Err(bad(format!(
                "{} lacks field {k:?} of {key}",
                cols::PROVENANCE_BY_FIELD
            )));
        }
    }
    keys.sort();
    let df = apply_filters(samples.clone(), filters)?;
    let parts: Vec<Piece> = keys
        .iter()
        .map(|k| {
            Piece::Col(
                col(cols::PROVENANCE_BY_FIELD)
                    .struct_()
                    .field_by_name(k)
                    .cast(DataType::String),
            )
        })
        .collect();
    let prov = hash_joined_expr(parts, "|", algo, graph.truncation);
    let mut lf = df.lazy().with_column(prov.alias(cols::PROVENANCE));
    if !has_column(samples, cols::DATA_VERSION_BY_FIELD) {
        lf = lf.with_columns([
            col(cols::PROVENANCE_BY_FIELD).alias(cols::DATA_VERSION_BY_FIELD),
            col(cols::PROVENANCE).alias(cols::DATA_VERSION),
        ]);
    }
    Ok(lf.collect()?)
}

fn column_list(df: &DataFrame) -> String {
    df.get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
    // expansion deps: collapse current children back to the parent level
    let mut current = current;
    let on: Vec<Expr> = j.iter().map(|c| col(c.as_str())).collect();
    for dep in &spec.deps {
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
    let has_pred = !opts.stale_if.is_empty();
    if has_pred {
        let mut pred: Option<Expr> = None;
        for f in &opts.stale_if {
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
                filter: opts.stale_if.join(" OR "),
                message: e.to_string(),
            })?;
    }
    let _t = crate::engine::timing::span(|| format!("compare {key}"));
    // one full join of the keys (with row numbers) classifies every row: expected only = new, stored only =
    // orphaned, both = stale when the provenance differs (or a staleness predicate matches)
    let cur_prov = "__mx_cur_prov";
    let cur_pbf = "__mx_cur_pbf";
    let (exp_idx, cur_idx, exp_prov) = ("__mx_exp_idx", "__mx_cur_idx", "__mx_exp_prov");
    let mut left_sel: Vec<Expr> = on.clone();
    left_sel.push(col(cols::PROVENANCE).alias(exp_prov));
    let mut right_sel: Vec<Expr> = on.clone();
    right_sel.push(col(cols::PROVENANCE).alias(cur_prov));
    if has_pred {
        right_sel.push(col("__mx_stale_pred"));
    }
    let left = expected
        .clone()
        .lazy()
        .select(left_sel)
        .with_row_index(exp_idx, None);
    let right = current
        .clone()
        .lazy()
        .select(right_sel)
        .with_row_index(cur_idx, None);
    let mut changed = col(cur_prov).is_null().or(col(exp_prov).neq(col(cur_prov)));
    if has_pred {
        changed = changed.or(col("__mx_stale_pred"));
    }
    let both = col(exp_idx).is_not_null().and(col(cur_idx).is_not_null());
    // a left join (expected rows, with their stored match if any) plus an anti join (stored rows without one):
    // the same rows as a full join, cheaper in polars
    let matched = left
        .clone()
        .join(
            right.clone(),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(exp_idx),
            col(cur_idx),
            both.and(changed)
                .fill_null(lit(false))
                .alias("__mx_changed"),
        ]);
    let unmatched = right
        .join(
            left.select(on.clone()),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Anti),
        )
        .select([
            lit(NULL).cast(IDX_DTYPE).alias(exp_idx),
            col(cur_idx),
            lit(false).alias("__mx_changed"),
        ]);
    let pairs = concat([matched, unmatched], UnionArgs::default())?.collect()?;
    let indices = |mask: Expr, which: &str| -> Result<IdxCa> {
        let picked = pairs
            .clone()
            .lazy()
            .filter(mask)
            .select([col(which)])
            .collect()?;
        let mut v: Vec<IdxSize> = picked.column(which)?.idx()?.iter().flatten().collect();
        v.sort_unstable();
        Ok(IdxCa::from_vec(PlSmallStr::EMPTY, v))
    };
    let new = expected.take(&indices(col(cur_idx).is_null(), exp_idx)?)?;
    let stale = expected.take(&indices(col("__mx_changed"), exp_idx)?)?;
    let mut orphaned = current.take(&indices(col(exp_idx).is_null(), cur_idx)?)?;
    if has_pred {
        orphaned = orphaned.drop("__mx_stale_pred")?;
    }
    let cur = current.clone().lazy().rename(
        [cols::PROVENANCE, cols::PROVENANCE_BY_FIELD],
        [cur_prov, cur_pbf],
        true,
    );
    let mut prev_cols: Vec<Expr> = on.clone();
    prev_cols.push(col(cur_pbf).alias(cols::PROVENANCE_BY_FIELD));
    prev_cols.push(col(cur_prov).alias(cols::PROVENANCE));
    let stale_previous = cur
        .select(prev_cols)
        .join(
            stale
                .clone()
                .lazy()
                .select(on.clone())
                .unique(None, UniqueKeepStrategy::First),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Semi),
        )
        .collect()?;
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

#[cfg(test)]
mod tests {
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
