//! The expected frame of an increment (FORMAT.md §5.3): each dep's upstream rows read, renamed, filtered and
//! lineage-transformed ([`prepare_dep`]), joined on the join columns, then hashed into per-field and sample
//! provenance ([`expected_frame`]); or the caller's samples ([`samples_expected`]).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::engine::config::HashAlgorithm;
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::{FeatureDep, FeatureGraph, Lineage};
use crate::engine::hashing::{check_algorithm, hash_expr, hash_joined_expr, Piece};
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::store::filter::apply_filters;
use crate::engine::store::{Columns, MetadataStore};
use crate::engine::versioning::resolve::{join_columns, plan_err, rename_of};

/// Whether an inner join of `left` and `right` on the single column `on` is the row-by-row concatenation of the
/// two: the column has no nulls, its values are unique in `left` (`left_unique`: known from the read, else
/// checked as strictly increasing) and `right` holds the same values in the same order. O(n), no hashing;
/// `false` for anything else (several join columns, other types), which then takes the hash join.
pub(super) fn rows_line_up(
    left: &DataFrame,
    right: &DataFrame,
    on: &[String],
    left_unique: bool,
) -> bool {
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

pub(super) struct PreparedDep {
    dep: FeatureDep,
    df: DataFrame,
    /// upstream field struct key -> temp column holding its data version
    dv_cols: BTreeMap<String, String>,
    /// Columns the rows are known to be unique on (the upstream's id columns after renames: the read kept the
    /// latest row per id); empty when unknown (aggregation lineage keeps every row).
    unique_on: Vec<String>,
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
    df = rename_and_filter(df, dep, target)?;
    let suffix = dep.feature.column_suffix();
    let (df0, renamed_ids, selected) =
        select_dep_columns(df, dep, &up.spec.id_columns, &suffix, target, &table)?;
    df = df0;
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
    let prepared = prepare_all(store, graph, key, global_filters, trunc)?;
    check_prepared(&prepared, &j, key)?;
    let mut lf = join_prepared(&prepared, &j, key)?;
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
    algo: HashAlgorithm,
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

/// Steps 1 to 3 of a dep's preparation: drops the columns not carried through joins, applies the user renames and
/// the suffix of the four provenance columns, then the dep's static `sql_filters` (after the renames).
fn rename_and_filter(
    mut df: DataFrame,
    dep: &FeatureDep,
    target: &FeatureKey,
) -> Result<DataFrame> {
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
    Ok(df)
}

/// Step 4 of a dep's preparation: the dep's `select` (plus the lineage or id columns and the suffixed provenance
/// columns), checked against the frame. Returns the frame, the upstream id columns after renames (`up_ids`
/// renamed) and the selection (`None`: every column).
fn select_dep_columns(
    mut df: DataFrame,
    dep: &FeatureDep,
    up_ids: &[String],
    suffix: &str,
    target: &FeatureKey,
    table: &str,
) -> Result<(DataFrame, Vec<String>, Option<Vec<String>>)> {
    // 4. select
    let lineage_on: Vec<String> = match &dep.lineage {
        Lineage::Aggregation { on: Some(on) } => on.clone(),
        Lineage::Expansion { on, .. } => on.clone(),
        _ => vec![],
    };
    let renamed_ids: Vec<String> = up_ids.iter().map(|c| rename_of(dep, c)).collect();
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
                    table: table.to_string(),
                    message: format!(
                        "column {c} selected by {target}'s dependency on {} does not exist",
                        dep.feature
                    ),
                });
            }
        }
        df = df.select(sel.iter().map(|s| PlSmallStr::from(s.as_str())))?;
    }
    Ok((df, renamed_ids, selected))
}

/// Reads and prepares every dep of `key` at the same time (one thread each), in spec order.
fn prepare_all(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    global_filters: &[String],
    trunc: usize,
) -> Result<Vec<PreparedDep>> {
    let spec = &graph.require(key)?.spec;
    // the deps are read and prepared at the same time (one thread each)
    std::thread::scope(|scope| {
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
    })
}

/// Checks the prepared deps before the join: no non-join column in more than one dep (Metaxy asks for renames or
/// a `select`), every join column present in every dep.
fn check_prepared(prepared: &[PreparedDep], j: &[String], key: &FeatureKey) -> Result<()> {
    // collisions: non-join, non-temp columns present in more than one dep
    if prepared.len() > 1 {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in prepared {
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
    for p in prepared {
        for c in j {
            if !has_column(&p.df, c) {
                return Err(plan_err(
                    key,
                    format!("join column {c} is missing from upstream {}", p.dep.feature),
                ));
            }
        }
    }
    Ok(())
}

/// Joins the prepared deps on the join columns `j`: required deps inner, then optional deps left (full, with the
/// ids coalesced, when every dep is optional); deps that line up row for row are concatenated without a hash join.
fn join_prepared(prepared: &[PreparedDep], j: &[String], key: &FeatureKey) -> Result<LazyFrame> {
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
                    eager = Some((p.df.clone(), same_set(&p.unique_on, j)));
                    continue;
                }
                Some((left, unique))
                    if !p.dep.optional && rows_line_up(&left, &p.df, j, unique) =>
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
    lf.or_else(|| eager.map(|(df, _)| df.lazy()))
        .ok_or_else(|| plan_err(key, "feature has no deps"))
}
