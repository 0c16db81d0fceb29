//! Metaxy's `write()` preparation (`MetadataStore._add_system_columns` + `_validate_schema`, FORMAT.md §4.1, §7.2):
//! turns a frame of user rows into the exact rows Metaxy would append, system columns filled in.
//!
//! The backend append itself is [`crate::engine::store::MetadataStore::append`]; this module is pure (frame in,
//! frame out) so the TUI can preview exactly what will be written.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::engine::config::HashAlgorithm;
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::has_column;
use crate::engine::graph::FeatureGraph;
use crate::engine::hashing::{check_algorithm, hash_expr};
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::versioning::samples::RowOrigin;

/// Options of one write (Metaxy `write(feature, df, materialization_id=None, preserve_feature_version=False)`).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `metaxy_materialization_id` of every written row (Metaxy overwrites the column with this value or the
    /// store's default, null).
    pub materialization_id: Option<String>,
    /// Keep the frame's `metaxy_feature_version` / `metaxy_project_version` when both are present (rebases,
    /// copies) instead of stamping the current graph's.
    pub preserve_feature_version: bool,
    /// A soft delete is in progress: keep the rows' `metaxy_updated_at` (Metaxy `_soft_delete_in_progress`).
    pub keep_updated_at: bool,
    /// Where the rows came from (a file and its lines), to name a bad row in validation errors.
    pub origin: RowOrigin,
}

/// The transaction timestamp of one write/delete call (Metaxy `_shared_transaction_timestamp`): `now` in UTC,
/// truncated to microseconds (what every backend stores).
pub fn transaction_timestamp() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A literal `Datetime(us, UTC)` expression for `ts`.
pub fn timestamp_lit(ts: DateTime<Utc>) -> Expr {
    lit(ts.timestamp_micros()).cast(DataType::Datetime(
        TimeUnit::Microseconds,
        Some(TimeZone::UTC),
    ))
}

fn schema_err(key: &FeatureKey, m: impl Into<String>) -> EngineError {
    EngineError::Schema {
        feature: key.to_string(),
        message: m.into(),
    }
}

/// `H(join("|", struct[k] for k in sorted(spec field struct keys)))`: Metaxy's `hash_struct_version_column`.
fn struct_hash(struct_col: &str, keys: &[String], algo: HashAlgorithm, trunc: usize) -> Expr {
    let mut keys = keys.to_vec();
    keys.sort();
    let parts: Vec<Expr> = keys
        .iter()
        .map(|k| {
            col(struct_col)
                .struct_()
                .field_by_name(k)
                .cast(DataType::String)
        })
        .collect();
    hash_expr(concat_str(parts, "|", false), algo, trunc)
}

/// Fills the system columns of `df` exactly as Metaxy's `write()` does before appending to `key`'s table:
///
/// - `metaxy_provenance_by_field` is required (a struct holding every field of the feature);
/// - `metaxy_provenance` is computed from the struct only when missing;
/// - `metaxy_feature_version` / `metaxy_project_version` are the graph's, unless `preserve_feature_version` and
///   both are present;
/// - `metaxy_created_at` := `ts` when missing; `metaxy_updated_at` := `ts` unless `keep_updated_at`;
///   `metaxy_deleted_at` := null when missing; `metaxy_materialization_id` := the option (null by default);
/// - `metaxy_data_version_by_field` missing: copy of the provenance struct, and `metaxy_data_version` := provenance
///   (a given data version is overwritten); present: null rows filled from provenance, and `metaxy_data_version`
///   computed from it when missing or null rows filled from provenance when present.
///
/// Errors: [`EngineError::Schema`] (Metaxy `MetadataSchemaError`) when the provenance struct is missing, is not a
/// struct, lacks a field of the feature, or an id column is missing; [`EngineError::UnknownFeature`].
pub fn add_system_columns(
    df: DataFrame,
    graph: &FeatureGraph,
    key: &FeatureKey,
    algo: HashAlgorithm,
    ts: DateTime<Utc>,
    opts: &WriteOptions,
) -> Result<DataFrame> {
    check_algorithm(algo)?;
    let def = graph.require(key)?;
    let trunc = graph.truncation;
    let field_keys: Vec<String> = def.spec.fields.iter().map(|f| f.key.struct_key()).collect();
    for c in &def.spec.id_columns {
        if !has_column(&df, c) {
            return Err(schema_err(
                key,
                format!(
                    "missing id column {c:?} (id columns: {})",
                    def.spec.id_columns.join(", ")
                ),
            ));
        }
    }
    let pbf = df.column(cols::PROVENANCE_BY_FIELD).map_err(|_| {
        schema_err(
            key,
            format!("DataFrame must have '{}' column", cols::PROVENANCE_BY_FIELD),
        )
    })?;
    let DataType::Struct(members) = pbf.dtype() else {
        return Err(schema_err(
            key,
            format!(
                "'{}' column must be a Struct or Map, got {}",
                cols::PROVENANCE_BY_FIELD,
                pbf.dtype()
            ),
        ));
    };
    for k in &field_keys {
        if !members.iter().any(|m| m.name().as_str() == k) {
            return Err(schema_err(
                key,
                format!(
                    "'{}' lacks field {k:?} (fields of {key}: {})",
                    cols::PROVENANCE_BY_FIELD,
                    field_keys.join(", ")
                ),
            ));
        }
    }
    let had = |c: &str| has_column(&df, c);
    let has_dvbf = had(cols::DATA_VERSION_BY_FIELD);
    let has_dv = had(cols::DATA_VERSION);
    let has_prov = had(cols::PROVENANCE);
    let has_created = had(cols::CREATED_AT);
    let has_deleted = had(cols::DELETED_AT);
    let preserve =
        opts.preserve_feature_version && had(cols::FEATURE_VERSION) && had(cols::PROJECT_VERSION);
    let fv = graph.feature_version(key).unwrap_or_default().to_string();
    let pv = graph.project_version.clone();
    let ts_type = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));

    let mut lf = df.lazy();
    if !preserve {
        lf = lf.with_columns([
            lit(fv).alias(cols::FEATURE_VERSION),
            lit(pv).alias(cols::PROJECT_VERSION),
        ]);
    }
    if !has_prov {
        lf = lf.with_column(
            struct_hash(cols::PROVENANCE_BY_FIELD, &field_keys, algo, trunc)
                .alias(cols::PROVENANCE),
        );
    }
    if !has_created {
        lf = lf.with_column(timestamp_lit(ts).alias(cols::CREATED_AT));
    }
    if !opts.keep_updated_at {
        lf = lf.with_column(timestamp_lit(ts).alias(cols::UPDATED_AT));
    }
    if !has_deleted {
        lf = lf.with_column(lit(NULL).cast(ts_type.clone()).alias(cols::DELETED_AT));
    }
    lf = lf.with_column(
        match &opts.materialization_id {
            Some(m) => lit(m.clone()),
            None => lit(NULL).cast(DataType::String),
        }
        .alias(cols::MATERIALIZATION_ID),
    );
    if !has_dvbf {
        lf = lf.with_columns([
            col(cols::PROVENANCE_BY_FIELD).alias(cols::DATA_VERSION_BY_FIELD),
            col(cols::PROVENANCE).alias(cols::DATA_VERSION),
        ]);
    } else {
        lf = lf.with_column(
            when(col(cols::DATA_VERSION_BY_FIELD).is_null())
                .then(col(cols::PROVENANCE_BY_FIELD))
                .otherwise(col(cols::DATA_VERSION_BY_FIELD))
                .alias(cols::DATA_VERSION_BY_FIELD),
        );
        if !has_dv {
            lf = lf.with_column(
                struct_hash(cols::DATA_VERSION_BY_FIELD, &field_keys, algo, trunc)
                    .alias(cols::DATA_VERSION),
            );
        } else {
            lf = lf.with_column(
                when(col(cols::DATA_VERSION).is_null())
                    .then(col(cols::PROVENANCE))
                    .otherwise(col(cols::DATA_VERSION))
                    .alias(cols::DATA_VERSION),
            );
        }
    }
    // system columns whose type degraded to Null (all-null inputs) get their real types
    // (Metaxy `_cast_present_system_columns`)
    let mut out = lf.collect()?;
    for (c, t) in [
        (cols::CREATED_AT, ts_type.clone()),
        (cols::UPDATED_AT, ts_type.clone()),
        (cols::DELETED_AT, ts_type.clone()),
        (cols::MATERIALIZATION_ID, DataType::String),
        (cols::PROVENANCE, DataType::String),
        (cols::DATA_VERSION, DataType::String),
        (cols::FEATURE_VERSION, DataType::String),
        (cols::PROJECT_VERSION, DataType::String),
    ] {
        if let Ok(column) = out.column(c) {
            if column.dtype() != &t {
                let cast = column.cast(&t).map_err(|e| {
                    schema_err(key, format!("column {c} has type {}: {e}", column.dtype()))
                })?;
                out.with_column(cast)?;
            }
        }
    }
    Ok(out)
}
