//! A store seen through id filters: every scan of a feature named in the scopes keeps only the rows of the
//! looked-up samples, pushed into the backend ([`MetadataStore::scan_ids`]). `resolve_update` and the stale-cause
//! search run unchanged on it, so a lookup reuses the increment machinery without reading whole features. The
//! id-filtered scans are made once per lookup ([`ScanMemo`]): the stored rows, the increment's target and
//! upstreams and the stale-cause search all read the same few rows, and on a 10M-row Delta or Iceberg table each
//! id-filtered scan still decodes the whole id column.

use std::collections::HashMap;
use std::sync::Mutex;

use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, StoreKind};
use crate::engine::error::Result;
use crate::engine::graph::PushedFeature;
use crate::engine::keys::FeatureKey;
use crate::engine::store::filter::IdFilter;
use crate::engine::store::{Columns, MetadataStore, ResolvedFrom};

/// The id-filtered scans made during one lookup, each kept whole (every column, every feature version) and
/// answered from memory when asked again with any projection or version: [`MetadataStore::scan`] treats the
/// version as a pushdown hint its callers re-apply, and a projection of the whole rows is what the backend would
/// have returned. Keyed by (primary store only?, feature, id filter).
#[derive(Default)]
pub(crate) struct ScanMemo {
    scans: Mutex<HashMap<(bool, FeatureKey, String), Option<DataFrame>>>,
}

impl ScanMemo {
    /// `inner.scan_ids(key, None, All, ids)`, made once per `(local, key, ids)`.
    fn scan(
        &self,
        inner: &dyn MetadataStore,
        local: bool,
        key: &FeatureKey,
        ids: &IdFilter,
    ) -> Result<Option<DataFrame>> {
        let k = (local, key.clone(), format!("{ids:?}"));
        if let Some(hit) = self.scans.lock().ok().and_then(|m| m.get(&k).cloned()) {
            return Ok(hit);
        }
        let df = inner.scan_ids(key, None, &Columns::All, ids)?;
        if let Ok(mut m) = self.scans.lock() {
            m.insert(k, df.clone());
        }
        Ok(df)
    }
}

/// `inner` with the scans of the features in `scopes` restricted to their id filter (made once per lookup, see
/// [`ScanMemo`]); other features are read whole. Read-only: every write method keeps the trait's refusing
/// default.
pub(crate) struct ScopedStore<'a> {
    inner: &'a dyn MetadataStore,
    scopes: &'a HashMap<FeatureKey, IdFilter>,
    memo: &'a ScanMemo,
    /// This is the scoped view of a fallback chain's primary (`local` of another scoped store).
    is_local: bool,
    /// The scoped view of `inner.local()` when it differs from `inner` (a fallback chain's primary).
    local: Option<Box<ScopedStore<'a>>>,
}

impl<'a> ScopedStore<'a> {
    /// `inner` scoped by `scopes`, its scans kept in `memo`.
    pub(crate) fn new(
        inner: &'a dyn MetadataStore,
        scopes: &'a HashMap<FeatureKey, IdFilter>,
        memo: &'a ScanMemo,
    ) -> Self {
        let local = inner.local();
        let local = (!std::ptr::addr_eq(local, inner)).then(|| {
            Box::new(ScopedStore {
                inner: local,
                scopes,
                memo,
                is_local: true,
                local: None,
            })
        });
        ScopedStore {
            inner,
            scopes,
            memo,
            is_local: false,
            local,
        }
    }
}

impl MetadataStore for ScopedStore<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn keep_reads_open(&self) -> crate::engine::store::ReadsKeptOpen {
        self.inner.keep_reads_open()
    }
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    fn display(&self) -> String {
        self.inner.display()
    }
    fn class_path(&self) -> &'static str {
        self.inner.class_path()
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.inner.hash_algorithm()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        self.inner.table_name(key)
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        self.inner.has_feature(key)
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        self.inner.list_tables()
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let Some(ids) = self.scopes.get(key) else {
            return self.inner.scan(key, feature_version, columns);
        };
        let Some(df) = self.memo.scan(self.inner, self.is_local, key, ids)? else {
            return Ok(None);
        };
        // the projection `scan_ids` would have made: the kept columns and the filter's, in table order
        let keep: Vec<PlSmallStr> = df
            .get_column_names()
            .into_iter()
            .filter(|c| columns.keeps(c) || ids.columns.iter().any(|i| i == c.as_str()))
            .cloned()
            .collect();
        Ok(Some(df.select(keep)?))
    }
    fn local(&self) -> &dyn MetadataStore {
        match &self.local {
            Some(l) => l.as_ref(),
            None => self,
        }
    }
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        self.inner.resolved_from(key)
    }
    fn source_of(&self, key: &FeatureKey) -> Result<Option<String>> {
        self.inner.source_of(key)
    }
    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        self.inner.rows_per_feature_version(key)
    }
    fn system_rows(&self) -> Result<Vec<PushedFeature>> {
        self.inner.system_rows()
    }
}
