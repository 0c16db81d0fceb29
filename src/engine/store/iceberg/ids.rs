//! Id-filtered reads of an Iceberg table (the samples of a lookup, [`MetadataStore::scan_ids`]) pushed into the
//! scan: the [`IdFilter`] becomes an Iceberg predicate (`IN` on one id column; an `OR` of `AND`ed equalities for
//! composite ids), with which the crate's scan planning prunes the data files by their column bounds and its
//! Arrow reader prunes row groups and filters rows. The engine's own filter ([`IdFilter::apply`]) runs last on
//! the few rows left: the result is exactly the reference's.
//!
//! [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids

use futures::TryStreamExt;
use iceberg::expr::{Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType, Schema, Type};
use iceberg::table::Table;
use polars::prelude::DataFrame;

use super::read::IdPushdown;
use super::IcebergStore;
use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::Columns;
use crate::engine::store::filter::{int_value, IdFilter, IdScanStats};

/// The Iceberg literal a filter value `v` is compared as in a column of type `ty`: strings as strings, integers
/// as numbers when `v` is the text of one. `Ok(None)`: no row of the column can hold `v` (an integer column and
/// a value no integer prints as). `Err(())`: a type the predicate does not cover (the engine's filter decides).
fn literal(ty: &Type, v: &str) -> std::result::Result<Option<Datum>, ()> {
    match ty {
        Type::Primitive(PrimitiveType::String) => Ok(Some(Datum::string(v))),
        Type::Primitive(PrimitiveType::Long) => Ok(int_value(v).map(Datum::long)),
        Type::Primitive(PrimitiveType::Int) => Ok(int_value(v)
            .and_then(|n| i32::try_from(n).ok())
            .map(Datum::int)),
        _ => Err(()),
    }
}

/// The predicate of `ids` on a table of schema `schema`, over the id columns of a type it covers (the others are
/// left to the engine's filter): `None` when it covers none of them; [`Predicate::AlwaysFalse`] when no row can
/// match (the table lacks a filter column, or every value tuple holds a value its integer column cannot hold).
pub(super) fn id_predicate(ids: &IdFilter, schema: &Schema) -> Option<Predicate> {
    let mut types = Vec::with_capacity(ids.columns.len());
    for c in &ids.columns {
        let Some(f) = schema.field_by_name(c) else {
            return Some(Predicate::AlwaysFalse);
        };
        types.push(f.field_type.as_ref().clone());
    }
    let covered: Vec<usize> = (0..types.len())
        .filter(|&i| literal(&types[i], "0").is_ok())
        .collect();
    if covered.is_empty() {
        return None;
    }
    // per value tuple: the literals of the covered columns; a tuple that cannot match is dropped
    let mut rows: Vec<Vec<Datum>> = vec![];
    for r in &ids.rows {
        let lits: Option<Vec<Datum>> = covered
            .iter()
            .map(|&i| literal(&types[i], &r[i]).ok().flatten())
            .collect();
        if let Some(lits) = lits.filter(|l| !rows.contains(l)) {
            rows.push(lits);
        }
    }
    if rows.is_empty() {
        return Some(Predicate::AlwaysFalse);
    }
    if let [c] = covered.as_slice() {
        let name = ids.columns[*c].clone();
        return Some(Reference::new(name).is_in(rows.into_iter().map(|mut r| r.remove(0))));
    }
    let tuple = |r: Vec<Datum>| -> Predicate {
        r.into_iter()
            .zip(&covered)
            .map(|(d, &c)| Reference::new(ids.columns[c].clone()).equal_to(d))
            .reduce(Predicate::and)
            .unwrap_or(Predicate::AlwaysTrue)
    };
    rows.into_iter().map(tuple).reduce(Predicate::or)
}

impl IcebergStore {
    /// [`MetadataStore::scan_ids`] with what the scan read: `ids` as an Iceberg predicate ([`id_predicate`]) with
    /// which the crate plans the data files to read and its reader prunes row groups and filters rows; the
    /// columns `columns` selects plus the id columns, in append order; the engine's filter then keeps exactly
    /// [`IdFilter::apply`]'s rows. Like [`MetadataStore::scan`], rows of other feature versions may remain.
    /// Errors: [`crate::engine::error::EngineError::CorruptTable`] for a table the crate cannot plan or read.
    ///
    /// [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids
    /// [`MetadataStore::scan`]: crate::engine::store::MetadataStore::scan
    pub(super) async fn scan_ids_async(
        &self,
        key: &FeatureKey,
        table: &Table,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &IdFilter,
    ) -> Result<(DataFrame, IdScanStats)> {
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let schema = table.metadata().current_schema().clone();
        let pushed = match id_predicate(ids, &schema) {
            None => None,
            Some(predicate) => {
                let mut files = std::collections::HashSet::new();
                if table.metadata().current_snapshot().is_some()
                    && !matches!(predicate, Predicate::AlwaysFalse)
                {
                    let scan = table
                        .scan()
                        .select_empty()
                        .with_filter(predicate.clone())
                        .build()
                        .map_err(|e| self.corrupt(key, e))?;
                    let tasks: Vec<iceberg::scan::FileScanTask> = scan
                        .plan_files()
                        .await
                        .map_err(|e| self.corrupt(key, e))?
                        .try_collect()
                        .await
                        .map_err(|e| self.corrupt(key, e))?;
                    files.extend(tasks.into_iter().map(|t| t.data_file_path));
                }
                Some(IdPushdown { predicate, files })
            }
        };
        let (df, stats) = self
            .read_pushed(key, table, feature_version, &columns, pushed.as_ref())
            .await?;
        if ids.columns.iter().any(|c| df.get_column_index(c).is_none()) {
            return Ok((df.clear(), stats));
        }
        Ok((ids.apply(df)?, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
    use crate::engine::rt::block_on;
    use crate::engine::store::api::MetadataStore;
    use polars::prelude::*;

    fn store(dir: &std::path::Path) -> IcebergStore {
        let mut config = serde_json::Map::new();
        config.insert("warehouse".into(), serde_json::Value::String("wh".into()));
        let cfg = StoreConfig {
            name: "dev".into(),
            type_path: super::super::CLASS_PATH.into(),
            kind: StoreKind::Iceberg,
            deprecated_type: false,
            config,
            hash_algorithm: HashAlgorithm::Xxhash32,
            fallback_stores: vec![],
            map_datatype: false,
        };
        IcebergStore::open(&cfg, dir).unwrap()
    }

    fn f(columns: &[&str], rows: &[&[&str]]) -> IdFilter {
        IdFilter::new(
            columns.iter().map(|c| c.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|v| v.to_string()).collect())
                .collect(),
        )
    }

    /// One data file per append: samples `s{from}..s{to}` with chunks 0 and 1 and a payload column.
    fn append(s: &IcebergStore, key: &FeatureKey, from: usize, to: usize) {
        let uids: Vec<String> = (from..to)
            .flat_map(|i| [format!("s{i:03}"), format!("s{i:03}")])
            .collect();
        let chunks: Vec<i64> = (from..to).flat_map(|_| [0i64, 1]).collect();
        let payload: Vec<String> = uids.iter().map(|u| format!("payload of {u}")).collect();
        let df = df!(
            "sample_uid" => uids,
            "chunk_idx" => chunks,
            "payload" => payload,
            "metaxy_feature_version" => vec!["v1"; 2 * (to - from)],
        )
        .unwrap();
        s.append(key, &df).unwrap();
    }

    fn sorted(df: DataFrame) -> DataFrame {
        df.sort(["sample_uid", "chunk_idx"], Default::default())
            .unwrap()
    }

    /// Three data files of disjoint sample ranges: the crate's planning keeps only the files the ids can be in,
    /// its reader returns only the matching rows, and the rows equal the engine's filter over a full scan
    /// (composite ids, several samples, integer values no integer prints as, a quote in a value).
    #[test]
    fn iceberg_id_scan_prunes_files_and_filters_rows_in_the_reader() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let key = FeatureKey::parse("t/chunks").unwrap();
        append(&s, &key, 0, 10);
        append(&s, &key, 10, 20);
        append(&s, &key, 20, 30);
        let table = block_on(s.load(&key)).unwrap().unwrap();
        let scan = |ids: &IdFilter, cols: &Columns| {
            block_on(s.scan_ids_async(&key, &table, Some("v1"), cols, ids)).unwrap()
        };
        let (df, stats) = scan(
            &f(&["sample_uid"], &[&["s012"]]),
            &Columns::Only(vec!["payload".into()]),
        );
        assert_eq!(df.height(), 2);
        assert_eq!(
            df.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["sample_uid", "payload"]
        );
        assert_eq!(
            (stats.files, stats.files_read, stats.rows_returned),
            (3, 1, 2)
        );
        let two = f(
            &["sample_uid", "chunk_idx"],
            &[
                &["s003", "1"],
                &["s027", "0"],
                &["s027", "+1"],
                &["s005", "01"],
            ],
        );
        let (df, stats) = scan(&two, &Columns::All);
        assert_eq!((stats.files_read, stats.rows_returned), (2, 2));
        let all = s.scan(&key, None, &Columns::All).unwrap().unwrap();
        assert_eq!(all.height(), 60);
        assert!(sorted(df).equals_missing(&sorted(two.apply(all.clone()).unwrap())));
        let (df, stats) = scan(&f(&["sample_uid"], &[&["it's"]]), &Columns::All);
        assert_eq!((df.height(), stats.files_read), (0, 0));
        let (df, stats) = scan(&f(&["sample_uid"], &[&["s0125"]]), &Columns::All);
        assert_eq!((df.height(), stats.rows_returned), (0, 0));
        let (df, stats) = scan(&f(&["chunk_idx"], &[&["1"]]), &Columns::All);
        assert_eq!((df.height(), stats.rows_returned), (30, 30));
        let (df, stats) = scan(&f(&["chunk_idx"], &[&["x"]]), &Columns::All);
        assert_eq!((df.height(), stats.files_read), (0, 0));
        let (df, stats) = scan(&f(&["nope"], &[&["1"]]), &Columns::All);
        assert_eq!((df.height(), stats.files_read), (0, 0));
        let got = s
            .scan_ids(&key, None, &Columns::All, &two)
            .unwrap()
            .unwrap();
        assert!(sorted(got).equals_missing(&sorted(two.apply(all).unwrap())));
    }
}
