//! PostgreSQL's binary COPY format (`COPY ... (FORMAT binary)`), both ways: decoding a `COPY (SELECT ...) TO
//! STDOUT` stream into a polars [`DataFrame`] column by column (strings are sliced out of the received buffer, no
//! per-row allocations beyond the final arrays), and encoding a [`DataFrame`] into the stream `COPY ... FROM
//! STDIN` takes. Layout (PostgreSQL docs, "COPY / Binary Format"): an 11-byte signature, a flags word and a header
//! extension, then per row a field count (i16) and per field a length (i32, -1 = NULL) followed by the value in
//! the type's binary send format (big-endian integers; timestamps and dates counted from 2000-01-01); a trailer
//! of -1.

use polars::prelude::*;

use super::types::{PgType, PG_EPOCH_DAYS, PG_EPOCH_US};
use crate::engine::error::{EngineError, Result};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

fn corrupt(table: &str, m: impl Into<String>) -> EngineError {
    EngineError::CorruptTable {
        table: table.to_string(),
        message: m.into(),
    }
}

/// Values of one column while a COPY stream is decoded.
enum Buf {
    /// Byte ranges into the stream (text, json, bytea).
    Slices(Vec<Option<(usize, usize)>>),
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    I16(Vec<Option<i16>>),
    F64(Vec<Option<f64>>),
    F32(Vec<Option<f32>>),
    Bool(Vec<Option<bool>>),
}

impl Buf {
    fn new(ty: PgType, rows: usize) -> Self {
        match ty {
            PgType::Int8 | PgType::TimestampTz | PgType::Timestamp => {
                Buf::I64(Vec::with_capacity(rows))
            }
            PgType::Int4 | PgType::Date => Buf::I32(Vec::with_capacity(rows)),
            PgType::Int2 => Buf::I16(Vec::with_capacity(rows)),
            PgType::Float8 => Buf::F64(Vec::with_capacity(rows)),
            PgType::Float4 => Buf::F32(Vec::with_capacity(rows)),
            PgType::Bool => Buf::Bool(Vec::with_capacity(rows)),
            _ => Buf::Slices(Vec::with_capacity(rows)),
        }
    }

    fn push(&mut self, v: Option<&[u8]>, start: usize) -> std::result::Result<(), String> {
        fn arr<const N: usize>(b: &[u8]) -> std::result::Result<[u8; N], String> {
            b.try_into()
                .map_err(|_| format!("field of {} bytes where {N} were expected", b.len()))
        }
        match self {
            Buf::Slices(v2) => v2.push(v.map(|b| (start, b.len()))),
            Buf::I64(x) => x.push(v.map(arr::<8>).transpose()?.map(i64::from_be_bytes)),
            Buf::I32(x) => x.push(v.map(arr::<4>).transpose()?.map(i32::from_be_bytes)),
            Buf::I16(x) => x.push(v.map(arr::<2>).transpose()?.map(i16::from_be_bytes)),
            Buf::F64(x) => x.push(v.map(arr::<8>).transpose()?.map(f64::from_be_bytes)),
            Buf::F32(x) => x.push(v.map(arr::<4>).transpose()?.map(f32::from_be_bytes)),
            Buf::Bool(x) => x.push(v.map(arr::<1>).transpose()?.map(|b| b[0] != 0)),
        }
        Ok(())
    }

    fn into_column(
        self,
        name: &str,
        ty: PgType,
        data: &[u8],
    ) -> std::result::Result<Column, String> {
        let name = PlSmallStr::from(name);
        let s = match self {
            Buf::Slices(v) if ty == PgType::Bytea => Series::new(
                name,
                v.iter()
                    .map(|r| r.map(|(s, l)| &data[s..s + l]))
                    .collect::<Vec<_>>(),
            ),
            Buf::Slices(v) => {
                let strs: std::result::Result<Vec<Option<&str>>, _> = v
                    .iter()
                    .map(|r| {
                        r.map(|(s, l)| std::str::from_utf8(&data[s..s + l]))
                            .transpose()
                    })
                    .collect();
                let strs = strs.map_err(|e| format!("column {name}: {e}"))?;
                StringChunked::from_iter_options(name, strs.into_iter()).into_series()
            }
            Buf::I64(v) => match ty {
                PgType::TimestampTz | PgType::Timestamp => {
                    let tz = (ty == PgType::TimestampTz).then_some(TimeZone::UTC);
                    let us: Vec<Option<i64>> = v
                        .into_iter()
                        .map(|x| {
                            x.filter(|x| *x != i64::MAX && *x != i64::MIN)
                                .map(|x| x + PG_EPOCH_US)
                        })
                        .collect();
                    Int64Chunked::from_iter_options(name, us.into_iter())
                        .into_datetime(TimeUnit::Microseconds, tz)
                        .into_series()
                }
                _ => Int64Chunked::from_iter_options(name, v.into_iter()).into_series(),
            },
            Buf::I32(v) if ty == PgType::Date => {
                let days: Vec<Option<i32>> = v
                    .into_iter()
                    .map(|x| {
                        x.filter(|x| *x != i32::MAX && *x != i32::MIN)
                            .map(|x| x + PG_EPOCH_DAYS)
                    })
                    .collect();
                Int32Chunked::from_iter_options(name, days.into_iter())
                    .into_date()
                    .into_series()
            }
            Buf::I32(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_series(),
            Buf::I16(v) => Int16Chunked::from_iter_options(name, v.into_iter()).into_series(),
            Buf::F64(v) => Float64Chunked::from_iter_options(name, v.into_iter()).into_series(),
            Buf::F32(v) => Float32Chunked::from_iter_options(name, v.into_iter()).into_series(),
            Buf::Bool(v) => BooleanChunked::from_iter_options(name, v.into_iter()).into_series(),
        };
        Ok(s.into_column())
    }
}

/// Decodes a whole binary COPY stream whose fields are `columns` (name and how each was selected: json and
/// unknown types arrive as text) into a [`DataFrame`].
///
/// Errors: [`EngineError::CorruptTable`] (naming `table`) when the stream is not the binary COPY format or a field
/// does not have its type's size.
pub fn decode(data: &[u8], columns: &[(String, PgType)], table: &str) -> Result<DataFrame> {
    if data.len() < 19 || &data[..11] != SIGNATURE {
        return Err(corrupt(table, "not a binary COPY stream"));
    }
    let ext = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
    let mut pos = 19 + ext;
    let mut bufs: Vec<Buf> = columns.iter().map(|(_, t)| Buf::new(*t, 1024)).collect();
    let short = || corrupt(table, "truncated binary COPY stream");
    loop {
        let n = data.get(pos..pos + 2).ok_or_else(short)?;
        let n = i16::from_be_bytes([n[0], n[1]]);
        pos += 2;
        if n == -1 {
            break;
        }
        if n as usize != columns.len() {
            return Err(corrupt(
                table,
                format!("row of {n} fields, expected {}", columns.len()),
            ));
        }
        for b in bufs.iter_mut() {
            let l = data.get(pos..pos + 4).ok_or_else(short)?;
            let l = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
            pos += 4;
            if l < 0 {
                b.push(None, pos).map_err(|m| corrupt(table, m))?;
            } else {
                let end = pos + l as usize;
                let v = data.get(pos..end).ok_or_else(short)?;
                b.push(Some(v), pos).map_err(|m| corrupt(table, m))?;
                pos = end;
            }
        }
    }
    let height = match bufs.first() {
        Some(Buf::Slices(v)) => v.len(),
        Some(Buf::I64(v)) => v.len(),
        Some(Buf::I32(v)) => v.len(),
        Some(Buf::I16(v)) => v.len(),
        Some(Buf::F64(v)) => v.len(),
        Some(Buf::F32(v)) => v.len(),
        Some(Buf::Bool(v)) => v.len(),
        None => 0,
    };
    let cols = bufs
        .into_iter()
        .zip(columns)
        .map(|(b, (name, ty))| b.into_column(name, *ty, data))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|m| corrupt(table, m))?;
    Ok(DataFrame::new(height, cols)?)
}

/// One column of a frame prepared for encoding: its values in the binary form of the staging column's type.
enum Enc {
    Text(StringChunked),
    Owned(Vec<Option<String>>),
    I64(Int64Chunked, usize),
    F64(Float64Chunked, bool),
    Bool(BooleanChunked),
    /// µs or days after PostgreSQL's epoch
    Shifted(Int64Chunked, usize),
    Bytes(BinaryChunked),
}

/// The type a staging column gets for a target column of type `ty`: json and unknown types are staged as text
/// and cast by the `INSERT ... SELECT` (PostgreSQL parses them), everything else in its own binary form.
pub fn staged_type(ty: PgType, sql_type: &str) -> String {
    match ty {
        PgType::Json { .. } | PgType::Other | PgType::Text => "text".into(),
        _ => sql_type.to_string(),
    }
}

fn prepare(s: &Series, ty: PgType) -> Result<Enc> {
    use crate::engine::json::any_to_json;
    let cast = |t: &DataType| s.cast(t);
    Ok(match ty {
        PgType::Text | PgType::Json { .. } | PgType::Other => match s.dtype() {
            DataType::String => Enc::Text(s.str()?.clone()),
            DataType::Struct(_) | DataType::List(_) | DataType::Array(..) => {
                let mut v = Vec::with_capacity(s.len());
                for a in s.iter() {
                    v.push(match a {
                        AnyValue::Null => None,
                        a => Some(serde_json::to_string(&any_to_json(&a))?),
                    });
                }
                Enc::Owned(v)
            }
            _ => Enc::Text(cast(&DataType::String)?.str()?.clone()),
        },
        PgType::Int8 => Enc::I64(cast(&DataType::Int64)?.i64()?.clone(), 8),
        PgType::Int4 => Enc::I64(cast(&DataType::Int64)?.i64()?.clone(), 4),
        PgType::Int2 => Enc::I64(cast(&DataType::Int64)?.i64()?.clone(), 2),
        PgType::Float8 => Enc::F64(cast(&DataType::Float64)?.f64()?.clone(), true),
        PgType::Float4 => Enc::F64(cast(&DataType::Float64)?.f64()?.clone(), false),
        PgType::Bool => Enc::Bool(cast(&DataType::Boolean)?.bool()?.clone()),
        PgType::TimestampTz | PgType::Timestamp => {
            let tz = match s.dtype() {
                DataType::Datetime(_, tz) => tz.clone(),
                _ => Some(TimeZone::UTC),
            };
            let us = cast(&DataType::Datetime(TimeUnit::Microseconds, tz))?
                .to_physical_repr()
                .i64()?
                - PG_EPOCH_US;
            Enc::Shifted(us, 8)
        }
        PgType::Date => {
            let d = cast(&DataType::Date)?
                .to_physical_repr()
                .cast(&DataType::Int64)?
                .i64()?
                - PG_EPOCH_DAYS as i64;
            Enc::Shifted(d, 4)
        }
        PgType::Bytea => Enc::Bytes(cast(&DataType::Binary)?.binary()?.clone()),
    })
}

fn put_field(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

fn put_int(out: &mut Vec<u8>, v: Option<i64>, width: usize) {
    match (v, width) {
        (None, _) => put_field(out, None),
        (Some(x), 8) => put_field(out, Some(&x.to_be_bytes())),
        (Some(x), 4) => put_field(out, Some(&(x as i32).to_be_bytes())),
        (Some(x), _) => put_field(out, Some(&(x as i16).to_be_bytes())),
    }
}

/// Encodes `df`'s columns `columns` (each with the type of its staging column) as one binary COPY stream.
///
/// Errors: [`EngineError::Polars`] when a column cannot be cast to its target type (e.g. text into a timestamp).
pub fn encode(df: &DataFrame, columns: &[(String, PgType)]) -> Result<Vec<u8>> {
    let encs: Vec<Enc> = columns
        .iter()
        .map(|(name, ty)| {
            let s = df.column(name)?.as_materialized_series().rechunk();
            prepare(&s, *ty)
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(64 + df.height() * columns.len() * 16);
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for i in 0..df.height() {
        out.extend_from_slice(&(columns.len() as i16).to_be_bytes());
        for e in &encs {
            match e {
                Enc::Text(ca) => put_field(&mut out, ca.get(i).map(str::as_bytes)),
                Enc::Owned(v) => put_field(&mut out, v[i].as_deref().map(str::as_bytes)),
                Enc::I64(ca, w) | Enc::Shifted(ca, w) => put_int(&mut out, ca.get(i), *w),
                Enc::F64(ca, true) => put_field(
                    &mut out,
                    ca.get(i).map(|x| x.to_be_bytes()).as_ref().map(|b| &b[..]),
                ),
                Enc::F64(ca, false) => put_field(
                    &mut out,
                    ca.get(i)
                        .map(|x| (x as f32).to_be_bytes())
                        .as_ref()
                        .map(|b| &b[..]),
                ),
                Enc::Bool(ca) => put_field(
                    &mut out,
                    ca.get(i).map(|b| [b as u8]).as_ref().map(|b| &b[..]),
                ),
                Enc::Bytes(ca) => put_field(&mut out, ca.get(i)),
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_every_type() {
        let ts = Int64Chunked::new("t".into(), &[Some(1_767_225_600_000_000), None])
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_series()
            .into_column();
        let df = DataFrame::new_infer_height(vec![
            Column::new("s".into(), [Some("a'b"), None]),
            Column::new("i".into(), [Some(1i64), Some(-7)]),
            Column::new("f".into(), [Some(1.5f64), None]),
            Column::new("b".into(), [Some(true), Some(false)]),
            ts,
        ])
        .unwrap();
        let cols = vec![
            ("s".to_string(), PgType::Text),
            ("i".to_string(), PgType::Int8),
            ("f".to_string(), PgType::Float8),
            ("b".to_string(), PgType::Bool),
            ("t".to_string(), PgType::TimestampTz),
        ];
        let bytes = encode(&df, &cols).unwrap();
        let back = decode(&bytes, &cols, "t").unwrap();
        assert!(back.equals_missing(&df), "{back}");
    }

    #[test]
    fn garbage_is_a_corrupt_table() {
        assert!(matches!(
            decode(b"nope", &[], "t"),
            Err(EngineError::CorruptTable { .. })
        ));
    }
}
