//! Per-sample lookup across the whole feature graph (issue 19): given values of some id columns, where is that
//! sample in every feature, and in which state (FORMAT.md §6 increments, §7.1 reads)?
//!
//! The walk starts at the features whose id columns hold every looked-up column ("where the ids live"), goes
//! upstream (reverse topological order) and then downstream (topological order), mapping the ids through each
//! dep: identity lineage and renamed id columns carry the ids over, 1:N expansion reaches every child row of the
//! parent ids (and the parent of a child), N:1 aggregation the row that aggregates them (and every row it
//! aggregates). Per feature, the stored rows of the samples (every version and history row) and the increment
//! restricted to them are read through [`scoped::ScopedStore`], which pushes an id filter into every scan: a
//! lookup never resolves a whole feature.

pub(crate) mod scoped;

use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::{FeatureGraph, Lineage};
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{keep_latest, read_feature, sort_by_columns, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::store::filter::IdFilter;
use crate::engine::store::{MetadataStore, ResolvedFrom};
use crate::engine::versioning::cause::{stale_causes, SampleCause};
use crate::engine::versioning::resolve::{
    join_columns, rename_of, resolve_update, Increment, ResolveOptions,
};

use scoped::{ScanMemo, ScopedStore};

/// Options of a lookup (`metaxy-tui metadata lookup` flags).
#[derive(Debug, Clone, Default)]
pub struct LookupOptions {
    /// Also return every stored row of each sample (all feature versions, history and soft-deletion rows).
    pub with_sample_history: bool,
}

/// The state of one sample in one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleState {
    /// Stored under the current feature version, live, and what `resolve_update` would compute.
    UpToDate,
    /// Stored, but `resolve_update` lists it as changed (`stale`): the upstream data versions moved.
    Stale,
    /// Not stored (live) under the current feature version, and `resolve_update` lists it as added (`new`).
    New,
    /// Stored, but gone from upstream (`resolve_update`'s `orphaned`).
    Orphaned,
    /// The latest row under the current feature version is a soft deletion (`metaxy_deleted_at` set).
    SoftDeleted,
    /// Stored and live in a root feature (no upstream to compare with), or in a feature whose increment failed
    /// (see [`FeatureLookup::error`]).
    Stored,
    /// No row under the current feature version and nothing upstream to compute it from (older feature
    /// versions may hold rows: see the history).
    NotStored,
    /// The store has no table for the feature.
    Absent,
}

impl SampleState {
    /// Short label for people (`up to date`, `soft-deleted`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            SampleState::UpToDate => "up to date",
            SampleState::Stale => "stale",
            SampleState::New => "new",
            SampleState::Orphaned => "orphaned",
            SampleState::SoftDeleted => "soft-deleted",
            SampleState::Stored => "stored",
            SampleState::NotStored => "not stored",
            SampleState::Absent => "absent",
        }
    }
}

/// One sample of one feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SampleLookup {
    /// Id column values as text, in the feature's id column order (only the known ones for samples without a
    /// stored row: a `new` expansion parent has no child ids yet).
    #[serde(serialize_with = "ids_object")]
    pub ids: Vec<(String, String)>,
    /// The sample's state.
    pub state: SampleState,
    /// Why it is stale (per field: stored and expected provenance, the upstream data versions that changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<SampleCause>,
    /// The current row: the latest row under the current feature version, soft deletions included (every
    /// column: user columns, provenance and data versions by field, created / updated / deleted at,
    /// materialization id). `None` when there is none.
    pub row: Option<Value>,
    /// With [`LookupOptions::with_sample_history`]: every stored row of the sample, oldest first (every feature
    /// version, soft deletions included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Value>,
}

/// Serializes `(column, value)` pairs as a JSON object in their order.
fn ids_object<S: serde::Serializer>(
    ids: &[(String, String)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(ids.len()))?;
    for (k, v) in ids {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// The looked-up samples in one feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureLookup {
    /// Feature key.
    pub feature: String,
    /// Current feature version.
    pub feature_version: String,
    /// The feature's id columns.
    pub id_columns: Vec<String>,
    /// Whether it is a root feature (no deps: no increment).
    pub is_root: bool,
    /// How the walk reached it (`looked-up ids`, `upstream of example/chunk (1:N)`, ...); `None` when it shares
    /// no id column with the samples.
    pub reached: Option<String>,
    /// The id filter its scans used (the samples mapped to its columns).
    pub scope: Option<IdFilter>,
    /// Where its rows were read from (Metaxy's `resolved_from`); `None` when absent or not reached.
    pub resolved_from: Option<ResolvedFrom>,
    /// Why the increment (or the read) failed, e.g. an upstream table missing; the samples then show what is
    /// stored.
    pub error: Option<String>,
    /// One entry per sample: per stored id (every stored child of an expansion), per new sample, and one
    /// `not_stored` / `absent` entry per looked-up sample with nothing stored.
    pub samples: Vec<SampleLookup>,
}

/// The result of a lookup: the samples asked for and every feature of the graph, in topological order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Lookup {
    /// The looked-up samples.
    pub ids: IdFilter,
    /// Every feature of the graph, in topological order.
    pub features: Vec<FeatureLookup>,
}

/// Parses `--id` values, one sample each: `column=value[,column=value...]` (a composite id). Every sample must
/// name the same columns.
///
/// Errors: [`EngineError::BadIds`] for an empty list, a pair without `=`, a column given twice or samples naming
/// different columns.
pub fn parse_ids(specs: &[String]) -> Result<IdFilter> {
    let mut columns: Option<Vec<String>> = None;
    let mut rows = vec![];
    for spec in specs {
        let mut cs = vec![];
        let mut vs = vec![];
        for pair in spec.split(',') {
            let Some((c, v)) = pair.split_once('=') else {
                return Err(EngineError::BadIds(format!(
                    "{spec:?}: expected column=value[,column=value...]"
                )));
            };
            let c = c.trim().to_string();
            if c.is_empty() || cs.contains(&c) {
                return Err(EngineError::BadIds(format!(
                    "{spec:?}: empty or repeated column {c:?}"
                )));
            }
            cs.push(c);
            vs.push(v.trim().to_string());
        }
        match &columns {
            None => columns = Some(cs),
            Some(prev) if *prev != cs => {
                return Err(EngineError::BadIds(format!(
                    "every sample must name the same id columns ({} vs {})",
                    prev.join(","),
                    cs.join(",")
                )))
            }
            Some(_) => {}
        }
        rows.push(vs);
    }
    let Some(columns) = columns else {
        return Err(EngineError::BadIds("no sample ids given".into()));
    };
    Ok(IdFilter::new(columns, rows))
}

fn lineage_label(l: &Lineage) -> &'static str {
    match l {
        Lineage::Identity => "1:1",
        Lineage::Aggregation { .. } => "N:1",
        Lineage::Expansion { .. } => "1:N",
    }
}

/// Where the samples `ids` are in each feature of `graph`: the id filter of every feature the walk reaches (see
/// the module docs) and how it was reached. Features sharing no id column are left out.
///
/// Errors: [`EngineError::BadIds`] when no feature has every looked-up column among its id columns.
pub fn scopes(
    graph: &FeatureGraph,
    ids: &IdFilter,
) -> Result<HashMap<FeatureKey, (IdFilter, String)>> {
    let order = graph.topological_order();
    let mut out: HashMap<FeatureKey, (IdFilter, String)> = HashMap::new();
    for k in &order {
        let def = graph.require(k)?;
        if ids.columns.iter().all(|c| def.spec.id_columns.contains(c)) {
            out.insert(k.clone(), (ids.clone(), "looked-up ids".into()));
        }
    }
    if out.is_empty() {
        return Err(EngineError::BadIds(format!(
            "no feature has the id columns {}",
            ids.columns.join(", ")
        )));
    }
    // upstream: a dep's ids are the downstream's input ids renamed back
    for k in order.iter().rev() {
        let Some((scope, _)) = out.get(k).cloned() else {
            continue;
        };
        for dep in &graph.require(k)?.spec.deps {
            if out.contains_key(&dep.feature) {
                continue;
            }
            let Some(up) = graph.get(&dep.feature) else {
                continue;
            };
            let map: Vec<(String, String)> = up
                .spec
                .id_columns
                .iter()
                .map(|u| (rename_of(dep, u), u.clone()))
                .collect();
            if let Some(p) = scope.project(&map) {
                let how = format!("upstream of {k} ({})", lineage_label(&dep.lineage));
                out.insert(dep.feature.clone(), (p, how));
            }
        }
    }
    // downstream: the first dep whose samples map onto the feature's id columns
    for k in &order {
        if out.contains_key(k) {
            continue;
        }
        let def = graph.require(k)?;
        for dep in &def.spec.deps {
            let Some((scope, _)) = out.get(&dep.feature) else {
                continue;
            };
            let map: Vec<(String, String)> = scope
                .columns
                .iter()
                .map(|u| (u.clone(), rename_of(dep, u)))
                .filter(|(_, r)| def.spec.id_columns.contains(r))
                .collect();
            if let Some(p) = scope.project(&map) {
                let how = format!(
                    "downstream of {} ({})",
                    dep.feature,
                    lineage_label(&dep.lineage)
                );
                out.insert(k.clone(), (p, how));
                break;
            }
        }
    }
    Ok(out)
}

/// Looks the samples `ids` up in every feature of `graph` stored in `store` (fallback stores included for the
/// rows; the increment's target is the primary store's rows, as in Metaxy). Per-feature failures (an upstream
/// table missing) are reported in [`FeatureLookup::error`], never fail the lookup.
///
/// Errors: [`EngineError::BadIds`] when no feature has the looked-up columns.
pub fn lookup(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    ids: &IdFilter,
    opts: &LookupOptions,
) -> Result<Lookup> {
    let scopes = scopes(graph, ids)?;
    let memo = ScanMemo::default();
    let features = graph
        .topological_order()
        .iter()
        .map(|k| lookup_feature(store, graph, k, scopes.get(k), opts, &memo))
        .collect();
    Ok(Lookup {
        ids: ids.clone(),
        features,
    })
}

/// The id values of `df`'s rows in `columns` as text (null as `null`).
fn keys_of(df: &DataFrame, columns: &[String]) -> Result<Vec<Vec<String>>> {
    let mut out = vec![Vec::with_capacity(columns.len()); df.height()];
    for c in columns {
        let s = df.column(c)?.cast(&DataType::String)?;
        for (k, v) in out.iter_mut().zip(s.str()?.iter()) {
            k.push(v.unwrap_or("null").to_string());
        }
    }
    Ok(out)
}

/// The lookup of one feature (see [`lookup`]); `scope`: its id filter and how it was reached.
fn lookup_feature(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    scope: Option<&(IdFilter, String)>,
    opts: &LookupOptions,
    memo: &ScanMemo,
) -> FeatureLookup {
    let def = graph.get(key);
    let mut out = FeatureLookup {
        feature: key.to_string(),
        feature_version: graph.feature_version(key).unwrap_or_default().to_string(),
        id_columns: def.map(|d| d.spec.id_columns.clone()).unwrap_or_default(),
        is_root: def.is_none_or(|d| d.spec.deps.is_empty()),
        reached: scope.map(|(_, how)| how.clone()),
        scope: scope.map(|(f, _)| f.clone()),
        resolved_from: None,
        error: None,
        samples: vec![],
    };
    let Some((scope, _)) = scope else {
        return out;
    };
    let placeholder = |state: SampleState| -> Vec<SampleLookup> {
        scope
            .rows
            .iter()
            .map(|r| SampleLookup {
                ids: scope
                    .columns
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .collect(),
                state,
                cause: None,
                row: None,
                history: vec![],
            })
            .collect()
    };
    match store.has_feature(key) {
        Ok(true) => {}
        Ok(false) => {
            out.samples = placeholder(SampleState::Absent);
            return out;
        }
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    }
    out.resolved_from = Some(store.resolved_from(key));
    match samples_of(store, graph, key, scope, opts, memo) {
        Ok((samples, error)) => {
            out.samples = samples;
            out.error = error;
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    if out.samples.is_empty() {
        out.samples = placeholder(SampleState::NotStored);
    }
    out
}

/// The increment of `key` restricted to `scope`: its upstream features read through their share of the scope
/// (identity ids renamed back, an expansion's parent ids, every row an aggregation groups), the result narrowed
/// to the scope's join-column values. With the stale samples' causes, keyed by join-column values.
fn scoped_increment(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    scope: &IdFilter,
    memo: &ScanMemo,
) -> Result<(Increment, HashMap<Vec<String>, SampleCause>)> {
    let def = graph.require(key)?;
    // the target is compared at the join-column level: a 1:N child is read with every sibling of its parent
    // (Metaxy collapses them), so a child id that does not exist never makes its stored parent look new
    let j = join_columns(graph, key)?;
    let on: Vec<(String, String)> = j.iter().map(|c| (c.clone(), c.clone())).collect();
    let target = scope.project(&on).unwrap_or_else(|| scope.clone());
    let mut scopes: HashMap<FeatureKey, IdFilter> = HashMap::new();
    scopes.insert(key.clone(), target);
    for dep in &def.spec.deps {
        let Some(up) = graph.get(&dep.feature) else {
            continue;
        };
        let map: Vec<(String, String)> = up
            .spec
            .id_columns
            .iter()
            .map(|u| (rename_of(dep, u), u.clone()))
            .collect();
        if let Some(p) = scope.project(&map) {
            scopes.insert(dep.feature.clone(), p);
        }
    }
    let scoped = ScopedStore::new(store, &scopes, memo);
    let mut inc = resolve_update(&scoped, graph, key, &ResolveOptions::default())?;
    // an upstream read whole (it shares no id column with the samples) leaves other samples: narrow
    if let Some(f) = scope.project(&on) {
        let narrow = |df: DataFrame| -> Result<DataFrame> {
            if f.columns.iter().all(|c| has_column(&df, c)) {
                f.apply(df)
            } else {
                Ok(df)
            }
        };
        inc.new = narrow(inc.new)?;
        inc.stale = narrow(inc.stale)?;
        inc.orphaned = narrow(inc.orphaned)?;
        inc.stale_previous = narrow(inc.stale_previous)?;
    }
    let causes = if inc.stale.height() > 0 {
        stale_causes(&scoped, graph, &inc, None)?
            .into_iter()
            .map(|c| (c.key.clone(), c))
            .collect()
    } else {
        HashMap::new()
    };
    Ok((inc, causes))
}

/// The stored rows of `key` for `scope`: every row (all versions, history, soft deletions), oldest first per id.
fn stored_rows(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    scope: &IdFilter,
    memo: &ScanMemo,
) -> Result<Option<DataFrame>> {
    let mut only: HashMap<FeatureKey, IdFilter> = HashMap::new();
    only.insert(key.clone(), scope.clone());
    let scoped = ScopedStore::new(store, &only, memo);
    let opts = ReadOptions {
        with_feature_history: true,
        with_sample_history: true,
        include_soft_deleted: true,
        unsorted: true,
        ..Default::default()
    };
    let Some(df) = read_feature(&scoped, graph, key, &opts)? else {
        return Ok(None);
    };
    let mut by: Vec<String> = graph.require(key)?.spec.id_columns.clone();
    if has_column(&df, cols::UPDATED_AT) {
        by.push(cols::UPDATED_AT.into());
    }
    sort_by_columns(df, &by).map(Some)
}

/// The sample entries of one reached feature (see [`FeatureLookup::samples`]) and the increment's error, if any.
fn samples_of(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    scope: &IdFilter,
    opts: &LookupOptions,
    memo: &ScanMemo,
) -> Result<(Vec<SampleLookup>, Option<String>)> {
    let def = graph.require(key)?;
    let ids = &def.spec.id_columns;
    let Some(all) = stored_rows(store, graph, key, scope, memo)? else {
        return Ok((vec![], None));
    };
    let version = graph.feature_version(key).unwrap_or_default().to_string();
    let current = if has_column(&all, cols::FEATURE_VERSION) {
        all.clone()
            .lazy()
            .filter(col(cols::FEATURE_VERSION).eq(lit(version)))
            .collect()?
    } else {
        all.clone()
    };
    let current = sort_by_columns(keep_latest(current, ids)?, ids)?;
    let (inc, causes, error) = if def.spec.deps.is_empty() {
        (None, HashMap::new(), None)
    } else {
        match scoped_increment(store, graph, key, scope, memo) {
            Ok((inc, causes)) => (Some(inc), causes, None),
            Err(e) => (None, HashMap::new(), Some(e.to_string())),
        }
    };
    let j: Vec<String> = inc
        .as_ref()
        .map(|i| i.join_columns.clone())
        .unwrap_or_else(|| ids.clone());
    let key_set = |df: Option<&DataFrame>| -> Result<HashSet<Vec<String>>> {
        Ok(match df {
            Some(df) if j.iter().all(|c| has_column(df, c)) => {
                keys_of(df, &j)?.into_iter().collect()
            }
            _ => HashSet::new(),
        })
    };
    let new = key_set(inc.as_ref().map(|i| &i.new))?;
    let stale = key_set(inc.as_ref().map(|i| &i.stale))?;
    let orphaned = key_set(inc.as_ref().map(|i| &i.orphaned))?;

    let all_keys = keys_of(&all, ids)?;
    let all_j = keys_of(&all, &j)?;
    let all_rows = if opts.with_sample_history {
        df_to_json_rows(&all, None)?
    } else {
        vec![]
    };
    let cur_keys = keys_of(&current, ids)?;
    let cur_rows = df_to_json_rows(&current, None)?;
    let deleted: Vec<bool> = if has_column(&current, cols::DELETED_AT) {
        current
            .column(cols::DELETED_AT)?
            .is_not_null()
            .iter()
            .map(|b| b.unwrap_or(false))
            .collect()
    } else {
        vec![false; current.height()]
    };
    // one entry per stored id, in id order
    let mut entries: BTreeMap<Vec<String>, (Vec<String>, SampleLookup)> = BTreeMap::new();
    for (i, (k, jk)) in all_keys.iter().zip(&all_j).enumerate() {
        let e = entries.entry(k.clone()).or_insert_with(|| {
            (
                jk.clone(),
                SampleLookup {
                    ids: ids.iter().cloned().zip(k.iter().cloned()).collect(),
                    state: SampleState::NotStored,
                    cause: None,
                    row: None,
                    history: vec![],
                },
            )
        });
        if let Some(r) = all_rows.get(i) {
            e.1.history.push(r.clone());
        }
    }
    for (i, k) in cur_keys.iter().enumerate() {
        if let Some((_, e)) = entries.get_mut(k) {
            e.row = cur_rows.get(i).cloned();
            e.state = if deleted[i] {
                SampleState::SoftDeleted
            } else {
                SampleState::Stored
            };
        }
    }
    let has_inc = inc.is_some();
    for (jk, e) in entries.values_mut() {
        e.state = match e.state {
            SampleState::Stored if has_inc && orphaned.contains(jk) => SampleState::Orphaned,
            SampleState::Stored if has_inc && stale.contains(jk) => {
                e.cause = causes.get(jk).cloned();
                SampleState::Stale
            }
            SampleState::Stored if has_inc => SampleState::UpToDate,
            SampleState::NotStored if new.contains(jk) => SampleState::New,
            s => s,
        };
    }
    let mut out: Vec<SampleLookup> = vec![];
    let covered: HashSet<Vec<String>> = entries.values().map(|(jk, _)| jk.clone()).collect();
    out.extend(entries.into_values().map(|(_, e)| e));
    // new samples without any stored row: keyed by the join columns only
    let mut fresh: Vec<&Vec<String>> = new.iter().filter(|k| !covered.contains(*k)).collect();
    fresh.sort();
    for k in fresh {
        out.push(SampleLookup {
            ids: j.iter().cloned().zip(k.iter().cloned()).collect(),
            state: SampleState::New,
            cause: None,
            row: None,
            history: vec![],
        });
    }
    // looked-up samples with nothing at all
    for r in &scope.rows {
        let pairs: Vec<(String, String)> = scope
            .columns
            .iter()
            .cloned()
            .zip(r.iter().cloned())
            .collect();
        let one = IdFilter::new(scope.columns.clone(), vec![r.clone()]);
        if !out.iter().any(|s| one.matches(&s.ids)) {
            out.push(SampleLookup {
                ids: pairs,
                state: SampleState::NotStored,
                cause: None,
                row: None,
                history: vec![],
            });
        }
    }
    Ok((out, error))
}
