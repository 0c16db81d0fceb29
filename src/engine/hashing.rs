//! Hash recipes of Metaxy 0.1.11 (FORMAT.md §5).
//!
//! * Row-level hashes ([`hash_str`], [`hash_string_column`]): the store's `hash_algorithm` on UTF-8 bytes, rendered as
//!   a decimal integer (xx*/wyhash) or lowercase hex (sha256/md5), then truncated to `hash_truncation_length`
//!   characters (a string prefix, no padding). Mirrors polars-hash / DuckDB `hashfuncs` as used by Metaxy.
//! * Graph-level hashes ([`Sha256Trunc`]): always SHA-256 over concatenated UTF-8 strings, lowercase hex, truncated.
//! * [`python_json_dumps_sorted`]: Python's `json.dumps(obj, sort_keys=True)` (separators `", "`/`": "`,
//!   `ensure_ascii=True`), needed for spec and definition versions.

use md5::Md5;
use polars::prelude::*;
use polars_arrow::array::{Array as _, MutableBinaryViewArray, Utf8ViewArray};
use sha2::{Digest, Sha256};

use crate::engine::config::HashAlgorithm;
use crate::engine::error::{EngineError, Result};

/// Truncates a rendered hash to `len` characters (no padding; shorter strings are kept as they are).
pub fn truncate(s: String, len: usize) -> String {
    if s.len() > len {
        s[..len].to_string()
    } else {
        s
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// The full (untruncated) row hash of `s` with `algo`: decimal for xxhash32/xxhash64/xxh3_64/wyhash (seed 0),
/// lowercase hex for sha256/md5. Errors with [`EngineError::UnsupportedHash`] for `farmhash` (supported by no
/// Metaxy engine either).
pub fn hash_full(algo: HashAlgorithm, s: &str) -> Result<String> {
    let b = s.as_bytes();
    Ok(match algo {
        HashAlgorithm::Xxhash32 => xxhash_rust::xxh32::xxh32(b, 0).to_string(),
        HashAlgorithm::Xxhash64 => xxhash_rust::xxh64::xxh64(b, 0).to_string(),
        HashAlgorithm::Xxh3_64 => xxhash_rust::xxh3::xxh3_64(b).to_string(),
        HashAlgorithm::Wyhash => wyhash::wyhash(b, 0).to_string(),
        HashAlgorithm::Sha256 => hex(&Sha256::digest(b)),
        HashAlgorithm::Md5 => hex(&Md5::digest(b)),
        HashAlgorithm::Farmhash => return Err(EngineError::UnsupportedHash("farmhash".into())),
    })
}

/// Appends the first `trunc` decimal digits of `n` to `out` (all of them when it has no more): the leading digits
/// are divided out first, so a truncated hash formats only the digits it keeps (`itoa`, no allocation). The digit
/// count comes from `ilog10` and the division is by a constant power of ten per arm, which the compiler turns
/// into a multiplication (this runs twice per sample in the dense counts' comparison).
#[inline]
fn push_decimal(out: &mut String, n: u64, trunc: usize) {
    let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let n = if trunc < digits {
        div_pow10(n, digits - trunc.max(1))
    } else {
        n
    };
    out.push_str(itoa::Buffer::new().format(n));
}

/// `n / 10^e` for `e` in `1..=19` (`n` itself for 0; 0 beyond 19).
#[inline]
fn div_pow10(n: u64, e: usize) -> u64 {
    match e {
        0 => n,
        1 => n / 10,
        2 => n / 100,
        3 => n / 1_000,
        4 => n / 10_000,
        5 => n / 100_000,
        6 => n / 1_000_000,
        7 => n / 10_000_000,
        8 => n / 100_000_000,
        9 => n / 1_000_000_000,
        10 => n / 10_000_000_000,
        11 => n / 100_000_000_000,
        12 => n / 1_000_000_000_000,
        13 => n / 10_000_000_000_000,
        14 => n / 100_000_000_000_000,
        15 => n / 1_000_000_000_000_000,
        16 => n / 10_000_000_000_000_000,
        17 => n / 100_000_000_000_000_000,
        18 => n / 1_000_000_000_000_000_000,
        19 => n / 10_000_000_000_000_000_000,
        _ => 0,
    }
}

/// Appends `H(bytes)` truncated to `trunc` characters to `out`, without allocating: the same string as
/// [`hash_str`] (FORMAT.md §5.1). `algo` must have passed [`check_algorithm`] (`farmhash` appends nothing).
pub fn hash_into(algo: HashAlgorithm, bytes: &[u8], trunc: usize, out: &mut String) {
    let start = out.len();
    match algo {
        HashAlgorithm::Xxhash32 => {
            push_decimal(out, xxhash_rust::xxh32::xxh32(bytes, 0) as u64, trunc)
        }
        HashAlgorithm::Xxhash64 => push_decimal(out, xxhash_rust::xxh64::xxh64(bytes, 0), trunc),
        HashAlgorithm::Xxh3_64 => push_decimal(out, xxhash_rust::xxh3::xxh3_64(bytes), trunc),
        HashAlgorithm::Wyhash => push_decimal(out, wyhash::wyhash(bytes, 0), trunc),
        HashAlgorithm::Sha256 | HashAlgorithm::Md5 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let digest: Vec<u8> = if algo == HashAlgorithm::Sha256 {
                Sha256::digest(bytes).to_vec()
            } else {
                Md5::digest(bytes).to_vec()
            };
            for b in digest.iter().take(trunc.div_ceil(2)) {
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        HashAlgorithm::Farmhash => {}
    }
    out.truncate(start + (out.len() - start).min(trunc));
}

/// Whether `H(bytes)` truncated to `trunc` characters ([`hash_into`]'s string) is `expected`. For the decimal
/// algorithms (xxHash32/64, XXH3-64, wyhash) `expected` is read as a number ([`parse_decimal`]) and compared with
/// the hash's leading digits ([`decimal_lead`]), so the hash is never formatted; the others are formatted into
/// `scratch` and compared.
pub fn hash_matches(
    algo: HashAlgorithm,
    bytes: &[u8],
    trunc: usize,
    expected: &[u8],
    scratch: &mut String,
) -> bool {
    match decimal_hash(algo, bytes) {
        Some(_) if trunc == 0 => expected.is_empty(),
        Some(n) => parse_decimal(expected) == Some(decimal_lead(n, trunc)),
        None => {
            scratch.clear();
            hash_into(algo, bytes, trunc, scratch);
            scratch.as_bytes() == expected
        }
    }
}

/// `algo`'s hash of `bytes` as the number [`hash_into`] writes in decimal, or `None` when `algo` writes hex
/// digits (SHA-256, MD5) or nothing (farmhash).
#[inline]
pub fn decimal_hash(algo: HashAlgorithm, bytes: &[u8]) -> Option<u64> {
    match algo {
        HashAlgorithm::Xxhash32 => Some(xxhash_rust::xxh32::xxh32(bytes, 0) as u64),
        HashAlgorithm::Xxhash64 => Some(xxhash_rust::xxh64::xxh64(bytes, 0)),
        HashAlgorithm::Xxh3_64 => Some(xxhash_rust::xxh3::xxh3_64(bytes)),
        HashAlgorithm::Wyhash => Some(wyhash::wyhash(bytes, 0)),
        _ => None,
    }
}

/// The number whose decimal string is the first `trunc` (at least 1) digits of `n`'s: what [`hash_into`] writes
/// for a decimal hash `n`, as a number.
#[inline]
pub fn decimal_lead(n: u64, trunc: usize) -> u64 {
    let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    if trunc < digits {
        div_pow10(n, digits - trunc.max(1))
    } else {
        n
    }
}

/// `s` as a number when it is a canonical decimal string (ASCII digits, no leading zero but in `0` itself, at
/// most `u64::MAX`), the only strings [`hash_into`] writes for a decimal algorithm with a truncation of at least 1;
/// `None` otherwise (the empty string included).
#[inline]
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Row hash `H(s)` of FORMAT.md §5.1: [`hash_full`] then truncation to `trunc` characters.
pub fn hash_str(algo: HashAlgorithm, s: &str, trunc: usize) -> Result<String> {
    Ok(truncate(hash_full(algo, s)?, trunc))
}

/// Checks up front that `algo` can hash rows (so that column hashing never fails half-way).
pub fn check_algorithm(algo: HashAlgorithm) -> Result<()> {
    hash_full(algo, "").map(|_| ())
}

/// Hashes every value of a string column with `H` (nulls stay null). Same values as Metaxy's
/// `hash_string_column` with the Polars or DuckDB engine.
pub fn hash_string_column(
    ca: &StringChunked,
    algo: HashAlgorithm,
    trunc: usize,
) -> Result<StringChunked> {
    check_algorithm(algo)?;
    // one reused buffer per chunk, no allocation per row
    let out: StringChunked = ca.apply_into_string_amortized(|s: &str, buf: &mut String| {
        hash_into(algo, s.as_bytes(), trunc, buf)
    });
    Ok(out.with_name(ca.name().clone()))
}

/// A polars expression applying [`hash_string_column`] to a string expression (output dtype String).
pub fn hash_expr(e: Expr, algo: HashAlgorithm, trunc: usize) -> Expr {
    e.cast(DataType::String).map(
        move |c: Column| {
            let ca = c.str()?;
            let out = hash_string_column(ca, algo, trunc)
                .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
            Ok(out.into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
    )
}

/// One piece of a string that [`hash_joined_expr`] joins and hashes: a literal, or the (string-cast) value of an
/// expression.
#[derive(Clone)]
pub enum Piece {
    /// A constant.
    Lit(String),
    /// A column expression (cast to String; a null makes the whole result null).
    Col(Expr),
}

enum Tok {
    Lit(Vec<u8>),
    Col(usize),
}

/// `H(concat_str(pieces, sep))` per row, without materialising the joined strings: the pieces are written into
/// one reused buffer per thread and hashed with [`hash_into`]; rows are split over the available cores. The same
/// values as `hash_expr(concat_str(pieces, sep, ignore_nulls = false), algo, trunc)` (a null piece gives null),
/// i.e. Metaxy's field and sample provenance recipes (FORMAT.md §5.3). `algo` must pass [`check_algorithm`].
pub fn hash_joined_expr(pieces: Vec<Piece>, sep: &str, algo: HashAlgorithm, trunc: usize) -> Expr {
    // the template: literals merged with their separators, columns numbered in order
    let mut toks: Vec<Tok> = Vec::new();
    let mut exprs: Vec<Expr> = Vec::new();
    let push_lit = |toks: &mut Vec<Tok>, b: &[u8]| match toks.last_mut() {
        Some(Tok::Lit(l)) => l.extend_from_slice(b),
        _ => toks.push(Tok::Lit(b.to_vec())),
    };
    for (i, p) in pieces.into_iter().enumerate() {
        if i > 0 {
            push_lit(&mut toks, sep.as_bytes());
        }
        match p {
            Piece::Lit(s) => push_lit(&mut toks, s.as_bytes()),
            Piece::Col(e) => {
                toks.push(Tok::Col(exprs.len()));
                exprs.push(e.cast(DataType::String));
            }
        }
    }
    if exprs.is_empty() {
        // a constant: hash it once
        let bytes: Vec<u8> = toks
            .iter()
            .flat_map(|t| match t {
                Tok::Lit(b) => b.clone(),
                Tok::Col(_) => vec![],
            })
            .collect();
        let mut out = String::new();
        hash_into(algo, &bytes, trunc, &mut out);
        return lit(out);
    }
    let toks = std::sync::Arc::new(toks);
    map_multiple(
        move |cols: &mut [Column]| hash_columns(cols, &toks, algo, trunc),
        exprs,
        |_, f| Ok(Field::new(f[0].name().clone(), DataType::String)),
    )
}

/// The body of [`hash_joined_expr`]: `toks` (literals and column numbers) per row of `cols`, hashed. Columns of
/// one row each are broadcast. The rows are hashed chunk by chunk where the columns share a chunk layout (no
/// rechunk copy of the inputs), in pieces of at least 64k rows split over the cores.
fn hash_columns(
    cols: &[Column],
    toks: &[Tok],
    algo: HashAlgorithm,
    trunc: usize,
) -> PolarsResult<Column> {
    let len = cols.iter().map(|c| c.len()).max().unwrap_or(0);
    let name = cols[0].name().clone();
    if len == 0 {
        let none: [&str; 0] = [];
        return Ok(StringChunked::from_slice(name, &none).into_column());
    }
    let cas: Vec<StringChunked> = cols
        .iter()
        .map(|c| Ok(c.str()?.clone()))
        .collect::<PolarsResult<_>>()?;
    // the chunk layout: that of the first full-length column
    let layout: Vec<usize> = cas
        .iter()
        .find(|ca| ca.len() == len && len > 1)
        .map(|ca| ca.chunks().iter().map(|a| a.len()).collect())
        .unwrap_or_else(|| vec![len]);
    let starts: Vec<usize> = layout
        .iter()
        .scan(0, |acc, n| {
            let s = *acc;
            *acc += n;
            Some(s)
        })
        .collect();
    // per column: its chunks when they follow the layout; else one (rechunked) array read at global offsets
    enum Src<'a> {
        Chunks(Vec<&'a Utf8ViewArray>),
        Whole(Utf8ViewArray),
        Broadcast(Option<&'a Utf8ViewArray>),
    }
    let srcs: Vec<Src<'_>> = cas
        .iter()
        .map(|ca| {
            let lens: Vec<usize> = ca.chunks().iter().map(|a| a.len()).collect();
            if ca.chunks().is_empty() {
                Src::Broadcast(None)
            } else if ca.len() == 1 && len != 1 {
                Src::Broadcast(ca.downcast_iter().find(|a| a.len() == 1))
            } else if lens == layout {
                Src::Chunks(ca.downcast_iter().collect())
            } else {
                let one = ca.rechunk();
                let whole = one.downcast_iter().next().cloned();
                match whole {
                    Some(a) => Src::Whole(a),
                    None => Src::Broadcast(None),
                }
            }
        })
        .collect();
    // one unit = rows lo..hi of chunk c
    const PIECE: usize = 65_536;
    let mut units: Vec<(usize, usize, usize)> = Vec::new();
    for (c, &n) in layout.iter().enumerate() {
        let mut lo = 0;
        while lo < n {
            let hi = (lo + PIECE).min(n);
            units.push((c, lo, hi));
            lo = hi;
        }
    }
    let hash_unit = |(c, lo, hi): (usize, usize, usize)| -> Utf8ViewArray {
        // (array, offset of this chunk's row 0 in it, broadcast, has nulls) per column
        let views: Vec<Option<(&Utf8ViewArray, usize, bool, bool)>> = srcs
            .iter()
            .map(|src| match src {
                Src::Chunks(ch) => ch.get(c).map(|a| (*a, 0, false, a.null_count() > 0)),
                Src::Whole(a) => Some((a, starts[c], false, a.null_count() > 0)),
                Src::Broadcast(a) => a.map(|a| (a, 0, true, a.null_count() > 0)),
            })
            .collect();
        let mut out = MutableBinaryViewArray::<str>::with_capacity(hi - lo);
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut h = String::with_capacity(64);
        'rows: for row in lo..hi {
            buf.clear();
            for t in toks {
                match t {
                    Tok::Lit(b) => buf.extend_from_slice(b),
                    Tok::Col(k) => {
                        let Some((arr, off, broadcast, nulls)) = views[*k] else {
                            out.push_null();
                            continue 'rows;
                        };
                        let i = if broadcast { 0 } else { off + row };
                        if i >= arr.len() || (nulls && !arr.is_valid(i)) {
                            out.push_null();
                            continue 'rows;
                        }
                        // SAFETY: i < arr.len(), checked above
                        buf.extend_from_slice(unsafe { arr.value_unchecked(i) }.as_bytes());
                    }
                }
            }
            h.clear();
            hash_into(algo, &buf, trunc, &mut h);
            out.push_value(h.as_str());
        }
        out.into()
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(units.len().max(1));
    let chunks: Vec<Utf8ViewArray> = if threads <= 1 {
        units.iter().map(|u| hash_unit(*u)).collect()
    } else {
        // contiguous runs of units per thread, kept in order
        let per = units.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = units
                .chunks(per)
                .map(|run| {
                    let f = &hash_unit;
                    scope.spawn(move || run.iter().map(|u| f(*u)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("hash thread panicked"))
                .collect()
        })
    };
    Ok(StringChunked::from_chunk_iter(name, chunks).into_column())
}

/// Incremental SHA-256 over concatenated strings, rendered as lowercase hex and truncated: the graph-level recipe
/// of FORMAT.md §5.2 (field/feature/code/spec/definition/project versions).
pub struct Sha256Trunc {
    hasher: Sha256,
    trunc: usize,
}

impl Sha256Trunc {
    /// A new hasher truncating its output to `trunc` characters.
    pub fn new(trunc: usize) -> Self {
        Self {
            hasher: Sha256::new(),
            trunc,
        }
    }
    /// Feeds `s` (no separator is added).
    pub fn update(&mut self, s: &str) -> &mut Self {
        self.hasher.update(s.as_bytes());
        self
    }
    /// The truncated lowercase-hex digest.
    pub fn finish(self) -> String {
        truncate(hex(&self.hasher.finalize()), self.trunc)
    }
}

/// Python `json.dumps(value, sort_keys=True)` with default separators and `ensure_ascii=True`.
pub fn python_json_dumps_sorted(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_py_json(value, &mut out);
    out
}

fn write_py_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string())
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string())
            } else if let Some(f) = n.as_f64() {
                out.push_str(&python_float_repr(f))
            }
        }
        Value::String(s) => write_py_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation when the exponent is < -4 or >= 16.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // `{:e}` gives the shortest round-trip mantissa, e.g. "1.5e16", "1e-5".
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let s = format!("{}", f);
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_from_format_md() {
        assert_eq!(
            hash_str(
                HashAlgorithm::Xxhash32,
                "audio-v1-s000000|frames-v1-s000000",
                8
            )
            .unwrap(),
            "61644483"
        );
        assert_eq!(
            hash_full(HashAlgorithm::Xxhash32, "hello world").unwrap(),
            "3468387874"
        );
        assert_eq!(
            hash_full(HashAlgorithm::Xxhash64, "hello world").unwrap(),
            "5020219685658847592"
        );
        assert_eq!(
            hash_full(HashAlgorithm::Xxh3_64, "hello world").unwrap(),
            "15296390279056496779"
        );
        let mut h = Sha256Trunc::new(8);
        h.update("example/video.audio").update("1");
        assert_eq!(h.finish(), "22742381");
    }

    #[test]
    fn farmhash_is_a_clear_error() {
        assert!(matches!(
            hash_full(HashAlgorithm::Farmhash, "x"),
            Err(EngineError::UnsupportedHash(_))
        ));
    }

    #[test]
    fn python_json_matches_python() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"b": [1, 2.5, null], "a": "ü✓\n", "c": {"y": true, "x": 1e20}}"#,
        )
        .unwrap();
        assert_eq!(
            python_json_dumps_sorted(&v),
            r#"{"a": "\u00fc\u2713\n", "b": [1, 2.5, null], "c": {"x": 1e+20, "y": true}}"#
        );
        assert_eq!(python_float_repr(1.0), "1.0");
        assert_eq!(python_float_repr(0.0001), "0.0001");
        assert_eq!(python_float_repr(0.00001), "1e-05");
    }
}

#[cfg(test)]
mod hash_into_tests {
    use super::*;

    #[test]
    fn truncated_decimals_are_the_leading_digits() {
        let mut ns = vec![0u64, 1, 9, 10, 11, 99, 100, u64::MAX, u64::MAX - 1];
        for p in 1..20 {
            let t = 10u64.pow(p);
            ns.extend([t - 1, t, t + 1]);
        }
        for n in ns {
            let full = n.to_string();
            for trunc in 1..=21 {
                let mut out = String::from("x");
                push_decimal(&mut out, n, trunc);
                assert_eq!(
                    out,
                    format!("x{}", &full[..full.len().min(trunc)]),
                    "{n} to {trunc}"
                );
            }
        }
    }

    /// `hash_matches` agrees with comparing `hash_into`'s string, for every algorithm and truncation, on the
    /// string itself, on strings one character off, and on non-digits.
    #[test]
    fn hash_matches_equals_comparing_the_formatted_hash() {
        let mut scratch = String::new();
        for algo in HashAlgorithm::ALL {
            for input in [
                &b""[..],
                b"a",
                b"prediction|1|bench/simple_root/audio|a93586",
            ] {
                for trunc in [0, 1, 7, 8, 9, 19, 20, 21, 64] {
                    let mut want = String::new();
                    hash_into(algo, input, trunc, &mut want);
                    let mut wrong: Vec<Vec<u8>> = vec![
                        format!("{want}0").into_bytes(),
                        format!("0{want}").into_bytes(),
                        format!("{want}x").into_bytes(),
                        b"99999999999999999999999".to_vec(),
                    ];
                    if let Some(cut) = want.len().checked_sub(1) {
                        wrong.push(want.as_bytes()[..cut].to_vec());
                        let mut b = want.clone().into_bytes();
                        b[cut] = if b[cut] == b'1' { b'2' } else { b'1' };
                        wrong.push(b);
                    }
                    assert!(hash_matches(
                        algo,
                        input,
                        trunc,
                        want.as_bytes(),
                        &mut scratch
                    ));
                    for w in wrong.iter().filter(|w| w.as_slice() != want.as_bytes()) {
                        assert!(
                            !hash_matches(algo, input, trunc, w, &mut scratch),
                            "{algo:?} {trunc} {want} {}",
                            String::from_utf8_lossy(w)
                        );
                    }
                }
            }
        }
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"00"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
    }

    /// The leading `trunc` digits of `n`, as truncating its decimal string gives them, around every power of ten.
    #[test]
    fn push_decimal_keeps_the_leading_digits() {
        let mut values = vec![0u64, u64::MAX, u64::MAX - 1];
        let mut p = 1u64;
        for _ in 0..20 {
            values.extend([p - 1, p, p + 1, p.saturating_mul(7) / 3]);
            p = p.saturating_mul(10);
        }
        for n in values {
            let full = n.to_string();
            for trunc in 0..=21 {
                let mut out = String::from("x");
                push_decimal(&mut out, n, trunc);
                let want = &full[..full.len().min(trunc.max(1))];
                assert_eq!(out, format!("x{want}"), "{n} {trunc}");
            }
        }
        assert_eq!(div_pow10(12_345, 0), 12_345);
        assert_eq!(div_pow10(u64::MAX, 20), 0);
    }

    #[test]
    fn hash_into_equals_hash_str_for_every_algorithm_and_truncation() {
        for algo in [
            HashAlgorithm::Xxhash32,
            HashAlgorithm::Xxhash64,
            HashAlgorithm::Xxh3_64,
            HashAlgorithm::Wyhash,
            HashAlgorithm::Sha256,
            HashAlgorithm::Md5,
        ] {
            for s in [
                "",
                "hello world",
                "audio|1|example/video.audio|audio-v1-s000000",
                "é✓",
            ] {
                for trunc in [1, 8, 12, 16, 19, 20, 64] {
                    let mut out = String::from("prefix");
                    hash_into(algo, s.as_bytes(), trunc, &mut out);
                    assert_eq!(
                        out,
                        format!("prefix{}", hash_str(algo, s, trunc).unwrap()),
                        "{algo:?} {s:?} {trunc}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod joined_tests {
    use super::*;

    /// The fused, multithreaded join-and-hash equals concat_str + hash_expr, nulls and all, for every algorithm.
    #[test]
    fn hash_joined_equals_concat_then_hash() {
        let n = 200_003; // above the threading threshold, not a multiple of the thread count
        let a: Vec<Option<String>> = (0..n)
            .map(|i| (i % 97 != 0).then(|| format!("a{i}")))
            .collect();
        let b: Vec<Option<u64>> = (0..n)
            .map(|i| (i % 89 != 0).then_some(i as u64 * 7))
            .collect();
        let df = df!("a" => a, "b" => b).unwrap();
        // the same rows in chunks: both columns alike (hashed chunk by chunk), and with different layouts
        let mut chunked = df.slice(0, 70_000);
        chunked.vstack_mut(&df.slice(70_000, n)).unwrap();
        chunked.vstack_mut(&df.slice(0, 0)).unwrap();
        let mut a3 = df.select(["a"]).unwrap().slice(0, 1);
        a3.vstack_mut(&df.select(["a"]).unwrap().slice(1, 150_000))
            .unwrap();
        a3.vstack_mut(&df.select(["a"]).unwrap().slice(150_001, n))
            .unwrap();
        let mixed = a3.hstack(&[df.column("b").unwrap().clone()]).unwrap();
        assert_eq!(
            chunked
                .column("a")
                .unwrap()
                .as_materialized_series()
                .n_chunks(),
            2
        );
        assert_eq!(
            mixed
                .column("a")
                .unwrap()
                .as_materialized_series()
                .n_chunks(),
            3
        );
        for df in [df.clone(), chunked, mixed] {
            for algo in [
                HashAlgorithm::Xxhash64,
                HashAlgorithm::Xxhash32,
                HashAlgorithm::Xxh3_64,
                HashAlgorithm::Wyhash,
                HashAlgorithm::Sha256,
                HashAlgorithm::Md5,
            ] {
                for trunc in [8usize, 64] {
                    let fused = hash_joined_expr(
                        vec![
                            Piece::Lit("f".into()),
                            Piece::Lit("1".into()),
                            Piece::Col(col("a")),
                            Piece::Lit("x.y".into()),
                            Piece::Col(col("b")),
                        ],
                        "|",
                        algo,
                        trunc,
                    );
                    let plain = hash_expr(
                        concat_str(
                            [
                                lit("f"),
                                lit("1"),
                                col("a"),
                                lit("x.y"),
                                col("b").cast(DataType::String),
                            ],
                            "|",
                            false,
                        ),
                        algo,
                        trunc,
                    );
                    let out = df
                        .clone()
                        .lazy()
                        .select([fused.alias("fused"), plain.alias("plain")])
                        .collect()
                        .unwrap();
                    let (f, p) = (out.column("fused").unwrap(), out.column("plain").unwrap());
                    assert_eq!(f.len(), n);
                    assert_eq!(f.null_count(), p.null_count(), "{algo:?}");
                    assert!(
                        f.as_materialized_series()
                            .equals_missing(p.as_materialized_series()),
                        "{algo:?} {trunc}"
                    );
                }
            }
        }
        // an empty frame: an empty column, which hashes again (field hashes -> sample hash)
        let empty = df!("a" => Vec::<String>::new()).unwrap();
        let h = |e: Expr| hash_joined_expr(vec![Piece::Col(e)], "|", HashAlgorithm::Xxhash64, 64);
        let out = empty
            .lazy()
            .select([h(h(col("a"))).alias("h")])
            .collect()
            .unwrap();
        assert_eq!(out.height(), 0);
        // no column at all: a constant
        let c = df
            .lazy()
            .select([hash_joined_expr(
                vec![Piece::Lit("x".into())],
                "|",
                HashAlgorithm::Xxhash64,
                64,
            )
            .alias("c")])
            .collect()
            .unwrap();
        assert_eq!(
            c.column("c").unwrap().str().unwrap().get(0),
            Some(hash_str(HashAlgorithm::Xxhash64, "x", 64).unwrap().as_str())
        );
    }
}
