//! The TUI end to end: the real `metaxy-tui` binary (no subcommand = terminal UI) runs in a detached tmux session
//! inside a copy of the `duckdb/s02_mutated` fixture; the test reads the screen with `tmux capture-pane`, sends
//! keys with `tmux send-keys`, and checks that `q` ends the process with exit status 0 and a restored terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A private tmux server (its own socket file under `tmp`) running one session; killed on drop, also when the
/// test fails.
struct Tmux {
    socket: PathBuf,
    session: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Starts `program` in `dir` on a `width`x`height` terminal, with the server socket and config in `tmp`.
    /// Panes stay after their process exits (`remain-on-exit`) so that the exit status can be read.
    fn start(tmp: &Path, dir: &Path, program: &Path, width: u16, height: u16) -> Self {
        let t = Self {
            socket: tmp.join("tmux.sock"),
            session: format!("mxtui-e2e-{}", std::process::id()),
        };
        let conf = tmp.join("tmux.conf");
        std::fs::write(&conf, "set -g remain-on-exit on\n").unwrap();
        let settings = std::env::var("E2E_TUI_CONFIG")
            .map(|p| format!("METAXY_TUI_CONFIG='{p}' "))
            .unwrap_or_else(|_| "METAXY_TUI_CONFIG=/dev/null ".into());
        let cmdline = format!(
            "env -u METAXY_CONFIG {settings}METAXY_FIXTURE_DIR='{}' TERM=xterm-256color '{}'",
            dir.display(),
            program.display()
        );
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&t.socket)
            .arg("-f")
            .arg(&conf)
            .args([
                "new-session",
                "-d",
                "-s",
                &t.session,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-c",
            ])
            .arg(dir)
            .arg(cmdline)
            .output()
            .expect("running tmux");
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["capture-pane", "-p", "-t", &self.session])
                .stdout,
        )
        .into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(
            out.status.success(),
            "send-keys {keys:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits for the exit status of the pane's process once the pane is dead. tmux 3.3a sometimes misses the
    /// SIGCHLD of a pane process (the pane is dead, the process a zombie, `pane_dead_status` empty) until another
    /// child of the server exits: `run-shell true` makes it reap.
    fn exit_status(&self) -> Option<String> {
        let (dead, status) = self.pane_state();
        if dead != "1" {
            return None;
        }
        if !status.is_empty() {
            return Some(status);
        }
        let _ = self.cmd(&["run-shell", "true"]);
        let status = self.pane_state().1;
        (!status.is_empty()).then_some(status)
    }

    /// `(pane_dead, pane_dead_status)`.
    fn pane_state(&self) -> (String, String) {
        let out = self.cmd(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{pane_dead} #{pane_dead_status}",
        ]);
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (dead, status) = s.split_once(' ').unwrap_or((s.as_str(), ""));
        (dead.to_string(), status.to_string())
    }

    /// Polls the screen until `ok` holds and the frame has settled, panicking with the last screen after
    /// [`TIMEOUT`]. A capture can land while a frame is still being written, so a matching screen is returned only
    /// when the next capture (100 ms later) is the same, or after 2 s of matching screens that keep changing (a
    /// spinner).
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut matched: Option<(String, Instant)> = None;
        loop {
            let s = self.screen();
            if ok(&s) {
                match &matched {
                    Some((prev, since))
                        if *prev == s || since.elapsed() > Duration::from_secs(2) =>
                    {
                        return s;
                    }
                    Some((_, since)) => matched = Some((s.clone(), *since)),
                    None => matched = Some((s.clone(), Instant::now())),
                }
            } else {
                matched = None;
            }
            if self.pane_state().0 == "1" {
                panic!("metaxy-tui exited while waiting for {what}; last screen:\n{s}");
            }
            if start.elapsed() > TIMEOUT {
                panic!("timed out after {TIMEOUT:?} waiting for {what}; last screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(e.path()).unwrap()).unwrap();
        }
    }
}

fn require_tmux() {
    match Command::new("tmux").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "the TUI end-to-end test needs tmux, which is not installed (or not on PATH): install it \
             (e.g. `apt-get install tmux`); CI installs it in .ci/run"
        ),
    }
}

/// The line of `screen` containing `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{screen}"))
}

#[test]
fn tui_browses_statuses_and_stale_diffs_then_quits() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s02_mutated");
    assert!(
        fixture.join("metaxy.toml").is_file(),
        "fixture missing: {}",
        fixture.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s02_mutated");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));

    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        160,
        45,
    );

    // every status computed (no spinner "computing…" left)
    let screen = tmux.wait_for("all feature statuses", |s| {
        s.contains("example/av_report")
            && s.contains("stale")
            && !s.contains("computing…")
            && !s.contains("statuses ")
    });
    for (key, status) in [
        ("○ example/video", "root"),
        ("⚠ example/crop", "5 new · 10 stale · 5 orphaned"),
        ("✓ example/face_detection", "up to date"),
        ("⚠ example/stt", "11 new · 3 stale · 3 orphaned"),
        ("⚠ example/chunk ", "5 new · 10 stale · 5 orphaned"),
        ("✓ example/chunk_summary", "up to date"),
        ("✓ example/av_report", "up to date"),
    ] {
        let line = line_with(&screen, key);
        assert!(
            line.contains(status),
            "{key}: expected {status:?} in {line:?}\n{screen}"
        );
    }
    assert!(
        screen.contains("store dev (DuckDBMetadataStore"),
        "status bar shows the store:\n{screen}"
    );
    assert!(
        screen.contains("hash xxhash32"),
        "status bar shows the hash algorithm:\n{screen}"
    );
    assert!(
        !screen.contains("DEMO store"),
        "a configured store is not the demo:\n{screen}"
    );
    // the first feature's default read is shown
    tmux.wait_for("the metadata of example/video", |s| {
        s.contains("example/video · Metadata") && s.contains("rows 1-")
    });

    // select example/crop (second feature) and open the Stale tab
    tmux.send(&["j"]);
    tmux.wait_for("example/crop selected", |s| {
        s.contains("example/crop · Metadata")
    });
    tmux.send(&["3"]);
    let screen = tmux.wait_for("the stale tab of example/crop", |s| {
        s.contains("example/crop · Stale") && s.contains("s000010")
    });
    assert!(screen.contains("3 Stale (10)"), "{screen}");
    // why: the upstream fields whose data versions changed, aggregated and per sample
    let screen = tmux.wait_for("the stale causes", |s| s.contains("why: 10 stale"));
    assert!(
        screen.contains(
            "why: 10 stale: 5 because example/video.audio changed, 5 because example/video.frames changed"
        ),
        "{screen}"
    );
    assert!(screen.contains("rows 1-10 of 10"), "{screen}");
    for id in [
        "s000010", "s000011", "s000014", "s000016", "s000024", "s000028", "s000029", "s000031",
        "s000035", "s000048",
    ] {
        let line = line_with(&screen, id);
        assert!(line.contains('→'), "{id} shows a provenance diff: {line}");
    }
    // fields changed per the scenario: audio for s000010, frames for s000011 (2 arrows: field + metaxy_provenance)
    assert_eq!(line_with(&screen, "s000010").matches('→').count(), 2);
    assert_eq!(line_with(&screen, "s000011").matches('→').count(), 2);

    // New tab lists the samples added to the root
    tmux.send(&["2"]);
    let screen = tmux.wait_for("the new tab", |s| s.contains("example/crop · New"));
    for id in ["s000050", "s000051", "s000052", "s000053", "s000054"] {
        assert!(screen.contains(id), "{id} in New:\n{screen}");
    }

    // the graph screen draws the DAG with the selection's neighbourhood; Esc goes back
    tmux.send(&["v"]);
    let screen = tmux.wait_for("the graph screen", |s| {
        s.contains("Feature graph") && s.contains("1 upstream · 2 downstream")
    });
    assert!(screen.contains("▶"), "{screen}");
    tmux.send(&["Escape"]);
    tmux.wait_for("the feature list again", |s| s.contains("Features (7)"));

    // help overlay opens and closes
    tmux.send(&["?"]);
    tmux.wait_for("the help overlay", |s| {
        s.contains("Keys") && s.contains("toggle this help")
    });
    tmux.send(&["Escape"]);
    tmux.wait_for("the help overlay to close", |s| {
        !s.contains("toggle this help")
    });

    quit_and_check_restored(&tmux);
}

/// `q` quits: the process ends with status 0 and the alternate screen is gone.
fn quit_and_check_restored(tmux: &Tmux) {
    tmux.send(&["q"]);
    let start = Instant::now();
    loop {
        if let Some(status) = tmux.exit_status() {
            assert_eq!(
                status,
                "0",
                "exit status of metaxy-tui after q; screen:\n{}",
                tmux.screen()
            );
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "metaxy-tui did not exit after q; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let screen = tmux.screen();
    assert!(
        !screen.contains("Features (7)"),
        "terminal restored (alternate screen left):\n{screen}"
    );
}

/// Rows of `feature` in a default read, by the real binary's headless `metadata read`.
fn read_count(dir: &Path, feature: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .args([
            "metadata", "read", feature, "--format", "json", "--limit", "0",
        ])
        .current_dir(dir)
        .env("METAXY_FIXTURE_DIR", dir)
        .env_remove("METAXY_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["count"].as_u64().unwrap()
}

#[test]
fn tui_rebases_and_deletes_only_after_confirmation() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s04_version_bump");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s04");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    let stt_before = read_count(&dir, "example/stt");
    assert_eq!(
        read_count(&dir, "example/crop"),
        0,
        "s04: crop not yet rebased"
    );

    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        150,
        40,
    );
    tmux.wait_for("all feature statuses", |s| {
        s.contains("example/av_report") && !s.contains("computing…") && !s.contains("statuses ")
    });

    // rebase example/crop: pick, preview, cancel
    tmux.send(&["j"]);
    tmux.wait_for("example/crop selected", |s| {
        s.contains("example/crop · Metadata")
    });
    tmux.send(&["R"]);
    tmux.wait_for("the rebase picker", |s| {
        s.contains("Rebase example/crop onto ea834040 (current)") && s.contains("34d75856")
    });
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the rebase preview", |s| {
        s.contains("50 row(s) of 34d75856 will be rewritten as ea834040")
    });
    assert!(screen.contains("frames 42584848 → 28063681"), "{screen}");
    tmux.send(&["Escape"]);
    tmux.wait_for("the dialog to close", |s| !s.contains("will be rewritten"));
    assert_eq!(
        read_count(&dir, "example/crop"),
        0,
        "cancelled rebase wrote nothing"
    );

    // again, confirmed
    tmux.send(&["R"]);
    tmux.wait_for("the rebase picker", |s| s.contains("Rebase example/crop"));
    tmux.send(&["Enter"]);
    tmux.wait_for("the rebase preview", |s| s.contains("will be rewritten"));
    tmux.send(&["y"]);
    tmux.wait_for("the rebase toast", |s| {
        s.contains("rebased 50 row(s) of example/crop")
    });
    tmux.wait_for("crop up to date after the reload", |s| {
        line_with(s, "example/crop").contains("up to date") || s.contains("✓ example/crop")
    });

    // soft delete the first example/stt row: mark it, preview, cancel, then confirm
    tmux.send(&["j", "j"]);
    tmux.wait_for("example/stt selected", |s| {
        s.contains("example/stt · Metadata")
    });
    tmux.wait_for("its rows", |s| s.contains("rows 1-"));
    tmux.send(&["Enter", "x", "d"]);
    let screen = tmux.wait_for("the delete form", |s| s.contains("Delete from example/stt"));
    assert!(screen.contains("> sample_uid = "), "{screen}");
    tmux.send(&["Enter"]);
    tmux.wait_for("the delete preview", |s| {
        s.contains("1 row(s) in 1 feature(s) will be soft-deleted")
    });
    tmux.send(&["Escape"]);
    tmux.wait_for("the dialog to close", |s| {
        !s.contains("will be soft-deleted")
    });
    assert_eq!(
        read_count(&dir, "example/stt"),
        stt_before,
        "cancelled delete wrote nothing"
    );
    tmux.send(&["d"]);
    tmux.wait_for("the delete form", |s| s.contains("Delete from example/stt"));
    tmux.send(&["Enter"]);
    tmux.wait_for("the delete preview", |s| s.contains("will be soft-deleted"));
    tmux.send(&["y"]);
    tmux.wait_for("the delete toast", |s| {
        s.contains("soft deleted 1 row(s) in 1 feature(s)")
    });

    // the history screen: both pushed versions and the diff, with crop's rows now under the new version too
    tmux.send(&["H"]);
    // (waits for the diff's rows too: a capture can land while the frame is still being written)
    let screen = tmux.wait_for("the history screen", |s| {
        s.contains("Pushed project versions (2)")
            && s.contains("bc37caf4 → f513ad86")
            && s.contains("~ example/crop")
    });
    assert!(
        line_with(&screen, "~ example/crop").contains("34d75856 → ea834040"),
        "{screen}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the feature list", |s| s.contains("Features (7)"));

    quit_and_check_restored(&tmux);
    assert_eq!(read_count(&dir, "example/crop"), 50);
    assert_eq!(read_count(&dir, "example/stt"), stt_before - 1);
}

#[test]
fn tui_hard_deletes_only_once_the_feature_key_is_typed() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s05_rebased");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s05");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    let before = read_count(&dir, "example/face_detection");

    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        150,
        40,
    );
    tmux.wait_for("all feature statuses", |s| {
        s.contains("example/av_report") && !s.contains("computing…") && !s.contains("statuses ")
    });
    tmux.send(&["j", "j"]);
    tmux.wait_for("example/face_detection selected", |s| {
        s.contains("example/face_detection · Metadata")
    });
    let filter = "sample_uid IN ('s000001', 's000005')";
    let open_hard_preview = || {
        tmux.send(&["d"]);
        tmux.wait_for("the delete form", |s| {
            s.contains("Delete from example/face_detection")
        });
        tmux.send(&["-l", filter]);
        tmux.send(&["Tab"]);
        tmux.wait_for("hard mode with the filter", |s| {
            s.contains("mode                  hard") && s.contains(filter)
        });
        tmux.send(&["Enter"]);
        tmux.wait_for("the hard delete preview", |s| {
            s.contains("will be physically removed")
                && s.contains("Type example/face_detection to confirm")
        })
    };

    // cancelled at the confirmation: nothing removed
    let screen = open_hard_preview();
    assert!(screen.contains("2 row(s)"), "{screen}");
    tmux.send(&["Escape"]);
    tmux.wait_for("the dialog to close", |s| {
        !s.contains("will be physically removed")
    });
    assert_eq!(
        read_count(&dir, "example/face_detection"),
        before,
        "cancelled hard delete removed nothing"
    );

    // again: Enter with the key not (fully) typed does nothing; with the key typed it deletes
    open_hard_preview();
    tmux.send(&["-l", "example/face"]);
    tmux.wait_for("the partly typed key", |s| {
        s.contains("to confirm: example/face")
    });
    tmux.send(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let screen = tmux.screen();
    assert!(
        screen.contains("will be physically removed"),
        "a partly typed key does not confirm:\n{screen}"
    );
    assert_eq!(read_count(&dir, "example/face_detection"), before);
    tmux.send(&["-l", "_detection"]);
    tmux.wait_for("the typed key", |s| {
        s.contains("to confirm: example/face_detection")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the delete toast", |s| {
        s.contains("hard deleted 2 row(s) in 1 feature(s)")
    });
    tmux.wait_for("the reloaded feature list", |s| s.contains("Features (7)"));

    quit_and_check_restored(&tmux);
    assert_eq!(read_count(&dir, "example/face_detection"), before - 2);
}

#[test]
fn remapped_keys_and_a_broken_settings_file() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s02_mutated");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s02");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    // a broken file: a clear error before the TUI starts, exit 1
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[keys]\ngraph = \"d\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
        .current_dir(&dir)
        .env("METAXY_FIXTURE_DIR", &dir)
        .env("METAXY_TUI_CONFIG", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bound to both"), "{err}");
    // graph moved to F2: F2 opens it, v does nothing any more
    let good = tmp.path().join("keys.toml");
    std::fs::write(&good, "[keys]\ngraph = \"F2\"\n").unwrap();
    // the variable is read by Tmux::start of this test only (tests in this file run the binary in their own
    // tmux servers; the other tests do not set it)
    let program = tmp.path().join("with-settings.sh");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nMETAXY_TUI_CONFIG='{}' exec '{}'\n",
            good.display(),
            env!("CARGO_BIN_EXE_metaxy-tui")
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&program)
        .status()
        .unwrap();
    let tmux = Tmux::start(tmp.path(), &dir, &program, 150, 40);
    tmux.wait_for("the feature list", |s| {
        s.contains("Features (7)") && !s.contains("computing…")
    });
    tmux.send(&["v"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !tmux.screen().contains("Feature graph"),
        "v is free after the remap"
    );
    tmux.send(&["F2"]);
    tmux.wait_for("the graph screen", |s| s.contains("Feature graph"));
    tmux.send(&["?"]);
    let help = tmux.wait_for("the help", |s| s.contains("toggle this help"));
    assert!(
        line_with(&help, "feature graph drawing").contains("F2"),
        "{help}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the help to close", |s| !s.contains("toggle this help"));
    let screen = tmux.screen();
    assert!(
        screen.contains("F2:graph"),
        "the header shows the bound key: {screen}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the feature list", |s| s.contains("Features (7)"));
    quit_and_check_restored(&tmux);
}

/// Issue 16: with the TUI open on a DuckDB store, real Metaxy (another process) writes the store and succeeds (the
/// TUI holds no lock while idle); the TUI notices the change by itself (live refresh) and shows the new statuses
/// and rows, with the selected feature and the table cursor kept.
#[test]
fn tui_open_never_blocks_a_metaxy_write_and_refreshes_live() {
    require_tmux();
    let python = crate::roundtrip::metaxy_python();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s02_mutated");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s02_mutated");
    copy_dir(&fixture, &dir);
    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        160,
        45,
    );
    tmux.wait_for("all feature statuses", |s| {
        s.contains("example/av_report") && !s.contains("computing…") && !s.contains("statuses ")
    });
    // example/crop selected, its rows shown, the cursor moved down into the table
    tmux.send(&["j"]);
    tmux.wait_for("the metadata of example/crop", |s| {
        s.contains("example/crop · Metadata") && s.contains("rows 1-")
    });
    tmux.send(&["Enter", "j", "j", "j", "Enter"]);
    let before = tmux.wait_for("the 4th row's detail", |s| {
        s.contains("example/crop · Metadata · row 4") && s.contains("s000003")
    });
    tmux.send(&["Escape"]);
    tmux.wait_for("the row detail to close", |s| !s.contains("· row 4"));
    assert!(
        line_with(&before, "⚠ example/crop").contains("5 new · 10 stale · 5 orphaned"),
        "{before}"
    );
    assert!(
        line_with(&before, "✓ example/face_detection").contains("up to date"),
        "{before}"
    );

    // real Metaxy writes example/crop's increment while the TUI is open (and idle)
    let out = std::process::Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/roundtrip/mx_pipeline_step.py"))
        .arg(&dir)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "Metaxy could not write the store the TUI has open:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "wrote 15");

    // the TUI refreshes by itself: new statuses, new rows, same feature, same cursor row
    let after = tmux.wait_for("the refreshed statuses", |s| {
        s.contains("0 new · 0 stale · 5 orphaned") && s.contains("⚠ example/face_detection")
    });
    assert!(
        // the feature list's line (the header names the selected feature too)
        line_with(&after, "⚠ example/crop").contains("0 new · 0 stale · 5 orphaned"),
        "{after}"
    );
    assert!(
        line_with(&after, "example/face_detection").contains("5 new · 5 stale · 0 orphaned"),
        "{after}"
    );
    let after = tmux.wait_for("the new rows of example/crop", |s| s.contains("of 55"));
    assert!(after.contains("example/crop · Metadata"), "{after}");
    assert!(!after.contains("busy"), "{after}");
    // the cursor stayed on the 4th row
    tmux.send(&["Enter"]);
    tmux.wait_for("the 4th row's detail after the refresh", |s| {
        s.contains("example/crop · Metadata · row 4") && s.contains("sample_uid  s000003")
    });
    tmux.send(&["Escape"]);
    // Esc and q in one read would reach the TUI as Alt+q (which the row detail takes as "close"): wait first
    tmux.wait_for("the row detail to close after the refresh", |s| {
        !s.contains("· row 4")
    });
    quit_and_check_restored(&tmux);
}

/// The SQL console in the real binary: `:` palette, `sql`, a query typed and run with F5, the result table, a
/// refused statement shown in place, then Esc back and `q`.
#[test]
fn tui_sql_console_runs_a_query_and_refuses_a_write() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s02_mutated");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s02_mutated");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        160,
        45,
    );
    tmux.wait_for("the feature list", |s| s.contains("example/av_report"));
    tmux.send(&[":"]);
    tmux.wait_for("the palette", |s| s.contains("SQL console over the store"));
    tmux.send(&["-l", "sql"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the SQL console", |s| s.contains("F5 / Ctrl-R run"));
    // Ctrl-L clears the editor
    tmux.send(&["C-l"]);
    tmux.send(&[
        "-l",
        "SELECT kind, count(*) AS samples FROM increment.\"example/crop\" GROUP BY kind ORDER BY kind",
    ]);
    tmux.send(&["F5"]);
    let screen = tmux.wait_for("the result", |s| s.contains("3 row(s) in"));
    for (kind, n) in [("new", "5"), ("orphaned", "5"), ("stale", "10")] {
        let line = line_with(&screen, &format!("{kind} "));
        assert!(line.contains(n), "{kind}: {line:?}\n{screen}");
    }
    tmux.send(&["C-l"]);
    tmux.send(&["-l", "COPY \"example/crop\" TO 'leak.csv'"]);
    tmux.send(&["F5"]);
    tmux.wait_for("the refusal", |s| {
        s.contains("refused: only read-only queries")
    });
    assert!(!dir.join("leak.csv").exists());
    tmux.send(&["Escape"]);
    tmux.wait_for("the features screen", |s| {
        s.contains("example/video · Metadata")
    });
    quit_and_check_restored(&tmux);
}

#[test]
fn tui_unfiltered_delete_needs_the_typed_key_so_d_enter_enter_deletes_nothing() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s05_rebased");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s05");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    let before = read_count(&dir, "example/video");
    assert!(before > 0);

    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        150,
        40,
    );
    tmux.wait_for("all feature statuses", |s| {
        s.contains("example/av_report") && !s.contains("computing…") && !s.contains("statuses ")
    });
    tmux.wait_for("example/video selected", |s| {
        s.contains("example/video · Metadata")
    });
    // `d` on the feature list: the form opens with no filter (every row of the feature)
    tmux.send(&["d"]);
    let form = tmux.wait_for("the delete form", |s| {
        s.contains("Delete from example/video")
    });
    assert!(
        !form.contains("> sample_uid ="),
        "no row filter prefilled:\n{form}"
    );
    tmux.send(&["Enter"]);
    let preview = tmux.wait_for("the typed-confirmation step", |s| {
        s.contains("Type example/video to confirm")
    });
    assert!(preview.contains("will be soft-deleted"), "{preview}");
    // the second Enter confirms nothing: the key was not typed
    tmux.send(&["Enter"]);
    tmux.send(&["-l", "x"]);
    let screen = tmux.wait_for("the confirmation still open, taking the typed x", |s| {
        s.lines().any(|l| {
            l.split_once("Type example/video to confirm:")
                .is_some_and(|(_, rest)| rest.trim_start().starts_with("x "))
        })
    });
    assert!(screen.contains("will be soft-deleted"), "{screen}");
    assert!(!screen.contains("soft deleted"), "no delete ran:\n{screen}");
    assert_eq!(
        read_count(&dir, "example/video"),
        before,
        "d Enter Enter deleted nothing"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the dialog to close", |s| !s.contains("to confirm"));
    quit_and_check_restored(&tmux);
    assert_eq!(read_count(&dir, "example/video"), before);
}

/// The lookup screen in the real binary: `L` on a Stale row of example/crop shows that sample in every feature
/// (stale in crop with its cause, the chunks of the 1:N expansion, the N:1 summary); Enter shows the row; Esc
/// goes back; the palette looks typed ids up.
#[test]
fn tui_looks_a_sample_up_across_the_graph() {
    require_tmux();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/duckdb/s02_mutated");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s02_mutated");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("metaxy.toml"), dir.join("metaxy.toml")).unwrap();
    copy_dir(&fixture.join("store"), &dir.join("store"));
    let tmux = Tmux::start(
        tmp.path(),
        &dir,
        Path::new(env!("CARGO_BIN_EXE_metaxy-tui")),
        160,
        45,
    );
    tmux.wait_for("the metadata of example/video", |s| {
        s.contains("example/video · Metadata") && s.contains("rows 1-")
    });
    tmux.send(&["j"]);
    tmux.wait_for("example/crop selected", |s| {
        s.contains("example/crop · Metadata")
    });
    tmux.send(&["3"]);
    tmux.wait_for("the stale tab of example/crop", |s| {
        s.contains("example/crop · Stale") && s.contains("s000010")
    });
    tmux.send(&["Enter", "L"]);
    let screen = tmux.wait_for("the lookup of s000010", |s| {
        s.contains("Lookup · sample_uid=s000010") && s.contains("example/chunk_summary")
    });
    assert!(
        line_with(&screen, "example/crop ").contains("stale"),
        "{screen}"
    );
    assert!(
        line_with(&screen, "example/video ").contains("stored"),
        "{screen}"
    );
    assert!(screen.contains("chunk_idx=0"), "{screen}");
    assert!(
        line_with(&screen, "example/chunk_summary").contains("up to date"),
        "{screen}"
    );
    // the crop line: its cause below, its row on Enter
    tmux.send(&["j"]);
    tmux.wait_for("the crop cause", |s| {
        s.contains("stale because example/video.audio")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the crop row", |s| {
        s.contains("metaxy_provenance_by_field") && s.contains("example/crop · sample_uid=s000010")
    });
    // one key per send: two ESC bytes in one read decode as a single Esc (crossterm), as a real terminal would
    tmux.send(&["Escape"]);
    tmux.wait_for("the lookup again", |s| {
        s.contains("Lookup · sample_uid=s000010") && !s.contains("metaxy_provenance_by_field")
    });
    tmux.send(&["Escape"]);
    tmux.wait_for("the stale tab again", |s| {
        s.contains("example/crop · Stale")
    });
    // typed ids in the palette: a composite id of an expansion child
    tmux.send(&[":"]);
    tmux.send(&["-l", "lookup sample_uid=s000013,chunk_idx=1"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the lookup of a chunk", |s| {
        s.contains("Lookup · sample_uid=s000013,chunk_idx=1")
            && s.contains("upstream of example/chunk (1:N)")
    });
    assert!(
        line_with(&screen, "example/video ").contains("sample_uid=s000013"),
        "{screen}"
    );
    assert!(
        line_with(&screen, "example/chunk_summary").contains("downstream of example/chunk (N:1)"),
        "{screen}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the stale tab again", |s| {
        s.contains("example/crop · Stale")
    });
    quit_and_check_restored(&tmux);
}
