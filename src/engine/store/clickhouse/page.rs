//! One page of an increment kind (new / stale / orphaned) computed in ClickHouse: the counts query's building
//! blocks ([`super::counts`]: latest row per id with Metaxy's ordering, the upstream joins, field and sample
//! provenance hashed with ClickHouse's own functions) with the per-field provenances kept, the rows of one kind
//! selected by an anti / inner join, ordered by the join columns and cut with `LIMIT` / `OFFSET`; a second query
//! counts the kind. Only the page's rows leave the database, as the TUI's tabs show them: join columns,
//! `metaxy_provenance_by_field` and `metaxy_provenance` (for stale rows also the stored provenance, from which the
//! per-field diff and the causes of [`crate::engine::versioning::cause`] are computed for those rows only).
//!
//! A plan the query cannot express is declined as the counts query declines it (plus a target whose
//! `metaxy_provenance_by_field` is not a named `Tuple` or `Map` with every field): the caller runs the general
//! engine, and the reason is printed with `METAXY_TUI_TIMINGS`.

use super::counts::IncrementSql;
use super::ClickHouseStore;
use crate::engine::error::{EngineError, Result};
use crate::engine::store::api::MetadataStore;
use crate::engine::store::count_plan::{CountPlan, IncrementKind, IncrementPage};

/// `SELECT <side>.<join columns>, <side>.<field columns> AS __x<i>, <side>.<provenance> AS __prov` of one side of
/// the comparison (`e`: expected, `c`: stored).
fn side_cols(q: &IncrementSql, side: &str, fields: usize) -> String {
    let (f, prov) = if side == "e" {
        ("__f", "__prov")
    } else {
        ("__s", "__cur_prov")
    };
    let mut v: Vec<String> = q
        .join
        .iter()
        .map(|c| format!("{side}.{c} AS {c}"))
        .collect();
    v.extend((0..fields).map(|i| format!("{side}.{f}{i} AS __x{i}")));
    v.push(format!("{side}.{prov} AS __xp"));
    v.join(", ")
}

/// The `FROM ... WHERE ...` of the rows of `kind` (aliases `e` for `__e`, `c` for `__c`; `None`: the kind is
/// empty, the target has no table).
fn kind_from(q: &IncrementSql, kind: IncrementKind) -> Option<String> {
    let on: Vec<String> = q.join.iter().map(|c| format!("e.{c} = c.{c}")).collect();
    let on = on.join(" AND ");
    match (kind, q.target_exists) {
        (IncrementKind::New, false) => Some("__e AS e".into()),
        (_, false) => None,
        (IncrementKind::New, true) => Some(format!(
            "__e AS e LEFT JOIN __c AS c ON {on} WHERE c.__p IS NULL"
        )),
        (IncrementKind::Stale, true) => Some(format!(
            "__e AS e INNER JOIN __c AS c ON {on} \
             WHERE c.__cur_prov IS NULL OR e.__prov != c.__cur_prov"
        )),
        (IncrementKind::Orphaned, true) => Some(format!(
            "__c AS c LEFT JOIN __e AS e ON {on} WHERE e.__p IS NULL"
        )),
    }
}

impl ClickHouseStore {
    /// [`crate::engine::store::api::MetadataStore::increment_page`] in ClickHouse; `Ok(None)` (said with
    /// `METAXY_TUI_TIMINGS`) when the plan cannot be expressed or ClickHouse refuses a query.
    ///
    /// Errors: reading the tables' columns fails; the answer cannot be decoded.
    pub(super) fn page_in_clickhouse(
        &self,
        plan: &CountPlan,
        kind: IncrementKind,
        offset: usize,
        limit: usize,
    ) -> Result<Option<IncrementPage>> {
        match self.page_query(plan, kind, offset, limit)? {
            Ok(p) => Ok(Some(p)),
            Err(reason) => {
                if crate::engine::timing::enabled() {
                    eprintln!(
                        "timing clickhouse-page {} {kind:?} declined ({reason}): general engine",
                        plan.target
                    );
                }
                Ok(None)
            }
        }
    }

    fn page_query(
        &self,
        plan: &CountPlan,
        kind: IncrementKind,
        offset: usize,
        limit: usize,
    ) -> Result<std::result::Result<IncrementPage, String>> {
        let q = match self.increment_sql(plan, true)? {
            Ok(q) => q,
            Err(r) => return Ok(Err(r)),
        };
        let n = plan.fields.len();
        let ctes = q.ctes.join(", ");
        let Some(from) = kind_from(&q, kind) else {
            // no table: nothing stored, so nothing stale or orphaned
            return Ok(Ok(IncrementPage::empty(plan)?));
        };
        let count_sql = format!("WITH {ctes} SELECT count() FROM {from}");
        let total = match self.increment_request(
            "clickhouse-page-count",
            plan,
            &count_sql,
            "JSONCompact",
        ) {
            Ok(body) => match parse_count(&body) {
                Some(t) => t,
                None => return Ok(Err("unexpected answer shape".into())),
            },
            Err(r) => return Ok(Err(r)),
        };
        let order: Vec<String> = q.join.iter().map(|c| format!("{c} ASC")).collect();
        let side = if kind == IncrementKind::Orphaned {
            "c"
        } else {
            "e"
        };
        let mut select = side_cols(&q, side, n);
        if kind == IncrementKind::Stale {
            // the stored provenance of the same rows, for the per-field diff
            select.push_str(", ");
            select.push_str(
                &(0..n)
                    .map(|i| format!("c.__s{i} AS __y{i}"))
                    .chain(std::iter::once("c.__cur_prov AS __yp".to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        let page_sql = format!(
            "WITH {ctes} SELECT * FROM (SELECT {select} FROM {from}) ORDER BY {} LIMIT {limit} OFFSET {offset}",
            order.join(", ")
        );
        let body = match self.increment_request("clickhouse-page", plan, &page_sql, "ArrowStream") {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        let raw = super::decode_arrow_stream(&body).map_err(|m| EngineError::CorruptTable {
            table: self.table_name(&plan.target),
            message: m,
        })?;
        Ok(Ok(IncrementPage::from_answer(
            plan,
            kind,
            &raw,
            total,
            q.target_exists,
        )?))
    }
}

/// The one number of a `SELECT count()` answer in `JSONCompact`.
fn parse_count(body: &[u8]) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let x = v.get("data")?.get(0)?.get(0)?;
    x.as_u64()
        .or_else(|| x.as_str()?.parse().ok())
        .map(|x| x as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(target_exists: bool) -> IncrementSql {
        IncrementSql {
            ctes: vec![],
            join: vec!["`sample_uid`".into()],
            target_exists,
        }
    }

    #[test]
    fn kinds_select_their_rows_and_sides() {
        // no target table: every expected sample is new, nothing is stale or orphaned
        assert_eq!(
            kind_from(&q(false), IncrementKind::New).unwrap(),
            "__e AS e"
        );
        assert!(kind_from(&q(false), IncrementKind::Stale).is_none());
        assert!(kind_from(&q(false), IncrementKind::Orphaned).is_none());
        let stale = kind_from(&q(true), IncrementKind::Stale).unwrap();
        assert!(stale.contains("INNER JOIN __c AS c ON e.`sample_uid` = c.`sample_uid`"));
        assert!(stale.contains("c.__cur_prov IS NULL OR e.__prov != c.__cur_prov"));
        assert!(kind_from(&q(true), IncrementKind::Orphaned)
            .unwrap()
            .ends_with("WHERE e.__p IS NULL"));
        assert_eq!(
            side_cols(&q(true), "c", 2),
            "c.`sample_uid` AS `sample_uid`, c.__s0 AS __x0, c.__s1 AS __x1, c.__cur_prov AS __xp"
        );
    }
}
