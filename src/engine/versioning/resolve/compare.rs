//! The comparison of `resolve_update` (Metaxy's `IncrementResolver`): expected against stored rows by join key.

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::schema as cols;

/// Classifies every row by one join of the keys (with row numbers): expected only = new, stored only = orphaned,
/// both = stale when the provenance differs (or `__mx_stale_pred`, present when `has_pred`, is true). Returns
/// `(new, stale, orphaned, stale_previous)` unsorted; `stale_previous` holds the stored provenance of the stale
/// samples (join columns, `metaxy_provenance_by_field`, `metaxy_provenance`).
pub(super) fn compare(
    expected: &DataFrame,
    current: &DataFrame,
    j: &[String],
    has_pred: bool,
) -> Result<(DataFrame, DataFrame, DataFrame, DataFrame)> {
    let on: Vec<Expr> = j.iter().map(|c| col(c.as_str())).collect();
    // one full join of the keys (with row numbers) classifies every row: expected only = new, stored only =
    // orphaned, both = stale when the provenance differs (or a staleness predicate matches)
    let cur_prov = "__mx_cur_prov";
    let cur_pbf = "__mx_cur_pbf";
    let (exp_idx, cur_idx, exp_prov) = ("__mx_exp_idx", "__mx_cur_idx", "__mx_exp_prov");
    let mut left_sel: Vec<Expr> = on.clone();
    left_sel.push(col(cols::PROVENANCE).alias(exp_prov));
    let mut right_sel: Vec<Expr> = on.clone();
    right_sel.push(col(cols::PROVENANCE).alias(cur_prov));
    if has_pred {
        right_sel.push(col("__mx_stale_pred"));
    }
    let left = expected
        .clone()
        .lazy()
        .select(left_sel)
        .with_row_index(exp_idx, None);
    let right = current
        .clone()
        .lazy()
        .select(right_sel)
        .with_row_index(cur_idx, None);
    let mut changed = col(cur_prov).is_null().or(col(exp_prov).neq(col(cur_prov)));
    if has_pred {
        changed = changed.or(col("__mx_stale_pred"));
    }
    let both = col(exp_idx).is_not_null().and(col(cur_idx).is_not_null());
    // a left join (expected rows, with their stored match if any) plus an anti join (stored rows without one):
    // the same rows as a full join, cheaper in polars
    let matched = left
        .clone()
        .join(
            right.clone(),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(exp_idx),
            col(cur_idx),
            both.and(changed)
                .fill_null(lit(false))
                .alias("__mx_changed"),
        ]);
    let unmatched = right
        .join(
            left.select(on.clone()),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Anti),
        )
        .select([
            lit(NULL).cast(IDX_DTYPE).alias(exp_idx),
            col(cur_idx),
            lit(false).alias("__mx_changed"),
        ]);
    let pairs = concat([matched, unmatched], UnionArgs::default())?.collect()?;
    let indices = |mask: Expr, which: &str| -> Result<IdxCa> {
        let picked = pairs
            .clone()
            .lazy()
            .filter(mask)
            .select([col(which)])
            .collect()?;
        let mut v: Vec<IdxSize> = picked.column(which)?.idx()?.iter().flatten().collect();
        v.sort_unstable();
        Ok(IdxCa::from_vec(PlSmallStr::EMPTY, v))
    };
    let new = expected.take(&indices(col(cur_idx).is_null(), exp_idx)?)?;
    let stale = expected.take(&indices(col("__mx_changed"), exp_idx)?)?;
    let mut orphaned = current.take(&indices(col(exp_idx).is_null(), cur_idx)?)?;
    if has_pred {
        orphaned = orphaned.drop("__mx_stale_pred")?;
    }
    let cur = current.clone().lazy().rename(
        [cols::PROVENANCE, cols::PROVENANCE_BY_FIELD],
        [cur_prov, cur_pbf],
        true,
    );
    let mut prev_cols: Vec<Expr> = on.clone();
    prev_cols.push(col(cur_pbf).alias(cols::PROVENANCE_BY_FIELD));
    prev_cols.push(col(cur_prov).alias(cols::PROVENANCE));
    let stale_previous = cur
        .select(prev_cols)
        .join(
            stale
                .clone()
                .lazy()
                .select(on.clone())
                .unique(None, UniqueKeepStrategy::First),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Semi),
        )
        .collect()?;
    Ok((new, stale, orphaned, stale_previous))
}
