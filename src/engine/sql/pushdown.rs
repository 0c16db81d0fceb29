//! Filter pushdown for the views of non-DuckDB stores: the conjuncts of a query's `WHERE` that keep rows of one
//! view by equality (`col = literal`, `literal = col`, `col IN (literals)`, AND-ed, the column optionally
//! qualified by the view's alias or name) are read from DuckDB's own parse tree (`json_serialize_sql`) and become
//! an [`IdFilter`] pushed into the backend's scan ([`crate::engine::store::MetadataStore::scan_ids`]).
//!
//! Only shapes where the pushed filter removes nothing the query keeps are taken: the top-level `SELECT` (no set
//! operation, no CTE), the view named exactly once in the whole query, directly in that `SELECT`'s `FROM` (alone,
//! or inside regular / natural joins, then only with qualified columns), without `TABLESAMPLE` or column aliases.
//! `OR`, ranges, casts, functions and subqueries are never pushed. The query itself always runs whole afterwards,
//! so pushdown only drops rows its `WHERE` drops anyway; [`super::views`] applies the read-semantics rule (only id
//! columns below Metaxy's latest-row pick) and checks the column types the literals compare with.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::engine::store::filter::{prints_as_integer, IdFilter, IdKind};

/// A literal value of a pushed predicate: how DuckDB typed it, for the check that comparing the column as text
/// (the [`IdFilter`] rule) equals DuckDB's comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lit {
    /// An integer literal (`123`, `-4`), as it prints.
    Int(String),
    /// A string literal (`'abc'`).
    Text(String),
}

impl Lit {
    /// The literal as text (what the [`IdFilter`] compares the column's text with).
    pub fn text(&self) -> &str {
        match self {
            Lit::Int(s) | Lit::Text(s) => s,
        }
    }
}

/// One pushable conjunct: `column` (as written in the query, unqualified) equals one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pred {
    /// Column name as the query wrote it.
    pub column: String,
    /// The literals it may equal (one for `=`, the list of an `IN`).
    pub values: Vec<Lit>,
}

/// The pushable conjuncts on view `schema."table"` (`schema` `main`, `raw` or `increment`, `table` lower-cased)
/// of the serialized statement `v` (the whole `json_serialize_sql` answer). Empty when the query's shape is not
/// one where pushing is safe (see the module header), or when no conjunct qualifies.
pub fn predicates(v: &Value, schema: &str, table: &str) -> Vec<Pred> {
    let Some(node) = v
        .get("statements")
        .and_then(Value::as_array)
        .filter(|s| s.len() == 1)
        .and_then(|s| s[0].get("node"))
    else {
        return vec![];
    };
    if s(node, "type") != "SELECT_NODE"
        || !node.get("sample").is_none_or(Value::is_null)
        || node
            .pointer("/cte_map/map")
            .and_then(Value::as_array)
            .is_none_or(|m| !m.is_empty())
    {
        return vec![];
    }
    if count_refs(v, schema, table) != 1 {
        return vec![];
    }
    let Some(from) = node.get("from_table") else {
        return vec![];
    };
    let Some((qualifier, alone)) = find_in_from(from, schema, table, true) else {
        return vec![];
    };
    let mut conjuncts = vec![];
    if let Some(w) = node.get("where_clause").filter(|w| !w.is_null()) {
        flatten_and(w, &mut conjuncts);
    }
    conjuncts
        .into_iter()
        .filter_map(|c| pred(c, &qualifier, alone))
        .collect()
}

/// The predicates as one [`IdFilter`]: one column per distinct column (values of repeated predicates on it
/// intersected, compared as text), rows the cross product of the columns' values. When the product would exceed
/// `max_rows`, the columns with the most values are left out (still a superset of the rows the query keeps).
/// `None` when there is no predicate.
pub fn id_filter(preds: &[Pred], max_rows: usize) -> Option<IdFilter> {
    let mut by_col: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for p in preds {
        let mut vals: Vec<String> = vec![];
        for v in &p.values {
            if !vals.iter().any(|x| x == v.text()) {
                vals.push(v.text().to_string());
            }
        }
        by_col
            .entry(p.column.as_str())
            .and_modify(|cur| cur.retain(|x| vals.contains(x)))
            .or_insert(vals);
    }
    let mut cols: Vec<(&str, Vec<String>)> = by_col.into_iter().collect();
    // fewest values first, so the cap drops the least selective columns
    cols.sort_by_key(|(_, v)| v.len());
    let mut product = 1usize;
    let mut kept = vec![];
    for (c, v) in cols {
        let next = product.saturating_mul(v.len().max(1));
        if next > max_rows && !kept.is_empty() {
            continue;
        }
        product = next;
        kept.push((c, v));
    }
    if kept.is_empty() {
        return None;
    }
    let mut rows: Vec<Vec<String>> = vec![vec![]];
    for (_, vals) in &kept {
        rows = rows
            .iter()
            .flat_map(|r| {
                vals.iter().map(move |v| {
                    let mut r = r.clone();
                    r.push(v.clone());
                    r
                })
            })
            .collect();
    }
    Some(IdFilter::new(
        kept.iter().map(|(c, _)| c.to_string()).collect(),
        rows,
    ))
}

/// `f` as SQL for people (timings, the console's status line): `"sample_uid" IN ('s1', 's2')`, several columns
/// as an OR of ANDs; a column's values unquoted when every literal of `preds` on it is an integer.
pub fn describe(f: &IdFilter, preds: &[Pred]) -> String {
    f.sql(|c| {
        let ints = preds
            .iter()
            .filter(|p| p.column == c)
            .flat_map(|p| &p.values)
            .all(|l| matches!(l, Lit::Int(_)));
        if ints {
            IdKind::Integer
        } else {
            IdKind::Text
        }
    })
}

/// Whether comparing a column of this polars type as text with `lits` equals DuckDB's comparison of the column
/// with those literals: string columns with string literals, integer columns with integer literals or strings
/// that print as integers. Anything else (floats, dates, a string column against a number) is not pushed.
pub fn exact_for(dtype: &polars::prelude::DataType, lits: &[&Lit]) -> bool {
    use polars::prelude::DataType as D;
    match dtype {
        D::String => lits.iter().all(|l| matches!(l, Lit::Text(_))),
        d if d.is_integer() => lits.iter().all(|l| match l {
            Lit::Int(_) => true,
            Lit::Text(t) => prints_as_integer(t),
        }),
        _ => false,
    }
}

/// The string at `v[k]` (empty when absent).
fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Whether `t` (a `BASE_TABLE`) names view `schema."table"`.
fn is_view(t: &Value, schema: &str, table: &str) -> bool {
    let sch = s(t, "schema_name").to_lowercase();
    s(t, "type") == "BASE_TABLE"
        && s(t, "table_name").to_lowercase() == table
        && match schema {
            "main" => sch.is_empty() || sch == "main",
            other => sch == other,
        }
}

/// How often the view is referenced anywhere in `v` (subqueries, CTEs and joins included).
fn count_refs(v: &Value, schema: &str, table: &str) -> usize {
    match v {
        Value::Object(m) => {
            usize::from(is_view(v, schema, table))
                + m.values()
                    .map(|x| count_refs(x, schema, table))
                    .sum::<usize>()
        }
        Value::Array(a) => a.iter().map(|x| count_refs(x, schema, table)).sum(),
        _ => 0,
    }
}

/// Finds the view in a `FROM` tree of plain base tables and regular joins: `(qualifier, alone)` with the name
/// columns of it are qualified by (alias, else table name; lower-cased) and whether it is the only table.
/// `None` when it is not there, or sits under anything else (subquery, table function, ASOF / positional /
/// lateral join, a sample, renamed columns, another catalog, time travel).
fn find_in_from(from: &Value, schema: &str, table: &str, top: bool) -> Option<(String, bool)> {
    match s(from, "type") {
        "BASE_TABLE" if is_view(from, schema, table) => {
            let plain = from.get("sample").is_none_or(Value::is_null)
                && from.get("at_clause").is_none_or(Value::is_null)
                && s(from, "catalog_name").is_empty()
                && from
                    .get("column_name_alias")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty);
            if !plain {
                return None;
            }
            let alias = s(from, "alias");
            let q = if alias.is_empty() { table } else { alias };
            Some((q.to_lowercase(), top))
        }
        "JOIN" => {
            let regular = matches!(s(from, "ref_type"), "REGULAR" | "NATURAL" | "CROSS")
                && matches!(
                    s(from, "join_type"),
                    "INNER" | "LEFT" | "RIGHT" | "OUTER" | "SEMI" | "ANTI"
                )
                && from.get("sample").is_none_or(Value::is_null);
            if !regular {
                return None;
            }
            let side = |k: &str| {
                from.get(k)
                    .and_then(|t| find_in_from(t, schema, table, false))
            };
            side("left").or_else(|| side("right"))
        }
        _ => None,
    }
}

/// Appends the AND-ed parts of `e` (nested ANDs flattened) to `out`.
fn flatten_and<'a>(e: &'a Value, out: &mut Vec<&'a Value>) {
    if s(e, "class") == "CONJUNCTION" && s(e, "type") == "CONJUNCTION_AND" {
        if let Some(children) = e.get("children").and_then(Value::as_array) {
            children.iter().for_each(|c| flatten_and(c, out));
            return;
        }
    }
    out.push(e);
}

/// `e` as a predicate on the view qualified by `qualifier` (unqualified columns only when the view is `alone` in
/// the `FROM`).
fn pred(e: &Value, qualifier: &str, alone: bool) -> Option<Pred> {
    let column = |c: &Value| -> Option<String> {
        if s(c, "class") != "COLUMN_REF" {
            return None;
        }
        let names: Vec<&str> = c
            .get("column_names")?
            .as_array()?
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()?;
        match names.as_slice() {
            [one] if alone => Some(one.to_string()),
            [q, one] if q.to_lowercase() == qualifier => Some(one.to_string()),
            _ => None,
        }
    };
    match (s(e, "class"), s(e, "type")) {
        ("COMPARISON", "COMPARE_EQUAL") => {
            let (l, r) = (e.get("left")?, e.get("right")?);
            let (c, v) = match (column(l), literal(r)) {
                (Some(c), Some(v)) => (c, v),
                _ => (column(r)?, literal(l)?),
            };
            Some(Pred {
                column: c,
                values: vec![v],
            })
        }
        ("OPERATOR", "COMPARE_IN") => {
            let children = e.get("children")?.as_array()?;
            let (first, rest) = children.split_first()?;
            let c = column(first)?;
            let values: Vec<Lit> = rest.iter().map(literal).collect::<Option<_>>()?;
            (!values.is_empty()).then_some(Pred { column: c, values })
        }
        _ => None,
    }
}

/// A non-null integer or string constant.
fn literal(e: &Value) -> Option<Lit> {
    if s(e, "class") != "CONSTANT" {
        return None;
    }
    let v = e.get("value")?;
    if v.get("is_null").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let ty = v.pointer("/type/id")?.as_str()?;
    let x = v.get("value")?;
    match ty {
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "UTINYINT" | "USMALLINT" | "UINTEGER"
        | "UBIGINT" => {
            let t = match x {
                Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                _ => return None,
            };
            prints_as_integer(&t).then_some(Lit::Int(t))
        }
        "VARCHAR" => Some(Lit::Text(x.as_str()?.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod sql_pushdown_tests {
    use super::*;

    /// The predicates pushed into `schema."table"` for `sql`, as `column=v1|v2` strings.
    fn pushed(sql: &str, schema: &str, table: &str) -> Vec<String> {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let json: String = conn
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
            .unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        predicates(&v, schema, table)
            .iter()
            .map(|p| {
                let vals: Vec<&str> = p.values.iter().map(Lit::text).collect();
                format!("{}={}", p.column, vals.join("|"))
            })
            .collect()
    }

    /// Equality, IN lists, reversed operands and qualified names are pushed; OR, ranges, NULL, casts and
    /// functions are not.
    #[test]
    fn sql_pushdown_simple_shapes() {
        let t = "example/crop";
        assert_eq!(
            pushed(
                "SELECT * FROM \"example/crop\" WHERE sample_uid = 123",
                "main",
                t
            ),
            ["sample_uid=123"]
        );
        assert_eq!(
            pushed(
                "SELECT * FROM raw.\"example/crop\" c WHERE c.sample_uid IN (1, -2, 'x') AND 'p' = c.path \
                 AND (a = 1 OR a = 2) AND b > 3 AND d = NULL AND e = 1.5 AND f = lower('X') AND g::INT = 1 \
                 AND \"example/crop\".h = 1",
                "raw",
                t
            ),
            ["sample_uid=1|-2|x", "path=p"]
        );
        // a view of another kind is not this one
        assert!(pushed(
            "SELECT * FROM raw.\"example/crop\" WHERE sample_uid = 1",
            "main",
            t
        )
        .is_empty());
        assert_eq!(
            pushed(
                "SELECT * FROM main.\"Example/Crop\" AS x WHERE x.sample_uid = 'a' AND sample_uid = 'b'",
                "main",
                t
            ),
            ["sample_uid=a", "sample_uid=b"]
        );
        assert!(pushed(
            "SELECT * FROM \"example/crop\" WHERE sample_uid = 1 OR sample_uid = 2",
            "main",
            t
        )
        .is_empty());
    }

    /// Joins push only qualified columns of plain joins; subqueries, CTEs, set operations, self-joins,
    /// samples, ASOF joins and renamed columns push nothing.
    #[test]
    fn sql_pushdown_joins_and_subqueries() {
        let (c, v) = ("example/crop", "example/video");
        let join = "SELECT * FROM \"example/crop\" c JOIN \"example/video\" v USING (sample_uid) \
                    WHERE c.sample_uid = 1 AND v.path = 'p' AND sample_uid = 2";
        assert_eq!(pushed(join, "main", c), ["sample_uid=1"]);
        assert_eq!(pushed(join, "main", v), ["path=p"]);
        let left = "SELECT * FROM \"example/crop\" LEFT JOIN \"example/video\" USING (sample_uid) \
                    WHERE \"example/video\".path = 'p'";
        assert_eq!(pushed(left, "main", v), ["path=p"]);
        for q in [
            "SELECT * FROM (SELECT * FROM \"example/crop\") WHERE sample_uid = 1",
            "WITH x AS (SELECT 1) SELECT * FROM \"example/crop\" WHERE sample_uid = 1",
            "SELECT * FROM \"example/crop\" WHERE sample_uid = 1 UNION ALL SELECT * FROM \"example/crop\"",
            "SELECT * FROM \"example/crop\" a JOIN \"example/crop\" b USING (sample_uid) WHERE a.sample_uid = 1",
            "SELECT * FROM \"example/crop\" WHERE sample_uid = 1 AND sample_uid IN (SELECT sample_uid FROM \"example/crop\")",
            "SELECT * FROM \"example/crop\" TABLESAMPLE 10% WHERE sample_uid = 1",
            "SELECT * FROM \"example/crop\" USING SAMPLE 10 WHERE sample_uid = 1",
            "SELECT * FROM \"example/crop\" AS t(a, b) WHERE a = 1",
            "SELECT * FROM \"example/video\" v ASOF JOIN \"example/crop\" c ON v.sample_uid >= c.sample_uid WHERE c.sample_uid = 1",
            "SELECT * FROM \"example/video\" v POSITIONAL JOIN \"example/crop\" c WHERE c.sample_uid = 1",
        ] {
            assert!(pushed(q, "main", c).is_empty(), "{q}");
        }
    }

    /// Repeated predicates on one column intersect; the cross product of several columns is capped by leaving
    /// out the columns with the most values.
    #[test]
    fn sql_pushdown_id_filter_intersects_and_caps() {
        let p = |c: &str, v: &[&str]| Pred {
            column: c.into(),
            values: v.iter().map(|x| Lit::Int(x.to_string())).collect(),
        };
        let f = id_filter(&[p("a", &["1", "2", "3"]), p("a", &["2", "3", "4"])], 100).unwrap();
        assert_eq!(f.columns, ["a"]);
        assert_eq!(f.rows, [["2"], ["3"]]);
        let text = Pred {
            column: "b".into(),
            values: vec![Lit::Text("x".into())],
        };
        let preds = [p("a", &["1", "2"]), text];
        let f = id_filter(&preds, 100).unwrap();
        assert_eq!(f.columns, ["b", "a"]);
        assert_eq!(f.rows.len(), 2);
        assert_eq!(
            describe(&f, &preds),
            "((\"b\" = 'x' AND \"a\" = 1) OR (\"b\" = 'x' AND \"a\" = 2))"
        );
        let f = id_filter(&[p("a", &["1", "2", "3"]), p("b", &["x", "y"])], 4).unwrap();
        assert_eq!(f.columns, ["b"]);
        let f = id_filter(&[p("a", &["1"]), p("a", &["2"])], 4).unwrap();
        assert!(f.rows.is_empty());
        assert!(id_filter(&[], 4).is_none());
        use polars::prelude::DataType as D;
        let (i, t) = (Lit::Int("1".into()), Lit::Text("1".into()));
        let odd = Lit::Text("01".into());
        assert!(exact_for(&D::Int64, &[&i, &t]));
        assert!(!exact_for(&D::Int64, &[&odd]));
        assert!(exact_for(&D::String, &[&t, &odd]));
        assert!(!exact_for(&D::String, &[&i]));
        assert!(!exact_for(&D::Float64, &[&i]));
    }
}
