//! The counts-only increment of a [`CountPlan`] in one DuckDB query (see [`crate::engine::versioning::counts`]
//! for when a plan qualifies): feature-version filter, latest row per id, soft-delete removal, per-field and sample
//! provenance from the upstream data versions and the comparison run inside DuckDB with the engine's row hash
//! registered as a C-API function ([`super::udf`]); only four numbers come back.

use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::store::common::{quote_ident, sql_str};
use crate::engine::store::count_plan::{CountPlan, IncrementCounts, RecipePiece};
use crate::engine::store::duckql::latest_order_sql;
use crate::engine::store::duckql::udf::{
    ProvenanceOutput, ProvenanceTemplate, RawDuckDb, RecipeTok,
};

/// A feature's stored rows as a DuckDB query sees them (for [`count_in_duckdb`]).
#[derive(Debug, Clone)]
pub struct SqlRelation {
    /// The FROM-clause source: a quoted DuckDB table name (its `rowid` is the storage order that breaks ties of
    /// the latest-row pick, as the engine's `keep_latest` keeps the row stored last).
    pub source: String,
    /// `(column name, DuckDB type)` of the relation, as `information_schema.columns` spells the types.
    pub columns: Vec<(String, String)>,
    /// A name for timings and messages (the table name).
    pub name: String,
    /// The storage order of the rows as a BIGINT expression over `source` (greater = stored later; breaks ties
    /// of the latest-row pick): `rowid` for a DuckDB table, file position then row number for parquet files.
    pub order: String,
    /// The table exists but holds no data file (an emptied Delta table): no row, and `source` is not read.
    pub empty: bool,
    /// Where statistics of the relation's columns can be read without scanning its rows.
    pub meta: RelationMeta,
}

/// Where a relation's column statistics (least and greatest value, rows) can be read without a scan: what the
/// dense count sizes its id ranges with before it falls back to scanning the ids ([`super::dense`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationMeta {
    /// Nowhere.
    None,
    /// DuckDB's own statistics of the table `source`: its zone maps' least and greatest value of a column, its
    /// cardinality (every row, all versions).
    Table,
    /// The row-group statistics in the footers of parquet files (every row group of every file): the DuckDB list
    /// of their quoted paths, `['a.parquet', ...]`.
    Parquet(String),
}

impl SqlRelation {
    /// A DuckDB table of the database the query runs on (`columns` as `information_schema` gives them).
    pub fn table(name: &str, columns: Vec<(String, String)>) -> Self {
        SqlRelation {
            source: quote_ident(name),
            columns,
            name: name.to_string(),
            order: "rowid".into(),
            empty: false,
            meta: RelationMeta::Table,
        }
    }
}

/// The SQL of `rel`'s default read for an increment: rows of `version`, the latest row per id (Metaxy's
/// `keep_latest`: greatest `metaxy_deleted_at`/`metaxy_updated_at`, nulls oldest, then the row stored last; a
/// plain scan when the ids are unique already, checked exactly), soft-deleted rows dropped; selecting `ids` and
/// `extra`. `None` when the relation lacks a column this needs (or `needs` says no): the general engine then
/// decides.
fn latest_read_sql(
    db: &RawDuckDb,
    rel: &SqlRelation,
    version: &str,
    ids: &[String],
    extra: &[String],
    needs: bool,
) -> Result<Option<String>> {
    let has = |c: &str| rel.columns.iter().any(|(n, _)| n == c);
    let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
        .into_iter()
        .filter(|c| has(c))
        .collect();
    if !needs
        || !has(cols::FEATURE_VERSION)
        || ts.is_empty()
        || ids.is_empty()
        || !ids.iter().all(|c| has(c))
    {
        return Ok(None);
    }
    let id_sql: Vec<String> = ids.iter().map(|c| quote_ident(c)).collect();
    let where_version = format!(
        " WHERE {} = {}",
        quote_ident(cols::FEATURE_VERSION),
        sql_str(version)
    );
    let distinct = if id_sql.len() == 1 {
        id_sql[0].clone()
    } else {
        format!("({})", id_sql.join(", "))
    };
    let t = crate::engine::timing::span(|| format!("duckdb-unique-check {}", rel.name));
    let unique = ids_unique(db, rel, &id_sql, &distinct, &where_version)?;
    drop(t);
    let mut proj = id_sql.clone();
    proj.extend(extra.iter().cloned());
    // (each WHERE ends with the mark a partitioned count replaces with its id range)
    let where_version = format!("{where_version}{RANGE_MARK}");
    let source = if unique {
        format!("{}{where_version}", rel.source)
    } else {
        format!(
            "{src}{where_version} AND {}",
            latest_order_sql(&rel.source, &where_version, &id_sql, &ts, &rel.order),
            src = rel.source
        )
    };
    let live = if has(cols::DELETED_AT) {
        format!(" AND {} IS NULL", quote_ident(cols::DELETED_AT))
    } else {
        String::new()
    };
    Ok(Some(format!(
        "SELECT {} FROM {source}{live}",
        proj.join(", ")
    )))
}

/// Marks the end of every `WHERE` of a counts query's reads: a partitioned count ([`id_ranges`]) puts its id
/// range there (` AND "id" BETWEEN lo AND hi`), a single one nothing.
const RANGE_MARK: &str = "/*__mx_range__*/";

/// Stored rows (all relations of a count together) above which the count runs as several queries over disjoint
/// ranges of the join column ([`id_ranges`]); `METAXY_TUI_PARTITION_ROWS` overrides it.
pub const PARTITION_ROWS: u64 = 25_000_000;

/// Most partitions of one count.
pub(crate) const MAX_PARTITIONS: u64 = 256;

/// [`PARTITION_ROWS`], or `METAXY_TUI_PARTITION_ROWS` when set to a positive number.
pub(crate) fn partition_rows() -> u64 {
    std::env::var("METAXY_TUI_PARTITION_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(PARTITION_ROWS)
}

/// The id ranges a count runs over, as the text replacing [`RANGE_MARK`]: one empty range (a single query) unless
/// the relations hold more than [`PARTITION_ROWS`] rows, the plan joins on one integer column and its values are
/// known; then `ceil(rows / PARTITION_ROWS)` ranges of equal width between the least and greatest id of any
/// relation, each ` AND "id" BETWEEN lo AND hi`. Every row of an id falls in one range, so each range's increment
/// is computed alone (its latest rows, join and comparison) and the counts add up; each query holds about
/// `PARTITION_ROWS` rows (DuckDB's zone maps and parquet row-group statistics skip the others when the ids are
/// stored in clusters, as chunked writes store them), so time grows linearly with the rows and memory stays flat.
/// Anything DuckDB cannot answer here gives a single query.
fn id_ranges(db: &RawDuckDb, plan: &CountPlan, rels: &[&SqlRelation]) -> Vec<String> {
    let single = vec![String::new()];
    let [id_col] = &plan.join_columns[..] else {
        return single;
    };
    let per = partition_rows();
    let id = quote_ident(id_col);
    let mut rows = 0u64;
    let (mut lo, mut hi): (Option<i128>, Option<i128>) = (None, None);
    for rel in rels {
        let integer = rel
            .columns
            .iter()
            .any(|(n, t)| n == id_col && INTS.contains(&t.as_str()));
        match db.query_first_row(&format!("SELECT count(*) FROM {}", rel.source)) {
            Ok(r) if integer && r.len() == 1 && r[0] >= 0 => rows += r[0] as u64,
            _ => return single,
        }
    }
    let parts = rows.div_ceil(per).min(MAX_PARTITIONS);
    if parts <= 1 {
        return single;
    }
    for rel in rels {
        let r = db.query_first_row_text(&format!(
            "SELECT min({id})::VARCHAR, max({id})::VARCHAR FROM {}",
            rel.source
        ));
        let Ok([min, max]) = r.as_deref() else {
            return single;
        };
        let num = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<i128>().ok());
        if let (Some(a), Some(b)) = (num(min), num(max)) {
            lo = Some(lo.map_or(a, |l| l.min(a)));
            hi = Some(hi.map_or(b, |h| h.max(b)));
        }
    }
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return single;
    };
    let width = ((hi - lo + 1) as u128).div_ceil(parts as u128) as i128;
    let mut out = Vec::new();
    let mut start = lo;
    while start <= hi {
        let end = (start + width - 1).min(hi);
        out.push(format!(" AND {id} BETWEEN {start} AND {end}"));
        start = end + 1;
    }
    out
}

/// DuckDB's integer types (ids a bitmap or a range partition can handle).
pub(crate) const INTS: [&str; 8] = [
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
];

/// Whether the ids of `rel`'s rows of one version (`where_version`) are unique and never NULL, exactly. A
/// single integer id column is checked with a bitmap over its value range (`bitstring_agg`: 10M ids in ~0.16 s,
/// where `count(DISTINCT)` takes ~1.4 s), when the range is dense enough; other ids with a HyperLogLog estimate
/// first (many duplicates: not unique, no exact count needed), then `count(DISTINCT)`. A check DuckDB cannot run
/// answers "not unique" (the dedup is always right, only slower).
fn ids_unique(
    db: &RawDuckDb,
    rel: &SqlRelation,
    id_sql: &[String],
    distinct: &str,
    where_version: &str,
) -> Result<bool> {
    let src = &rel.source;
    let int_type = (id_sql.len() == 1)
        .then(|| {
            rel.columns
                .iter()
                .find(|(n, _)| quote_ident(n) == id_sql[0])
                .map(|(_, t)| t.as_str())
                .filter(|t| INTS.contains(t))
        })
        .flatten();
    if let Some(ty) = int_type {
        let id = &id_sql[0];
        let r = db.query_first_row_text(&format!(
            "SELECT min({id})::VARCHAR, max({id})::VARCHAR, (max({id})::HUGEINT - min({id})::HUGEINT)::VARCHAR, \
             count(*)::VARCHAR, count({id})::VARCHAR FROM {src}{where_version}"
        ));
        if let Ok([min, max, range, rows, non_null]) = r.as_deref() {
            let num = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<i128>().ok());
            let (rows, non_null) = (num(rows).unwrap_or(0), num(non_null).unwrap_or(0));
            if rows == 0 {
                return Ok(true);
            }
            if non_null < rows {
                return Ok(false);
            }
            if let (Some(min), Some(max), Some(range)) = (min, max, num(range)) {
                if range < 8 * rows + 65_536 {
                    let r = db.query_first_row(&format!(
                        "SELECT (bit_count(bitstring_agg({id}, {min}::{ty}, {max}::{ty})) = count(*))::INTEGER \
                         FROM {src}{where_version}"
                    ));
                    if let Ok(v) = r {
                        return Ok(v.first() == Some(&1));
                    }
                }
            }
        }
    }
    let check =
        |sql: String| -> bool { matches!(db.query_first_row(&sql).as_deref(), Ok([1, ..])) };
    Ok(check(format!(
        "SELECT (approx_count_distinct({distinct}) >= 0.9 * count(*))::INTEGER FROM {src}{where_version}"
    )) && check(format!(
        "SELECT (count(DISTINCT {distinct}) = count(*) AND count(*) = count({}))::INTEGER FROM {src}{where_version}",
        id_sql[0]
    )))
}

/// Whether `column` of `columns` is a struct with a VARCHAR member `field` (Map-mode columns and other shapes go
/// to the general engine).
pub(crate) fn varchar_member(columns: &[(String, String)], column: &str, field: &str) -> bool {
    columns.iter().any(|(n, t)| {
        n == column
            && t.starts_with("STRUCT(")
            && (t.contains(&format!("({field} VARCHAR"))
                || t.contains(&format!(", {field} VARCHAR"))
                || t.contains(&format!("(\"{field}\" VARCHAR"))
                || t.contains(&format!(", \"{field}\" VARCHAR")))
    })
}

/// The building blocks of an increment query over a [`CountPlan`] ([`increment_sql`]), shared by the counts
/// ([`count_in_duckdb`]) and the pages ([`super::page`]).
#[derive(Debug, Clone)]
pub(crate) struct IncrementSql {
    /// `name AS (query)` common table expressions, in order: `__u<i>` (latest rows of dep `i` with the data
    /// versions `__d<i>_<f>` its recipes read, when hashing), `__e` (when hashing: the expected samples, join
    /// columns, `__prov` the sample provenance, `__p` = 1, and with fields the data versions too) and, when the
    /// target holds rows, `__c` (its latest live rows of the current version: id columns, `__cur_prov` the stored
    /// sample provenance, with fields the stored field provenances `__s<i>`, `__p` = 1).
    pub ctes: Vec<String>,
    /// The join columns, quoted.
    pub join: Vec<String>,
    /// The upstream join over the `__u<i>` (the expected samples without hashing).
    pub from: String,
    /// Whether the target has a table.
    pub target_exists: bool,
    /// Whether `__c` is defined (the target has a table with data).
    pub target_rows: bool,
    /// With fields: per field of [`CountPlan::fields`], the call computing its provenance from `__e`'s data
    /// versions (for the few rows of a page only).
    pub field_calls: Vec<String>,
    /// With fields: the call computing the sample provenance from `__e`'s data versions (what `__e.__prov` holds;
    /// a page of new rows computes it for its own rows only).
    pub sample_call: String,
    /// The relations the query reads (the deps', then the target's when it holds rows), for the id ranges of a
    /// partitioned count.
    pub relations: Vec<SqlRelation>,
}

/// What [`increment_sql`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlFor {
    /// The counts: `__e` is hashed only when the target holds rows, no field provenances.
    Counts,
    /// The pages: `__e` is always hashed and keeps its data versions; `__c` keeps the stored field provenances.
    Pages,
}

/// The common table expressions of an increment query of `plan` on `db` over the relations `relation` gives
/// ([`IncrementSql`]). `Ok(None)` when an upstream table is missing or empty or a table is not as the plan
/// expects (or DuckDB refuses to register the provenance function): the caller runs the general engine.
pub(crate) fn increment_sql(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
    what: SqlFor,
) -> Result<Option<IncrementSql>> {
    let target = relation(&plan.target)?;
    let target_exists = target.is_some();
    let target = target.filter(|t| !t.empty);
    let hashing = target.is_some() || what == SqlFor::Pages;
    let mut ctes: Vec<String> = Vec::new();
    let mut used: Vec<SqlRelation> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    for (di, d) in plan.deps.iter().enumerate() {
        let Some(rel) = relation(&d.feature)?.filter(|r| !r.empty) else {
            return Ok(None);
        };
        used.push(rel.clone());
        let extra: Vec<String> = if hashing {
            d.fields
                .iter()
                .enumerate()
                .map(|(fi, f)| {
                    args.push(format!("__d{di}_{fi}"));
                    format!(
                        "struct_extract({}, {}) AS __d{di}_{fi}",
                        quote_ident(cols::DATA_VERSION_BY_FIELD),
                        sql_str(f),
                    )
                })
                .collect()
        } else {
            vec![]
        };
        let needs = d
            .fields
            .iter()
            .all(|f| varchar_member(&rel.columns, cols::DATA_VERSION_BY_FIELD, f));
        let Some(sql) =
            latest_read_sql(db, &rel, &d.feature_version, &d.id_columns, &extra, needs)?
        else {
            return Ok(None);
        };
        ctes.push(format!("__u{di} AS ({sql})"));
    }
    let j: Vec<String> = plan.join_columns.iter().map(|c| quote_ident(c)).collect();
    let mut from = "__u0".to_string();
    for di in 1..plan.deps.len() {
        from.push_str(&format!(" JOIN __u{di} USING ({})", j.join(", ")));
    }
    let mut q = IncrementSql {
        ctes,
        join: j,
        from,
        target_exists,
        target_rows: target.is_some(),
        field_calls: vec![],
        sample_call: String::new(),
        relations: vec![],
    };
    if hashing {
        let Some(calls) = provenance_calls(db, plan, what == SqlFor::Pages) else {
            return Ok(None);
        };
        let mut e_cols = q.join.clone();
        if what == SqlFor::Pages {
            e_cols.extend(args.iter().cloned());
        }
        q.ctes.push(format!(
            "__e AS (SELECT {}, {} AS __prov, 1 AS __p FROM {})",
            e_cols.join(", "),
            calls.sample,
            q.from
        ));
        q.field_calls = calls.fields;
        q.sample_call = calls.sample;
    }
    if let Some(rel) = target {
        let mut extra = vec![format!("{} AS __cur_prov", quote_ident(cols::PROVENANCE))];
        let mut needs = rel
            .columns
            .iter()
            .any(|(n, t)| n == cols::PROVENANCE && t == "VARCHAR");
        if what == SqlFor::Pages {
            for (i, (f, _)) in plan.fields.iter().enumerate() {
                needs &= varchar_member(&rel.columns, cols::PROVENANCE_BY_FIELD, f);
                extra.push(format!(
                    "struct_extract({}, {}) AS __s{i}",
                    quote_ident(cols::PROVENANCE_BY_FIELD),
                    sql_str(f)
                ));
            }
        }
        let Some(cur) = latest_read_sql(
            db,
            &rel,
            &plan.feature_version,
            &plan.id_columns,
            &extra,
            needs,
        )?
        else {
            return Ok(None);
        };
        q.ctes
            .push(format!("__c AS (SELECT *, 1 AS __p FROM ({cur}))"));
        used.push(rel);
    }
    if what == SqlFor::Pages {
        // pages are never partitioned by id range
        for c in &mut q.ctes {
            *c = c.replace(RANGE_MARK, "");
        }
    }
    q.relations = used;
    Ok(Some(q))
}

/// The counts of `plan` on `db`, over the relations `relation` gives per feature (`None`: the feature has no
/// table): over dense integer ids by [`super::dense::count_dense`] (DuckDB scans, the rest runs here), else as one
/// DuckDB query. In the query, the sample provenance is computed by a provenance function registered for the plan
/// ([`RawDuckDb::register_provenance`]); DuckDB scans, dedups and joins in parallel, spilling to its temporary
/// directory beyond [`RawDuckDb::query_first_row_bounded`]'s memory limit; four numbers come back. When the target
/// holds no row (no table yet, or an emptied table) every expected sample is new: only the upstream join's ids are
/// counted and nothing is hashed, as [`crate::engine::versioning::counts::absent_target_counts`] does.
/// `Ok(None)` when an upstream table is missing or empty or a table is not as the plan expects, or DuckDB fails:
/// the caller then runs the general engine, which reports real errors.
pub fn count_in_duckdb(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
) -> Result<Option<IncrementCounts>> {
    if let Some(c) = super::dense::count_dense(db, plan, relation)? {
        return Ok(Some(c));
    }
    count_in_one_query(db, plan, relation)
}

/// [`count_in_duckdb`] without the dense path: the counts as one DuckDB query (several over id ranges beyond
/// [`PARTITION_ROWS`]). `Ok(None)` as for `count_in_duckdb`.
pub(crate) fn count_in_one_query(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
) -> Result<Option<IncrementCounts>> {
    let Some(q) = increment_sql(db, plan, relation, SqlFor::Counts)? else {
        return Ok(None);
    };
    let sql = if q.target_rows {
        let on: Vec<String> = q.join.iter().map(|c| format!("e.{c} = c.{c}")).collect();
        format!(
            "WITH {} SELECT \
             count(*) FILTER (WHERE c.__p IS NULL), \
             count(*) FILTER (WHERE e.__p IS NOT NULL AND c.__p IS NOT NULL AND (c.__cur_prov IS NULL OR e.__prov <> c.__cur_prov)), \
             count(*) FILTER (WHERE e.__p IS NULL), \
             count(*) FILTER (WHERE c.__p IS NOT NULL) \
             FROM __e e FULL JOIN __c c ON {}",
            q.ctes.join(", "),
            on.join(" AND "),
        )
    } else {
        format!(
            "WITH {} SELECT count(*), 0, 0, 0 FROM {}",
            q.ctes.join(", "),
            q.from
        )
    };
    let name = plan.target.to_string();
    let ranges = id_ranges(db, plan, &q.relations.iter().collect::<Vec<_>>());
    let mut sums = [0i64; 4];
    // one query: `duckdb-counts <name>`; several: that span around `duckdb-counts-part <name> i/n` each
    let parted = ranges.len() > 1;
    let _t = parted.then(|| crate::engine::timing::span(|| format!("duckdb-counts {name}")));
    for (i, range) in ranges.iter().enumerate() {
        let (label, part) = if parted {
            (
                "duckdb-counts-part",
                format!("{name} {}/{}", i + 1, ranges.len()),
            )
        } else {
            ("duckdb-counts", name.clone())
        };
        let Some(row) = run_logged(&part, label, &sql.replace(RANGE_MARK, range), |s| {
            db.query_first_row_bounded(s)
        }) else {
            return Ok(None);
        };
        let [a, b, c, d] = row[..] else {
            return Ok(None);
        };
        for (s, v) in sums.iter_mut().zip([a, b, c, d]) {
            *s += v;
        }
    }
    let [new, stale, orphaned, current] = sums;
    Ok(Some(IncrementCounts {
        new: new as usize,
        stale: stale as usize,
        orphaned: orphaned as usize,
        current_rows: current as usize,
        target_exists: q.target_exists,
    }))
}

/// Runs `sql` with `run` under the `METAXY_TUI_TIMINGS` span `<label> <name>`; `METAXY_TUI_SHOW_SQL` prints the
/// query, and why DuckDB failed (`None` then: the caller declines, the general engine reports real errors).
pub(crate) fn run_logged<T>(
    name: &str,
    label: &str,
    sql: &str,
    run: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Option<T> {
    let show = std::env::var_os("METAXY_TUI_SHOW_SQL").is_some();
    if show {
        eprintln!("{sql}");
    }
    let t = crate::engine::timing::span(|| format!("{label} {name}"));
    let out = run(sql);
    drop(t);
    match out {
        Ok(v) => Some(v),
        Err(e) => {
            if show {
                let what = label.rsplit('-').next().unwrap_or(label);
                eprintln!("in-store {what} of {name} declined: {e}");
            }
            None
        }
    }
}

/// The provenance recipes of `plan`'s fields as [`RecipeTok`]s (literals merged, `|` separators included) and
/// what each argument is: `(dep, field index in that dep's [`crate::engine::store::count_plan::CountDep::fields`])`,
/// each upstream data version once, in first-use order.
pub(crate) fn recipe_tokens(plan: &CountPlan) -> (Vec<(usize, usize)>, Vec<Vec<RecipeTok>>) {
    let mut args: Vec<(usize, usize)> = Vec::new();
    let mut recipes: Vec<Vec<RecipeTok>> = Vec::new();
    for (_, pieces) in &plan.fields {
        let mut toks: Vec<RecipeTok> = Vec::new();
        let lit = |toks: &mut Vec<RecipeTok>, b: &[u8]| match toks.last_mut() {
            Some(RecipeTok::Lit(l)) => l.extend_from_slice(b),
            _ => toks.push(RecipeTok::Lit(b.to_vec())),
        };
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                lit(&mut toks, b"|");
            }
            match p {
                RecipePiece::Lit(s) => lit(&mut toks, s.as_bytes()),
                RecipePiece::DataVersion { dep, field } => {
                    let fi = plan.deps[*dep]
                        .fields
                        .iter()
                        .position(|f| f == field)
                        .unwrap_or(0);
                    let n = args
                        .iter()
                        .position(|x| *x == (*dep, fi))
                        .unwrap_or_else(|| {
                            args.push((*dep, fi));
                            args.len() - 1
                        });
                    toks.push(RecipeTok::Arg(n));
                }
            }
        }
        recipes.push(toks);
    }
    (args, recipes)
}

/// The provenance functions of a plan: the sample's, and with fields each field's, as SQL calls over the
/// `__d<dep>_<field>` columns of the upstream reads.
struct ProvenanceCalls {
    sample: String,
    fields: Vec<String>,
}

/// The SQL calls computing a row's sample provenance (and with `fields` each field's) from the `__d<dep>_<field>`
/// columns of the upstream reads: per field H(pieces joined by '|'), then H(the field provenances in struct-key
/// order joined by '|'); the data versions are the arguments, the literals are baked into functions registered for
/// `plan`. `None` when DuckDB refuses a registration.
fn provenance_calls(db: &RawDuckDb, plan: &CountPlan, fields: bool) -> Option<ProvenanceCalls> {
    let (arg_fields, recipes) = recipe_tokens(plan);
    let args: Vec<String> = arg_fields
        .iter()
        .map(|(dep, fi)| format!("__d{dep}_{fi}"))
        .collect();
    let call = |output: ProvenanceOutput| -> Option<String> {
        let f = db
            .register_provenance(ProvenanceTemplate {
                algorithm: plan.algorithm,
                truncation: plan.truncation,
                fields: recipes.clone(),
                args: args.len(),
                output,
            })
            .ok()?;
        Some(format!("{f}({})", args.join(", ")))
    };
    let sample = call(ProvenanceOutput::Sample)?;
    let fields = if fields {
        (0..recipes.len())
            .map(|k| call(ProvenanceOutput::Field(k)))
            .collect::<Option<Vec<String>>>()?
    } else {
        vec![]
    };
    Some(ProvenanceCalls { sample, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact uniqueness check over integer ids (bitmap over the value range when dense, HyperLogLog then
    /// count(DISTINCT) when sparse) and over strings, with duplicates, NULL ids and values beyond i64.
    #[test]
    fn ids_unique_is_exact_for_integer_and_string_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("u.duckdb");
        {
            let c = duckdb::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE dense AS SELECT range::UBIGINT AS id, 'v' AS metaxy_feature_version FROM range(100000);
                 CREATE TABLE dense_dup AS SELECT * FROM dense UNION ALL SELECT 77::UBIGINT, 'v';
                 CREATE TABLE other_version AS SELECT * FROM dense UNION ALL SELECT 77::UBIGINT, 'w';
                 CREATE TABLE with_null AS SELECT * FROM dense UNION ALL SELECT NULL, 'v';
                 CREATE TABLE sparse AS SELECT (range * 1000003)::BIGINT AS id, 'v' AS metaxy_feature_version FROM range(5000);
                 CREATE TABLE sparse_dup AS SELECT * FROM sparse UNION ALL SELECT 1000003, 'v';
                 CREATE TABLE huge AS SELECT (18446744073709551615 - range)::UBIGINT AS id, 'v' AS metaxy_feature_version FROM range(1000);
                 CREATE TABLE huge_dup AS SELECT * FROM huge UNION ALL SELECT 18446744073709551615::UBIGINT, 'v';
                 CREATE TABLE strs AS SELECT range::VARCHAR AS id, 'v' AS metaxy_feature_version FROM range(1000);
                 CREATE TABLE strs_dup AS SELECT * FROM strs UNION ALL SELECT '5', 'v';
                 CREATE TABLE empty AS SELECT * FROM dense WHERE false;",
            )
            .unwrap();
        }
        let db = RawDuckDb::open(&path).unwrap();
        let check = |table: &str, ty: &str| {
            let rel = SqlRelation::table(
                table,
                vec![
                    ("id".into(), ty.into()),
                    (
                        crate::engine::schema::FEATURE_VERSION.into(),
                        "VARCHAR".into(),
                    ),
                ],
            );
            ids_unique(
                &db,
                &rel,
                &["\"id\"".to_string()],
                "\"id\"",
                " WHERE metaxy_feature_version = 'v'",
            )
            .unwrap()
        };
        assert!(check("dense", "UBIGINT"));
        assert!(!check("dense_dup", "UBIGINT"));
        assert!(check("other_version", "UBIGINT"));
        assert!(!check("with_null", "UBIGINT"));
        assert!(check("sparse", "BIGINT"));
        assert!(!check("sparse_dup", "BIGINT"));
        assert!(check("huge", "UBIGINT"));
        assert!(!check("huge_dup", "UBIGINT"));
        assert!(check("strs", "VARCHAR"));
        assert!(!check("strs_dup", "VARCHAR"));
        assert!(check("empty", "UBIGINT"));
    }
}
