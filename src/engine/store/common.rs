//! Helpers shared by the store backends: system-table decoding, local paths, `storage_options`, remote URIs and
//! the keyset pick over an id-order index. Backends import these from here, never from the registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::graph::PushedFeature;
use crate::engine::store::api::KeyRange;

/// Decodes system-table rows (any backend) into [`PushedFeature`]s.
pub fn pushed_rows_from_df(df: &DataFrame, table: &str) -> Result<Vec<PushedFeature>> {
    let corrupt = |m: String| EngineError::CorruptTable {
        table: table.to_string(),
        message: m,
    };
    let s = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df
            .column(name)
            .map_err(|_| corrupt(format!("missing column {name}")))?;
        let c = c
            .cast(&DataType::String)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(c.str()
            .map_err(|e| corrupt(e.to_string()))?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let rec = df
        .column("recorded_at")
        .map_err(|_| corrupt("missing column recorded_at".into()))?;
    let rec_us: Vec<Option<i64>> = match rec.dtype() {
        DataType::Datetime(tu, _) => {
            let phys = rec
                .cast(&DataType::Int64)
                .map_err(|e| corrupt(e.to_string()))?;
            let mul = match tu {
                TimeUnit::Nanoseconds => 1,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => 1000,
            };
            let div = if matches!(tu, TimeUnit::Nanoseconds) {
                1000
            } else {
                1
            };
            phys.i64()
                .map_err(|e| corrupt(e.to_string()))?
                .iter()
                .map(|v| v.map(|x| x * mul / div))
                .collect()
        }
        other => {
            return Err(corrupt(format!(
                "recorded_at has type {other}, expected a timestamp"
            )))
        }
    };
    let (project, fk, fv, dv, spec, schema, cls, pv, tags) = (
        s("project")?,
        s("feature_key")?,
        s("metaxy_feature_version")?,
        s("metaxy_definition_version")?,
        s("feature_spec")?,
        s("feature_schema")?,
        s("feature_class_path")?,
        s("metaxy_project_version")?,
        s("tags").unwrap_or_else(|_| vec![None; df.height()]),
    );
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let us = rec_us[i].unwrap_or(0);
        let recorded_at = chrono::DateTime::from_timestamp_micros(us)
            .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
            .unwrap_or_default();
        out.push(PushedFeature {
            project: project[i].clone().unwrap_or_default(),
            feature_key: fk[i]
                .clone()
                .ok_or_else(|| corrupt(format!("row {i} has no feature_key")))?,
            feature_version: fv[i].clone().unwrap_or_default(),
            definition_version: dv[i].clone().unwrap_or_default(),
            recorded_at,
            recorded_at_us: us,
            feature_spec: spec[i]
                .clone()
                .ok_or_else(|| corrupt(format!("row {i} has no feature_spec")))?,
            feature_schema: schema[i].clone().unwrap_or_else(|| "null".into()),
            feature_class_path: cls[i].clone().unwrap_or_default(),
            project_version: pv[i].clone().unwrap_or_default(),
            tags: tags[i].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Resolves a store path the way Metaxy does: relative paths against the process CWD, not the config file.
pub fn resolve_local_path(location: &str, cwd: &Path) -> PathBuf {
    let stripped = location
        .strip_prefix("file://")
        .or_else(|| location.strip_prefix("local://"))
        .unwrap_or(location);
    let p = Path::new(stripped);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Decodes a `storage_options` table (Delta `storage_options`, LanceDB `connect_kwargs.storage_options`) into the
/// string map delta-rs and lance take; non-string values are rendered as JSON (`true`, `3`).
pub fn storage_options(v: Option<&serde_json::Value>) -> HashMap<String, String> {
    v.and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Opens a configured store read-only and counts its feature tables (the system table excluded): whether the
/// store is reachable, for the TUI's stores screen. Errors as [`open_store`] and [`MetadataStore::list_tables`].

/// Whether `location` is an object-store URI (`s3://`, `gs://`, `az://`, `db://`, ...) rather than a local path
/// (plain, `file://` or `local://`).
pub fn is_remote(location: &str) -> bool {
    match location.split_once("://") {
        Some((scheme, _)) => !matches!(scheme, "file" | "local"),
        None => false,
    }
}


/// The entries of an id-order index (`index`: the id columns plus a storage-position column, sorted by the ids
/// then the position) that a keyset scan `range` asks for: beyond `range.bound`, at most `range.limit`, in the
/// scan's order (descending: reversed). Shared by the backends without an ordered scan of their own (Delta,
/// LanceDB), which then fetch the rows at those positions.
pub(crate) fn pick_from_index(index: &DataFrame, range: &KeyRange<'_>) -> Result<DataFrame> {
    use polars::prelude::*;
    let mut lf = index.clone().lazy();
    if let Some(b) = range.bound {
        // lexicographic (a, b) > (x, y): a > x OR (a = x AND b > y)
        let mut cond: Option<Expr> = None;
        for c in range.id_columns.iter().rev() {
            let v = lit(b.column(c)?.as_materialized_series().clone());
            let beyond = if range.descending {
                col(c.as_str()).lt(v.clone())
            } else {
                col(c.as_str()).gt(v.clone())
            };
            cond = Some(match cond {
                None => beyond,
                Some(rest) => beyond.or(col(c.as_str()).eq(v).and(rest)),
            });
        }
        if let Some(c) = cond {
            lf = lf.filter(c);
        }
    }
    Ok(if range.descending {
        lf.tail(range.limit as IdxSize).collect()?.reverse()
    } else {
        lf.limit(range.limit as IdxSize).collect()?
    })
}

