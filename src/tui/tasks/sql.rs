//! Job `RunSql`: one query of the SQL console ([`crate::engine::sql::run_sql`]), reporting its progress (which view
//! is being read, then the query) and its result rows, already turned into the console's table.

use std::time::Instant;

use super::{guarded, Emit};
use crate::engine::sql::{run_sql, SqlCancel};
use crate::engine::workspace::Workspace;
use crate::tui::msg::JobResult;
use crate::tui::screens::sql::{SqlResult, RESULT_ROWS};

/// Runs `query`; reports [`JobResult::SqlProgress`] lines, then one [`JobResult::SqlDone`].
pub(super) fn run(ws: &Workspace, query: &str, cancel: &SqlCancel, emit: &mut Emit<'_>) {
    let started = Instant::now();
    let result = guarded(|| {
        let out = run_sql(ws, query, Some(RESULT_ROWS), cancel, &mut |p: &str| {
            emit(JobResult::SqlProgress {
                text: p.to_string(),
            });
        })
        .map_err(|e| e.to_string())?;
        SqlResult::build(out, query, started.elapsed().as_millis() as u64)
            .map_err(|e| e.to_string())
    });
    emit(JobResult::SqlDone {
        result: result.map(Box::new),
    });
}
