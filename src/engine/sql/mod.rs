//! SQL over a store (issue 19): [`run_sql`] answers one read-only query in an in-memory DuckDB where every feature
//! of the graph is a view named by its key with Metaxy's read semantics (`"example/crop"`), `raw."example/crop"`
//! holds every stored row and `increment."example/crop"` the feature's increment (a `kind` column: `new`, `stale`,
//! `orphaned`). Only the views the query names are defined ([`parse`] reads its references with DuckDB's parser).
//!
//! DuckDB stores are attached read-only and queried in place ([`views`]); other backends' rows come from the
//! engine's reads with the columns the query mentions (projection pushdown) and the query's equality predicates
//! on the view pushed into the backend's scan ([`pushdown`]: id columns only below Metaxy's read semantics), copied
//! into the in-memory database.
//! Read-only: anything but one query is refused before anything runs, and the connection is then locked down
//! (`enable_external_access = false`, `lock_configuration = true`), so `read_csv` and friends cannot touch files.

pub mod parse;
pub mod pushdown;
pub mod views;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::Connection;
use polars::prelude::DataFrame;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::store::Columns;
use crate::engine::workspace::Workspace;

pub use parse::ViewKind;

/// Cancels a running [`run_sql`] from another thread: between two views being defined, and inside DuckDB while the
/// query runs (DuckDB's interrupt). Cheap to clone.
#[derive(Clone, Default)]
pub struct SqlCancel {
    cancelled: Arc<AtomicBool>,
    handle: Arc<Mutex<Option<Arc<duckdb::InterruptHandle>>>>,
}

impl SqlCancel {
    /// Asks the query to stop; [`run_sql`] then fails with [`EngineError::Sql`] `"cancelled"`.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(h) = self
            .handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            h.interrupt();
        }
    }

    /// Whether [`SqlCancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            return Err(EngineError::Sql("cancelled".into()));
        }
        Ok(())
    }
}

/// The answer of [`run_sql`].
#[derive(Debug)]
pub struct SqlOutput {
    /// The result rows (at most the `limit` given), columns as the query named them.
    pub frame: DataFrame,
    /// Whether rows were left out because of the limit.
    pub truncated: bool,
    /// The views defined for the query (`"example/crop"`, `raw."example/crop"`, ...), in order.
    pub views: Vec<String>,
    /// The filters pushed into the scans of non-DuckDB stores: `(view, condition)` ([`pushdown::describe`]), for the views
    /// that had one ([`pushdown`]; the query still filters every row itself).
    pub pushed: Vec<(String, String)>,
}

/// Runs `sql` (one read-only query) over the store of `ws`. `limit` caps the rows fetched (`None`: all);
/// `progress` hears what is being done (`reading example/crop (1/2)`, `running query`); `cancel` stops it.
///
/// Errors: [`EngineError::SqlRefused`] when `sql` is not exactly one query (nothing has run then, and no file was
/// opened but the store's); [`EngineError::Sql`] for syntax and binding errors, a view of a feature the store has
/// no table for, a refused file access and a cancel; store read and increment errors of the views defined.
pub fn run_sql(
    ws: &Workspace,
    sql: &str,
    limit: Option<usize>,
    cancel: &SqlCancel,
    progress: &mut dyn FnMut(&str),
) -> Result<SqlOutput> {
    let conn = Connection::open_in_memory()?;
    let parsed = parse::parse(&conn, sql)?;
    let wanted = referenced_views(ws, &parsed);
    let columns = match &parsed.columns {
        None => Columns::All,
        Some(c) => Columns::Only(c.iter().cloned().collect()),
    };
    conn.execute_batch("CREATE SCHEMA raw; CREATE SCHEMA increment;")?;
    let file = ws.store.duckdb_file();
    let attached = file.is_some() && wanted.iter().any(|(k, _)| *k != ViewKind::Increment);
    if let (true, Some(path)) = (attached, &file) {
        conn.execute_batch(&format!(
            "ATTACH {} AS {} (READ_ONLY)",
            crate::engine::store::common::sql_str(&path.to_string_lossy()),
            views::STORE_CATALOG
        ))
        .map_err(|e| EngineError::Sql(parse::first_line(&e.to_string())))?;
    }
    let mut names = vec![];
    let mut pushed = vec![];
    for (i, (kind, key)) in wanted.iter().enumerate() {
        cancel.check()?;
        let what = match kind {
            ViewKind::Read => "reading",
            ViewKind::Raw => "reading raw",
            ViewKind::Increment => "computing the increment of",
        };
        progress(&format!("{what} {key} ({}/{})", i + 1, wanted.len()));
        let name = match kind {
            ViewKind::Read => format!("\"{key}\""),
            k => format!("{}.\"{key}\"", k.schema()),
        };
        let preds =
            pushdown::predicates(&parsed.json, kind.schema(), &key.to_string().to_lowercase());
        let t0 = std::time::Instant::now();
        let filter = views::define(&conn, ws, key, *kind, &columns, attached, &preds)?;
        if crate::engine::timing::enabled() {
            eprintln!(
                "timing sql view {name} (pushed: {}) {:.1} ms",
                filter.as_deref().unwrap_or("nothing"),
                t0.elapsed().as_secs_f64() * 1000.0
            );
        }
        if let Some(f) = filter {
            pushed.push((name.clone(), f));
        }
        names.push(name);
    }
    conn.execute_batch(
        "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; \
         SET enable_external_access = false; SET lock_configuration = true;",
    )?;
    cancel.check()?;
    progress("running query");
    *cancel.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.interrupt_handle());
    let result = query(&conn, sql, limit);
    cancel
        .handle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    cancel.check()?;
    let (frame, truncated) = result?;
    Ok(SqlOutput {
        frame,
        truncated,
        views: names,
        pushed,
    })
}

/// Runs the (checked) query and collects at most `limit` rows.
fn query(conn: &Connection, sql: &str, limit: Option<usize>) -> Result<(DataFrame, bool)> {
    let sql_err = |e: duckdb::Error| EngineError::Sql(parse::first_line(&e.to_string()));
    let mut stmt = conn.prepare(sql).map_err(sql_err)?;
    let arrow = stmt.query_arrow([]).map_err(sql_err)?;
    let schema = arrow.get_schema();
    let mut batches = vec![];
    let mut rows = 0usize;
    let mut truncated = false;
    for b in arrow {
        if let Some(max) = limit {
            if rows >= max {
                truncated = true;
                break;
            }
            let keep = (max - rows).min(b.num_rows());
            truncated |= keep < b.num_rows();
            rows += keep;
            batches.push(b.slice(0, keep));
        } else {
            rows += b.num_rows();
            batches.push(b);
        }
    }
    Ok((record_batches_to_df(&schema, &batches)?, truncated))
}

/// The views `parsed` names that are features of the graph: `(kind, key)`, in graph order, each once. A name in
/// the `main` schema (or none) is the default read, `raw` the stored rows, `increment` the increment.
fn referenced_views(ws: &Workspace, parsed: &parse::Parsed) -> Vec<(ViewKind, FeatureKey)> {
    let keys = ws.graph.topological_order();
    let mut out = vec![];
    for kind in [ViewKind::Read, ViewKind::Raw, ViewKind::Increment] {
        for key in &keys {
            let name = key.to_string().to_lowercase();
            let hit = parsed.tables.iter().any(|(schema, table)| {
                *table == name
                    && match kind {
                        ViewKind::Read => schema.is_empty() || schema == "main",
                        k => schema == k.schema(),
                    }
            });
            if hit {
                out.push((kind, key.clone()));
            }
        }
    }
    out
}
