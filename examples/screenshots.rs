//! Renders the main TUI screens into `screenshots/*.png` from the real UI: the app state machine is driven with
//! key messages (background work run synchronously, exactly as the tests do), `draw` paints a ratatui
//! `TestBackend` buffer, the buffer becomes an SVG (one monospace glyph per cell, DejaVu Sans Mono) and resvg
//! rasterises it.
//!
//! ```sh
//! cargo run --example screenshots            # writes screenshots/*.png (needs fonts-dejavu-core)
//! cargo run --example screenshots -- lookup  # only the named ones
//! ```

// unwrap is allowed here: a developer tool that renders fixed demo screens: a failure should abort loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use metaxy_tui::tui::{draw, update, App, Command, Msg};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

const CELL_W: f32 = 8.43;
const CELL_H: f32 = 17.0;
const FONT_SIZE: f32 = 14.0;

fn hex(c: Color, default: &str) -> String {
    let named = |s: &str| s.to_string();
    match c {
        Color::Reset => named(default),
        Color::Black => named("#1e1e1e"),
        Color::Red => named("#e06c75"),
        Color::Green => named("#98c379"),
        Color::Yellow => named("#e5c07b"),
        Color::Blue => named("#61afef"),
        Color::Magenta => named("#c678dd"),
        Color::Cyan => named("#56b6c2"),
        Color::Gray => named("#abb2bf"),
        Color::DarkGray => named("#5c6370"),
        Color::LightRed => named("#ff7b86"),
        Color::LightGreen => named("#b5e890"),
        Color::LightYellow => named("#ffd68a"),
        Color::LightBlue => named("#82c4ff"),
        Color::LightMagenta => named("#e09aff"),
        Color::LightCyan => named("#7fdce6"),
        Color::White => named("#ffffff"),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => format!("#{0:02x}{0:02x}{0:02x}", i),
    }
}

fn escape(c: &str) -> String {
    c.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The buffer as an SVG document.
fn to_svg(buf: &Buffer) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\"><rect width=\"100%\" height=\"100%\" fill=\"#1e1e1e\"/>",
        (w as f32 * CELL_W).ceil(),
        (h as f32 * CELL_H).ceil()
    );
    for y in 0..h {
        for x in 0..w {
            let cell = &buf[(x, y)];
            let mut fg = hex(cell.fg, "#d4d4d4");
            let mut bg = match cell.bg {
                Color::Reset => None,
                c => Some(hex(c, "#1e1e1e")),
            };
            if cell.modifier.contains(Modifier::REVERSED) {
                let b = bg.clone().unwrap_or_else(|| "#1e1e1e".into());
                bg = Some(fg.clone());
                fg = b;
            }
            let (px, py) = (x as f32 * CELL_W, y as f32 * CELL_H);
            if let Some(bg) = bg {
                out.push_str(&format!(
                    "<rect x=\"{px:.2}\" y=\"{py:.2}\" width=\"{:.2}\" height=\"{CELL_H}\" fill=\"{bg}\"/>",
                    CELL_W + 0.3
                ));
            }
            let sym = cell.symbol();
            if sym.trim().is_empty() {
                continue;
            }
            let weight = if cell.modifier.contains(Modifier::BOLD) {
                "bold"
            } else {
                "normal"
            };
            let deco = if cell.modifier.contains(Modifier::UNDERLINED) {
                " text-decoration=\"underline\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<text x=\"{px:.2}\" y=\"{:.2}\" fill=\"{fg}\" font-family=\"DejaVu Sans Mono\" font-size=\"{FONT_SIZE}\" font-weight=\"{weight}\"{deco}>{}</text>",
                py + CELL_H * 0.78,
                escape(sym)
            ));
        }
    }
    out.push_str("</svg>");
    out
}

fn save_png(buf: &Buffer, path: &Path) {
    let svg = to_svg(buf);
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(&svg, &opt).expect("valid svg");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(path).expect("write png");
    println!("wrote {}", path.display());
}

/// Runs commands synchronously until idle, opening `ws` for every `Open`.
fn pump(app: &mut App, cmds: Vec<Command>, ws: &Arc<Workspace>) {
    metaxy_tui::tui::run_to_idle(app, cmds, ws)
}

fn keys(app: &mut App, ws: &Arc<Workspace>, keys: &[KeyCode]) {
    for k in keys {
        let cmds = update(app, Msg::Key(KeyEvent::new(*k, KeyModifiers::NONE)));
        pump(app, cmds, ws);
    }
}

fn shot(app: &App, name: &str, out: &Path) {
    let only: Vec<String> = std::env::args().skip(1).collect();
    if !only.is_empty() && !only.iter().any(|n| n == name) {
        return;
    }
    let mut t = Terminal::new(TestBackend::new(150, 40)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    save_png(t.backend().buffer(), &out.join(format!("{name}.png")));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

fn fixture(scenario: &str, tmp: &Path) -> Arc<Workspace> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/duckdb")
        .join(scenario);
    let dir = tmp.join(scenario);
    copy_tree(&src, &dir);
    let mut opts = OpenOptions {
        cwd: dir.clone(),
        ..Default::default()
    };
    opts.env
        .insert("METAXY_FIXTURE_DIR".into(), dir.display().to_string());
    Arc::new(Workspace::open(&opts).expect("fixture opens"))
}

fn main() {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    // a fixed name (not the process id): the path is drawn in the store bar, and screenshots must regenerate
    // byte-identical
    let tmp = std::env::temp_dir().join("metaxy-tui-screenshots");
    let _ = std::fs::remove_dir_all(&tmp);
    use KeyCode::*;

    // the demo store: feature list, stale tab with causes, graph
    let ws = Arc::new(Workspace::open_demo(None).expect("demo store opens"));
    let mut app = App::new("embedded demo store");
    let cmds = app.start();
    pump(&mut app, cmds, &ws);
    shot(&app, "tui", &out);
    keys(&mut app, &ws, &[Char('j'), Char('3'), Enter]);
    shot(&app, "stale_causes", &out);
    keys(&mut app, &ws, &[Esc, Char('v')]);
    shot(&app, "graph", &out);
    // the SQL console (`Q`): the increment of example/crop next to its stored rows
    keys(&mut app, &ws, &[Esc, Char('Q')]);
    let ctrl_l = KeyEvent::new(Char('l'), KeyModifiers::CONTROL);
    let cmds = update(&mut app, Msg::Key(ctrl_l));
    pump(&mut app, cmds, &ws);
    let query = "SELECT i.kind, i.sample_uid, c.metaxy_provenance AS stored, i.metaxy_provenance AS expected\n\
                 FROM increment.\"example/crop\" i LEFT JOIN \"example/crop\" c USING (sample_uid)\n\
                 ORDER BY i.kind, i.sample_uid";
    for c in query.chars() {
        let k = if c == '\n' { Enter } else { Char(c) };
        keys(&mut app, &ws, &[k]);
    }
    keys(&mut app, &ws, &[F(5)]);
    shot(&app, "sql_console", &out);
    // the lookup screen: L on the first stale sample of example/crop, the crop line selected
    keys(
        &mut app,
        &ws,
        &[Esc, Char('3'), Enter, Char('L'), Char('j')],
    );
    shot(&app, "lookup", &out);

    // a store after a code version bump: history diff, rebase preview, delete preview
    let ws = fixture("s04_version_bump", &tmp);
    let mut app = App::new("s04_version_bump");
    let cmds = app.start();
    pump(&mut app, cmds, &ws);
    keys(&mut app, &ws, &[Char('H')]);
    shot(&app, "history", &out);
    keys(&mut app, &ws, &[Esc, Char('j'), Char('R'), Enter]);
    shot(&app, "rebase_preview", &out);
    keys(&mut app, &ws, &[Esc, Char('j'), Char('j'), Char('d')]);
    for c in "sample_uid IN ('s000002', 's000003')".chars() {
        keys(&mut app, &ws, &[Char(c)]);
    }
    keys(&mut app, &ws, &[Enter]);
    shot(&app, "delete_preview", &out);
    let _ = std::fs::remove_dir_all(&tmp);
}
