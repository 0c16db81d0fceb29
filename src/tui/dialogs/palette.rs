//! The command palette (`:`): a fuzzy-filtered list of commands, each run by the key that does the same.

#[allow(unused_imports)]
use crate::tui::prelude::*;

/// The command palette (`:`): a fuzzy-filtered list of commands, run by the key that does the same.
pub struct Palette {
    /// What is typed.
    pub input: TextArea<'static>,
    /// Cursor among the matches.
    pub cursor: usize,
}
/// Commands of the palette: `(name, what it does, key it sends)`.
pub const PALETTE: &[(&str, &str, char)] = &[
    ("graph", "draw the feature graph", 'v'),
    ("history", "pushed versions and graph diffs", 'H'),
    ("stores", "every configured store; open another", 'S'),
    ("sql", "SQL console over the store (features as views)", 'Q'),
    ("reload", "re-open the store and recompute statuses", 'r'),
    ("live refresh", "toggle: reload when the store changes", 'a'),
    (
        "lookup",
        "the cursor row's sample in every feature; or type: lookup col=value",
        'L',
    ),
    ("delete", "delete rows of the selected feature", 'd'),
    ("drop table", "drop the selected feature's whole table", 'X'),
    (
        "rebase",
        "rebase the selected feature from an older version",
        'R',
    ),
    ("write", "write rows from a file", 'w'),
    ("filter", "SQL filter of the Metadata tab", 'f'),
    ("export", "export the Metadata view", 'e'),
    (
        "toggle feature history",
        "Metadata tab: every feature version",
        'F',
    ),
    (
        "toggle sample history",
        "Metadata tab: every stored row per sample",
        'A',
    ),
    (
        "toggle soft-deleted",
        "Metadata tab: soft-deleted rows",
        'D',
    ),
    ("sort", "Metadata tab: sort by the next column", 'o'),
    ("columns", "Metadata tab: show / hide columns", 's'),
    ("wider columns", "tables: widen every column", '>'),
    ("narrower columns", "tables: narrow every column", '<'),
    ("tab metadata", "the default read", '1'),
    ("tab new", "new samples", '2'),
    ("tab stale", "stale samples and why", '3'),
    ("tab orphaned", "orphaned samples", '4'),
    ("tab detail", "the feature's definition", '5'),
    ("search features", "fuzzy filter of the feature list", '/'),
    ("help", "every key", '?'),
    ("quit", "leave metaxy-tui", 'q'),
];
/// Palette entries matching `query` (fuzzy, best first; all in order for an empty query).
pub fn palette_matches(query: &str) -> Vec<usize> {
    if query.is_empty() {
        return (0..PALETTE.len()).collect();
    }
    let m = SkimMatcherV2::default();
    let mut v: Vec<(i64, usize)> = PALETTE
        .iter()
        .enumerate()
        .filter_map(|(i, (name, desc, _))| {
            let a = m.fuzzy_match(name, query);
            let b = m.fuzzy_match(desc, query).map(|s| s / 2);
            a.max(b).map(|s| (s, i))
        })
        .collect();
    v.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
    v.into_iter().map(|(_, i)| i).collect()
}
pub(crate) fn draw_palette(frame: &mut Frame, area: Rect, p: &crate::tui::app::Palette) {
    use crate::tui::app::{palette_matches, PALETTE};
    let matches = palette_matches(&crate::tui::dialogs::input_text(&p.input));
    let h = (matches.len() as u16 + 4).min(area.height).max(3);
    let r = Rect {
        y: area.y + 1,
        height: h,
        ..centered(area, 70, h)
    };
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(accent()))
        .title(Line::from(" Command ").bold())
        .title_bottom(
            Line::from(" ↑↓ pick · Enter run · Esc close ")
                .fg(muted())
                .right_aligned(),
        );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    if inner.height == 0 {
        return;
    }
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let [c, f] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
    frame.render_widget(Paragraph::new(": ").fg(Color::Yellow).bold(), c);
    frame.render_widget(&p.input, f);
    let cursor = p.cursor.min(matches.len().saturating_sub(1));
    let lines: Vec<Line> = matches
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let (name, desc, k) = PALETTE[i];
            let l = Line::from(vec![
                Span::raw(format!(" {name:<24}")),
                Span::raw(format!("{desc:<44}")).fg(muted()),
                Span::raw(bound_keys(&k.to_string())).fg(Color::Yellow),
            ]);
            if n == cursor {
                l.bold().bg(Color::Rgb(40, 60, 80))
            } else {
                l
            }
        })
        .collect();
    if lines.is_empty() {
        frame.render_widget(Paragraph::new(" no command matches").fg(muted()), list);
    } else {
        frame.render_widget(Paragraph::new(lines), list);
    }
}

impl App {
    pub(crate) fn on_palette_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(p) = self.overlay.palette.as_mut() else {
            return vec![];
        };
        let matches = palette_matches(&crate::tui::dialogs::input_text(&p.input));
        match key.code {
            KeyCode::Esc => {
                self.overlay.palette = None;
                vec![]
            }
            KeyCode::Down => {
                p.cursor = (p.cursor + 1).min(matches.len().saturating_sub(1));
                vec![]
            }
            KeyCode::Up => {
                p.cursor = p.cursor.saturating_sub(1);
                vec![]
            }
            KeyCode::Enter => {
                let typed = crate::tui::dialogs::input_text(&p.input);
                // `lookup sample_uid=s1 ...`: look those ids up
                if let Some(rest) = typed.trim().strip_prefix("lookup ") {
                    if rest.contains('=') {
                        self.overlay.palette = None;
                        return self.lookup_typed(rest);
                    }
                }
                let chosen = matches
                    .get(p.cursor.min(matches.len().saturating_sub(1)))
                    .copied();
                self.overlay.palette = None;
                match chosen {
                    Some(i) => self.on_builtin_key(KeyEvent::new(
                        KeyCode::Char(PALETTE[i].2),
                        KeyModifiers::NONE,
                    )),
                    None => vec![],
                }
            }
            _ => {
                crate::tui::dialogs::edit_line(&mut p.input, key);
                p.cursor = 0;
                vec![]
            }
        }
    }
}
