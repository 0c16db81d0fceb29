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
