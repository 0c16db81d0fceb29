//! The one validation every write passes before anything is planned (`metadata write`, the TUI's `w`, soft
//! deletes, rebases, copies), on every backend: rows are checked against the *target table's* schema as the store
//! reads it, so that no value is ever written as NULL or truncated silently.
//!
//! - [`target_of`] reads the target table's schema (no rows) and refuses a table whose system columns do not have
//!   Metaxy's types (a `metaxy_updated_at` stored as text would make tombstones Metaxy cannot order);
//! - [`validate_input`] checks user rows: ids and provenance present and not null (stricter than Metaxy 0.1.11,
//!   which stores nulls), columns the table lacks refused where Metaxy's backend refuses them (DuckDB, LanceDB,
//!   PostgreSQL; Delta and Iceberg add them to the schema), and every value converted to the table's type
//!   losslessly ([`conform_rows`]);
//! - [`conform_rows`] converts columns whose type differs from the table's, refusing the first value that does not
//!   convert or does not convert back to itself (`"abc"` or `101.5` into an integer column), naming the column and
//!   the row (its line in a CSV / NDJSON file).

use polars::prelude::*;

use crate::engine::config::StoreKind;
use crate::engine::error::{EngineError, Result};
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::store::{Columns, MetadataStore};
use crate::engine::versioning::samples::RowOrigin;

/// The table a write appends to, as far as validation needs it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The table's columns and their types as the store reads them; `None` when the table does not exist yet
    /// (the write creates it from the rows' own types).
    pub schema: Option<Schema>,
    /// The backend, which decides whether a column the table lacks is added (Delta, Iceberg) or refused.
    pub kind: StoreKind,
    /// The physical table name (for messages).
    pub table: String,
}

/// A feature version no row has: scanning for it returns the table's schema without its rows on every backend
/// (the version is pushed down as a filter or pruned by file statistics).
const NO_VERSION: &str = "metaxy-tui-schema-probe (no such version)";

fn schema_err(key: &FeatureKey, m: impl Into<String>) -> EngineError {
    EngineError::Schema {
        feature: key.to_string(),
        message: m.into(),
    }
}

/// The type Metaxy stores for a system column, as a check: timestamps for the `*_at` columns, structs for the
/// `*_by_field` columns, text for the others. `None` for a user column.
fn system_type_ok(c: &str, t: &DataType) -> Option<bool> {
    Some(match c {
        cols::CREATED_AT | cols::UPDATED_AT | cols::DELETED_AT => {
            matches!(t, DataType::Datetime(..) | DataType::Null)
        }
        cols::PROVENANCE_BY_FIELD | cols::DATA_VERSION_BY_FIELD => {
            matches!(t, DataType::Struct(_) | DataType::Null)
        }
        cols::PROVENANCE
        | cols::DATA_VERSION
        | cols::FEATURE_VERSION
        | cols::PROJECT_VERSION
        | cols::MATERIALIZATION_ID => matches!(t, DataType::String | DataType::Null),
        _ => return None,
    })
}

fn metaxy_type(c: &str) -> &'static str {
    match c {
        cols::CREATED_AT | cols::UPDATED_AT | cols::DELETED_AT => "a timestamp",
        cols::PROVENANCE_BY_FIELD | cols::DATA_VERSION_BY_FIELD => "a struct (or map) of strings",
        _ => "a string",
    }
}

/// The target of a write of `key` into `store`'s own table ([`MetadataStore::local`]): its schema, read without
/// rows, checked so that every system column has Metaxy's type.
///
/// Errors: [`EngineError::Schema`] naming the first system column of another type (`metaxy_updated_at` stored as
/// a string, ...); the store's read errors.
pub fn target_of(store: &dyn MetadataStore, key: &FeatureKey) -> Result<Target> {
    let local = store.local();
    let table = local.table_name(key);
    let schema = match local.has_feature(key)? {
        false => None,
        true => local
            .scan(key, Some(NO_VERSION), &Columns::All)?
            .map(|df| df.schema().as_ref().clone()),
    };
    if let Some(s) = &schema {
        for (name, t) in s.iter() {
            if system_type_ok(name.as_str(), t) == Some(false) {
                return Err(schema_err(
                    key,
                    format!(
                        "table {table} stores {name} as {t}, but Metaxy stores {}: refusing to write rows Metaxy could not read (fix or recreate the table)",
                        metaxy_type(name.as_str())
                    ),
                ));
            }
        }
    }
    Ok(Target {
        schema,
        kind: local.kind(),
        table,
    })
}

/// Whether the backend adds a column the table lacks (Metaxy 0.1.11: Delta `schema_mode="merge"`, Iceberg
/// `union_by_name`) instead of refusing the write (DuckDB and PostgreSQL inserts, LanceDB `add`).
fn adds_columns(kind: StoreKind) -> bool {
    matches!(kind, StoreKind::Delta | StoreKind::Iceberg)
}

fn backend_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::DuckDb => "DuckDB",
        StoreKind::Delta => "Delta",
        StoreKind::LanceDb => "LanceDB",
        StoreKind::Iceberg => "Iceberg",
        StoreKind::Postgres => "PostgreSQL",
        StoreKind::ClickHouse => "ClickHouse",
    }
}

/// A value for a message: text quoted, anything else as polars prints it.
fn show(v: &AnyValue) -> String {
    match v {
        AnyValue::String(s) => format!("{s:?}"),
        AnyValue::StringOwned(s) => format!("{:?}", s.as_str()),
        v => v.to_string(),
    }
}

/// Text timestamps as `Int64` counts of `tu` since the epoch (null where a value does not parse): RFC 3339
/// (`2024-01-02T03:04:05Z`, `+02:00`), or naive `YYYY-MM-DD[ T]HH:MM:SS[.f]` / `YYYY-MM-DD` taken as UTC. Done here
/// rather than by polars' deprecated string-to-datetime cast, which prints a warning.
fn parse_timestamps(s: &Series, tu: TimeUnit) -> PolarsResult<Series> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let parse = |v: &str| -> Option<i64> {
        let v = v.trim();
        let utc = DateTime::parse_from_rfc3339(v)
            .map(|d| d.naive_utc())
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").ok())
            .or_else(|| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f").ok())
            .or_else(|| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })?
            .and_utc();
        match tu {
            TimeUnit::Nanoseconds => utc.timestamp_nanos_opt(),
            TimeUnit::Microseconds => Some(utc.timestamp_micros()),
            TimeUnit::Milliseconds => Some(utc.timestamp_millis()),
        }
    };
    let values: Int64Chunked = s.str()?.iter().map(|v| v.and_then(parse)).collect();
    Ok(values.with_name(s.name().clone()).into_series())
}

fn first_true(mask: &BooleanChunked) -> Option<usize> {
    mask.iter().position(|v| v == Some(true))
}

/// Checks the user rows `df` of a write of `key` before Metaxy's system columns are added:
///
/// - every id column present and never null, `metaxy_provenance_by_field` present as a struct whose members for
///   the feature's fields are never null, `metaxy_provenance` (when given) never null: Metaxy 0.1.11 stores such
///   rows, which no increment can match (metaxy-tui refuses them);
/// - a column the existing table lacks: refused unless the backend adds columns (Delta, Iceberg);
/// - every value converted to the table's type (or, for a new table, system columns to Metaxy's types) without
///   loss ([`conform_rows`]).
///
/// Returns `df` with converted columns. Errors: [`EngineError::Schema`] naming the column and the first bad row as
/// `origin` describes it.
pub fn validate_input(
    graph: &FeatureGraph,
    key: &FeatureKey,
    df: DataFrame,
    target: &Target,
    origin: &RowOrigin,
) -> Result<DataFrame> {
    let def = graph.require(key)?;
    for c in &def.spec.id_columns {
        let Ok(s) = df.column(c) else {
            return Err(schema_err(
                key,
                format!(
                    "missing id column {c:?} (id columns: {})",
                    def.spec.id_columns.join(", ")
                ),
            ));
        };
        if let Some(i) = first_true(&s.is_null()) {
            return Err(schema_err(
                key,
                format!(
                    "id column {c} is null in {} (every row needs its ids)",
                    origin.describe(i)
                ),
            ));
        }
    }
    if let Ok(pbf) = df.column(cols::PROVENANCE_BY_FIELD) {
        if let Some(i) = first_true(&pbf.is_null()) {
            return Err(schema_err(
                key,
                format!(
                    "{} is null in {} (every row needs its per-field provenance)",
                    cols::PROVENANCE_BY_FIELD,
                    origin.describe(i)
                ),
            ));
        }
        if let DataType::Struct(_) = pbf.dtype() {
            let st = pbf.as_materialized_series().struct_()?.clone();
            for f in &def.spec.fields {
                let name = f.key.struct_key();
                let Some(m) = st
                    .fields_as_series()
                    .into_iter()
                    .find(|m| m.name().as_str() == name)
                else {
                    continue;
                };
                if let Some(i) = first_true(&m.is_null()) {
                    return Err(schema_err(
                        key,
                        format!(
                            "{}.{name} is null in {} (every field needs a provenance value)",
                            cols::PROVENANCE_BY_FIELD,
                            origin.describe(i)
                        ),
                    ));
                }
            }
        }
    }
    if let Ok(p) = df.column(cols::PROVENANCE) {
        if let Some(i) = first_true(&p.is_null()) {
            return Err(schema_err(
                key,
                format!(
                    "{} is null in {} (leave the column out to have it computed)",
                    cols::PROVENANCE,
                    origin.describe(i)
                ),
            ));
        }
    }
    conform_rows(key, df, target, origin)
}

/// Converts the columns of `df` whose type differs from the target table's (for a table that does not exist yet:
/// the system columns, to Metaxy's types) and refuses what the backend would refuse or write differently:
///
/// - a column the existing table lacks, unless the backend adds columns (Delta, Iceberg);
/// - a value that does not convert (`"abc"` into an integer, `"yesterday"` into a timestamp) or that converts
///   with loss (`101.5` into an integer, an integer beyond the target's range): the first such row of the column,
///   named as `origin` describes it.
///
/// Struct, list and timestamp-to-timestamp conversions are left to the backend (member order, time zones and map
/// layouts are its business). Errors: [`EngineError::Schema`].
pub fn conform_rows(
    key: &FeatureKey,
    df: DataFrame,
    target: &Target,
    origin: &RowOrigin,
) -> Result<DataFrame> {
    if let Some(schema) = &target.schema {
        if !adds_columns(target.kind) {
            let extra: Vec<String> = df
                .get_column_names()
                .iter()
                .filter(|c| schema.get(c.as_str()).is_none())
                .map(|c| c.to_string())
                .collect();
            if !extra.is_empty() {
                return Err(schema_err(
                    key,
                    format!(
                        "table {} has no column(s) {}; Metaxy's {} store does not add columns (drop them from the input)",
                        target.table,
                        extra.join(", "),
                        backend_name(target.kind)
                    ),
                ));
            }
        }
    }
    let ts = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    let mut out = df;
    let names: Vec<String> = out
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for name in names {
        let want = match &target.schema {
            Some(s) => s.get(&name).cloned(),
            None => match name.as_str() {
                cols::CREATED_AT | cols::UPDATED_AT | cols::DELETED_AT => Some(ts.clone()),
                c if system_type_ok(c, &DataType::String) == Some(true) => Some(DataType::String),
                _ => None,
            },
        };
        let Some(want) = want else { continue };
        let have = out.column(&name)?.as_materialized_series().clone();
        if let Some(converted) = convert(key, &name, &have, &want, origin)? {
            out.with_column(converted.into_column())?;
        }
    }
    Ok(out)
}

/// `s` converted to `to` when the types differ and the conversion is one this layer checks; `None` when `s`
/// stays as it is. Errors name the column and the first value that does not convert losslessly.
fn convert(
    key: &FeatureKey,
    name: &str,
    s: &Series,
    to: &DataType,
    origin: &RowOrigin,
) -> Result<Option<Series>> {
    let from = s.dtype();
    if from == to
        || matches!(to, DataType::Null | DataType::Struct(_) | DataType::List(_))
        || matches!(from, DataType::Null)
        || matches!((from, to), (DataType::Datetime(..), DataType::Datetime(..)))
    {
        return Ok(None);
    }
    if matches!(from, DataType::Struct(_) | DataType::List(_)) {
        return Err(schema_err(
            key,
            format!("column {name} is a {from}, but the table stores {to}"),
        ));
    }
    let out = match (from, to) {
        (DataType::String, DataType::Datetime(tu, _)) => parse_timestamps(s, *tu)?.cast(to),
        _ => s.cast(to),
    }
    .map_err(|_| {
        schema_err(
            key,
            format!("column {name} has type {from}, which does not convert to the table's {to}"),
        )
    })?;
    let given = s.is_not_null();
    let mut bad = &given & &out.is_null();
    let numeric_source = from.is_primitive_numeric() || from.is_bool() || from.is_temporal();
    if numeric_source {
        if let Ok(back) = out.cast(from) {
            let differs = back.not_equal(s)?.fill_null_with_values(false)?;
            bad = &bad | &(&given & &differs);
        }
    }
    if let Some(i) = first_true(&bad) {
        let v = s.get(i).map(|v| show(&v)).unwrap_or_default();
        let how = if out.is_null().get(i) == Some(true) {
            "is not a valid"
        } else {
            "does not convert without loss to"
        };
        return Err(schema_err(
            key,
            format!(
                "column {name}: {v} in {} {how} {to} (the table's type)",
                origin.describe(i)
            ),
        ));
    }
    Ok(Some(out.with_name(name.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FeatureKey {
        FeatureKey::parse("a/b").unwrap()
    }

    fn target(schema: Option<Schema>, kind: StoreKind) -> Target {
        Target {
            schema,
            kind,
            table: "a__b".into(),
        }
    }

    fn int_table() -> Schema {
        Schema::from_iter([
            Field::new("id".into(), DataType::String),
            Field::new("n".into(), DataType::Int64),
        ])
    }

    #[test]
    fn lossy_and_unparsable_values_are_refused_with_their_row() {
        let t = target(Some(int_table()), StoreKind::Delta);
        let df = df!("id" => ["x", "y"], "n" => ["1", "abc"]).unwrap();
        let e = conform_rows(&key(), df, &t, &RowOrigin::Frame)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column n: \"abc\" in row 2 is not a valid i64"),
            "{e}"
        );
        let df = df!("id" => ["x", "y"], "n" => [1.0, 101.5]).unwrap();
        let origin = RowOrigin::File {
            name: "r.csv".into(),
            lines: Some(vec![2, 3]),
        };
        let e = conform_rows(&key(), df, &t, &origin)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column n: 101.5 in line 3 of r.csv does not convert without loss to i64"),
            "{e}"
        );
        let df = df!("id" => ["x"], "n" => [7.0]).unwrap();
        let ok = conform_rows(&key(), df, &t, &RowOrigin::Frame).unwrap();
        assert_eq!(ok.column("n").unwrap().dtype(), &DataType::Int64);
    }

    #[test]
    fn extra_columns_follow_the_backend() {
        let df = df!("id" => ["x"], "n" => [1i64], "more" => ["m"]).unwrap();
        let e = conform_rows(
            &key(),
            df.clone(),
            &target(Some(int_table()), StoreKind::DuckDb),
            &RowOrigin::Frame,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("table a__b has no column(s) more"), "{e}");
        let ok = conform_rows(
            &key(),
            df,
            &target(Some(int_table()), StoreKind::Delta),
            &RowOrigin::Frame,
        )
        .unwrap();
        assert_eq!(ok.column("more").unwrap().str().unwrap().get(0), Some("m"));
    }

    #[test]
    fn text_timestamps_convert_or_are_refused() {
        let t = target(None, StoreKind::Delta);
        let df = df!(cols::CREATED_AT => ["2024-01-02T03:04:05Z"]).unwrap();
        let ok = conform_rows(&key(), df, &t, &RowOrigin::Frame).unwrap();
        assert!(matches!(
            ok.column(cols::CREATED_AT).unwrap().dtype(),
            DataType::Datetime(..)
        ));
        assert!(ok.column(cols::CREATED_AT).unwrap().null_count() == 0);
        let df = df!(cols::CREATED_AT => ["yesterday"]).unwrap();
        let e = conform_rows(&key(), df, &t, &RowOrigin::Frame)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column metaxy_created_at: \"yesterday\" in row 1 is not a valid"),
            "{e}"
        );
    }
}
