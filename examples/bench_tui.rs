//! Frame-time and input-latency benchmark of the TUI (a benchmark, not a test: it reports, it does not assert).
//!
//! ```sh
//! cargo run --release --example bench_tui [ROWS]     # ROWS of the synthetic table (default 20000)
//! ```
//!
//! Measures, on the real state machine and draw code (ratatui `TestBackend`, 200x50 cells):
//! - `draw` of the Metadata tab showing a feature table of ROWS rows x 16 columns, scrolled to the middle;
//! - `update` (input latency) of a cursor move on that table, and of a feature switch;
//! - `draw` and `update` while a background thread recomputes every feature's status of the demo store in a loop
//!   (the situation "input answered within one frame while an increment is computed").
//!
//! The TUI keeps at most `view::MAX_TABLE_ROWS` rendered rows per table, so frame time does not grow with the size
//! of the feature table; what grows with it is the time to read it (see the bench/ harness and the README).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use metaxy_tui::engine::resolve::ResolveOptions;
use metaxy_tui::engine::workspace::Workspace;
use metaxy_tui::tui::{draw, update, App, Command, Msg};
use polars::prelude::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Runs commands synchronously until idle, opening `ws` for every `Open`.
fn pump(app: &mut App, cmds: Vec<Command>, ws: &Arc<Workspace>) {
    metaxy_tui::tui::run_to_idle(app, cmds, ws)
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    (p(0.5), p(0.99), ms(*v.last().unwrap()))
}

fn report(name: &str, v: Vec<Duration>) {
    let n = v.len();
    let (p50, p99, max) = percentiles(v);
    println!("{name:<58} n={n:<5} p50 {p50:>7.3} ms   p99 {p99:>7.3} ms   max {max:>7.3} ms");
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let ws = Arc::new(Workspace::open_demo(None).expect("demo store"));
    let mut app = App::new("bench");
    let cmds = app.start();
    pump(&mut app, cmds, &ws);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();

    // a synthetic ROWS x 16 table on the selected feature's Metadata tab
    let mut cols: Vec<Column> = vec![Column::new(
        "sample_uid".into(),
        (0..rows).map(|i| format!("s{i:09}")).collect::<Vec<_>>(),
    )];
    for c in 0..15 {
        cols.push(Column::new(
            format!("column_{c}").into(),
            (0..rows)
                .map(|i| format!("value-{c}-{}", i * 7919 % 100_003))
                .collect::<Vec<_>>(),
        ));
    }
    let df = DataFrame::new(rows, cols).unwrap();
    let t0 = Instant::now();
    let table = metaxy_tui::tui::view::frame_table(&df, &["sample_uid".to_string()]).unwrap();
    println!(
        "render a {rows}-row table to cells: {:.1} ms (done once, off the UI thread, when a read finishes)",
        t0.elapsed().as_secs_f64() * 1000.0
    );
    let key0 = app.features[0].key.clone();
    let generation = app.generation;
    let view = app.view_generation;
    update(
        &mut app,
        Msg::Metadata {
            generation,
            key: key0,
            result: Ok(Some(table)),
            view,
        },
    );
    update(&mut app, key(KeyCode::Enter));
    term.draw(|f| draw(f, &app)).unwrap();
    for _ in 0..(rows / 2) / 40 {
        update(&mut app, key(KeyCode::PageDown));
    }

    let mut frames = vec![];
    let mut inputs = vec![];
    for i in 0..400 {
        let t = Instant::now();
        update(
            &mut app,
            key(if i % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            }),
        );
        inputs.push(t.elapsed());
        let t = Instant::now();
        term.draw(|f| draw(f, &app)).unwrap();
        frames.push(t.elapsed());
    }
    report(&format!("draw, Metadata tab of a {rows}-row table"), frames);
    report("update, cursor move", inputs);

    // while statuses are recomputed on another thread
    let stop = Arc::new(AtomicBool::new(false));
    let bg = {
        let (ws, stop) = (ws.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for f in &ws.graph.features {
                    let _ = ws.status(&f.spec.key, &ResolveOptions::default());
                }
                n += 1;
            }
            n
        })
    };
    let mut frames = vec![];
    let mut inputs = vec![];
    update(&mut app, key(KeyCode::Esc));
    for i in 0..400 {
        let t = Instant::now();
        let cmds = update(
            &mut app,
            key(if i % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            }),
        );
        inputs.push(t.elapsed());
        drop(cmds); // a read of the newly selected feature would run on a task; not awaited here
        let t = Instant::now();
        term.draw(|f| draw(f, &app)).unwrap();
        frames.push(t.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let passes = bg.join().unwrap();
    report("draw, feature list, statuses computed meanwhile", frames);
    report(
        "update, feature switch, statuses computed meanwhile",
        inputs,
    );
    println!("(background: {passes} full status passes of the demo store during the measurement)");
    let _ = update(&mut app, key(KeyCode::Char('v')));
    let mut frames = vec![];
    for _ in 0..200 {
        let t = Instant::now();
        term.draw(|f| draw(f, &app)).unwrap();
        frames.push(t.elapsed());
    }
    report("draw, feature graph screen", frames);
}
