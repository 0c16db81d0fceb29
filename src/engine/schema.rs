//! System column names of a Metaxy feature table (FORMAT.md §4.1), shared by every layer (read as `cols::*` via
//! `use crate::engine::schema as cols`).

/// Struct (or map) of field struct key -> provenance hash.
pub const PROVENANCE_BY_FIELD: &str = "metaxy_provenance_by_field";
/// Sample-level provenance hash.
pub const PROVENANCE: &str = "metaxy_provenance";
/// Struct of field -> data version (defaults to provenance).
pub const DATA_VERSION_BY_FIELD: &str = "metaxy_data_version_by_field";
/// Sample-level data version.
pub const DATA_VERSION: &str = "metaxy_data_version";
/// Feature version the row was written under.
pub const FEATURE_VERSION: &str = "metaxy_feature_version";
/// Project version the row was written under.
pub const PROJECT_VERSION: &str = "metaxy_project_version";
/// Creation timestamp (UTC).
pub const CREATED_AT: &str = "metaxy_created_at";
/// Last update timestamp (UTC).
pub const UPDATED_AT: &str = "metaxy_updated_at";
/// Soft-delete timestamp (UTC), null = live.
pub const DELETED_AT: &str = "metaxy_deleted_at";
/// Orchestration run id.
pub const MATERIALIZATION_ID: &str = "metaxy_materialization_id";
