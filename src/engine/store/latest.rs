//! Metaxy's latest-row pick (`keep_latest_by_group`, FORMAT.md §7.1): per id, the row with the greatest
//! `coalesce(metaxy_deleted_at, metaxy_updated_at)`, the row stored last among equal timestamps. Lives with the
//! stores so that their own latest-row reads ([`crate::engine::store::late`]) pick exactly as the engine's read
//! semantics ([`crate::engine::query::read`], which re-exports [`keep_latest`]).

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::frame::has_column;
use crate::engine::schema as cols;
use crate::engine::store::filter::{chunks_prove_unique, sorted_unique};

/// Keeps, per `id_columns`, the row with the greatest `coalesce(metaxy_deleted_at, metaxy_updated_at)`
/// (Metaxy's `keep_latest_by_group`). Ties keep the row stored last.
pub fn keep_latest(df: DataFrame, id_columns: &[String]) -> Result<DataFrame> {
    if df.height() == 0 || id_columns.is_empty() {
        return Ok(df);
    }
    // ids stored sorted without equal neighbours (an O(n) check): one row per id, no timestamps needed
    if let [id] = id_columns {
        if let Ok(c) = df.column(id) {
            if sorted_unique(c.as_materialized_series())? == Some(true) {
                return Ok(df);
            }
        }
    }
    let ts = latest_timestamps(&df)?;
    let t = crate::engine::timing::span(|| "keep_latest pick".into());
    let take = match latest_rows_single_key(&df, id_columns, &ts)? {
        Some(take) => take,
        None => latest_rows_grouped(&df, id_columns, &ts)?,
    };
    drop(t);
    // one row per id already (the usual case): nothing to choose
    let Some(take) = take else {
        return Ok(df);
    };
    let _t = crate::engine::timing::span(|| "keep_latest take".into());
    let idx = IdxCa::from_vec(PlSmallStr::EMPTY, take);
    Ok(df.take(&idx)?)
}

/// `coalesce(metaxy_deleted_at, metaxy_updated_at)` per row as its physical i64 (`i64::MIN` where both are null or
/// the table has neither column).
fn latest_timestamps(df: &DataFrame) -> Result<Vec<i64>> {
    let mut ts: Vec<Expr> = vec![];
    if has_column(df, cols::DELETED_AT) {
        ts.push(col(cols::DELETED_AT));
    }
    if has_column(df, cols::UPDATED_AT) {
        ts.push(col(cols::UPDATED_AT));
    }
    if ts.is_empty() {
        return Ok(vec![i64::MIN; df.height()]);
    }
    let out = df
        .clone()
        .lazy()
        .select([coalesce(&ts)
            .cast(DataType::Int64)
            .fill_null(lit(i64::MIN))
            .alias("__mx_ts")])
        .collect()?;
    let ca = out.column("__mx_ts")?.i64()?;
    let mut v = Vec::with_capacity(df.height());
    for arr in ca.downcast_iter() {
        v.extend_from_slice(arr.values().as_slice());
    }
    Ok(v)
}

/// Keeps, per key, the index with the greatest `(ts, index)`: the latest row, the one stored last among equal
/// timestamps. `None` when every key occurs once.
fn pick_latest<K: std::hash::Hash + Eq>(
    keys: impl Iterator<Item = K>,
    ts: &[i64],
) -> Option<Vec<IdxSize>> {
    let mut best: std::collections::HashMap<K, IdxSize, foldhash::fast::RandomState> =
        std::collections::HashMap::with_capacity_and_hasher(ts.len(), Default::default());
    for (i, k) in keys.enumerate() {
        let i = i as IdxSize;
        best.entry(k)
            .and_modify(|b| {
                if ts[i as usize] >= ts[*b as usize] {
                    *b = i
                }
            })
            .or_insert(i);
    }
    if best.len() == ts.len() {
        return None;
    }
    let mut take: Vec<IdxSize> = best.into_values().collect();
    // keep the table's row order
    take.sort_unstable();
    Some(take)
}

/// [`pick_latest`] for the common case of one integer or string id column (`Ok(None)`: not that case).
fn latest_rows_single_key(
    df: &DataFrame,
    id_columns: &[String],
    ts: &[i64],
) -> Result<Option<Option<Vec<IdxSize>>>> {
    let [id] = id_columns else {
        return Ok(None);
    };
    let c = df.column(id)?;
    // sorted without two equal neighbours, or every file sorted and their ranges disjoint (O(n) checks; tables
    // are often written in id order): unique
    let series = c.as_materialized_series();
    if sorted_unique(series)? == Some(true) || chunks_prove_unique(series)? {
        return Ok(Some(None));
    }
    Ok(match c.dtype() {
        DataType::String => Some(pick_latest(c.str()?.iter(), ts)),
        DataType::UInt64 => Some(pick_latest(c.u64()?.iter(), ts)),
        DataType::Int64 => Some(pick_latest(c.i64()?.iter(), ts)),
        DataType::UInt32
        | DataType::Int32
        | DataType::UInt16
        | DataType::Int16
        | DataType::UInt8
        | DataType::Int8 => {
            let c = c.cast(&DataType::Int64)?;
            Some(pick_latest(c.i64()?.iter(), ts))
        }
        _ => None,
    })
}

/// [`pick_latest`] for any id columns, grouped by polars (multithreaded hash grouping).
fn latest_rows_grouped(
    df: &DataFrame,
    id_columns: &[String],
    ts: &[i64],
) -> Result<Option<Vec<IdxSize>>> {
    let gb = df.group_by(id_columns)?;
    let groups = gb.get_groups();
    if groups.len() == df.height() {
        return Ok(None);
    }
    let better = |a: IdxSize, b: IdxSize| -> IdxSize {
        if (ts[b as usize], b) > (ts[a as usize], a) {
            b
        } else {
            a
        }
    };
    let mut take: Vec<IdxSize> = groups
        .iter()
        .map(|g| match g {
            GroupsIndicator::Idx((first, idx)) => idx.iter().copied().fold(first, better),
            GroupsIndicator::Slice([first, len]) => (first..first + len).fold(first, better),
        })
        .collect();
    take.sort_unstable();
    Ok(Some(take))
}
