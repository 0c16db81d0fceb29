//! The counts-only increment of a [`CountPlan`] in one ClickHouse query (see
//! [`crate::engine::versioning::counts`] for when a plan qualifies), as Metaxy's native ClickHouse engine computes
//! increments where the data lives: feature-version filter, latest row per id (`LIMIT 1 BY`, ties to the row
//! written last), soft-delete removal, the upstream joins, per-field and sample provenance hashed with ClickHouse's
//! own functions (`xxHash32` / `xxHash64` / `xxh3` rendered as decimal, `MD5` as lowercase hex, then truncated: the
//! strings the engine's [`crate::engine::hashing`] gives) and the comparison; four numbers come back.
//!
//! A plan the query cannot express (a table missing, a `*_by_field` column that is neither a named `Tuple` nor a
//! `Map`, a provenance column that is not a string) is declined: the caller runs the general engine over projected
//! columns, and the reason is printed with `METAXY_TUI_TIMINGS`.

use super::sql::{self, ch_str, quote_ident, ChColumn};
use super::ClickHouseStore;
use crate::engine::config::HashAlgorithm;
use crate::engine::error::Result;
use crate::engine::schema as cols;
use crate::engine::store::api::MetadataStore;
use crate::engine::store::count_plan::{CountPlan, IncrementCounts, RecipePiece};

/// `H(x)` of the engine's row hash in ClickHouse SQL, truncated to `trunc` characters; `None` for algorithms
/// ClickHouse has no function for.
pub fn hash_sql(algo: HashAlgorithm, x: &str, trunc: usize) -> Option<String> {
    let full = match algo {
        HashAlgorithm::Xxhash32 => format!("toString(xxHash32({x}))"),
        HashAlgorithm::Xxhash64 => format!("toString(xxHash64({x}))"),
        HashAlgorithm::Xxh3_64 => format!("toString(xxh3({x}))"),
        HashAlgorithm::Md5 => format!("lower(hex(MD5({x})))"),
        _ => return None,
    };
    Some(format!("substring({full}, 1, {trunc})"))
}

/// The expression reading member `field` of a `*_by_field` column `c` (a named `Tuple` with that element, or a
/// `Map`); `None` for other shapes.
fn member_sql(c: &ChColumn, field: &str) -> Option<String> {
    let q = quote_ident(&c.name);
    match sql::type_name(&c.ty) {
        "Tuple" => sql::tuple_names(&c.ty)?
            .iter()
            .any(|n| n == field)
            .then(|| format!("tupleElement({q}, {})", ch_str(field))),
        "Map" => Some(format!("{q}[{}]", ch_str(field))),
        _ => None,
    }
}

/// The default read of a table for an increment: rows of `version`, the latest row per id, soft-deleted rows
/// dropped; selecting `ids` and `extra` (select expressions with aliases). `Err(reason)` when the table lacks a
/// column this needs.
fn latest_sql(
    table: &str,
    tcols: &[ChColumn],
    version: &str,
    ids: &[String],
    extra: &[String],
) -> std::result::Result<String, String> {
    let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
        .into_iter()
        .filter(|c| sql::has(tcols, c))
        .collect();
    if !sql::has(tcols, cols::FEATURE_VERSION) || ts.is_empty() {
        return Err(format!("{table} has no version or timestamp column"));
    }
    if ids.is_empty() || !ids.iter().all(|c| sql::has(tcols, c)) {
        return Err(format!("{table} lacks an id column"));
    }
    let id_sql: Vec<String> = ids.iter().map(|c| quote_ident(c)).collect();
    let del = if sql::has(tcols, cols::DELETED_AT) {
        quote_ident(cols::DELETED_AT)
    } else {
        "NULL".into()
    };
    let mut inner: Vec<String> = id_sql.clone();
    inner.extend(extra.iter().cloned());
    inner.push(format!("{del} AS __del"));
    let aliases: Vec<String> = extra
        .iter()
        .filter_map(|e| e.rsplit_once(" AS ").map(|(_, a)| a.to_string()))
        .collect();
    let mut outer = id_sql.clone();
    outer.extend(aliases);
    Ok(format!(
        "SELECT {} FROM (SELECT {} FROM {} WHERE {} = {}{}) WHERE __del IS NULL",
        outer.join(", "),
        inner.join(", "),
        quote_ident(table),
        quote_ident(cols::FEATURE_VERSION),
        ch_str(version),
        sql::latest_tail(&id_sql, &ts)
    ))
}

impl ClickHouseStore {
    /// [`crate::engine::store::api::MetadataStore::increment_counts`] in one ClickHouse query; `Ok(None)` (said
    /// with `METAXY_TUI_TIMINGS`) when the plan cannot be expressed or ClickHouse refuses the query.
    pub(super) fn counts_in_clickhouse(&self, plan: &CountPlan) -> Result<Option<IncrementCounts>> {
        let name = plan.target.to_string();
        match self.counts_query(plan)? {
            Ok(c) => Ok(Some(c)),
            Err(reason) => {
                if crate::engine::timing::enabled() {
                    eprintln!(
                        "timing clickhouse-counts {name} declined ({reason}): general engine"
                    );
                }
                Ok(None)
            }
        }
    }

    fn counts_query(
        &self,
        plan: &CountPlan,
    ) -> Result<std::result::Result<IncrementCounts, String>> {
        let q = match self.increment_sql(plan, false)? {
            Ok(q) => q,
            Err(r) => return Ok(Err(r)),
        };
        let query = if q.target_exists {
            let on: Vec<String> = q.join.iter().map(|c| format!("e.{c} = c.{c}")).collect();
            format!(
                "WITH {} SELECT countIf(c.__p IS NULL), \
                 countIf(e.__p IS NOT NULL AND c.__p IS NOT NULL AND (c.__cur_prov IS NULL OR e.__prov != c.__cur_prov)), \
                 countIf(e.__p IS NULL), countIf(c.__p IS NOT NULL) \
                 FROM __e AS e FULL OUTER JOIN __c AS c ON {}",
                q.ctes.join(", "),
                on.join(" AND ")
            )
        } else {
            // the hashes are evaluated all the same, as the engine would
            format!(
                "WITH {} SELECT count(), count(__prov) * 0, 0, 0 FROM __e",
                q.ctes.join(", ")
            )
        };
        let body = match self.increment_request("clickhouse-counts", plan, &query, "JSONCompact") {
            Ok(b) => b,
            Err(reason) => return Ok(Err(reason)),
        };
        Ok(parse_counts(&body, q.target_exists))
    }

    /// Runs one increment query (`label`: the `METAXY_TUI_TIMINGS` span, `format`: ClickHouse output format) with
    /// `join_use_nulls`; `Err(reason)` when ClickHouse refuses it. `METAXY_TUI_SHOW_SQL` prints the query.
    pub(super) fn increment_request(
        &self,
        label: &str,
        plan: &CountPlan,
        query: &str,
        format: &str,
    ) -> std::result::Result<bytes::Bytes, String> {
        if std::env::var_os("METAXY_TUI_SHOW_SQL").is_some() {
            eprintln!("{query}");
        }
        let _t = crate::engine::timing::span(|| format!("{label} {}", plan.target));
        crate::engine::rt::block_on(self.conn.request(
            &format!("{query} FORMAT {format}"),
            None,
            &[("join_use_nulls", "1".into())],
        ))
        .map_err(|e| format!("ClickHouse refused the query: {}", e.message))
    }

    /// The common table expressions of an increment query: `__u<i>` (latest rows of dep `i` with the data versions
    /// its recipes read), `__e` (the expected samples: join columns, `__prov` the sample provenance, `__p` = 1) and,
    /// when the target has a table, `__c` (its latest live rows of the current feature version: id columns,
    /// `__cur_prov` the stored sample provenance, `__p` = 1). With `with_fields`, `__e` also carries the field
    /// provenances `__f<i>` and `__c` the stored ones `__s<i>` (in the order of [`CountPlan::fields`]).
    /// `Err(reason)` when the plan cannot be expressed.
    pub(super) fn increment_sql(
        &self,
        plan: &CountPlan,
        with_fields: bool,
    ) -> Result<std::result::Result<IncrementSql, String>> {
        let t = plan.truncation;
        let Some(_) = hash_sql(plan.algorithm, "''", t) else {
            return Ok(Err(format!(
                "no ClickHouse function for {}",
                plan.algorithm
            )));
        };
        let mut ctes: Vec<String> = Vec::new();
        for (di, d) in plan.deps.iter().enumerate() {
            let table = self.table_name(&d.feature);
            let Some(tcols) = self.columns(&table)? else {
                return Ok(Err(format!("{table} does not exist")));
            };
            let Some(dv) = tcols.iter().find(|c| c.name == cols::DATA_VERSION_BY_FIELD) else {
                return Ok(Err(format!("{table} has no data versions")));
            };
            let mut extra = vec![];
            for (fi, f) in d.fields.iter().enumerate() {
                let Some(m) = member_sql(dv, f) else {
                    return Ok(Err(format!(
                        "{table}: data version of {f} is not a Tuple or Map member"
                    )));
                };
                extra.push(format!("{m} AS __d{di}_{fi}"));
            }
            match latest_sql(&table, &tcols, &d.feature_version, &d.id_columns, &extra) {
                Ok(q) => ctes.push(format!("__u{di} AS ({q})")),
                Err(r) => return Ok(Err(r)),
            }
        }
        let j: Vec<String> = plan.join_columns.iter().map(|c| quote_ident(c)).collect();
        let mut from = "__u0".to_string();
        for di in 1..plan.deps.len() {
            from.push_str(&format!(" INNER JOIN __u{di} USING ({})", j.join(", ")));
        }
        let field_hashes = field_hashes_sql(plan);
        let sample_in = match field_hashes.len() {
            0 => "''".to_string(),
            1 => field_hashes[0].clone(),
            _ => format!("concat({})", field_hashes.join(", '|', ")),
        };
        let prov = hash_sql(plan.algorithm, &sample_in, t).unwrap_or_default();
        let mut e_cols = j.clone();
        if with_fields {
            e_cols.extend(
                field_hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| format!("{h} AS __f{i}")),
            );
        }
        ctes.push(format!(
            "__e AS (SELECT {}, {prov} AS __prov, 1 AS __p FROM {from})",
            e_cols.join(", ")
        ));
        let target = self.table_name(&plan.target);
        let Some(tcols) = self.columns(&target)? else {
            return Ok(Ok(IncrementSql {
                ctes,
                join: j,
                target_exists: false,
            }));
        };
        let string_prov = tcols
            .iter()
            .any(|c| c.name == cols::PROVENANCE && sql::type_name(&c.ty) == "String");
        if !string_prov {
            return Ok(Err(format!("{target}: metaxy_provenance is not a string")));
        }
        let mut extra = vec![format!("{} AS __cur_prov", quote_ident(cols::PROVENANCE))];
        if with_fields {
            let Some(pbf) = tcols.iter().find(|c| c.name == cols::PROVENANCE_BY_FIELD) else {
                return Ok(Err(format!("{target} has no field provenance")));
            };
            for (i, (f, _)) in plan.fields.iter().enumerate() {
                let Some(m) = member_sql(pbf, f) else {
                    return Ok(Err(format!(
                        "{target}: provenance of {f} is not a Tuple or Map member"
                    )));
                };
                extra.push(format!("{m} AS __s{i}"));
            }
        }
        let cur = match latest_sql(
            &target,
            &tcols,
            &plan.feature_version,
            &plan.id_columns,
            &extra,
        ) {
            Ok(q) => q,
            Err(r) => return Ok(Err(r)),
        };
        ctes.push(format!("__c AS (SELECT *, 1 AS __p FROM ({cur}))"));
        Ok(Ok(IncrementSql {
            ctes,
            join: j,
            target_exists: true,
        }))
    }
}

/// The SQL of every field provenance of `plan` (its recipe's pieces joined by `|` and hashed), in the order of
/// [`CountPlan::fields`]; dep `d`'s data version of its field `i` is read from `__d<d>_<i>`.
fn field_hashes_sql(plan: &CountPlan) -> Vec<String> {
    let mut field_hashes = vec![];
    for (_, pieces) in &plan.fields {
        let mut parts: Vec<String> = vec![];
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                parts.push("'|'".into());
            }
            parts.push(match p {
                RecipePiece::Lit(s) => ch_str(s),
                RecipePiece::DataVersion { dep, field } => {
                    let fi = plan.deps[*dep]
                        .fields
                        .iter()
                        .position(|f| f == field)
                        .unwrap_or(0);
                    format!("__d{dep}_{fi}")
                }
            });
        }
        let joined = match parts.len() {
            0 => "''".to_string(),
            1 => format!("toString({})", parts[0]),
            _ => format!("concat({})", parts.join(", ")),
        };
        field_hashes.push(hash_sql(plan.algorithm, &joined, plan.truncation).unwrap_or_default());
    }
    field_hashes
}

/// The building blocks of an increment query ([`ClickHouseStore::increment_sql`]).
pub(super) struct IncrementSql {
    /// `name AS (query)` common table expressions, in order (`__e`, and `__c` when the target exists, last).
    pub ctes: Vec<String>,
    /// The join columns, quoted.
    pub join: Vec<String>,
    /// Whether the target has a table (`__c` is defined).
    pub target_exists: bool,
}

/// The four numbers of the counts query's `JSONCompact` answer.
fn parse_counts(body: &[u8], target_exists: bool) -> std::result::Result<IncrementCounts, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let n = |i: usize| -> Option<usize> {
        let x = v.get("data")?.get(0)?.get(i)?;
        x.as_u64()
            .or_else(|| x.as_str()?.parse().ok())
            .map(|x| x as usize)
    };
    let (Some(new), Some(stale), Some(orphaned), Some(current)) = (n(0), n(1), n(2), n(3)) else {
        return Err("unexpected answer shape".into());
    };
    Ok(IncrementCounts {
        new,
        stale,
        orphaned,
        current_rows: current,
        target_exists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_rendered_like_the_engine() {
        assert_eq!(
            hash_sql(HashAlgorithm::Xxhash32, "x", 8).unwrap(),
            "substring(toString(xxHash32(x)), 1, 8)"
        );
        assert_eq!(
            hash_sql(HashAlgorithm::Md5, "x", 8).unwrap(),
            "substring(lower(hex(MD5(x))), 1, 8)"
        );
        assert!(hash_sql(HashAlgorithm::Sha256, "x", 8).is_none());
        let c = ChColumn {
            name: "metaxy_data_version_by_field".into(),
            ty: "Tuple(audio Nullable(String))".into(),
        };
        assert_eq!(
            member_sql(&c, "audio").unwrap(),
            "tupleElement(`metaxy_data_version_by_field`, 'audio')"
        );
        assert!(member_sql(&c, "frames").is_none());
    }
}
