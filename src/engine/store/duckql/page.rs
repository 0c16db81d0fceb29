//! One page of an increment kind (new / stale / orphaned) computed in DuckDB, for DuckDB stores and local Delta
//! stores ([`crate::engine::store::MetadataStore::increment_page`]): the counts query's building blocks
//! (`super::counts::increment_sql`: latest row per id with Metaxy's ordering, the upstream joins, the sample
//! provenance from the engine's row hash registered in DuckDB) with the upstream data versions and the stored field
//! provenances kept; the rows of one kind selected by an anti / inner join, ordered by the join columns and cut with
//! `LIMIT` / `OFFSET` (DuckDB's top-N, memory bounded by the window), and only then the field provenances of the
//! page's rows hashed. A second query counts the kind. Both run under the counts' memory limit
//! ([`super::udf::counts_memory_limit`]), spilling beyond it, so a page of a 100M-row increment is computed in
//! bounded memory and only its rows leave DuckDB: join columns, `metaxy_provenance_by_field`,
//! `metaxy_provenance` (for stale rows also the stored ones, for the per-field diff and the causes), exactly the
//! columns of the ClickHouse pages ([`crate::engine::store::clickhouse`]).
//!
//! A plan the counts query declines is declined here too, as is a target whose `metaxy_provenance_by_field` is not
//! a struct with a VARCHAR member per field (Map mode): the caller runs the general engine.

use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::store::count_plan::{CountPlan, IncrementKind, IncrementPage};
use crate::engine::store::duckql::counts::{
    increment_sql, run_logged, IncrementSql, SqlFor, SqlRelation,
};
use crate::engine::store::duckql::udf::RawDuckDb;

/// Below this many stored rows in the plan's tables (all versions), DuckDB stores leave the increment tabs to the
/// general engine (fast below it, and it computes the whole increment at once: filters and exports need no second
/// pass); at or above it they are paged in DuckDB. `METAXY_TUI_DUCKDB_PAGES_ROWS` overrides it (`0`: always).
pub const PAGES_ROWS: u64 = 5_000_000;

/// The threshold of stored rows from which a store pages in DuckDB: `min_rows` when given, else the environment
/// variable `var` (a number of rows), else `default`.
pub fn pages_threshold(min_rows: Option<u64>, var: &str, default: u64) -> u64 {
    min_rows.unwrap_or_else(|| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default)
    })
}

/// The `FROM ... WHERE ...` of the rows of `kind` (aliases `e` for `__e`, `c` for `__c`); `None`: the kind is
/// empty (the target holds no row, so nothing is stale or orphaned).
fn kind_from(q: &IncrementSql, kind: IncrementKind) -> Option<String> {
    let on: Vec<String> = q.join.iter().map(|c| format!("e.{c} = c.{c}")).collect();
    let on = on.join(" AND ");
    match (kind, q.target_rows) {
        (IncrementKind::New, false) => Some("__e AS e".into()),
        (_, false) => None,
        (IncrementKind::New, true) => Some(format!(
            "__e AS e LEFT JOIN __c AS c ON {on} WHERE c.__p IS NULL"
        )),
        (IncrementKind::Stale, true) => Some(format!(
            "__e AS e JOIN __c AS c ON {on} WHERE c.__cur_prov IS NULL OR e.__prov <> c.__cur_prov"
        )),
        (IncrementKind::Orphaned, true) => Some(format!(
            "__c AS c LEFT JOIN __e AS e ON {on} WHERE e.__p IS NULL"
        )),
    }
}

/// The page query of `kind` over `from` ([`kind_from`]): the window of rows cut in a subquery `p` (ordered by
/// the join columns), then the answer's columns (see [`IncrementPage::from_answer`]) computed over it: new and
/// stale rows hash their field provenances from the kept data versions, orphaned rows carry the stored ones.
fn page_sql(
    q: &IncrementSql,
    kind: IncrementKind,
    from: &str,
    offset: usize,
    limit: usize,
) -> String {
    let n = q.field_calls.len();
    let order: Vec<String> = q.join.iter().map(|c| format!("{c} ASC")).collect();
    let order = order.join(", ");
    let mut select: Vec<String> = q.join.iter().map(|c| format!("p.{c}")).collect();
    let window = if kind == IncrementKind::Orphaned {
        select.extend((0..n).map(|i| format!("p.__s{i} AS __x{i}")));
        select.push("p.__cur_prov AS __xp".into());
        format!("SELECT c.* FROM {from}")
    } else {
        select.extend(
            q.field_calls
                .iter()
                .enumerate()
                .map(|(i, call)| format!("{call} AS __x{i}")),
        );
        if kind == IncrementKind::Stale {
            select.push("p.__prov AS __xp".into());
            // the stored provenance of the same rows, for the per-field diff
            select.extend((0..n).map(|i| format!("p.__s{i} AS __y{i}")));
            select.push("p.__cur_prov AS __yp".into());
            let stored: Vec<String> = (0..n).map(|i| format!(", c.__s{i}")).collect();
            format!("SELECT e.*{}, c.__cur_prov FROM {from}", stored.concat())
        } else {
            // new rows need no stored side: their sample provenance too is hashed for the page's rows only
            select.push(format!("{} AS __xp", q.sample_call));
            format!("SELECT e.* EXCLUDE (__prov) FROM {from}")
        }
    };
    let order_e: Vec<String> = q
        .join
        .iter()
        .map(|c| {
            let side = if kind == IncrementKind::Orphaned {
                "c"
            } else {
                "e"
            };
            format!("{side}.{c} ASC")
        })
        .collect();
    format!(
        "WITH {} SELECT {} FROM ({window} ORDER BY {} LIMIT {limit} OFFSET {offset}) AS p ORDER BY {order}",
        q.ctes.join(", "),
        select.join(", "),
        order_e.join(", "),
    )
}

/// Rows `offset..offset + limit` of `kind` of `plan`'s increment and the kind's total, computed on `db` over the
/// relations `relation` gives per feature (`None`: no table), as the module docs say. `Ok(None)` when the plan is
/// declined (as [`super::counts::count_in_duckdb`] declines it, or the target's field provenances are not a
/// struct of strings) or DuckDB fails: the caller runs the general engine, which reports real errors.
///
/// Errors: reading a relation's columns fails; the answer cannot be turned into a page.
pub fn page_in_duckdb(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
    kind: IncrementKind,
    offset: usize,
    limit: usize,
) -> Result<Option<IncrementPage>> {
    let Some(q) = increment_sql(db, plan, relation, SqlFor::Pages)? else {
        return Ok(None);
    };
    if q.field_calls.len() != plan.fields.len() {
        return Ok(None);
    }
    let name = format!("{} {kind:?}", plan.target);
    let Some(from) = kind_from(&q, kind) else {
        let mut page = IncrementPage::empty(plan)?;
        page.target_exists = q.target_exists;
        return Ok(Some(page));
    };
    let count_sql = format!("WITH {} SELECT count(*) FROM {from}", q.ctes.join(", "));
    let Some(total) = run_logged(&name, "duckdb-page-count", &count_sql, |s| {
        db.query_first_row_bounded(s)
    }) else {
        return Ok(None);
    };
    let Some(&total) = total.first() else {
        return Ok(None);
    };
    let sql = page_sql(&q, kind, &from, offset, limit);
    let Some(raw) = run_logged(&name, "duckdb-page", &sql, |s| db.query_frame_bounded(s)) else {
        return Ok(None);
    };
    Ok(Some(IncrementPage::from_answer(
        plan,
        kind,
        &raw,
        total.max(0) as usize,
        q.target_exists,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(target_rows: bool) -> IncrementSql {
        IncrementSql {
            ctes: vec!["__e AS (SELECT 1)".into()],
            join: vec!["\"sample_uid\"".into()],
            from: "__u0".into(),
            target_exists: true,
            target_rows,
            field_calls: vec!["__mx_prov_1(__d0_0)".into(), "__mx_prov_2(__d0_0)".into()],
            sample_call: "__mx_prov_0(__d0_0)".into(),
            relations: vec![],
        }
    }

    /// Each kind selects its rows and its side: new and stale rows hash their field provenances after the window
    /// is cut, stale rows also carry the stored ones, orphaned rows only the stored ones; an empty target has new
    /// rows only.
    #[test]
    fn kinds_select_their_rows_and_sides() {
        assert_eq!(
            kind_from(&q(false), IncrementKind::New).unwrap(),
            "__e AS e"
        );
        assert!(kind_from(&q(false), IncrementKind::Stale).is_none());
        assert!(kind_from(&q(false), IncrementKind::Orphaned).is_none());
        let stale = kind_from(&q(true), IncrementKind::Stale).unwrap();
        assert!(stale.contains("JOIN __c AS c ON e.\"sample_uid\" = c.\"sample_uid\""));
        let sql = page_sql(&q(true), IncrementKind::Stale, &stale, 30, 10);
        assert!(sql.contains("__mx_prov_2(__d0_0) AS __x1"), "{sql}");
        assert!(
            sql.contains("p.__s1 AS __y1, p.__cur_prov AS __yp"),
            "{sql}"
        );
        assert!(
            sql.contains("ORDER BY e.\"sample_uid\" ASC LIMIT 10 OFFSET 30) AS p"),
            "{sql}"
        );
        let new = kind_from(&q(true), IncrementKind::New).unwrap();
        let sql = page_sql(&q(true), IncrementKind::New, &new, 0, 10);
        assert!(sql.contains("__mx_prov_0(__d0_0) AS __xp"), "{sql}");
        assert!(sql.contains("SELECT e.* EXCLUDE (__prov) FROM"), "{sql}");
        let orphaned = kind_from(&q(true), IncrementKind::Orphaned).unwrap();
        let sql = page_sql(&q(true), IncrementKind::Orphaned, &orphaned, 0, 10);
        assert!(sql.contains("p.__s0 AS __x0"), "{sql}");
        assert!(!sql.contains("__mx_prov"), "{sql}");
        assert!(sql.contains("ORDER BY c.\"sample_uid\" ASC"), "{sql}");
    }
}
