//! The counts-only increment of a [`CountPlan`] over dense integer ids: DuckDB only scans (each relation once,
//! chunk by chunk, in parallel), and the latest-row pick, the upstream join, the provenance hashing and the
//! comparison run here over arrays indexed by `id - lo`, with no hash table at all.
//!
//! It computes exactly what the one-query count of [`super::counts::count_in_duckdb`] computes (and so the general
//! engine's increment, Metaxy's `resolve_update` counts):
//! - per relation, the rows of the feature version; per id the latest row (Metaxy's `keep_latest`: greatest
//!   `metaxy_deleted_at`/`metaxy_updated_at` coalesced in that order, nulls oldest, then the row stored last, by the
//!   relation's storage order); soft-deleted winners dropped;
//! - expected samples: ids with a live latest row in every upstream (the inner join on the id); their sample
//!   provenance (FORMAT.md §5.3) from those rows' data versions, NULL when one is NULL;
//! - new = expected and not stored; orphaned = stored and not expected; stale = both, and the stored
//!   `metaxy_provenance` is NULL or differs from a non-NULL recomputed one.
//!
//! It applies when the plan joins on one integer column that every relation holds without NULLs and whose values
//! are dense: the id range is at most [`SPARSENESS`] times the stored rows (plus [`SLACK`]). The range and the rows
//! come from metadata where the relation has some ([`id_stats_from_metadata`]: DuckDB's table statistics, parquet
//! footers; all versions' rows), else from a scan of the ids; the first and last id ranges are open-ended, so an
//! id outside the range or a NULL id fails the pick and the caller runs the one-query count. Large counts run as
//! disjoint id ranges of about [`super::counts::PARTITION_ROWS`] stored rows each, as the one-query count does, so
//! memory stays flat: per id of a range, 3 bytes per relation (9 past 65,536 distinct timestamps in the range, 8
//! more when its rows do not reach the pick in storage order) plus 8 per string read (and 4 more plus the bytes for
//! a value longer than 8 bytes). The arrays are anonymous mappings advised as transparent huge pages, so they need
//! no initialisation pass and few page faults. Every byte per id counts: on a VM whose host reclaims the pages
//! other processes freed, first touches cost about 2 ms per MB (bench/README.md, "Issue 21, tenth session").
//! Each range is split again between worker threads (one DuckDB connection each, scanning its own sub-range into
//! a sink function, [`RawDuckDb::sink_chunks`]), so DuckDB's scans and our picks run in parallel. What it saves
//! against the one-query count is DuckDB's hash aggregate, semi join and full join over every id (bench/README.md,
//! "Issue 21, fifth session").

use crate::engine::error::Result;
use crate::engine::hashing::parse_decimal;
use crate::engine::keys::FeatureKey;
use crate::engine::schema as cols;
use crate::engine::store::common::{quote_ident, sql_str};
use crate::engine::store::count_plan::{CountPlan, IncrementCounts};
use crate::engine::store::duckql::counts::{
    partition_rows, recipe_tokens, run_logged, varchar_member, RelationMeta, SqlRelation, INTS,
    MAX_PARTITIONS,
};
use crate::engine::store::duckql::udf::{
    ChunkType, ChunkView, ProvenanceOutput, ProvenanceTemplate, RawDuckDb, Str, INLINE_BYTES,
};

/// The dense path is tried unless `METAXY_TUI_DENSE_COUNTS` is `off` / `0` / `false` (then every count runs as
/// one DuckDB query, [`super::counts::count_in_duckdb`]'s own).
pub fn dense_counts_enabled() -> bool {
    !matches!(
        std::env::var("METAXY_TUI_DENSE_COUNTS")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str(),
        "off" | "0" | "false" | "no"
    )
}

/// The environment variable `name` as a positive number (`None`: unset, 0 or not a number).
fn env_positive(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
}

/// Cores to use: `METAXY_TUI_DENSE_WORKERS` when a positive number, else `available_parallelism`.
fn cores() -> i128 {
    env_positive("METAXY_TUI_DENSE_WORKERS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())) as i128
}

/// Worker threads for a range of `width` ids: one per core, at most 8, none with fewer than
/// [`MIN_WORKER_IDS`] ids (at least one).
fn workers_for(width: i128) -> i128 {
    #[cfg(test)]
    if let Some(w) = tests::WORKERS.with(|c| c.get()) {
        return w.clamp(1, width.max(1));
    }
    cores().min(width / MIN_WORKER_IDS).clamp(1, 8)
}

/// DuckDB's thread count while `workers` workers pick: `METAXY_TUI_DENSE_THREADS` when a positive number, else the
/// cores the workers leave free plus one (DuckDB counts the thread that runs a query), so 1 on a 2-core machine.
/// Each worker streams its own query; with no DuckDB thread to spare, a query runs on its worker's thread, which
/// then consumes every chunk right where it was produced: on the 1M stale stores that took the counts 9-13% below
/// DuckDB's default of one thread per core (bench/README.md, "Issue 21, seventh session"). DuckDB's setting is per
/// instance, so the reads sharing the instance run with it too while a count runs.
fn dense_duckdb_threads(workers: i128) -> usize {
    env_positive("METAXY_TUI_DENSE_THREADS")
        .unwrap_or_else(|| usize::try_from(cores() - workers + 1).unwrap_or(1).max(1))
}

/// Most id-range width per stored row for ids to count as dense.
pub const SPARSENESS: i128 = 4;

/// Id-range width allowed on top of [`SPARSENESS`] (small tables with scattered ids).
pub const SLACK: i128 = 65_536;

/// Most ids of one range (the arrays' length).
const MAX_SLOTS: i128 = 1 << 28;

/// One relation as the dense count reads it.
struct Read {
    rel: SqlRelation,
    /// The feature version whose rows count.
    version: String,
    /// The join column, quoted.
    id: String,
    /// The join column's name.
    id_name: String,
    /// The join column's DuckDB type (one of [`INTS`]).
    id_type: String,
    /// The timestamp expression of the latest-row pick (`coalesce(deleted_at, updated_at)` of what exists).
    ts: String,
    /// `metaxy_deleted_at IS NULL`, or `true` without that column.
    live: String,
    /// The strings read per latest row (data versions of a dep, the stored provenance of the target).
    strings: Vec<String>,
}

impl Read {
    /// `rel` read for the dense count, or `None` when it lacks a column the pick needs or its id is not an
    /// integer column.
    fn new(rel: SqlRelation, version: &str, id_col: &str, strings: Vec<String>) -> Option<Read> {
        let has = |c: &str| rel.columns.iter().any(|(n, _)| n == c);
        let id_type = rel
            .columns
            .iter()
            .find(|(n, t)| n == id_col && INTS.contains(&t.as_str()))
            .map(|(_, t)| t.clone());
        let ts: Vec<String> = [cols::DELETED_AT, cols::UPDATED_AT]
            .into_iter()
            .filter(|c| has(c))
            .map(quote_ident)
            .collect();
        let id_type = id_type?;
        if !has(cols::FEATURE_VERSION) || ts.is_empty() {
            return None;
        }
        let ts = if ts.len() == 1 {
            ts[0].clone()
        } else {
            format!("coalesce({})", ts.join(", "))
        };
        let live = if has(cols::DELETED_AT) {
            format!("{} IS NULL", quote_ident(cols::DELETED_AT))
        } else {
            "true".into()
        };
        Some(Read {
            version: version.to_string(),
            id: quote_ident(id_col),
            id_name: id_col.to_string(),
            id_type,
            ts,
            live,
            strings,
            rel,
        })
    }

    /// `id - lo` as a BIGINT, for the rows of `lo..=hi` (so it never overflows), in 64-bit arithmetic where the
    /// id's type and `lo` allow it (HUGEINT otherwise).
    fn id_offset(&self, lo: i128) -> String {
        let id = &self.id;
        let unsigned = self.id_type.starts_with('U');
        if unsigned && u64::try_from(lo).is_ok() {
            format!("({id}::UBIGINT - {lo}::UBIGINT)::BIGINT")
        } else if !unsigned && i64::try_from(lo).is_ok() {
            format!("({id}::BIGINT - ({lo})::BIGINT)")
        } else {
            format!("({id}::HUGEINT - ({lo})::HUGEINT)::BIGINT")
        }
    }

    fn where_version(&self) -> String {
        format!(
            " WHERE {} = {}",
            quote_ident(cols::FEATURE_VERSION),
            sql_str(&self.version)
        )
    }
}

/// Plain values whose all-zero bytes are a valid value, so that a [`Zeroed`] array of them needs no initialisation.
///
/// # Safety
/// Implementors hold only integers, booleans and arrays of them.
unsafe trait ZeroValid: Copy {}
// SAFETY: integers
unsafe impl ZeroValid for i64 {}
// SAFETY: an integer
unsafe impl ZeroValid for u64 {}
// SAFETY: an integer
unsafe impl ZeroValid for u8 {}
// SAFETY: an integer
unsafe impl ZeroValid for u16 {}
// SAFETY: a byte array
unsafe impl ZeroValid for [u8; 8] {}

/// `len` zero values of `T` in an anonymous memory mapping of their own. The kernel hands its pages out
/// zero-filled, so there is no initialisation pass, and on Linux they are advised as transparent huge pages: a
/// range's arrays then cost a few dozen page faults instead of one per 4 KiB (about a tenth of the wide 1M stale
/// count's time went to those faults). Unmapped when dropped.
struct Zeroed<T> {
    map: memmap2::MmapMut,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T: ZeroValid> Zeroed<T> {
    /// Errors: the mapping fails (out of address space or memory).
    fn new(len: usize) -> std::result::Result<Self, String> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or("dense array too large")?
            .max(1);
        let map = memmap2::MmapOptions::new()
            .len(bytes)
            .map_anon()
            .map_err(|e| format!("cannot map {bytes} bytes: {e}"))?;
        // hints only: refused where transparent huge pages are off, or before Linux 5.14 (then each page is
        // faulted in by its first access)
        #[cfg(target_os = "linux")]
        {
            let _ = map.advise(memmap2::Advice::HugePage);
            let _ = map.advise(memmap2::Advice::PopulateWrite);
        }
        Ok(Zeroed {
            map,
            len,
            _t: std::marker::PhantomData,
        })
    }
}

impl<T: ZeroValid> std::ops::Deref for Zeroed<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the mapping is page-aligned (so aligned for `T`), holds `len` values of `T` and starts zeroed,
        // which `ZeroValid` makes valid values; it lives as long as `self`
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const T, self.len) }
    }
}

impl<T: ZeroValid> std::ops::DerefMut for Zeroed<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, borrowed mutably through `self`
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr() as *mut T, self.len) }
    }
}

/// Strings of many slots, 8 bytes per slot: a value of at most 8 bytes that neither starts with the byte `0xFF`
/// (which UTF-8 never holds) nor ends with a NUL byte inline, zero-padded (short data versions, e.g. a root's);
/// any other value out of line: `0xFF` and the offset (7 bytes, little-endian) in `long` of its length (4 bytes,
/// little-endian) and its bytes; all `0xFF`: NULL. A value replacing an out-of-line one no shorter than itself
/// takes its place in `long`.
struct Arena {
    slots: Zeroed<[u8; 8]>,
    long: Vec<u8>,
}

/// An [`Arena`] slot of NULL.
const SLOT_NULL: [u8; 8] = [0xFF; 8];

/// The first byte of an out-of-line [`Arena`] slot.
const OUT_OF_LINE: u8 = 0xFF;

impl Arena {
    fn new(slots: usize) -> std::result::Result<Self, String> {
        Ok(Arena {
            slots: Zeroed::new(slots)?,
            long: Vec::new(),
        })
    }

    /// Sets slot `i`.
    #[inline]
    fn set(&mut self, i: usize, v: Option<Str<'_>>) {
        let (len, data) = match v {
            None => {
                self.slots[i] = SLOT_NULL;
                return;
            }
            Some(Str::Inline(len, data)) => (len, data),
            Some(Str::Long(b)) => return self.set_out_of_line(i, b),
        };
        if len <= 8 {
            let mut head = [0u8; 8];
            head.copy_from_slice(&data[..8]);
            // the bytes past the length are not always zero
            let w = u64::from_le_bytes(head) & u64::MAX.checked_shr(64 - 8 * len).unwrap_or(0);
            // the length the zero-padded slot spells is `len` unless the value ends with a NUL byte
            if 8 - w.leading_zeros() / 8 == len && w as u8 != OUT_OF_LINE {
                self.slots[i] = w.to_le_bytes();
                return;
            }
        }
        self.set_out_of_line(i, &data[..(len as usize).min(INLINE_BYTES)]);
    }

    /// Sets slot `i` to `b` out of line.
    fn set_out_of_line(&mut self, i: usize, b: &[u8]) {
        // a string of 4 GiB or more cannot come out of a DuckDB VARCHAR
        let b = &b[..b.len().min(u32::MAX as usize)];
        let len = (b.len() as u32).to_le_bytes();
        let at = match self.out_of_line(i) {
            Some((at, old)) if b.len() <= old => {
                self.long[at..at + 4].copy_from_slice(&len);
                self.long[at + 4..at + 4 + b.len()].copy_from_slice(b);
                at
            }
            _ => {
                let at = self.long.len();
                self.long.extend_from_slice(&len);
                self.long.extend_from_slice(b);
                at
            }
        };
        self.slots[i] = ((at as u64) << 8 | u64::from(OUT_OF_LINE)).to_le_bytes();
    }

    /// Slot `i`'s value when out of line: its offset in `long` and its length.
    #[inline]
    fn out_of_line(&self, i: usize) -> Option<(usize, usize)> {
        let s = &self.slots[i];
        if s[0] != OUT_OF_LINE || *s == SLOT_NULL {
            return None;
        }
        let at = (u64::from_le_bytes(*s) >> 8) as usize;
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.long[at..at + 4]);
        Some((at, u32::from_le_bytes(len) as usize))
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        let s = &self.slots[i];
        if s[0] != OUT_OF_LINE {
            let len = 8 - (u64::from_le_bytes(*s).leading_zeros() / 8) as usize;
            return Some(&s[..len]);
        }
        let (at, len) = self.out_of_line(i)?;
        Some(&self.long[at + 4..at + 4 + len])
    }
}

/// Most distinct timestamps [`Stamps::Dict`] holds.
const MAX_STAMPS: usize = 1 << 16;

/// The latest rows' timestamps of a pick: per id an index into the distinct timestamps seen, 2 bytes
/// ([`Stamps::Dict`]: a store holds few distinct ones, one per write or delete); past [`MAX_STAMPS`] distinct ones
/// the timestamps themselves, 8 bytes ([`Stamps::Full`], the indexes resolved once).
enum Stamps {
    Dict {
        idx: Zeroed<u16>,
        vals: Vec<i64>,
        seen: std::collections::HashMap<i64, u16>,
        /// The last timestamp set and its index (rows of one write come together).
        last: Option<(i64, u16)>,
    },
    Full(Zeroed<i64>),
}

impl Stamps {
    fn new(width: usize) -> std::result::Result<Self, String> {
        Ok(Stamps::Dict {
            idx: Zeroed::new(width)?,
            vals: Vec::new(),
            seen: std::collections::HashMap::new(),
            last: None,
        })
    }

    /// Slot `i`'s timestamp (`i64::MIN` when never set).
    #[inline]
    fn get(&self, i: usize) -> i64 {
        match self {
            Stamps::Dict { idx, vals, .. } => {
                vals.get(usize::from(idx[i])).copied().unwrap_or(i64::MIN)
            }
            Stamps::Full(ts) => ts[i],
        }
    }

    /// Sets slot `i`. Errors: the mapping of [`Stamps::Full`] fails ([`Zeroed::new`]).
    #[inline]
    fn set(&mut self, i: usize, ts: i64) -> std::result::Result<(), String> {
        if let Stamps::Dict {
            idx,
            vals,
            seen,
            last,
        } = self
        {
            let k = match *last {
                Some((t, k)) if t == ts => Some(k),
                _ => match seen.get(&ts) {
                    Some(&k) => Some(k),
                    None if vals.len() < MAX_STAMPS => {
                        let k = vals.len() as u16;
                        vals.push(ts);
                        seen.insert(ts, k);
                        Some(k)
                    }
                    None => None,
                },
            };
            if let Some(k) = k {
                *last = Some((ts, k));
                idx[i] = k;
                return Ok(());
            }
            self.widen()?;
        }
        if let Stamps::Full(all) = self {
            all[i] = ts;
        }
        Ok(())
    }

    /// [`Stamps::Dict`] to [`Stamps::Full`].
    #[cold]
    fn widen(&mut self) -> std::result::Result<(), String> {
        let Stamps::Dict { idx, vals, .. } = &*self else {
            return Ok(());
        };
        let mut full = Zeroed::<i64>::new(idx.len())?;
        for (t, &k) in full.iter_mut().zip(idx.iter()) {
            *t = vals.get(usize::from(k)).copied().unwrap_or(i64::MIN);
        }
        *self = Stamps::Full(full);
        Ok(())
    }
}

/// An id range of a dense count: the ids `lo..=hi` its arrays hold, and whether its queries also take the ids
/// below `lo` (`below`) or above `hi` (`above`). The first and last ranges of a count do: the bounds come from
/// statistics (possibly from metadata, [`id_stats_from_metadata`]), and an id outside them then reaches a pick,
/// which fails on it (the count falls back to the one-query count) instead of skipping its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdRange {
    lo: i128,
    hi: i128,
    below: bool,
    above: bool,
}

impl IdRange {
    /// All ids (both ends open) with the arrays over `lo..=hi`.
    fn whole(lo: i128, hi: i128) -> IdRange {
        IdRange {
            lo,
            hi,
            below: true,
            above: true,
        }
    }

    fn width(&self) -> i128 {
        self.hi - self.lo + 1
    }

    /// Consecutive sub-ranges of at most `per` ids (at least 1) covering this one; the first keeps `below`, the
    /// last `above`.
    fn split(&self, per: i128) -> Vec<IdRange> {
        let per = per.max(1);
        let mut out = Vec::new();
        let mut lo = self.lo;
        while lo <= self.hi {
            let hi = lo.saturating_add(per - 1).min(self.hi);
            out.push(IdRange {
                lo,
                hi,
                below: self.below && lo == self.lo,
                above: self.above && hi == self.hi,
            });
            lo = hi + 1;
        }
        out
    }

    /// The filter on the (quoted) id column `id` that takes this range's rows: ` AND ...` (empty when both ends
    /// are open).
    fn filter(&self, id: &str) -> String {
        let mut f = String::new();
        if !self.below {
            f.push_str(&format!(" AND {id} >= {}", self.lo));
        }
        if !self.above {
            f.push_str(&format!(" AND {id} <= {}", self.hi));
        }
        f
    }
}

/// A slot of [`Slots::state`] (its two low bits): no row of the id.
const NO_ROW: u8 = 0;
/// A slot of [`Slots::state`] (its two low bits): the latest row is soft-deleted.
const DELETED: u8 = 1;
/// A slot of [`Slots::state`] (its two low bits): the latest row is live.
const LIVE: u8 = 2;
/// The two low bits of a [`Slots::state`] slot.
const ROW: u8 = 3;
/// A flag of [`Slots::state`] with [`Slots::nums`]: the latest row's string is NULL.
const NULL_STR: u8 = 4;
/// A flag of [`Slots::state`] with [`Slots::nums`]: the latest row's string is not a canonical decimal
/// ([`parse_decimal`]), so no decimal hash equals it.
const NOT_DECIMAL: u8 = 8;

/// The latest row per id of one relation over one id range: its timestamp (of the pick key), its storage order
/// plus one when the rows did not arrive in storage order (see [`pick`]), its state ([`NO_ROW`], [`DELETED`],
/// [`LIVE`], plus flags) and its strings, or (the target's provenance under a decimal hash, [`Keep::Number`]) its
/// one string as a number. Per id 3 bytes ([`Stamps`]: 9 past [`MAX_STAMPS`] distinct timestamps), plus 8 for the
/// order, plus 8 per string ([`Arena`], and 4 plus the bytes of a value longer than 8) or 8 for the number.
struct Slots {
    ts: Stamps,
    ord: Option<Zeroed<i64>>,
    state: Zeroed<u8>,
    strs: Vec<Arena>,
    nums: Option<Zeroed<u64>>,
}

impl Slots {
    #[inline]
    fn live_row(&self, i: usize) -> bool {
        self.state[i] & ROW >= LIVE
    }
}

/// How [`pick`] keeps the strings of a relation's latest rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// As bytes ([`Slots::strs`]).
    Strings,
    /// Its one string as the number it spells ([`Slots::nums`], with [`NULL_STR`] and [`NOT_DECIMAL`]): a
    /// stored provenance compared with decimal hashes ([`ProvenanceTemplate::decimal`]), 8 bytes per id instead
    /// of a string slot plus its up to 20 digits out of line.
    Number,
}

/// A stored provenance as [`Expect::stale`] compares it.
#[derive(Debug, Clone, Copy)]
enum Stored<'a> {
    Null,
    Bytes(&'a [u8]),
    /// [`Keep::Number`]'s number (`None`: not a canonical decimal).
    Number(Option<u64>),
}

/// How [`pick`] orders two rows of an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// Rows arrive in storage order (a query on one DuckDB thread scans in order), so a later row wins a
    /// timestamp tie and only the timestamp is kept; a row out of order fails the pick with [`UNORDERED`].
    Arrival,
    /// The storage order is kept per id beside the timestamp (8 more bytes per id).
    Stored,
}

/// [`pick`]'s error when rows arrived out of storage order under [`Keys::Arrival`] (the pick is then rerun with
/// [`Keys::Stored`]).
const UNORDERED: &str = "rows out of storage order";

/// What the target rows of an id range are compared with: the upstreams' picks of the range and how to hash their
/// data versions into the expected sample provenance.
struct Expect<'a> {
    deps: &'a [Slots],
    template: &'a ProvenanceTemplate,
    /// Per argument of `template`: (upstream, string of that upstream's pick).
    arg_loc: &'a [(usize, usize)],
}

impl Expect<'_> {
    /// Whether id `i` is expected (a live latest row in every upstream).
    #[inline]
    fn expected(&self, i: usize) -> bool {
        self.deps.iter().all(|d| d.live_row(i))
    }

    /// Whether an expected id `i` whose stored provenance is `cur` is stale: `cur` is NULL, or the recomputed
    /// provenance is not NULL (no upstream data version NULL) and differs from it.
    fn stale<'s>(
        &'s self,
        i: usize,
        cur: Stored<'_>,
        args: &mut Vec<&'s [u8]>,
        buf: &mut Vec<u8>,
        prov: &mut String,
    ) -> bool {
        if let Stored::Null = cur {
            return true;
        }
        args.clear();
        for &(d, k) in self.arg_loc {
            match self.deps[d].strs[k].get(i) {
                Some(v) => args.push(v),
                None => return false,
            }
        }
        match cur {
            Stored::Null | Stored::Number(None) => true,
            Stored::Bytes(b) => !self.template.matches(|a| args[a], buf, prov, b),
            Stored::Number(Some(v)) => !self.template.matches_number(|a| args[a], buf, prov, v),
        }
    }
}

/// Reads `read`'s rows of `range` (handed over chunk by chunk, [`RawDuckDb::sink_chunks`]) and keeps the latest
/// per id, ordered by `keys`, its strings kept as `keep` says. Errors: DuckDB fails, a row has a NULL id or storage
/// order, an id is outside `range.lo..=range.hi`, or ([`UNORDERED`]) rows arrive out of storage order under
/// [`Keys::Arrival`].
fn pick(
    db: &RawDuckDb,
    read: &Read,
    range: IdRange,
    keys: Keys,
    keep: Keep,
) -> std::result::Result<Slots, String> {
    let IdRange { lo, hi, .. } = range;
    let width = usize::try_from(hi - lo + 1).map_err(|e| e.to_string())?;
    let mut s = Slots {
        ts: Stamps::new(width)?,
        ord: match keys {
            Keys::Arrival => None,
            Keys::Stored => Some(Zeroed::new(width)?),
        },
        state: Zeroed::new(width)?,
        strs: match keep {
            Keep::Strings => (0..read.strings.len())
                .map(|_| Arena::new(width))
                .collect::<std::result::Result<_, _>>()?,
            Keep::Number => Vec::new(),
        },
        nums: match keep {
            Keep::Strings => None,
            Keep::Number if read.strings.len() == 1 => Some(Zeroed::new(width)?),
            Keep::Number => return Err("a number is kept for one string only".into()),
        },
    };
    let mut sel = vec![
        read.id_offset(lo),
        format!("epoch_us({})::BIGINT", read.ts),
        format!("({})::BIGINT", read.rel.order),
        format!("({})::BOOLEAN", read.live),
    ];
    sel.extend(read.strings.iter().map(|e| format!("({e})::VARCHAR")));
    let mut types = vec![
        ChunkType::BigInt,
        ChunkType::BigInt,
        ChunkType::BigInt,
        ChunkType::Boolean,
    ];
    types.extend(read.strings.iter().map(|_| ChunkType::Varchar));
    let mut bad: Option<String> = None;
    let mut last = 0i64;
    let sink_sql = |f: &str| {
        format!(
            "SELECT count({f}({})) FROM {}{}{}",
            sel.join(", "),
            read.rel.source,
            read.where_version(),
            range.filter(&read.id)
        )
    };
    let run = |_: &str| {
        let consume = |v: &ChunkView| {
            let (ids, tss, ords, lives) = (v.bigints(0), v.bigints(1), v.bigints(2), v.booleans(3));
            let strs: Vec<_> = (0..read.strings.len()).map(|k| v.varchars(4 + k)).collect();
            for r in 0..v.len() {
                let (Some(at), Some(ord)) = (ids.get(r), ords.get(r)) else {
                    bad = Some("NULL id or storage order".into());
                    return false;
                };
                let Some(i) = usize::try_from(at).ok().filter(|i| *i < width) else {
                    bad = Some(format!("id offset {at} outside 0..{width}"));
                    return false;
                };
                let Some(ord) = ord.checked_add(1).filter(|o| *o > 0) else {
                    bad = Some(format!("storage order {ord} out of range"));
                    return false;
                };
                let ts = tss.get(r).unwrap_or(i64::MIN);
                let had = s.state[i] != NO_ROW;
                match &mut s.ord {
                    None => {
                        if ord <= last {
                            bad = Some(UNORDERED.into());
                            return false;
                        }
                        last = ord;
                        if had && ts < s.ts.get(i) {
                            continue;
                        }
                    }
                    Some(ords) => {
                        if had && (ts, ord) <= (s.ts.get(i), ords[i]) {
                            continue;
                        }
                        ords[i] = ord;
                    }
                }
                if let Err(e) = s.ts.set(i, ts) {
                    bad = Some(e);
                    return false;
                }
                let row = if lives.get(r).is_some_and(|b| b != 0) {
                    LIVE
                } else {
                    DELETED
                };
                s.state[i] = match &mut s.nums {
                    None => row,
                    Some(nums) => match strs[0].get(r) {
                        None => row | NULL_STR,
                        Some(b) => match parse_decimal(b) {
                            Some(v) => {
                                nums[i] = v;
                                row
                            }
                            None => row | NOT_DECIMAL,
                        },
                    },
                };
                for (arena, col) in s.strs.iter_mut().zip(&strs) {
                    arena.set(i, col.get_str(r));
                }
            }
            true
        };
        db.sink_chunks(&types, sink_sql, consume)
    };
    // a bad row stops the scan (the sink's query then ends without error)
    let ran = run_logged(&read.rel.name, "dense-pick", &sink_sql("<sink>"), run);
    match (bad, ran) {
        (Some(b), _) => Err(b),
        (None, None) => Err("DuckDB failed".into()),
        (None, Some(())) => Ok(s),
    }
}

/// [`pick`] by arrival, rerun with stored keys when the rows arrive out of storage order.
fn pick_any(
    db: &RawDuckDb,
    read: &Read,
    range: IdRange,
    keep: Keep,
) -> std::result::Result<Slots, String> {
    match pick(db, read, range, Keys::Arrival, keep) {
        Err(e) if e == UNORDERED => pick(db, read, range, Keys::Stored, keep),
        r => r,
    }
}

/// The four counts (new, stale, orphaned, current rows) of the ids at `ids` (indexes into the picks) of one id
/// range: its target pick against what `expect` computes.
fn compare(target: &Slots, expect: &Expect<'_>, ids: std::ops::Range<usize>) -> [i64; 4] {
    let mut c = [0i64; 4];
    let (mut args, mut buf, mut prov) = (Vec::new(), Vec::with_capacity(256), String::new());
    for i in ids {
        let t = target.state[i];
        let expected = expect.expected(i);
        let current = t & ROW >= LIVE;
        c[0] += i64::from(expected && !current);
        c[2] += i64::from(!expected && current);
        c[3] += i64::from(current);
        if expected && current {
            let cur = match &target.nums {
                Some(_) if t & NULL_STR != 0 => Stored::Null,
                Some(_) if t & NOT_DECIMAL != 0 => Stored::Number(None),
                Some(nums) => Stored::Number(Some(nums[i])),
                None => target.strs[0].get(i).map_or(Stored::Null, Stored::Bytes),
            };
            c[1] += i64::from(expect.stale(i, cur, &mut args, &mut buf, &mut prov));
        }
    }
    c
}

/// One dense count: the instance, what it reads and how it hashes.
struct Job<'a> {
    db: &'a RawDuckDb,
    /// The upstream relations, in plan order.
    reads: &'a [Read],
    target: &'a Read,
    template: &'a ProvenanceTemplate,
    /// Per argument of `template`: (upstream, string of that upstream's read).
    arg_loc: &'a [(usize, usize)],
}

/// The picks of `range`: every upstream's, then the target's (`None`: DuckDB failed, or an id out of range).
fn pick_range(job: &Job<'_>, range: IdRange) -> Option<(Vec<Slots>, Slots)> {
    let mut deps = Vec::with_capacity(job.reads.len());
    for r in job.reads {
        deps.push(pick_any(job.db, r, range, Keep::Strings).ok()?);
    }
    let keep = if job.template.decimal() {
        Keep::Number
    } else {
        Keep::Strings
    };
    let t = pick_any(job.db, job.target, range, keep).ok()?;
    Some((deps, t))
}

/// Ids per worker below which a range is not split between threads.
const MIN_WORKER_IDS: i128 = 65_536;

/// Ids compared at a time: the comparison of a sub-range is shared, in chunks of this many ids, by every worker
/// whose own picks are done.
const COMPARE_CHUNK: usize = if cfg!(test) { 512 } else { 32_768 };

/// One worker's sub-range in [`count_range_parallel`]: its picks once done (`None` inside: a pick failed), the
/// next chunk of its ids to compare, and the counts of its compared chunks.
struct Share {
    range: IdRange,
    picked: std::sync::OnceLock<Option<(Vec<Slots>, Slots)>>,
    next: std::sync::atomic::AtomicUsize,
    sums: std::sync::Mutex<[i64; 4]>,
}

/// Sets its share's picks to `None` when its worker unwinds before they are done, so that no other worker waits
/// for them forever.
struct PickedOrFailed<'a>(&'a Share, &'a (std::sync::Mutex<()>, std::sync::Condvar));

impl Drop for PickedOrFailed<'_> {
    fn drop(&mut self) {
        if self.0.picked.set(None).is_ok() {
            let _g = self.1 .0.lock();
            self.1 .1.notify_all();
        }
    }
}

/// The counts of `range`, split into sub-ranges picked at once on [`workers_for`] threads (each runs its own
/// queries, so DuckDB's scans and our picks both run in parallel; the arrays of the sub-ranges together are as
/// large as one range's). A worker whose picks are done compares its own sub-range, then helps with the others'
/// as their picks finish (chunks of [`COMPARE_CHUNK`] ids), so a sub-range whose scans are slower (a parquet file
/// whose first half is skipped costs more than one whose second half is) does not leave a core idle. `None`:
/// DuckDB failed, or an id out of range.
fn count_range_parallel(job: &Job<'_>, range: IdRange) -> Option<[i64; 4]> {
    use std::sync::atomic::Ordering;
    let width = range.width();
    let workers = workers_for(width);
    let shares: Vec<Share> = range
        .split((width + workers - 1) / workers)
        .into_iter()
        .map(|r| Share {
            range: r,
            picked: std::sync::OnceLock::new(),
            next: std::sync::atomic::AtomicUsize::new(0),
            sums: std::sync::Mutex::new([0; 4]),
        })
        .collect();
    let done = (std::sync::Mutex::new(()), std::sync::Condvar::new());
    let work = |w: usize| {
        let own = &shares[w];
        {
            let guard = PickedOrFailed(own, &done);
            let picked = pick_range(job, own.range);
            if own.picked.set(picked).is_ok() {
                let _g = done.0.lock();
                done.1.notify_all();
            }
            drop(guard);
        }
        let _c = crate::engine::timing::span(|| format!("dense-compare worker {w}"));
        for k in (w..shares.len()).chain(0..w) {
            let share = &shares[k];
            let picked = {
                let mut g = done.0.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(p) = share.picked.get() {
                        break p;
                    }
                    g = done.1.wait(g).unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some((deps, target)) = picked else {
                return;
            };
            let expect = Expect {
                deps,
                template: job.template,
                arg_loc: job.arg_loc,
            };
            let n = target.state.len();
            loop {
                let from = share.next.fetch_add(1, Ordering::Relaxed) * COMPARE_CHUNK;
                if from >= n {
                    break;
                }
                let c = compare(target, &expect, from..n.min(from + COMPARE_CHUNK));
                let mut sums = share.sums.lock().unwrap_or_else(|p| p.into_inner());
                for (s, v) in sums.iter_mut().zip(c) {
                    *s += v;
                }
            }
        }
    };
    if shares.len() == 1 {
        work(0);
    } else {
        std::thread::scope(|sc| {
            let work = &work;
            let handles: Vec<_> = (0..shares.len())
                .map(|w| sc.spawn(move || work(w)))
                .collect();
            for h in handles {
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            }
        });
    }
    let mut sums = [0i64; 4];
    for share in &shares {
        share.picked.get()?.as_ref()?;
        let c = share.sums.lock().unwrap_or_else(|p| p.into_inner());
        for (s, v) in sums.iter_mut().zip(*c) {
            *s += v;
        }
    }
    Some(sums)
}

/// One relation's least and greatest id (`None`: no row) and its rows.
type IdStats = (Option<(i128, i128)>, i128);

/// Per relation of `reads`, its least and greatest id and the rows of its version, asked in one query (`None` when
/// an id is NULL or DuckDB fails).
fn id_stats(db: &RawDuckDb, reads: &[&Read]) -> Option<Vec<IdStats>> {
    let parts: Vec<String> = reads
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let id = &r.id;
            format!(
                "(SELECT min({id})::VARCHAR AS lo{k}, max({id})::VARCHAR AS hi{k}, count(*)::VARCHAR AS n{k}, \
                 count({id})::VARCHAR AS ids{k} FROM {}{}) AS s{k}",
                r.rel.source,
                r.where_version()
            )
        })
        .collect();
    let _t = crate::engine::timing::span(|| "dense-stats scan".to_string());
    let row = db
        .query_first_row_text(&format!("SELECT * FROM {}", parts.join(", ")))
        .ok()?;
    let num = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<i128>().ok());
    if row.len() != 4 * reads.len() {
        return None;
    }
    row.chunks(4)
        .map(|c| {
            let rows = num(&c[2])?;
            (num(&c[3])? == rows).then(|| (num(&c[0]).zip(num(&c[1])), rows))
        })
        .collect()
}

/// Per relation of `reads`, its least and greatest id and its rows (every version), from metadata alone
/// ([`SqlRelation::meta`]), asked in one query: DuckDB's statistics of a table, the row-group statistics of parquet
/// files (their footers). On the 1M stale stores this took 2.5-8 ms where the scan of [`id_stats`] took about
/// 10 ms (DuckDB) and 27 ms (Delta). Bounds may be wider than the ids (statistics are not narrowed when rows are
/// deleted), never narrower as long as the metadata is right; the first and last ranges of a count are
/// open-ended ([`IdRange`]), so that even wrong metadata cannot make a count skip rows. `None`: a relation
/// without such metadata, empty, with a row group lacking statistics, or statistics DuckDB spells otherwise than
/// `[Min: a, Max: b]...`.
fn id_stats_from_metadata(db: &RawDuckDb, reads: &[&Read]) -> Option<Vec<IdStats>> {
    let mut parts = Vec::with_capacity(reads.len());
    for (k, r) in reads.iter().enumerate() {
        let (id, source) = (&r.id, &r.rel.source);
        parts.push(match &r.rel.meta {
            RelationMeta::None => return None,
            RelationMeta::Table => format!(
                "(SELECT (SELECT stats({id}) FROM {source} LIMIT 1) AS st{k}, NULL AS hi{k}, \
                 (SELECT count(*) FROM {source})::VARCHAR AS n{k}, 0 AS missing{k}) AS s{k}"
            ),
            RelationMeta::Parquet(files) => format!(
                "(SELECT min(stats_min_value::HUGEINT)::VARCHAR AS lo{k}, \
                 max(stats_max_value::HUGEINT)::VARCHAR AS hi{k}, sum(row_group_num_rows)::VARCHAR AS n{k}, \
                 (2 * count(*) - count(stats_min_value) - count(stats_max_value))::VARCHAR AS missing{k} \
                 FROM parquet_metadata({files}) WHERE path_in_schema = {}) AS s{k}",
                sql_str(&r.id_name)
            ),
        });
    }
    let _t = crate::engine::timing::span(|| "dense-stats metadata".to_string());
    let row = db
        .query_first_row_text(&format!("SELECT * FROM {}", parts.join(", ")))
        .ok()?;
    if row.len() != 4 * reads.len() {
        return None;
    }
    let num = |v: &str| v.trim().parse::<i128>().ok();
    reads
        .iter()
        .zip(row.chunks(4))
        .map(|(r, c)| {
            let rows = num(c[2].as_deref()?)?;
            if num(c[3].as_deref()?)? != 0 || rows <= 0 {
                return None;
            }
            let bounds = match &r.rel.meta {
                RelationMeta::Table => {
                    // e.g. `[Min: 0, Max: 999999][Has Null: false, Has No Null: true]`
                    let st = c[0].as_deref()?;
                    let (lo, rest) = st.strip_prefix("[Min: ")?.split_once(", Max: ")?;
                    (num(lo)?, num(rest.split_once(']')?.0)?)
                }
                _ => (num(c[0].as_deref()?)?, num(c[1].as_deref()?)?),
            };
            (bounds.0 <= bounds.1).then_some((Some(bounds), rows))
        })
        .collect()
}

/// The least and greatest id of any relation and the rows of all, from per-relation statistics (`None`: no id).
fn bounds(stats: &[IdStats]) -> Option<(i128, i128, i128)> {
    let (mut lo, mut hi, mut rows) = (None::<i128>, None::<i128>, 0i128);
    for (range, n) in stats {
        rows += n;
        if let Some((a, b)) = range {
            lo = Some(lo.map_or(*a, |l| l.min(*a)));
            hi = Some(hi.map_or(*b, |h| h.max(*b)));
        }
    }
    Some((lo?, hi?, rows))
}

/// Whether ids `lo..=hi` are dense for `rows` stored rows ([`SPARSENESS`], [`SLACK`]).
fn dense_enough((lo, hi, rows): (i128, i128, i128)) -> bool {
    hi - lo < SPARSENESS * rows + SLACK
}

/// The counts of `plan` over dense integer ids (see the module docs), or `Ok(None)` when the plan does not
/// qualify (more than one join column, ids not integers, NULL or sparse, a relation missing, empty or not as the
/// plan expects, the target without a table) or DuckDB fails: the caller then runs the one-query count.
pub fn count_dense(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
) -> Result<Option<IncrementCounts>> {
    count_dense_with(db, plan, relation, partition_rows())
}

/// [`count_dense`] with ranges of about `per_range` stored rows.
fn count_dense_with(
    db: &RawDuckDb,
    plan: &CountPlan,
    relation: &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
    per_range: u64,
) -> Result<Option<IncrementCounts>> {
    let [id_col] = &plan.join_columns[..] else {
        return Ok(None);
    };
    let one = std::slice::from_ref(id_col);
    if !dense_counts_enabled()
        || plan.deps.is_empty()
        || plan.id_columns != one
        || plan.deps.iter().any(|d| d.id_columns != one)
    {
        return Ok(None);
    }
    let Some(target) = relation(&plan.target)?.filter(|t| !t.empty) else {
        return Ok(None);
    };
    let (arg_fields, recipes) = recipe_tokens(plan);
    let mut arg_loc: Vec<(usize, usize)> = vec![(0, 0); arg_fields.len()];
    let mut reads: Vec<Read> = Vec::new();
    for (di, d) in plan.deps.iter().enumerate() {
        let Some(rel) = relation(&d.feature)?.filter(|r| !r.empty) else {
            return Ok(None);
        };
        if !d
            .fields
            .iter()
            .all(|f| varchar_member(&rel.columns, cols::DATA_VERSION_BY_FIELD, f))
        {
            return Ok(None);
        }
        let mut strings = Vec::new();
        for (n, &(dep, fi)) in arg_fields.iter().enumerate() {
            if dep == di {
                arg_loc[n] = (di, strings.len());
                strings.push(format!(
                    "struct_extract({}, {})",
                    quote_ident(cols::DATA_VERSION_BY_FIELD),
                    sql_str(&d.fields[fi])
                ));
            }
        }
        let Some(read) = Read::new(rel, &d.feature_version, id_col, strings) else {
            return Ok(None);
        };
        reads.push(read);
    }
    if !target
        .columns
        .iter()
        .any(|(n, t)| n == cols::PROVENANCE && t == "VARCHAR")
    {
        return Ok(None);
    }
    let Some(target) = Read::new(
        target,
        &plan.feature_version,
        id_col,
        vec![quote_ident(cols::PROVENANCE)],
    ) else {
        return Ok(None);
    };
    let name = plan.target.to_string();
    let _t = crate::engine::timing::span(|| format!("dense-counts {name}"));
    let all: Vec<&Read> = reads.iter().chain([&target]).collect();
    // metadata first; the scan when there is none or its bounds look sparse (zone maps may be wider than the ids)
    let dense =
        |stats: Option<Vec<IdStats>>| stats.and_then(|s| bounds(&s)).filter(|b| dense_enough(*b));
    let Some((lo, hi, rows)) =
        dense(id_stats_from_metadata(db, &all)).or_else(|| dense(id_stats(db, &all)))
    else {
        return Ok(None);
    };
    let width = hi - lo + 1;
    let ceil = |a: i128, b: i128| (a + b - 1) / b;
    let parts = ceil(rows, i128::from(per_range.max(1)))
        .min(i128::from(MAX_PARTITIONS))
        .max(ceil(width, MAX_SLOTS))
        .max(1);
    let part_width = ceil(width, parts);
    let template = ProvenanceTemplate {
        algorithm: plan.algorithm,
        truncation: plan.truncation,
        fields: recipes,
        args: arg_fields.len(),
        output: ProvenanceOutput::Sample,
    };
    let job = Job {
        db,
        reads: &reads,
        target: &target,
        template: &template,
        arg_loc: &arg_loc,
    };
    let threads = dense_duckdb_threads(workers_for(part_width));
    db.with_threads(Some(threads), || {
        count_ranges(&job, IdRange::whole(lo, hi), (part_width, parts), &name)
    })
}

/// The counts of `range` in `parts` ranges of `part_width` ids, one after the other (`name`: the target, for the
/// timing spans; `None`: DuckDB failed, or an id out of range).
fn count_ranges(
    job: &Job<'_>,
    range: IdRange,
    (part_width, parts): (i128, i128),
    name: &str,
) -> Result<Option<IncrementCounts>> {
    let mut sums = [0i64; 4];
    for (k, part) in range.split(part_width).into_iter().enumerate() {
        let _p = (parts > 1).then(|| {
            crate::engine::timing::span(|| format!("dense-counts-part {name} {}/{parts}", k + 1))
        });
        let Some(c) = count_range_parallel(job, part) else {
            return Ok(None);
        };
        for (s, v) in sums.iter_mut().zip(c) {
            *s += v;
        }
    }
    let [new, stale, orphaned, current] = sums;
    Ok(Some(IncrementCounts {
        new: new as usize,
        stale: stale as usize,
        orphaned: orphaned as usize,
        current_rows: current as usize,
        target_exists: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::HashAlgorithm;

    thread_local! {
        /// Workers per range for the counts of this test thread ([`workers_for`]; `None`: as many as usual).
        pub(super) static WORKERS: std::cell::Cell<Option<i128>> = const { std::cell::Cell::new(None) };
    }
    use crate::engine::store::count_plan::{CountDep, RecipePiece};
    use crate::engine::store::duckql::counts::count_in_one_query;

    fn key(s: &str) -> FeatureKey {
        FeatureKey::parse(s).unwrap()
    }

    /// Two upstreams (two data-version fields of one, one of the other) and a target of one field each.
    fn plan() -> CountPlan {
        let dv = |dep: usize, field: &str| RecipePiece::DataVersion {
            dep,
            field: field.into(),
        };
        let ids = vec!["sample_uid".to_string()];
        CountPlan {
            target: key("t/leaf"),
            feature_version: "t1".into(),
            id_columns: ids.clone(),
            join_columns: ids.clone(),
            deps: vec![
                CountDep {
                    feature: key("a/up"),
                    feature_version: "a1".into(),
                    id_columns: ids.clone(),
                    fields: vec!["x".into(), "y".into()],
                },
                CountDep {
                    feature: key("b/up"),
                    feature_version: "b1".into(),
                    id_columns: ids,
                    fields: vec!["z".into()],
                },
            ],
            fields: vec![
                (
                    "f".into(),
                    vec![RecipePiece::Lit("f".into()), dv(0, "x"), dv(0, "y")],
                ),
                ("g".into(), vec![RecipePiece::Lit("g".into()), dv(1, "z")]),
            ],
            algorithm: HashAlgorithm::Xxhash64,
            truncation: 16,
        }
    }

    /// Upstream rows of `version` for ids `from..to` (`scale`: id multiplier): a base row per id (NULL data
    /// version for every 97th), a later replacement for every 3rd id (a tie on the timestamp for every 6th, the
    /// replacement stored later wins), a loser with NULL timestamps for every 7th, a soft-deleted latest row for
    /// every 11th, and rows of another version that must be ignored.
    fn upstream_sql(table: &str, fields: &[&str], from: i64, to: i64, scale: i64) -> String {
        let st = |v: &dyn Fn(&str) -> String| {
            let members: Vec<String> = fields.iter().map(|f| format!("'{f}': {}", v(f))).collect();
            format!("{{{}}}", members.join(", "))
        };
        let base = st(&|f| format!("CASE WHEN i % 97 = 0 THEN NULL ELSE '{f}' || i END"));
        let cols = "sample_uid, metaxy_feature_version, metaxy_data_version_by_field, metaxy_updated_at, metaxy_deleted_at";
        format!(
            "CREATE TABLE {table} AS SELECT (i * {scale})::BIGINT AS sample_uid, 'v' AS metaxy_feature_version, {base} AS metaxy_data_version_by_field, \
               TIMESTAMPTZ '2024-01-01' + INTERVAL (i) SECOND AS metaxy_updated_at, NULL::TIMESTAMPTZ AS metaxy_deleted_at FROM range({from}, {to}) t(i) WHERE false;
             INSERT INTO {table} ({cols}) SELECT i * {scale}, 'V', {base}, TIMESTAMPTZ '2024-01-01' + INTERVAL (i) SECOND, NULL FROM range({from}, {to}) t(i);
             INSERT INTO {table} ({cols}) SELECT i * {scale}, 'V', {new}, TIMESTAMPTZ '2024-01-01' + INTERVAL (CASE WHEN i % 6 = 0 THEN i ELSE i + 5 END) SECOND, NULL FROM range({from}, {to}) t(i) WHERE i % 3 = 0;
             INSERT INTO {table} ({cols}) SELECT i * {scale}, 'V', {loser}, NULL, NULL FROM range({from}, {to}) t(i) WHERE i % 7 = 0;
             INSERT INTO {table} ({cols}) SELECT i * {scale}, 'V', {late}, TIMESTAMPTZ '2025-01-01', CASE WHEN i % 2 = 0 THEN TIMESTAMPTZ '2025-01-02' END FROM range({from}, {to}) t(i) WHERE i % 11 = 0;
             INSERT INTO {table} ({cols}) SELECT i * {scale}, 'other', {loser}, TIMESTAMPTZ '2026-01-01', NULL FROM range({from}, {to}) t(i) WHERE i % 5 = 0;",
            // longer than DuckDB inlines (12 bytes): a long value over a short one, and a shorter long one over it
            new = st(&|_| "'new-value-longer-than-twelve-' || i".into()),
            late = st(&|_| "'late-value-longer-than-12-' || i".into()),
            loser = st(&|_| "'loser' || i".into()),
        )
    }

    /// A database with upstreams `a/up` (ids 0..6000), `b/up` (1000..7000) and target `t/leaf` (0..8000, its
    /// provenance computed from the base upstream rows, so replaced ones are stale; NULL for every 13th, junk for
    /// every 17th, a tied duplicate for every 19th); versions spelt `V` in the upstreams are the plan's.
    fn database(scale: i64) -> (RawDuckDb, CountPlan) {
        database_with(scale, plan())
    }

    /// [`database`] with the provenances of `plan`'s hash algorithm and truncation.
    fn database_with(scale: i64, plan: CountPlan) -> (RawDuckDb, CountPlan) {
        let db = RawDuckDb::open_in_memory().unwrap();
        let prov = db
            .register_provenance(ProvenanceTemplate {
                algorithm: plan.algorithm,
                truncation: plan.truncation,
                fields: recipe_tokens(&plan).1,
                args: 3,
                output: ProvenanceOutput::Sample,
            })
            .unwrap();
        // a data version as the upstream's latest live row holds it for some ids (long values: 11th odd ids, then
        // 3rd), the base one for the rest: those ids are current only if long values are read back exactly
        let latest = |base: &str| {
            format!(
                "CASE WHEN i % 11 = 0 AND i % 2 = 1 THEN 'late-value-longer-than-12-' || i \
                 WHEN i % 3 = 0 AND i % 11 <> 0 THEN 'new-value-longer-than-twelve-' || i ELSE {base} END"
            )
        };
        // SAFETY: `db` outlives the connection, dropped at the end of this block
        let conn = unsafe { duckdb::Connection::open_from_raw(db.raw()) }.unwrap();
        conn.execute_batch(&format!(
            "{}{}
             UPDATE a_up SET metaxy_feature_version = 'a1' WHERE metaxy_feature_version = 'V';
             UPDATE b_up SET metaxy_feature_version = 'b1' WHERE metaxy_feature_version = 'V';
             CREATE TABLE t_leaf AS SELECT (i * {scale})::BIGINT AS sample_uid, 't1' AS metaxy_feature_version,
               CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN 'junk' WHEN i % 97 = 0 THEN 'junk97'
                    ELSE {prov}({x}, {y}, {z}) END AS metaxy_provenance,
               TIMESTAMPTZ '2024-06-01' AS metaxy_updated_at, NULL::TIMESTAMPTZ AS metaxy_deleted_at FROM range(0, 8000) t(i);
             INSERT INTO t_leaf SELECT * FROM t_leaf WHERE sample_uid % (19 * {scale}) = 0;
             UPDATE t_leaf SET metaxy_deleted_at = TIMESTAMPTZ '2024-07-01', metaxy_updated_at = TIMESTAMPTZ '2024-07-01' WHERE sample_uid % (23 * {scale}) = 0;",
            upstream_sql("a_up", &["x", "y"], 0, 6000, scale),
            upstream_sql("b_up", &["z"], 1000, 7000, scale),
            x = latest("'x' || i"),
            y = latest("CASE WHEN i % 97 = 0 THEN NULL ELSE 'y' || i END"),
            z = latest("'z' || i"),
        ))
        .unwrap();
        drop(conn);
        (db, plan)
    }

    fn relation(db: &RawDuckDb, k: &FeatureKey) -> Option<SqlRelation> {
        let table = k.to_string().replace('/', "_");
        // SAFETY: `db` outlives the connection
        let conn = unsafe { duckdb::Connection::open_from_raw(db.raw()) }.unwrap();
        let mut stmt = conn
            .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position")
            .unwrap();
        let columns: Vec<(String, String)> = stmt
            .query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        (!columns.is_empty()).then(|| SqlRelation::table(&table, columns))
    }

    /// The relations of [`database`] read for the dense count without strings (upstreams, then the target).
    fn reads(db: &RawDuckDb) -> Vec<Read> {
        [("a/up", "a1"), ("b/up", "b1"), ("t/leaf", "t1")]
            .into_iter()
            .map(|(k, v)| {
                Read::new(relation(db, &key(k)).unwrap(), v, "sample_uid", vec![]).unwrap()
            })
            .collect()
    }

    /// Stored provenances kept as numbers (decimal hashes) or as bytes (hex hashes, or a truncation to nothing)
    /// count the same as the one-query count, and ids are up to date only when they are compared exactly.
    #[test]
    fn dense_counts_equal_the_one_query_count_for_every_kind_of_hash() {
        for (algorithm, truncation) in [
            (HashAlgorithm::Xxhash32, 5),
            (HashAlgorithm::Xxh3_64, 20),
            (HashAlgorithm::Md5, 12),
            (HashAlgorithm::Sha256, 64),
            (HashAlgorithm::Xxhash64, 0),
        ] {
            let (db, plan) = database_with(
                1,
                CountPlan {
                    algorithm,
                    truncation,
                    ..plan()
                },
            );
            let rel = |k: &FeatureKey| Ok(relation(&db, k));
            let sql = count_in_one_query(&db, &plan, &rel).unwrap().unwrap();
            if truncation > 0 {
                let up_to_date = sql.current_rows - sql.orphaned - sql.stale;
                assert!(up_to_date > 1500, "{algorithm:?} {sql:?}");
            }
            let dense = count_dense(&db, &plan, &rel).unwrap().unwrap();
            assert_eq!(dense, sql, "{algorithm:?} {truncation}");
        }
    }

    /// Bounds from metadata (DuckDB's statistics of each table) cover the ids the scan finds; bounds narrower than
    /// the ids never skip rows: the open ends of a range hand the ids outside to the pick, which fails on them.
    #[test]
    fn metadata_bounds_cover_the_ids_and_ids_out_of_bounds_fail_the_pick() {
        let (db, _) = database(1);
        let reads = reads(&db);
        let all: Vec<&Read> = reads.iter().collect();
        let meta = id_stats_from_metadata(&db, &all).expect("statistics of DuckDB tables");
        let scan = id_stats(&db, &all).unwrap();
        for (m, s) in meta.iter().zip(&scan) {
            let ((mlo, mhi), (slo, shi)) = (m.0.unwrap(), s.0.unwrap());
            assert!(mlo <= slo && shi <= mhi, "{m:?} {s:?}");
            // every version's rows
            assert!(m.1 >= s.1, "{m:?} {s:?}");
        }
        assert!(
            meta[0].1 > scan[0].1,
            "the other version's rows: {meta:?} {scan:?}"
        );
        let (lo, hi, _) = bounds(&scan).unwrap();
        let t = &reads[2];
        assert!(pick(&db, t, IdRange::whole(lo, hi), Keys::Arrival, Keep::Strings).is_ok());
        let err = pick(
            &db,
            t,
            IdRange::whole(lo, hi - 10),
            Keys::Arrival,
            Keep::Strings,
        )
        .err()
        .unwrap();
        assert!(err.contains("outside"), "{err}");
        assert!(pick(
            &db,
            t,
            IdRange::whole(lo + 10, hi),
            Keys::Arrival,
            Keep::Strings
        )
        .is_err());
        // closed ends filter the rows outside out
        let inner = IdRange {
            lo: lo + 10,
            hi: hi - 10,
            below: false,
            above: false,
        };
        assert!(pick(&db, t, inner, Keys::Arrival, Keep::Strings).is_ok());
    }

    /// Bounds and rows from parquet footers equal the scan's over the same rows (one version).
    #[test]
    fn parquet_metadata_bounds_equal_the_scan() {
        let (db, _) = database(1);
        let tmp = tempfile::tempdir().unwrap();
        let files: Vec<String> = (0..2)
            .map(|n| {
                let f = tmp.path().join(format!("part-{n}.parquet"));
                let f = f.to_string_lossy().to_string();
                db.query_first_row(&format!(
                    "COPY (SELECT * FROM t_leaf WHERE sample_uid % 2 = {n} AND metaxy_feature_version = 't1') \
                     TO {} (FORMAT parquet)",
                    sql_str(&f)
                ))
                .unwrap();
                sql_str(&f)
            })
            .collect();
        let list = format!("[{}]", files.join(", "));
        let mut rel = relation(&db, &key("t/leaf")).unwrap();
        rel.source = format!("read_parquet({list})");
        rel.order = "0".into();
        rel.meta = RelationMeta::Parquet(list);
        let read = Read::new(rel, "t1", "sample_uid", vec![]).unwrap();
        let meta = id_stats_from_metadata(&db, &[&read]).expect("parquet statistics");
        assert_eq!(meta, id_stats(&db, &[&read]).unwrap());
        assert_eq!(meta[0].1, 8000 + 8000 / 19 + 1);
    }

    /// Every value reads back exactly: inline ones (empty, 8 bytes, a leading NUL byte, DuckDB's inline bytes
    /// past the length not zero), out-of-line ones (a trailing NUL byte, a leading `0xFF`, 9 bytes, longer than
    /// DuckDB inlines), NULL, and replacements (a shorter out-of-line value in place, a longer one appended).
    #[test]
    fn arena_slots_read_back_every_value() {
        let inline = |b: &[u8], junk: u8| {
            let mut data = [junk; INLINE_BYTES];
            data[..b.len()].copy_from_slice(b);
            Some(Str::Inline(b.len() as u32, data))
        };
        let long = "a-value-longer-than-twelve-bytes".as_bytes();
        let cases: Vec<(Option<Str<'_>>, Option<&[u8]>)> = vec![
            (inline(b"", 0), Some(&b""[..])),
            (inline(b"", 0xFF), Some(&b""[..])),
            (inline(b"a1048576", 0), Some(&b"a1048576"[..])),
            (inline(b"\0a", 7), Some(&b"\0a"[..])),
            (inline(b"ab", 0x41), Some(&b"ab"[..])),
            (inline(b"ab\0", 0), Some(&b"ab\0"[..])),
            (inline(b"\xFFab", 0), Some(&b"\xFFab"[..])),
            (inline(&[0xFF; 8], 0), Some(&[0xFF; 8][..])),
            (inline(b"a123_bumped", 0), Some(&b"a123_bumped"[..])),
            (inline(b"123456789", 0x30), Some(&b"123456789"[..])),
            (Some(Str::Long(long)), Some(long)),
            (None, None),
        ];
        let mut arena = Arena::new(cases.len()).unwrap();
        for (i, (v, _)) in cases.iter().enumerate() {
            arena.set(i, *v);
        }
        for (i, (_, want)) in cases.iter().enumerate() {
            assert_eq!(arena.get(i), *want, "slot {i}");
        }
        let used = arena.long.len();
        arena.set(10, inline(b"short-ish-12", 0));
        assert_eq!(arena.get(10), Some(&b"short-ish-12"[..]));
        assert_eq!(arena.long.len(), used, "in place");
        arena.set(
            10,
            Some(Str::Long(
                b"a value longer than the one before it, appended",
            )),
        );
        assert_eq!(
            arena.get(10),
            Some(&b"a value longer than the one before it, appended"[..])
        );
        assert!(arena.long.len() > used);
        arena.set(10, inline(b"x", 0));
        arena.set(11, Some(Str::Long(long)));
        assert_eq!(
            (arena.get(10), arena.get(11)),
            (Some(&b"x"[..]), Some(long))
        );
        assert_eq!(
            arena.get(9),
            Some(&b"123456789"[..]),
            "neighbours untouched"
        );
    }

    /// Timestamps read back exactly, through the index of distinct ones and past [`MAX_STAMPS`] of them, when the
    /// slots hold the timestamps themselves.
    #[test]
    fn stamps_read_back_past_the_distinct_limit() {
        let n = MAX_STAMPS + 5000;
        let mut st = Stamps::new(n).unwrap();
        let ts = |i: usize| (i as i64 - 30_000) * 1_000_000_007;
        for i in (0..n).rev().step_by(2) {
            st.set(i, i64::MIN).unwrap();
        }
        for i in 0..n / 2 {
            st.set(i, ts(i)).unwrap();
            st.set(i, ts(i)).unwrap();
        }
        assert!(matches!(st, Stamps::Dict { .. }), "{} distinct", n / 2);
        for i in n / 2..n {
            st.set(i, ts(i)).unwrap();
        }
        assert!(matches!(st, Stamps::Full(_)));
        for i in 0..n {
            assert_eq!(st.get(i), ts(i), "slot {i}");
        }
        let mut few = Stamps::new(4).unwrap();
        for (i, t) in [5, 5, -9, 5].into_iter().enumerate() {
            few.set(i, t).unwrap();
        }
        few.set(1, i64::MIN).unwrap();
        let got: Vec<i64> = (0..4).map(|i| few.get(i)).collect();
        assert_eq!(got, [5, i64::MIN, -9, 5]);
    }

    /// Sub-ranges are consecutive, and only the first and last keep an open end.
    #[test]
    fn id_range_splits_keep_the_open_ends_at_the_extremes() {
        let r = IdRange::whole(0, 9);
        assert_eq!(r.filter("id"), "");
        let parts = r.split(4);
        let spans: Vec<_> = parts
            .iter()
            .map(|p| (p.lo, p.hi, p.below, p.above))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 3, true, false),
                (4, 7, false, false),
                (8, 9, false, true)
            ]
        );
        assert_eq!(parts[0].filter("id"), " AND id <= 3");
        assert_eq!(parts[1].filter("id"), " AND id >= 4 AND id <= 7");
        assert_eq!(parts[2].filter("id"), " AND id >= 8");
        let inner: Vec<_> = parts[1]
            .split(3)
            .iter()
            .map(|p| (p.below, p.above))
            .collect();
        assert_eq!(inner, [(false, false), (false, false)]);
        assert_eq!(IdRange::whole(5, 5).split(100), [IdRange::whole(5, 5)]);
    }

    /// The dense count equals the one-query count (itself checked against the general engine on every fixture) with
    /// two upstreams, ties, NULL timestamps, soft deletes, other versions, NULL data versions and provenances, and
    /// across id ranges; sparse ids decline.
    #[test]
    fn dense_counts_equal_the_one_query_count() {
        let (db, plan) = database(1);
        let rel = |k: &FeatureKey| Ok(relation(&db, k));
        let sql = count_in_one_query(&db, &plan, &rel).unwrap().unwrap();
        assert!(
            sql.new > 0 && sql.stale > 100 && sql.orphaned > 0,
            "{sql:?}"
        );
        assert!(sql.current_rows > sql.stale, "{sql:?}");
        // up to date: expected, stored and not stale, many of them only if long data versions are read back exactly
        let up_to_date = sql.current_rows - sql.orphaned - sql.stale;
        assert!(up_to_date > 1500, "{sql:?}");
        let dense = count_dense(&db, &plan, &rel).unwrap().unwrap();
        assert_eq!(dense, sql);
        // several id ranges, each read and compared alone
        for per in [1000, 7777, 20_000] {
            let parts = count_dense_with(&db, &plan, &rel, per).unwrap().unwrap();
            assert_eq!(parts, sql, "{per} rows per range");
        }
        // several workers per range, each comparing its own sub-range and helping with the others'
        for workers in [2, 3, 7] {
            WORKERS.with(|c| c.set(Some(workers)));
            let dense = count_dense(&db, &plan, &rel).unwrap().unwrap();
            let parts = count_dense_with(&db, &plan, &rel, 7777).unwrap().unwrap();
            WORKERS.with(|c| c.set(None));
            assert_eq!((dense, parts), (sql, sql), "{workers} workers");
        }
        // a storage order the scan does not follow (reversed: the first row stored wins a tie): picked by arrival
        // the rows fail as out of order, and the pick is rerun with the order kept per id
        let reversed = |k: &FeatureKey| {
            Ok(relation(&db, k).map(|mut r| {
                r.order = "(1000000000 - rowid)".into();
                r
            }))
        };
        let want = count_in_one_query(&db, &plan, &reversed).unwrap().unwrap();
        assert_ne!(want, sql, "ties decide some counts");
        assert_eq!(count_dense(&db, &plan, &reversed).unwrap().unwrap(), want);
        assert_eq!(
            count_dense_with(&db, &plan, &reversed, 7777)
                .unwrap()
                .unwrap(),
            want
        );
        let t = Read::new(
            reversed(&key("t/leaf")).unwrap().unwrap(),
            "t1",
            "sample_uid",
            vec![],
        )
        .unwrap();
        let whole = IdRange::whole(0, 7999);
        assert_eq!(
            pick(&db, &t, whole, Keys::Arrival, Keep::Strings)
                .err()
                .as_deref(),
            Some(UNORDERED)
        );
        assert!(pick_any(&db, &t, whole, Keep::Strings).is_ok());
        // a target without `metaxy_deleted_at` (its liveness a constant column)
        {
            // SAFETY: `db` outlives the connection
            let conn = unsafe { duckdb::Connection::open_from_raw(db.raw()) }.unwrap();
            conn.execute_batch("ALTER TABLE t_leaf DROP COLUMN metaxy_deleted_at")
                .unwrap();
        }
        let base = sql;
        let sql = count_in_one_query(&db, &plan, &rel).unwrap().unwrap();
        assert_eq!(count_dense(&db, &plan, &rel).unwrap().unwrap(), sql);
        let (sparse, plan) = database(1000);
        let rel = |k: &FeatureKey| Ok(relation(&sparse, k));
        assert_eq!(count_dense(&sparse, &plan, &rel).unwrap(), None);
        // the same rows with ids 1000 apart: the same counts, from the one-query count
        assert_eq!(
            count_in_one_query(&sparse, &plan, &rel).unwrap().unwrap(),
            base
        );
    }
}
