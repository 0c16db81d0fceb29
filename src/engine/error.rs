//! Typed engine errors. Every fallible engine call returns [`EngineError`]; the CLI and TUI add context.

use crate::engine::config::ConfigError;

/// Errors raised by the engine (config, stores, graph, reads, increments).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Configuration could not be loaded or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A feature or field key violates Metaxy's key rules.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    /// The store location does not exist or cannot be opened.
    #[error("cannot open store {store:?} at {location}: {message}")]
    StoreOpen {
        store: String,
        location: String,
        message: String,
    },
    /// The store has no metadata table for this feature (Metaxy `FeatureNotFoundError`).
    #[error("no metadata for feature {feature} in store {store:?} (table {table} does not exist)")]
    FeatureNotFound {
        feature: String,
        store: String,
        table: String,
    },
    /// The feature is not part of the loaded feature graph.
    #[error("feature {0} is not in the feature graph (known features: {1})")]
    UnknownFeature(String, String),
    /// The store has no pushed feature graph (`metaxy-system/feature_versions` missing or empty).
    #[error("store {0:?} has no pushed feature graph (table metaxy_system__feature_versions is missing or empty); run `metaxy push` first")]
    NoGraph(String),
    /// A requested project version is not in the system table.
    #[error("project version {0:?} was never pushed to this store")]
    UnknownSnapshot(String),
    /// A snapshot reference is ambiguous or cannot be resolved (no pushed versions).
    #[error("{0}")]
    BadSnapshot(String),
    /// A stored `feature_spec` could not be parsed.
    #[error("invalid feature_spec for {feature}: {message}")]
    InvalidSpec { feature: String, message: String },
    /// A table exists but does not have the shape Metaxy writes (missing column, wrong type, unreadable file).
    #[error("corrupt or unexpected table {table}: {message}")]
    CorruptTable { table: String, message: String },
    /// A user filter / predicate could not be parsed or evaluated.
    #[error("bad filter {filter:?}: {message}")]
    BadFilter { filter: String, message: String },
    /// Hash algorithm not usable for this operation.
    #[error("hash algorithm {0:?} is not supported here")]
    UnsupportedHash(String),
    /// Root features need a samples frame to compute an increment.
    #[error("feature {0} is a root feature (no upstream dependencies): an increment needs a samples file with id columns and metaxy_provenance_by_field")]
    RootNeedsSamples(String),
    /// Field-level parent resolution failed (Metaxy raises for a field with no upstream fields).
    #[error("feature {feature}: {message}")]
    Plan { feature: String, message: String },
    /// The sample ids of a lookup are unusable (`--id` not `column=value`, columns no feature has).
    #[error("bad sample ids: {0}")]
    BadIds(String),
    /// A samples frame/file for `resolve_update` is unusable (missing columns, wrong types, unreadable file).
    #[error("bad samples: {0}")]
    BadSamples(String),
    /// The fallback-store chain is invalid (cycle, mismatched hash algorithm).
    #[error("fallback stores: {0}")]
    Fallback(String),
    /// A frame to write does not have the shape Metaxy requires (Metaxy `MetadataSchemaError`): missing or
    /// non-struct `metaxy_provenance_by_field`, a missing feature field or id column, a column whose type the
    /// table cannot take.
    #[error("cannot write {feature}: {message}")]
    Schema { feature: String, message: String },
    /// A mutation was refused before anything was written (rebase of a root feature, unfiltered hard delete
    /// without confirmation, unknown feature version, ...).
    #[error("{0}")]
    InvalidOperation(String),
    /// A SQL text that is not one read-only query (DDL, DML, COPY, ATTACH, INSTALL, PRAGMA, SET, several
    /// statements, a reference to an internal function), refused before anything ran ([`crate::engine::sql`]).
    #[error("refused: {0}")]
    SqlRefused(String),
    /// A SQL query failed in DuckDB (syntax, binding, an unknown feature, a refused file access, an interrupt).
    #[error("sql: {0}")]
    Sql(String),
    /// A mutation addressed a feature that only another Metaxy project pushed to this store: its rows must be
    /// written through that project's config, not through this one (the cross-project write protection Metaxy had
    /// before 0.1.0, `MetadataStore._validate_project_write`; 0.1.11 dropped it, we keep refusing). `projects`
    /// lists the projects that pushed the feature, `project` is the config's (or, with `project` unset, the newest
    /// pushed) project.
    #[error("cannot write {feature}: it is a feature of project {projects}, not of this config's project {project:?}; write it through a config whose `project` is the feature's project")]
    ForeignProject {
        feature: String,
        projects: String,
        project: String,
    },
    /// The feature version recomputed from the pushed graph differs from the one Metaxy stored for the feature in
    /// the system table: a mutation would stamp (or select rows by) a feature version Metaxy never pushed.
    #[error("refusing to write {feature}: its feature version recomputed from the pushed graph is {computed}, but the system table stores {stored} for project version {project_version}; writing would stamp a feature version Metaxy never pushed. Push the graph with Metaxy first (`metaxy push`)")]
    UnpushedFeatureVersion {
        feature: String,
        stored: String,
        computed: String,
        project_version: String,
    },
    /// The backend failed while writing; the store is left as it was before the call (one transaction/commit).
    #[error("write to {table} in store {store:?} failed: {message}")]
    Write {
        store: String,
        table: String,
        message: String,
    },
    /// Another process holds the store locked for writing (a DuckDB file lock) and kept it locked for the whole
    /// retry window: nothing was read or written. Transient: the same call succeeds once the write ends. The
    /// message contains [`BUSY_MARK`], so that callers that only see the text can tell it apart.
    #[error("store {store:?} busy (being written by another process): {location} stayed locked for {waited_s} s; it is readable again when that write ends")]
    Busy {
        store: String,
        location: String,
        /// Seconds spent retrying.
        waited_s: u64,
    },
    /// DuckDB reported an error.
    #[error("duckdb: {0}")]
    DuckDb(#[from] duckdb::Error),
    /// Polars reported an error (shown without the query plan polars appends).
    #[error("polars: {}", one_line(&.0.to_string()))]
    Polars(#[from] polars::error::PolarsError),
    /// Arrow reported an error.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// I/O failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// A phrase every [`EngineError::Busy`] message contains (see [`is_busy_message`]).
pub const BUSY_MARK: &str = "busy (being written by another process)";

/// Whether an error message (an [`EngineError`] turned into text) reports a store busy with another process's
/// write ([`EngineError::Busy`]): a transient condition to retry, not a failure to show.
pub fn is_busy_message(message: &str) -> bool {
    message.contains(BUSY_MARK)
}

impl EngineError {
    /// Whether this is [`EngineError::Busy`].
    pub fn is_busy(&self) -> bool {
        matches!(self, EngineError::Busy { .. })
    }
}

/// An error text as one line: what precedes a polars plan dump (`Resolved plan until failure:`, `This error
/// occurred with the following context stack:`), its lines joined by spaces.
pub fn one_line(message: &str) -> String {
    let mut m = message;
    for marker in [
        "Resolved plan until failure",
        "This error occurred with the following context stack",
        "\n\nHint:",
    ] {
        if let Some(i) = m.find(marker) {
            m = &m[..i];
        }
    }
    m.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Engine result alias.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
