//! Frame -> JSON rows, rendering values the way the Metaxy fixtures do (timestamps as ISO-8601 with `Z`,
//! structs as objects).

use polars::prelude::*;
use serde_json::{Map, Number, Value};

use crate::engine::error::Result;

/// Renders a polars value as JSON: strings/numbers/bools as such, structs as objects, lists as arrays,
/// tz-aware datetimes as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (UTC), naive ones without `Z`, null as null.
pub fn any_to_json(v: &AnyValue) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Float32(x) => Number::from_f64(*x as f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AnyValue::Float64(x) => Number::from_f64(*x)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AnyValue::Datetime(t, tu, tz) => Value::String(format_ts(*t, *tu, tz.is_some())),
        AnyValue::DatetimeOwned(t, tu, tz) => Value::String(format_ts(*t, *tu, tz.is_some())),
        AnyValue::Date(d) => {
            let date = chrono::DateTime::from_timestamp(*d as i64 * 86_400, 0)
                .map(|d| d.date_naive().to_string());
            Value::String(date.unwrap_or_default())
        }
        AnyValue::Struct(_, _, fields) => {
            let mut m = Map::new();
            for (f, val) in fields.iter().zip(v._iter_struct_av()) {
                m.insert(f.name().to_string(), any_to_json(&val));
            }
            Value::Object(m)
        }
        AnyValue::StructOwned(b) => {
            let (vals, fields) = &**b;
            let mut m = Map::new();
            for (f, val) in fields.iter().zip(vals) {
                m.insert(f.name().to_string(), any_to_json(val));
            }
            Value::Object(m)
        }
        AnyValue::List(s) => Value::Array(s.iter().map(|x| any_to_json(&x)).collect()),
        other => Value::String(other.to_string()),
    }
}

fn format_ts(t: i64, tu: TimeUnit, tz: bool) -> String {
    let us = match tu {
        TimeUnit::Nanoseconds => t / 1000,
        TimeUnit::Microseconds => t,
        TimeUnit::Milliseconds => t * 1000,
    };
    let Some(dt) = chrono::DateTime::from_timestamp_micros(us) else {
        return t.to_string();
    };
    let base = if us % 1_000_000 == 0 {
        dt.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    };
    if tz {
        format!("{base}Z")
    } else {
        base
    }
}

/// Renders a value for a terminal cell: like [`any_to_json`] but strings unquoted, structs as `{k: v, ...}`,
/// timestamps as `YYYY-MM-DD HH:MM:SS`.
pub fn any_to_cell(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Datetime(..) | AnyValue::DatetimeOwned(..) => match any_to_json(v) {
            Value::String(s) => s.replace('T', " ").trim_end_matches('Z').to_string(),
            other => other.to_string(),
        },
        _ => match any_to_json(v) {
            Value::Object(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}: {}",
                            match v {
                                Value::String(s) => s.clone(),
                                o => o.to_string(),
                            }
                        )
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

/// The field `key` of a `*_by_field` value rendered by [`any_to_json`]: a struct (JSON object) or a map (list of
/// `{key, value}` entries, as DuckDB maps and Lance's map encoding arrive). `None` for null or absent fields.
pub fn by_field_value(v: &Value, key: &str) -> Option<String> {
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        o => Some(o.to_string()),
    };
    match v {
        Value::Object(m) => m.get(key).and_then(text),
        Value::Array(items) => items.iter().find_map(|it| {
            let o = it.as_object()?;
            (o.get("key")?.as_str()? == key)
                .then(|| o.get("value").and_then(text))
                .flatten()
        }),
        _ => None,
    }
}

/// Converts a frame into JSON objects, one per row, keeping `columns` (all columns when `None`) in that order.
/// Columns missing from the frame are skipped.
pub fn df_to_json_rows(df: &DataFrame, columns: Option<&[String]>) -> Result<Vec<Value>> {
    let names = crate::engine::frame::present_columns(df, columns);
    let mut per_col: Vec<Vec<Value>> = Vec::with_capacity(names.len());
    for n in &names {
        let s = df.column(n)?.as_materialized_series().rechunk();
        per_col.push(s.iter().map(|v| any_to_json(&v)).collect());
    }
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut m = Map::new();
        for (n, c) in names.iter().zip(&per_col) {
            m.insert(n.clone(), c[i].clone());
        }
        rows.push(Value::Object(m));
    }
    Ok(rows)
}
