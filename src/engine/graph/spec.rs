//! A feature's spec as the system table stores it (`feature_spec` JSON, FORMAT.md §3.1): keys, deps with their
//! lineage, renames and filters, fields with their field-level deps, parsed into [`FeatureSpec`].

use serde_json::Value;

use crate::engine::error::{EngineError, Result};
use crate::engine::keys::{FeatureKey, FieldKey};

/// How a downstream field maps onto an upstream feature's fields when it has no explicit deps
/// (Metaxy `FieldsMapping`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldsMapping {
    /// Same key (or suffix match), minus `exclude_fields`; all non-excluded upstream fields if nothing matches.
    Default {
        match_suffix: bool,
        exclude_fields: Vec<FieldKey>,
    },
    /// `mapping[field] ∩ upstream fields`.
    Specific {
        mapping: Vec<(FieldKey, Vec<FieldKey>)>,
    },
    /// Every upstream field.
    All,
    /// No upstream field.
    None,
}

/// Lineage relationship of a dependency (Metaxy `LineageRelationship`).
#[derive(Debug, Clone, PartialEq)]
pub enum Lineage {
    /// `1:1`.
    Identity,
    /// `N:1`: upstream rows grouped by `on` (default: the downstream id columns).
    Aggregation { on: Option<Vec<String>> },
    /// `1:N`: one upstream (parent) row expands into many downstream rows; `on` = parent id columns.
    Expansion {
        on: Vec<String>,
        id_generation_pattern: Option<String>,
    },
}

/// One entry of `FeatureSpec.deps` (Metaxy `FeatureDep`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDep {
    /// Upstream feature.
    pub feature: FeatureKey,
    /// `None` = all columns; `Some([])` = only id + system columns.
    pub select: Option<Vec<String>>,
    /// Column renames `old -> new`, in spec order.
    pub rename: Vec<(String, String)>,
    /// Automatic field mapping.
    pub fields_mapping: FieldsMapping,
    /// SQL WHERE fragments applied to the upstream rows (after rename).
    pub sql_filters: Vec<String>,
    /// Lineage relationship.
    pub lineage: Lineage,
    /// Optional deps are left-joined (full outer when all deps are optional); missing values hash as `""`.
    pub optional: bool,
}

/// Explicit field dependencies of a field (Metaxy `FieldSpec.deps`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldDeps {
    /// `[]`: use the feature deps' fields mappings.
    Auto,
    /// `"__METAXY_ALL_DEP__"`: all fields of all deps.
    All,
    /// Explicit `(feature, fields)` list; `fields = None` means all fields of that feature.
    Explicit(Vec<(FeatureKey, Option<Vec<FieldKey>>)>),
}

/// A field of a feature (Metaxy `FieldSpec`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// Field key.
    pub key: FieldKey,
    /// Code version (default `__metaxy_initial__`).
    pub code_version: String,
    /// Field-level deps.
    pub deps: FieldDeps,
}

/// A feature definition parsed from the stored `feature_spec` JSON (Metaxy `FeatureSpec`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// Feature key.
    pub key: FeatureKey,
    /// Id columns identifying a sample.
    pub id_columns: Vec<String>,
    /// Upstream deps in spec order.
    pub deps: Vec<FeatureDep>,
    /// Fields in spec order (this is also the struct member order of computed `*_by_field` columns).
    pub fields: Vec<FieldSpec>,
    /// Free-form metadata.
    pub metadata: Value,
    /// Docstring.
    pub description: Option<String>,
    /// The parsed JSON as stored (key order preserved), used for the spec version.
    pub raw: Value,
}

const ALL_DEP: &str = "__METAXY_ALL_DEP__";

fn spec_err(feature: &str, message: impl Into<String>) -> EngineError {
    EngineError::InvalidSpec {
        feature: feature.to_string(),
        message: message.into(),
    }
}

fn str_list(v: &Value, feature: &str, what: &str) -> Result<Vec<String>> {
    v.as_array()
        .ok_or_else(|| spec_err(feature, format!("{what} must be a list")))?
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| spec_err(feature, format!("{what} must hold strings")))
        })
        .collect()
}

fn opt_str_list(v: Option<&Value>, feature: &str, what: &str) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => str_list(v, feature, what).map(Some),
    }
}

fn key_of(v: &Value, feature: &str) -> Result<FeatureKey> {
    match v {
        Value::String(s) => FeatureKey::parse(s).map_err(|e| spec_err(feature, e.to_string())),
        Value::Array(_) => {
            let parts = str_list(v, feature, "key")?;
            FeatureKey::from_parts(parts).map_err(|e| spec_err(feature, e))
        }
        _ => Err(spec_err(feature, "key must be a string or a list of parts")),
    }
}

impl FeatureSpec {
    /// Parses the `feature_spec` JSON text of a system-table row (grammar in FORMAT.md §3.1).
    pub fn from_json_str(text: &str) -> Result<Self> {
        let raw: Value = serde_json::from_str(text)?;
        Self::from_json(raw)
    }

    /// Parses an already decoded `feature_spec` value.
    pub fn from_json(raw: Value) -> Result<Self> {
        let name = raw
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("<unknown>")
            .to_string();
        let key = key_of(
            raw.get("key")
                .ok_or_else(|| spec_err(&name, "missing key"))?,
            &name,
        )?;
        let id_columns = str_list(
            raw.get("id_columns").unwrap_or(&Value::Array(vec![])),
            &name,
            "id_columns",
        )?;
        let mut deps = Vec::new();
        for d in raw
            .get("deps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            deps.push(parse_dep(&d, &name)?);
        }
        let mut fields = Vec::new();
        for f in raw
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let fkey = key_of(
                f.get("key")
                    .ok_or_else(|| spec_err(&name, "field without key"))?,
                &name,
            )?;
            let code_version = match f.get("code_version") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "__metaxy_initial__".to_string(),
                Some(other) => other.to_string(),
            };
            let deps = match f.get("deps") {
                None | Some(Value::Null) => FieldDeps::Auto,
                Some(Value::String(s)) if s == ALL_DEP => FieldDeps::All,
                Some(Value::Array(a)) if a.is_empty() => FieldDeps::Auto,
                Some(Value::Array(a)) => {
                    let mut out = Vec::new();
                    for fd in a {
                        let feat = key_of(
                            fd.get("feature")
                                .ok_or_else(|| spec_err(&name, "field dep without feature"))?,
                            &name,
                        )?;
                        let fields = match fd.get("fields") {
                            Some(Value::String(s)) if s == ALL_DEP => None,
                            None | Some(Value::Null) => None,
                            Some(Value::Array(fs)) => {
                                let mut keys = Vec::new();
                                for x in fs {
                                    keys.push(key_of(x, &name)?);
                                }
                                Some(keys)
                            }
                            Some(_) => {
                                return Err(spec_err(
                                    &name,
                                    "field dep `fields` must be a list or __METAXY_ALL_DEP__",
                                ))
                            }
                        };
                        out.push((feat, fields));
                    }
                    FieldDeps::Explicit(out)
                }
                Some(_) => {
                    return Err(spec_err(
                        &name,
                        "field `deps` must be a list or __METAXY_ALL_DEP__",
                    ))
                }
            };
            fields.push(FieldSpec {
                key: fkey,
                code_version,
                deps,
            });
        }
        if fields.is_empty() {
            return Err(spec_err(&name, "feature has no fields"));
        }
        Ok(FeatureSpec {
            key,
            id_columns,
            deps,
            fields,
            metadata: raw.get("metadata").cloned().unwrap_or(Value::Null),
            description: raw
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            raw,
        })
    }

    /// Whether the feature is a root feature (no deps).
    pub fn is_root(&self) -> bool {
        self.deps.is_empty()
    }

    /// The dep on `key`, if any.
    pub fn dep(&self, key: &FeatureKey) -> Option<&FeatureDep> {
        self.deps.iter().find(|d| &d.feature == key)
    }
}

fn parse_dep(d: &Value, name: &str) -> Result<FeatureDep> {
    let feature = key_of(
        d.get("feature")
            .ok_or_else(|| spec_err(name, "dep without feature"))?,
        name,
    )?;
    let select = opt_str_list(d.get("select"), name, "select")?;
    let rename = match d.get("rename") {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_str()
                        .ok_or_else(|| spec_err(name, "rename values must be strings"))?
                        .to_string(),
                ))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(spec_err(name, "rename must be an object")),
    };
    let mapping = d
        .get("fields_mapping")
        .and_then(|m| m.get("mapping"))
        .cloned()
        .unwrap_or(Value::Null);
    let fields_mapping = match mapping
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("default")
    {
        "default" => FieldsMapping::Default {
            match_suffix: mapping
                .get("match_suffix")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            exclude_fields: match mapping.get("exclude_fields") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| key_of(x, name))
                    .collect::<Result<Vec<_>>>()?,
                _ => vec![],
            },
        },
        "specific" => {
            let mut out = Vec::new();
            if let Some(Value::Object(m)) = mapping.get("mapping") {
                for (down, ups) in m {
                    let down =
                        FeatureKey::parse(down).map_err(|e| spec_err(name, e.to_string()))?;
                    let ups = ups
                        .as_array()
                        .ok_or_else(|| spec_err(name, "specific mapping values must be lists"))?
                        .iter()
                        .map(|u| key_of(u, name))
                        .collect::<Result<Vec<_>>>()?;
                    out.push((down, ups));
                }
            }
            FieldsMapping::Specific { mapping: out }
        }
        "all" => FieldsMapping::All,
        "none" => FieldsMapping::None,
        other => {
            return Err(spec_err(
                name,
                format!("unknown fields_mapping type {other:?}"),
            ))
        }
    };
    let sql_filters = opt_str_list(d.get("sql_filters"), name, "sql_filters")?.unwrap_or_default();
    let rel = d
        .get("lineage")
        .and_then(|l| l.get("relationship"))
        .cloned()
        .unwrap_or(Value::Null);
    let lineage = match rel.get("type").and_then(Value::as_str).unwrap_or("1:1") {
        "1:1" => Lineage::Identity,
        "N:1" => Lineage::Aggregation {
            on: opt_str_list(rel.get("on"), name, "lineage on")?,
        },
        "1:N" => Lineage::Expansion {
            on: opt_str_list(rel.get("on"), name, "lineage on")?.unwrap_or_default(),
            id_generation_pattern: rel
                .get("id_generation_pattern")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        other => return Err(spec_err(name, format!("unknown lineage type {other:?}"))),
    };
    Ok(FeatureDep {
        feature,
        select,
        rename,
        fields_mapping,
        sql_filters,
        lineage,
        optional: d.get("optional").and_then(Value::as_bool).unwrap_or(false),
    })
}
