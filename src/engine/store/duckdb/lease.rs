//! Per-operation access to a DuckDB database file, so that an open metaxy-tui never blocks another process (real
//! Metaxy, a second metaxy-tui) from writing the store.
//!
//! DuckDB locks the file for as long as an instance is open (a shared lock read-only, an exclusive one
//! read-write; `Could not set lock on file ... Conflicting lock is held in ...` otherwise). So nothing here keeps an
//! instance open while idle:
//!
//! * a read takes a [`ReadLease`]: one read-only instance per file, shared by the reads of this process that
//!   overlap in time and closed when the last of them ends (sharing matters beyond speed: DuckDB's file locks are
//!   POSIX record locks, owned by the process, and closing *any* descriptor of the file drops them all, so two
//!   instances of one file in one process would unlock each other);
//! * a write takes a [`WriteGate`]: it waits until no read of this process holds the file, keeps new reads out,
//!   and opens its own read-write instance for the duration of the transaction.
//!
//! A caller that reads one file several times in a row (a headless command, a TUI job that counts every feature)
//! may hold a [`KeptOpen`] for its duration: the shared instance then lingers between its reads, so the file is
//! opened and its catalog loaded once instead of once per read. A write of this process still closes a lingering
//! instance before it opens its own, so it neither waits for the guard nor meets a second instance.
//!
//! When another process holds a conflicting lock, opening is retried with a backoff for up to [`RETRY_TOTAL`];
//! after that the operation fails with [`EngineError::Busy`]. [`lock_waits`] tells a UI that some operation is
//! waiting for such a lock right now.

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use duckdb::Connection;

use crate::engine::error::{EngineError, Result};
use crate::engine::store::duckql::udf::RawDuckDb;

/// How long an operation keeps retrying to open a file another process holds locked (reads and our own writes).
pub const RETRY_TOTAL: Duration = Duration::from_secs(5);

/// First pause between two attempts; doubled after each, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(25);
/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_millis(400);

/// Operations currently waiting for another process's lock (see [`lock_waits`]).
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// How many DuckDB operations of this process are waiting, right now, for a lock another process holds on a store
/// file (0 almost always). A UI shows "store busy (being written), retrying" while this is above 0.
pub fn lock_waits() -> usize {
    WAITING.load(Ordering::SeqCst)
}

/// Whether a DuckDB open error is a lock conflict with another process (DuckDB: `IO Error: Could not set lock on
/// file "...": Conflicting lock is held in <program> (PID n)`).
pub fn is_lock_conflict(message: &str) -> bool {
    message.contains("Could not set lock") || message.contains("Conflicting lock")
}

/// The in-process state of one database file: who uses it and the shared read-only instance.
#[derive(Default)]
struct GateState {
    /// Reads in progress ([`ReadLease`]s alive).
    readers: usize,
    /// A write holds the file ([`WriteGate`] alive).
    writing: bool,
    /// [`KeptOpen`] guards alive: while above 0 the instance outlives the last read.
    kept: usize,
    /// The read-only instance the reads share (`Some` while `readers > 0`, and after the last read while
    /// `kept > 0` until a write of this process closes it).
    db: Option<Arc<RawDuckDb>>,
}

/// One database file's gate (shared by every store object of this process opened on the file).
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, GateState>) -> MutexGuard<'a, GateState> {
        self.changed.wait(g).unwrap_or_else(|p| p.into_inner())
    }
}

/// The gate of `path` (one per file: the parent directory is canonicalised, so a file created later maps to the
/// same gate).
fn gate(path: &Path) -> Arc<Gate> {
    static GATES: OnceLock<Mutex<HashMap<PathBuf, Weak<Gate>>>> = OnceLock::new();
    let key = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.canonicalize()
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let mut map = GATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(g) = map.get(&key).and_then(Weak::upgrade) {
        return g;
    }
    map.retain(|_, w| w.strong_count() > 0);
    let g = Arc::new(Gate::default());
    map.insert(key, Arc::downgrade(&g));
    g
}

/// Retries `attempt` while it fails with a lock conflict, pausing with a doubling backoff, for up to
/// [`RETRY_TOTAL`]; counts as a [`lock_waits`] while pausing. `Err(None)`: still locked after the last attempt;
/// `Err(Some(m))`: another error.
fn retry_locked<T>(
    mut attempt: impl FnMut() -> std::result::Result<T, String>,
) -> std::result::Result<T, Option<String>> {
    let deadline = Instant::now() + RETRY_TOTAL;
    let mut pause = FIRST_PAUSE;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(m) if !is_lock_conflict(&m) => return Err(Some(m)),
            Err(_) if Instant::now() >= deadline => return Err(None),
            Err(_) => {
                WAITING.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                WAITING.fetch_sub(1, Ordering::SeqCst);
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}

/// The error of a store still locked by another process after [`RETRY_TOTAL`].
fn busy(store: &str, path: &Path) -> EngineError {
    EngineError::Busy {
        store: store.to_string(),
        location: path.display().to_string(),
        waited_s: RETRY_TOTAL.as_secs(),
    }
}

/// A read of a database file: a connection of its own on the read-only instance this process's overlapping reads
/// share. The instance (and with it the file lock) is closed when the last lease is dropped.
pub struct ReadLease {
    /// Closed before the instance (in `drop`).
    conn: ManuallyDrop<Connection>,
    db: ManuallyDrop<Arc<RawDuckDb>>,
    gate: Arc<Gate>,
}

impl ReadLease {
    /// Takes a read lease on `path` (`store`: the store name, for errors): waits while a write of this process
    /// holds the file, opens the shared read-only instance when no other read has it open, retrying while another
    /// process holds a write lock.
    ///
    /// Errors: [`EngineError::Busy`] when the file is still locked after [`RETRY_TOTAL`]; [`EngineError::StoreOpen`]
    /// when DuckDB cannot open it otherwise.
    pub fn acquire(store: &str, path: &Path) -> Result<Self> {
        let gate = gate(path);
        let opened = retry_locked(|| {
            let mut g = gate.lock();
            while g.writing {
                g = gate.wait(g);
            }
            let db = match &g.db {
                Some(db) => db.clone(),
                None => Arc::new(RawDuckDb::open(path)?),
            };
            // SAFETY: `db` outlives the connection: the lease drops the connection first (see `Drop`)
            let conn = unsafe { Connection::open_from_raw(db.raw()) }.map_err(|e| e.to_string())?;
            g.db = Some(db.clone());
            g.readers += 1;
            Ok((conn, db))
        });
        let (conn, db) = opened.map_err(|e| match e {
            None => busy(store, path),
            Some(message) => EngineError::StoreOpen {
                store: store.to_string(),
                location: path.display().to_string(),
                message,
            },
        })?;
        // strings as Arrow views: the layout polars uses, so they move into polars without a copy
        let _ = conn.execute_batch("SET produce_arrow_string_view = true");
        Ok(Self {
            conn: ManuallyDrop::new(conn),
            db: ManuallyDrop::new(db),
            gate,
        })
    }

    /// The lease's connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The shared instance through the C API (the counts query registers its row hash there).
    pub fn raw(&self) -> &RawDuckDb {
        &self.db
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        let mut g = self.gate.lock();
        // SAFETY: both are dropped exactly once, here, and never used afterwards; the connection goes before the
        // instance, and the last reader closes the instance before a write may start (under the gate's lock)
        unsafe {
            ManuallyDrop::drop(&mut self.conn);
            ManuallyDrop::drop(&mut self.db);
        }
        g.readers = g.readers.saturating_sub(1);
        if g.readers == 0 && g.kept == 0 {
            g.db = None;
        }
        drop(g);
        self.gate.changed.notify_all();
    }
}

/// While alive, the read-only instance of one database file stays open after the last read of this process ends,
/// for the next read to reuse (see the module docs); dropping the last guard of the file closes it when no read
/// is using it. The file stays locked against other processes' writes until then: hold it around one bounded
/// piece of work only (a command, a job), never while idle.
#[must_use = "the instance lingers only while the guard lives"]
pub struct KeptOpen {
    gate: Arc<Gate>,
}

impl KeptOpen {
    /// Starts keeping `path`'s read-only instance open (nestable). Opens nothing: the next read does.
    pub fn new(path: &Path) -> Self {
        let gate = gate(path);
        gate.lock().kept += 1;
        Self { gate }
    }
}

impl Drop for KeptOpen {
    fn drop(&mut self) {
        let mut g = self.gate.lock();
        g.kept = g.kept.saturating_sub(1);
        if g.kept == 0 && g.readers == 0 {
            g.db = None;
        }
    }
}

/// A write to a database file: while it lives, no read of this process holds the file open and no other write of
/// this process runs.
pub struct WriteGate {
    gate: Arc<Gate>,
    path: PathBuf,
}

impl WriteGate {
    /// Waits until no read or write of this process uses `path`, then holds it.
    pub fn acquire(path: &Path) -> Self {
        let gate = gate(path);
        {
            let mut g = gate.lock();
            while g.writing || g.readers > 0 {
                g = gate.wait(g);
            }
            // an instance lingering for a KeptOpen closes first (no connection of it is alive: no reader)
            g.db = None;
            g.writing = true;
        }
        Self {
            gate,
            path: path.to_path_buf(),
        }
    }

    /// Opens the file read-write (creating it when missing), retrying while another process holds a lock on it.
    ///
    /// Errors: [`EngineError::Busy`] when it is still locked after [`RETRY_TOTAL`]; [`EngineError::DuckDb`] for
    /// other open failures.
    pub fn open(&self, store: &str) -> Result<Connection> {
        let mut last: Option<duckdb::Error> = None;
        let r = retry_locked(|| {
            Connection::open(&self.path).map_err(|e| {
                let m = e.to_string();
                last = Some(e);
                m
            })
        });
        match r {
            Ok(c) => Ok(c),
            Err(None) => Err(busy(store, &self.path)),
            Err(Some(m)) => Err(match last {
                Some(e) => EngineError::DuckDb(e),
                None => EngineError::InvalidOperation(m),
            }),
        }
    }
}

impl Drop for WriteGate {
    fn drop(&mut self) {
        self.gate.lock().writing = false;
        self.gate.changed.notify_all();
    }
}
