//! Id-filtered reads of a Lance table (the samples of a lookup, [`MetadataStore::scan_ids`]) pushed into the
//! scan: the [`IdFilter`] becomes a Lance SQL filter (`only_if`; `IN` on one id column, an `OR` of `AND`ed
//! equalities for composite ids) that Lance evaluates while scanning. Every value is a literal of the column's
//! type: strings single-quoted with `'` doubled (Lance's SQL dialect has no backslash escapes), integers only
//! when the value is the printed form of one in the column type's range; identifiers are backtick-quoted.
//! The engine's own filter ([`IdFilter::apply`]) runs last on the few rows left: the result is exactly the
//! reference's.
//!
//! [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids

use arrow::datatypes::{DataType, Schema};
use polars::prelude::DataFrame;

use super::{corrupt_table, LanceStore};
use crate::engine::error::Result;
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::Columns;
use crate::engine::store::filter::{IdFilter, IdScanStats};

/// What of an [`IdFilter`] a Lance scan can evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IdPredicate {
    /// No row can match: the table lacks a filter column, or every value tuple holds a value its integer column
    /// cannot hold.
    Nothing,
    /// This Lance SQL filter keeps every matching row (and may keep others only when some id column is of a
    /// type it does not cover).
    Sql(String),
    /// No id column is of a covered type: the scan reads everything and the engine filters.
    Unpushed,
}

/// A Lance SQL string literal of `v`: single quotes, a quote inside doubled.
pub(super) fn sql_string(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// A Lance SQL identifier: backtick-quoted, a backtick inside doubled.
pub(super) fn sql_ident(c: &str) -> String {
    format!("`{}`", c.replace('`', "``"))
}

/// The SQL literal `v` is compared as in a column of type `ty`: `Ok(Some)` for a string or integer column
/// (integers only when `v` prints as a number in the type's range), `Ok(None)` when no value of the column is `v`
/// as text, `Err(())` for a type not covered.
fn literal(ty: &DataType, v: &str) -> std::result::Result<Option<String>, ()> {
    use DataType as D;
    let range: (i128, i128) = match ty {
        D::Utf8 | D::LargeUtf8 | D::Utf8View => return Ok(Some(sql_string(v))),
        D::Int8 => (i8::MIN.into(), i8::MAX.into()),
        D::Int16 => (i16::MIN.into(), i16::MAX.into()),
        D::Int32 => (i32::MIN.into(), i32::MAX.into()),
        D::Int64 => (i64::MIN.into(), i64::MAX.into()),
        D::UInt8 => (0, u8::MAX.into()),
        D::UInt16 => (0, u16::MAX.into()),
        D::UInt32 => (0, u32::MAX.into()),
        D::UInt64 => (0, u64::MAX.into()),
        _ => return Err(()),
    };
    Ok(v.parse::<i128>()
        .ok()
        .filter(|n| n.to_string() == v && range.0 <= *n && *n <= range.1)
        .map(|n| n.to_string()))
}

/// The Lance SQL filter of `ids` on a table of schema `schema` ([`IdPredicate`]).
pub(super) fn id_predicate(ids: &IdFilter, schema: &Schema) -> IdPredicate {
    let mut types = Vec::with_capacity(ids.columns.len());
    for c in &ids.columns {
        let Ok(f) = schema.field_with_name(c) else {
            return IdPredicate::Nothing;
        };
        types.push(f.data_type().clone());
    }
    let covered: Vec<usize> = (0..types.len())
        .filter(|&i| literal(&types[i], "0").is_ok())
        .collect();
    if covered.is_empty() {
        return IdPredicate::Unpushed;
    }
    let mut rows: Vec<Vec<String>> = vec![];
    for r in &ids.rows {
        let lits: Option<Vec<String>> = covered
            .iter()
            .map(|&i| literal(&types[i], &r[i]).ok().flatten())
            .collect();
        if let Some(lits) = lits.filter(|l| !rows.contains(l)) {
            rows.push(lits);
        }
    }
    if rows.is_empty() {
        return IdPredicate::Nothing;
    }
    let ident = |i: usize| sql_ident(&ids.columns[covered[i]]);
    if covered.len() == 1 {
        let values: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        return IdPredicate::Sql(format!("{} IN ({})", ident(0), values.join(", ")));
    }
    let ors: Vec<String> = rows
        .iter()
        .map(|r| {
            let ands: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{} = {v}", ident(i)))
                .collect();
            format!("({})", ands.join(" AND "))
        })
        .collect();
    IdPredicate::Sql(ors.join(" OR "))
}

impl LanceStore {
    /// [`MetadataStore::scan_ids`] with what the scan read: `ids` as a Lance SQL filter ([`id_predicate`]) with the
    /// version filter, the columns `columns` selects plus the id columns, in storage order; the engine's filter
    /// then keeps exactly [`IdFilter::apply`]'s rows. Errors as [`MetadataStore::scan`].
    ///
    /// [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids
    /// [`MetadataStore::scan`]: crate::engine::store::MetadataStore::scan
    pub(super) async fn scan_ids_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &IdFilter,
    ) -> Result<(DataFrame, IdScanStats)> {
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let table = self.open_table(key).await?;
        let schema = table
            .schema()
            .await
            .map_err(|e| corrupt_table(key, e.to_string()))?;
        let only = match id_predicate(ids, &schema) {
            IdPredicate::Nothing => {
                let projected = columns.project_schema(&schema);
                let df = record_batches_to_df(&projected, &[])?;
                return Ok((df, IdScanStats::default()));
            }
            IdPredicate::Sql(sql) => Some(sql),
            IdPredicate::Unpushed => None,
        };
        let (df, rows) = self
            .read_table(key, feature_version, &columns, only.as_deref())
            .await?;
        let stats = IdScanStats {
            rows_returned: rows,
            ..Default::default()
        };
        Ok((ids.apply(df)?, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn f(columns: &[&str], rows: &[&[&str]]) -> IdFilter {
        IdFilter::new(
            columns.iter().map(|c| c.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|v| v.to_string()).collect())
                .collect(),
        )
    }

    #[test]
    fn lance_id_predicates_quote_strings_and_type_integers() {
        let schema = Schema::new(vec![
            Field::new("sample_uid", DataType::Utf8, true),
            Field::new("chunk_idx", DataType::Int64, true),
            Field::new("small", DataType::Int8, true),
            Field::new("we`ird", DataType::Utf8, true),
            Field::new("ts", DataType::Float64, true),
        ]);
        let p = |ids: IdFilter| id_predicate(&ids, &schema);
        assert_eq!(
            p(f(&["sample_uid"], &[&["a"], &["it's"], &["x' OR '1'='1"]])),
            IdPredicate::Sql("`sample_uid` IN ('a', 'it''s', 'x'' OR ''1''=''1')".into())
        );
        assert_eq!(
            p(f(&["sample_uid", "chunk_idx"], &[&["a", "0"], &["b", "-2"], &["c", "+1"]])),
            IdPredicate::Sql("(`sample_uid` = 'a' AND `chunk_idx` = 0) OR (`sample_uid` = 'b' AND `chunk_idx` = -2)".into())
        );
        // values no integer of the column prints as: no row can hold them
        assert_eq!(
            p(f(&["chunk_idx"], &[&["x"], &["01"]])),
            IdPredicate::Nothing
        );
        assert_eq!(p(f(&["small"], &[&["300"]])), IdPredicate::Nothing);
        assert_eq!(
            p(f(&["we`ird"], &[&["\\'"]])),
            IdPredicate::Sql("`we``ird` IN ('\\''')".into())
        );
        // an uncovered type is left to the engine; a missing column matches nothing
        assert_eq!(p(f(&["ts"], &[&["1.5"]])), IdPredicate::Unpushed);
        assert_eq!(
            p(f(&["sample_uid", "ts"], &[&["a", "1.5"]])),
            IdPredicate::Sql("`sample_uid` IN ('a')".into())
        );
        assert_eq!(p(f(&["nope"], &[&["a"]])), IdPredicate::Nothing);
    }

    fn store(dir: &std::path::Path) -> LanceStore {
        use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
        let mut config = serde_json::Map::new();
        config.insert(
            "uri".into(),
            serde_json::Value::String(dir.join("lance").display().to_string()),
        );
        let cfg = StoreConfig {
            name: "dev".into(),
            type_path: "metaxy.ext.lancedb.LanceDBMetadataStore".into(),
            kind: StoreKind::LanceDb,
            deprecated_type: false,
            config,
            hash_algorithm: HashAlgorithm::Xxhash32,
            fallback_stores: vec![],
            map_datatype: false,
        };
        LanceStore::open(&cfg, dir).unwrap()
    }

    /// Against a real table: the scan returns only the matching rows (the filter ran in Lance), string ids with
    /// quotes, backslashes and SQL in them match exactly themselves, composite ids and several samples at once
    /// equal the engine's filter over a full scan.
    #[test]
    fn lance_id_scan_filters_in_the_scan_and_escapes_values() {
        use crate::engine::rt::block_on;
        use crate::engine::store::api::MetadataStore;
        use polars::prelude::*;
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let key = crate::engine::keys::FeatureKey::parse("t/chunks").unwrap();
        let mut uids: Vec<String> = (0..20).map(|i| format!("s{i:03}")).collect();
        uids.extend(["it's", "x' OR '1'='1", "back\\slash'", "quote\"\""].map(String::from));
        let n = uids.len();
        let df = df!(
            "sample_uid" => uids.iter().flat_map(|u| [u.clone(), u.clone()]).collect::<Vec<_>>(),
            "chunk_idx" => (0..n).flat_map(|_| [0i64, 1]).collect::<Vec<_>>(),
            "payload" => (0..2 * n).map(|i| format!("p{i}")).collect::<Vec<_>>(),
            "metaxy_feature_version" => vec!["v1"; 2 * n],
        )
        .unwrap();
        s.append(&key, &df).unwrap();
        let all = s.scan(&key, None, &Columns::All).unwrap().unwrap();
        assert_eq!(all.height(), 2 * n);
        let sorted = |df: DataFrame| {
            df.sort(["sample_uid", "chunk_idx"], Default::default())
                .unwrap()
        };
        let check = |ids: IdFilter, expect: usize| {
            let (got, stats) =
                block_on(s.scan_ids_async(&key, Some("v1"), &Columns::All, &ids)).unwrap();
            assert_eq!(
                (got.height(), stats.rows_returned),
                (expect, expect),
                "{ids:?}"
            );
            let reference = ids.apply(all.clone()).unwrap();
            assert!(sorted(got).equals_missing(&sorted(reference)), "{ids:?}");
        };
        for u in &uids[20..] {
            check(f(&["sample_uid"], &[&[u.as_str()]]), 2);
        }
        check(f(&["sample_uid"], &[&["x' OR 'a'='a"]]), 0);
        check(f(&["sample_uid"], &[&["s001"], &["s017"], &["it's"]]), 6);
        check(
            f(
                &["sample_uid", "chunk_idx"],
                &[
                    &["s003", "1"],
                    &["it's", "0"],
                    &["s004", "+1"],
                    &["s005", "x"],
                ],
            ),
            2,
        );
        check(f(&["chunk_idx"], &[&["1"]]), n);
        check(f(&["chunk_idx"], &[&["01"]]), 0);
        // through the store trait; the projection gains the id columns
        let got = s
            .scan_ids(
                &key,
                None,
                &Columns::Only(vec!["payload".into()]),
                &f(&["sample_uid"], &[&["it's"]]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            got.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["sample_uid", "payload"]
        );
        assert_eq!(got.height(), 2);
    }
}
