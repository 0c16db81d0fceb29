//! Frame-time and input-latency benchmark of the TUI (a benchmark, not a test: it reports, it does not assert).
//!
//! ```sh
//! cargo run --release --example bench_tui                                   # demo store, synthetic 1M-row table
//! cargo run --release --example bench_tui -- --rows 200000                  # synthetic table size
//! cargo run --release --example bench_tui -- --store DIR --feature KEY      # a real store (DIR has metaxy.toml)
//! ```
//!
//! Runs the real state machine and draw code (ratatui `TestBackend`, 200x50 cells) with a small runtime of its
//! own: commands returned by `update` run on a worker thread (the same `execute` the TUI runs on tokio blocking
//! tasks) and report back through a channel, drained before every key, so page fetches happen while the user
//! scrolls, as in the TUI. It reports:
//! - opening the Metadata tab of the feature (the first page, on the worker) and counting its rows;
//! - `draw` and `update` while paging down through the table (pages fetched on demand) and how often the
//!   cursor had to wait at the edge of the loaded rows;
//! - `draw` and `update` of cursor moves while every feature's status (increment) of the store is recomputed in a
//!   loop on another thread (the situation "input answered within one frame while an increment is computed");
//! - `draw` of the feature graph screen.
//!
//! Without `--store`, the Metadata table is a synthetic ROWS x 16 read held in memory (the path of stores
//! without an ordered scan); with a DuckDB store, pages are keyset reads from the store and the table is never
//! read whole.

// unwrap is allowed here: a benchmark on the demo store or a given one; a failure should abort loudly.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::versioning::resolve::ResolveOptions;
use metaxy_tui::engine::workspace::{OpenOptions, Workspace};
use metaxy_tui::tui::app::{LoadedPage, PageSource, PAGE_ROWS};
use metaxy_tui::tui::{draw, execute, update, App, Command, Job, JobResult, Msg, OpenRequest};
use polars::prelude::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn percentiles(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    (p(0.5), p(0.99), ms(*v.last().unwrap()))
}

fn report(name: &str, v: Vec<Duration>) {
    let n = v.len();
    let (p50, p99, max) = percentiles(v);
    println!("{name:<62} n={n:<5} p50 {p50:>8.3} ms   p99 {p99:>8.3} ms   max {max:>8.3} ms");
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// The benchmark's runtime: a worker thread running commands, results coming back on a channel.
struct Worker {
    to: mpsc::Sender<Command>,
    from: mpsc::Receiver<Msg>,
    ws: Arc<Workspace>,
}

impl Worker {
    fn new(ws: Arc<Workspace>) -> Self {
        let (to, rx) = mpsc::channel::<Command>();
        let (tx, from) = mpsc::channel::<Msg>();
        let wsc = ws.clone();
        std::thread::spawn(move || {
            let req = OpenRequest::default();
            for cmd in rx {
                if let Command::Task {
                    generation,
                    job: Job::Open,
                    ..
                } = cmd
                {
                    let _ = tx.send(Msg::Done {
                        generation,
                        result: JobResult::Opened {
                            result: Ok(wsc.clone()),
                        },
                    });
                    continue;
                }
                execute(&req, cmd, |m| tx.send(m).is_ok());
            }
        });
        Self { to, from, ws }
    }

    fn send(&self, cmds: Vec<Command>) {
        for c in cmds {
            let _ = self.to.send(c);
        }
    }

    /// Applies every result that has arrived (without waiting).
    fn drain(&self, app: &mut App) {
        while let Ok(m) = self.from.try_recv() {
            let cmds = update(app, m);
            self.send(cmds);
        }
    }

    /// Applies results until `done` holds.
    fn wait(&self, app: &mut App, done: impl Fn(&App) -> bool) {
        while !done(app) {
            let m = self.from.recv().expect("worker alive");
            let cmds = update(app, m);
            self.send(cmds);
        }
    }
}

fn table_of(app: &App) -> Option<&metaxy_tui::tui::app::PagedTable> {
    let e = app.selected_entry()?;
    match app.details.metadata.get(&e.key)? {
        metaxy_tui::tui::app::Load::Ready(Some(p)) => Some(p),
        _ => None,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let rows: usize = arg("--rows")
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let store = arg("--store");
    let ws = Arc::new(match &store {
        Some(dir) => Workspace::open(&OpenOptions {
            cwd: std::path::PathBuf::from(dir),
            ..OpenOptions::from_process()
        })
        .expect("store opens"),
        None => Workspace::open_demo(None).expect("demo store"),
    });
    let worker = Worker::new(ws.clone());
    let mut app = App::new("bench");
    // open the workspace; statuses are not waited for (they stream in while we measure)
    let cmds = app.start();
    let open = cmds
        .into_iter()
        .find(|c| matches!(c, Command::Task { job: Job::Open, .. }))
        .unwrap();
    let Command::Task {
        generation,
        job: Job::Open,
        ..
    } = open
    else {
        unreachable!()
    };
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Opened {
                result: Ok(worker.ws.clone()),
            },
        },
    );
    // statuses of a big store take long: keep only the first read, drop the status computation here
    let status_cmds: Vec<Command> = cmds
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::Task {
                    job: Job::ComputeStatuses { .. },
                    ..
                }
            )
        })
        .cloned()
        .collect();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();

    let feature = match (&store, arg("--feature")) {
        (_, Some(k)) => FeatureKey::parse(&k).expect("feature key"),
        (Some(_), None) => ws.graph.features.last().unwrap().spec.key.clone(),
        (None, None) => app.features.entries[0].key.clone(),
    };
    // select the feature (reads of the features passed on the way are dropped)
    while app.selected_entry().map(|e| &e.key) != Some(&feature) {
        let _ = update(&mut app, key(KeyCode::Down));
    }
    let generation = app.generation;
    let view = app.details.view_generation;
    let t0 = Instant::now();
    if store.is_some() {
        app.details.metadata.remove(&feature);
        app.details.read_in_flight = None;
        // re-enter the tab: the first page is read on the worker
        let cmds = update(&mut app, key(KeyCode::Char('2')));
        drop(cmds);
        let cmds = update(&mut app, key(KeyCode::Char('1')));
        worker.send(cmds);
        worker.wait(&mut app, |a| table_of(a).is_some());
        term.draw(|f| draw(f, &app)).unwrap();
        println!(
            "open the Metadata tab of {feature} (first page of {PAGE_ROWS} rows read, rendered, drawn): {:.1} ms",
            t0.elapsed().as_secs_f64() * 1000.0
        );
        worker.wait(&mut app, |a| table_of(a).is_some_and(|p| p.total.is_some()));
        println!(
            "count its rows in the background ({} rows): {:.1} ms after opening",
            table_of(&app).unwrap().total.unwrap(),
            t0.elapsed().as_secs_f64() * 1000.0
        );
    } else {
        // a synthetic ROWS x 16 read, held in memory
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
        let df = Arc::new(DataFrame::new(rows, cols).unwrap());
        let ids = vec!["sample_uid".to_string()];
        let t0 = Instant::now();
        let first = df.slice(0, PAGE_ROWS);
        let page = LoadedPage {
            table: metaxy_tui::tui::view::frame_table(&first, &ids).unwrap(),
            ids: first.select(["sample_uid"]).unwrap(),
            at_start: true,
            at_end: rows <= PAGE_ROWS,
            source: Some(PageSource::Memory(df.clone())),
            total: Some(rows),
            start: Some(0),
        };
        let cmds = update(
            &mut app,
            Msg::Done {
                generation,
                result: JobResult::Metadata {
                    key: feature.clone(),
                    result: Ok(Some(Box::new(page))),
                    view,
                },
            },
        );
        worker.send(cmds);
        term.draw(|f| draw(f, &app)).unwrap();
        println!(
            "show the first page of a {rows}-row read held in memory: {:.1} ms",
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
    bench_paging(&worker, &mut app, &mut term);

    bench_under_load(&ws, &worker, &mut app, &mut term, status_cmds);
}

/// Pages down through the open Metadata table (pages fetched on the worker meanwhile), then jumps to the last
/// row; prints the frame and input times.
fn bench_paging(worker: &Worker, app: &mut App, term: &mut Terminal<TestBackend>) {
    let total = table_of(app).unwrap().table.total_rows;
    let _ = update(app, key(KeyCode::Enter));
    term.draw(|f| draw(f, app)).unwrap();

    // page down through the table, pages fetched on the worker meanwhile
    let mut frames = vec![];
    let mut inputs = vec![];
    let mut waits = 0usize;
    let presses = 1_500usize;
    let t_scroll = Instant::now();
    for _ in 0..presses {
        worker.drain(app);
        let t = Instant::now();
        let cmds = update(app, key(KeyCode::PageDown));
        inputs.push(t.elapsed());
        worker.send(cmds);
        let t = Instant::now();
        term.draw(|f| draw(f, app)).unwrap();
        frames.push(t.elapsed());
        let p = table_of(app).unwrap();
        if !p.at_end && app.details.nav[0].cursor + 1 >= p.table.end() {
            waits += 1;
            // a user would see the cursor stop at the last loaded row until the page arrives
            worker.wait(app, |a| {
                table_of(a).is_some_and(|p| {
                    p.fetching.is_none() || a.details.nav[0].cursor + 1 < p.table.end()
                })
            });
        }
        // a fast typist: ~60 page-downs per second
        std::thread::sleep(Duration::from_millis(16));
    }
    let scrolled = app.details.nav[0].cursor;
    report(
        &format!("draw, paging down a {total}-row Metadata table"),
        frames,
    );
    report("update, page down (fetches on the worker)", inputs);
    println!(
        "  scrolled {scrolled} rows in {:.1} s; waited for a page at the edge {waits} time(s) of {presses}",
        t_scroll.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cmds = update(app, key(KeyCode::Char('G')));
    worker.send(cmds);
    worker.wait(app, |a| {
        table_of(a).is_some_and(|p| p.at_end && p.fetching.is_none())
    });
    term.draw(|f| draw(f, app)).unwrap();
    println!(
        "G (jump to the last row, last page fetched): {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

/// Moves the cursor while feature statuses are recomputed on another thread, then draws the feature graph
/// screen; prints the frame and input times.
fn bench_under_load(
    ws: &Arc<Workspace>,
    worker: &Worker,
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    status_cmds: Vec<Command>,
) {
    // while statuses (increments) are recomputed on another thread
    let stop = Arc::new(AtomicBool::new(false));
    let bg = {
        let (ws, stop) = (ws.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for f in &ws.graph.features {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let _ = ws.status(&f.spec.key, &ResolveOptions::default());
                    n += 1;
                }
            }
            n
        })
    };
    drop(status_cmds);
    let mut frames = vec![];
    let mut inputs = vec![];
    let started = Instant::now();
    let mut i = 0;
    while i < 400 || started.elapsed() < Duration::from_secs(3) {
        worker.drain(app);
        let t = Instant::now();
        let cmds = update(
            app,
            key(if i % 2 == 0 {
                KeyCode::Up
            } else {
                KeyCode::Down
            }),
        );
        inputs.push(t.elapsed());
        worker.send(cmds);
        let t = Instant::now();
        term.draw(|f| draw(f, app)).unwrap();
        frames.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(5));
        i += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let statuses = bg.join().unwrap();
    report(
        "draw, Metadata table, increments computed meanwhile",
        frames,
    );
    report("update, cursor move, increments computed meanwhile", inputs);
    println!("  (background: {statuses} feature status(es) computed during the measurement)");
    let _ = update(app, key(KeyCode::Char('v')));
    let mut frames = vec![];
    for _ in 0..200 {
        let t = Instant::now();
        term.draw(|f| draw(f, app)).unwrap();
        frames.push(t.elapsed());
    }
    report("draw, feature graph screen", frames);
}
