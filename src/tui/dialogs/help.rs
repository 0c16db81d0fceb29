//! The help overlay (`?`): every key, grouped, with remapped keys shown as configured.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// Every key binding, grouped: what the help overlay lists.
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Global",
        &[
            ("?", "toggle this help"),
            (":", "command palette (fuzzy)"),
            ("q  Ctrl-C", "quit"),
            ("r", "reload: reopen store, recompute status"),
            ("a", "live refresh on / off (auto reload)"),
            ("Tab  Shift-Tab", "next / previous tab"),
            ("1 … 5", "Metadata New Stale Orphaned Detail"),
            ("v", "feature graph drawing (Esc back)"),
            ("H", "pushed versions and graph diffs"),
            ("S", "stores: reachable or not, open another"),
            ("L", "lookup: the cursor row's sample everywhere"),
            ("Q", "SQL console over the store (also :sql)"),
        ],
    ),
    (
        "Feature list",
        &[
            ("j k  ↓ ↑", "select next / previous feature"),
            ("g G  Home End", "first / last feature"),
            ("PgDn PgUp  ^d ^u", "move 10 / 5 features"),
            ("Enter  l  →", "focus the table"),
            ("/", "fuzzy filter (Enter keeps, Esc clears)"),
            ("Esc", "clear the filter / cancel statuses"),
        ],
    ),
    (
        "Graph screen (v)",
        &[
            ("h j k l  ← ↓ ↑ →", "nearest feature in that direction"),
            ("c", "collapse / expand the key prefix"),
            ("C", "collapse every prefix / expand all"),
            ("Enter", "open the feature's tables"),
        ],
    ),
    (
        "Lookup (L) · History (H) screens",
        &[
            ("Enter  d  R", "lookup: row · delete it · rebase"),
            ("j k  x  R", "history: version · diff base · rebase"),
        ],
    ),
    (
        "Table",
        &[
            ("j k  ↓ ↑", "next / previous row"),
            ("PgDn PgUp  Space", "page down / up"),
            ("^d ^u", "half page down / up"),
            ("g G  Home End", "first / last row"),
            ("h l  ← →", "scroll columns left / right"),
            ("0 $", "first / last column"),
            ("< >", "narrower / wider columns"),
            ("x", "mark / unmark the row (Metadata tab)"),
            ("y", "copy the cursor row as JSON (OSC 52)"),
            ("Enter", "every column of the row, full values"),
            ("Esc", "back to the feature list"),
        ],
    ),
    (
        "Metadata tab",
        &[
            ("f", "SQL filter (↑↓ history, empty clears)"),
            ("F  A  D", "all versions / every row / deleted"),
            ("o  O", "sort by next column / reverse"),
            ("s", "column picker: show / hide columns"),
            ("e", "export the view (parquet/csv/ndjson)"),
        ],
    ),
    (
        "Writes (previewed, then confirmed)",
        &[
            ("d", "delete marked/cursor rows or by SQL"),
            ("R", "rebase from an older feature version"),
            ("w", "write rows from a file"),
            ("Tab ^F ^D", "delete form: hard, versions, cascade"),
            ("X  ^X", "drop the whole table (^X: from d)"),
            ("y  Enter", "confirm (hard: type the key first)"),
            ("Esc  n", "cancel: nothing is written"),
        ],
    ),
];
/// A help key text with remapped keys shown as bound (`assets/tui-config.toml`): every word of `k` that is the
/// built-in key of a remappable action becomes that action's key.
pub fn bound_keys(k: &str) -> String {
    let map = &crate::tui::settings::active().keys;
    k.split(' ')
        .map(|w| {
            let mut c = w.chars();
            let one = if w == "Space" {
                Some(' ')
            } else {
                match (c.next(), c.next()) {
                    (Some(ch), None) => Some(ch),
                    _ => None,
                }
            };
            match one {
                Some(ch) => map
                    .shown(crossterm::event::KeyCode::Char(ch))
                    .map(crate::tui::settings::key_name)
                    .unwrap_or_else(|| w.to_string()),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
pub(crate) fn help_lines(groups: &[(&str, &[(&str, &str)])]) -> Vec<Line<'static>> {
    let mut lines = vec![];
    for (group, keys) in groups {
        lines.push(Line::from(format!(" {group}")).bold().fg(accent()));
        for (k, d) in *keys {
            let k = bound_keys(k);
            lines.push(Line::from(vec![
                Span::raw(format!("   {k:<18}")).fg(Color::Yellow),
                Span::raw(d.to_string()),
            ]));
        }
        lines.push(Line::default());
    }
    lines
}
/// Rows of a run of help groups (each: a title, its keys, a blank line).
fn group_rows(groups: &[(&str, &[(&str, &str)])]) -> usize {
    groups.iter().map(|(_, k)| k.len() + 2).sum()
}

/// The split of [`HELP`] into `n` (1 to 3) runs of whole groups with the smallest tallest run: the indices where
/// runs 2 and 3 start, and the height of the tallest run.
fn balanced_split(n: usize) -> (Vec<usize>, usize) {
    let len = HELP.len();
    let mut best = (vec![], group_rows(HELP));
    if n < 2 {
        return best;
    }
    for i in 1..len {
        if n == 2 {
            let h = group_rows(&HELP[..i]).max(group_rows(&HELP[i..]));
            if h < best.1 {
                best = (vec![i], h);
            }
            continue;
        }
        for j in i + 1..len {
            let h = group_rows(&HELP[..i])
                .max(group_rows(&HELP[i..j]))
                .max(group_rows(&HELP[j..]));
            if h < best.1 {
                best = (vec![i, j], h);
            }
        }
    }
    best
}

pub(crate) fn draw_help(frame: &mut Frame, area: Rect) {
    // as few columns as fit the height (two from 110 columns of terminal, three from 120)
    let fits = |h: usize| h + 3 <= area.height as usize;
    let mut n = 1;
    let mut split = balanced_split(1);
    for (cols, min_width) in [(2, 110), (3, 120)] {
        if fits(split.1) || area.width < min_width {
            break;
        }
        n = cols;
        split = balanced_split(cols);
    }
    let (w, h) = if n == 1 {
        (76, split.1 as u16 + 3)
    } else {
        (area.width.min(75 * n as u16), split.1 as u16 + 3)
    };
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(accent()))
        .title(Line::from(" Keys ").bold())
        .title_bottom(
            Line::from(" ? or Esc to close ")
                .fg(muted())
                .right_aligned(),
        );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let mut bounds = vec![0];
    bounds.extend(split.0.iter().copied());
    bounds.push(HELP.len());
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, n as u32); n]).split(inner);
    for (k, a) in areas.iter().enumerate() {
        let groups = &HELP[bounds[k]..bounds[k + 1]];
        frame.render_widget(Paragraph::new(help_lines(groups)), *a);
    }
}
