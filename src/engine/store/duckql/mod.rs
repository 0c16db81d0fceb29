//! DuckDB as the query engine of increments computed without materialising rows, shared by the DuckDB store (over
//! its own tables) and local Delta stores (over the tables' parquet files): the engine's row hash registered in
//! DuckDB ([`udf`]), the counts-only increment ([`counts`]) and one page of an increment kind ([`page`]). The
//! stores hand in their tables as [`counts::SqlRelation`]s; nothing here knows a backend.

pub mod counts;
pub mod dense;
pub mod page;
pub mod udf;

use crate::engine::store::common::quote_ident;

/// `ORDER IN (...)`: the storage orders of `source`'s latest row per id (`ids`: quoted id columns) among the rows
/// `where_sql` keeps (`""` or ` WHERE ...`), with `order` (a non-negative BIGINT expression over `source`'s
/// columns, unique per row, greater = stored later) breaking timestamp ties; e.g. `rowid` of a DuckDB table, or
/// `(file_index << 40) + file_row_number` over a list of parquet files in log order. Metaxy's `keep_latest`: the
/// greatest of the timestamp columns `ts` (coalesced in that order; soft-delete time first), null timestamps
/// oldest, then the row stored last; picked by a hash aggregate over the ids (no sort) on one HUGEINT key
/// (timestamp in µs, null = -2^62, then the storage order). DuckDB alone, 2 threads, 1M samples in 2M rows:
/// 233 ms, a `row_number()` window 398 ms.
pub fn latest_order_sql(
    source: &str,
    where_sql: &str,
    ids: &[String],
    ts: &[&str],
    order: &str,
) -> String {
    let ts_sql = if ts.len() == 1 {
        quote_ident(ts[0])
    } else {
        format!(
            "coalesce({})",
            ts.iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let key = format!(
        "(coalesce(epoch_us({ts_sql})::HUGEINT, -4611686018427387904) * 18446744073709551616 + {order})"
    )
    ;
    format!(
        "{order} IN (SELECT arg_max({order}, {key}) FROM {source}{where_sql} GROUP BY {})",
        ids.join(", ")
    )
}
