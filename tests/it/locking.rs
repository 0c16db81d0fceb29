//! DuckDB file locks between processes (issue 16): an open store holds no lock while idle, so another process can
//! write it; a read while another process writes waits and retries (then reports `Busy`), and our own writes retry
//! a lock conflict. The other process is the real `duckdb` Python module of the round-trip venv
//! (`tests/roundtrip/setup_venv.sh`), holding a read-write connection until its stdin closes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use metaxy_tui::engine::keys::FeatureKey;
use metaxy_tui::engine::store::{lock_waits, Columns, MetadataStore};

use crate::common::*;
use crate::roundtrip::metaxy_python;

/// Generous bound for waiting on another process (never asserted as a speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// A Python process with a read-write DuckDB connection on a file (so it holds DuckDB's exclusive lock) until
/// [`LockHolder::release`] closes its stdin.
struct LockHolder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl LockHolder {
    /// Starts the process and waits until it holds the lock.
    fn hold(db: &Path) -> Self {
        let script = "import duckdb, sys\n\
                      c = duckdb.connect(sys.argv[1])\n\
                      c.execute('CREATE TABLE IF NOT EXISTS lock_probe (x INTEGER)')\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n\
                      c.close()\n";
        let mut child = Command::new(metaxy_python())
            .arg("-c")
            .arg(script)
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python runs");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "the lock holder did not start");
        Self { child, stdin }
    }

    /// Closes the connection (and the lock) and waits for the process to end.
    fn release(mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the lock holder failed");
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Waits until some operation of this process is waiting for a lock (the read or write under test is retrying).
fn wait_for_lock_wait() {
    let start = Instant::now();
    while lock_waits() == 0 {
        assert!(
            start.elapsed() < PATIENCE,
            "no operation ever waited for the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn open_dev(dir: &Path) -> Box<dyn MetadataStore> {
    let ws = open_copy("duckdb", "s02_mutated", dir);
    let cfg = ws.store_config.clone();
    drop(ws);
    metaxy_tui::engine::store::open_store(&cfg, dir).unwrap()
}

#[test]
fn an_open_duckdb_store_never_blocks_another_process_writing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_dev(tmp.path());
    let video = FeatureKey::parse("example/video").unwrap();
    let rows = store.scan(&video, None, &Columns::All).unwrap().unwrap();
    assert!(rows.height() > 0);
    // the store object stays alive (as in the TUI) while another process writes
    let db = tmp.path().join("store/metadata.duckdb");
    let holder = LockHolder::hold(&db);
    holder.release();
    assert!(store
        .list_tables()
        .unwrap()
        .contains(&"lock_probe".to_string()));
    assert!(store.change_marker().is_some());
}

#[test]
fn a_read_during_another_process_write_retries_then_reports_busy_and_succeeds_once_released() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_dev(tmp.path());
    let db = tmp.path().join("store/metadata.duckdb");
    let holder = LockHolder::hold(&db);
    // locked for longer than the retry window: a typed, transient Busy error
    let err = store.list_tables().unwrap_err();
    assert!(err.is_busy(), "expected Busy, got {err}");
    assert!(metaxy_tui::engine::error::is_busy_message(&err.to_string()));
    // locked when the read starts, released while it retries: the read succeeds
    std::thread::scope(|s| {
        let read = s.spawn(|| store.list_tables());
        wait_for_lock_wait();
        holder.release();
        let tables = read.join().unwrap().unwrap();
        assert!(tables.contains(&"lock_probe".to_string()));
    });
}

#[test]
fn our_write_retries_a_lock_held_by_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_dev(tmp.path());
    let key = FeatureKey::parse("example/crop").unwrap();
    let before = store
        .scan(&key, None, &Columns::All)
        .unwrap()
        .unwrap()
        .height();
    let db = tmp.path().join("store/metadata.duckdb");
    let holder = LockHolder::hold(&db);
    std::thread::scope(|s| {
        let delete =
            s.spawn(|| store.delete_rows(&key, None, &["sample_uid = 's000001'".to_string()]));
        wait_for_lock_wait();
        holder.release();
        let n = delete.join().unwrap().unwrap();
        assert!(n > 0, "nothing deleted");
    });
    let after = store
        .scan(&key, None, &Columns::All)
        .unwrap()
        .unwrap()
        .height();
    assert!(after < before);
}

/// Whether another process (the real `duckdb` module) can open `db` for writing right now.
fn another_process_can_write(db: &Path) -> bool {
    let script = "import duckdb, sys\n\
                  try:\n    duckdb.connect(sys.argv[1]).close()\n    print('ok')\n\
                  except Exception as e:\n    print('lock' if 'lock' in str(e).lower() else repr(e))\n";
    let out = Command::new(metaxy_python())
        .arg("-c")
        .arg(script)
        .arg(db)
        .output()
        .expect("python runs");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "ok" => true,
        "lock" => false,
        other => panic!("the write probe failed: {other}"),
    }
}

#[test]
fn kept_open_reads_share_one_open_and_our_writes_still_go_through() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_dev(tmp.path());
    let db = tmp.path().join("store/metadata.duckdb");
    let crop = FeatureKey::parse("example/crop").unwrap();
    let rows = |store: &dyn MetadataStore| {
        store
            .scan(&crop, None, &Columns::All)
            .unwrap()
            .unwrap()
            .height()
    };
    let before = rows(store.as_ref());
    // nothing kept: the file is free between reads
    assert!(another_process_can_write(&db));
    let deleted = {
        let kept = store.keep_reads_open();
        assert_eq!(kept.len(), 1);
        assert_eq!(rows(store.as_ref()), before);
        // the read ended, its instance lingers: the file stays locked for the guard's life
        assert!(!another_process_can_write(&db));
        // a write of this process neither waits for the guard nor meets the lingering instance
        let n = store
            .delete_rows(&crop, None, &["sample_uid = 's000001'".to_string()])
            .unwrap();
        assert!(n > 0, "nothing deleted");
        // the next read opens the file anew and sees the write
        assert_eq!(rows(store.as_ref()), before - n);
        assert!(!another_process_can_write(&db));
        n
    };
    // the guard dropped: nothing holds the file
    assert!(another_process_can_write(&db));
    assert_eq!(rows(store.as_ref()), before - deleted);
}

#[test]
fn concurrent_duckdb_deletes_of_two_processes_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&scenario_dir("s02_mutated"), tmp.path());
    for round in 0..3 {
        let spawn = |feature: &str, id: &str| {
            Command::new(env!("CARGO_BIN_EXE_metaxy-tui"))
                .args([
                    "metadata",
                    "delete",
                    feature,
                    "--hard",
                    "--yes",
                    "--filter",
                    &format!("sample_uid = '{id}'"),
                ])
                .current_dir(tmp.path())
                .env_remove("METAXY_CONFIG")
                .env_remove("METAXY_CONFIG_FILE")
                .env("METAXY_FIXTURE_DIR", tmp.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let id = format!("s00000{}", round + 1);
        let a = spawn("example/crop", &id);
        let b = spawn("example/stt", &id);
        for (what, child) in [("crop", a), ("stt", b)] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: delete of {what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Waits (bounded by [`PATIENCE`], never asserted as a speed) until the store's change marker differs from `before`.
fn marker_moves(store: &dyn MetadataStore, before: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if store.change_marker().as_deref() != Some(before) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The database name at the end of a `postgresql://` / `clickhouse://` connection string.
fn db_of(url: &str) -> String {
    url.rsplit('/').next().unwrap_or_default().to_string()
}

#[test]
fn server_stores_have_a_change_marker_that_moves_on_another_clients_write_only() {
    let video = FeatureKey::parse("example/video").unwrap();
    for backend in ["postgres", "clickhouse"] {
        let tmp = tempfile::tempdir().unwrap();
        let ws = open_copy(backend, "s02_mutated", tmp.path());
        let env = scenario_env(tmp.path());
        let table = ws.store.table_name(&video);
        let m0 = ws
            .store
            .change_marker()
            .unwrap_or_else(|| panic!("{backend}: no change marker"));
        // reads do not move it
        assert!(ws
            .store
            .scan(&video, None, &Columns::All)
            .unwrap()
            .is_some());
        assert_eq!(
            ws.store.change_marker().as_deref(),
            Some(m0.as_str()),
            "{backend}"
        );
        // another client appends one row: the marker moves
        let insert = format!("INSERT INTO {table} SELECT * FROM {table} LIMIT 1");
        if backend == "postgres" {
            let db = db_of(&env["METAXY_FIXTURE_PG"]);
            pg_exec(&pg_server(), &db, &format!("{insert};")).unwrap();
        } else {
            let db = db_of(&env["METAXY_FIXTURE_CH"]);
            ch_exec(&ch_server(), &db, &insert, None).unwrap();
        }
        assert!(
            marker_moves(ws.store.as_ref(), &m0),
            "{backend}: insert not noticed"
        );
        // a delete by another client moves it again
        let m1 = ws.store.change_marker().unwrap();
        if backend == "postgres" {
            let db = db_of(&env["METAXY_FIXTURE_PG"]);
            pg_exec(&pg_server(), &db, &format!("DELETE FROM {table};")).unwrap();
        } else {
            let db = db_of(&env["METAXY_FIXTURE_CH"]);
            ch_exec(
                &ch_server(),
                &db,
                &format!("DELETE FROM {table} WHERE 1"),
                None,
            )
            .unwrap();
        }
        assert!(
            marker_moves(ws.store.as_ref(), &m1),
            "{backend}: delete not noticed"
        );
    }
}
