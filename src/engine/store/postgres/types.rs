//! PostgreSQL column types as the store sees them: how a stored column is read (its binary COPY representation
//! and the polars type it becomes), and which PostgreSQL type a polars column gets in a table this program creates
//! (the DDL Metaxy 0.1.11's `PostgreSQLMetadataStore` produces through Ibis: `character varying`, `bigint`,
//! `double precision`, `jsonb` for structs, `timestamp(6) with time zone`).

use polars::prelude::*;

/// How one stored column travels through a binary COPY and into polars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgType {
    /// `character varying`, `text`, `character`, `name`: UTF-8 bytes → `String`.
    Text,
    /// `json` / `jsonb`: selected as `::text` → `String`, decoded to a struct when Metaxy would decode it.
    Json {
        /// `jsonb` (true) or `json`.
        binary: bool,
    },
    /// `bigint` → `Int64`.
    Int8,
    /// `integer` → `Int32`.
    Int4,
    /// `smallint` → `Int16`.
    Int2,
    /// `double precision` → `Float64`.
    Float8,
    /// `real` → `Float32`.
    Float4,
    /// `boolean` → `Boolean`.
    Bool,
    /// `timestamp with time zone` → `Datetime(µs, UTC)`.
    TimestampTz,
    /// `timestamp without time zone` → `Datetime(µs, naive)`.
    Timestamp,
    /// `date` → `Date`.
    Date,
    /// `bytea` → `Binary`.
    Bytea,
    /// Anything else (numeric, uuid, arrays, ...): selected as `::text` → `String`.
    Other,
}

impl PgType {
    /// The type of a column from its `pg_type.typname`.
    pub fn from_typname(typname: &str) -> Self {
        match typname {
            "varchar" | "text" | "bpchar" | "name" => PgType::Text,
            "jsonb" => PgType::Json { binary: true },
            "json" => PgType::Json { binary: false },
            "int8" => PgType::Int8,
            "int4" => PgType::Int4,
            "int2" => PgType::Int2,
            "float8" => PgType::Float8,
            "float4" => PgType::Float4,
            "bool" => PgType::Bool,
            "timestamptz" => PgType::TimestampTz,
            "timestamp" => PgType::Timestamp,
            "date" => PgType::Date,
            "bytea" => PgType::Bytea,
            _ => PgType::Other,
        }
    }

    /// Whether the column is read through a `::text` cast (its binary form is not decoded here).
    pub fn read_as_text(&self) -> bool {
        matches!(self, PgType::Json { .. } | PgType::Other)
    }
}

/// A stored column: name, type and its `format_type` text (`character varying`, `timestamp(6) with time zone`).
#[derive(Debug, Clone)]
pub struct PgColumn {
    /// Column name.
    pub name: String,
    /// How it is read and written.
    pub ty: PgType,
    /// PostgreSQL's own spelling of the type.
    pub sql_type: String,
}

/// Microseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01T00:00:00Z).
pub const PG_EPOCH_US: i64 = 946_684_800_000_000;
/// Days from the Unix epoch to PostgreSQL's epoch.
pub const PG_EPOCH_DAYS: i32 = 10_957;

/// The PostgreSQL type of a new table's column for a polars column (Metaxy's auto-created DDL through Ibis): structs
/// (and lists) as `jsonb`, strings `character varying`, timestamps `timestamp(6) with[out] time zone`.
pub fn ddl_type(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::String => "character varying",
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int16 | DataType::Int8 | DataType::UInt8 => "smallint",
        DataType::Float64 => "double precision",
        DataType::Float32 => "real",
        DataType::Boolean => "boolean",
        DataType::Datetime(_, Some(_)) => "timestamp(6) with time zone",
        DataType::Datetime(_, None) => "timestamp(6) without time zone",
        DataType::Date => "date",
        DataType::Binary => "bytea",
        DataType::Struct(_) | DataType::List(_) | DataType::Array(..) => "jsonb",
        _ => "character varying",
    }
}

/// The `PgType` a column created with [`ddl_type`] has.
pub fn ddl_pg_type(dtype: &DataType) -> PgType {
    match ddl_type(dtype) {
        "character varying" => PgType::Text,
        "bigint" => PgType::Int8,
        "integer" => PgType::Int4,
        "smallint" => PgType::Int2,
        "double precision" => PgType::Float8,
        "real" => PgType::Float4,
        "boolean" => PgType::Bool,
        "timestamp(6) with time zone" => PgType::TimestampTz,
        "timestamp(6) without time zone" => PgType::Timestamp,
        "date" => PgType::Date,
        "bytea" => PgType::Bytea,
        _ => PgType::Json { binary: true },
    }
}

/// Re-exported: JSON-object columns are decoded the same way by every SQL backend.
pub use crate::engine::store::common::decode_json_objects;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_become_structs_and_other_payloads_stay_strings() {
        let s = Series::new(
            "metaxy_provenance_by_field".into(),
            [
                Some(r#"{"audio": "a1", "frames": "f1"}"#),
                None,
                Some("null"),
            ],
        );
        let d = decode_json_objects(&s).unwrap();
        assert_eq!(
            d.dtype(),
            &DataType::Struct(vec![
                Field::new("audio".into(), DataType::String),
                Field::new("frames".into(), DataType::String)
            ])
        );
        assert_eq!(d.null_count(), 2);
        let s = Series::new("x".into(), [Some(r#"{"a": 1}"#), Some("[1]")]);
        assert!(decode_json_objects(&s).is_none());
        let s = Series::new("x".into(), [None::<&str>, None]);
        assert!(decode_json_objects(&s).is_none());
    }

    #[test]
    fn ddl_types_are_metaxys() {
        assert_eq!(ddl_type(&DataType::String), "character varying");
        assert_eq!(
            ddl_type(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC)
            )),
            "timestamp(6) with time zone"
        );
        assert_eq!(ddl_type(&DataType::Struct(vec![])), "jsonb");
        assert_eq!(
            ddl_pg_type(&DataType::Struct(vec![])),
            PgType::Json { binary: true }
        );
        assert_eq!(PgType::from_typname("timestamp"), PgType::Timestamp);
    }
}
