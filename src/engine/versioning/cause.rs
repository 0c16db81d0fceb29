//! Why a sample is stale: for every field whose stored provenance differs from the recomputed one, which upstream
//! `feature.field` data versions changed since the row was written (FORMAT.md §5.3: a field's provenance hashes its
//! key, code version and its parent fields' data versions, so a changed provenance means a changed parent data
//! version when the code version is the same).
//!
//! Metaxy stores no upstream data versions in a row, only the hash. The cause is therefore found by search: the
//! upstream tables keep the sample's earlier rows (append-only history, same feature version), and the combination
//! of earlier and current parent data versions that reproduces the stored hash names the parents that changed. A
//! sample whose stored hash cannot be reproduced from the stored history (hard-deleted history, N:1 aggregation
//! lineage, too many combinations) is reported as unresolved, never guessed.

use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::graph::{FeatureGraph, Lineage};
use crate::engine::hashing::hash_str;
use crate::engine::json::{any_to_cell, any_to_json, by_field_value};
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::store::MetadataStore;
use crate::engine::versioning::resolve::Increment;

/// Most parent-value combinations tried per field of a sample.
pub const MAX_COMBINATIONS: usize = 256;

/// One upstream field whose data version changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParentChange {
    /// `feature.field` of the parent, e.g. `example/video.audio`.
    pub parent: String,
    /// The data version the stored row was computed from.
    pub was: String,
    /// The current data version.
    pub now: String,
}

/// Why one field of a stale sample changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldCause {
    /// Field struct key.
    pub field: String,
    /// Stored provenance of the field.
    pub stored: Option<String>,
    /// Recomputed provenance.
    pub expected: Option<String>,
    /// The parents that changed (empty when unresolved).
    pub changed: Vec<ParentChange>,
    /// Whether `changed` was proven by reproducing the stored hash.
    pub resolved: bool,
}

/// The causes of one stale sample.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SampleCause {
    /// Join column values.
    pub key: Vec<String>,
    /// One entry per field whose provenance changed, in spec order.
    pub fields: Vec<FieldCause>,
}

impl SampleCause {
    /// The cause label used for aggregation: the changed parents (`example/video.audio`, several joined with
    /// ` + `), `unresolved`, or `stale-if predicate` when no field provenance changed.
    pub fn label(&self) -> String {
        if self.fields.is_empty() {
            return "a staleness predicate (provenance unchanged)".into();
        }
        if self.fields.iter().any(|f| !f.resolved) {
            return "unresolved (upstream history not available)".into();
        }
        let mut parents: Vec<String> = self
            .fields
            .iter()
            .flat_map(|f| f.changed.iter().map(|c| c.parent.clone()))
            .collect();
        parents.sort();
        parents.dedup();
        if parents.is_empty() {
            return "code version changed".into();
        }
        parents.join(" + ")
    }
}

/// Stale samples grouped by cause, most frequent first: `(label, count)`.
pub fn summarize(causes: &[SampleCause]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for c in causes {
        *m.entry(c.label()).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// `"38 stale: 30 because example/video.audio changed, 8 because example/video.frames changed"`.
pub fn summary_line(causes: &[SampleCause]) -> String {
    let parts: Vec<String> = summarize(causes)
        .into_iter()
        .map(|(label, n)| {
            if label.contains('(') || label == "code version changed" {
                format!("{n}: {label}")
            } else {
                format!("{n} because {label} changed")
            }
        })
        .collect();
    format!("{} stale: {}", causes.len(), parts.join(", "))
}

fn key_of(df: &DataFrame, cols_: &[String], row: usize) -> Option<Vec<String>> {
    cols_
        .iter()
        .map(|c| {
            df.column(c)
                .ok()
                .and_then(|s| s.get(row).ok())
                .map(|v| any_to_cell(&v))
        })
        .collect()
}

/// Per upstream field struct key: per sample key, the current data version and every earlier one.
struct Candidates {
    current: HashMap<String, HashMap<Vec<String>, String>>,
    history: HashMap<String, HashMap<Vec<String>, Vec<String>>>,
}

fn dv_by_field(df: &DataFrame, row: usize) -> serde_json::Value {
    df.column(cols::DATA_VERSION_BY_FIELD)
        .ok()
        .and_then(|s| s.get(row).ok())
        .map(|v| any_to_json(&v))
        .unwrap_or(serde_json::Value::Null)
}

fn candidates(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    up: &FeatureKey,
    key_cols: &[String],
    renames: &[(String, String)],
    wanted: &HashSet<Vec<String>>,
) -> Result<Option<Candidates>> {
    let rename = |c: &str| -> String {
        renames
            .iter()
            .find(|(_, n)| n == c)
            .map(|(o, _)| o.clone())
            .unwrap_or_else(|| c.to_string())
    };
    let up_cols: Vec<String> = key_cols.iter().map(|c| rename(c)).collect();
    let Some(def) = graph.get(up) else {
        return Ok(None);
    };
    let fields: Vec<String> = def.spec.fields.iter().map(|f| f.key.struct_key()).collect();
    let mut out = Candidates {
        current: HashMap::new(),
        history: HashMap::new(),
    };
    let cur = read_feature(store, graph, up, &ReadOptions::default())?;
    let hist = read_feature(
        store,
        graph,
        up,
        &ReadOptions {
            with_sample_history: true,
            include_soft_deleted: true,
            ..Default::default()
        },
    )?;
    let (Some(cur), Some(hist)) = (cur, hist) else {
        return Ok(None);
    };
    for (df, is_current) in [(&cur, true), (&hist, false)] {
        for row in 0..df.height() {
            let Some(k) = key_of(df, &up_cols, row) else {
                continue;
            };
            if !wanted.contains(&k) {
                continue;
            }
            let dv = dv_by_field(df, row);
            for f in &fields {
                let Some(v) = by_field_value(&dv, f) else {
                    continue;
                };
                if is_current {
                    out.current
                        .entry(f.clone())
                        .or_default()
                        .insert(k.clone(), v);
                } else {
                    let e = out
                        .history
                        .entry(f.clone())
                        .or_default()
                        .entry(k.clone())
                        .or_default();
                    if !e.contains(&v) {
                        e.push(v);
                    }
                }
            }
        }
    }
    Ok(Some(out))
}

/// The causes of every stale sample of `inc` (`limit`: at most that many samples, in the order of `inc.stale`).
///
/// Errors: reading an upstream feature failed.
pub fn stale_causes(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    inc: &Increment,
    limit: Option<usize>,
) -> Result<Vec<SampleCause>> {
    let key = &inc.feature;
    let def = graph.require(key)?;
    let algo = store.hash_algorithm();
    let trunc = graph.truncation;
    let diffs = inc.stale_diffs(limit)?;
    if diffs.is_empty() {
        return Ok(vec![]);
    }
    let key_cols = inc.key_columns(&inc.stale);
    let wanted: HashSet<Vec<String>> = diffs.iter().map(|d| d.expected.key.clone()).collect();
    // candidate data versions per dep, looked up by the join columns: identity lineage (ids renamed) and 1:N
    // expansion (the parent's ids); N:1 aggregation hashes a whole group of parent rows and is left unresolved
    let mut per_dep: HashMap<String, (bool, Option<Candidates>)> = HashMap::new();
    for dep in &def.spec.deps {
        let c = if matches!(dep.lineage, Lineage::Identity | Lineage::Expansion { .. }) {
            candidates(store, graph, &dep.feature, &key_cols, &dep.rename, &wanted)?
        } else {
            None
        };
        per_dep.insert(dep.feature.to_string(), (dep.optional, c));
    }
    let mut parents_of: Vec<Vec<(FeatureKey, crate::engine::keys::FieldKey)>> = vec![];
    for fi in 0..def.spec.fields.len() {
        parents_of.push(graph.parent_fields(key, fi)?.to_vec());
    }
    let mut out = Vec::with_capacity(diffs.len());
    for d in diffs {
        let stored_fields = d.stored.as_ref().map(|s| s.fields.clone());
        let mut fields = vec![];
        for (fi, f) in def.spec.fields.iter().enumerate() {
            let expected = d.expected.fields.get(fi).cloned().flatten();
            let stored = stored_fields
                .as_ref()
                .and_then(|s| s.get(fi).cloned().flatten());
            if stored == expected {
                continue;
            }
            let mut cause = FieldCause {
                field: f.key.struct_key(),
                stored: stored.clone(),
                expected,
                changed: vec![],
                resolved: false,
            };
            // per parent: (label, current value, candidates with the current first)
            let mut options: Vec<(String, String, Vec<String>)> = vec![];
            let mut ok = stored.is_some();
            for (pk, pf) in &parents_of[fi] {
                let Some((optional, Some(c))) = per_dep.get(&pk.to_string()) else {
                    ok = false;
                    break;
                };
                let sk = pf.struct_key();
                let now = c
                    .current
                    .get(&sk)
                    .and_then(|m| m.get(&d.expected.key))
                    .cloned()
                    .or_else(|| optional.then(String::new));
                let Some(now) = now else {
                    ok = false;
                    break;
                };
                let mut cands = vec![now.clone()];
                for v in c
                    .history
                    .get(&sk)
                    .and_then(|m| m.get(&d.expected.key))
                    .into_iter()
                    .flatten()
                {
                    if !cands.contains(v) {
                        cands.push(v.clone());
                    }
                }
                if *optional && !cands.iter().any(String::is_empty) {
                    cands.push(String::new());
                }
                options.push((format!("{pk}.{pf}"), now, cands));
            }
            let combos: usize = options.iter().map(|o| o.2.len()).product();
            if ok && combos <= MAX_COMBINATIONS {
                let target = stored.clone().unwrap_or_default();
                let mut idx = vec![0usize; options.len()];
                'search: loop {
                    let mut parts = vec![f.key.to_string(), f.code_version.clone()];
                    for (o, &i) in options.iter().zip(&idx) {
                        parts.push(o.0.clone());
                        parts.push(o.2[i].clone());
                    }
                    if hash_str(algo, &parts.join("|"), trunc)? == target {
                        cause.changed = options
                            .iter()
                            .zip(&idx)
                            .filter(|(o, &i)| o.2[i] != o.1)
                            .map(|(o, &i)| ParentChange {
                                parent: o.0.clone(),
                                was: o.2[i].clone(),
                                now: o.1.clone(),
                            })
                            .collect();
                        cause.resolved = true;
                        break 'search;
                    }
                    // next combination (odometer)
                    let mut p = 0;
                    loop {
                        if p == idx.len() {
                            break 'search;
                        }
                        idx[p] += 1;
                        if idx[p] < options[p].2.len() {
                            break;
                        }
                        idx[p] = 0;
                        p += 1;
                    }
                }
            }
            fields.push(cause);
        }
        out.push(SampleCause {
            key: d.expected.key,
            fields,
        });
    }
    Ok(out)
}

/// The cause cell of a stale sample: each changed parent as `feature.field: was → now` (`""` shown as `∅`), or
/// why the cause is unknown.
pub fn cause_text(c: &SampleCause) -> String {
    let mut parts = vec![];
    for f in &c.fields {
        if !f.resolved {
            parts.push(format!("{}: unresolved", f.field));
            continue;
        }
        for ch in &f.changed {
            let show = |v: &str| {
                if v.is_empty() {
                    "∅".to_string()
                } else {
                    v.to_string()
                }
            };
            let p = format!("{}: {} → {}", ch.parent, show(&ch.was), show(&ch.now));
            if !parts.contains(&p) {
                parts.push(p);
            }
        }
    }
    if parts.is_empty() {
        c.label()
    } else {
        parts.join("; ")
    }
}
