//! SQL text for the PostgreSQL store: quoting, the projection of a scan (json and unknown types read as text),
//! the feature-version predicate, the latest-row-per-id query and keyset bounds of ordered scans. Text ids
//! compare and sort under `COLLATE "C"` (byte order: the order polars and the other backends use).

use super::types::{PgColumn, PgType};
use crate::engine::store::api::Columns;
pub use crate::engine::store::common::{quote_ident, sql_literal as literal, sql_str};

/// The columns of `table` a scan with `columns` returns (table order): their select expressions and how each
/// arrives in the COPY stream.
pub fn projection(table: &[PgColumn], columns: &Columns) -> (Vec<String>, Vec<(String, PgType)>) {
    let mut exprs = vec![];
    let mut out = vec![];
    for c in table.iter().filter(|c| columns.keeps(&c.name)) {
        let q = quote_ident(&c.name);
        exprs.push(if c.ty.read_as_text() {
            format!("{q}::text AS {q}")
        } else {
            q
        });
        let ty = if c.ty.read_as_text() && !matches!(c.ty, PgType::Json { .. }) {
            PgType::Text
        } else {
            c.ty
        };
        out.push((c.name.clone(), ty));
    }
    (exprs, out)
}

/// ` WHERE metaxy_feature_version = '<v>'` when `v` is given and the table has the column.
pub fn version_where(table: &[PgColumn], v: Option<&str>) -> String {
    match v {
        Some(v) if has(table, crate::engine::schema::FEATURE_VERSION) => format!(
            " WHERE {} = {}",
            quote_ident(crate::engine::schema::FEATURE_VERSION),
            sql_str(v)
        ),
        _ => String::new(),
    }
}

/// Whether `table` has column `name`.
pub fn has(table: &[PgColumn], name: &str) -> bool {
    table.iter().any(|c| c.name == name)
}

/// An id column for ordering and comparing: text under the C collation.
pub fn id_expr(table: &[PgColumn], name: &str) -> String {
    let q = quote_ident(name);
    match table.iter().find(|c| c.name == name).map(|c| c.ty) {
        Some(PgType::Text) => format!("{q} COLLATE \"C\""),
        _ => q,
    }
}

/// `FROM <table> <where>` reduced to Metaxy's latest row per id: the greatest
/// `coalesce(metaxy_deleted_at, metaxy_updated_at)` (`ts`, nulls oldest), the row stored last (`ctid`) among equal
/// timestamps. Returned as a subquery text to select from.
pub fn latest_subquery(table_sql: &str, where_sql: &str, ids: &[String], ts: &[&str]) -> String {
    let ts_sql = format!(
        "coalesce({})",
        ts.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ids = ids.join(", ");
    format!(
        "(SELECT DISTINCT ON ({ids}) * FROM {table_sql}{where_sql} ORDER BY {ids}, {ts_sql} DESC NULLS LAST, ctid DESC) AS latest"
    )
}

/// Lexicographic keyset bound `(a, b) > (x, y)` (or `<` when descending) over the id expressions `ids` and their
/// literals: `a > x OR (a = x AND b > y)`.
pub fn keyset_bound(ids: &[String], literals: &[String], descending: bool) -> String {
    let op = if descending { "<" } else { ">" };
    let mut cond = String::new();
    for (c, l) in ids.iter().zip(literals).rev() {
        cond = if cond.is_empty() {
            format!("{c} {op} {l}")
        } else {
            format!("({c} {op} {l} OR ({c} = {l} AND {cond}))")
        };
    }
    cond
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_bounds() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_str("it's"), "'it''s'");
        assert_eq!(
            keyset_bound(
                &["a".into(), "b".into()],
                &["1".into(), "'x'".into()],
                false
            ),
            "(a > 1 OR (a = 1 AND b > 'x'))"
        );
        let cols = vec![
            PgColumn {
                name: "j".into(),
                ty: PgType::Json { binary: true },
                sql_type: "jsonb".into(),
            },
            PgColumn {
                name: "n".into(),
                ty: PgType::Other,
                sql_type: "numeric".into(),
            },
        ];
        let (e, t) = projection(&cols, &Columns::All);
        assert_eq!(e, ["\"j\"::text AS \"j\"", "\"n\"::text AS \"n\""]);
        assert_eq!(t[1].1, PgType::Text);
    }
}
