//! Plain-text rendering helpers for headless output (tables via comfy-table).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use polars::prelude::*;

use crate::engine::json::any_to_cell;

/// A new table with Metaxy-like box drawing. Width: `$COLUMNS` or 200 when stdout is not a terminal (as rich).
pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200u16);
    t.set_width(width);
    t.set_header(headers.to_vec());
    t
}

/// Right-aligns the given columns.
pub fn align_right(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Renders a frame as a table (struct values as `{k: v}`), `columns` restricting and ordering the columns.
pub fn frame_table(df: &DataFrame, columns: Option<&[String]>) -> PolarsResult<Table> {
    let names = crate::engine::frame::present_columns(df, columns);
    let headers: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut t = table(&headers);
    let cols: Vec<Series> = names
        .iter()
        .map(|n| df.column(n).map(|c| c.as_materialized_series().rechunk()))
        .collect::<PolarsResult<_>>()?;
    for i in 0..df.height() {
        let row: Vec<String> = cols
            .iter()
            .map(|s| s.get(i).map(|v| any_to_cell(&v)).unwrap_or_default())
            .collect();
        t.add_row(row);
    }
    Ok(t)
}
