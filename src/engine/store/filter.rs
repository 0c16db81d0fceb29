//! SQL filters over frames (Metaxy's `filters=` as SQL WHERE fragments) and the exact id-uniqueness check: helpers
//! shared by the read semantics and the store backends.

use polars::prelude::*;

use crate::engine::error::{EngineError, Result};

/// Parses a SQL WHERE fragment into a polars expression. Errors with [`EngineError::BadFilter`].
pub fn parse_filter(sql: &str) -> Result<Expr> {
    if sql.trim().is_empty() {
        return Err(EngineError::BadFilter {
            filter: sql.to_string(),
            message: "empty filter".into(),
        });
    }
    polars::sql::sql_expr(sql).map_err(|e| EngineError::BadFilter {
        filter: sql.to_string(),
        message: crate::engine::error::one_line(&e.to_string()),
    })
}

/// Applies SQL filters to a frame; evaluation errors (unknown column, type mismatch) become
/// [`EngineError::BadFilter`].
pub fn apply_filters(df: DataFrame, filters: &[String]) -> Result<DataFrame> {
    let mut out = df;
    for f in filters {
        let e = parse_filter(f)?;
        out = out
            .lazy()
            .filter(e)
            .collect()
            .map_err(|err| EngineError::BadFilter {
                filter: f.clone(),
                message: crate::engine::error::one_line(&err.to_string()),
            })?;
    }
    Ok(out)
}

/// Whether every row of `df` has its own value of `id_columns` (nulls count as one value, as in a group-by):
/// an O(n) check when the single id column is stored sorted, a hash count otherwise.
pub fn ids_unique(df: &DataFrame, id_columns: &[String]) -> Result<bool> {
    if df.height() < 2 {
        return Ok(true);
    }
    if let [id] = id_columns {
        let s = df.column(id)?.as_materialized_series();
        if let Some(unique) = sorted_unique(s)? {
            return Ok(unique);
        }
        if chunks_prove_unique(s)? {
            return Ok(true);
        }
        return Ok(s.n_unique()? == s.len());
    }
    Ok(df.group_by(id_columns)?.get_groups().len() == df.height())
}

/// Whether the chunks of `s` (one per data file or row group) prove it unique: each chunk sorted without equal
/// neighbours and no nulls, and the chunks' value ranges disjoint. `false` = not proven (maybe still unique).
pub(crate) fn chunks_prove_unique(s: &Series) -> Result<bool> {
    let lens: Vec<usize> = s.chunk_lengths().collect();
    if lens.len() < 2 || s.null_count() > 0 {
        return Ok(false);
    }
    let mut ranges: Vec<(AnyValue<'static>, AnyValue<'static>)> = Vec::with_capacity(lens.len());
    let mut off = 0usize;
    for l in lens {
        if l == 0 {
            continue;
        }
        let c = s.slice(off as i64, l);
        off += l;
        if l > 1 && sorted_unique(&c)? != Some(true) {
            return Ok(false);
        }
        ranges.push((c.get(0)?.into_static(), c.get(l - 1)?.into_static()));
    }
    ranges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    Ok(ranges
        .windows(2)
        .all(|w| w[0].1.partial_cmp(&w[1].0) == Some(std::cmp::Ordering::Less)))
}

/// `Some(unique)` when `s` is sorted (then uniqueness is "no two equal neighbours"), `None` otherwise.
pub(crate) fn sorted_unique(s: &Series) -> Result<Option<bool>> {
    let n = s.len();
    if n < 2 || !s.is_sorted(SortOptions::default()).unwrap_or(false) {
        return Ok(None);
    }
    Ok(Some(
        !s.slice(1, n - 1).equal_missing(&s.slice(0, n - 1))?.any(),
    ))
}

/// How a backend stores an id column, for the SQL literal of an [`IdFilter`] value: text compared to a string
/// literal, integers to a number (so the backend can use its statistics), anything else compared as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A text column (`VARCHAR`, `text`).
    Text,
    /// An integer column.
    Integer,
    /// Another type (or unknown): compared through a cast to text.
    Other,
}

/// Rows of id values a scan keeps (the samples of a lookup): a row passes when its `columns` hold one of the
/// value tuples of `rows`, values compared as text (`chunk_idx = 0` matches the text `"0"`). Backends push it into
/// their scans ([`crate::engine::store::MetadataStore::scan_ids`]); [`IdFilter::apply`] is the engine's own
/// evaluation, the reference for every pushdown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdFilter {
    /// The id columns the values are for.
    pub columns: Vec<String>,
    /// Value tuples, one value per column, in `columns` order; no duplicates.
    pub rows: Vec<Vec<String>>,
}

impl IdFilter {
    /// A filter on `columns` keeping rows equal to one of `rows` (duplicates dropped, order kept).
    pub fn new(columns: Vec<String>, rows: Vec<Vec<String>>) -> Self {
        let mut out: Vec<Vec<String>> = Vec::with_capacity(rows.len());
        for r in rows {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        IdFilter { columns, rows: out }
    }

    /// This filter restricted to the columns `map` names (`(column here, column there)` pairs) and renamed to
    /// the `there` names: the samples of a related feature. `None` when no column maps (the feature shares no id
    /// column with these samples).
    pub fn project(&self, map: &[(String, String)]) -> Option<IdFilter> {
        let mut idx = vec![];
        let mut columns = vec![];
        for (i, c) in self.columns.iter().enumerate() {
            if let Some((_, to)) = map.iter().find(|(from, _)| from == c) {
                if !columns.contains(to) {
                    idx.push(i);
                    columns.push(to.clone());
                }
            }
        }
        if columns.is_empty() {
            return None;
        }
        let rows = self
            .rows
            .iter()
            .map(|r| idx.iter().map(|i| r[*i].clone()).collect())
            .collect();
        Some(IdFilter::new(columns, rows))
    }

    /// Whether a row with these `(column, value as text)` pairs passes (columns of the filter the row lacks are
    /// not checked).
    pub fn matches(&self, values: &[(String, String)]) -> bool {
        self.rows.iter().any(|r| {
            self.columns.iter().zip(r).all(|(c, v)| {
                values
                    .iter()
                    .find(|(k, _)| k == c)
                    .is_none_or(|(_, x)| x == v)
            })
        })
    }

    /// The filter as a polars expression (a column compared as text).
    pub fn expr(&self) -> Expr {
        let text = |c: &str| col(c).cast(DataType::String);
        if let [c] = self.columns.as_slice() {
            let values = Series::new(
                "values".into(),
                self.rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
            );
            return text(c).is_in(lit(values).implode(false), false);
        }
        let mut out: Option<Expr> = None;
        for r in &self.rows {
            let mut all: Option<Expr> = None;
            for (c, v) in self.columns.iter().zip(r) {
                let e = text(c).eq(lit(v.clone()));
                all = Some(match all {
                    None => e,
                    Some(a) => a.and(e),
                });
            }
            let all = all.unwrap_or(lit(true));
            out = Some(match out {
                None => all,
                Some(o) => o.or(all),
            });
        }
        out.unwrap_or(lit(false))
    }

    /// The rows of `df` that pass (nulls never do). Errors: a filter column `df` lacks ([`EngineError::Polars`]).
    pub fn apply(&self, df: DataFrame) -> Result<DataFrame> {
        Ok(df
            .lazy()
            .filter(self.expr().fill_null(lit(false)))
            .collect()?)
    }

    /// The filter as a SQL condition for a backend's `WHERE` (DuckDB and PostgreSQL syntax), with each column
    /// compared as `kind` says it is stored.
    pub fn sql(&self, kind: impl Fn(&str) -> IdKind) -> String {
        // the quoting of `store::common` (not imported: the store API imports this module, and `common` the API)
        let quote_ident = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        let sql_str = |v: &str| format!("'{}'", v.replace('\'', "''"));
        // only values that print as themselves: "+1" or "01" compare as text (as the engine does), never as 1
        let is_int = prints_as_integer;
        // a column's values are compared the same way: numbers only when every value is one
        let as_kind = |c: &str, i: usize| -> IdKind {
            match kind(c) {
                IdKind::Integer if self.rows.iter().all(|r| is_int(&r[i])) => IdKind::Integer,
                IdKind::Integer => IdKind::Other,
                k => k,
            }
        };
        let kinds: Vec<IdKind> = (0..self.columns.len())
            .map(|i| as_kind(&self.columns[i], i))
            .collect();
        let lhs = |i: usize| -> String {
            let q = quote_ident(&self.columns[i]);
            match kinds[i] {
                IdKind::Other => format!("CAST({q} AS VARCHAR)"),
                _ => q,
            }
        };
        let rhs = |i: usize, v: &str| -> String {
            match kinds[i] {
                IdKind::Integer => v.to_string(),
                _ => sql_str(v),
            }
        };
        if self.rows.is_empty() {
            return "FALSE".into();
        }
        if self.columns.len() == 1 {
            let values: Vec<String> = self.rows.iter().map(|r| rhs(0, &r[0])).collect();
            return format!("{} IN ({})", lhs(0), values.join(", "));
        }
        let ors: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                let ands: Vec<String> = self
                    .columns
                    .iter()
                    .zip(r)
                    .enumerate()
                    .map(|(i, (_, v))| format!("{} = {}", lhs(i), rhs(i, v)))
                    .collect();
                format!("({})", ands.join(" AND "))
            })
            .collect();
        format!("({})", ors.join(" OR "))
    }

    /// The filter as a SQL WHERE fragment in the engine's dialect (the `--filter` of reads and deletes): each
    /// column compared as text, so it works whatever the column's type.
    pub fn sql_filter(&self) -> String {
        self.sql(|_| IdKind::Other)
    }
}

/// What an id-filtered scan read ([`crate::engine::store::MetadataStore::scan_ids`] of the Delta, Iceberg and
/// LanceDB backends): how far the ids were pushed into the scan, observable without timing. Counts are of one
/// scan; fields a backend cannot observe stay 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdScanStats {
    /// Data files that may hold the feature version asked for (before the ids prune).
    pub files: usize,
    /// Of those, the data files read: the others' statistics prove they hold none of the ids.
    pub files_read: usize,
    /// Row groups of the files read.
    pub row_groups: usize,
    /// Of those, the row groups decoded: the others' statistics prove they hold none of the ids.
    pub row_groups_read: usize,
    /// Rows the backend's scan returned (before the engine re-applies the filter): with the filter evaluated in
    /// the scan, only the matching ones.
    pub rows_returned: usize,
}

/// The integer `v` denotes when compared as text to an integer column: `Some(n)` only when `n` prints as `v`
/// (`"7"`, `"-3"`; not `"+7"`, `"07"`, `" 7"`), since an [`IdFilter`] compares the column cast to text.
pub fn int_value(v: &str) -> Option<i64> {
    v.parse::<i64>().ok().filter(|n| n.to_string() == v)
}

/// Whether `v` is an integer of the 64-bit signed or unsigned range that prints as itself (`"7"`, `"-3"`,
/// `"18446744073709551615"`; not `"+7"`, `"07"`, `" 7"`): the one test of every backend's id pushdown for whether an
/// id value may be compared as a number to an integer column (otherwise it compares as text, as the engine does).
pub fn prints_as_integer(v: &str) -> bool {
    int_value(v).is_some() || v.parse::<u64>().is_ok_and(|n| n.to_string() == v)
}

#[cfg(test)]
mod lookup_id_filter_tests {
    use super::*;

    fn f(columns: &[&str], rows: &[&[&str]]) -> IdFilter {
        IdFilter::new(
            columns.iter().map(|c| c.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|v| v.to_string()).collect())
                .collect(),
        )
    }

    /// SQL per column kind (text literal, number, cast to text when a value is not a number), composite ids as
    /// an OR of ANDs, quoting; the engine expression keeps the same rows.
    #[test]
    fn lookup_id_filter_sql_expr_and_projection() {
        let kind = |c: &str| {
            if c == "chunk_idx" {
                IdKind::Integer
            } else {
                IdKind::Text
            }
        };
        assert_eq!(
            f(&["sample_uid"], &[&["a"], &["it's"], &["a"]]).sql(kind),
            "\"sample_uid\" IN ('a', 'it''s')"
        );
        assert_eq!(
            f(&["chunk_idx"], &[&["1"], &["2"]]).sql(kind),
            "\"chunk_idx\" IN (1, 2)"
        );
        assert_eq!(
            f(&["chunk_idx"], &[&["1"], &["x"]]).sql(kind),
            "CAST(\"chunk_idx\" AS VARCHAR) IN ('1', 'x')"
        );
        assert_eq!(
            f(&["sample_uid", "chunk_idx"], &[&["a", "0"], &["b", "1"]]).sql(kind),
            "((\"sample_uid\" = 'a' AND \"chunk_idx\" = 0) OR (\"sample_uid\" = 'b' AND \"chunk_idx\" = 1))"
        );
        assert_eq!(f(&["sample_uid"], &[]).sql(kind), "FALSE");
        let df = df!("sample_uid" => ["a", "a", "b", "c"], "chunk_idx" => [0i64, 1, 1, 0]).unwrap();
        let two = f(&["sample_uid", "chunk_idx"], &[&["a", "1"], &["c", "0"]]);
        assert_eq!(two.apply(df.clone()).unwrap().height(), 2);
        // the engine's SQL dialect reads the same filter text
        let sql = apply_filters(df.clone(), &[two.sql_filter()]).unwrap();
        assert_eq!(sql.height(), 2);
        // projection: renamed and dropped columns; matches ignores columns a row lacks
        let p = two.project(&[("sample_uid".into(), "uid".into())]).unwrap();
        assert_eq!(p, f(&["uid"], &[&["a"], &["c"]]));
        assert!(two.project(&[("other".into(), "x".into())]).is_none());
        assert!(two.matches(&[("sample_uid".into(), "c".into())]));
        assert!(!two.matches(&[("sample_uid".into(), "b".into())]));
    }
}
