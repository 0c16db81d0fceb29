//! The feature graph, rebuilt from the `metaxy-system/feature_versions` system table (FORMAT.md §3.1), with
//! field-level parent resolution (§6.1) and every graph-level version recipe (§5.2).

pub mod describe;
pub mod diff;
pub mod snapshot;
pub mod spec;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::engine::error::{EngineError, Result};
use crate::engine::hashing::{python_json_dumps_sorted, Sha256Trunc};
use crate::engine::keys::{FeatureKey, FieldKey};

pub use spec::{FeatureDep, FeatureSpec, FieldDeps, FieldSpec, FieldsMapping, Lineage};

/// One pushed row of `metaxy-system/feature_versions` (FORMAT.md §3.1).
#[derive(Debug, Clone)]
pub struct PushedFeature {
    /// Project name.
    pub project: String,
    /// Feature key.
    pub feature_key: String,
    /// Stored `metaxy_feature_version`.
    pub feature_version: String,
    /// Stored `metaxy_definition_version`.
    pub definition_version: String,
    /// `recorded_at`, naive UTC, as `YYYY-MM-DDTHH:MM:SS.ffffff`.
    pub recorded_at: String,
    /// `recorded_at` in microseconds since the epoch (for ordering).
    pub recorded_at_us: i64,
    /// `feature_spec` JSON text.
    pub feature_spec: String,
    /// `feature_schema` JSON text.
    pub feature_schema: String,
    /// Python class path.
    pub feature_class_path: String,
    /// Project version of the pushed graph.
    pub project_version: String,
    /// Tags JSON text.
    pub tags: String,
}

/// A feature of a loaded graph: its spec plus what the system table says about it.
#[derive(Debug, Clone)]
pub struct FeatureDef {
    /// Parsed spec.
    pub spec: FeatureSpec,
    /// The system-table row it came from.
    pub pushed: PushedFeature,
}

/// A computed version mismatch between our recomputation and the stored value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersionMismatch {
    /// Feature key (or `<project>` for the project version).
    pub feature: String,
    /// Which version (`feature_version`, `definition_version`, `project_version`).
    pub what: String,
    /// Stored value.
    pub stored: String,
    /// Recomputed value.
    pub computed: String,
}

/// Versions computed for one feature (all truncated to `hash_truncation_length`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeatureVersions {
    /// Field versions by field key string, in spec field order.
    pub field_versions: Vec<(String, String)>,
    /// Feature version.
    pub feature_version: String,
    /// Code version (not stored by Metaxy).
    pub code_version: String,
    /// Spec version.
    pub spec_version: String,
    /// Definition version.
    pub definition_version: String,
}

/// A feature graph: the features of one pushed project version, in push order (= Python definition order).
#[derive(Debug, Clone)]
pub struct FeatureGraph {
    /// Project name.
    pub project: String,
    /// The project version these rows were pushed under.
    pub project_version: String,
    /// Features in push order.
    pub features: Vec<FeatureDef>,
    index: HashMap<FeatureKey, usize>,
    /// Recomputed versions, parallel to `features`.
    pub versions: Vec<FeatureVersions>,
    /// Recomputed project version.
    pub computed_project_version: String,
    /// Hash truncation used.
    pub truncation: usize,
    /// Parent fields per feature per field (sorted `"feat.field"` order), parallel to `features`.
    parents: Vec<Vec<Vec<(FeatureKey, FieldKey)>>>,
    /// Errors from field parent resolution, per feature (None = ok).
    pub plan_errors: Vec<Option<String>>,
    /// Feature keys the system table holds only for *other* projects (never pushed by [`Self::project`], in any
    /// version), with those projects (sorted). Filled by [`Self::from_rows`]; empty for [`Self::new`]. Lets a
    /// mutation tell "a feature of another project" from "no such feature" ([`Self::other_projects_of`]).
    pub other_project_features: BTreeMap<String, Vec<String>>,
}

/// A summary of a pushed project version (one line of `metaxy history`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// Project version.
    pub project_version: String,
    /// Earliest `recorded_at` of its rows (naive UTC, `YYYY-MM-DDTHH:MM:SS.ffffff`), as Metaxy's
    /// `read_graph_snapshots` reports it.
    pub recorded_at: String,
    /// [`Self::recorded_at`] in microseconds since the epoch.
    pub recorded_at_us: i64,
    /// Number of system-table rows pushed under this project version (Metaxy counts rows, so a feature re-pushed
    /// within the same project version counts twice; one push writes one row per feature).
    pub feature_count: usize,
}

/// Lists pushed project versions of `project` (all projects when `None`), newest first, like `metaxy history`
/// (Metaxy `SystemTableStorage.read_graph_snapshots`): one entry per project version with the earliest
/// `recorded_at` and the row count, sorted by that time descending (ties: project version ascending).
pub fn snapshots(rows: &[PushedFeature], project: Option<&str>) -> Vec<Snapshot> {
    let mut by: BTreeMap<&str, (i64, &str, usize)> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| project.is_none_or(|p| r.project == p))
    {
        let e = by.entry(&r.project_version).or_insert((i64::MAX, "", 0));
        if r.recorded_at_us < e.0 {
            e.0 = r.recorded_at_us;
            e.1 = &r.recorded_at;
        }
        e.2 += 1;
    }
    let mut out: Vec<Snapshot> = by
        .into_iter()
        .map(|(pv, (ts, rec, count))| Snapshot {
            project_version: pv.to_string(),
            recorded_at: rec.to_string(),
            recorded_at_us: ts,
            feature_count: count,
        })
        .collect();
    out.sort_by(|a, b| {
        b.recorded_at_us
            .cmp(&a.recorded_at_us)
            .then_with(|| a.project_version.cmp(&b.project_version))
    });
    out
}

/// The system-table row of `key` in project version `project_version` of `project`, as
/// [`FeatureGraph::from_rows`] picks it (the newest: a re-push under the same project version appends the changed
/// features). Its `feature_version` is the feature version Metaxy stamped into rows written under that graph.
/// `None` when the feature is not part of that version.
pub fn pushed_row<'a>(
    rows: &'a [PushedFeature],
    project: &str,
    project_version: &str,
    key: &FeatureKey,
) -> Option<&'a PushedFeature> {
    let k = key.to_string();
    rows.iter()
        .filter(|r| {
            r.project == project && r.project_version == project_version && r.feature_key == k
        })
        .max_by_key(|r| r.recorded_at_us)
}

impl FeatureGraph {
    /// Builds a graph from system-table rows.
    ///
    /// * `project`: restrict to this project (Metaxy's `project` config); `None` = the project of the newest row.
    /// * `project_version`: `None` = current graph: the newest pushed project version of the project; otherwise that
    ///   historical version (error [`EngineError::UnknownSnapshot`] if never pushed).
    ///
    /// Within the chosen project version, the newest row per feature wins (a re-push with the same project version
    /// only appends changed features). Features keep push order, which is Metaxy's definition order.
    pub fn from_rows(
        rows: &[PushedFeature],
        project: Option<&str>,
        project_version: Option<&str>,
        truncation: usize,
        store_name: &str,
    ) -> Result<Self> {
        let project = match project {
            Some(p) => p.to_string(),
            None => rows
                .iter()
                .max_by_key(|r| r.recorded_at_us)
                .map(|r| r.project.clone())
                .ok_or_else(|| EngineError::NoGraph(store_name.to_string()))?,
        };
        let proj_rows: Vec<&PushedFeature> = rows.iter().filter(|r| r.project == project).collect();
        if proj_rows.is_empty() {
            return Err(EngineError::NoGraph(store_name.to_string()));
        }
        let pv = match project_version {
            Some(v) => {
                if !proj_rows.iter().any(|r| r.project_version == v) {
                    return Err(EngineError::UnknownSnapshot(v.to_string()));
                }
                v.to_string()
            }
            None => proj_rows
                .iter()
                .max_by_key(|r| r.recorded_at_us)
                .map(|r| r.project_version.clone())
                .unwrap_or_default(),
        };
        let mut chosen: Vec<&PushedFeature> = proj_rows
            .into_iter()
            .filter(|r| r.project_version == pv)
            .collect();
        chosen.sort_by_key(|r| r.recorded_at_us);
        // newest row per feature, ordered by the first time the feature appears in this version
        let mut order: Vec<String> = Vec::new();
        let mut latest: HashMap<String, &PushedFeature> = HashMap::new();
        for r in chosen {
            if !latest.contains_key(&r.feature_key) {
                order.push(r.feature_key.clone());
            }
            latest.insert(r.feature_key.clone(), r);
        }
        let mut features = Vec::new();
        for k in order {
            let row = latest[&k];
            let spec = FeatureSpec::from_json_str(&row.feature_spec).map_err(|e| {
                EngineError::InvalidSpec {
                    feature: k.clone(),
                    message: e.to_string(),
                }
            })?;
            features.push(FeatureDef {
                spec,
                pushed: row.clone(),
            });
        }
        let own: std::collections::HashSet<&str> = rows
            .iter()
            .filter(|r| r.project == project)
            .map(|r| r.feature_key.as_str())
            .collect();
        let mut others: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| r.project != project && !own.contains(r.feature_key.as_str()))
        {
            let ps = others.entry(r.feature_key.clone()).or_default();
            if !ps.contains(&r.project) {
                ps.push(r.project.clone());
                ps.sort();
            }
        }
        let mut g = Self::new(project, pv, features, truncation)?;
        g.other_project_features = others;
        Ok(g)
    }

    /// Builds a graph from feature definitions and computes every version.
    pub fn new(
        project: String,
        project_version: String,
        features: Vec<FeatureDef>,
        truncation: usize,
    ) -> Result<Self> {
        let index = features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.spec.key.clone(), i))
            .collect();
        let mut g = FeatureGraph {
            project,
            project_version,
            features,
            index,
            versions: vec![],
            computed_project_version: String::new(),
            truncation,
            parents: vec![],
            plan_errors: vec![],
            other_project_features: BTreeMap::new(),
        };
        g.resolve_parents();
        g.compute_versions();
        Ok(g)
    }

    /// Looks a feature up by key.
    pub fn get(&self, key: &FeatureKey) -> Option<&FeatureDef> {
        self.index.get(key).map(|&i| &self.features[i])
    }

    /// Index of a feature in `features`.
    pub fn index_of(&self, key: &FeatureKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Looks a feature up, erroring with [`EngineError::UnknownFeature`].
    pub fn require(&self, key: &FeatureKey) -> Result<&FeatureDef> {
        self.get(key).ok_or_else(|| {
            EngineError::UnknownFeature(
                key.to_string(),
                self.features
                    .iter()
                    .map(|f| f.spec.key.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    /// Recomputed versions of a feature.
    pub fn versions_of(&self, key: &FeatureKey) -> Option<&FeatureVersions> {
        self.index.get(key).map(|&i| &self.versions[i])
    }

    /// The other projects that pushed `key` when this graph's project never did (see
    /// [`Self::other_project_features`]); empty otherwise.
    pub fn other_projects_of(&self, key: &FeatureKey) -> &[String] {
        self.other_project_features
            .get(&key.to_string())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The current feature version of `key` (recomputed; equals the stored one unless a mismatch is reported).
    pub fn feature_version(&self, key: &FeatureKey) -> Option<&str> {
        self.versions_of(key).map(|v| v.feature_version.as_str())
    }

    /// Parent fields of field `field` of feature `key`, sorted by `"feature.field"` (FORMAT.md §6.1).
    pub fn parent_fields(
        &self,
        key: &FeatureKey,
        field: usize,
    ) -> Result<&[(FeatureKey, FieldKey)]> {
        let i = self
            .index_of(key)
            .ok_or_else(|| EngineError::UnknownFeature(key.to_string(), String::new()))?;
        if let Some(e) = &self.plan_errors[i] {
            return Err(EngineError::Plan {
                feature: key.to_string(),
                message: e.clone(),
            });
        }
        Ok(&self.parents[i][field])
    }

    fn resolve_parents(&mut self) {
        let mut all = Vec::new();
        let mut errs = Vec::new();
        for f in &self.features {
            match self.resolve_feature_parents(&f.spec) {
                Ok(p) => {
                    all.push(p);
                    errs.push(None);
                }
                Err(e) => {
                    all.push(vec![vec![]; f.spec.fields.len()]);
                    errs.push(Some(e));
                }
            }
        }
        self.parents = all;
        self.plan_errors = errs;
    }

    fn upstream_fields(&self, key: &FeatureKey) -> std::result::Result<Vec<FieldKey>, String> {
        self.get(key)
            .map(|d| d.spec.fields.iter().map(|f| f.key.clone()).collect())
            .ok_or_else(|| format!("upstream feature {key} is not in the pushed graph"))
    }

    fn resolve_feature_parents(
        &self,
        spec: &FeatureSpec,
    ) -> std::result::Result<Vec<Vec<(FeatureKey, FieldKey)>>, String> {
        let mut out = Vec::new();
        for field in &spec.fields {
            let mut set: std::collections::BTreeSet<(String, FeatureKey, FieldKey)> =
                Default::default();
            let mut add = |feat: &FeatureKey, fld: &FieldKey| {
                set.insert((format!("{feat}.{fld}"), feat.clone(), fld.clone()));
            };
            if spec.deps.is_empty() {
                out.push(vec![]);
                continue;
            }
            match &field.deps {
                FieldDeps::All => {
                    for d in &spec.deps {
                        for uf in self.upstream_fields(&d.feature)? {
                            add(&d.feature, &uf);
                        }
                    }
                }
                FieldDeps::Explicit(list) => {
                    for (feat, fields) in list {
                        let ups = self.upstream_fields(feat)?;
                        match fields {
                            None => ups.iter().for_each(|u| add(feat, u)),
                            Some(fs) => {
                                for fk in fs {
                                    if !ups.contains(fk) {
                                        return Err(format!(
                                            "field {} depends on {feat}.{fk}, which does not exist",
                                            field.key
                                        ));
                                    }
                                    add(feat, fk);
                                }
                            }
                        }
                    }
                }
                FieldDeps::Auto => {
                    for d in &spec.deps {
                        let ups = self.upstream_fields(&d.feature)?;
                        let mapped: Vec<FieldKey> = match &d.fields_mapping {
                            FieldsMapping::All => ups.clone(),
                            FieldsMapping::None => vec![],
                            FieldsMapping::Specific { mapping } => mapping
                                .iter()
                                .filter(|(down, _)| down == &field.key)
                                .flat_map(|(_, ups_wanted)| {
                                    ups_wanted.iter().filter(|u| ups.contains(u)).cloned()
                                })
                                .collect(),
                            FieldsMapping::Default {
                                match_suffix,
                                exclude_fields,
                            } => {
                                let candidates: Vec<&FieldKey> =
                                    ups.iter().filter(|u| !exclude_fields.contains(u)).collect();
                                let matched: Vec<FieldKey> = candidates
                                    .iter()
                                    .filter(|u| {
                                        **u == &field.key
                                            || (*match_suffix && is_suffix_match(&field.key, u))
                                    })
                                    .map(|u| (*u).clone())
                                    .collect();
                                if matched.is_empty() {
                                    candidates.into_iter().cloned().collect()
                                } else {
                                    matched
                                }
                            }
                        };
                        for u in &mapped {
                            add(&d.feature, u);
                        }
                    }
                    if set.is_empty() {
                        return Err(format!(
                            "no upstream fields found for field {}: give it explicit deps or a fields mapping that matches",
                            field.key
                        ));
                    }
                }
            }
            out.push(set.into_iter().map(|(_, a, b)| (a, b)).collect());
        }
        Ok(out)
    }

    fn field_version(
        &self,
        fi: usize,
        field: usize,
        memo: &mut HashMap<(usize, usize), String>,
        depth: usize,
    ) -> String {
        if let Some(v) = memo.get(&(fi, field)) {
            return v.clone();
        }
        let f = &self.features[fi];
        let fs = &f.spec.fields[field];
        let mut h = Sha256Trunc::new(self.truncation);
        h.update(&format!("{}.{}", f.spec.key, fs.key))
            .update(&fs.code_version);
        if depth < 10_000 {
            for (pk, pf) in &self.parents[fi][field] {
                if let Some(&pi) = self.index.get(pk) {
                    if let Some(pfi) = self.features[pi]
                        .spec
                        .fields
                        .iter()
                        .position(|x| &x.key == pf)
                    {
                        let v = self.field_version(pi, pfi, memo, depth + 1);
                        h.update(&v);
                    }
                }
            }
        }
        let v = h.finish();
        memo.insert((fi, field), v.clone());
        v
    }

    fn compute_versions(&mut self) {
        let mut memo = HashMap::new();
        let mut versions = Vec::new();
        for fi in 0..self.features.len() {
            let spec = &self.features[fi].spec;
            let field_versions: Vec<(String, String)> = (0..spec.fields.len())
                .map(|j| {
                    (
                        spec.fields[j].key.to_string(),
                        self.field_version(fi, j, &mut memo, 0),
                    )
                })
                .collect();
            let mut sorted = field_versions.clone();
            sorted.sort();
            let mut h = Sha256Trunc::new(self.truncation);
            for (k, v) in &sorted {
                h.update(k).update(v);
            }
            let feature_version = h.finish();
            let mut cv: Vec<(String, String)> = spec
                .fields
                .iter()
                .map(|f| (f.key.to_string(), f.code_version.clone()))
                .collect();
            cv.sort();
            let mut h = Sha256Trunc::new(self.truncation);
            for (k, v) in &cv {
                h.update(k).update(v);
            }
            let code_version = h.finish();
            let mut h = Sha256Trunc::new(self.truncation);
            h.update(&python_json_dumps_sorted(&spec.raw));
            let spec_version = h.finish();
            let schema: Value = serde_json::from_str(&self.features[fi].pushed.feature_schema)
                .unwrap_or(Value::Null);
            let mut h = Sha256Trunc::new(self.truncation);
            h.update(&spec_version)
                .update(&python_json_dumps_sorted(&schema));
            let definition_version = h.finish();
            versions.push(FeatureVersions {
                field_versions,
                feature_version,
                code_version,
                spec_version,
                definition_version,
            });
        }
        let mut keyed: Vec<(&FeatureKey, &str)> = self
            .features
            .iter()
            .zip(&versions)
            .map(|(f, v)| (&f.spec.key, v.definition_version.as_str()))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        self.computed_project_version = if keyed.is_empty() {
            "empty".to_string()
        } else {
            let mut h = Sha256Trunc::new(self.truncation);
            for (k, d) in keyed {
                h.update(&k.to_string()).update(d);
            }
            h.finish()
        };
        self.versions = versions;
    }

    /// Compares recomputed feature, definition and project versions with the stored ones.
    pub fn mismatches(&self) -> Vec<VersionMismatch> {
        let mut out = Vec::new();
        for (f, v) in self.features.iter().zip(&self.versions) {
            if f.pushed.feature_version != v.feature_version {
                out.push(VersionMismatch {
                    feature: f.spec.key.to_string(),
                    what: "feature_version".into(),
                    stored: f.pushed.feature_version.clone(),
                    computed: v.feature_version.clone(),
                });
            }
            if f.pushed.definition_version != v.definition_version {
                out.push(VersionMismatch {
                    feature: f.spec.key.to_string(),
                    what: "definition_version".into(),
                    stored: f.pushed.definition_version.clone(),
                    computed: v.definition_version.clone(),
                });
            }
        }
        if self.computed_project_version != self.project_version {
            out.push(VersionMismatch {
                feature: format!("<{}>", self.project),
                what: "project_version".into(),
                stored: self.project_version.clone(),
                computed: self.computed_project_version.clone(),
            });
        }
        out
    }

    /// Keys in topological order (parents before children; ties in push order).
    pub fn topological_order(&self) -> Vec<FeatureKey> {
        let mut seen = vec![false; self.features.len()];
        let mut out = Vec::new();
        fn visit(g: &FeatureGraph, i: usize, seen: &mut Vec<bool>, out: &mut Vec<FeatureKey>) {
            if seen[i] {
                return;
            }
            seen[i] = true;
            for d in &g.features[i].spec.deps {
                if let Some(&j) = g.index.get(&d.feature) {
                    visit(g, j, seen, out);
                }
            }
            out.push(g.features[i].spec.key.clone());
        }
        for i in 0..self.features.len() {
            visit(self, i, &mut seen, &mut out);
        }
        out
    }

    /// Features that depend directly on `key`.
    pub fn children(&self, key: &FeatureKey) -> Vec<FeatureKey> {
        self.features
            .iter()
            .filter(|f| f.spec.deps.iter().any(|d| &d.feature == key))
            .map(|f| f.spec.key.clone())
            .collect()
    }
}

fn is_suffix_match(field: &FieldKey, upstream: &FieldKey) -> bool {
    let (a, b) = (field.parts(), upstream.parts());
    if a.len() == 1 && b.len() > 1 {
        return a[0] == b[b.len() - 1];
    }
    a.len() <= b.len() && b[b.len() - a.len()..] == *a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_crop_spec() {
        let s = r#"{"key": "example/crop", "id_columns": ["sample_uid"], "deps": [{"feature": "example/video", "select": null, "rename": null, "fields_mapping": {"mapping": {"type": "default", "match_suffix": false, "exclude_fields": []}}, "sql_filters": null, "lineage": {"relationship": {"type": "1:1"}}, "optional": false}], "fields": [{"key": "audio", "code_version": "1", "deps": [{"feature": "example/video", "fields": ["audio"]}]}, {"key": "frames", "code_version": "1", "deps": [{"feature": "example/video", "fields": ["frames"]}]}], "metadata": {}, "description": null}"#;
        let spec = FeatureSpec::from_json_str(s).unwrap();
        assert_eq!(spec.deps.len(), 1);
        assert_eq!(spec.deps[0].lineage, Lineage::Identity);
        assert!(matches!(spec.fields[0].deps, FieldDeps::Explicit(_)));
    }

    #[test]
    fn suffix_matching_follows_metaxy() {
        let k = |s: &str| FeatureKey::parse(s).unwrap();
        assert!(is_suffix_match(&k("french"), &k("audio/french")));
        assert!(!is_suffix_match(&k("audio/french"), &k("french")));
        assert!(is_suffix_match(&k("a/french"), &k("audio/a/french")));
    }
}
