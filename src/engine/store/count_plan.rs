//! The counts-only increment plan a store may run by itself ([`MetadataStore::increment_counts`]): the vocabulary
//! between the backend-neutral planner ([`crate::engine::versioning::counts`]) and a backend's query (DuckDB:
//! [`crate::engine::store::duckql::counts`]).
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

/// Which rows of one kind a page request wants ([`MetadataStore::increment_page`]).
///
/// [`MetadataStore::increment_page`]: crate::engine::store::api::MetadataStore::increment_page
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageWindow {
    /// Position of the first row (in the join-column order).
    pub offset: usize,
    /// Most rows.
    pub limit: usize,
    /// Stores whose general engine is faster on small tables (DuckDB, local Delta) page only when the plan's
    /// tables hold at least this many stored rows (all versions); `None`: the store's own threshold, with its
    /// environment override (`METAXY_TUI_DUCKDB_PAGES_ROWS`, `METAXY_TUI_DELTA_DUCKDB_ROWS`). ClickHouse always
    /// pages.
    pub min_rows: Option<u64>,
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

impl IncrementPage {
    /// The page of `kind` from a page query's answer `raw` (shared by the backends that page in SQL): the join
    /// columns, `__x<i>` (field provenances, in the order of [`CountPlan::fields`]) gathered into the
    /// `metaxy_provenance_by_field` struct, `__xp` as `metaxy_provenance`; for a stale page also `__y<i>` /
    /// `__yp`, the stored provenances of the same rows, as [`IncrementPage::previous`].
    ///
    /// Errors: a column of the answer is missing or cannot be cast to a string.
    pub fn from_answer(
        plan: &CountPlan,
        kind: IncrementKind,
        raw: &polars::prelude::DataFrame,
        total: usize,
        target_exists: bool,
    ) -> crate::engine::error::Result<Self> {
        let rows = page_frame(plan, raw)?;
        let previous = if kind == IncrementKind::Stale {
            let n = plan.fields.len();
            let mut keep: Vec<String> = plan.join_columns.clone();
            keep.extend((0..n).map(|i| format!("__y{i}")));
            keep.push("__yp".into());
            let mut prev = raw.select(keep)?;
            for i in 0..n {
                prev.rename(&format!("__y{i}"), format!("__x{i}").into())?;
            }
            prev.rename("__yp", "__xp".into())?;
            page_frame(plan, &prev)?
        } else {
            polars::prelude::DataFrame::empty()
        };
        Ok(IncrementPage {
            rows,
            previous,
            total,
            target_exists,
        })
    }

    /// An empty page with the columns of a page of `plan` (the join columns as strings): a kind that has no row
    /// because the target has no table.
    pub fn empty(plan: &CountPlan) -> crate::engine::error::Result<Self> {
        use polars::prelude::{Column, DataFrame, DataType};
        let mut names: Vec<String> = plan.join_columns.clone();
        names.extend((0..plan.fields.len()).map(|i| format!("__x{i}")));
        names.push("__xp".into());
        let columns: Vec<Column> = names
            .iter()
            .map(|n| Column::new_empty(n.as_str().into(), &DataType::String))
            .collect();
        Ok(IncrementPage {
            rows: page_frame(plan, &DataFrame::new(0, columns)?)?,
            previous: DataFrame::empty(),
            total: 0,
            target_exists: false,
        })
    }
}

/// The page frame from a page query's columns (see [`IncrementPage::from_answer`]).
fn page_frame(
    plan: &CountPlan,
    raw: &polars::prelude::DataFrame,
) -> crate::engine::error::Result<polars::prelude::DataFrame> {
    use crate::engine::schema as cols;
    use polars::prelude::*;
    let len = raw.height();
    let mut out: Vec<Column> = vec![];
    for c in &plan.join_columns {
        out.push(raw.column(c)?.clone());
    }
    let mut members: Vec<Series> = vec![];
    for (i, (f, _)) in plan.fields.iter().enumerate() {
        let s = raw.column(&format!("__x{i}"))?.as_materialized_series();
        members.push(s.cast(&DataType::String)?.with_name(f.as_str().into()));
    }
    let by_field = if members.is_empty() {
        Series::full_null(cols::PROVENANCE_BY_FIELD.into(), len, &DataType::String)
    } else {
        StructChunked::from_series(cols::PROVENANCE_BY_FIELD.into(), len, members.iter())?
            .into_series()
    };
    out.push(by_field.into_column());
    let prov = raw.column("__xp")?.as_materialized_series();
    out.push(
        prov.cast(&DataType::String)?
            .with_name(cols::PROVENANCE.into())
            .into_column(),
    );
    Ok(DataFrame::new(len, out)?)
}
