//! The counts-only increment plan a store may run by itself ([`MetadataStore::increment_counts`]): the vocabulary
//! between the backend-neutral planner ([`crate::engine::versioning::counts`]) and a backend's query (DuckDB:
//! [`crate::engine::store::duckdb::counts`]).
//!
//! [`MetadataStore::increment_counts`]: crate::engine::store::api::MetadataStore::increment_counts

use crate::engine::config::HashAlgorithm;
use crate::engine::keys::FeatureKey;

/// One piece of a field's provenance recipe (FORMAT.md §5.3): the pieces are joined by `|` and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipePiece {
    /// A constant (field key, code version, `upstream/key.field`).
    Lit(String),
    /// The data version of field `field` (struct key) of dep number `dep`.
    DataVersion {
        /// Index into [`CountPlan::deps`].
        dep: usize,
        /// Struct key of the upstream field.
        field: String,
    },
}

/// An upstream feature of a [`CountPlan`].
#[derive(Debug, Clone)]
pub struct CountDep {
    /// Upstream feature.
    pub feature: FeatureKey,
    /// Its current feature version (rows of other versions are ignored).
    pub feature_version: String,
    /// Its id columns (identity lineage: the join columns).
    pub id_columns: Vec<String>,
    /// Struct keys of `metaxy_data_version_by_field` the recipes read.
    pub fields: Vec<String>,
}

/// What a backend needs to count an increment by itself.
#[derive(Debug, Clone)]
pub struct CountPlan {
    /// Target feature.
    pub target: FeatureKey,
    /// Its current feature version.
    pub feature_version: String,
    /// Its id columns (equal, as a set, to the join columns).
    pub id_columns: Vec<String>,
    /// Join columns.
    pub join_columns: Vec<String>,
    /// Upstream features, inner-joined on the join columns.
    pub deps: Vec<CountDep>,
    /// Per target field, in sorted struct-key order (the order of the sample provenance): its recipe.
    pub fields: Vec<(String, Vec<RecipePiece>)>,
    /// Row hash algorithm.
    pub algorithm: HashAlgorithm,
    /// Hash truncation length.
    pub truncation: usize,
}

/// The counts of an increment (Metaxy's `metadata status` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncrementCounts {
    /// New samples.
    pub new: usize,
    /// Stale samples.
    pub stale: usize,
    /// Orphaned samples.
    pub orphaned: usize,
    /// Rows of the target's default read (`Materialized`); 0 when it has no table.
    pub current_rows: usize,
    /// Whether the target has a table in the (primary) store.
    pub target_exists: bool,
}

/// Which rows of an increment a page holds (Metaxy's `added` / `changed` / `removed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncrementKind {
    /// Samples in upstream, not stored.
    New,
    /// Samples stored with a different sample provenance.
    Stale,
    /// Samples stored, gone from upstream.
    Orphaned,
}

impl IncrementKind {
    /// The three kinds, in tab order.
    pub const ALL: [IncrementKind; 3] = [Self::New, Self::Stale, Self::Orphaned];
}

/// One page of an increment kind computed by the backend itself ([`MetadataStore::increment_page`]).
///
/// [`MetadataStore::increment_page`]: crate::engine::store::api::MetadataStore::increment_page
#[derive(Debug, Clone)]
pub struct IncrementPage {
    /// The page's rows, ordered by the join columns: the join columns, `metaxy_provenance_by_field` (a struct
    /// with one string member per field struct key, in the order of [`CountPlan::fields`]) and
    /// `metaxy_provenance`. New and stale rows carry the recomputed provenance, orphaned rows the stored one.
    pub rows: polars::prelude::DataFrame,
    /// For a stale page: the stored provenance of the same rows (same columns); empty otherwise.
    pub previous: polars::prelude::DataFrame,
    /// Rows of this kind in the whole increment (the page is `offset..offset + rows.height()` of them).
    pub total: usize,
    /// Whether the target has a table in the (primary) store.
    pub target_exists: bool,
}
