//! Writes to the ClickHouse store: the DDL Metaxy's store creates for a new feature table (Ibis' `create_table` from
//! Arrow: `Nullable(...)` scalars, named `Tuple(...)` structs, `DateTime64(6, 'UTC')`, `MergeTree ORDER BY tuple()`),
//! one `INSERT INTO t (<columns>) FORMAT ArrowStream` per feature with the rows shaped for the stored types (structs
//! into `Map(String, String)` as maps, as Metaxy's `transform_before_write`, into `JSON` / `String` as JSON text;
//! tuple elements in the table's order), and hard deletes as lightweight `DELETE`s (Metaxy's `_delete_feature`).
//!
//! ClickHouse has no transactions: an `INSERT` of up to `max_insert_block_size` rows is one block, written
//! atomically as one part (the insert is sent with that limit above its row count, as one Arrow batch).

use std::sync::Arc;

use arrow::array::{ArrayRef, MapBuilder, StringBuilder};
use polars::prelude::*;

use super::sql::{self, quote_ident, ChColumn};
use super::{ClickHouseStore, STRUCT_COLUMNS};
use crate::engine::error::{EngineError, Result};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::Columns;

/// The ClickHouse type of a new table's column for a polars column (Ibis' mapping, as Metaxy's auto-created tables
/// show): scalars `Nullable(...)`, structs named `Tuple(...)` of nullable elements, lists `Array(...)`;
/// `*_by_field` columns `Map(String, String)` when `map_by_field` (Map mode).
pub fn ddl_type(name: &str, dtype: &DataType, map_by_field: bool) -> String {
    if map_by_field && crate::engine::frame::is_by_field(name) {
        return "Map(String, String)".into();
    }
    match dtype {
        DataType::Struct(fields) => format!(
            "Tuple({})",
            fields
                .iter()
                .map(|f| format!(
                    "{} {}",
                    quote_ident(f.name()),
                    ddl_type("", f.dtype(), false)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::List(inner) | DataType::Array(inner, _) => {
            format!("Array({})", ddl_type("", inner, false))
        }
        other => format!("Nullable({})", scalar_type(other)),
    }
}

fn scalar_type(dtype: &DataType) -> String {
    match dtype {
        DataType::Int64 => "Int64".into(),
        DataType::Int32 => "Int32".into(),
        DataType::Int16 => "Int16".into(),
        DataType::Int8 => "Int8".into(),
        DataType::UInt64 => "UInt64".into(),
        DataType::UInt32 => "UInt32".into(),
        DataType::UInt16 => "UInt16".into(),
        DataType::UInt8 => "UInt8".into(),
        DataType::Float64 => "Float64".into(),
        DataType::Float32 => "Float32".into(),
        DataType::Boolean => "Bool".into(),
        DataType::Date => "Date32".into(),
        DataType::Datetime(tu, tz) => {
            let p = match tu {
                TimeUnit::Nanoseconds => 9,
                TimeUnit::Microseconds => 6,
                TimeUnit::Milliseconds => 3,
            };
            match tz {
                Some(tz) => format!("DateTime64({p}, {})", sql::ch_str(tz)),
                None => format!("DateTime64({p})"),
            }
        }
        _ => "String".into(),
    }
}

/// JSON text of every value of `s` (structs and lists as JSON objects and arrays; null stays null).
fn json_text(s: &Series) -> Result<Series> {
    let mut v: Vec<Option<String>> = Vec::with_capacity(s.len());
    for a in s.iter() {
        v.push(match a {
            AnyValue::Null => None,
            a => Some(serde_json::to_string(&crate::engine::json::any_to_json(
                &a,
            ))?),
        });
    }
    Ok(StringChunked::from_iter_options(s.name().clone(), v.into_iter()).into_series())
}

/// A struct column as an Arrow `Map<String, String>`: one entry per non-null field (ClickHouse maps hold no NULL;
/// Metaxy drops them too), a null struct as an empty map.
fn struct_to_map(s: &Series) -> Result<ArrayRef> {
    let ca = s.struct_()?;
    let fields: Vec<(String, StringChunked)> = ca
        .fields_as_series()
        .iter()
        .map(|f| {
            Ok((
                f.name().to_string(),
                f.cast(&DataType::String)?.str()?.clone(),
            ))
        })
        .collect::<Result<_>>()?;
    let nulls = s.is_null();
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for i in 0..s.len() {
        if !nulls.get(i).unwrap_or(false) {
            for (name, vals) in &fields {
                if let Some(v) = vals.get(i) {
                    b.keys().append_value(name);
                    b.values().append_value(v);
                }
            }
        }
        b.append(true)?;
    }
    Ok(Arc::new(b.finish()))
}

/// A struct column with its fields in the order (and under the names) of the stored `Tuple`: missing fields null,
/// extra fields dropped.
fn reorder_struct(s: &Series, names: &[String]) -> Result<Series> {
    let ca = s.struct_()?;
    let have = ca.fields_as_series();
    let fields: Vec<Series> = names
        .iter()
        .map(|n| {
            have.iter()
                .find(|f| f.name().as_str() == n)
                .cloned()
                .unwrap_or_else(|| Series::full_null(n.as_str().into(), s.len(), &DataType::String))
        })
        .collect();
    Ok(StructChunked::from_series(s.name().clone(), s.len(), fields.iter())?.into_series())
}

/// What one frame column becomes before encoding, for its stored column `target`.
enum Shaped {
    Polars(Series),
    Arrow(ArrayRef),
}

impl ClickHouseStore {
    fn shape(&self, s: &Series, target: &ChColumn) -> Result<Shaped> {
        let is_struct = matches!(s.dtype(), DataType::Struct(_));
        let nested = is_struct || matches!(s.dtype(), DataType::List(_) | DataType::Array(..));
        Ok(match sql::type_name(&target.ty) {
            "Map"
                if is_struct
                    && (self.auto_cast || STRUCT_COLUMNS.contains(&target.name.as_str())) =>
            {
                Shaped::Arrow(struct_to_map(s)?)
            }
            "JSON" | "Object" | "String" if nested => Shaped::Polars(json_text(s)?),
            "String" => Shaped::Polars(s.cast(&DataType::String)?),
            "Tuple" if is_struct => match sql::tuple_names(&target.ty) {
                Some(names) => Shaped::Polars(reorder_struct(s, &names)?),
                None => Shaped::Polars(s.clone()),
            },
            _ => Shaped::Polars(s.clone()),
        })
    }

    /// The stored columns of `table`, creating the table with Metaxy's DDL for `df` when it does not exist.
    fn target_columns(
        &self,
        key: &FeatureKey,
        table: &str,
        df: &DataFrame,
    ) -> Result<Vec<ChColumn>> {
        if let Some(existing) = self.columns(table)? {
            let unknown: Vec<String> = df
                .get_column_names()
                .into_iter()
                .filter(|c| !sql::has(&existing, c))
                .map(|c| c.to_string())
                .collect();
            if !unknown.is_empty() {
                return Err(EngineError::Schema {
                    feature: key.to_string(),
                    message: format!(
                        "table {table} has no column(s) {} (ClickHouse tables are not migrated automatically)",
                        unknown.join(", ")
                    ),
                });
            }
            return Ok(existing);
        }
        let cols: Vec<ChColumn> = df
            .columns()
            .iter()
            .map(|c| ChColumn {
                name: c.name().to_string(),
                ty: ddl_type(c.name(), c.dtype(), self.map_datatype),
            })
            .collect();
        let ddl: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", quote_ident(&c.name), c.ty))
            .collect();
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = MergeTree ORDER BY tuple()",
            quote_ident(table),
            ddl.join(", ")
        );
        block_on(self.conn.request(&create, None, &[]))
            .map_err(|e| self.write_err(table, e.message))?;
        Ok(cols)
    }

    pub(super) fn write_err(&self, table: &str, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            table: table.to_string(),
            store: self.name.clone(),
            message: m.to_string(),
        }
    }

    /// [`crate::engine::store::api::MetadataStore::append`]: the table is created (Metaxy's DDL) when missing; the
    /// rows go in one `INSERT ... FORMAT ArrowStream`.
    pub(super) fn append_rows(&self, key: &FeatureKey, table: &str, df: &DataFrame) -> Result<()> {
        let targets = self.target_columns(key, table, df)?;
        let mut polars_cols = vec![];
        let mut arrow_cols: Vec<(usize, ArrayRef)> = vec![];
        for (i, c) in df.columns().iter().enumerate() {
            let s = c.as_materialized_series().rechunk();
            let Some(t) = targets.iter().find(|t| t.name == s.name().as_str()) else {
                continue;
            };
            match self.shape(&s, t)? {
                Shaped::Polars(s) => polars_cols.push(s.into_column()),
                Shaped::Arrow(a) => arrow_cols.push((i, a)),
            }
        }
        let plain = DataFrame::new(df.height(), polars_cols)?;
        let batch = crate::engine::frame::df_to_record_batch(&plain)?;
        let mut fields: Vec<arrow::datatypes::FieldRef> =
            batch.schema().fields().iter().cloned().collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, a) in arrow_cols {
            let name = df.columns()[i].name().to_string();
            fields.insert(
                i,
                Arc::new(arrow::datatypes::Field::new(
                    name,
                    a.data_type().clone(),
                    false,
                )),
            );
            arrays.insert(i, a);
        }
        let schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(df.height()));
        let batch = arrow::array::RecordBatch::try_new_with_options(schema.clone(), arrays, &opts)?;
        let mut w = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema)?;
        w.write(&batch)?;
        w.finish()?;
        let body = w.into_inner()?;
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| quote_ident(f.name()))
            .collect();
        let insert = format!(
            "INSERT INTO {} ({}) FORMAT ArrowStream",
            quote_ident(table),
            names.join(", ")
        );
        let block = (df.height() + 1).max(1_048_449).to_string();
        crate::engine::fault::point("clickhouse.before_commit");
        let _t = crate::engine::timing::span(|| format!("clickhouse-insert {table}"));
        block_on(self.conn.request(
            &insert,
            Some(body),
            &[
                ("max_insert_block_size", block.clone()),
                ("min_insert_block_size_rows", block),
                ("min_insert_block_size_bytes", "0".into()),
            ],
        ))
        .map_err(|e| match e.code {
            0 => self.write_err(table, e.message),
            _ => EngineError::Schema {
                feature: key.to_string(),
                message: format!("ClickHouse refused the rows for {table}: {}", e.message),
            },
        })?;
        Ok(())
    }

    /// [`crate::engine::store::api::MetadataStore::delete_rows`]: without filters one `DELETE ... WHERE
    /// metaxy_feature_version = ...` (or `TRUNCATE TABLE` without a version, as Metaxy's empty-filter delete);
    /// with filters the rows of the version are read with their identity (a 128-bit SipHash of the whole row's
    /// text, [`row_identity`]), the filters evaluated by the engine (as previews do), and the matching rows removed
    /// by one lightweight `DELETE` of those identities. The identity, unlike a place (`_part`, `_part_offset`),
    /// survives the background merges that can run between the read and the `DELETE`; rows that share it are
    /// identical in every column, so the filter matches all of them or none. Returns the number of rows deleted.
    pub(super) fn delete(
        &self,
        table: &str,
        cols: &[ChColumn],
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let qt = quote_ident(table);
        let preds: Vec<String> = sql::version_pred(cols, feature_version)
            .into_iter()
            .collect();
        let exec = |q: &str| {
            block_on(self.conn.request(q, None, &[])).map_err(|e| self.write_err(table, e.message))
        };
        if filters.is_empty() {
            let n = self
                .select(
                    table,
                    cols,
                    &Columns::Only(vec![]),
                    &sql::where_clause(&preds),
                    &[],
                )?
                .height();
            if n > 0 {
                crate::engine::fault::point("clickhouse.before_commit");
                match preds.is_empty() {
                    true => exec(&format!("TRUNCATE TABLE {qt}"))?,
                    false => exec(&format!("DELETE FROM {qt}{}", sql::where_clause(&preds)))?,
                };
            }
            return Ok(n);
        }
        let selection = self.select_rows(table, cols, preds, filters)?;
        self.delete_selection(&selection)
    }

    /// The first phase of a filtered hard delete ([`ClickHouseStore::hard_delete_selection`]): the rows of
    /// `table` matching `preds` (SQL) and `filters` (evaluated by the engine), as their identities.
    fn select_rows(
        &self,
        table: &str,
        cols: &[ChColumn],
        mut preds: Vec<String>,
        filters: &[String],
    ) -> Result<RowSelection> {
        let identity = row_identity(cols);
        let df = self.select(
            table,
            cols,
            &Columns::All,
            &sql::where_clause(&preds),
            &[&format!("{identity} AS __mx_row")],
        )?;
        let matched = crate::engine::store::filter::apply_filters(df, filters)?;
        let rows = matched.column("__mx_row")?.cast(&DataType::String)?;
        let identities: std::collections::BTreeSet<String> =
            rows.str()?.iter().flatten().map(str::to_string).collect();
        let ids: Vec<String> = identities.iter().map(|h| sql::ch_str(h)).collect();
        if !ids.is_empty() {
            preds.push(format!("{identity} IN ({})", ids.join(", ")));
        }
        Ok(RowSelection {
            table: table.to_string(),
            rows: matched.height(),
            identities: identities.len(),
            predicate: preds,
        })
    }

    /// Deletes the rows of `selection` (see [`ClickHouseStore::hard_delete_selection`]) with one lightweight
    /// `DELETE`; nothing is sent for an empty selection. Returns the selection's row count.
    ///
    /// Errors: [`EngineError::Write`] when ClickHouse refuses the statement (the table dropped meanwhile, a read-only
    /// user).
    pub fn delete_selection(&self, selection: &RowSelection) -> Result<usize> {
        if selection.rows == 0 {
            return Ok(0);
        }
        let qt = quote_ident(&selection.table);
        let query = format!(
            "DELETE FROM {qt}{}",
            sql::where_clause(&selection.predicate)
        );
        crate::engine::fault::point("clickhouse.before_commit");
        // one statement however many rows match: past the parser's 256 KiB default, lift the limit to the
        // statement's size (never below the default: a server or proxy may keep the setting for the session)
        const DEFAULT_MAX_QUERY_SIZE: usize = 262_144;
        let settings: Vec<(&str, String)> = if query.len() + 1024 > DEFAULT_MAX_QUERY_SIZE {
            vec![("max_query_size", (query.len() + 1024).to_string())]
        } else {
            vec![]
        };
        block_on(self.conn.request(&query, None, &settings))
            .map_err(|e| self.write_err(&selection.table, e.message))?;
        Ok(selection.rows)
    }

    /// The first phase of a filtered hard delete of `key`'s rows (of `feature_version` when given) that match
    /// `filters` (Metaxy's `filters=`, SQL WHERE fragments): what [`ClickHouseStore::delete_selection`] then
    /// removes. `delete_rows` with filters is these two calls; split, a caller can count, confirm, then delete
    /// exactly the rows it counted, even if ClickHouse merged the table's parts in between.
    ///
    /// Errors: [`EngineError::FeatureNotFound`] without a table; [`EngineError::BadFilter`] for a filter
    /// that does not parse or evaluate; ClickHouse errors as read errors.
    pub fn hard_delete_selection(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<RowSelection> {
        let (table, cols) = self.feature_columns(key)?;
        let preds: Vec<String> = sql::version_pred(&cols, feature_version)
            .into_iter()
            .collect();
        self.select_rows(&table, &cols, preds, filters)
    }
}

/// Rows of one ClickHouse table picked for a hard delete by [`ClickHouseStore::hard_delete_selection`]: the
/// version predicate plus `identity IN (...)` of the matching rows ([`row_identity`]).
#[derive(Debug, Clone)]
pub struct RowSelection {
    /// The feature's table.
    pub table: String,
    /// How many rows matched when selected.
    pub rows: usize,
    /// How many distinct row identities they have (rows identical in every column share one).
    pub identities: usize,
    predicate: Vec<String>,
}

/// The identity of a row of a table with columns `cols`: `hex(sipHash128(toString(tuple(<every column>))))`, 32
/// hex digits. The text form keeps NULL apart from an empty string and covers every type Metaxy writes (Map,
/// Tuple, DateTime64); equal identities mean rows equal in every column (up to a 128-bit hash collision).
pub(super) fn row_identity(cols: &[ChColumn]) -> String {
    let names: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
    format!("hex(sipHash128(toString(tuple({}))))", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_types_are_metaxys() {
        let st = DataType::Struct(vec![Field::new("audio".into(), DataType::String)]);
        assert_eq!(
            ddl_type("metaxy_provenance_by_field", &st, false),
            "Tuple(`audio` Nullable(String))"
        );
        assert_eq!(
            ddl_type("metaxy_provenance_by_field", &st, true),
            "Map(String, String)"
        );
        assert_eq!(
            ddl_type(
                "t",
                &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
                false
            ),
            "Nullable(DateTime64(6, 'UTC'))"
        );
        assert_eq!(ddl_type("n", &DataType::Int64, false), "Nullable(Int64)");
    }

    #[test]
    fn structs_become_maps_without_null_entries() {
        let s = StructChunked::from_series(
            "m".into(),
            2,
            [
                Series::new("a".into(), [Some("1"), None]),
                Series::new("b".into(), [Some("2"), Some("3")]),
            ]
            .iter(),
        )
        .unwrap()
        .into_series();
        let a = struct_to_map(&s).unwrap();
        let m = a.as_any().downcast_ref::<arrow::array::MapArray>().unwrap();
        assert_eq!(m.value_offsets(), &[0, 2, 3]);
    }
}
