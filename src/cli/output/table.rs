//! Plain-text tables for headless output (comfy-table): Metaxy-like box drawing, rich's `HEAVY_HEAD` style and
//! title, frames rendered as tables, and the columns a row preview shows.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use polars::prelude::*;

use crate::engine::json::any_to_cell;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::workspace::Workspace;

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

/// Columns worth showing in a preview of `key`'s rows: id columns, then the system columns that identify a row.
pub fn preview_columns(ws: &Workspace, key: &FeatureKey) -> Vec<String> {
    let mut c = ws
        .graph
        .get(key)
        .map(|d| d.spec.id_columns.clone())
        .unwrap_or_default();
    c.extend(
        [
            cols::FEATURE_VERSION,
            cols::PROVENANCE,
            cols::CREATED_AT,
            cols::UPDATED_AT,
            cols::DELETED_AT,
        ]
        .map(String::from),
    );
    c
}

/// Rich's `HEAVY_HEAD` box (the style of every Metaxy table): heavy top border and header separator, light body, no
/// row separators. The header row's heavy verticals (`┃`) are patched in by [`render_rich`].
const RICH_HEAVY_HEAD: &str = "││━─┡━╇┩│    ┳┴┏┓└┘";

/// A new table drawn like Metaxy's rich tables (render it with [`render_rich`]). Width: `$COLUMNS` or 200.
pub fn rich_table(headers: &[&str]) -> Table {
    let mut t = table(headers);
    t.load_preset(RICH_HEAVY_HEAD);
    t
}

/// Renders a [`rich_table`]: rich draws the header row with heavy verticals, comfy-table with the body's.
pub fn render_rich(t: &Table) -> String {
    let text = t.to_string();
    let mut in_header = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            in_header = line.starts_with('┏');
        } else if line.starts_with('┡') {
            in_header = false;
        }
        if in_header && i > 0 {
            lines.push(line.replace('│', "┃"));
        } else {
            lines.push(line.to_string());
        }
    }
    lines.join("\n")
}

/// A rich table title: `title` wrapped at word boundaries to the table's width (words longer than that are cut)
/// and each line centred in that width, with a trailing newline per line — what rich prints above a table.
pub fn table_title(title: &str, table_text: &str) -> String {
    let width = table_text
        .lines()
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        .max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in title.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let len = current.chars().count();
            let sep = usize::from(len > 0);
            if len + sep + word.len() <= width {
                if sep == 1 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            // a word wider than the table: fold it
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    let mut out = String::new();
    for l in lines {
        let len = l.chars().count();
        let left = (width - len) / 2;
        out.push_str(&" ".repeat(left));
        out.push_str(&l);
        out.push_str(&" ".repeat(width - len - left));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_tables_and_titles_look_like_metaxys() {
        let mut t = rich_table(&["Metric", "Value"]);
        t.add_row(vec!["Total Features", "7"]);
        t.add_row(vec!["Graph Depth", "3"]);
        align_right(&mut t, &[1]);
        let text = render_rich(&t);
        assert_eq!(
            text,
            "┏━━━━━━━━━━━━━━━━┳━━━━━━━┓\n\
             ┃ Metric         ┃ Value ┃\n\
             ┡━━━━━━━━━━━━━━━━╇━━━━━━━┩\n\
             │ Total Features │     7 │\n\
             │ Graph Depth    │     3 │\n\
             └────────────────┴───────┘"
        );
        assert_eq!(
            table_title(
                "Graph Snapshot: f513ad86 (Project: example_overview)",
                &text
            ),
            " Graph Snapshot: f513ad86 \n        (Project:         \n    example_overview)     \n"
        );
        assert_eq!(table_title("abcdefgh", "┏━━━┓"), "abcde\n fgh \n");
    }
}
