//! The PostgreSQL metadata store (Metaxy 0.1.11's `metaxy.ext.postgresql.PostgreSQLMetadataStore`, alias
//! `metaxy.ext.metadata_stores.postgresql.PostgreSQLMetadataStore`; `../shared/metaxy/BACKENDS.md`).
//!
//! Layout as Metaxy creates it: one heap table per feature named `table_prefix + <key parts joined by "__">` in
//! the connection's schema, no keys or indexes, every column nullable; `*_by_field` columns `jsonb` (Metaxy also
//! reads `json` and `text` columns holding JSON objects), user struct columns JSON-encoded
//! (`auto_cast_struct_for_jsonb`), timestamps `timestamp(6) with time zone`, and the system table
//! `metaxy_system__feature_versions` all `character varying` with `recorded_at` a timestamp without zone.
//!
//! Reads are one binary `COPY (SELECT <needed columns> FROM t WHERE <feature version>) TO STDOUT` each; the
//! latest-row dedup and keyset pages run in PostgreSQL. Writes run in one transaction on a connection of their
//! own: the rows are `COPY`ed (binary) into a staging table and inserted from it; a hard delete is one `DELETE`.
//! Nothing is written unless [`MetadataStore::append`] / [`MetadataStore::delete_rows`] is called.

pub mod conn;
pub mod copy;
pub mod sql;
pub mod tls;
pub mod types;

use std::path::Path;

use futures::{SinkExt, StreamExt};
use polars::prelude::*;
use tokio_postgres::Client;

use self::conn::{pg_message, ConnSpec};
use self::sql::quote_ident;
use self::types::{PgColumn, PgType};
use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::{Columns, KeyRange, LatestScan, MetadataStore};

/// The class path Metaxy reports for this store (`resolved_from.type`: the defining module).
pub const CLASS_PATH: &str = "metaxy.ext.postgresql.metadata_store.PostgreSQLMetadataStore";

/// The columns Metaxy always decodes from JSON (`_METAXY_STRUCT_COLUMNS`).
const STRUCT_COLUMNS: [&str; 2] = ["metaxy_provenance_by_field", "metaxy_data_version_by_field"];

/// A PostgreSQL metadata store: read connections ([`conn::ReadPool`]: one opened with the store, more for
/// concurrent scans), write connections opened per write.
pub struct PostgresStore {
    name: String,
    spec: ConnSpec,
    table_prefix: String,
    hash_algorithm: HashAlgorithm,
    /// `auto_cast_struct_for_jsonb` (default true): user `json`/`jsonb` columns holding objects read as structs.
    auto_cast: bool,
    readers: conn::ReadPool,
}

impl PostgresStore {
    /// Connects to the store of `cfg`.
    ///
    /// Errors: [`EngineError::StoreOpen`] for a config without `connection_string` / `connection_params`, a server
    /// that cannot be reached or refuses the login, and hash algorithms Metaxy's Polars engine does not compute
    /// (`farmhash`).
    pub fn open(cfg: &StoreConfig, _cwd: &Path) -> Result<Self> {
        let spec = ConnSpec::from_config(cfg)?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: spec.location(),
            message: m,
        };
        if cfg.hash_algorithm == HashAlgorithm::Farmhash {
            return Err(err(
                "Hash algorithm 'farmhash' not supported. Supported algorithms: md5, sha256, wyhash, xxh3_64, xxhash32, xxhash64".into(),
            ));
        }
        let client = block_on(spec.connect()).map_err(|e| err(pg_message(&e)))?;
        let table_prefix = cfg
            .config
            .get("table_prefix")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let auto_cast = cfg
            .config
            .get("auto_cast_struct_for_jsonb")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        Ok(Self {
            name: cfg.name.clone(),
            table_prefix,
            hash_algorithm: cfg.hash_algorithm,
            auto_cast,
            readers: conn::ReadPool::new(spec.clone(), client),
            spec,
        })
    }

    fn read_err(&self, table: &str, e: &tokio_postgres::Error) -> EngineError {
        EngineError::CorruptTable {
            table: table.to_string(),
            message: format!("PostgreSQL ({}): {}", self.spec.location(), pg_message(e)),
        }
    }

    fn write_err(&self, table: &str, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            table: table.to_string(),
            store: self.name.clone(),
            message: m.to_string(),
        }
    }

    /// The columns of `table` (table order); `None` when the schema has no such table.
    async fn columns_of(
        client: &Client,
        table: &str,
    ) -> std::result::Result<Option<Vec<PgColumn>>, tokio_postgres::Error> {
        let rows = client
            .query(
                "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod)
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                 WHERE a.attrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE c.relname = $1 AND n.nspname = current_schema()
                                       AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
                   AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
                &[&table],
            )
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .map(|r| PgColumn {
                    name: r.get(0),
                    ty: PgType::from_typname(r.get::<_, &str>(1)),
                    sql_type: r.get(2),
                })
                .collect(),
        ))
    }

    fn columns(&self, table: &str) -> Result<Option<Vec<PgColumn>>> {
        block_on(Self::columns_of(self.readers.own(), table)).map_err(|e| self.read_err(table, &e))
    }

    /// Runs `COPY (<query>) TO STDOUT (FORMAT binary)` and decodes the stream (fields `fields`).
    async fn copy_out(
        client: &Client,
        query: &str,
        fields: &[(String, PgType)],
        table: &str,
    ) -> std::result::Result<Result<DataFrame>, tokio_postgres::Error> {
        let stream = client
            .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
            .await?;
        futures::pin_mut!(stream);
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(copy::decode(&buf, fields, table))
    }

    /// `SELECT <columns> FROM <from>` (table `table`, stored columns `cols`) as a frame, JSON objects decoded.
    fn select(
        &self,
        table: &str,
        cols: &[PgColumn],
        columns: &Columns,
        from: &str,
        tail: &str,
    ) -> Result<DataFrame> {
        let (exprs, fields) = sql::projection(cols, columns);
        if exprs.is_empty() {
            // nothing selected: still the right number of rows
            let n: i64 = block_on(
                self.readers
                    .own()
                    .query_one(&format!("SELECT count(*) FROM {from}{tail}"), &[]),
            )
            .map_err(|e| self.read_err(table, &e))?
            .get(0);
            return Ok(DataFrame::new(n as usize, vec![])?);
        }
        let query = format!("SELECT {} FROM {from}{tail}", exprs.join(", "));
        let _t = crate::engine::timing::span(|| format!("postgres-copy {table}"));
        let df = self
            .readers
            .with(|c| block_on(Self::copy_out(c, &query, &fields, table)))
            .map_err(|e| self.read_err(table, &e))??;
        self.decode_json(df, table, cols)
    }

    /// Metaxy's `_get_json_columns_for_struct` + `_parse_json_to_struct_columns`: `*_by_field` columns stored as
    /// json or text, and (with `auto_cast_struct_for_jsonb`) every json/jsonb column, become structs when all their
    /// values are JSON objects. A `*_by_field` column without any value (an empty read) becomes an all-null struct of
    /// the keys the table's rows use (Metaxy's `_cast_empty_system_struct_columns` takes the plan's fields).
    fn decode_json(&self, mut df: DataFrame, table: &str, cols: &[PgColumn]) -> Result<DataFrame> {
        for c in cols {
            let system = STRUCT_COLUMNS.contains(&c.name.as_str());
            let wanted = match c.ty {
                PgType::Json { .. } => self.auto_cast || system,
                PgType::Text => system,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let Ok(s) = df.column(&c.name) else { continue };
            let s = s.as_materialized_series();
            if let Some(decoded) = types::decode_json_objects(s) {
                df.with_column(decoded.into_column())?;
            } else if system && s.null_count() == s.len() {
                let keys = self.json_keys(table, &c.name);
                if !keys.is_empty() {
                    let fields = keys
                        .into_iter()
                        .map(|k| Field::new(k.into(), DataType::String))
                        .collect();
                    let empty =
                        Series::full_null(s.name().clone(), s.len(), &DataType::Struct(fields));
                    df.with_column(empty.into_column())?;
                }
            }
        }
        Ok(df)
    }

    /// The keys of the JSON objects in column `column` of `table` (a sample of its rows), in order of appearance;
    /// empty when there are none or they cannot be parsed.
    fn json_keys(&self, table: &str, column: &str) -> Vec<String> {
        let c = quote_ident(column);
        let q = format!(
            "SELECT k FROM (SELECT {c}::jsonb AS j FROM {t} WHERE {c} IS NOT NULL AND jsonb_typeof({c}::jsonb) = 'object' LIMIT 1000) s,
             jsonb_object_keys(s.j) WITH ORDINALITY AS x(k, i) GROUP BY k ORDER BY min(i), k",
            t = quote_ident(table)
        );
        block_on(self.readers.own().query(&q, &[]))
            .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
            .unwrap_or_default()
    }
}

impl MetadataStore for PostgresStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }
    fn display(&self) -> String {
        self.spec.display()
    }
    fn class_path(&self) -> &'static str {
        CLASS_PATH
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.spec.location()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        format!("{}{}", self.table_prefix, key.table_name())
    }
    /// Per table of the store (the current schema's tables starting with `table_prefix`): its oid (a dropped and
    /// re-created table gets a new one), the server's row counters (`pg_stat_user_tables`: inserted, updated and
    /// deleted tuples, aborted writes included) and its size on disk. PostgreSQL publishes a writer's counters
    /// when the writing session goes idle (within about a second) or ends, so a commit is noticed by the next
    /// poll after that. One catalog query, no table read. `None` when the query fails (the server is down: the
    /// next poll tries again) or the server does not track counts (`track_counts = off`).
    fn change_marker(&self) -> Option<String> {
        let q = "SELECT coalesce(string_agg(format('%s:%s:%s:%s:%s:%s', c.relname, c.oid, \
                 coalesce(s.n_tup_ins, -1), coalesce(s.n_tup_upd, -1), coalesce(s.n_tup_del, -1), \
                 pg_relation_size(c.oid)), ',' ORDER BY c.relname), ''), current_setting('track_counts') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
                 AND left(c.relname, length($1)) = $1";
        let row = block_on(self.readers.own().query_one(q, &[&self.table_prefix])).ok()?;
        let marker: String = row.try_get(0).ok()?;
        let tracked: String = row.try_get(1).ok()?;
        (tracked == "on").then_some(marker)
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.columns(&self.table_name(key))?.is_some())
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        let rows = block_on(self.readers.own().query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1",
            &[],
        ))
        .map_err(|e| self.read_err("pg_class", &e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let tail = sql::version_where(&cols, feature_version);
        self.select(&table, &cols, columns, &quote_ident(&table), &tail)
            .map(Some)
    }

    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        use crate::engine::store::filter::IdKind;
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let kind = |c: &str| -> Option<IdKind> {
            let col = cols.iter().find(|x| x.name == c)?;
            Some(match col.ty {
                PgType::Text => IdKind::Text,
                PgType::Int8 | PgType::Int4 | PgType::Int2 => IdKind::Integer,
                _ => IdKind::Other,
            })
        };
        let version = sql::version_where(&cols, feature_version);
        let glue = if version.is_empty() {
            " WHERE "
        } else {
            " AND "
        };
        let cond = if ids.columns.iter().any(|c| kind(c).is_none()) {
            "FALSE".to_string()
        } else {
            ids.sql(|c| kind(c).unwrap_or(IdKind::Other))
        };
        let tail = format!("{version}{glue}{cond}");
        self.select(&table, &cols, &columns, &quote_ident(&table), &tail)
            .map(Some)
    }

    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        use crate::engine::schema as cols;
        let table = self.table_name(key);
        let Some(tcols) = self.columns(&table)? else {
            return Ok(LatestScan::Missing);
        };
        let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
            .into_iter()
            .filter(|c| sql::has(&tcols, c))
            .collect();
        if id_columns.is_empty() || !id_columns.iter().all(|c| sql::has(&tcols, c)) || ts.is_empty()
        {
            return Ok(LatestScan::Unsupported);
        }
        let ids: Vec<String> = id_columns.iter().map(|c| quote_ident(c)).collect();
        let from = sql::latest_subquery(
            &quote_ident(&table),
            &sql::version_where(&tcols, feature_version),
            &ids,
            &ts,
        );
        self.select(&table, &tcols, columns, &from, "")
            .map(LatestScan::Rows)
    }

    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        let table = self.table_name(key);
        let Some(tcols) = self.columns(&table)? else {
            return Ok(LatestScan::Missing);
        };
        let ids = range.id_columns;
        if ids.is_empty() || !ids.iter().all(|c| sql::has(&tcols, c)) {
            return Ok(LatestScan::Unsupported);
        }
        let id_exprs: Vec<String> = ids.iter().map(|c| sql::id_expr(&tcols, c)).collect();
        let mut tail = sql::version_where(&tcols, feature_version);
        if let Some(b) = range.bound {
            let mut lits = vec![];
            for c in ids {
                let Some(l) = b
                    .column(c)
                    .ok()
                    .and_then(|s| s.get(0).ok())
                    .and_then(|v| sql::literal(&v))
                else {
                    return Ok(LatestScan::Unsupported);
                };
                lits.push(l);
            }
            tail.push_str(if tail.is_empty() { " WHERE " } else { " AND " });
            tail.push_str(&sql::keyset_bound(&id_exprs, &lits, range.descending));
        }
        let dir = if range.descending { "DESC" } else { "ASC" };
        let order: Vec<String> = id_exprs
            .iter()
            .map(|c| format!("{c} {dir}"))
            .chain([format!("ctid {dir}")])
            .collect();
        tail.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            order.join(", "),
            range.limit
        ));
        self.select(&table, &tcols, columns, &quote_ident(&table), &tail)
            .map(LatestScan::Rows)
    }

    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let v = crate::engine::schema::FEATURE_VERSION;
        if !sql::has(&cols, v) {
            return Ok(Some(vec![]));
        }
        let q = format!(
            "SELECT {c}::text, count(*) FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            c = quote_ident(v),
            t = quote_ident(&table)
        );
        let rows =
            block_on(self.readers.own().query(&q, &[])).map_err(|e| self.read_err(&table, &e))?;
        Ok(Some(
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as usize))
                .collect(),
        ))
    }

    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let table = self.table_name(key);
        block_on(self.append_async(key, &table, df))
    }

    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let table = self.table_name(key);
        if !self.has_feature(key)? {
            return Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table,
            });
        }
        block_on(self.delete_async(&table, feature_version, filters))
    }
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        block_on(self.drop_async(&self.table_name(key)))
    }
}

impl PostgresStore {
    /// [`MetadataStore::append`]: one transaction on a new connection; the table is created (Metaxy's DDL) when
    /// missing; rows go through a binary COPY into a staging table, then one `INSERT ... SELECT` with casts to the
    /// stored types (json/jsonb parse the JSON text there).
    async fn append_async(&self, key: &FeatureKey, table: &str, df: &DataFrame) -> Result<()> {
        let pg = |e: tokio_postgres::Error| self.write_err(table, pg_message(&e));
        let mut client = self.spec.connect().await.map_err(pg)?;
        let tx = client.transaction().await.map_err(pg)?;
        let qt = quote_ident(table);
        let existing = Self::columns_of(tx.client(), table).await.map_err(pg)?;
        let targets: Vec<PgColumn> = match existing {
            None => {
                let cols: Vec<PgColumn> = df
                    .columns()
                    .iter()
                    .map(|c| PgColumn {
                        name: c.name().to_string(),
                        ty: types::ddl_pg_type(c.dtype()),
                        sql_type: types::ddl_type(c.dtype()).to_string(),
                    })
                    .collect();
                let ddl: Vec<String> = cols
                    .iter()
                    .map(|c| format!("{} {}", quote_ident(&c.name), c.sql_type))
                    .collect();
                tx.batch_execute(&format!("CREATE TABLE {qt} ({})", ddl.join(", ")))
                    .await
                    .map_err(pg)?;
                cols
            }
            Some(existing) => {
                let mut cols = vec![];
                let mut unknown = vec![];
                for c in df.columns() {
                    match existing.iter().find(|e| e.name == c.name().as_str()) {
                        Some(e) => cols.push(e.clone()),
                        None => unknown.push(c.name().to_string()),
                    }
                }
                if !unknown.is_empty() {
                    return Err(EngineError::Schema {
                        feature: key.to_string(),
                        message: format!(
                            "table {table} has no column(s) {} (PostgreSQL tables are not migrated automatically)",
                            unknown.join(", ")
                        ),
                    });
                }
                cols
            }
        };
        let staged: Vec<(String, PgType)> = targets
            .iter()
            .map(|c| {
                let ty = match c.ty {
                    PgType::Json { .. } | PgType::Other => PgType::Text,
                    t => t,
                };
                (c.name.clone(), ty)
            })
            .collect();
        let stage_ddl: Vec<String> = targets
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    quote_ident(&c.name),
                    copy::staged_type(c.ty, &c.sql_type)
                )
            })
            .collect();
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE mx_stage ({}) ON COMMIT DROP",
            stage_ddl.join(", ")
        ))
        .await
        .map_err(pg)?;
        let names: Vec<String> = targets.iter().map(|c| quote_ident(&c.name)).collect();
        let bytes = copy::encode(df, &staged).map_err(|e| EngineError::Schema {
            feature: key.to_string(),
            message: format!("PostgreSQL table {table}: {e}"),
        })?;
        let sink = tx
            .copy_in(&format!(
                "COPY mx_stage ({}) FROM STDIN (FORMAT binary)",
                names.join(", ")
            ))
            .await
            .map_err(pg)?;
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(bytes)).await.map_err(pg)?;
        sink.as_mut().finish().await.map_err(pg)?;
        let casts: Vec<String> = targets
            .iter()
            .map(|c| format!("{}::{}", quote_ident(&c.name), c.sql_type))
            .collect();
        tx.batch_execute(&format!(
            "INSERT INTO {qt} ({}) SELECT {} FROM mx_stage",
            names.join(", "),
            casts.join(", ")
        ))
        .await
        .map_err(|e| EngineError::Schema {
            feature: key.to_string(),
            message: format!(
                "PostgreSQL refused the rows for {table}: {}",
                pg_message(&e)
            ),
        })?;
        crate::engine::fault::point("postgres.before_commit");
        tx.commit().await.map_err(pg)
    }

    /// [`MetadataStore::drop_feature`]: `DROP TABLE` of the table in the connection's current schema (Metaxy's Ibis
    /// `drop_table`), in one transaction on a new connection; `false` when there is no such table.
    async fn drop_async(&self, table: &str) -> Result<bool> {
        let pg = |e: tokio_postgres::Error| self.write_err(table, pg_message(&e));
        let mut client = self.spec.connect().await.map_err(pg)?;
        let tx = client.transaction().await.map_err(pg)?;
        if Self::columns_of(tx.client(), table)
            .await
            .map_err(pg)?
            .is_none()
        {
            return Ok(false);
        }
        tx.batch_execute(&format!("DROP TABLE {}", quote_ident(table)))
            .await
            .map_err(pg)?;
        crate::engine::fault::point("postgres.before_commit");
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    /// [`MetadataStore::delete_rows`]: in one transaction holding a lock that blocks other writers, the rows of
    /// the feature version are read with their `ctid`, the filters evaluated by the engine (as previews do), and
    /// the matching rows removed with one `DELETE ... WHERE ctid = ANY(...)`.
    async fn delete_async(
        &self,
        table: &str,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let pg = |e: tokio_postgres::Error| self.write_err(table, pg_message(&e));
        let mut client = self.spec.connect().await.map_err(pg)?;
        let tx = client.transaction().await.map_err(pg)?;
        let qt = quote_ident(table);
        tx.batch_execute(&format!("LOCK TABLE {qt} IN SHARE ROW EXCLUSIVE MODE"))
            .await
            .map_err(pg)?;
        let cols = Self::columns_of(tx.client(), table)
            .await
            .map_err(pg)?
            .unwrap_or_default();
        let (mut exprs, mut fields) = sql::projection(&cols, &Columns::All);
        exprs.push("ctid::text AS __mx_ctid".into());
        fields.push(("__mx_ctid".into(), PgType::Text));
        let query = format!(
            "SELECT {} FROM {qt}{}",
            exprs.join(", "),
            sql::version_where(&cols, feature_version)
        );
        let df = Self::copy_out(tx.client(), &query, &fields, table)
            .await
            .map_err(pg)??;
        let df = self.decode_json(df, table, &cols)?;
        let matched = crate::engine::store::filter::apply_filters(df, filters)?;
        if matched.height() == 0 {
            return Ok(0);
        }
        let ctids: Vec<String> = matched
            .column("__mx_ctid")?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect();
        let n = tx
            .execute(
                &format!("DELETE FROM {qt} WHERE ctid = ANY($1::text[]::tid[])"),
                &[&ctids],
            )
            .await
            .map_err(pg)?;
        crate::engine::fault::point("postgres.before_commit");
        tx.commit().await.map_err(pg)?;
        Ok(n as usize)
    }
}
