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
        "Lookup screen (L)",
        &[("Enter  d  R", "row · delete it · rebase its feature")],
    ),
    (
        "History screen (H)",
        &[("j k  x  R", "version · diff base · rebase from it")],
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
pub(crate) fn draw_help(frame: &mut Frame, area: Rect) {
    let rows: usize = HELP.iter().map(|(_, k)| k.len() + 2).sum::<usize>() + 1;
    // two columns when one would not fit the height and the terminal is wide enough
    let split = rows + 2 > area.height as usize && area.width >= 110;
    // the split point that balances the two columns
    let half = (1..HELP.len())
        .min_by_key(|&k| {
            let l: usize = HELP[..k].iter().map(|(_, x)| x.len() + 2).sum();
            let r: usize = HELP[k..].iter().map(|(_, x)| x.len() + 2).sum();
            l.max(r)
        })
        .unwrap_or(1);
    let (w, h) = if split {
        let left: usize = HELP[..half].iter().map(|(_, k)| k.len() + 2).sum();
        let right: usize = HELP[half..].iter().map(|(_, k)| k.len() + 2).sum();
        (area.width.min(150), left.max(right) as u16 + 3)
    } else {
        (76, rows as u16 + 2)
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
    if split {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(help_lines(&HELP[..half])), a);
        frame.render_widget(Paragraph::new(help_lines(&HELP[half..])), b);
    } else {
        frame.render_widget(Paragraph::new(help_lines(HELP)), inner);
    }
}
