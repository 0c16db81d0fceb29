//! The shared half of a two-phase latest-row read ("late materialisation", used by the Iceberg and Delta
//! backends' [`crate::engine::store::MetadataStore::scan_latest`]): a first phase reads only the columns the
//! latest-row pick needs ([`pick_columns`]) of every data file, [`winners`] picks the latest row per id exactly
//! as the engine does ([`keep_latest`], FORMAT.md §7.1), and a second phase reads the other columns only of the
//! files holding a winner ([`by_file`]).

use polars::prelude::*;

use crate::engine::error::Result;
use crate::engine::schema as cols;
use crate::engine::store::latest::keep_latest;

/// The row-position column added to the first phase's rows (not a column name Metaxy writes).
const POS: &str = "__metaxy_tui_late_pos";

/// What a two-phase read read: the first phase every planned file's pick columns, the second only the files
/// and rows below. Printed with `METAXY_TUI_TIMINGS=1` ([`LateStats::note`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LateStats {
    /// Data files planned (that may hold the feature version), all read in the first phase.
    pub files: usize,
    /// Rows the first phase returned (for Delta before the feature-version filter).
    pub rows: usize,
    /// Rows that won the pick (the latest row per id of the feature version).
    pub winners: usize,
    /// Data files the second phase read: those holding at least one winner (0 when no other column is asked).
    pub files_read: usize,
    /// Rows the second phase decoded (every row of the files it read).
    pub rows_read: usize,
}

impl LateStats {
    /// Prints the counts to stderr as `timing-note <backend> late read <table>: ...` when timings are on.
    pub fn note(&self, backend: &str, table: &dyn std::fmt::Display) {
        if crate::engine::timing::enabled() {
            eprintln!(
                "timing-note {backend} late read {table}: phase 1 {} files {} rows, {} winners, phase 2 {} of {} \
                 files {} rows",
                self.files, self.rows, self.winners, self.files_read, self.files, self.rows_read
            );
        }
    }
}

/// The columns of a table with columns `names` that the latest-row pick needs: the id columns `ids`, then the
/// timestamp columns present (`metaxy_updated_at`, `metaxy_deleted_at`). `None` when an id column is missing or
/// neither timestamp exists (callers keep their single-pass read, and the engine reports or decides).
pub fn pick_columns<'a>(names: impl Fn(&str) -> bool + 'a, ids: &[String]) -> Option<Vec<String>> {
    if ids.is_empty() || !ids.iter().all(|c| names(c)) {
        return None;
    }
    let ts: Vec<String> = [cols::UPDATED_AT, cols::DELETED_AT]
        .into_iter()
        .filter(|c| names(c))
        .map(str::to_string)
        .collect();
    if ts.is_empty() {
        return None;
    }
    Some(ids.iter().cloned().chain(ts).collect())
}

/// The latest row per `ids` among the first phase's rows `first` (in storage order, row `i` at global position
/// `i`), only rows whose `metaxy_feature_version` equals `version` taking part when given (null = not equal, as
/// the engine's version filter): the winning rows (storage order) and their global positions (ascending).
/// Errors: polars errors of the pick.
pub fn winners(
    mut first: DataFrame,
    ids: &[String],
    version: Option<&str>,
) -> Result<(DataFrame, Vec<usize>)> {
    let n = first.height();
    let pos = IdxCa::from_vec(POS.into(), (0..n as IdxSize).collect());
    first.with_column(pos.into_series().into_column())?;
    if let Some(v) = version {
        let mask = first
            .clone()
            .lazy()
            .select([col(cols::FEATURE_VERSION)
                .eq(lit(v.to_string()))
                .fill_null(lit(false))
                .alias("__mx_keep")])
            .collect()?;
        let mask = mask.column("__mx_keep")?.bool()?.clone();
        if !mask.all() {
            first = first.filter(&mask)?;
        }
    }
    let won = keep_latest(first, ids)?;
    let positions = |w: &DataFrame| -> Result<Vec<usize>> {
        Ok(w.column(POS)?
            .idx()?
            .into_no_null_iter()
            .map(|p| p as usize)
            .collect())
    };
    let mut at = positions(&won)?;
    // the engine's pick keeps the storage order; sort should it ever not
    let won = if at.windows(2).all(|w| w[0] < w[1]) {
        won
    } else {
        let w = won.sort([POS], Default::default())?;
        at = positions(&w)?;
        w
    };
    Ok((won.drop(POS)?, at))
}

/// The global positions `won` (ascending) grouped by file, file `i` holding the positions
/// `starts[i]..starts[i + 1]` (`starts` ends with the total): the files holding a winner (ascending) and, per
/// such file, the winners' positions within it (ascending).
pub fn by_file(starts: &[usize], won: &[usize]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut files: Vec<usize> = vec![];
    let mut local: Vec<Vec<usize>> = vec![];
    let mut f = 0usize;
    for &p in won {
        while f + 2 < starts.len() && starts[f + 1] <= p {
            f += 1;
        }
        if files.last() != Some(&f) {
            files.push(f);
            local.push(vec![]);
        }
        if let Some(l) = local.last_mut() {
            l.push(p - starts[f]);
        }
    }
    (files, local)
}

/// The first row position of each file of `rows` rows, then the total.
pub fn starts(rows: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len() + 1);
    let mut n = 0usize;
    for r in rows {
        out.push(n);
        n += r;
    }
    out.push(n);
    out
}

/// `first` (the winners' first-phase columns) beside `second` (the same rows' other columns, same order), the
/// columns in the order `names`. Errors: polars errors (a height mismatch).
pub fn assemble(first: DataFrame, second: Option<DataFrame>, names: &[&str]) -> Result<DataFrame> {
    let df = match second {
        Some(s) => first.hstack(s.columns())?,
        None => first,
    };
    Ok(df.select(names.iter().copied())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winners_by_file_and_versions() {
        let df = df!(
            "id" => ["a", "b", "a", "c", "b", "c"],
            "metaxy_feature_version" => [Some("v1"), Some("v1"), Some("v1"), Some("v1"), Some("v2"), None],
            "metaxy_updated_at" => [1i64, 1, 2, 1, 9, 9],
        )
        .unwrap();
        let ids = ["id".to_string()];
        let (w, at) = winners(df.clone(), &ids, Some("v1")).unwrap();
        assert_eq!(at, [1, 2, 3]);
        assert_eq!(w.height(), 3);
        let (_, at) = winners(df, &ids, None).unwrap();
        assert_eq!(at, [2, 4, 5]);
        let st = starts(&[2, 0, 3, 1]);
        assert_eq!(st, [0, 2, 2, 5, 6]);
        assert_eq!(
            by_file(&st, &[1, 2, 4, 5]),
            (vec![0, 2, 3], vec![vec![1], vec![0, 2], vec![0]])
        );
        assert_eq!(by_file(&st, &[]), (vec![], vec![]));
        assert_eq!(
            pick_columns(|c| c != "metaxy_deleted_at", &ids),
            Some(vec!["id".to_string(), "metaxy_updated_at".to_string()])
        );
        assert_eq!(pick_columns(|c| c == "id", &ids), None);
        assert_eq!(pick_columns(|_| true, &[]), None);
    }
}
