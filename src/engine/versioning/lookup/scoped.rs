//! A store seen through id filters: every scan of a feature named in the scopes keeps only the rows of the
//! looked-up samples, pushed into the backend ([`MetadataStore::scan_ids`]). `resolve_update` and the stale-cause
//! search run unchanged on it, so a lookup reuses the increment machinery without reading whole features.

use std::collections::HashMap;

use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, StoreKind};
use crate::engine::error::Result;
use crate::engine::graph::PushedFeature;
use crate::engine::keys::FeatureKey;
use crate::engine::store::filter::IdFilter;
use crate::engine::store::{Columns, MetadataStore, ResolvedFrom};

/// `inner` with the scans of the features in `scopes` restricted to their id filter; other features are read
/// whole. Read-only: every write method keeps the trait's refusing default.
pub(crate) struct ScopedStore<'a> {
    inner: &'a dyn MetadataStore,
    scopes: &'a HashMap<FeatureKey, IdFilter>,
    /// The scoped view of `inner.local()` when it differs from `inner` (a fallback chain's primary).
    local: Option<Box<ScopedStore<'a>>>,
}

impl<'a> ScopedStore<'a> {
    /// `inner` scoped by `scopes`.
    pub(crate) fn new(
        inner: &'a dyn MetadataStore,
        scopes: &'a HashMap<FeatureKey, IdFilter>,
    ) -> Self {
        let local = inner.local();
        let local = (!std::ptr::addr_eq(local, inner)).then(|| {
            Box::new(ScopedStore {
                inner: local,
                scopes,
                local: None,
            })
        });
        ScopedStore {
            inner,
            scopes,
            local,
        }
    }
}

impl MetadataStore for ScopedStore<'_> {
    fn name(&self) -> &str {
        self.inner.name()
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
        match self.scopes.get(key) {
            Some(ids) => self.inner.scan_ids(key, feature_version, columns, ids),
            None => self.inner.scan(key, feature_version, columns),
        }
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
