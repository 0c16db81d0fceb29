//! Id-filtered reads of a Delta table (the samples of a lookup, [`MetadataStore::scan_ids`]) pushed into the
//! parquet scan: data files are pruned by the Delta log's per-file statistics of the id columns, row groups by
//! the parquet column-chunk statistics, and the id membership is an arrow parquet [`RowFilter`] evaluated on the
//! id columns alone, so the other columns are decoded only for the matching rows. The engine's own filter
//! ([`IdFilter::apply`]) runs last on the few rows left: the result is exactly the reference's.
//!
//! [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;
use polars::prelude::DataFrame;

use super::decode::{conform, string_views, view_metadata};
use super::{may_hold_version, DeltaStore};
use crate::engine::error::Result;
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::Columns;
use crate::engine::store::filter::{int_value, prints_as_integer, IdFilter, IdScanStats};

/// How an id column takes part in the pushdown, by its arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string column: statistics prune, the row filter compares the text.
    Text,
    /// A signed integer column: statistics prune (only values that print as the filter's text can match), the
    /// row filter compares the printed number.
    Int,
    /// An unsigned integer column: statistics prune (as unsigned bounds), the row filter compares the number.
    Printed,
    /// Another type: not pushed (the engine's filter decides).
    Other,
}

fn kind_of(dt: &DataType) -> Kind {
    use DataType as D;
    match dt {
        D::Utf8 | D::LargeUtf8 | D::Utf8View => Kind::Text,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 => Kind::Int,
        D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => Kind::Printed,
        _ => Kind::Other,
    }
}

/// The id filter as the scan evaluates it: the pushed columns (those not of [`Kind::Other`]) and the value
/// tuples that can match on them (a tuple with a value no integer prints as is dropped: no row can hold it).
#[derive(Debug)]
struct Probe {
    /// (column, kind) of the pushed columns.
    columns: Vec<(String, Kind)>,
    /// Value tuples on `columns`, deduplicated.
    rows: Vec<Vec<String>>,
    /// `rows` as a set.
    set: HashSet<Vec<String>>,
    /// The values of the first pushed column (a cheap first test before a tuple is built).
    first: HashSet<String>,
}

impl Probe {
    /// The probe of `ids` on a table whose columns have the types `dt` says (`None`: the table lacks it).
    /// `None` when the table lacks a filter column (no row matches).
    fn new(ids: &IdFilter, dt: impl Fn(&str) -> Option<DataType>) -> Option<Probe> {
        let mut kinds = Vec::with_capacity(ids.columns.len());
        for c in &ids.columns {
            kinds.push(kind_of(&dt(c)?));
        }
        let pushed: Vec<usize> = (0..kinds.len())
            .filter(|&i| kinds[i] != Kind::Other)
            .collect();
        let mut rows: Vec<Vec<String>> = vec![];
        for r in &ids.rows {
            let possible = pushed.iter().all(|&i| {
                !matches!(kinds[i], Kind::Int | Kind::Printed) || prints_as_integer(&r[i])
            });
            let t: Vec<String> = pushed.iter().map(|&i| r[i].clone()).collect();
            if possible && !rows.contains(&t) {
                rows.push(t);
            }
        }
        Some(Probe {
            columns: pushed
                .iter()
                .map(|&i| (ids.columns[i].clone(), kinds[i]))
                .collect(),
            set: rows.iter().cloned().collect(),
            first: rows.iter().filter_map(|r| r.first().cloned()).collect(),
            rows,
        })
    }

    /// Whether no row can match (every value tuple dropped).
    fn matches_nothing(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether a region (a file or a row group) whose id columns have the bounds `bounds(column, kind)` gives
    /// may hold a matching row. Unknown bounds keep the region.
    fn may_match(&self, bounds: impl Fn(&str, Kind) -> Option<Bounds>) -> bool {
        let known: Vec<Option<Bounds>> = self.columns.iter().map(|(c, k)| bounds(c, *k)).collect();
        self.rows.iter().any(|r| {
            r.iter()
                .zip(&known)
                .all(|(v, b)| b.as_ref().is_none_or(|b| b.may_hold(v)))
        })
    }

    /// The row filter's mask over `batch` (the pushed id columns): a row passes when its values, as text, are
    /// one of the tuples; nulls never pass.
    fn mask(
        &self,
        batch: &RecordBatch,
    ) -> std::result::Result<BooleanArray, arrow::error::ArrowError> {
        if let Some(m) = self.numeric_mask(batch)? {
            return Ok(m);
        }
        let mut texts = Vec::with_capacity(self.columns.len());
        for (c, _) in &self.columns {
            let a = batch.column_by_name(c).ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("id column {c} was not decoded"))
            })?;
            texts.push(arrow::compute::cast(a, &DataType::Utf8View)?);
        }
        let views: Vec<&arrow::array::StringViewArray> = texts
            .iter()
            .map(|a| arrow::array::AsArray::as_string_view(a.as_ref()))
            .collect();
        let Some((head, rest)) = views.split_first() else {
            return Ok(BooleanArray::from(vec![true; batch.num_rows()]));
        };
        let out: BooleanArray = (0..batch.num_rows())
            .map(|i| {
                if head.is_null(i) || !self.first.contains(head.value(i)) {
                    return Some(false);
                }
                if rest.is_empty() {
                    return Some(true);
                }
                if rest.iter().any(|a| a.is_null(i)) {
                    return Some(false);
                }
                let t: Vec<String> = views.iter().map(|a| a.value(i).to_string()).collect();
                Some(self.set.contains(&t))
            })
            .collect();
        Ok(out)
    }
}

impl Probe {
    /// [`Probe::mask`] for one integer id column, compared as numbers (no text per row): `None` for other probes.
    /// Equal to the text comparison: every tuple left in the probe prints as itself
    /// ([`prints_as_integer`]), and a number's text is that number's.
    fn numeric_mask(
        &self,
        batch: &RecordBatch,
    ) -> std::result::Result<Option<BooleanArray>, arrow::error::ArrowError> {
        use arrow::array::AsArray;
        use arrow::datatypes::{Int64Type, UInt64Type};
        let [(c, kind)] = self.columns.as_slice() else {
            return Ok(None);
        };
        let a = batch.column_by_name(c).ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("id column {c} was not decoded"))
        })?;
        let mask: BooleanArray = match kind {
            Kind::Int => {
                let want: HashSet<i64> = self.first.iter().filter_map(|v| int_value(v)).collect();
                let a = arrow::compute::cast(a, &DataType::Int64)?;
                a.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| Some(v.is_some_and(|v| want.contains(&v))))
                    .collect()
            }
            Kind::Printed => {
                let want: HashSet<u64> = self.first.iter().filter_map(|v| uint_value(v)).collect();
                let a = arrow::compute::cast(a, &DataType::UInt64)?;
                a.as_primitive::<UInt64Type>()
                    .iter()
                    .map(|v| Some(v.is_some_and(|v| want.contains(&v))))
                    .collect()
            }
            Kind::Text | Kind::Other => return Ok(None),
        };
        Ok(Some(mask))
    }
}

/// `v` as an unsigned 64-bit integer when it prints as itself (`"7"`, not `"07"` or `"+7"`).
fn uint_value(v: &str) -> Option<u64> {
    v.parse::<u64>().ok().filter(|n| n.to_string() == v)
}

/// Statistics of one id column over a region: the smallest and largest value.
#[derive(Debug, Clone, PartialEq)]
enum Bounds {
    /// String bounds; either may be a truncated prefix of the real value (a prefix is never greater than the
    /// value it cuts, and a value between a cut maximum and the real one starts with the cut).
    Text(String, String),
    /// Exact integer bounds.
    Int(i64, i64),
    /// Exact unsigned integer bounds.
    UInt(u64, u64),
}

impl Bounds {
    /// Whether a value with text `v` may lie within the bounds.
    fn may_hold(&self, v: &str) -> bool {
        match self {
            Bounds::Text(min, max) => {
                v >= min.as_str() && (v <= max.as_str() || v.starts_with(max))
            }
            Bounds::Int(min, max) => int_value(v).is_some_and(|n| *min <= n && n <= *max),
            Bounds::UInt(min, max) => uint_value(v).is_some_and(|n| *min <= n && n <= *max),
        }
    }
}

/// The bounds of `column` in a Delta log entry's statistics JSON (`minValues` / `maxValues`).
fn log_bounds(stats: &serde_json::Value, column: &str, kind: Kind) -> Option<Bounds> {
    let (min, max) = (&stats["minValues"][column], &stats["maxValues"][column]);
    match kind {
        Kind::Text => Some(Bounds::Text(
            min.as_str()?.to_string(),
            max.as_str()?.to_string(),
        )),
        Kind::Int => Some(Bounds::Int(min.as_i64()?, max.as_i64()?)),
        Kind::Printed => Some(Bounds::UInt(min.as_u64()?, max.as_u64()?)),
        Kind::Other => None,
    }
}

/// The bounds in a parquet column chunk's statistics.
fn chunk_bounds(stats: &Statistics, kind: Kind) -> Option<Bounds> {
    match (stats, kind) {
        (Statistics::ByteArray(s), Kind::Text) => Some(Bounds::Text(
            std::str::from_utf8(s.min_bytes_opt()?).ok()?.to_string(),
            std::str::from_utf8(s.max_bytes_opt()?).ok()?.to_string(),
        )),
        (Statistics::Int32(s), Kind::Int) => Some(Bounds::Int(
            i64::from(*s.min_opt()?),
            i64::from(*s.max_opt()?),
        )),
        (Statistics::Int64(s), Kind::Int) => Some(Bounds::Int(*s.min_opt()?, *s.max_opt()?)),
        // unsigned columns keep their bits in the signed physical types; bounds in the unsigned order unless the
        // statistics are of the deprecated kind (signed order), which are only exact when both are non-negative
        (Statistics::Int32(s), Kind::Printed) => {
            let (min, max) = (*s.min_opt()?, *s.max_opt()?);
            (!stats.is_min_max_deprecated() || (min >= 0 && max >= 0))
                .then(|| Bounds::UInt(u64::from(min as u32), u64::from(max as u32)))
        }
        (Statistics::Int64(s), Kind::Printed) => {
            let (min, max) = (*s.min_opt()?, *s.max_opt()?);
            (!stats.is_min_max_deprecated() || (min >= 0 && max >= 0))
                .then_some(Bounds::UInt(min as u64, max as u64))
        }
        _ => None,
    }
}

/// The rows of one data file whose ids pass `probe`, decoded to `schema`: the row groups the statistics cannot
/// rule out, the id columns decoded first and the rest only for the matching rows. Adds to `stats`.
fn read_file(
    path: &str,
    bytes: &bytes::Bytes,
    schema: &SchemaRef,
    probe: &Arc<Probe>,
    stats: &mut IdScanStats,
) -> std::result::Result<Vec<RecordBatch>, String> {
    let e = |e: parquet::errors::ParquetError| format!("{path}: {e}");
    let meta: ArrowReaderMetadata = view_metadata(bytes).map_err(e)?;
    let file_schema = meta.schema().clone();
    let pq = meta.parquet_schema();
    let root = |c: &str| file_schema.fields().iter().position(|f| f.name() == c);
    // the leaf of each pushed id column (top-level primitives: one leaf each); a file without one holds nulls
    let mut leaves = vec![];
    for (c, _) in &probe.columns {
        let Some(leaf) =
            (0..pq.num_columns()).find(|&l| pq.column(l).path().parts() == [c.as_str()])
        else {
            stats.row_groups += meta.metadata().num_row_groups();
            return Ok(vec![]);
        };
        leaves.push(leaf);
    }
    let groups = meta.metadata().row_groups();
    stats.row_groups += groups.len();
    let kept: Vec<usize> = (0..groups.len())
        .filter(|&g| {
            probe.may_match(|c, k| {
                let i = probe.columns.iter().position(|(x, _)| x == c)?;
                chunk_bounds(groups[g].column(leaves[i]).statistics()?, k)
            })
        })
        .collect();
    stats.row_groups_read += kept.len();
    if kept.is_empty() {
        return Ok(vec![]);
    }
    let roots: Vec<usize> = schema
        .fields()
        .iter()
        .filter_map(|f| root(f.name()))
        .collect();
    let mask = ProjectionMask::roots(pq, roots);
    let mut builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta.clone())
            .with_projection(mask)
            .with_row_groups(kept);
    if !probe.columns.is_empty() {
        let id_mask = ProjectionMask::leaves(pq, leaves);
        let p = Arc::clone(probe);
        let predicate = ArrowPredicateFn::new(id_mask, move |b: RecordBatch| p.mask(&b));
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let reader = builder.build().map_err(e)?;
    let mut out = vec![];
    for b in reader {
        let b = b.map_err(|err| format!("{path}: {err}"))?;
        stats.rows_returned += b.num_rows();
        out.push(conform(&b, schema).map_err(|err| format!("{path}: {err}"))?);
    }
    Ok(out)
}

impl DeltaStore {
    /// [`MetadataStore::scan_ids`] with what the scan read: the files that may hold `feature_version` and one
    /// of the ids, their row groups that may hold one, and of those the rows whose ids match, with the columns
    /// `columns` selects plus the id columns (table order), in storage order; the engine's filter then keeps
    /// exactly [`IdFilter::apply`]'s rows. Like [`MetadataStore::scan`], rows of other feature versions may
    /// remain (callers re-apply the version filter). Errors: a data file that cannot be read
    /// ([`crate::engine::error::EngineError::CorruptTable`]).
    ///
    /// [`MetadataStore::scan_ids`]: crate::engine::store::MetadataStore::scan_ids
    /// [`MetadataStore::scan`]: crate::engine::store::MetadataStore::scan
    pub(crate) async fn scan_ids_async(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &IdFilter,
    ) -> Result<(DataFrame, IdScanStats)> {
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let full: SchemaRef = state.snapshot().arrow_schema();
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let schema = string_views(&columns.project_schema(&full));
        let mut stats = IdScanStats::default();
        let probe = Probe::new(ids, |c| {
            full.field_with_name(c).ok().map(|f| f.data_type().clone())
        });
        let Some(probe) = probe.filter(|p| !p.matches_nothing()).map(Arc::new) else {
            return Ok((record_batches_to_df(&schema, &[])?, stats));
        };
        let mut paths = vec![];
        for f in state.log_data() {
            let file_stats = f.stats();
            if !may_hold_version(file_stats.as_deref(), feature_version) {
                continue;
            }
            stats.files += 1;
            let parsed = file_stats
                .as_deref()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
            let keep = match &parsed {
                None => true,
                Some(s) => probe.may_match(|c, k| log_bounds(s, c, k)),
            };
            if keep {
                paths.push(f.path().to_string());
            }
        }
        stats.files_read = paths.len();
        let store = table.object_store();
        let fetches = paths.iter().map(|p| self.fetch_file(key, &store, p));
        let files: Vec<(String, bytes::Bytes)> = futures::future::try_join_all(fetches).await?;
        let mut batches = vec![];
        for (p, bytes) in &files {
            batches.extend(
                read_file(p, bytes, &schema, &probe, &mut stats)
                    .map_err(|m| self.corrupt(key, m))?,
            );
        }
        let df = record_batches_to_df(&schema, &batches)?;
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

    fn store(dir: &std::path::Path) -> DeltaStore {
        let mut config = serde_json::Map::new();
        config.insert(
            "root_path".into(),
            serde_json::Value::String(dir.join("root").display().to_string()),
        );
        let cfg = StoreConfig {
            name: "dev".into(),
            type_path: "metaxy.ext.polars.handlers.delta.DeltaMetadataStore".into(),
            kind: StoreKind::Delta,
            deprecated_type: false,
            config,
            hash_algorithm: HashAlgorithm::Xxhash32,
            fallback_stores: vec![],
            map_datatype: false,
        };
        DeltaStore::open(&cfg, dir).unwrap()
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
    fn append(s: &DeltaStore, key: &FeatureKey, from: usize, to: usize) {
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

    /// Three data files of disjoint sample ranges: a lookup reads only the file (and row group) its ids can be
    /// in, the row filter returns only the matching rows, and the rows equal the engine's filter over a full scan
    /// (composite ids, several samples, integer values that no integer prints as, a quote in a value).
    #[test]
    fn delta_id_scan_prunes_files_and_filters_rows_in_the_reader() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let key = FeatureKey::parse("t/chunks").unwrap();
        append(&s, &key, 0, 10);
        append(&s, &key, 10, 20);
        append(&s, &key, 20, 30);
        let scan = |ids: &IdFilter, cols: &Columns| {
            block_on(s.scan_ids_async(&key, Some("v1"), cols, ids)).unwrap()
        };
        let one = f(&["sample_uid"], &[&["s012"]]);
        let (df, stats) = scan(&one, &Columns::Only(vec!["payload".into()]));
        assert_eq!(df.height(), 2);
        assert_eq!(
            df.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["sample_uid", "payload"],
            "the id columns are added to the projection"
        );
        assert_eq!((stats.files, stats.files_read), (3, 1));
        assert_eq!((stats.row_groups_read, stats.rows_returned), (1, 2));
        // composite ids over two files; a chunk index that no integer prints as never matches
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
        // an id no file's bounds admit reads nothing; one inside the bounds but absent is filtered by the reader
        let (df, stats) = scan(&f(&["sample_uid"], &[&["it's"]]), &Columns::All);
        assert_eq!((df.height(), stats.files_read), (0, 0));
        let (df, stats) = scan(&f(&["sample_uid"], &[&["s0125"]]), &Columns::All);
        assert_eq!(
            (df.height(), stats.files_read, stats.rows_returned),
            (0, 1, 0)
        );
        // the integer column alone, and a column the table lacks
        let (df, stats) = scan(&f(&["chunk_idx"], &[&["1"]]), &Columns::All);
        assert_eq!((df.height(), stats.rows_returned), (30, 30));
        let (df, stats) = scan(&f(&["nope"], &[&["1"]]), &Columns::All);
        assert_eq!((df.height(), stats.files_read), (0, 0));
        // through the store trait: the same rows as the engine's filter
        let got = s
            .scan_ids(&key, None, &Columns::All, &two)
            .unwrap()
            .unwrap();
        assert!(sorted(got).equals_missing(&sorted(two.apply(all).unwrap())));
    }

    /// Unsigned integer ids (Metaxy writes `sample_uid` as UInt64 on Delta): files and row groups are pruned by
    /// unsigned bounds, the reader compares numbers, and the rows equal the engine's text filter over a full scan;
    /// a value that does not print as itself matches nothing.
    #[test]
    fn delta_id_scan_prunes_and_filters_unsigned_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let append_range = |key: &FeatureKey, lo: u64, hi: u64| {
            let df = df!(
                "sample_uid" => (lo..hi).collect::<Vec<u64>>(),
                "payload" => (lo..hi).map(|i| format!("p{i}")).collect::<Vec<_>>(),
                "metaxy_feature_version" => vec!["v1"; (hi - lo) as usize],
            )
            .unwrap();
            s.append(key, &df).unwrap();
        };
        let key = FeatureKey::parse("t/uids").unwrap();
        let far = 1u64 << 40;
        for (lo, hi) in [(0u64, 100u64), (100, 200), (far, far + 5)] {
            append_range(&key, lo, hi);
        }
        let check = |key: &FeatureKey, ids: &IdFilter| {
            let all = s.scan(key, None, &Columns::All).unwrap().unwrap();
            let (df, stats) = block_on(s.scan_ids_async(key, None, &Columns::All, ids)).unwrap();
            assert!(df.equals_missing(&ids.apply(all).unwrap()), "{ids:?}");
            (stats.files_read, df.height())
        };
        for (ids, files_read, rows) in [
            (f(&["sample_uid"], &[&["150"]]), 1, 1),
            (f(&["sample_uid"], &[&["7"], &["199"]]), 2, 2),
            (f(&["sample_uid"], &[&[&(far + 2).to_string()]]), 1, 1),
            (f(&["sample_uid"], &[&["007"], &["-1"], &["+7"]]), 0, 0),
            (f(&["sample_uid"], &[&["250"]]), 0, 0),
        ] {
            assert_eq!(check(&key, &ids), (files_read, rows), "{ids:?}");
        }
    }

    #[test]
    fn bounds_admit_truncated_statistics() {
        let t = super::Bounds::Text("s01".into(), "s02".into());
        assert!(t.may_hold("s015") && t.may_hold("s02") && t.may_hold("s02x"));
        assert!(!t.may_hold("s00") && !t.may_hold("s03"));
        let i = super::Bounds::Int(-2, 5);
        assert!(i.may_hold("-2") && i.may_hold("5"));
        assert!(!i.may_hold("6") && !i.may_hold("+1") && !i.may_hold("x"));
        let u = super::Bounds::UInt(3, u64::MAX);
        assert!(u.may_hold("3") && u.may_hold("18446744073709551615"));
        assert!(!u.may_hold("2") && !u.may_hold("-1") && !u.may_hold("03"));
    }
}
