//! The store backends a config can name ([`StoreKind`], resolved from a store's `type` import path,
//! FORMAT.md §1.4) and the row hash algorithms ([`HashAlgorithm`]).

use std::fmt;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// Store kinds and hash algorithms
// ---------------------------------------------------------------------------------------------

/// The metadata-store backends this program can open.
///
/// Resolved from a store's `type` import path using the 0.1.11 table in `FORMAT.md` §1.4
/// (canonical paths plus deprecated aliases, see [`KNOWN_STORE_TYPES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreKind {
    /// `metaxy.ext.duckdb.DuckDBMetadataStore`
    DuckDb,
    /// `metaxy.ext.polars.handlers.delta.DeltaMetadataStore`
    Delta,
    /// `metaxy.ext.lancedb.LanceDBMetadataStore`
    LanceDb,
    /// `metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore`
    Iceberg,
    /// `metaxy.ext.postgresql.PostgreSQLMetadataStore`
    Postgres,
    /// `metaxy.ext.clickhouse.ClickHouseMetadataStore`
    ClickHouse,
}

/// Every accepted store `type` string as `(type_path, kind, deprecated)`, canonical first.
///
/// Mirrors which import paths work in Metaxy 0.1.11; the deprecated aliases emit a
/// `DeprecationWarning` in Python (recorded in [`MetaxyConfig::warnings`] here).
pub const KNOWN_STORE_TYPES: &[(&str, StoreKind, bool)] = &[
    (
        "metaxy.ext.duckdb.DuckDBMetadataStore",
        StoreKind::DuckDb,
        false,
    ),
    (
        "metaxy.ext.duckdb.metadata_store.DuckDBMetadataStore",
        StoreKind::DuckDb,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.duckdb.DuckDBMetadataStore",
        StoreKind::DuckDb,
        true,
    ),
    (
        "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
        StoreKind::Delta,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.delta.DeltaMetadataStore",
        StoreKind::Delta,
        true,
    ),
    (
        "metaxy.ext.polars.DeltaMetadataStore",
        StoreKind::Delta,
        true,
    ),
    (
        "metaxy.ext.lancedb.LanceDBMetadataStore",
        StoreKind::LanceDb,
        false,
    ),
    (
        "metaxy.ext.lancedb.metadata_store.LanceDBMetadataStore",
        StoreKind::LanceDb,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.lancedb.LanceDBMetadataStore",
        StoreKind::LanceDb,
        true,
    ),
    (
        "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore",
        StoreKind::Iceberg,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.iceberg.IcebergMetadataStore",
        StoreKind::Iceberg,
        true,
    ),
    (
        "metaxy.ext.postgresql.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        false,
    ),
    (
        "metaxy.ext.postgresql.metadata_store.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.postgresql.PostgreSQLMetadataStore",
        StoreKind::Postgres,
        true,
    ),
    (
        "metaxy.ext.clickhouse.ClickHouseMetadataStore",
        StoreKind::ClickHouse,
        false,
    ),
    (
        "metaxy.ext.clickhouse.metadata_store.ClickHouseMetadataStore",
        StoreKind::ClickHouse,
        false,
    ),
    (
        "metaxy.ext.metadata_stores.clickhouse.ClickHouseMetadataStore",
        StoreKind::ClickHouse,
        true,
    ),
];

impl StoreKind {
    /// All supported kinds.
    pub const ALL: [StoreKind; 6] = [
        StoreKind::DuckDb,
        StoreKind::Delta,
        StoreKind::LanceDb,
        StoreKind::Iceberg,
        StoreKind::Postgres,
        StoreKind::ClickHouse,
    ];

    /// Python class name, as printed by `metaxy list stores` (e.g. `"DuckDBMetadataStore"`).
    pub fn display_name(&self) -> &'static str {
        match *self {
            StoreKind::DuckDb => "DuckDBMetadataStore",
            StoreKind::Delta => "DeltaMetadataStore",
            StoreKind::LanceDb => "LanceDBMetadataStore",
            StoreKind::Iceberg => "IcebergMetadataStore",
            StoreKind::Postgres => "PostgreSQLMetadataStore",
            StoreKind::ClickHouse => "ClickHouseMetadataStore",
        }
    }

    /// Canonical `type` import path for this backend (the one Metaxy's docs use).
    pub fn canonical_type_path(&self) -> &'static str {
        match self {
            StoreKind::DuckDb => "metaxy.ext.duckdb.DuckDBMetadataStore",
            StoreKind::Delta => "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
            StoreKind::LanceDb => "metaxy.ext.lancedb.LanceDBMetadataStore",
            StoreKind::Iceberg => "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore",
            StoreKind::Postgres => "metaxy.ext.postgresql.PostgreSQLMetadataStore",
            StoreKind::ClickHouse => "metaxy.ext.clickhouse.ClickHouseMetadataStore",
        }
    }

    /// Name of the required config key holding the store location:
    /// DuckDB `database`, Delta `root_path`, LanceDB `uri`.
    pub fn location_key(&self) -> &'static str {
        match self {
            StoreKind::DuckDb => "database",
            StoreKind::Delta => "root_path",
            StoreKind::LanceDb => "uri",
            StoreKind::Iceberg => "warehouse",
            StoreKind::Postgres | StoreKind::ClickHouse => "connection_string",
        }
    }

    /// Default `hash_algorithm` of the store class (`FORMAT.md` §1.5): `xxhash32` for all three.
    pub fn default_hash_algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::Xxhash32
    }

    /// Resolves a `type` string to `(kind, deprecated)`; `None` if unsupported.
    /// Matching is exact (Python import paths are case-sensitive).
    pub fn from_type_path(type_path: &str) -> Option<(StoreKind, bool)> {
        KNOWN_STORE_TYPES
            .iter()
            .find(|(p, _, _)| *p == type_path)
            .map(|(_, k, d)| (*k, *d))
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// Metaxy `HashAlgorithm` enum of the 0.1.11 wheel (values are the TOML strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// `"xxhash32"` — default for DuckDB/Delta/LanceDB.
    Xxhash32,
    /// `"xxhash64"`
    Xxhash64,
    /// `"xxh3_64"` (added in the 0.1.11 wheel)
    Xxh3_64,
    /// `"wyhash"`
    Wyhash,
    /// `"sha256"`
    Sha256,
    /// `"md5"`
    Md5,
    /// `"farmhash"` (in the enum, supported by no engine)
    Farmhash,
}

/// Error of [`HashAlgorithm::from_str`]: the string is not a Metaxy hash algorithm value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid HashAlgorithm")]
pub struct ParseHashAlgorithmError(pub String);

impl HashAlgorithm {
    /// All variants, in Metaxy's enum order.
    pub const ALL: [HashAlgorithm; 7] = [
        HashAlgorithm::Xxhash32,
        HashAlgorithm::Xxhash64,
        HashAlgorithm::Xxh3_64,
        HashAlgorithm::Wyhash,
        HashAlgorithm::Sha256,
        HashAlgorithm::Md5,
        HashAlgorithm::Farmhash,
    ];

    /// The enum value string (`"xxhash32"`, `"xxh3_64"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            HashAlgorithm::Xxhash32 => "xxhash32",
            HashAlgorithm::Xxhash64 => "xxhash64",
            HashAlgorithm::Xxh3_64 => "xxh3_64",
            HashAlgorithm::Wyhash => "wyhash",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Farmhash => "farmhash",
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = ParseHashAlgorithmError;

    /// Exact, case-sensitive match on the enum value (Python `HashAlgorithm(value)`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::ALL
            .iter()
            .copied()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| ParseHashAlgorithmError(s.to_string()))
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
