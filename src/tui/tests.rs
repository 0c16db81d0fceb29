//! Snapshot and behaviour tests of the TUI: `update` is driven with messages (background work is run
//! synchronously through [`execute`], the same code the runtime runs on blocking tasks), `draw` renders into a
//! fixed-size `TestBackend`, and the buffer text is compared with insta snapshots.

use std::sync::{Arc, OnceLock};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

use crate::engine::keys::FeatureKey;
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::workspace::{OpenOptions, Workspace};
use crate::tui::app::{update, App, Focus, Load, Tab, WorkspaceState};
use crate::tui::msg::{Command, JobResult, Msg};
use crate::tui::tasks::Job;
use crate::tui::view::{by_field_value, stale_table, CellKind, StatusReport};
use crate::tui::widgets::table::fit;
use crate::tui::{draw, execute, OpenRequest};

/// The demo workspace, opened once (`open_demo` writes its cache file non-atomically across threads).
fn demo() -> Arc<Workspace> {
    static WS: OnceLock<Arc<Workspace>> = OnceLock::new();
    WS.get_or_init(|| Arc::new(Workspace::open_demo(None).expect("demo store opens")))
        .clone()
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    t.backend().to_string()
}

fn render_terminal(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    t
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

/// Runs commands synchronously (as the runtime would on blocking tasks), feeding results back, until idle.
fn pump(app: &mut App, cmds: Vec<Command>) {
    pump_with(app, cmds, demo())
}

/// [`pump`] on workspace `ws` (opened by the test) instead of the demo store.
fn pump_with(app: &mut App, cmds: Vec<Command>, ws: Arc<Workspace>) {
    crate::tui::run_to_idle(app, cmds, &ws)
}

/// An app on the demo store with every status and the first feature's read loaded.
fn demo_app() -> App {
    let mut app = App::new("embedded demo store (no metaxy.toml found)");
    let cmds = app.start();
    pump(&mut app, cmds);
    app
}

fn feature_index(app: &App, key: &str) -> usize {
    app.features
        .entries
        .iter()
        .position(|f| f.key.to_string() == key)
        .unwrap()
}

fn select(app: &mut App, key: &str) {
    let i = feature_index(app, key);
    let cmds = update(app, ch('g'));
    pump(app, cmds);
    for _ in 0..i {
        let cmds = update(app, ch('j'));
        pump(app, cmds);
    }
    assert_eq!(app.features.selected, i);
}

#[test]
fn loading_state_shows_a_spinner() {
    let mut app = App::new("metaxy.toml discovered from /work/project");
    let cmds = app.start();
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            generation: 1,
            job: Job::Open,
            ..
        }]
    ));
    let out = render(&app, 80, 12);
    assert!(out.contains("⠋ Opening the metadata store…"), "{out}");
    insta::assert_snapshot!("loading", out);
    update(&mut app, Msg::Tick);
    assert!(render(&app, 80, 12).contains("⠙ Opening"));
}

#[test]
fn feature_list_streams_statuses() {
    let ws = demo();
    let mut app = App::new("embedded demo store (no metaxy.toml found)");
    let _ = app.start();
    let generation = app.generation;
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Opened {
                result: Ok(ws.clone()),
            },
        },
    );
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::Task {
            job: Job::ComputeStatuses { .. },
            ..
        }
    )));
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::Task {
            job: Job::ReadMetadata { .. },
            ..
        }
    )));
    // feed the first three statuses, computed synchronously, as the status task would
    for f in ws.graph.features.iter().take(3) {
        let status = ws.status(&f.spec.key, &ResolveOptions::default());
        update(
            &mut app,
            Msg::Done {
                generation,
                result: JobResult::Status {
                    report: Box::new(StatusReport::build(status)),
                },
            },
        );
    }
    let out = render(&app, 120, 30);
    assert!(out.contains("○ example/video"), "{out}");
    assert!(out.contains("⚠ example/crop"), "{out}");
    assert!(out.contains("5 new · 10 stale · 5 orphaned"), "{out}");
    assert!(out.contains("⠋ example/stt"), "{out}");
    assert!(out.contains("statuses 3/7"), "{out}");
    insta::assert_snapshot!("statuses_partial", out);
}

#[test]
fn feature_list_with_all_statuses_on_the_demo_store() {
    let app = demo_app();
    assert_eq!(app.statuses_done(), 7);
    let out = render(&app, 120, 30);
    for (k, s) in [
        ("○ example/video", "root"),
        ("⚠ example/crop", "5 new · 10 stale · 5 orphaned"),
        ("✓ example/face_detection", "up to date"),
        ("⚠ example/stt", "11 new · 3 stale · 3 orphaned"),
        ("⚠ example/chunk", "5 new · 10 stale · 5 orphaned"),
        ("✓ example/chunk_summary", "up to date"),
        ("✓ example/av_report", "up to date"),
    ] {
        // items take two lines (key, then status) when the list is too narrow for one
        let lines: Vec<&str> = out.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.contains(k))
            .unwrap_or_else(|| panic!("{k} missing:\n{out}"));
        assert!(
            lines[i].contains(s) || lines[i + 1].contains(s),
            "{k}: {}",
            lines[i]
        );
    }
    assert!(
        out.contains("DEMO store (embedded example, no metaxy.toml found)"),
        "{out}"
    );
    assert!(out.contains("hash xxhash32"), "{out}");
    assert!(out.contains("project example_overview @ "), "{out}");
    insta::assert_snapshot!("demo_statuses", out);
    // wide enough: one line per feature, status next to the key
    let wide = render(&app, 160, 24);
    let line = wide.lines().find(|l| l.contains("⚠ example/crop")).unwrap();
    assert!(line.contains("5 new · 10 stale · 5 orphaned"), "{wide}");
    insta::assert_snapshot!("demo_statuses_wide", wide);

    // colors: root blue, needs update yellow, up to date green
    let t = render_terminal(&app, 120, 30);
    let buf = t.backend().buffer();
    let color_of = |needle: &str| {
        let y = out.lines().position(|l| l.contains(needle)).unwrap() as u16;
        let x = (0..120)
            .find(|&x| ["○", "⚠", "✓"].contains(&buf[(x, y)].symbol()))
            .unwrap();
        buf[(x, y)].fg
    };
    assert_eq!(color_of("○ example/video"), Color::Blue);
    assert_eq!(color_of("⚠ example/crop"), Color::Yellow);
    assert_eq!(color_of("✓ example/face_detection"), Color::Green);
}

#[test]
fn metadata_tab_shows_the_default_read() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let crop = FeatureKey::parse("example/crop").unwrap();
    assert!(matches!(
        app.details.metadata.get(&crop),
        Some(Load::Ready(Some(_)))
    ));
    let out = render(&app, 120, 30);
    assert!(out.contains("example/crop · Metadata"), "{out}");
    assert!(out.contains("rows 1-"), "{out}");
    assert!(out.contains(" of 50 "), "{out}");
    assert!(out.contains("sample_uid"), "{out}");
    assert!(out.contains("s000001"), "{out}");
    insta::assert_snapshot!("metadata_crop", out);

    // focus the table, move down a page and scroll right
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.features.focus, Focus::Details);
    let _ = update(&mut app, key(KeyCode::PageDown));
    let _ = update(&mut app, ch('l'));
    let out = render(&app, 120, 30);
    insta::assert_snapshot!("metadata_crop_scrolled", out);
    assert!(app.details.nav[0].cursor > 0);
    assert_eq!(app.details.nav[0].col, 1);
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.features.focus, Focus::List);
}

#[test]
fn stale_tab_shows_per_field_provenance_diffs() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('3'));
    assert_eq!(app.details.tab, Tab::Stale);
    let out = render(&app, 120, 30);
    assert!(out.contains("3 Stale (10)"), "{out}");
    assert!(out.contains("2 New (5)"), "{out}");
    assert!(out.contains("4 Orphaned (5)"), "{out}");
    // audio changed for s000010, frames for s000011 (scenario.json "mutation")
    let l10 = out
        .lines()
        .find(|l| l.contains("s000010"))
        .expect("s000010 listed");
    let l11 = out
        .lines()
        .find(|l| l.contains("s000011"))
        .expect("s000011 listed");
    assert_eq!(
        l10.matches('→').count(),
        2,
        "audio and metaxy_provenance changed: {l10}"
    );
    assert_eq!(
        l11.matches('→').count(),
        2,
        "frames and metaxy_provenance changed: {l11}"
    );
    assert!(
        l10.find('→').unwrap() < l11.find('→').unwrap(),
        "audio column before frames: {l10} / {l11}"
    );
    insta::assert_snapshot!("stale_crop", out);

    // changed cells highlighted yellow, unchanged dimmed
    let t = render_terminal(&app, 120, 30);
    let buf = t.backend().buffer();
    let y = out.lines().position(|l| l.contains("s000010")).unwrap() as u16;
    let arrow_x = (0..120).find(|&x| buf[(x, y)].symbol() == "→").unwrap();
    assert_eq!(buf[(arrow_x, y)].fg, Color::Yellow);
    let row = &app.current_table().unwrap().rows[0];
    assert_eq!(row[0].text, "s000010");
    assert_eq!(row[1].kind, CellKind::Changed);
    assert_eq!(row[2].kind, CellKind::Unchanged);
}

#[test]
fn stale_table_diffs_against_stale_previous() {
    let ws = demo();
    let key = FeatureKey::parse("example/crop").unwrap();
    let inc = ws.increment(&key, &ResolveOptions::default()).unwrap();
    let t = stale_table(&inc).unwrap();
    assert_eq!(
        t.headers,
        ["sample_uid", "audio", "frames", "metaxy_provenance"]
    );
    assert_eq!(t.total_rows, 10);
    assert_eq!(t.frozen, 1);
    let ids: Vec<&str> = t.rows.iter().map(|r| r[0].text.as_str()).collect();
    assert_eq!(
        ids,
        [
            "s000010", "s000011", "s000014", "s000016", "s000024", "s000028", "s000029", "s000031",
            "s000035", "s000048"
        ]
    );
    let audio_changed = ["s000010", "s000014", "s000024", "s000031", "s000035"];
    for r in &t.rows {
        let audio = audio_changed.contains(&r[0].text.as_str());
        assert_eq!(r[1].kind == CellKind::Changed, audio, "{r:?}");
        assert_eq!(r[2].kind == CellKind::Changed, !audio, "{r:?}");
        assert_eq!(r[3].kind, CellKind::Changed);
        let (old, new) = r[3].text.split_once(" → ").unwrap();
        assert_ne!(old, new);
    }
}

#[test]
fn increment_tabs_of_a_root_feature_explain_samples() {
    let mut app = demo_app();
    select(&mut app, "example/video");
    let _ = update(&mut app, ch('2'));
    let out = render(&app, 120, 30);
    assert!(out.contains("root feature"), "{out}");
    assert!(
        out.contains("metaxy-tui metadata increment example/video --samples FILE"),
        "{out}"
    );
    insta::assert_snapshot!("root_new_tab", out);
}

#[test]
fn new_and_orphaned_tabs_list_samples() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('2'));
    let out = render(&app, 120, 30);
    for id in ["s000050", "s000051", "s000052", "s000053", "s000054"] {
        assert!(out.contains(id), "{id}: {out}");
    }
    let _ = update(&mut app, key(KeyCode::Tab));
    let _ = update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.details.tab, Tab::Orphaned);
    let out = render(&app, 120, 30);
    for id in ["s000000", "s000008", "s000030", "s000038", "s000042"] {
        assert!(out.contains(id), "{id}: {out}");
    }
    insta::assert_snapshot!("orphaned_crop", out);
    let _ = update(&mut app, key(KeyCode::BackTab));
    assert_eq!(app.details.tab, Tab::Stale);
    // up-to-date feature: empty increment tab
    select(&mut app, "example/face_detection");
    let out = render(&app, 120, 30);
    assert!(out.contains("No stale samples"), "{out}");
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('?'));
    assert!(app.overlay.help);
    let out = render(&app, 120, 30);
    for (_, keys) in crate::tui::HELP {
        for (k, _) in *keys {
            assert!(out.contains(k), "{k} missing from help:\n{out}");
        }
    }
    insta::assert_snapshot!("help", out);
    // movement keys do nothing while help is open; Esc closes it
    let _ = update(&mut app, ch('j'));
    assert_eq!(app.features.selected, 0);
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(!app.overlay.help);
}

#[test]
fn error_screen_when_the_store_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metaxy.toml"),
        "project = \"p\"\nstore = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.dev.config]\ndatabase = \"store/metadata.duckdb\"\n",
    )
    .unwrap();
    let opts = OpenOptions {
        cwd: dir.path().to_path_buf(),
        ..Default::default()
    };
    let req = OpenRequest { opts, demo: false };
    let mut app = App::new("metaxy.toml discovered from <tmp>");
    let cmds = app.start();
    let mut msgs = vec![];
    for c in cmds {
        execute(&req, c, |m| {
            msgs.push(m);
            true
        });
    }
    let tmp = dir.path().display().to_string();
    for m in msgs {
        let m = match m {
            Msg::Done {
                generation,
                result: JobResult::Opened { result: Err(e) },
            } => Msg::Done {
                generation,
                result: JobResult::Opened {
                    result: Err(e.replace(&tmp, "<tmp>")),
                },
            },
            Msg::Done {
                result: JobResult::Opened { result: Ok(_), .. },
                ..
            } => panic!("opening a missing store succeeded"),
            other => other,
        };
        let _ = update(&mut app, m);
    }
    assert!(matches!(app.ws, WorkspaceState::Failed(_)));
    let out = render(&app, 120, 30);
    assert!(out.contains("Cannot open the metadata store"), "{out}");
    assert!(out.contains("does not exist"), "{out}");
    insta::assert_snapshot!("error_missing_store", out);
    // keys other than r / q / ? are harmless; q quits
    for k in ['j', 'k', 'G', '3', 'l'] {
        let _ = update(&mut app, ch(k));
    }
    let _ = update(&mut app, key(KeyCode::Enter));
    assert!(!app.should_quit);
    let cmds = update(&mut app, ch('r'));
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            generation: 2,
            job: Job::Open,
            ..
        }]
    ));
    let _ = update(&mut app, ch('q'));
    assert!(app.should_quit);
}

#[test]
fn ctrl_c_quits() {
    let mut app = App::new("x");
    let _ = app.start();
    let _ = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(app.should_quit);
}

#[test]
fn reload_drops_results_of_older_generations_and_keeps_the_selection() {
    let mut app = demo_app();
    select(&mut app, "example/stt");
    let cmds = update(&mut app, ch('r'));
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            generation: 2,
            job: Job::Open,
            ..
        }]
    ));
    assert!(matches!(app.ws, WorkspaceState::Opening));
    assert!(app.features.entries.is_empty());
    // a late result of generation 1 is ignored
    let ws = demo();
    let late = ws.status(
        &FeatureKey::parse("example/crop").unwrap(),
        &ResolveOptions::default(),
    );
    let _ = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Status {
                report: Box::new(StatusReport::build(late)),
            },
        },
    );
    let _ = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Opened {
                result: Err("stale".into()),
            },
        },
    );
    assert!(matches!(app.ws, WorkspaceState::Opening));
    pump(&mut app, cmds);
    assert_eq!(
        app.features.entries[app.features.selected].key.to_string(),
        "example/stt"
    );
    assert_eq!(app.statuses_done(), 7);
}

#[test]
fn one_metadata_read_at_a_time_latest_selection_wins() {
    let ws = demo();
    let mut app = App::new("demo");
    let _ = app.start();
    let cmds = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Opened {
                result: Ok(ws.clone()),
            },
        },
    );
    let reads: Vec<_> = cmds
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::Task {
                    job: Job::ReadMetadata { .. },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(reads.len(), 1);
    // move twice while the first read is running: no new reads yet
    assert!(update(&mut app, ch('j')).is_empty());
    assert!(update(&mut app, ch('j')).is_empty());
    let out = render(&app, 120, 30);
    assert!(out.contains("⠋ Reading example/face_detection…"), "{out}");
    // first read completes -> the read of the now selected feature starts
    let video = FeatureKey::parse("example/video").unwrap();
    let cmds = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Metadata {
                key: video,
                result: Ok(None),
                view: 0,
            },
        },
    );
    match cmds.as_slice() {
        [Command::Task {
            job: Job::ReadMetadata { key, .. },
            ..
        }] => {
            assert_eq!(key.to_string(), "example/face_detection")
        }
        _ => panic!("expected one read"),
    }
    // switching to another tab does not read; a failed read is shown
    let fd = FeatureKey::parse("example/face_detection").unwrap();
    let cmds = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Metadata {
                key: fd,
                result: Err("boom: corrupt table".into()),
                view: 0,
            },
        },
    );
    assert!(cmds.is_empty());
    let out = render(&app, 120, 30);
    assert!(
        out.contains("Reading example/face_detection failed"),
        "{out}"
    );
    assert!(out.contains("boom: corrupt table"), "{out}");
    assert!(update(&mut app, ch('2')).is_empty());
    let _ = update(&mut app, ch('k'));
    // back on the Metadata tab the read of crop starts
    let cmds = update(&mut app, ch('1'));
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            job: Job::ReadMetadata { .. },
            ..
        }]
    ));
}

#[test]
fn list_navigation_clamps() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('k'));
    assert_eq!(app.features.selected, 0);
    let _ = update(&mut app, ch('G'));
    assert_eq!(app.features.selected, 6);
    let _ = update(&mut app, key(KeyCode::Down));
    assert_eq!(app.features.selected, 6);
    let _ = update(&mut app, key(KeyCode::PageUp));
    assert_eq!(app.features.selected, 0);
    let _ = update(&mut app, key(KeyCode::End));
    let _ = update(&mut app, key(KeyCode::Home));
    assert_eq!(app.features.selected, 0);
}

#[test]
fn table_navigation_clamps() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('3'));
    let _ = update(&mut app, key(KeyCode::Enter));
    render(&app, 230, 30);
    for _ in 0..30 {
        let _ = update(&mut app, ch('j'));
        let _ = update(&mut app, ch('l'));
    }
    assert_eq!(app.details.nav[2].cursor, 9);
    assert_eq!(
        app.details.nav[2].col, 0,
        "every column fits in 230 cells: no horizontal scroll"
    );
    // 96 cells: sample_uid (frozen) + the diff columns + the cause column do not fit
    render(&app, 96, 30);
    let max = app.details.nav[2].max_col.get();
    assert!(max >= 1);
    for _ in 0..10 {
        let _ = update(&mut app, ch('l'));
    }
    assert_eq!(
        app.details.nav[2].col, max,
        "clamped to the last useful scroll"
    );
    let out = render(&app, 96, 30);
    assert!(out.contains(" of 5 "), "{out}");
    assert!(
        !out.contains("41954289 → 90905107"),
        "audio scrolled out: {out}"
    );
    assert!(out.contains("s000010"), "key column frozen: {out}");
    assert!(
        out.contains("example/video.audio: audio-v1-s000010"),
        "cause column: {out}"
    );
    let _ = update(&mut app, ch('g'));
    let _ = update(&mut app, ch('0'));
    assert_eq!((app.details.nav[2].cursor, app.details.nav[2].col), (0, 0));
    let _ = update(&mut app, ch('G'));
    let _ = update(&mut app, ch('$'));
    assert_eq!(
        (app.details.nav[2].cursor, app.details.nav[2].col),
        (9, max)
    );
    let _ = update(&mut app, key(KeyCode::Left));
    assert_eq!(app.details.nav[2].col, max - 1);
    render(&app, 120, 30);
    // a short viewport keeps the cursor visible
    let out = render(&app, 120, 12);
    assert!(out.contains("s000048"), "{out}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let mut loading = App::new("somewhere");
    let _ = loading.start();
    let mut failed = App::new("somewhere");
    let _ = failed.start();
    let _ = update(
        &mut failed,
        Msg::Done {
            generation: 1,
            result: JobResult::Opened {
                result: Err("a long error message ".repeat(20)),
            },
        },
    );
    for tab in ['1', '2', '3', '4'] {
        let _ = update(&mut app, ch(tab));
        let _ = update(&mut app, key(KeyCode::Enter));
        for _ in 0..5 {
            let _ = update(&mut app, ch('l'));
            let _ = update(&mut app, ch('j'));
        }
        for (w, h) in [
            (40, 10),
            (20, 5),
            (1, 1),
            (3, 2),
            (200, 3),
            (41, 60),
            (12, 30),
        ] {
            render(&app, w, h);
            render(&loading, w, h);
            render(&failed, w, h);
            app.overlay.help = true;
            render(&app, w, h);
            app.overlay.help = false;
        }
        let _ = update(&mut app, key(KeyCode::Esc));
    }
    let out = render(&app, 40, 10);
    insta::assert_snapshot!("narrow_40x10", out);
}

#[test]
fn fit_truncates_and_pads() {
    assert_eq!(fit("abc", 5), "abc  ");
    assert_eq!(fit("abcdef", 4), "abc…");
    assert_eq!(fit("abcdef", 1), "…");
    assert_eq!(fit("abcdef", 0), "");
    assert_eq!(fit("a → b", 5), "a → b");
}

#[test]
fn by_field_reads_structs_and_maps() {
    let s: serde_json::Value = serde_json::json!({"audio": "a1", "frames": null});
    assert_eq!(by_field_value(&s, "audio").as_deref(), Some("a1"));
    assert_eq!(by_field_value(&s, "frames"), None);
    let m = serde_json::json!([{"key": "audio", "value": "a2"}, {"key": "frames", "value": "f2"}]);
    assert_eq!(by_field_value(&m, "frames").as_deref(), Some("f2"));
    assert_eq!(by_field_value(&m, "nope"), None);
}

#[test]
fn error_statuses_and_version_mismatches_are_shown() {
    let ws = demo();
    let mut app = App::new("demo");
    let _ = app.start();
    let _ = update(
        &mut app,
        Msg::Done {
            generation: 1,
            result: JobResult::Opened {
                result: Ok(ws.clone()),
            },
        },
    );
    for f in &ws.graph.features {
        let mut st = ws.status(&f.spec.key, &ResolveOptions::default());
        if f.spec.key.to_string() == "example/crop" {
            st = crate::engine::versioning::status::FeatureStatus {
                status: crate::engine::versioning::status::StatusCategory::Error,
                error_message: Some(
                    "corrupt or unexpected table example__crop: missing id column sample_uid"
                        .into(),
                ),
                increment: None,
                missing: None,
                stale: None,
                orphaned: None,
                ..st
            };
        }
        let _ = update(
            &mut app,
            Msg::Done {
                generation: 1,
                result: JobResult::Status {
                    report: Box::new(StatusReport::build(st)),
                },
            },
        );
    }
    app.features.mismatches = 2;
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('3'));
    let out = render(&app, 120, 30);
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("! example/crop"))
        .expect("error icon");
    assert!(lines[i + 1].contains("error"), "{out}");
    assert!(
        out.contains("Computing the status of example/crop failed"),
        "{out}"
    );
    assert!(out.contains("missing id column sample_uid"), "{out}");
    assert!(out.contains("⚠ 2 version mismatches"), "{out}");
    insta::assert_snapshot!("error_status_crop", out);
    let t = render_terminal(&app, 120, 30);
    let y = i as u16;
    let x = (0..120)
        .find(|&x| t.backend().buffer()[(x, y)].symbol() == "!")
        .unwrap();
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
}

/// Sends each character of `s` as a key press, running the resulting commands.
fn type_keys(app: &mut App, s: &str) {
    for c in s.chars() {
        let cmds = update(app, ch(c));
        pump(app, cmds);
    }
}

fn visible_keys(app: &App) -> Vec<String> {
    app.features
        .visible
        .iter()
        .map(|v| app.features.entries[v.index].key.to_string())
        .collect()
}

fn selected_key(app: &App) -> String {
    app.selected_entry()
        .expect("a feature is selected")
        .key
        .to_string()
}

#[test]
fn filter_typing_narrows_the_list_live() {
    let mut app = demo_app();
    type_keys(&mut app, "/");
    assert!(app.features.filter_input.is_some());
    type_keys(&mut app, "c");
    assert!(visible_keys(&app).len() > 1, "{:?}", visible_keys(&app));
    type_keys(&mut app, "ro");
    assert_eq!(app.features.filter, "cro");
    assert_eq!(visible_keys(&app), ["example/crop"]);
    assert_eq!(selected_key(&app), "example/crop");
    let out = render(&app, 120, 30);
    assert!(out.contains("Features (1/7) /cro"), "{out}");
    assert!(
        out.contains("example/crop · Metadata"),
        "right pane follows the selection: {out}"
    );
    assert!(out.contains("│/cro"), "input line: {out}");
    assert!(!out.contains("○ example/video"), "filtered out: {out}");
    insta::assert_snapshot!("filter_cro", out);
    // matched characters highlighted: c, r, o of "crop"
    let t = render_terminal(&app, 120, 30);
    let buf = t.backend().buffer();
    let y = out
        .lines()
        .position(|l| l.contains("⚠ example/crop"))
        .unwrap() as u16;
    let x = (0..120).find(|&x| buf[(x, y)].symbol() == "⚠").unwrap() + 10;
    let marked: String = (x..x + 4)
        .filter(|&x| buf[(x, y)].fg == Color::Yellow)
        .map(|x| buf[(x, y)].symbol())
        .collect();
    assert_eq!(marked, "cro");
    // Enter keeps the filter and gives the keyboard back to the list
    let _ = update(&mut app, key(KeyCode::Enter));
    assert!(app.features.filter_input.is_none());
    assert_eq!(app.features.focus, Focus::List);
    assert_eq!(app.features.filter, "cro");
    let out = render(&app, 120, 30);
    assert!(out.contains("Features (1/7) /cro"), "{out}");
    assert!(!out.contains("│/cro"), "input closed: {out}");
}

#[test]
fn filter_sorts_by_score_and_keeps_graph_order_on_ties() {
    let mut app = demo_app();
    type_keys(&mut app, "/ex");
    // every key starts with "example/": equal scores, graph order
    let all: Vec<String> = app
        .features
        .entries
        .iter()
        .map(|f| f.key.to_string())
        .collect();
    assert_eq!(visible_keys(&app), all);
    let _ = update(&mut app, key(KeyCode::Esc));
    type_keys(&mut app, "/sum");
    assert_eq!(visible_keys(&app)[0], "example/chunk_summary");
}

#[test]
fn filter_navigation_stays_within_matches() {
    let mut app = demo_app();
    type_keys(&mut app, "/chu");
    let _ = update(&mut app, key(KeyCode::Enter));
    let matches = visible_keys(&app);
    assert!(matches.len() >= 2 && matches.len() < 7, "{matches:?}");
    assert!(matches.iter().all(|k| k.contains("chunk")), "{matches:?}");
    assert_eq!(selected_key(&app), matches[0]);
    for _ in 0..10 {
        type_keys(&mut app, "j");
        assert!(matches.contains(&selected_key(&app)));
    }
    assert_eq!(&selected_key(&app), matches.last().unwrap());
    type_keys(&mut app, "k");
    assert_eq!(selected_key(&app), matches[matches.len() - 2]);
    type_keys(&mut app, "g");
    assert_eq!(selected_key(&app), matches[0]);
    type_keys(&mut app, "G");
    assert_eq!(&selected_key(&app), matches.last().unwrap());
    let _ = update(&mut app, key(KeyCode::PageUp));
    assert_eq!(selected_key(&app), matches[0]);
    let out = render(&app, 120, 30);
    assert!(out.contains(&format!("{} · Metadata", matches[0])), "{out}");
    // the selected feature's read was loaded
    let sel = app.selected_entry().unwrap().key.clone();
    assert!(matches!(
        app.details.metadata.get(&sel),
        Some(Load::Ready(_))
    ));
}

#[test]
fn esc_cancels_or_clears_the_filter() {
    let mut app = demo_app();
    // Esc while typing: cancelled and cleared, the selection stays
    type_keys(&mut app, "/cro");
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(app.features.filter_input.is_none());
    assert_eq!(app.features.filter, "");
    assert_eq!(app.features.visible.len(), 7);
    assert_eq!(selected_key(&app), "example/crop");
    assert!(render(&app, 120, 30).contains("Features (7) "));
    // Esc in the list with an active filter clears it
    type_keys(&mut app, "/stt");
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(visible_keys(&app), ["example/stt"]);
    // Esc in the table goes back to the list and keeps the filter
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.features.focus, Focus::Details);
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.features.focus, Focus::List);
    assert_eq!(app.features.filter, "stt");
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.features.filter, "");
    assert_eq!(app.features.visible.len(), 7);
    assert_eq!(selected_key(&app), "example/stt");
    // `/` reopens the input; Backspace and Ctrl-W edit it
    type_keys(&mut app, "/video");
    let _ = update(&mut app, key(KeyCode::Backspace));
    assert_eq!(app.features.filter, "vide");
    let _ = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL)),
    );
    assert_eq!(app.features.filter, "");
    assert_eq!(app.features.visible.len(), 7);
}

#[test]
fn keys_typed_into_the_filter_trigger_no_binding() {
    let mut app = demo_app();
    type_keys(&mut app, "/");
    for c in ['q', '?', '1', '3', 'r', 'j', 'G', 'l'] {
        let cmds = update(&mut app, ch(c));
        assert!(
            !cmds
                .iter()
                .any(|c| matches!(c, Command::Task { job: Job::Open, .. })),
            "{c} reloaded"
        );
        pump(&mut app, cmds);
    }
    assert!(!app.should_quit);
    assert!(!app.overlay.help);
    assert_eq!(app.details.tab, Tab::Metadata);
    assert_eq!(app.generation, 1);
    assert_eq!(app.features.focus, Focus::List);
    assert_eq!(app.features.filter, "q?13rjGl");
    let _ = update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.details.tab, Tab::Metadata);
    assert!(app.features.filter_input.is_some());
    // Ctrl-C still quits
    let _ = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(app.should_quit);
}

#[test]
fn no_match_renders_and_navigation_does_not_panic() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    type_keys(&mut app, "/zzz");
    assert!(app.features.visible.is_empty());
    assert!(app.selected_entry().is_none());
    let out = render(&app, 120, 30);
    assert!(out.contains("Features (0/7) /zzz"), "{out}");
    assert!(out.contains("no feature matches"), "{out}");
    assert!(out.contains("No feature selected."), "{out}");
    insta::assert_snapshot!("filter_no_match", out);
    let _ = update(&mut app, key(KeyCode::Enter));
    for k in [
        ch('j'),
        ch('k'),
        ch('G'),
        ch('g'),
        key(KeyCode::PageDown),
        key(KeyCode::End),
        ch('2'),
        ch('1'),
    ] {
        let cmds = update(&mut app, k);
        pump(&mut app, cmds);
        assert!(app.selected_entry().is_none());
    }
    let _ = update(&mut app, key(KeyCode::Enter));
    for k in [ch('j'), ch('l'), ch('G'), ch('$'), key(KeyCode::Esc)] {
        let _ = update(&mut app, k);
    }
    for (w, h) in [(120, 30), (40, 10), (20, 5), (1, 1), (3, 2)] {
        render(&app, w, h);
    }
    // editing again with a match restores a selection
    type_keys(&mut app, "/");
    for _ in 0..3 {
        let _ = update(&mut app, key(KeyCode::Backspace));
    }
    assert_eq!(app.features.filter, "");
    assert_eq!(selected_key(&app), "example/crop");
    for (w, h) in [(40, 10), (20, 3), (1, 1)] {
        render(&app, w, h);
    }
}

#[test]
fn filter_survives_a_reload() {
    let mut app = demo_app();
    type_keys(&mut app, "/stt");
    let _ = update(&mut app, key(KeyCode::Enter));
    let cmds = update(&mut app, ch('r'));
    pump(&mut app, cmds);
    assert_eq!(visible_keys(&app), ["example/stt"]);
    assert_eq!(selected_key(&app), "example/stt");
}

#[test]
fn features_read_from_a_fallback_store_say_so() {
    // tests/fixtures/fallback: dev lacks example/video, which comes from prod
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fallback");
    let mut opts = OpenOptions {
        cwd: dir.clone(),
        ..Default::default()
    };
    opts.env
        .insert("METAXY_FIXTURE_DIR".into(), dir.display().to_string());
    let ws = Arc::new(Workspace::open(&opts).expect("fallback fixture opens"));
    let mut app = App::new("fallback fixture");
    let cmds = app.start();
    pump_with(&mut app, cmds, ws.clone());
    let out = render(&app, 160, 12);
    let info = out
        .lines()
        .find(|l| l.contains("version c2ac395f"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(info.contains("from fallback store prod"), "{out}");
    // a feature dev has itself shows no fallback note
    let i = feature_index(&app, "example/stt");
    for _ in 0..i {
        let cmds = update(&mut app, ch('j'));
        pump_with(&mut app, cmds, ws.clone());
    }
    let out = render(&app, 160, 12);
    assert!(!out.contains("from fallback store"), "{out}");
}

// ---------------------------------------------------------------------------------------------------------------
// writes: delete and rebase dialogs (on temporary copies of Metaxy fixture stores)

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
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

/// A workspace on a temporary copy of fixture `backend/scenario` (the copy lives as long as the returned dir).
fn fixture_copy(backend: &str, scenario: &str) -> (tempfile::TempDir, Arc<Workspace>) {
    fixture_copy_edited(backend, scenario, |_| {})
}

/// [`fixture_copy`], with `edit` applied to the copied directory before the workspace opens.
fn fixture_copy_edited(
    backend: &str,
    scenario: &str,
    edit: impl FnOnce(&std::path::Path),
) -> (tempfile::TempDir, Arc<Workspace>) {
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(backend)
        .join(scenario);
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&src, tmp.path());
    edit(tmp.path());
    let mut opts = OpenOptions {
        cwd: tmp.path().to_path_buf(),
        ..Default::default()
    };
    opts.env.insert(
        "METAXY_FIXTURE_DIR".into(),
        tmp.path().display().to_string(),
    );
    let ws = Arc::new(Workspace::open(&opts).expect("fixture copy opens"));
    (tmp, ws)
}

/// Renders with the random part of temporary directory names masked (`.tmpXXXXXX`), for snapshots.
fn render_masked(app: &App, w: u16, h: u16) -> String {
    let out = render(app, w, h);
    let re = regex::Regex::new(r"\.tmp[A-Za-z0-9]{6}").unwrap();
    re.replace_all(&out, ".tmpXXXXXX").into_owned()
}

fn app_on(ws: &Arc<Workspace>) -> App {
    let mut app = App::new("fixture copy");
    let cmds = app.start();
    pump_with(&mut app, cmds, ws.clone());
    app
}

fn press(app: &mut App, ws: &Arc<Workspace>, m: Msg) {
    let cmds = update(app, m);
    pump_with(app, cmds, ws.clone());
}

fn type_in(app: &mut App, ws: &Arc<Workspace>, s: &str) {
    for c in s.chars() {
        press(app, ws, ch(c));
    }
}

fn select_in(app: &mut App, ws: &Arc<Workspace>, key: &str) {
    let i = feature_index(app, key);
    press(app, ws, ch('g'));
    for _ in 0..i {
        press(app, ws, ch('j'));
    }
    assert_eq!(selected_key(app), key);
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn live_rows(ws: &Workspace, key: &str) -> usize {
    ws.read(
        &FeatureKey::parse(key).unwrap(),
        &crate::engine::query::read::ReadOptions::default(),
    )
    .unwrap()
    .map(|d| d.height())
    .unwrap_or(0)
}

fn raw_rows(ws: &Workspace, key: &str) -> usize {
    ws.read(
        &FeatureKey::parse(key).unwrap(),
        &crate::engine::query::read::ReadOptions {
            with_feature_history: true,
            with_sample_history: true,
            include_soft_deleted: true,
            ..Default::default()
        },
    )
    .unwrap()
    .map(|d| d.height())
    .unwrap_or(0)
}

#[test]
fn soft_delete_of_marked_rows_is_previewed_cancellable_and_confirmed() {
    let (_tmp, ws) = fixture_copy("duckdb", "s05_rebased");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/stt");
    let before = live_rows(&ws, "example/stt");
    // focus the table, mark the first two rows
    press(&mut app, &ws, key(KeyCode::Enter));
    press(&mut app, &ws, ch('x'));
    press(&mut app, &ws, ch('x'));
    assert_eq!(app.details.marked.len(), 2);
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("2 row(s) marked"), "{out}");
    press(&mut app, &ws, ch('d'));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("Delete from example/stt"), "{out}");
    assert!(
        out.contains("(sample_uid = 's000001') OR (sample_uid = 's000002')"),
        "{out}"
    );
    insta::assert_snapshot!("delete_form", out);
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(
        out.contains("2 row(s) in 1 feature(s) will be soft-deleted"),
        "{out}"
    );
    assert!(out.contains("s000002"), "{out}");
    insta::assert_snapshot!("delete_preview_soft", out);
    // cancel at the confirmation: nothing written
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(live_rows(&ws, "example/stt"), before);
    // again, and confirm
    press(&mut app, &ws, ch('d'));
    press(&mut app, &ws, key(KeyCode::Enter));
    press(&mut app, &ws, ch('y'));
    assert!(
        app.overlay.dialog.is_none(),
        "dialog closes after the write"
    );
    let toast = app.toast.clone().expect("a toast reports the write");
    assert_eq!(toast.text, "✓ soft deleted 2 row(s) in 1 feature(s)");
    assert_eq!(live_rows(&ws, "example/stt"), before - 2);
    // the reload shows the new count and the toast
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("✓ soft deleted 2 row(s)"), "{out}");
    // the toast goes away
    for _ in 0..crate::tui::app::TOAST_TICKS {
        update(&mut app, Msg::Tick);
    }
    assert!(app.toast.is_none());
}

#[test]
fn hard_delete_needs_the_feature_key_typed() {
    let (_tmp, ws) = fixture_copy("delta", "s06_soft_delete");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/face_detection");
    let raw_before = raw_rows(&ws, "example/face_detection");
    press(&mut app, &ws, ch('d'));
    type_in(&mut app, &ws, "sample_uid IN ('s000001', 's000005')");
    press(&mut app, &ws, key(KeyCode::Tab)); // hard
    press(&mut app, &ws, ctrl('d')); // cascade (face_detection has no downstream: nothing added)
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("mode                  hard"), "{out}");
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("will be physically removed"), "{out}");
    assert!(
        out.contains("Type example/face_detection to confirm"),
        "{out}"
    );
    insta::assert_snapshot!("delete_preview_hard", out);
    // Enter and y do nothing until the key is typed
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_some());
    assert_eq!(raw_rows(&ws, "example/face_detection"), raw_before);
    type_in(&mut app, &ws, "example/face_detection");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none(), "{}", render(&app, 120, 24));
    assert_eq!(raw_rows(&ws, "example/face_detection"), raw_before - 2);
}

#[test]
fn drop_shows_rows_per_version_and_needs_the_feature_key_typed() {
    let (_tmp, ws) = fixture_copy("duckdb", "s05_rebased");
    let crop = FeatureKey::parse("example/crop").unwrap();
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/crop");
    // from the delete form: ^X switches to the drop dialog
    press(&mut app, &ws, ch('d'));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("^X drop the whole table instead"), "{out}");
    press(&mut app, &ws, ctrl('x'));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("Drop the metadata of example/crop"), "{out}");
    assert!(
        out.contains("The whole table goes: 120 row(s) in 2 feature version(s)."),
        "{out}"
    );
    assert!(out.contains("ea834040 (current)"), "{out}");
    assert!(out.contains("34d75856"), "{out}");
    assert!(out.contains("Type example/crop to confirm"), "{out}");
    insta::assert_snapshot!("drop_preview", out);
    // Enter does nothing until the key is typed; Esc cancels
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_some());
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    assert!(
        ws.store.has_feature(&crop).unwrap(),
        "cancelled: nothing dropped"
    );
    // from the palette, typed wrong then right
    press(&mut app, &ws, ch(':'));
    type_in(&mut app, &ws, "drop table");
    press(&mut app, &ws, key(KeyCode::Enter));
    type_in(&mut app, &ws, "example/cro");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_some(), "a wrong key does not drop");
    assert!(ws.store.has_feature(&crop).unwrap());
    type_in(&mut app, &ws, "p");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none(), "{}", render(&app, 120, 24));
    assert_eq!(
        app.toast.as_ref().map(|t| t.text.clone()).as_deref(),
        Some("✓ dropped the table of example/crop (120 row(s))")
    );
    assert!(!ws.store.has_feature(&crop).unwrap());
    assert!(ws
        .store
        .has_feature(&FeatureKey::parse("example/video").unwrap())
        .unwrap());
    assert!(!ws.store.system_rows().unwrap().is_empty());
    // `X` on a feature without a table: nothing to drop
    press(&mut app, &ws, ch('X'));
    let out = render_masked(&app, 120, 24);
    assert!(
        out.contains("Nothing to drop: no table example__crop"),
        "{out}"
    );
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
}

#[test]
fn cascade_delete_previews_downstream_features() {
    let (_tmp, ws) = fixture_copy("duckdb", "s05_rebased");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/crop");
    press(&mut app, &ws, ch('d'));
    type_in(&mut app, &ws, "sample_uid = 's000001'");
    press(&mut app, &ws, ctrl('d'));
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 30);
    assert!(
        out.contains("example/face_detection: 1 row(s)  (cascade from example/crop)"),
        "{out}"
    );
    assert!(
        out.contains("example/av_report: 1 row(s)  (cascade from example/crop)"),
        "{out}"
    );
    insta::assert_snapshot!("delete_preview_cascade", out);
    press(&mut app, &ws, key(KeyCode::Esc));
}

#[test]
fn rebase_is_picked_previewed_cancellable_and_confirmed() {
    let (_tmp, ws) = fixture_copy("duckdb", "s04_version_bump");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/crop");
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 120, 24);
    assert!(
        out.contains("Rebase example/crop onto ea834040 (current)"),
        "{out}"
    );
    assert!(out.contains("34d75856"), "{out}");
    insta::assert_snapshot!("rebase_pick", out);
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(
        out.contains("50 row(s) of 34d75856 will be rewritten as ea834040"),
        "{out}"
    );
    assert!(
        out.contains("s000001 │ audio = 12956049 │ frames 42584848 → 28063681"),
        "{out}"
    );
    assert!(out.contains("provenance 15833910 → 19925021"), "{out}");
    insta::assert_snapshot!("rebase_preview", out);
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(
        live_rows(&ws, "example/crop"),
        0,
        "cancelled: nothing written"
    );
    press(&mut app, &ws, ch('R'));
    press(&mut app, &ws, key(KeyCode::Enter));
    press(&mut app, &ws, ch('y'));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(live_rows(&ws, "example/crop"), 50);
    assert!(app
        .toast
        .as_ref()
        .unwrap()
        .text
        .contains("rebased 50 row(s)"));
}

/// `R` on the lookup screen rebases only the looked-up sample's rows: the dialog says so, the preview counts one
/// row, and after `y` exactly that sample has a row of the current feature version.
#[test]
fn rebase_from_the_lookup_screen_rewrites_only_that_sample() {
    let (_tmp, ws) = fixture_copy("duckdb", "s04_version_bump");
    let mut app = app_on(&ws);
    press(&mut app, &ws, ch(':'));
    type_in(&mut app, &ws, "lookup sample_uid=s000001");
    press(&mut app, &ws, key(KeyCode::Enter));
    let Some(Load::Ready(l)) = &app.lookup.result else {
        panic!("lookup not done");
    };
    let crop_line = crate::tui::screens::lookup::lookup_lines(l)
        .iter()
        .position(|x| l.features[x.feature].feature == "example/crop")
        .unwrap();
    for _ in 0..crop_line {
        press(&mut app, &ws, ch('j'));
    }
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 140, 24);
    assert!(
        out.contains("Rebase example/crop onto ea834040 (current) · only"),
        "{out}"
    );
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 140, 24);
    assert!(
        out.contains("1 row(s) of 34d75856 will be rewritten as ea834040"),
        "{out}"
    );
    assert!(out.contains("s000001"), "{out}");
    press(&mut app, &ws, ch('y'));
    assert!(app.overlay.dialog.is_none());
    let rows = ws
        .read(
            &FeatureKey::parse("example/crop").unwrap(),
            &crate::engine::query::read::ReadOptions::default(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(rows.height(), 1, "{rows}");
    assert_eq!(
        rows.column("sample_uid").unwrap().str().unwrap().get(0),
        Some("s000001")
    );
}

#[test]
fn rebase_of_a_root_feature_is_an_error_popup() {
    let (_tmp, ws) = fixture_copy("duckdb", "s04_version_bump");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/video");
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 100, 20);
    assert!(out.contains("Cannot rebase"), "{out}");
    assert!(out.contains("root feature"), "{out}");
    insta::assert_snapshot!("rebase_root_error", out);
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
}

#[test]
fn a_rebase_that_would_stamp_an_unpushed_feature_version_is_an_error_popup() {
    // the current push of example/crop stores a feature version its spec does not hash to (recomputed: ea834040)
    let (_tmp, ws) = fixture_copy_edited("duckdb", "s04_version_bump", |dir| {
        duckdb::Connection::open(dir.join("store/metadata.duckdb"))
            .unwrap()
            .execute_batch(
                "UPDATE metaxy_system__feature_versions SET metaxy_feature_version = 'deadbeef' \
                 WHERE feature_key = 'example/crop' AND metaxy_project_version = 'f513ad86'",
            )
            .unwrap();
    });
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/crop");
    let before = raw_rows(&ws, "example/crop");
    press(&mut app, &ws, ch('R'));
    // pick the old version 34d75856 (the stored deadbeef is listed first)
    let Some(crate::tui::dialogs::Dialog::Rebase(r)) = &app.overlay.dialog else {
        panic!("{}", render(&app, 120, 24));
    };
    let at = r
        .versions
        .iter()
        .position(|v| v.feature_version == "34d75856")
        .unwrap();
    for _ in 0..at.saturating_sub(r.cursor) {
        press(&mut app, &ws, ch('j'));
    }
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("Cannot plan the rebase"), "{out}");
    assert!(out.contains("ea834040"), "{out}");
    assert!(out.contains("deadbeef"), "{out}");
    insta::assert_snapshot!("rebase_unpushed_version_error", out);
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(raw_rows(&ws, "example/crop"), before, "nothing written");
}

#[test]
fn a_bad_delete_filter_is_an_error_popup_not_a_write() {
    let (_tmp, ws) = fixture_copy("lancedb", "s05_rebased");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/stt");
    let before = raw_rows(&ws, "example/stt");
    press(&mut app, &ws, ch('d'));
    type_in(&mut app, &ws, "no_such_column = 1");
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 100, 20);
    assert!(out.contains("Cannot plan the delete"), "{out}");
    assert!(out.contains("no_such_column"), "{out}");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(raw_rows(&ws, "example/stt"), before);
}

#[test]
fn write_from_a_picked_file_is_previewed_cancellable_and_confirmed() {
    let (tmp, ws) = fixture_copy("duckdb", "s01_initial");
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(
        inputs.join("new_videos.csv"),
        "sample_uid,path,metaxy_provenance_by_field.audio,metaxy_provenance_by_field.frames\nn000001,/n1,a1,f1\ns000001,/again,a-new,f-new\n",
    )
    .unwrap();
    std::fs::write(inputs.join("notes.txt"), "not offered").unwrap();
    let mut app = app_on(&ws);
    app.env.cwd = tmp.path().to_path_buf();
    let before = live_rows(&ws, "example/video");
    press(&mut app, &ws, ch('w'));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("Write rows to example/video"), "{out}");
    assert!(out.contains("inputs/"), "{out}");
    // into inputs/, the CSV is offered, the .txt is not
    type_in(&mut app, &ws, "inp");
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("new_videos.csv"), "{out}");
    assert!(!out.contains("notes.txt"), "{out}");
    insta::assert_snapshot!("write_picker", out);
    press(&mut app, &ws, key(KeyCode::Down)); // past `..`
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("2 row(s) from"), "{out}");
    assert!(out.contains("1 new sample(s), 1 already stored"), "{out}");
    assert!(out.contains("n000001"), "{out}");
    let masked = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
        .unwrap()
        .replace_all(&out, "YYYY-MM-DD HH:MM:SS UTC")
        .into_owned();
    insta::assert_snapshot!("write_preview", masked);
    // cancel: nothing written
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(live_rows(&ws, "example/video"), before);
    // again, confirmed
    press(&mut app, &ws, ch('w'));
    type_in(&mut app, &ws, "inputs/new_videos.csv");
    press(&mut app, &ws, key(KeyCode::Enter));
    press(&mut app, &ws, ch('y'));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(
        live_rows(&ws, "example/video"),
        before + 1,
        "one new sample, one superseded"
    );
    assert_eq!(
        app.toast.as_ref().unwrap().text,
        "✓ wrote 2 row(s) to example/video"
    );
    // a file without the provenance struct: error popup, nothing written
    std::fs::write(inputs.join("bad.csv"), "sample_uid,path\nx,/x\n").unwrap();
    press(&mut app, &ws, ch('w'));
    type_in(&mut app, &ws, "inputs/bad.csv");
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("Cannot prepare the write"), "{out}");
    assert!(out.contains("metaxy_provenance_by_field"), "{out}");
}

#[test]
fn graph_screen_draws_the_dag_with_statuses_and_highlights() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('v'));
    assert_eq!(app.screen, crate::tui::app::Screen::Graph);
    let out = render(&app, 160, 40);
    for k in [
        "example/video",
        "example/crop",
        "example/face_detection",
        "example/stt",
        "example/chunk",
        "example/chunk_summary",
        "example/av_report",
    ] {
        assert!(out.contains(k), "{k} missing:\n{out}");
    }
    assert!(out.contains("⚠ 5 new · 10 stale · 5 orphaned"), "{out}");
    assert!(out.contains("▶"), "edges end in arrows:\n{out}");
    assert!(out.contains("1 upstream · 2 downstream"), "{out}");
    insta::assert_snapshot!("graph_crop", out);
    // colours: the selection is bold cyan, its upstream magenta, downstream green
    let t = render_terminal(&app, 160, 40);
    let buf = t.backend().buffer();
    let find = |needle: &str| -> (u16, u16) {
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if let Some(i) = line.find(needle) {
                let col = line[..i].chars().count() as u16;
                return (col, y);
            }
        }
        panic!("{needle} not drawn")
    };
    let (x, y) = find("example/video");
    assert_eq!(
        buf[(x - 2, y)].fg,
        Color::Magenta,
        "video is upstream of crop"
    );
    let (x, y) = find("example/face_detection");
    assert_eq!(
        buf[(x - 2, y)].fg,
        Color::Green,
        "face_detection is downstream"
    );
    // moving: left goes to the parent, right to a child, Enter opens the feature
    let _ = update(&mut app, ch('h'));
    assert_eq!(selected_key(&app), "example/video");
    let _ = update(&mut app, ch('l'));
    let right = selected_key(&app);
    assert!(
        ["example/crop", "example/stt", "example/chunk"].contains(&right.as_str()),
        "{right}"
    );
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.screen, crate::tui::app::Screen::Features);
    assert_eq!(app.features.focus, Focus::Details);
}

#[test]
fn graph_screen_search_jumps_to_the_best_match_and_small_terminals_scroll() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('v'));
    for c in "/summ".chars() {
        let _ = update(&mut app, ch(c));
    }
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(selected_key(&app), "example/chunk_summary");
    // a terminal too small for the drawing scrolls to keep the selection visible
    let out = render(&app, 50, 14);
    assert!(out.contains("example/chunk_summ"), "{out}");
    for (w, h) in [(1, 1), (10, 3), (30, 6)] {
        render(&app, w, h);
    }
}

#[test]
fn history_screen_lists_versions_and_diffs_them_with_rows_per_version() {
    let (_tmp, ws) = fixture_copy("duckdb", "s04_version_bump");
    let mut app = app_on(&ws);
    press(&mut app, &ws, ch('H'));
    assert_eq!(app.screen, crate::tui::app::Screen::History);
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("Pushed project versions (2)"), "{out}");
    assert!(out.contains("f513ad86"), "{out}");
    assert!(out.contains("bc37caf4 → f513ad86"), "{out}");
    assert!(
        out.contains(
            "1 changed · 0 added · 0 removed · 2 with a new version because upstream changed"
        ),
        "{out}"
    );
    // crop changed (frames code version 1 -> 2): 50 rows stored under the old version, none under the new yet
    let crop = out
        .lines()
        .find(|l| l.contains("~ example/crop"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(crop.contains("34d75856 → ea834040"), "{crop}");
    assert!(crop.contains("rows 70 → 0"), "{crop}");
    assert!(out.contains("~ field frames"), "{out}");
    let face = out
        .lines()
        .find(|l| l.contains("example/face_detection"))
        .unwrap();
    assert!(face.contains("(upstream changed)"), "{face}");
    insta::assert_snapshot!("history_diff", out);
    // the older version: the first push, diffed against nothing
    press(&mut app, &ws, ch('j'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("bc37caf4 (first pushed version)"), "{out}");
    // mark it as the base, go back up: base -> cursor
    press(&mut app, &ws, ch('x'));
    press(&mut app, &ws, ch('k'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("bc37caf4 → f513ad86"), "{out}");
    assert!(out.contains(" base"), "{out}");
    press(&mut app, &ws, key(KeyCode::Esc));
    assert_eq!(app.screen, crate::tui::app::Screen::Features);
}

#[test]
fn history_screen_rebases_the_selected_feature_from_the_cursor_version() {
    let (_tmp, ws) = fixture_copy("duckdb", "s04_version_bump");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/crop");
    press(&mut app, &ws, ch('H'));
    // the cursor starts on the current version: crop has its current feature version there
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("selected example/crop"), "{out}");
    assert!(
        out.contains("ea834040 here = current: nothing to rebase"),
        "{out}"
    );
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("Nothing to rebase"), "{out}");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
    // the first pushed version: crop was 34d75856 there
    press(&mut app, &ws, ch('j'));
    let out = render_masked(&app, 150, 30);
    assert!(
        out.contains("R: rebase its rows 34d75856 → ea834040"),
        "{out}"
    );
    insta::assert_snapshot!("history_rebase_hint", out);
    // R: straight to the preview of the rebase from that version (old vs new provenance per row)
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 150, 30);
    assert!(
        out.contains("50 row(s) of 34d75856 will be rewritten as ea834040"),
        "{out}"
    );
    assert!(
        out.contains("s000001 │ audio = 12956049 │ frames 42584848 → 28063681"),
        "{out}"
    );
    insta::assert_snapshot!("history_rebase_preview", out);
    // cancelled: nothing written, still on the history screen
    press(&mut app, &ws, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(app.screen, crate::tui::app::Screen::History);
    assert_eq!(
        live_rows(&ws, "example/crop"),
        0,
        "cancelled: nothing written"
    );
    // again, confirmed
    press(&mut app, &ws, ch('R'));
    press(&mut app, &ws, ch('y'));
    assert!(app.overlay.dialog.is_none());
    assert_eq!(live_rows(&ws, "example/crop"), 50);
    assert!(
        app.toast
            .as_ref()
            .unwrap()
            .text
            .contains("rebased 50 row(s)"),
        "{:?}",
        app.toast.as_ref().map(|t| &t.text)
    );
    assert_eq!(app.screen, crate::tui::app::Screen::History);
    assert_eq!(selected_key(&app), "example/crop");
    // a root feature cannot be rebased from here either
    press(&mut app, &ws, key(KeyCode::Esc));
    select_in(&mut app, &ws, "example/video");
    press(&mut app, &ws, ch('H'));
    press(&mut app, &ws, ch('j'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("root feature: cannot be rebased"), "{out}");
    press(&mut app, &ws, ch('R'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("Cannot rebase"), "{out}");
    assert!(out.contains("is a root feature"), "{out}");
}

#[test]
fn detail_tab_shows_the_definition() {
    let mut app = demo_app();
    select(&mut app, "example/av_report");
    let _ = update(&mut app, ch('5'));
    assert_eq!(app.details.tab, Tab::Detail);
    let out = render(&app, 180, 40);
    for needle in [
        "example_overview.features.AVReport",
        "id columns          sample_uid",
        "report",
        "← example/crop.audio, example/crop.frames, example/stt",
        "example/stt  (optional)",
        "  lineage           1:1",
        "none (a leaf feature)",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    insta::assert_snapshot!("detail_av_report", out);
    // chunk_summary aggregates chunk N:1
    select(&mut app, "example/chunk_summary");
    let out = render(&app, 180, 40);
    assert!(out.contains("N:1 on"), "{out}");
}

#[test]
fn metadata_view_filters_toggles_sorts_copies_and_exports() {
    let (tmp, ws) = fixture_copy("duckdb", "s06_soft_delete");
    let mut app = app_on(&ws);
    app.env.cwd = tmp.path().to_path_buf();
    select_in(&mut app, &ws, "example/stt");
    let rows = |app: &App| {
        app.current_table()
            .map(|t| t.total_rows)
            .unwrap_or(usize::MAX)
    };
    let live = rows(&app);
    // soft-deleted rows (s02 soft-deleted 3 orphaned samples, s06 8 more), then every stored row per sample
    press(&mut app, &ws, ch('D'));
    assert_eq!(rows(&app), live + 11);
    press(&mut app, &ws, ch('A'));
    let all = rows(&app);
    assert!(all > live + 11, "{all}");
    let out = render_masked(&app, 150, 30);
    assert!(
        out.contains("every row per sample · soft-deleted rows shown"),
        "{out}"
    );
    press(&mut app, &ws, ch('A'));
    press(&mut app, &ws, ch('D'));
    assert_eq!(rows(&app), live);
    // a SQL filter, recalled from the history
    press(&mut app, &ws, ch('f'));
    type_in(&mut app, &ws, "sample_uid = 's000002'");
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("WHERE sample_uid = 's000002'"), "{out}");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert_eq!(rows(&app), 1);
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("filter: sample_uid = 's000002'"), "{out}");
    insta::assert_snapshot!("metadata_filtered", out);
    press(&mut app, &ws, ch('f'));
    for _ in 0..40 {
        press(&mut app, &ws, key(KeyCode::Backspace));
    }
    press(&mut app, &ws, key(KeyCode::Enter));
    assert_eq!(rows(&app), live, "an empty filter clears it");
    press(&mut app, &ws, ch('f'));
    press(&mut app, &ws, key(KeyCode::Up));
    press(&mut app, &ws, key(KeyCode::Enter));
    assert_eq!(rows(&app), 1, "Up recalls the last filter");
    // a bad filter is an error in the pane, not a crash
    press(&mut app, &ws, ch('f'));
    type_in(&mut app, &ws, " AND nope = 1");
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("nope"), "{out}");
    press(&mut app, &ws, ch('f'));
    for _ in 0..60 {
        press(&mut app, &ws, key(KeyCode::Backspace));
    }
    press(&mut app, &ws, key(KeyCode::Enter));
    // sort by the first column, then descending
    press(&mut app, &ws, ch('o'));
    assert_eq!(
        app.details.view.sort,
        Some(("sample_uid".to_string(), false))
    );
    press(&mut app, &ws, ch('O'));
    let first = app.current_table().unwrap().rows[0][0].text.clone();
    assert_eq!(
        first, "s000054",
        "descending sample_uid (s02 added samples up to s000054)"
    );
    // copy the cursor row
    press(&mut app, &ws, key(KeyCode::Enter));
    let cmds = update(&mut app, ch('y'));
    assert!(matches!(cmds.as_slice(), [Command::Copy(t)] if t.contains("s000054")));
    assert!(app.toast.as_ref().unwrap().text.contains("copied row 1"));
    // export the view (sorted, all rows) to parquet next to the store
    press(&mut app, &ws, ch('e'));
    let out = render_masked(&app, 150, 30);
    assert!(out.contains("Export example/stt"), "{out}");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(
        app.toast.as_ref().unwrap().text.contains("exported"),
        "{:?}",
        app.toast
    );
    use polars::prelude::SerReader;
    let back = polars::prelude::ParquetReader::new(
        std::fs::File::open(tmp.path().join("example__stt.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    assert_eq!(back.height(), live);
}

#[test]
fn command_palette_runs_commands_by_fuzzy_name() {
    let mut app = demo_app();
    let _ = update(&mut app, ch(':'));
    let out = render(&app, 120, 30);
    assert!(out.contains("Command"), "{out}");
    assert!(out.contains("graph"), "{out}");
    for c in "hist".chars() {
        let _ = update(&mut app, ch(c));
    }
    let out = render(&app, 120, 30);
    insta::assert_snapshot!("palette_hist", out);
    let cmds = update(&mut app, key(KeyCode::Enter));
    pump(&mut app, cmds);
    assert!(app.overlay.palette.is_none());
    assert_eq!(app.screen, crate::tui::app::Screen::History);
    // Esc closes without running anything; no match runs nothing
    let _ = update(&mut app, ch('H'));
    let _ = update(&mut app, ch(':'));
    for c in "zzzz".chars() {
        let _ = update(&mut app, ch(c));
    }
    let _ = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.screen, crate::tui::app::Screen::Features);
    let _ = update(&mut app, ch(':'));
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.palette.is_none());
    assert!(!app.should_quit);
}

#[test]
fn mouse_selects_features_tabs_and_rows_and_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = demo_app();
    let out = render(&app, 160, 30);
    let mouse = |kind, column, row| {
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // click the third feature of the list
    let (x, y) = out
        .lines()
        .enumerate()
        .find_map(|(y, l)| l.find("example/face_detection").map(|_| (3u16, y as u16)))
        .unwrap();
    let cmds = update(
        &mut app,
        mouse(MouseEventKind::Down(MouseButton::Left), x, y),
    );
    pump(&mut app, cmds);
    assert_eq!(selected_key(&app), "example/face_detection");
    // wheel over the list moves the selection
    render(&app, 160, 30);
    let cmds = update(&mut app, mouse(MouseEventKind::ScrollDown, x, y));
    pump(&mut app, cmds);
    assert_eq!(selected_key(&app), "example/stt");
    // click the Stale tab title
    let out = render(&app, 160, 30);
    let tabs = out.lines().nth(1).unwrap();
    let col = tabs
        .find("3 Stale")
        .map(|i| tabs[..i].chars().count() as u16 + 2)
        .unwrap();
    let cmds = update(
        &mut app,
        mouse(MouseEventKind::Down(MouseButton::Left), col, 1),
    );
    pump(&mut app, cmds);
    assert_eq!(app.details.tab, Tab::Stale);
    // a click into the table focuses it and picks the row; the wheel moves the cursor
    let out = render(&app, 160, 30);
    let (_, row) = out
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" → "))
        .map(|(y, l)| (l, y as u16))
        .nth(1)
        .unwrap();
    let _ = update(
        &mut app,
        mouse(MouseEventKind::Down(MouseButton::Left), 100, row),
    );
    assert_eq!(app.features.focus, Focus::Details);
    assert_eq!(app.details.nav[Tab::Stale.index()].cursor, 1);
    render(&app, 160, 30);
    let _ = update(&mut app, mouse(MouseEventKind::ScrollDown, 100, row));
    assert_eq!(app.details.nav[Tab::Stale.index()].cursor, 2);
    // breadcrumbs follow
    assert_eq!(app.breadcrumbs(), ["store demo", "example/stt", "stale"]);
    assert!(render(&app, 160, 30).contains("store demo › example/stt › stale"));
}

#[test]
fn increment_tabs_filter_and_export() {
    let (tmp, ws) = fixture_copy("duckdb", "s02_mutated");
    let mut app = app_on(&ws);
    app.env.cwd = tmp.path().to_path_buf();
    select_in(&mut app, &ws, "example/crop");
    press(&mut app, &ws, ch('3'));
    press(&mut app, &ws, ch('f'));
    type_in(&mut app, &ws, "sample_uid < 's000020'");
    press(&mut app, &ws, key(KeyCode::Enter));
    let t = app.current_table().expect("filtered stale table");
    assert_eq!(t.total_rows, 4, "s000010, s000011, s000014, s000016");
    let out = render_masked(&app, 180, 30);
    assert!(out.contains("filter: sample_uid < 's000020'"), "{out}");
    assert!(out.contains("3 Stale (4/10)"), "{out}");
    assert!(out.contains("why: 4 stale: 2 because example/video.audio changed, 2 because example/video.frames changed"), "{out}");
    insta::assert_snapshot!("stale_filtered", out);
    // the filter follows to the New tab and to other features
    press(&mut app, &ws, ch('2'));
    assert_eq!(
        app.current_table().unwrap().total_rows,
        0,
        "new samples are s000050..54"
    );
    // export the stale samples of the filter
    press(&mut app, &ws, ch('3'));
    press(&mut app, &ws, ch('e'));
    press(&mut app, &ws, key(KeyCode::Enter));
    let toast = app.toast.clone().unwrap();
    assert!(
        toast
            .text
            .contains("exported 4 stale samples of example/crop"),
        "{toast:?}"
    );
    assert!(tmp.path().join("example__crop.stale.parquet").is_file());
    // a bad filter is an error popup
    press(&mut app, &ws, ch('f'));
    type_in(&mut app, &ws, " AND nope");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(render_masked(&app, 150, 30).contains("Bad increment filter"));
}

#[test]
fn an_empty_store_without_a_pushed_graph_explains_what_to_do() {
    // a Delta store directory with nothing in it: no system table, no feature tables
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    std::fs::write(
        dir.path().join("metaxy.toml"),
        "project = \"p\"\nstore = \"dev\"\n[stores.dev]\ntype = \"metaxy.ext.polars.handlers.delta.DeltaMetadataStore\"\n[stores.dev.config]\nroot_path = \"store\"\n",
    )
    .unwrap();
    let req = OpenRequest {
        opts: OpenOptions {
            cwd: dir.path().to_path_buf(),
            ..Default::default()
        },
        demo: false,
    };
    let mut app = App::new("metaxy.toml discovered from <tmp>");
    let cmds = app.start();
    let mut msgs = vec![];
    for c in cmds {
        execute(&req, c, |m| {
            msgs.push(m);
            true
        });
    }
    for m in msgs {
        update(&mut app, m);
    }
    let out = render(&app, 120, 16).replace(&dir.path().display().to_string(), "<tmp>");
    assert!(out.contains("has no pushed feature graph"), "{out}");
    assert!(out.contains("metaxy push"), "{out}");
    insta::assert_snapshot!("error_empty_store", out);
    // keys other than r / q do nothing and nothing panics
    for c in ['j', 'v', 'H', 'd', 'R', 'w', 'f', ':'] {
        let _ = update(&mut app, ch(c));
        render(&app, 120, 16);
        let _ = update(&mut app, key(KeyCode::Esc));
    }
}

#[test]
fn esc_cancels_the_status_computation() {
    let ws = demo();
    let mut app = App::new("demo");
    let _ = app.start();
    let generation = app.generation;
    let _ = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Opened {
                result: Ok(ws.clone()),
            },
        },
    );
    // two statuses arrive, then Esc
    for f in ws.graph.features.iter().take(2) {
        let status = ws.status(&f.spec.key, &ResolveOptions::default());
        update(
            &mut app,
            Msg::Done {
                generation,
                result: JobResult::Status {
                    report: Box::new(StatusReport::build(status)),
                },
            },
        );
    }
    let cmds = update(&mut app, key(KeyCode::Esc));
    assert!(matches!(cmds.as_slice(), [Command::Cancel { generation: g, .. }] if *g == generation));
    assert!(app.features.statuses_cancelled);
    let out = render(&app, 120, 20);
    assert!(out.contains("statuses 2/7 (cancelled)"), "{out}");
    assert!(out.contains("cancelled (r)"), "{out}");
    assert!(app
        .toast
        .as_ref()
        .unwrap()
        .text
        .contains("cancelled after 2/7"));
    // a second Esc does nothing more; r restarts everything
    assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
    let cmds = update(&mut app, ch('r'));
    assert!(!app.features.statuses_cancelled);
    pump(&mut app, cmds);
    assert_eq!(app.statuses_done(), 7);
}

#[test]
fn enter_on_a_row_shows_every_column_in_full() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('3'));
    let _ = update(&mut app, key(KeyCode::Enter)); // focus the table
    let _ = update(&mut app, key(KeyCode::Enter)); // row detail
    let out = render(&app, 150, 30);
    assert!(out.contains("example/crop · Stale · row 1"), "{out}");
    assert!(
        out.contains("example/video.audio: audio-v1-s000010 → audio-v2-s000010"),
        "the full cause, not truncated: {out}"
    );
    insta::assert_snapshot!("row_detail_stale", out);
    let cmds = update(&mut app, ch('y'));
    assert!(matches!(cmds.as_slice(), [Command::Copy(t)] if t.contains("s000010")));
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
}

/// A fixture copy whose `example/video` has 12,050 samples (12,000 generated), 40 of them with a newer row and
/// 10 soft-deleted: more than one window of the Metadata tab.
fn big_fixture() -> (tempfile::TempDir, Arc<Workspace>) {
    let (tmp, ws) = fixture_copy("duckdb", "s01_initial");
    drop(ws);
    {
        let conn = duckdb::Connection::open(tmp.path().join("store/metadata.duckdb")).unwrap();
        conn.execute_batch(
            "INSERT INTO example__video SELECT v.* REPLACE ('g' || lpad(i::VARCHAR, 6, '0') AS sample_uid)
                 FROM (SELECT * FROM example__video LIMIT 1) v, range(12000) t(i);
             INSERT INTO example__video SELECT * REPLACE ('newer' AS path,
                 metaxy_updated_at + INTERVAL 1 DAY AS metaxy_updated_at)
                 FROM example__video WHERE sample_uid BETWEEN 'g000100' AND 'g000139';
             INSERT INTO example__video SELECT * REPLACE (metaxy_updated_at + INTERVAL 2 DAY AS metaxy_deleted_at)
                 FROM example__video WHERE sample_uid BETWEEN 'g005000' AND 'g005009' AND path <> 'newer';",
        )
        .unwrap();
    }
    let mut opts = OpenOptions {
        cwd: tmp.path().to_path_buf(),
        ..Default::default()
    };
    opts.env.insert(
        "METAXY_FIXTURE_DIR".into(),
        tmp.path().display().to_string(),
    );
    (tmp, Arc::new(Workspace::open(&opts).unwrap()))
}

/// [`big_fixture`] opened in an app with `example/video` selected (Metadata tab).
fn big_video_app() -> (tempfile::TempDir, Arc<Workspace>, App, FeatureKey) {
    let (tmp, ws) = big_fixture();
    let video = FeatureKey::parse("example/video").unwrap();
    let mut app = app_on(&ws);
    while app.selected_entry().unwrap().key != video {
        press(&mut app, &ws, ch('j'));
    }
    (tmp, ws, app, video)
}

fn metadata_table(app: &App) -> &crate::tui::app::PagedTable {
    let e = app.selected_entry().unwrap();
    match app.details.metadata.get(&e.key) {
        Some(Load::Ready(Some(p))) => p,
        _ => panic!("no table"),
    }
}

/// The Metadata tab pages a big DuckDB feature: the first page opens without reading the table, the rows are
/// counted in the background, scrolling fetches the next pages and drops far ones (at most WINDOW_ROWS held),
/// `G` jumps to the last page and `g` back; every row shown is the row a full read has at that position.
#[test]
fn metadata_tab_pages_a_big_feature() {
    use crate::tui::app::{PageSource, PAGE_ROWS, WINDOW_ROWS};
    let (_tmp, ws, mut app, video) = big_video_app();
    let full = ws
        .read(&video, &crate::engine::query::read::ReadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(full.height(), 12_040);
    let uid_at = |i: usize| {
        full.column("sample_uid")
            .unwrap()
            .str()
            .unwrap()
            .get(i)
            .unwrap()
            .to_string()
    };
    assert_eq!(app.details.tab, Tab::Metadata);
    let p = metadata_table(&app);
    assert!(matches!(p.source, PageSource::Store), "keyset pages");
    assert_eq!(p.total, Some(12_040), "counted in the background");
    // the first page plus the prefetched next one
    assert!(
        p.table.rows.len() <= 2 * PAGE_ROWS,
        "{}",
        p.table.rows.len()
    );
    press(&mut app, &ws, key(KeyCode::Enter));
    assert_eq!(app.features.focus, Focus::Details);
    let out = render(&app, 120, 30);
    assert!(out.contains("rows 1-"), "{out}");
    assert!(out.contains("of 12040"), "{out}");
    // scroll down page by page through 7,000 rows
    while app.details.nav[0].cursor < 7_000 {
        press(&mut app, &ws, key(KeyCode::PageDown));
        let _ = render(&app, 120, 30);
    }
    let p = metadata_table(&app);
    assert!(p.table.rows.len() <= WINDOW_ROWS, "{}", p.table.rows.len());
    assert!(p.table.start > 0, "far rows were dropped");
    let c = app.details.nav[0].cursor;
    assert_eq!(p.table.row(c).unwrap()[0].text, uid_at(c));
    let out = render(&app, 120, 30);
    assert!(out.contains(&uid_at(c)), "{out}");
    // the newer rows won, the soft-deleted samples are gone
    let t = &metadata_table(&app).table;
    for i in t.start..t.end() {
        assert_eq!(t.row(i).unwrap()[0].text, uid_at(i), "row {i}");
    }
    // G: the last page
    press(&mut app, &ws, ch('G'));
    let t = &metadata_table(&app).table;
    assert_eq!(app.details.nav[0].cursor, 12_039);
    assert_eq!(t.end(), 12_040);
    assert_eq!(t.row(12_039).unwrap()[0].text, uid_at(12_039));
    let out = render_masked(&app, 120, 30);
    assert!(out.contains("-12040 of 12040"), "{out}");
    insta::assert_snapshot!("metadata_paged_end", out);
    // up from the end: previous pages, positions still exact
    for _ in 0..60 {
        press(&mut app, &ws, key(KeyCode::PageUp));
        let _ = render(&app, 120, 30);
    }
    let t = &metadata_table(&app).table;
    let c = app.details.nav[0].cursor;
    assert!(t.start < 12_040 - PAGE_ROWS, "{}", t.start);
    for i in t.start..t.end() {
        assert_eq!(t.row(i).unwrap()[0].text, uid_at(i), "row {i}");
    }
    assert!(c < 12_039);
    // g: the first page again
    press(&mut app, &ws, ch('g'));
    let t = &metadata_table(&app).table;
    assert_eq!((app.details.nav[0].cursor, t.start), (0, 0));
    assert_eq!(t.row(0).unwrap()[0].text, uid_at(0));
    // a mark survives scrolling away and back, and feeds the delete filter
    press(&mut app, &ws, ch('x'));
    assert_eq!(app.details.marked.len(), 1);
    press(&mut app, &ws, ch('G'));
    press(&mut app, &ws, ch('d'));
    match &app.overlay.dialog {
        Some(crate::tui::dialogs::Dialog::Delete(d)) => {
            let f = d.filter.lines().join(" ");
            assert!(f.contains(&uid_at(0)), "{f}");
        }
        _ => panic!("delete dialog"),
    }
}

/// `c` collapses the selected feature's key prefix into one node (status counts of its features), `c` on it
/// expands it again, `C` collapses every shared prefix and expands all; navigation moves between nodes.
#[test]
fn graph_screen_collapses_key_prefixes() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let _ = update(&mut app, ch('v'));
    let _ = update(&mut app, ch('c'));
    assert_eq!(app.graph.collapsed.len(), 1);
    let out = render(&app, 160, 40);
    assert!(out.contains("example/* (7)"), "{out}");
    assert!(!out.contains("example/video"), "{out}");
    assert!(out.contains("⚠ "), "{out}");
    insta::assert_snapshot!("graph_collapsed", out);
    // one node: moving finds nothing, the selection stays in the group
    let _ = update(&mut app, ch('l'));
    assert_eq!(selected_key(&app), "example/crop");
    let _ = update(&mut app, ch('c'));
    assert!(app.graph.collapsed.is_empty());
    assert!(render(&app, 160, 40).contains("example/crop"));
    let _ = update(&mut app, ch('C'));
    assert!(render(&app, 160, 40).contains("example/* (7)"));
    let _ = update(&mut app, ch('C'));
    assert!(!render(&app, 160, 40).contains("example/* (7)"));
}

/// Collapsing a prefix that a path leaves and re-enters would draw a cycle: refused with the prefix named.
#[test]
fn collapsing_a_prefix_that_would_draw_a_cycle_is_refused() {
    use crate::tui::screens::graph::layout::GraphModel;
    let mut g: crate::engine::graph::FeatureGraph = (*demo().graph).clone();
    let rename = |k: &FeatureKey| -> FeatureKey {
        let to = match k.to_string().as_str() {
            "example/video" => "a/video",
            "example/crop" => "b/crop",
            "example/face_detection" => "a/face",
            other => return FeatureKey::parse(other).unwrap(),
        };
        FeatureKey::parse(to).unwrap()
    };
    for f in &mut g.features {
        f.spec.key = rename(&f.spec.key);
        for d in &mut f.spec.deps {
            d.feature = rename(&d.feature);
        }
    }
    let set = |p: &[&str]| p.iter().map(|s| s.to_string()).collect();
    let e = GraphModel::new(&g, &set(&["a"])).unwrap_err();
    assert!(e.contains("a/*"), "{e}");
    let m = GraphModel::new(&g, &set(&["b", "example"])).unwrap();
    assert_eq!(m.labels.len(), 4, "{:?}", m.labels);
    assert!(m.labels.contains(&"b/* (1)".to_string()));
    let whole = GraphModel::features(&g);
    assert_eq!(whole.labels.len(), g.features.len());
}

/// `s` opens the column picker: hiding columns takes them off the Metadata table (id columns stay), the title
/// counts them; `<` / `>` narrow and widen every column.
#[test]
fn column_picker_hides_columns_and_widths_change() {
    let mut app = demo_app();
    select(&mut app, "example/video");
    let _ = update(&mut app, key(KeyCode::Enter));
    let before = render(&app, 140, 30);
    assert!(before.contains("path"), "{before}");
    let _ = update(&mut app, ch('s'));
    let out = render(&app, 140, 30);
    assert!(out.contains("Columns · 15 of 15 shown"), "{out}");
    assert!(out.contains("[id] sample_uid"), "{out}");
    insta::assert_snapshot!("column_picker", out);
    // the cursor starts on the first non-id column (path): hide it and the next one (frames)
    let _ = update(&mut app, ch(' '));
    let _ = update(&mut app, ch(' '));
    assert!(render(&app, 140, 30).contains("Columns · 13 of 15 shown"));
    let _ = update(&mut app, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
    let out = render(&app, 140, 30);
    assert!(out.contains("2 hidden"), "{out}");
    assert!(!out.contains("videos/s0000"), "{out}");
    assert!(out.contains("sample_uid"), "{out}");
    // Esc in the picker changes nothing
    let _ = update(&mut app, ch('s'));
    let _ = update(&mut app, ch('a'));
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.details.hidden_columns.len(), 2);
    // all shown again
    let _ = update(&mut app, ch('s'));
    let _ = update(&mut app, ch('a'));
    let _ = update(&mut app, key(KeyCode::Enter));
    assert!(app.details.hidden_columns.is_empty());
    // narrower columns: provenance structs get cut at 8 cells
    for _ in 0..10 {
        let _ = update(&mut app, ch('<'));
    }
    assert_eq!(app.details.column_width, 8);
    let out = render(&app, 140, 30);
    assert!(out.contains("videos/…"), "{out}");
    for _ in 0..60 {
        let _ = update(&mut app, ch('>'));
    }
    assert_eq!(app.details.column_width, crate::tui::view::WIDEST_COLUMN);
}

/// Runs commands through [`execute`] with a real open request (store switches open real stores).
fn pump_req(app: &mut App, mut cmds: Vec<Command>, req: &OpenRequest) {
    while let Some(cmd) = cmds.pop() {
        let mut msgs = vec![];
        execute(req, cmd, |m| {
            msgs.push(m);
            true
        });
        for m in msgs {
            cmds.extend(update(app, m));
        }
    }
}

/// `S` lists every configured store (default marked, the open one, type, hash, location, fallbacks) and opens
/// each in the background: reachable ones say what they hold, a missing file and an unsupported type say why
/// not; Enter opens another store (its graph and statuses), Enter on a broken one shows the error.
#[test]
fn stores_screen_lists_probes_and_switches_stores() {
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fallback");
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&src, tmp.path());
    let toml = tmp.path().join("metaxy.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        "\n[stores.broken]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\n[stores.broken.config]\ndatabase = \"${METAXY_FIXTURE_DIR:-.}/nowhere/metadata.duckdb\"\n",
    );
    std::fs::write(&toml, text).unwrap();
    let mut opts = OpenOptions {
        cwd: tmp.path().to_path_buf(),
        ..Default::default()
    };
    opts.env.insert(
        "METAXY_FIXTURE_DIR".into(),
        tmp.path().display().to_string(),
    );
    let req = OpenRequest { opts, demo: false };
    let mut app = App::new("fixture");
    let cmds = app.start();
    pump_req(&mut app, cmds, &req);
    let cmds = update(&mut app, ch('S'));
    assert_eq!(app.screen, crate::tui::app::Screen::Stores);
    pump_req(&mut app, cmds, &req);
    let out = render_masked(&app, 140, 20);
    assert!(out.contains("Stores (3)"), "{out}");
    assert!(out.contains("dev*"), "{out}");
    assert!(out.contains("fallbacks: prod"), "{out}");
    assert!(out.contains("✓ reachable · 3 feature table(s)"), "{out}");
    assert!(out.contains("✓ reachable · 7 feature table(s)"), "{out}");
    assert!(out.contains("✗ "), "{out}");
    insta::assert_snapshot!("stores", out);
    assert_eq!(app.breadcrumbs().last().unwrap(), "stores");
    // Enter on broken: an error popup, the store stays
    let rows = app.store_rows();
    let broken = rows.iter().position(|r| r.name == "broken").unwrap();
    let prod = rows.iter().position(|r| r.name == "prod").unwrap();
    while app.stores.cursor != broken {
        let k = if app.stores.cursor < broken { 'j' } else { 'k' };
        let _ = update(&mut app, ch(k));
    }
    let cmds = update(&mut app, key(KeyCode::Enter));
    assert!(cmds.is_empty());
    assert!(matches!(
        app.overlay.dialog,
        Some(crate::tui::dialogs::Dialog::Error { .. })
    ));
    let _ = update(&mut app, key(KeyCode::Esc));
    // Enter on prod: prod's graph and statuses
    while app.stores.cursor != prod {
        let k = if app.stores.cursor < prod { 'j' } else { 'k' };
        let _ = update(&mut app, ch(k));
    }
    let cmds = update(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            job: Job::SwitchStore { .. },
            ..
        }]
    ));
    pump_req(&mut app, cmds, &req);
    assert_eq!(app.workspace().unwrap().store.name(), "prod");
    assert_eq!(app.screen, crate::tui::app::Screen::Features);
    assert!(app.features.entries.iter().all(|f| f.report.is_some()));
    // r reloads prod, not the default store
    let cmds = update(&mut app, ch('r'));
    assert!(matches!(
        cmds.as_slice(),
        [Command::Task {
            job: Job::SwitchStore { .. },
            ..
        }]
    ));
}

/// A sort by a column reads the view once and pages it from memory: the same window rules, positions exact in
/// both directions (also when the window starts less than a page from the top).
#[test]
fn metadata_tab_pages_a_sorted_read_from_memory() {
    use crate::tui::app::{PageSource, WINDOW_ROWS};
    let (_tmp, ws, mut app, video) = big_video_app();
    press(&mut app, &ws, key(KeyCode::Enter));
    // O: sort by the first column (sample_uid), descending
    press(&mut app, &ws, ch('O'));
    let p = metadata_table(&app);
    assert!(matches!(p.source, PageSource::Memory(_)));
    assert_eq!(p.total, Some(12_040));
    let full = ws
        .read(&video, &crate::engine::query::read::ReadOptions::default())
        .unwrap()
        .unwrap();
    let ids = full.column("sample_uid").unwrap().str().unwrap();
    let uid_at = |i: usize| ids.get(12_039 - i).unwrap().to_string();
    let check = |app: &App| {
        let t = &metadata_table(app).table;
        for i in t.start..t.end() {
            assert_eq!(t.row(i).unwrap()[0].text, uid_at(i), "row {i}");
        }
        assert!(t.rows.len() <= WINDOW_ROWS);
    };
    while app.details.nav[0].cursor < 9_000 {
        press(&mut app, &ws, key(KeyCode::PageDown));
        let _ = render(&app, 120, 30);
    }
    check(&app);
    assert!(metadata_table(&app).table.start > 0);
    while app.details.nav[0].cursor > 100 {
        press(&mut app, &ws, key(KeyCode::PageUp));
        let _ = render(&app, 120, 30);
    }
    check(&app);
    assert_eq!(metadata_table(&app).table.start, 0);
    press(&mut app, &ws, ch('G'));
    check(&app);
    assert_eq!(app.details.nav[0].cursor, 12_039);
}

/// The page before a window that starts less than a page from the top is only the rows above it.
#[test]
fn previous_slice_never_overlaps_the_loaded_rows() {
    use crate::tui::app::{Fetch, LoadedPage, PageRequest, PageSource, PagedTable};
    use polars::prelude::*;
    let df = Arc::new(
        df!("sample_uid" => (0..2_000).map(|i| format!("s{i:05}")).collect::<Vec<_>>()).unwrap(),
    );
    let page = |start: usize, len: usize| {
        let rows = df.slice(start as i64, len);
        LoadedPage {
            table: crate::tui::view::frame_table(&rows, &["sample_uid".to_string()]).unwrap(),
            ids: rows.clone(),
            at_start: start == 0,
            at_end: start + len >= 2_000,
            source: Some(PageSource::Memory(df.clone())),
            total: Some(2_000),
            start: Some(start),
        }
    };
    let mut p = PagedTable::new(page(0, 500));
    p.apply(Fetch::Last, page(1_500, 500));
    assert_eq!((p.table.start, p.table.end()), (1_500, 2_000));
    // a window starting at 235
    p.table.start = 235;
    p.table.rows.truncate(100);
    p.at_start = false;
    match p.request(Fetch::Previous) {
        Some(PageRequest::Slice { start, len, .. }) => assert_eq!((start, len), (0, 235)),
        other => panic!("{other:?}"),
    }
    match p.request(Fetch::Next) {
        Some(PageRequest::Slice { start, len, .. }) => assert_eq!((start, len), (335, 500)),
        other => panic!("{other:?}"),
    }
}

/// `G` before the rows are counted waits for the count (then fetches the last page); a `g` meanwhile cancels it.
#[test]
fn jump_to_end_waits_for_the_count_and_g_cancels_it() {
    let (_tmp, ws, mut app, video) = big_video_app();
    press(&mut app, &ws, key(KeyCode::Enter));
    // as if the count were still running
    let k = video.clone();
    let reset = |app: &mut App| {
        if let Some(Load::Ready(Some(p))) = app.details.metadata.get_mut(&k) {
            p.total = None;
            p.table.counting = true;
        }
    };
    reset(&mut app);
    let cmds = update(&mut app, ch('G'));
    assert!(cmds.is_empty(), "nothing to fetch before the count");
    assert!(metadata_table(&app).pending_end);
    let _ = update(&mut app, ch('g'));
    assert!(!metadata_table(&app).pending_end);
    // G again, then the count arrives: the last page is fetched
    let _ = update(&mut app, ch('G'));
    let generation = app.generation;
    let view = app.details.view_generation;
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::RowCount {
                view,
                key: video.clone(),
                result: Ok(12_040),
            },
        },
    );
    assert!(
        matches!(
            cmds.as_slice(),
            [Command::Task {
                job: Job::FetchPage { .. },
                ..
            }]
        ),
        "the last page"
    );
    pump_with(&mut app, cmds, ws.clone());
    assert_eq!(app.details.nav[0].cursor, 12_039);
    assert_eq!(metadata_table(&app).table.end(), 12_040);
}

/// Issue 16 point 3: `d` `Enter` `Enter` (an empty filter = every row of the feature) deletes nothing; an
/// unfiltered soft delete goes through only once the feature key is typed.
#[test]
fn unfiltered_delete_needs_the_feature_key_typed() {
    let (_tmp, ws) = fixture_copy("duckdb", "s05_rebased");
    let mut app = app_on(&ws);
    select_in(&mut app, &ws, "example/stt");
    let before = live_rows(&ws, "example/stt");
    assert!(before > 0);
    press(&mut app, &ws, ch('d'));
    press(&mut app, &ws, key(KeyCode::Enter));
    let out = render_masked(&app, 120, 24);
    assert!(out.contains("will be soft-deleted"), "{out}");
    assert!(out.contains("Type example/stt to confirm"), "{out}");
    // Enter and y do nothing until the key is typed
    press(&mut app, &ws, key(KeyCode::Enter));
    press(&mut app, &ws, ch('y'));
    assert!(app.overlay.dialog.is_some(), "still waiting for the key");
    assert_eq!(live_rows(&ws, "example/stt"), before, "nothing deleted");
    // (y went into the confirmation field, as any key does there)
    press(&mut app, &ws, key(KeyCode::Backspace));
    // a wrong key does not confirm either
    type_in(&mut app, &ws, "example/st");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert_eq!(live_rows(&ws, "example/stt"), before, "nothing deleted");
    type_in(&mut app, &ws, "t");
    press(&mut app, &ws, key(KeyCode::Enter));
    assert!(
        app.overlay.dialog.is_none(),
        "dialog closes after the write"
    );
    assert_eq!(live_rows(&ws, "example/stt"), 0);
}

/// Live refresh (issue 16): a poll every `POLL_TICKS` ticks; an unchanged marker does nothing, a changed one
/// reopens the store in place: old statuses stay until recomputed, the selected feature and the table cursor
/// are kept.
#[test]
fn live_refresh_polls_and_reloads_in_place_keeping_the_cursor() {
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let cmds = update(&mut app, key(KeyCode::Enter));
    pump(&mut app, cmds);
    for _ in 0..3 {
        let cmds = update(&mut app, ch('j'));
        pump(&mut app, cmds);
    }
    assert_eq!(app.features.focus, Focus::Details);
    assert_eq!(app.details.nav[Tab::Metadata.index()].cursor, 3);
    let generation = app.generation;
    let mut polls = vec![];
    for _ in 0..crate::tui::live::POLL_TICKS {
        polls.extend(update(&mut app, Msg::Tick));
    }
    assert!(matches!(
        polls.as_slice(),
        [Command::Task {
            job: Job::PollStore { .. },
            ..
        }]
    ));
    pump(&mut app, polls);
    assert_eq!(
        app.generation, generation,
        "an unchanged store is not reloaded"
    );

    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::StoreChecked {
                marker: Some("changed".into()),
            },
        },
    );
    assert!(app.live.refreshing);
    assert!(matches!(app.ws, WorkspaceState::Ready(_)));
    assert_eq!(app.statuses_done(), app.features.entries.len());
    assert!(render(&app, 160, 30).contains("refreshing"));
    pump(&mut app, cmds);
    assert!(!app.live.refreshing);
    assert_eq!(app.generation, generation + 1);
    assert_eq!(
        app.selected_entry().map(|e| e.key.to_string()).as_deref(),
        Some("example/crop")
    );
    assert_eq!(app.details.nav[Tab::Metadata.index()].cursor, 3);
    assert_eq!(app.features.focus, Focus::Details);
    let crop = FeatureKey::parse("example/crop").unwrap();
    assert!(matches!(
        app.details.metadata.get(&crop),
        Some(Load::Ready(Some(_)))
    ));
    assert_eq!(app.statuses_done(), app.features.entries.len());
}

/// `L` turns live refresh off (no polls, shown in the status bar) and on again.
#[test]
fn live_refresh_toggles_with_a() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('a'));
    assert!(!app.live.enabled);
    let mut cmds = vec![];
    for _ in 0..3 * crate::tui::live::POLL_TICKS {
        cmds.extend(update(&mut app, Msg::Tick));
    }
    assert!(cmds.is_empty(), "no poll while live refresh is off");
    assert!(render(&app, 160, 30).contains("(live refresh off)"));
    let _ = update(&mut app, ch('a'));
    assert!(app.live.enabled);
    assert!(!render(&app, 160, 30).contains("(live refresh off)"));
}

/// A store busy with another process's write is transient: no error popup, no failed screen, a status-bar note,
/// and the open (or a refresh) is retried.
#[test]
fn a_busy_store_is_retried_not_reported_as_an_error() {
    let busy = crate::engine::error::EngineError::Busy {
        store: "dev".into(),
        location: "/x/metadata.duckdb".into(),
        waited_s: 5,
    }
    .to_string();
    // the first open finds the store busy: still opening, retried after a poll period
    let mut app = App::new("metaxy.toml discovered from /work/project");
    let _ = app.start();
    let generation = app.generation;
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Opened {
                result: Err(busy.clone()),
            },
        },
    );
    assert!(cmds.is_empty());
    assert!(matches!(app.ws, WorkspaceState::Opening));
    assert!(render(&app, 120, 20).contains("store busy (being written), retrying"));
    let mut cmds = vec![];
    for _ in 0..crate::tui::live::POLL_TICKS {
        cmds.extend(update(&mut app, Msg::Tick));
    }
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::Task { job: Job::Open, .. })));
    pump(&mut app, cmds);
    assert!(matches!(app.ws, WorkspaceState::Ready(_)));
    assert!(!app.live.busy());

    // a read that gave up on a busy store: no popup, the note, a refresh at the next poll
    let crop = FeatureKey::parse("example/crop").unwrap();
    let generation = app.generation;
    let view = app.details.view_generation;
    let _ = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Metadata {
                key: crop,
                result: Err(busy),
                view,
            },
        },
    );
    assert!(app.overlay.dialog.is_none());
    assert!(render(&app, 160, 30).contains("store busy (being written), retrying"));
    let mut cmds = vec![];
    for _ in 0..crate::tui::live::POLL_TICKS {
        cmds.extend(update(&mut app, Msg::Tick));
    }
    pump(&mut app, cmds);
    assert_eq!(
        app.generation,
        generation + 1,
        "refreshed after the busy read"
    );
    assert!(!app.live.busy());
    // the runtime's lock-wait note
    let _ = update(&mut app, Msg::LockWait(true));
    assert!(render(&app, 160, 30).contains("store busy (being written), retrying"));
    let _ = update(&mut app, Msg::LockWait(false));
    assert!(!app.live.busy());
}

/// The SQL console on the demo store: `Q` opens it with an example query on the selected feature, F5 runs the
/// query in the background (the views of the engine's `run_sql`), the result is a table; Tab, `o` sorts, Enter shows
/// a row; a refused statement shows its error in place; Ctrl-P recalls the earlier query; Esc leaves.
#[test]
fn sql_console_runs_queries_shows_errors_in_place_and_recalls_history() {
    let mut app = demo_app();
    let cmds = update(&mut app, ch('Q'));
    pump(&mut app, cmds);
    assert_eq!(app.screen, crate::tui::screens::Screen::Sql);
    assert!(
        app.console.query().contains("\"example/video\""),
        "{}",
        app.console.query()
    );
    app.console.set_query(
        "SELECT kind, sample_uid, metaxy_provenance\nFROM increment.\"example/crop\"\nORDER BY kind, sample_uid",
    );
    let cmds = update(&mut app, key(KeyCode::F(5)));
    assert!(
        app.console.running.is_some(),
        "the query runs in the background"
    );
    assert!(render(&app, 120, 30).contains("Esc cancels"));
    pump(&mut app, cmds);
    assert!(app.console.running.is_none());
    let r = app.console.result.as_ref().expect("a result");
    assert_eq!(r.frame.height(), 20, "5 new, 10 stale, 5 orphaned");
    assert_eq!(r.views, vec!["increment.\"example/crop\""]);
    // the time taken is not stable: mask it
    let masked = |s: String| {
        // the timing and the padding after it (its width follows the number of digits) masked
        regex::Regex::new(r#"(?m)in \d+ ms(.*?) *"$"#)
            .unwrap()
            .replace(&s, r#"in N ms$1""#)
            .into_owned()
    };
    insta::assert_snapshot!("sql_console", masked(render(&app, 120, 30)));

    // Tab to the results, sort by the first column descending, row detail
    for m in [key(KeyCode::Tab), ch('O')] {
        let cmds = update(&mut app, m);
        pump(&mut app, cmds);
    }
    assert_eq!(app.console.sort, Some((0, true)));
    let first = &app.console.result.as_ref().unwrap().table.rows[0][0].text;
    assert_eq!(first, "stale");
    let cmds = update(&mut app, key(KeyCode::Enter));
    pump(&mut app, cmds);
    assert!(matches!(
        app.overlay.dialog,
        Some(crate::tui::dialogs::Dialog::RowDetail { .. })
    ));
    let cmds = update(&mut app, key(KeyCode::Esc));
    pump(&mut app, cmds);

    // a write is refused, in place
    let cmds = update(&mut app, key(KeyCode::Esc));
    pump(&mut app, cmds);
    assert_eq!(
        app.console.focus,
        crate::tui::screens::sql::ConsoleFocus::Editor
    );
    app.console.set_query("DROP VIEW \"example/crop\"");
    let cmds = update(&mut app, key(KeyCode::F(5)));
    pump(&mut app, cmds);
    let e = app.console.error.clone().expect("an error");
    assert!(e.starts_with("refused:"), "{e}");
    assert!(render(&app, 120, 30).contains("refused: only read-only queries"));

    // history: Ctrl-P twice recalls the first query
    for _ in 0..2 {
        let cmds = update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL)),
        );
        pump(&mut app, cmds);
    }
    assert!(
        app.console.query().starts_with("SELECT kind"),
        "{}",
        app.console.query()
    );
    // typed keys go to the editor (q does not quit)
    let cmds = update(&mut app, ch('q'));
    pump(&mut app, cmds);
    assert!(!app.should_quit);
    let cmds = update(&mut app, key(KeyCode::Esc));
    pump(&mut app, cmds);
    assert_eq!(app.screen, crate::tui::screens::Screen::Features);
}

/// `s` on the SQL console's result opens the column picker over the result's columns: hiding two takes them off
/// the result table (the status line counts them), the Metadata table's hidden columns stay untouched, and the
/// choice survives the next query.
#[test]
fn sql_console_column_picker_hides_result_columns() {
    let mut app = demo_app();
    let cmds = update(&mut app, ch('Q'));
    pump(&mut app, cmds);
    app.console.set_query(
        "SELECT sample_uid, path, metaxy_provenance, metaxy_feature_version\nFROM \"example/video\"\nORDER BY sample_uid LIMIT 5",
    );
    let cmds = update(&mut app, key(KeyCode::F(5)));
    pump(&mut app, cmds);
    for m in [key(KeyCode::Tab), ch('s')] {
        let cmds = update(&mut app, m);
        pump(&mut app, cmds);
    }
    let out = render(&app, 120, 30);
    assert!(out.contains("Columns · 4 of 4 shown"), "{out}");
    // the time taken is not stable: mask it
    let masked = regex::Regex::new(r#"(?m)in \d+ ms(.*?) *"$"#)
        .unwrap()
        .replace(&out, r#"in N ms$1""#)
        .into_owned();
    insta::assert_snapshot!("sql_console_column_picker", masked);
    // hide path (the cursor starts on the first column: move down once) and metaxy_provenance
    for m in [ch('j'), ch(' '), ch(' ')] {
        let _ = update(&mut app, m);
    }
    assert!(render(&app, 120, 30).contains("Columns · 2 of 4 shown"));
    let _ = update(&mut app, key(KeyCode::Enter));
    assert!(app.overlay.dialog.is_none());
    assert!(app.details.hidden_columns.is_empty());
    let out = render(&app, 120, 30);
    assert!(out.contains("2 hidden"), "{out}");
    assert!(!out.contains("videos/s0000"), "{out}");
    assert!(out.contains("metaxy_feature_version"), "{out}");
    // the next query keeps them hidden
    let cmds = update(&mut app, key(KeyCode::F(5)));
    pump(&mut app, cmds);
    assert!(!render(&app, 120, 30).contains("videos/s0000"));
}

/// `L` on a Stale row opens the lookup screen on that sample: every feature with its state (stale in crop, the
/// 1:N chunks listed one by one, the N:1 summary), Enter shows the row with its cause, `d` prefills the delete
/// dialog with the sample's ids, Esc goes back; the palette looks typed ids up.
#[test]
fn lookup_screen_shows_the_sample_in_every_feature() {
    use crate::engine::versioning::lookup::SampleState;
    use crate::tui::screens::Screen;
    let mut app = demo_app();
    select(&mut app, "example/crop");
    let cmds = update(&mut app, ch('3'));
    pump(&mut app, cmds);
    let cmds = update(&mut app, key(KeyCode::Enter));
    pump(&mut app, cmds);
    let cmds = update(&mut app, ch('L'));
    assert_eq!(app.screen, Screen::Lookup);
    assert!(render(&app, 140, 30).contains("looking up sample_uid=s000010"));
    pump(&mut app, cmds);
    let Some(Load::Ready(l)) = &app.lookup.result else {
        panic!("lookup not done");
    };
    let crop = l
        .features
        .iter()
        .find(|f| f.feature == "example/crop")
        .unwrap();
    assert_eq!(crop.samples[0].state, SampleState::Stale);
    let out = render(&app, 140, 32);
    assert!(out.contains("Lookup · sample_uid=s000010"), "{out}");
    assert!(out.contains("chunk_idx=1"), "{out}");
    insta::assert_snapshot!("lookup_s000010", out);

    // the crop line: Enter shows the row and why it is stale
    let crop_line = crate::tui::screens::lookup::lookup_lines(l)
        .iter()
        .position(|x| l.features[x.feature].feature == "example/crop")
        .unwrap();
    for _ in 0..crop_line {
        let _ = update(&mut app, ch('j'));
    }
    let _ = update(&mut app, key(KeyCode::Enter));
    let out = render(&app, 140, 32);
    assert!(out.contains("stale because"), "{out}");
    assert!(out.contains("metaxy_provenance_by_field"), "{out}");
    let _ = update(&mut app, key(KeyCode::Esc));
    // d: the delete dialog of crop, prefilled with the sample
    let cmds = update(&mut app, ch('d'));
    pump(&mut app, cmds);
    let out = render(&app, 140, 32);
    assert!(
        out.contains("CAST(\"sample_uid\" AS VARCHAR) IN ('s000010')"),
        "{out}"
    );
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.dialog.is_none());
    // Esc: back where L was pressed
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Features);
    // the palette: typed ids
    let _ = update(&mut app, ch(':'));
    type_keys(&mut app, "lookup sample_uid=s000050");
    let cmds = update(&mut app, key(KeyCode::Enter));
    pump(&mut app, cmds);
    assert_eq!(app.screen, Screen::Lookup);
    let out = render(&app, 140, 32);
    assert!(out.contains("sample_uid=s000050"), "{out}");
    assert!(out.contains("new"), "{out}");
}

/// The load commands among `cmds`: `(feature, whether an increment the status job resolved is reused)`.
fn increment_loads(cmds: &[Command]) -> Vec<(String, bool)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Task {
                job: Job::LoadIncrement { key, seed, .. },
                ..
            } => Some((key.to_string(), seed.is_some())),
            _ => None,
        })
        .collect()
}

/// The status job counts: the same statuses as the full computation (`metaxy metadata status`), without the
/// increment's frames where the store counts them, with the full increment where it declines.
#[test]
fn counts_first_statuses_equal_the_full_ones_and_hold_no_frames() {
    let ws = demo();
    let (mut counted, mut declined) = (vec![], vec![]);
    for f in &ws.graph.features {
        let k = &f.spec.key;
        let full = ws.status(k, &ResolveOptions::default());
        let fast = ws.status_counts_first(k, &ResolveOptions::default());
        assert_eq!(fast.to_json(), full.to_json(), "{k}");
        // where the store declines (lineage other than 1:1, for one), the full increment comes along, for reuse
        match (&fast.increment, &full.increment) {
            (Some(a), Some(b)) => {
                declined.push(k.to_string());
                for (x, y) in [
                    (&a.new, &b.new),
                    (&a.stale, &b.stale),
                    (&a.orphaned, &b.orphaned),
                ] {
                    assert!(x.equals_missing(y), "{k}: {x} vs {y}");
                }
            }
            (None, Some(_)) => counted.push(k.to_string()),
            (None, None) => assert!(fast.is_root_feature, "{k}"),
            (Some(_), None) => panic!("{k}: increment without the full path"),
        }
    }
    assert!(counted.contains(&"example/crop".to_string()), "{counted:?}");
    assert_eq!(
        declined,
        [
            "example/chunk",
            "example/chunk_summary",
            "example/av_report"
        ]
    );
}

/// Selecting a feature dispatches its increment load once; meanwhile the increment tabs show the counts and a
/// loading line, not empty tables; once loaded the tables are there and selecting it again loads nothing.
#[test]
fn selecting_a_feature_loads_its_increment_once_and_shows_loading_meanwhile() {
    let mut app = demo_app();
    assert!(app.details.increments.keys().is_empty(), "root feature");
    let _ = update(&mut app, ch('3'));
    let cmds = update(&mut app, ch('j'));
    assert_eq!(
        increment_loads(&cmds),
        [("example/crop".to_string(), false)]
    );
    let crop = FeatureKey::parse("example/crop").unwrap();
    assert!(matches!(
        app.details.increments.get(&crop),
        Some(Load::Loading)
    ));
    assert!(app.current_table().is_none());
    let out = render(&app, 120, 30);
    assert!(out.contains("3 Stale (10)"), "{out}");
    assert!(
        out.contains("Loading the increment of example/crop…"),
        "{out}"
    );
    assert!(
        out.contains("5 new · 10 stale · 5 orphaned (counted"),
        "{out}"
    );
    insta::assert_snapshot!("increment_loading", out);
    // away and back while it loads: no second load
    let again = [update(&mut app, ch('k')), update(&mut app, ch('j'))].concat();
    assert!(
        increment_loads(&again).is_empty(),
        "{:?}",
        increment_loads(&again)
    );
    pump(&mut app, cmds);
    assert!(app.details.increments.current(&crop).is_some());
    assert!(app.details.increments.in_flight.is_none());
    assert_eq!(app.current_table().unwrap().total_rows, 10);
    let out = render(&app, 120, 30);
    assert!(out.contains("s000010"), "{out}");
    assert!(out.contains("why: 10 stale"), "{out}");
    let again = [update(&mut app, ch('k')), update(&mut app, ch('j'))].concat();
    assert!(increment_loads(&again).is_empty());
}

/// A load's result from before a live refresh is dropped; the feature loads again once its new status is
/// known, and the loaded increment stays shown meanwhile.
#[test]
fn an_increment_of_an_older_generation_is_ignored() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('3'));
    let cmds = update(&mut app, ch('j'));
    let [Command::Task {
        generation, job, ..
    }] = cmds.as_slice()
    else {
        panic!("one load");
    };
    let (old_generation, job) = (*generation, job.clone());
    let crop = FeatureKey::parse("example/crop").unwrap();
    let refresh = app.refresh();
    assert!(
        app.details.increments.get(&crop).is_none(),
        "loading dropped"
    );
    // no load while the store is reopened (it would read the old one)
    let meanwhile = [update(&mut app, ch('k')), update(&mut app, ch('j'))].concat();
    assert!(increment_loads(&meanwhile).is_empty());
    let mut late = vec![];
    execute(
        &OpenRequest::default(),
        Command::Task {
            generation: old_generation,
            cancel: Default::default(),
            job,
        },
        |m| {
            late.push(m);
            true
        },
    );
    assert!(matches!(
        late.as_slice(),
        [Msg::Done {
            result: JobResult::IncrementLoaded { .. },
            ..
        }]
    ));
    for m in late {
        assert!(update(&mut app, m).is_empty());
    }
    assert!(
        app.details.increments.get(&crop).is_none(),
        "late result ignored"
    );
    pump(&mut app, refresh);
    assert!(
        app.details.increments.current(&crop).is_some(),
        "loaded again"
    );
    // a second refresh: the loaded increment stays shown (outdated) until loaded again
    let refresh = app.refresh();
    assert!(app.details.increments.is_outdated(&crop));
    assert_eq!(app.current_table().unwrap().total_rows, 10);
    pump(&mut app, refresh);
    assert!(!app.details.increments.is_outdated(&crop));
}

/// Only the last few selected features keep their increment.
#[test]
fn loaded_increments_are_bounded_to_the_last_selected() {
    use crate::tui::screens::details::increments::KEPT_INCREMENTS;
    let mut app = demo_app();
    let order = [
        "example/crop",
        "example/face_detection",
        "example/stt",
        "example/chunk",
        "example/chunk_summary",
        "example/av_report",
    ];
    for k in order {
        select(&mut app, k);
    }
    let kept: Vec<String> = app
        .details
        .increments
        .keys()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(kept, order[order.len() - KEPT_INCREMENTS..]);
    // a dropped one loads again when selected
    let cmds = update(&mut app, ch('g'));
    assert!(increment_loads(&cmds).is_empty(), "root feature");
    let i = feature_index(&app, "example/crop");
    let mut loads = vec![];
    for _ in 0..i {
        let cmds = update(&mut app, ch('j'));
        loads.extend(increment_loads(&cmds));
        pump(&mut app, cmds);
    }
    assert_eq!(loads, [("example/crop".to_string(), false)]);
    assert_eq!(app.details.increments.keys().len(), KEPT_INCREMENTS);
}

/// Where the status job resolved the increment anyway (the store declined to count), the load reuses it: the
/// job carries it and shows the same tables.
#[test]
fn an_increment_the_status_job_resolved_is_reused() {
    let ws = demo();
    let mut app = App::new("demo");
    let _ = app.start();
    let generation = app.generation;
    let _ = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Opened {
                result: Ok(ws.clone()),
            },
        },
    );
    let crop = FeatureKey::parse("example/crop").unwrap();
    select(&mut app, "example/crop");
    // the full status (what a declining store gives): carries the increment
    let status = ws.status(&crop, &ResolveOptions::default());
    assert!(status.increment.is_some());
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::Status {
                report: Box::new(StatusReport::build(status)),
            },
        },
    );
    assert_eq!(increment_loads(&cmds), [("example/crop".to_string(), true)]);
    pump(&mut app, cmds);
    let _ = update(&mut app, ch('3'));
    let t = app.current_table().expect("stale table");
    let inc = ws.increment(&crop, &ResolveOptions::default()).unwrap();
    let expected =
        crate::tui::view::LoadedIncrement::build_with_causes(inc, ws.store.as_ref(), &ws.graph);
    assert_eq!(*t, expected.tables.unwrap().stale);
    assert_eq!(t.total_rows, 10);
}

/// A failed load shows its error in place of the tables (no popup); one that met a store busy with another
/// process's write is forgotten (loaded again later) and a refresh is retried.
#[test]
fn a_failed_increment_load_shows_in_place_and_a_busy_one_is_retried() {
    let mut app = demo_app();
    let _ = update(&mut app, ch('3'));
    let cmds = update(&mut app, ch('j'));
    assert_eq!(increment_loads(&cmds).len(), 1);
    let crop = FeatureKey::parse("example/crop").unwrap();
    let generation = app.generation;
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::IncrementLoaded {
                key: crop.clone(),
                result: Err("reading example/video failed: boom".into()),
            },
        },
    );
    assert!(increment_loads(&cmds).is_empty(), "not retried by itself");
    assert!(app.overlay.dialog.is_none());
    let out = render(&app, 120, 30);
    assert!(
        out.contains("! Loading the increment of example/crop failed:"),
        "{out}"
    );
    assert!(out.contains("reading example/video failed: boom"), "{out}");
    // a reload loads it again; this time the store is busy
    let cmds = update(&mut app, ch('r'));
    pump(&mut app, cmds);
    assert!(app.details.increments.current(&crop).is_some());
    app.details.increments.clear();
    let cmds = [update(&mut app, ch('k')), update(&mut app, ch('j'))].concat();
    assert_eq!(increment_loads(&cmds).len(), 1);
    let busy = format!("the store is {}", crate::engine::error::BUSY_MARK);
    let generation = app.generation;
    let _ = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::IncrementLoaded {
                key: crop.clone(),
                result: Err(busy),
            },
        },
    );
    assert!(app.details.increments.get(&crop).is_none());
    assert!(app.details.increments.in_flight.is_none());
    assert!(app.live.retry);
    assert!(app.overlay.dialog.is_none());
}

/// A loaded increment that holds only the store's first pages (what the load job gets from ClickHouse, stood in
/// for here by a window of the engine's increment): the tabs show the window titled with the store's totals; `f`
/// filters and `e` exports the whole increment, computed in the background (`FilterIncrement` without an
/// increment, `ExportWholeIncrement`), not the window.
#[test]
fn a_window_paged_in_the_store_is_filtered_and_exported_whole() {
    use crate::engine::versioning::pages::PagedIncrement;
    use crate::tui::view::LoadedIncrement;
    let (tmp, ws) = fixture_copy("duckdb", "s02_mutated");
    let mut app = app_on(&ws);
    app.env.cwd = tmp.path().to_path_buf();
    select_in(&mut app, &ws, "example/crop");
    let crop = FeatureKey::parse("example/crop").unwrap();
    let inc = ws.increment(&crop, &ResolveOptions::default()).unwrap();
    let totals = (inc.new.height(), inc.stale.height(), inc.orphaned.height());
    assert_eq!(totals.1, 10);
    let mut window = inc.clone();
    window.new = inc.new.head(Some(3));
    window.stale = inc.stale.head(Some(3));
    window.stale_previous = inc.stale_previous.head(Some(3));
    window.orphaned = inc.orphaned.head(Some(3));
    let loaded = LoadedIncrement::from_pages(
        PagedIncrement {
            increment: window,
            totals,
            offsets: (0, 0, 0),
        },
        ws.store.as_ref(),
        &ws.graph,
    );
    assert!(loaded.paged_in_store);
    let generation = app.generation;
    let cmds = update(
        &mut app,
        Msg::Done {
            generation,
            result: JobResult::IncrementLoaded {
                key: crop.clone(),
                result: Ok(Box::new(loaded)),
            },
        },
    );
    pump_with(&mut app, cmds, ws.clone());
    press(&mut app, &ws, ch('3'));
    let t = app.current_table().expect("stale window");
    assert_eq!((t.rows.len(), t.total_rows), (3, 10));
    let out = render_masked(&app, 180, 30);
    assert!(out.contains("3 Stale (10)"), "{out}");
    assert!(out.contains("why: first 3 of 10:"), "{out}");
    // the filter selects rows beyond the window: computed on the whole increment
    press(&mut app, &ws, ch('f'));
    type_in(&mut app, &ws, "sample_uid < 's000020'");
    let cmds = update(&mut app, key(KeyCode::Enter));
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Command::Task {
                job: Job::FilterIncrement { inc: None, key, .. },
                ..
            } if key == &crop
        )),
        "the whole increment is filtered"
    );
    pump_with(&mut app, cmds, ws.clone());
    let t = app.current_table().expect("filtered stale table");
    assert_eq!(t.total_rows, 4, "s000010, s000011, s000014, s000016");
    assert!(render_masked(&app, 180, 30).contains("3 Stale (4/10)"));
    // the export writes the filtered rows of the whole increment
    press(&mut app, &ws, ch('e'));
    let cmds = update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(
            cmds.as_slice(),
            [Command::Task {
                job: Job::ExportWholeIncrement { .. },
                ..
            }]
        ),
        "the whole increment is exported"
    );
    pump_with(&mut app, cmds, ws.clone());
    let toast = app.toast.clone().unwrap();
    assert!(
        toast
            .text
            .contains("exported 4 stale samples of example/crop"),
        "{toast:?}"
    );
    use polars::prelude::SerReader;
    let back = polars::prelude::ParquetReader::new(
        std::fs::File::open(tmp.path().join("example__crop.stale.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    assert_eq!(back.height(), 4);
}
