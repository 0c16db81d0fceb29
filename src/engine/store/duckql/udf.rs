//! A DuckDB database handle of our own, on DuckDB's C API, with the engine's row hash registered in it as a
//! vectorised scalar function, so that a whole counts-only increment ([`crate::engine::versioning::counts`]) runs as one DuckDB
//! query: DuckDB's parallel scans, aggregates and joins, our hash, and only four numbers back.
//!
//! A function is registered per query ([`RawDuckDb::register_provenance`]): `__mx_prov_<n>(VARCHAR, ...) ->
//! VARCHAR` takes the upstream data versions a target's provenance reads and returns the sample provenance
//! (`metaxy_provenance`, FORMAT.md §5.3): per field, the recipe (literals baked into the function, data versions
//! from the arguments) joined by `|` and hashed with [`hash_into`] (the store's algorithm, truncated to the graph's
//! length); then the field provenances, in struct-key order, joined by `|` and hashed. Any NULL argument gives
//! NULL, as [`crate::engine::hashing::hash_joined_expr`] does. It reads DuckDB's strings in place and writes its
//! result straight into DuckDB's vector: no Arrow conversion on either side (duckdb-rs only lets outside code
//! register Arrow functions, which copy every chunk twice), and no intermediate field hashes leave the function.
//!
//! The handle is the read-only instance a [`crate::engine::store::duckdb::lease::ReadLease`] holds while reads of
//! the file are in progress; the duckdb-rs connections of those reads are opened on it too.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;

use duckdb::ffi;

use crate::engine::config::HashAlgorithm;
use crate::engine::hashing::{decimal_hash, decimal_lead, hash_into, hash_matches};

/// A piece of a field's provenance recipe, as [`RawDuckDb::register_provenance`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipeTok {
    /// Constant bytes (field key, code version, `upstream/key.field`, the `|` separators).
    Lit(Vec<u8>),
    /// The function's argument number `n` (0-based): an upstream data version.
    Arg(usize),
}

/// What a registered provenance function computes (its extra info, shared read-only by DuckDB's threads).
#[derive(Debug, Clone)]
pub struct ProvenanceTemplate {
    /// The store's hash algorithm (must have passed [`crate::engine::hashing::check_algorithm`]).
    pub algorithm: HashAlgorithm,
    /// Hash truncation length (characters).
    pub truncation: usize,
    /// Per target field, in struct-key order: its recipe (separators included).
    pub fields: Vec<Vec<RecipeTok>>,
    /// Number of arguments the function takes.
    pub args: usize,
    /// What the function returns: the sample provenance, or one field's provenance.
    pub output: ProvenanceOutput,
}

/// What a registered provenance function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvenanceOutput {
    /// The sample provenance (`metaxy_provenance`): the field provenances joined by `|`, hashed.
    Sample,
    /// The provenance of field number `n` of [`ProvenanceTemplate::fields`] (its member of
    /// `metaxy_provenance_by_field`); only that field's recipe is hashed.
    Field(usize),
}

impl ProvenanceTemplate {
    /// Computes the template's output for one row into `out` (cleared first): per field, the recipe with
    /// argument `n` read by `arg(n)`, joined and hashed with [`hash_into`]; for [`ProvenanceOutput::Sample`] the
    /// field provenances in struct-key order joined by `|` and hashed once more (FORMAT.md §5.3). `buf` is
    /// scratch space. NULL arguments are the caller's business (the result is NULL then).
    pub fn compute<'a>(
        &self,
        arg: impl Fn(usize) -> &'a [u8],
        buf: &mut Vec<u8>,
        out: &mut String,
    ) {
        let hashed = self.last_input(arg, buf, out);
        out.clear();
        if hashed {
            hash_into(self.algorithm, buf, self.truncation, out);
        }
    }

    /// Whether [`ProvenanceTemplate::compute`] gives `expected` for one row, without formatting the last hash
    /// when the algorithm's hashes are decimal ([`hash_matches`]). `buf` and `out` are scratch space.
    pub fn matches<'a>(
        &self,
        arg: impl Fn(usize) -> &'a [u8],
        buf: &mut Vec<u8>,
        out: &mut String,
        expected: &[u8],
    ) -> bool {
        if self.last_input(arg, buf, out) {
            hash_matches(self.algorithm, buf, self.truncation, expected, out)
        } else {
            expected.is_empty()
        }
    }

    /// Whether the template's output for one row is the canonical decimal string of `expected` (see
    /// [`parse_decimal`]), without formatting the last hash. Only meaningful when
    /// [`ProvenanceTemplate::decimal`] holds. `buf` and `out` are scratch space.
    pub fn matches_number<'a>(
        &self,
        arg: impl Fn(usize) -> &'a [u8],
        buf: &mut Vec<u8>,
        out: &mut String,
        expected: u64,
    ) -> bool {
        self.last_input(arg, buf, out)
            && decimal_hash(self.algorithm, buf)
                .is_some_and(|n| decimal_lead(n, self.truncation) == expected)
    }

    /// Whether every output is a canonical decimal string or empty ([`parse_decimal`]): a decimal algorithm
    /// ([`decimal_hash`]) and a truncation of at least one character.
    pub fn decimal(&self) -> bool {
        self.truncation > 0 && decimal_hash(self.algorithm, b"").is_some()
    }

    /// Leaves in `buf` the bytes whose hash is the template's output: the one field's recipe
    /// ([`ProvenanceOutput::Field`]), else the field provenances joined by `|` (hashed into `out` on the way).
    /// `false`: no field has the number [`ProvenanceOutput::Field`] gives (the output is then empty).
    fn last_input<'a>(
        &self,
        arg: impl Fn(usize) -> &'a [u8],
        buf: &mut Vec<u8>,
        out: &mut String,
    ) -> bool {
        out.clear();
        let mut found = false;
        for (k, toks) in self.fields.iter().enumerate() {
            match self.output {
                ProvenanceOutput::Field(f) if f != k => continue,
                ProvenanceOutput::Sample if k > 0 => out.push('|'),
                _ => {}
            }
            buf.clear();
            for tok in toks {
                match tok {
                    RecipeTok::Lit(b) => buf.extend_from_slice(b),
                    RecipeTok::Arg(a) => buf.extend_from_slice(arg(*a)),
                }
            }
            found = true;
            if self.output == ProvenanceOutput::Sample {
                hash_into(self.algorithm, buf, self.truncation, out);
            }
        }
        if self.output == ProvenanceOutput::Sample {
            buf.clear();
            buf.extend_from_slice(out.as_bytes());
            return true;
        }
        found
    }
}

static NEXT_FUNCTION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A DuckDB database opened through the C API (a store file read-only, or an in-memory database over parquet
/// files), in which provenance functions are registered.
pub struct RawDuckDb {
    db: ffi::duckdb_database,
    /// This instance's spill directory (`temp_directory`): created by DuckDB when a query first spills, removed
    /// when the instance closes.
    spill_dir: std::path::PathBuf,
    /// Queries of [`RawDuckDb::query_first_row_bounded`] running now (the memory limit is set while above 0).
    bounded: std::sync::Mutex<usize>,
    /// Work of [`RawDuckDb::with_threads`] running now (the thread count is set while above 0).
    threaded: std::sync::Mutex<usize>,
}

// SAFETY: a duckdb_database may be used from any thread (every query below runs on a connection of its own).
unsafe impl Send for RawDuckDb {}
unsafe impl Sync for RawDuckDb {}

impl Drop for RawDuckDb {
    fn drop(&mut self) {
        // SAFETY: `db` came from duckdb_open_ext; no connection of ours outlives a query
        unsafe { ffi::duckdb_close(&mut self.db) };
        // DuckDB deletes its temporary files on close; the directory is ours
        let _ = std::fs::remove_dir_all(&self.spill_dir);
    }
}

static NEXT_SPILL_DIR: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A spill directory of its own for a new instance: `$TMPDIR/metaxy-tui-spill-<pid>-<n>` (DuckDB's temporary
/// file names are only unique within one instance).
fn new_spill_dir() -> std::path::PathBuf {
    let n = NEXT_SPILL_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("metaxy-tui-spill-{}-{n}", std::process::id()))
}

/// The memory limit of the counts queries ([`RawDuckDb::query_first_row_bounded`]), as DuckDB's `memory_limit`
/// setting spells it: `METAXY_TUI_MEMORY_LIMIT` (e.g. `2GB`, `800MB`; `0`, `off` or empty: DuckDB's own default,
/// 80% of RAM), else 3 GB or half the machine's RAM (`/proc/meminfo`) when that is less. Beyond it, DuckDB's
/// joins and aggregates spill to the instance's temporary directory, so a 100M-row increment is counted in
/// bounded memory.
pub fn counts_memory_limit() -> Option<String> {
    match std::env::var("METAXY_TUI_MEMORY_LIMIT") {
        Ok(v) => {
            let v = v.trim();
            if v.is_empty() || v == "0" || v.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(v.to_string())
            }
        }
        Err(_) => {
            const DEFAULT_MB: u64 = 3 * 1024;
            let half_ram_mb = std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| {
                    m.lines()
                        .find_map(|l| l.strip_prefix("MemTotal:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                })
                .map(|kb| kb / 1024 / 2);
            let mb = half_ram_mb.map_or(DEFAULT_MB, |h| h.clamp(256, DEFAULT_MB));
            Some(format!("{mb}MB"))
        }
    }
}

/// An error message of the C API (owned copy).
fn c_message(p: *const c_char, fallback: &str) -> String {
    if p.is_null() {
        fallback.to_string()
    } else {
        // SAFETY: DuckDB hands out NUL-terminated strings
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

impl RawDuckDb {
    /// Opens `path` read-only.
    ///
    /// Errors: DuckDB's message when the file cannot be opened.
    pub fn open(path: &Path) -> std::result::Result<Self, String> {
        Self::open_with(Some(path))
    }

    /// Opens a new in-memory database (for queries over files, e.g. a Delta table's parquet files).
    ///
    /// Errors: DuckDB's message.
    pub fn open_in_memory() -> std::result::Result<Self, String> {
        Self::open_with(None)
    }

    /// Opens `path` read-only, or an in-memory database; both with a spill directory of their own.
    fn open_with(path: Option<&Path>) -> std::result::Result<Self, String> {
        let c_path = path
            .map(|p| CString::new(p.to_string_lossy().as_bytes()).map_err(|e| e.to_string()))
            .transpose()?;
        let spill_dir = new_spill_dir();
        let c_spill =
            CString::new(spill_dir.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: plain C API calls; every handle is checked and released on every path
        unsafe {
            let mut config: ffi::duckdb_config = std::ptr::null_mut();
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err("cannot create a DuckDB config".into());
            }
            if c_path.is_some() {
                let (k, v) = (c"access_mode", c"READ_ONLY");
                ffi::duckdb_set_config(config, k.as_ptr(), v.as_ptr());
            }
            ffi::duckdb_set_config(config, c"temp_directory".as_ptr(), c_spill.as_ptr());
            let mut db: ffi::duckdb_database = std::ptr::null_mut();
            let mut err: *mut c_char = std::ptr::null_mut();
            let path_ptr = c_path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
            let rc = ffi::duckdb_open_ext(path_ptr, &mut db, config, &mut err);
            ffi::duckdb_destroy_config(&mut config);
            if rc != ffi::DuckDBSuccess {
                let m = c_message(err, "cannot open the DuckDB database");
                if !err.is_null() {
                    ffi::duckdb_free(err as *mut c_void);
                }
                return Err(m);
            }
            Ok(RawDuckDb {
                db,
                spill_dir,
                bounded: std::sync::Mutex::new(0),
                threaded: std::sync::Mutex::new(0),
            })
        }
    }

    /// This instance's spill directory (DuckDB's `temp_directory`; it exists once a query has spilled).
    pub fn spill_dir(&self) -> &Path {
        &self.spill_dir
    }

    /// The C API handle (for `duckdb::Connection::open_from_raw`; valid while `self` lives).
    pub(crate) fn raw(&self) -> ffi::duckdb_database {
        self.db
    }

    /// Registers a provenance function computing `template` and returns its SQL name (`__mx_prov_<n>`, unique in
    /// the process). Errors: DuckDB's message.
    pub fn register_provenance(
        &self,
        template: ProvenanceTemplate,
    ) -> std::result::Result<String, String> {
        let name = format!(
            "__mx_prov_{}",
            NEXT_FUNCTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut con = self.connect()?;
        // SAFETY: `con` is open and closed right after
        let r = unsafe { register(con, &name, template) };
        unsafe { ffi::duckdb_disconnect(&mut con) };
        r.map(|()| name)
    }

    fn connect(&self) -> std::result::Result<ffi::duckdb_connection, String> {
        let mut con: ffi::duckdb_connection = std::ptr::null_mut();
        // SAFETY: `db` is open
        if unsafe { ffi::duckdb_connect(self.db, &mut con) } != ffi::DuckDBSuccess {
            return Err("cannot connect to the DuckDB database".into());
        }
        Ok(con)
    }

    /// Runs `sql` on a connection of its own and returns the first row's values as `i64` (NULL = 0), one per
    /// column. Errors: DuckDB's message (bad SQL, a failing cast, an error raised by a provenance function).
    pub fn query_first_row(&self, sql: &str) -> std::result::Result<Vec<i64>, String> {
        // SAFETY: `res` is a live, successful result with at least one row; `c` is below its column count
        self.first_row(sql, |res, c| unsafe { ffi::duckdb_value_int64(res, c, 0) })
    }

    /// [`RawDuckDb::query_first_row`] under [`counts_memory_limit`] (`RawDuckDb::bounded`). Errors: as
    /// `query_first_row`.
    pub fn query_first_row_bounded(&self, sql: &str) -> std::result::Result<Vec<i64>, String> {
        self.query_first_row_limited(sql, counts_memory_limit().as_deref())
    }

    /// [`RawDuckDb::query_first_row`] with DuckDB's `memory_limit` at `limit` (DuckDB's spelling; `None`: DuckDB's
    /// default) while it runs (`RawDuckDb::bounded`). Errors: as `query_first_row`.
    pub fn query_first_row_limited(
        &self,
        sql: &str,
        limit: Option<&str>,
    ) -> std::result::Result<Vec<i64>, String> {
        self.bounded(limit, || self.query_first_row(sql))
    }

    /// Runs `sql` on a connection of its own under [`counts_memory_limit`] (`RawDuckDb::bounded`) and returns
    /// every row as one frame (columns as DuckDB's Arrow export types them, one chunk each): for answers of a few
    /// thousand rows (a page of an increment). Errors: DuckDB's message, or a column polars cannot take.
    pub fn query_frame_bounded(
        &self,
        sql: &str,
    ) -> std::result::Result<polars::prelude::DataFrame, String> {
        self.bounded(counts_memory_limit().as_deref(), || {
            // SAFETY: `self.db` is open and outlives the connection, which is dropped at the end of this closure
            let conn =
                unsafe { duckdb::Connection::open_from_raw(self.db) }.map_err(|e| e.to_string())?;
            let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
            let arrow = stmt.query_arrow([]).map_err(|e| e.to_string())?;
            let schema = arrow.get_schema();
            let batches: Vec<_> = arrow.collect();
            let mut df = crate::engine::frame::record_batches_to_df(&schema, &batches)
                .map_err(|e| e.to_string())?;
            df.rechunk_mut_par();
            Ok(df)
        })
    }

    /// Runs `query` with DuckDB's `memory_limit` set to `limit` (`None`: DuckDB's default; it is a database-wide
    /// setting: set when the first such query of the instance starts, reset to DuckDB's default when the last one
    /// ends), so its joins, aggregates and sorts spill to the instance's temporary directory instead of growing.
    fn bounded<T>(&self, limit: Option<&str>, query: impl FnOnce() -> T) -> T {
        let Some(limit) = limit else {
            return query();
        };
        // a limit DuckDB refuses (bad spelling, below what is pinned now) leaves the query unbounded
        let value = format!("'{}'", limit.replace('\'', ""));
        self.with_setting(&self.bounded, "memory_limit", &value, query)
    }

    /// Runs `work` with DuckDB's `threads` at `threads` (`None`: as it is). Like `memory_limit` in
    /// [`RawDuckDb::query_first_row_bounded`], it is a database-wide setting: set when the first such piece of work
    /// of the instance starts, reset to DuckDB's default (one thread per core) when the last one ends, and seen by
    /// every query of the instance meanwhile. A count refused by DuckDB leaves its default.
    pub fn with_threads<T>(&self, threads: Option<usize>, work: impl FnOnce() -> T) -> T {
        match threads {
            Some(t) => self.with_setting(&self.threaded, "threads", &t.to_string(), work),
            None => work(),
        }
    }

    /// Runs `work` with the database-wide `setting` at `value` (SQL literal): `users` counts the pieces of work
    /// running with it; the first sets it, the last resets it. A value DuckDB refuses leaves the setting as it was.
    fn with_setting<T>(
        &self,
        users: &std::sync::Mutex<usize>,
        setting: &str,
        value: &str,
        work: impl FnOnce() -> T,
    ) -> T {
        {
            let mut n = users.lock().unwrap_or_else(|p| p.into_inner());
            if *n == 0 {
                let _ = self.execute(&format!("SET {setting} = {value}"));
            }
            *n += 1;
        }
        let out = work();
        let mut n = users.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        if *n == 0 {
            let _ = self.execute(&format!("RESET {setting}"));
        }
        out
    }

    /// Runs a statement that returns nothing of interest (`SET`, `RESET`). Errors: DuckDB's message.
    fn execute(&self, sql: &str) -> std::result::Result<(), String> {
        let c_sql = CString::new(sql).map_err(|e| e.to_string())?;
        let mut con = self.connect()?;
        // SAFETY: `con` is open; the result is destroyed before the connection is closed
        unsafe {
            let mut res: ffi::duckdb_result = std::mem::zeroed();
            let rc = ffi::duckdb_query(con, c_sql.as_ptr(), &mut res);
            let out = if rc != ffi::DuckDBSuccess {
                Err(c_message(
                    ffi::duckdb_result_error(&mut res),
                    "statement failed",
                ))
            } else {
                Ok(())
            };
            ffi::duckdb_destroy_result(&mut res);
            ffi::duckdb_disconnect(&mut con);
            out
        }
    }

    /// Runs `sql` on a connection of its own and returns the first row's values as text (`None` = NULL).
    /// Errors: DuckDB's message, or "no row".
    pub fn query_first_row_text(
        &self,
        sql: &str,
    ) -> std::result::Result<Vec<Option<String>>, String> {
        // SAFETY: as above; every string DuckDB returns is freed
        self.first_row(sql, |res, c| unsafe {
            if ffi::duckdb_value_is_null(res, c, 0) {
                return None;
            }
            let p = ffi::duckdb_value_varchar(res, c, 0);
            if p.is_null() {
                return None;
            }
            let v = CStr::from_ptr(p).to_string_lossy().into_owned();
            ffi::duckdb_free(p as *mut c_void);
            Some(v)
        })
    }

    /// Runs `sql` on a connection of its own and reads every column of the first row with `value`.
    fn first_row<T>(
        &self,
        sql: &str,
        value: impl Fn(*mut ffi::duckdb_result, ffi::idx_t) -> T,
    ) -> std::result::Result<Vec<T>, String> {
        let c_sql = CString::new(sql).map_err(|e| e.to_string())?;
        let mut con = self.connect()?;
        // SAFETY: `con` is open; the result is destroyed before the connection is closed
        unsafe {
            let mut res: ffi::duckdb_result = std::mem::zeroed();
            let rc = ffi::duckdb_query(con, c_sql.as_ptr(), &mut res);
            let out = if rc != ffi::DuckDBSuccess {
                Err(c_message(
                    ffi::duckdb_result_error(&mut res),
                    "query failed",
                ))
            } else if ffi::duckdb_row_count(&mut res) == 0 {
                Err("query returned no row".into())
            } else {
                let n = ffi::duckdb_column_count(&mut res);
                Ok((0..n).map(|c| value(&mut res, c)).collect())
            };
            ffi::duckdb_destroy_result(&mut res);
            ffi::duckdb_disconnect(&mut con);
            out
        }
    }
}

/// The column types [`RawDuckDb::sink_chunks`] reads (the query casts its arguments to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkType {
    /// `BIGINT` (`i64`).
    BigInt,
    /// `BOOLEAN`.
    Boolean,
    /// `VARCHAR` (bytes, read in place).
    Varchar,
}

impl ChunkType {
    fn duckdb(self) -> ffi::duckdb_type {
        match self {
            ChunkType::BigInt => ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT,
            ChunkType::Boolean => ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN,
            ChunkType::Varchar => ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR,
        }
    }
}

/// One chunk of rows a query hands to a sink function ([`RawDuckDb::sink_chunks`]), read in place: flat vectors
/// (DuckDB flattens the input of C API scalar functions) of the declared [`ChunkType`]s (DuckDB casts the
/// arguments to them). Valid only during the callback.
pub struct ChunkView {
    rows: usize,
    types: Vec<ChunkType>,
    /// Per column: its data and validity mask (null: every row valid).
    cols: Vec<(*const c_void, *mut u64)>,
}

impl ChunkView {
    /// Rows in the chunk.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the chunk holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Column `c`'s values (`rows` of `T`) and validity. Panics when column `c` is not of type `ty`.
    fn column<T>(&self, c: usize, ty: ChunkType) -> (&[T], Validity<'_>) {
        assert!(
            self.types.get(c) == Some(&ty),
            "chunk column {c} read as {ty:?}"
        );
        let (data, mask) = self.cols[c];
        if self.rows == 0 || data.is_null() {
            return (&[], Validity(None));
        }
        // SAFETY: a flat vector of `ty` holds at least `rows` values of its physical type `T` (i64 for BIGINT,
        // one byte for BOOLEAN, duckdb_string_t for VARCHAR), and a validity mask one bit per row (DuckDB's
        // layout: bit `r % 64` of word `r / 64`); both live as long as the chunk (this view)
        unsafe {
            let values = std::slice::from_raw_parts(data as *const T, self.rows);
            let mask = (!mask.is_null())
                .then(|| std::slice::from_raw_parts(mask as *const u64, self.rows.div_ceil(64)));
            (values, Validity(mask))
        }
    }

    /// BIGINT column `c`. Panics when it is of another type.
    pub fn bigints(&self, c: usize) -> Column<'_, i64> {
        let (values, validity) = self.column(c, ChunkType::BigInt);
        Column { values, validity }
    }

    /// BOOLEAN column `c` (one byte per row, 0 or 1). Panics when it is of another type.
    pub fn booleans(&self, c: usize) -> Column<'_, u8> {
        let (values, validity) = self.column(c, ChunkType::Boolean);
        Column { values, validity }
    }

    /// VARCHAR column `c`. Panics when it is of another type.
    pub fn varchars(&self, c: usize) -> Varchars<'_> {
        let (values, validity) = self.column(c, ChunkType::Varchar);
        Varchars { values, validity }
    }
}

/// Which rows of a chunk's column are not NULL: DuckDB's validity mask (bit `r % 64` of word `r / 64` set: row `r`
/// is valid), or `None` when DuckDB gave no mask (every row valid).
#[derive(Clone, Copy)]
pub struct Validity<'a>(Option<&'a [u64]>);

impl Validity<'_> {
    /// Whether row `r` is not NULL. Panics when `r` is past the chunk.
    #[inline]
    pub fn valid(&self, r: usize) -> bool {
        self.0.is_none_or(|m| (m[r / 64] >> (r % 64)) & 1 == 1)
    }
}

/// A fixed-width column of a chunk, read in place.
#[derive(Clone, Copy)]
pub struct Column<'a, T> {
    values: &'a [T],
    validity: Validity<'a>,
}

impl<T: Copy> Column<'_, T> {
    /// Row `r`, `None` for NULL. Panics when `r` is past the chunk.
    #[inline]
    pub fn get(&self, r: usize) -> Option<T> {
        self.validity.valid(r).then(|| self.values[r])
    }
}

/// A VARCHAR column of a chunk, read in place.
#[derive(Clone, Copy)]
pub struct Varchars<'a> {
    values: &'a [ffi::duckdb_string_t],
    validity: Validity<'a>,
}

/// One VARCHAR value as DuckDB holds it: up to [`INLINE_BYTES`] bytes inline (the length and the bytes, zero-padded
/// or not past the length), longer ones by reference.
#[derive(Clone, Copy)]
pub enum Str<'a> {
    /// A value of at most [`INLINE_BYTES`] bytes: its length and the inline bytes (only the first `len` count).
    Inline(u32, [u8; INLINE_BYTES]),
    /// A longer value.
    Long(&'a [u8]),
}

/// The longest VARCHAR DuckDB stores inline ([`Str::Inline`]).
pub const INLINE_BYTES: usize = 12;

impl<'a> Varchars<'a> {
    /// Row `r`'s bytes, `None` for NULL. Panics when `r` is past the chunk.
    #[inline]
    pub fn get(&self, r: usize) -> Option<&'a [u8]> {
        let v = &self.values[r];
        // SAFETY: a valid string_t of the chunk; its bytes live as long as the chunk
        self.validity.valid(r).then(|| unsafe { str_bytes(v) })
    }

    /// Row `r` as DuckDB holds it ([`Str`]), `None` for NULL: short values come out by value, without a copy of
    /// variable length. Panics when `r` is past the chunk.
    #[inline]
    pub fn get_str(&self, r: usize) -> Option<Str<'a>> {
        if !self.validity.valid(r) {
            return None;
        }
        let v = &self.values[r];
        // SAFETY: a valid string_t of the chunk: its length tells which union member holds the bytes
        unsafe {
            let len = v.value.inlined.length;
            Some(if len as usize <= INLINE_BYTES {
                Str::Inline(len, v.value.inlined.inlined.map(|c| c as u8))
            } else {
                Str::Long(str_bytes(v))
            })
        }
    }
}

impl RawDuckDb {
    /// Hands every chunk of a query's rows to `f` right where DuckDB computes them, with no result set: a volatile
    /// scalar function `__mx_sink_<n>(types...)` is registered whose calls pass their (flat) input chunk to `f`,
    /// and `sql_of(name)` must be a query that calls it once per row, e.g. `SELECT count(name(a, b)) FROM t`.
    /// Unlike a streamed result, no chunk is copied into a result buffer (about 5% of the 1M stale counts'
    /// time). The calls are serialised (a lock), and they come in scan order when the instance runs the query on
    /// one thread. `f` returns `false` to stop the query (it then gets no further chunk, and `Ok` is returned).
    /// Errors: DuckDB's message (bad SQL, arguments DuckDB cannot cast to `types`). A panic of `f` stops the query
    /// and is re-raised once it has ended.
    pub fn sink_chunks(
        &self,
        types: &[ChunkType],
        sql_of: impl FnOnce(&str) -> String,
        mut f: impl FnMut(&ChunkView) -> bool,
    ) -> std::result::Result<(), String> {
        let name = format!(
            "__mx_sink_{}",
            NEXT_FUNCTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let c_name = CString::new(name.as_str()).map_err(|e| e.to_string())?;
        let slot = Box::new(Sink {
            live: std::sync::Mutex::new(SinkState {
                f: None,
                panicked: None,
                stopped: false,
            }),
            types: types.to_vec(),
        });
        let slot_ptr: *const Sink = &*slot;
        let mut con = self.connect()?;
        // SAFETY: `con` is open and closed right after; DuckDB owns `slot` from here (freed by `drop_sink` with
        // the function), so `slot_ptr` stays valid while the instance is open, which outlives this call
        let rc = unsafe {
            let mut func = ffi::duckdb_create_scalar_function();
            ffi::duckdb_scalar_function_set_name(func, c_name.as_ptr());
            for t in types {
                let mut lt = ffi::duckdb_create_logical_type(t.duckdb());
                ffi::duckdb_scalar_function_add_parameter(func, lt);
                ffi::duckdb_destroy_logical_type(&mut lt);
            }
            let mut boolean = ffi::duckdb_create_logical_type(ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN);
            ffi::duckdb_scalar_function_set_return_type(func, boolean);
            ffi::duckdb_destroy_logical_type(&mut boolean);
            // every row reaches `f`, NULLs included, and no call is folded away or merged
            ffi::duckdb_scalar_function_set_special_handling(func);
            ffi::duckdb_scalar_function_set_volatile(func);
            ffi::duckdb_scalar_function_set_extra_info(
                func,
                Box::into_raw(slot) as *mut c_void,
                Some(drop_sink),
            );
            ffi::duckdb_scalar_function_set_function(func, Some(sink_fn));
            let rc = ffi::duckdb_register_scalar_function(con, func);
            ffi::duckdb_destroy_scalar_function(&mut func);
            ffi::duckdb_disconnect(&mut con);
            rc
        };
        if rc != ffi::DuckDBSuccess {
            return Err(format!("cannot register {name} in DuckDB"));
        }
        // SAFETY: see above
        let slot = unsafe { &*slot_ptr };
        let mut f_ref: &mut dyn FnMut(&ChunkView) -> bool = &mut f;
        // cleared below, before `f_ref` goes out of scope
        slot.lock().f = Some(&mut f_ref as *mut &mut dyn FnMut(&ChunkView) -> bool as *mut c_void);
        let out = self.query_first_row(&sql_of(&name)).map(|_| ());
        let (panicked, stopped) = {
            let mut st = slot.lock();
            st.f = None;
            (st.panicked.take(), st.stopped)
        };
        if let Some(p) = panicked {
            std::panic::resume_unwind(p);
        }
        // the query's error is then the one the sink raised to stop it
        if stopped {
            return Ok(());
        }
        out
    }
}

/// A sink function's state ([`RawDuckDb::sink_chunks`]), owned by DuckDB as the function's extra info.
struct Sink {
    live: std::sync::Mutex<SinkState>,
    types: Vec<ChunkType>,
}

/// What a sink function's calls reach: the callback while its query runs (a
/// `*mut &mut dyn FnMut(&ChunkView) -> bool`), a panic it raised, and whether it asked to stop.
struct SinkState {
    f: Option<*mut c_void>,
    panicked: Option<Box<dyn std::any::Any + Send>>,
    /// The callback asked to stop (returned `false`); the query was stopped with an error.
    stopped: bool,
}

// SAFETY: the callback pointer is only dereferenced under the lock, while `sink_chunks` (which owns the callback)
// waits for the query; it is cleared before that returns
unsafe impl Send for SinkState {}

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

unsafe extern "C" fn drop_sink(p: *mut c_void) {
    // SAFETY: `p` came from Box::into_raw of a Sink in `sink_chunks`
    drop(unsafe { Box::from_raw(p as *mut Sink) });
}

unsafe extern "C" fn sink_fn(
    info: ffi::duckdb_function_info,
    input: ffi::duckdb_data_chunk,
    output: ffi::duckdb_vector,
) {
    // SAFETY: the extra info is the Sink registered with the function; C API scalar functions get flat input
    // vectors of the declared parameter types, and a BOOLEAN output vector of the chunk's size
    unsafe {
        let sink = &*(ffi::duckdb_scalar_function_get_extra_info(info) as *const Sink);
        let rows = ffi::duckdb_data_chunk_get_size(input) as usize;
        let out = ffi::duckdb_vector_get_data(output) as *mut u8;
        std::ptr::write_bytes(out, 1, rows);
        let mut st = sink.lock();
        let Some(f) = st.f else {
            let msg = c"sink function called outside its query";
            ffi::duckdb_scalar_function_set_error(info, msg.as_ptr());
            return;
        };
        if st.panicked.is_some() || st.stopped {
            return;
        }
        let view = ChunkView {
            rows,
            types: sink.types.clone(),
            cols: (0..sink.types.len())
                .map(|c| {
                    let v = ffi::duckdb_data_chunk_get_vector(input, c as u64);
                    (
                        ffi::duckdb_vector_get_data(v) as *const c_void,
                        ffi::duckdb_vector_get_validity(v),
                    )
                })
                .collect(),
        };
        let f = &mut *(f as *mut &mut dyn FnMut(&ChunkView) -> bool);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&view))) {
            Ok(true) => {}
            Ok(false) => {
                st.stopped = true;
                let msg = c"stopped by its sink";
                ffi::duckdb_scalar_function_set_error(info, msg.as_ptr());
            }
            Err(p) => {
                // a panic must not unwind into DuckDB: it stops the query and is re-raised by `sink_chunks`
                st.panicked = Some(p);
                let msg = c"sink callback panicked";
                ffi::duckdb_scalar_function_set_error(info, msg.as_ptr());
            }
        }
    }
}

unsafe extern "C" fn drop_info(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: created by Box::into_raw in `register`
        drop(unsafe { Box::from_raw(p as *mut ProvenanceTemplate) });
    }
}

/// Registers `template` as `name` on `con` (in the database's catalog, so every later connection sees it).
unsafe fn register(
    con: ffi::duckdb_connection,
    name: &str,
    template: ProvenanceTemplate,
) -> std::result::Result<(), String> {
    let c_name = CString::new(name).map_err(|e| e.to_string())?;
    unsafe {
        let mut f = ffi::duckdb_create_scalar_function();
        ffi::duckdb_scalar_function_set_name(f, c_name.as_ptr());
        let mut varchar = ffi::duckdb_create_logical_type(ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR);
        for _ in 0..template.args {
            ffi::duckdb_scalar_function_add_parameter(f, varchar);
        }
        ffi::duckdb_scalar_function_set_return_type(f, varchar);
        ffi::duckdb_destroy_logical_type(&mut varchar);
        // NULLs are handled by the function itself (any NULL argument gives NULL)
        ffi::duckdb_scalar_function_set_special_handling(f);
        let info = Box::into_raw(Box::new(template));
        ffi::duckdb_scalar_function_set_extra_info(f, info as *mut c_void, Some(drop_info));
        ffi::duckdb_scalar_function_set_function(f, Some(provenance_fn));
        let rc = ffi::duckdb_register_scalar_function(con, f);
        ffi::duckdb_destroy_scalar_function(&mut f);
        if rc != ffi::DuckDBSuccess {
            return Err(format!("cannot register {name} in DuckDB"));
        }
        Ok(())
    }
}

/// The bytes of a DuckDB string (inlined up to 12 bytes, else behind a pointer).
///
/// # Safety
/// `s` must point into a live VARCHAR vector.
#[inline]
unsafe fn str_bytes<'a>(s: *const ffi::duckdb_string_t) -> &'a [u8] {
    unsafe {
        let len = (*s).value.inlined.length as usize;
        if len <= 12 {
            std::slice::from_raw_parts((*s).value.inlined.inlined.as_ptr() as *const u8, len)
        } else {
            std::slice::from_raw_parts((*s).value.pointer.ptr as *const u8, len)
        }
    }
}

unsafe extern "C" fn provenance_fn(
    info: ffi::duckdb_function_info,
    input: ffi::duckdb_data_chunk,
    output: ffi::duckdb_vector,
) {
    // a panic must not unwind into DuckDB: it becomes the query's error
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        let t = &*(ffi::duckdb_scalar_function_get_extra_info(info) as *const ProvenanceTemplate);
        let rows = ffi::duckdb_data_chunk_get_size(input) as usize;
        let ncols = ffi::duckdb_data_chunk_get_column_count(input) as usize;
        // C API scalar functions get flat input vectors
        let cols: Vec<(*const ffi::duckdb_string_t, *mut u64)> = (0..ncols)
            .map(|c| {
                let v = ffi::duckdb_data_chunk_get_vector(input, c as u64);
                (
                    ffi::duckdb_vector_get_data(v) as *const ffi::duckdb_string_t,
                    ffi::duckdb_vector_get_validity(v),
                )
            })
            .collect();
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut sample = String::with_capacity(64 * (t.fields.len() + 1));
        let mut out_validity: *mut u64 = std::ptr::null_mut();
        // the arguments whose NULL makes the result NULL: all for the sample, a field's own for a field
        let used: Vec<bool> = (0..ncols)
            .map(|a| match t.output {
                ProvenanceOutput::Sample => true,
                ProvenanceOutput::Field(k) => t
                    .fields
                    .get(k)
                    .is_some_and(|toks| toks.contains(&RecipeTok::Arg(a))),
            })
            .collect();
        'rows: for row in 0..rows {
            for (&(_, validity), _) in cols.iter().zip(&used).filter(|(_, u)| **u) {
                if !validity.is_null() && !ffi::duckdb_validity_row_is_valid(validity, row as u64) {
                    if out_validity.is_null() {
                        ffi::duckdb_vector_ensure_validity_writable(output);
                        out_validity = ffi::duckdb_vector_get_validity(output);
                    }
                    ffi::duckdb_validity_set_row_invalid(out_validity, row as u64);
                    continue 'rows;
                }
            }
            t.compute(
                |a| match cols.get(a) {
                    Some(&(data, _)) => str_bytes(data.add(row)),
                    None => panic!("provenance function: argument {a} missing"),
                },
                &mut buf,
                &mut sample,
            );
            // hashes are ASCII: no UTF-8 check needed
            ffi::duckdb_unsafe_vector_assign_string_element_len(
                output,
                row as u64,
                sample.as_ptr() as *const c_char,
                sample.len() as u64,
            );
        }
    }));
    if r.is_err() {
        // SAFETY: `info` is the live function info of this call
        unsafe {
            ffi::duckdb_scalar_function_set_error(
                info,
                c"the provenance function panicked".as_ptr(),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hashing::hash_str;

    /// Sunk chunks are read in place (BIGINT, BOOLEAN, inlined and pointer VARCHARs, NULLs), every row once;
    /// arguments of other types are refused; a panicking reader stops the query, is re-raised, and the database
    /// stays usable.
    #[test]
    fn chunks_sink_in_place_and_a_reader_panic_is_re_raised() {
        let db = RawDuckDb::open_in_memory().unwrap();
        let types = [ChunkType::BigInt, ChunkType::Boolean, ChunkType::Varchar];
        let sql = |f: &str| {
            format!(
                "SELECT count({f}(range::BIGINT, range % 2 = 0, \
                 CASE WHEN range % 3 = 0 THEN NULL WHEN range % 3 = 1 THEN 's' || range ELSE 'a-longer-value-' || range END)) \
                 FROM range(5000)"
            )
        };
        let (mut rows, mut sum, mut evens, mut nulls) = (0i64, 0i64, 0i64, 0i64);
        let mut texts: Vec<String> = Vec::new();
        db.sink_chunks(&types, sql, |v| {
            let (ints, bools, strs) = (v.bigints(0), v.booleans(1), v.varchars(2));
            for r in 0..v.len() {
                rows += 1;
                sum += ints.get(r).unwrap();
                evens += i64::from(bools.get(r).unwrap());
                match (strs.get(r), strs.get_str(r)) {
                    (Some(b), Some(Str::Inline(n, inline))) => {
                        assert_eq!(&inline[..n as usize], b);
                        texts.push(String::from_utf8(b.to_vec()).unwrap());
                    }
                    (Some(b), Some(Str::Long(l))) => {
                        assert!(b.len() > INLINE_BYTES);
                        assert_eq!(l, b);
                        texts.push(String::from_utf8(b.to_vec()).unwrap());
                    }
                    (None, None) => nulls += 1,
                    _ => panic!("get and get_str disagree on row {r}"),
                }
            }
            true
        })
        .unwrap();
        assert_eq!(
            (rows, sum, evens, nulls),
            (5000, 5000 * 4999 / 2, 2500, 1667)
        );
        let want: Vec<String> = (0..5000)
            .filter(|i| i % 3 != 0)
            .map(|i| {
                if i % 3 == 1 {
                    format!("s{i}")
                } else {
                    format!("a-longer-value-{i}")
                }
            })
            .collect();
        texts.sort();
        let mut want = want;
        want.sort();
        assert_eq!(texts, want);
        assert!(db.sink_chunks(&[ChunkType::BigInt], sql, |_| true).is_err());
        // a sink that asks to stop gets no further chunk, and the query ends without an error
        let mut calls = 0;
        db.sink_chunks(&types, sql, |_| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!(calls, 1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.sink_chunks(&types, sql, |_| panic!("reader failed"))
        }));
        assert!(r.is_err());
        assert_eq!(db.query_first_row("SELECT 42").unwrap(), vec![42]);
    }

    /// The provenance function equals the engine's recipe (field hashes joined by `|`, hashed again) for every
    /// algorithm and truncation, with inlined (≤ 12 bytes) and pointer strings, and NULL in gives NULL out.
    #[test]
    fn provenance_function_equals_the_engine_recipe() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.duckdb");
        let rows: Vec<(Option<&str>, Option<&str>)> = vec![
            (Some("a1"), Some("b1")),
            (Some("a value longer than twelve bytes"), Some("")),
            (Some("ünïcødé"), Some("x")),
            (None, Some("b")),
            (Some("a"), None),
        ];
        for algo in [
            HashAlgorithm::Xxhash32,
            HashAlgorithm::Xxhash64,
            HashAlgorithm::Xxh3_64,
            HashAlgorithm::Wyhash,
            HashAlgorithm::Sha256,
            HashAlgorithm::Md5,
        ] {
            for trunc in [8, 64] {
                let _ = std::fs::remove_file(&path);
                let f0 = |a: &str| hash_str(algo, &format!("x|1|up.a|{a}"), trunc).unwrap();
                let f1 = |a: &str, b: &str| {
                    hash_str(algo, &format!("y|2|up.a|{a}|up.b|{b}"), trunc).unwrap()
                };
                let expected = |a: &str, b: &str| {
                    hash_str(algo, &format!("{}|{}", f0(a), f1(a, b)), trunc).unwrap()
                };
                {
                    let c = duckdb::Connection::open(&path).unwrap();
                    c.execute_batch(
                        "CREATE TABLE t (a VARCHAR, b VARCHAR, e VARCHAR, e0 VARCHAR, e1 VARCHAR)",
                    )
                    .unwrap();
                    for (a, b) in &rows {
                        let (e, e1) = match (a, b) {
                            (Some(a), Some(b)) => (Some(expected(a, b)), Some(f1(a, b))),
                            _ => (None, None),
                        };
                        let e0 = a.map(f0);
                        c.execute(
                            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                            duckdb::params![a, b, e, e0, e1],
                        )
                        .unwrap();
                    }
                }
                let db = RawDuckDb::open(&path).unwrap();
                let lit = |s: &str| RecipeTok::Lit(s.as_bytes().to_vec());
                let register = |output| {
                    db.register_provenance(ProvenanceTemplate {
                        algorithm: algo,
                        truncation: trunc,
                        fields: vec![
                            vec![lit("x|1|up.a|"), RecipeTok::Arg(0)],
                            vec![
                                lit("y|2|up.a|"),
                                RecipeTok::Arg(0),
                                lit("|up.b|"),
                                RecipeTok::Arg(1),
                            ],
                        ],
                        args: 2,
                        output,
                    })
                    .unwrap()
                };
                let f = register(ProvenanceOutput::Sample);
                let r = db
                    .query_first_row(&format!(
                        "SELECT count(*) FILTER (WHERE {f}(a, b) IS NOT DISTINCT FROM e), count(*), \
                         count({f}(a, b)) FROM t"
                    ))
                    .unwrap();
                assert_eq!(r, vec![5, 5, 3], "{algo:?} {trunc}");
                // one field's provenance: NULL only when an argument of that field is NULL
                let (g0, g1) = (
                    register(ProvenanceOutput::Field(0)),
                    register(ProvenanceOutput::Field(1)),
                );
                let r = db
                    .query_first_row_bounded(&format!(
                        "SELECT count(*) FILTER (WHERE {g0}(a, b) IS NOT DISTINCT FROM e0 \
                         AND {g1}(a, b) IS NOT DISTINCT FROM e1), count({g0}(a, b)), count({g1}(a, b)) FROM t"
                    ))
                    .unwrap();
                assert_eq!(r, vec![5, 4, 3], "{algo:?} {trunc}");
                let df = db
                    .query_frame_bounded(&format!("SELECT a, {g0}(a, b) AS p FROM t ORDER BY a"))
                    .unwrap();
                assert_eq!(df.shape(), (5, 2));
                let p = df
                    .column("p")
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(0)
                    .map(str::to_string);
                assert_eq!(p, Some(f0("a")), "{algo:?} {trunc}");
            }
        }
    }

    /// A database that cannot be opened is an error, not a panic.
    #[test]
    fn bad_files_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("not.duckdb");
        std::fs::write(&p, b"this is not a duckdb file at all").unwrap();
        assert!(RawDuckDb::open(&p).is_err());
        let db = RawDuckDb::open(&tmp.path().join("missing.duckdb"));
        assert!(db.is_err(), "read-only open of a missing file must fail");
    }

    /// `with_threads` sets DuckDB's thread count for the work (nested work included) and DuckDB's default again
    /// afterwards.
    #[test]
    fn with_threads_sets_the_count_while_work_runs_and_resets_it_after() {
        let db = RawDuckDb::open_in_memory().unwrap();
        let threads = |db: &RawDuckDb| {
            db.query_first_row_text("SELECT current_setting('threads')::VARCHAR")
                .unwrap()[0]
                .clone()
                .unwrap()
        };
        let default = threads(&db);
        let want = if default == "3" { 5 } else { 3 };
        let inside = db.with_threads(Some(want), || {
            let outer = threads(&db);
            // nested: the inner end must not reset what the outer work still runs with
            let nested = db.with_threads(Some(want), || threads(&db));
            (outer, nested, threads(&db))
        });
        let w = want.to_string();
        assert_eq!(inside, (w.clone(), w.clone(), w));
        assert_eq!(threads(&db), default);
        assert_eq!(db.with_threads(None, || threads(&db)), default);
    }

    /// Under a memory limit a query whose aggregate needs more memory spills to the instance's own directory
    /// and gives the same answer; the limit is DuckDB's default again afterwards; the directory goes with the
    /// instance. A limit DuckDB refuses leaves the query unbounded.
    #[test]
    fn bounded_queries_spill_to_their_own_directory() {
        let sql = "SELECT count(*), sum(n) FROM (SELECT range % 1000000 AS k, count(*) AS n FROM range(2000000) \
                   GROUP BY k)";
        let free = RawDuckDb::open_in_memory().unwrap();
        let expected = free.query_first_row(sql).unwrap();
        assert_eq!(expected, vec![1_000_000, 2_000_000]);
        let default_limit = free
            .query_first_row_text("SELECT current_setting('memory_limit')")
            .unwrap();
        let db = RawDuckDb::open_in_memory().unwrap();
        let dir = db.spill_dir().to_path_buf();
        assert_ne!(dir, free.spill_dir());
        assert!(!dir.exists());
        assert_eq!(
            db.query_first_row_limited(sql, Some("16MB")).unwrap(),
            expected
        );
        assert!(dir.is_dir(), "nothing spilled to {}", dir.display());
        assert_eq!(
            db.query_first_row_text("SELECT current_setting('memory_limit')")
                .unwrap(),
            default_limit
        );
        assert_eq!(
            db.query_first_row_limited(sql, Some("banana")).unwrap(),
            expected
        );
        drop(db);
        assert!(!dir.exists());
    }
}
