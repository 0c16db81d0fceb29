//! Connecting to PostgreSQL the way Metaxy's `PostgreSQLMetadataStore` does: `connection_string` (an Ibis /
//! libpq URL, `postgresql://user:password@host:port/database`) or `connection_params` (Ibis `postgres.connect`
//! keys `host`, `port` (5432), `database`, `user`, `password`, `schema`), plus the store's display string and
//! location with credentials masked (Metaxy's `sanitize_uri`).

use std::str::FromStr;
use std::sync::Arc;

use tokio_postgres::{Client, NoTls};

use crate::engine::config::StoreConfig;
use crate::engine::error::{EngineError, Result};

use super::tls::{client_config, TlsOptions, TlsPolicy};

/// Where and how to connect, parsed from a store's config.
#[derive(Clone)]
pub struct ConnSpec {
    /// The libpq configuration.
    pub config: tokio_postgres::Config,
    /// `connection_string` as configured (`None` with `connection_params`).
    pub connection_string: Option<String>,
    /// `connection_params.schema` (tables live in this schema; default the connection's `current_schema()`).
    pub schema: Option<String>,
    /// TLS as libpq's `sslmode` / `sslrootcert` ask for ([`super::tls`]); `None`: plain TCP (`sslmode=disable`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Re-exported: the masking is shared by the URL-configured backends.
pub use crate::engine::store::common::sanitize_uri;

/// Applies the TLS options to `config` (its `sslmode`) and builds the rustls configuration they need (`None` for
/// `sslmode=disable`).
///
/// Errors: [`EngineError::StoreOpen`] for a bad `sslmode`, client certificates, or an unusable `sslrootcert`.
fn tls_setup(
    cfg: &StoreConfig,
    location: &str,
    opts: &TlsOptions,
    config: &mut tokio_postgres::Config,
) -> Result<Option<Arc<rustls::ClientConfig>>> {
    let (policy, mode) = opts.policy().map_err(|m| open_err(cfg, location, m))?;
    config.ssl_mode(mode);
    if policy == TlsPolicy::Disable {
        return Ok(None);
    }
    let tls = client_config(&policy).map_err(|m| open_err(cfg, location, m))?;
    Ok(Some(Arc::new(tls)))
}

fn open_err(cfg: &StoreConfig, location: &str, m: impl Into<String>) -> EngineError {
    EngineError::StoreOpen {
        store: cfg.name.clone(),
        location: location.to_string(),
        message: m.into(),
    }
}

impl ConnSpec {
    /// Reads `connection_string` / `connection_params` of `cfg`.
    ///
    /// Errors: [`EngineError::StoreOpen`] when neither is given (Metaxy: "Must provide either connection_string or
    /// connection_params for PostgreSQL") or the string is not a PostgreSQL URL / key-value string.
    pub fn from_config(cfg: &StoreConfig) -> Result<Self> {
        let s = cfg
            .config
            .get("connection_string")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let params = cfg
            .config
            .get("connection_params")
            .and_then(|v| v.as_object())
            .cloned();
        if let Some(s) = s {
            // SQLAlchemy-style driver suffixes (`postgresql+psycopg://`) are not libpq's
            let libpq = match s.split_once("://") {
                Some((scheme, rest)) if scheme.starts_with("postgres") => {
                    format!("postgresql://{rest}")
                }
                _ => s.clone(),
            };
            let (libpq, tls_opts) = TlsOptions::take_from_url(&libpq);
            let mut config = tokio_postgres::Config::from_str(&libpq).map_err(|e| {
                open_err(
                    cfg,
                    &sanitize_uri(&s),
                    format!("bad connection_string: {e}"),
                )
            })?;
            let tls = tls_setup(cfg, &sanitize_uri(&s), &tls_opts, &mut config)?;
            let schema = params
                .as_ref()
                .and_then(|p| p.get("schema"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            return Ok(Self {
                config,
                connection_string: Some(s),
                schema,
                tls,
            });
        }
        let Some(p) = params else {
            return Err(open_err(
                cfg,
                "postgres",
                "Must provide either connection_string or connection_params for PostgreSQL",
            ));
        };
        let text = |k: &str| {
            p.get(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let mut config = tokio_postgres::Config::new();
        config.host(text("host").as_deref().unwrap_or("localhost"));
        let port = text("port").unwrap_or_else(|| "5432".into());
        config.port(port.parse().map_err(|_| {
            open_err(
                cfg,
                "postgres",
                format!("bad connection_params.port {port:?}"),
            )
        })?);
        if let Some(u) = text("user") {
            config.user(&u);
        }
        if let Some(pw) = text("password") {
            config.password(pw);
        }
        if let Some(db) = text("database") {
            config.dbname(&db);
        }
        let tls_opts = TlsOptions {
            sslmode: text("sslmode"),
            sslrootcert: text("sslrootcert"),
            client_cert: text("sslcert").is_some() || text("sslkey").is_some(),
        };
        let tls = tls_setup(cfg, "postgres", &tls_opts, &mut config)?;
        Ok(Self {
            config,
            connection_string: None,
            schema: text("schema"),
            tls,
        })
    }

    /// Metaxy's `display()`: `PostgreSQLMetadataStore(backend=<sanitized connection string>)`, or
    /// `backend=postgres` with `connection_params`.
    pub fn display(&self) -> String {
        let info = match &self.connection_string {
            Some(s) => sanitize_uri(s),
            None => "postgres".to_string(),
        };
        format!("PostgreSQLMetadataStore(backend={info})")
    }

    /// Where the store is, for people: the sanitized connection string, or `postgres://host:port/db`.
    pub fn location(&self) -> String {
        if let Some(s) = &self.connection_string {
            return sanitize_uri(s);
        }
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "postgres://{host}:{port}/{}",
            self.config.get_dbname().unwrap_or("")
        )
    }

    /// Opens a connection (its driver task runs on the engine's runtime) and prepares the session: UTC, standard
    /// strings, no synchronized sequential scans (a plain scan then returns rows in storage order, which Metaxy's
    /// latest-row tie-break relies on), and the configured schema first on the search path.
    ///
    /// Errors: the driver's message (server unreachable, authentication, unknown database).
    pub async fn connect(&self) -> std::result::Result<Client, tokio_postgres::Error> {
        let client = match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
            Some(tls) => {
                let make = tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone());
                let (client, connection) = self.config.connect(make).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
        };
        let mut setup = String::from(
            "SET TIME ZONE 'UTC'; SET standard_conforming_strings = on; SET synchronize_seqscans = off;",
        );
        if let Some(s) = &self.schema {
            setup.push_str(&format!(
                " SET search_path TO {}, public;",
                super::sql::quote_ident(s)
            ));
        }
        client.batch_execute(&setup).await?;
        Ok(client)
    }
}

/// A driver error as one line: the server's message (with its detail) when there is one.
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut m = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                m.push_str(&format!(": {s}"));
                src = s.source();
            }
            m
        }
    }
}

/// Most read connections a [`ReadPool`] opens (the store's own included).
pub const MAX_READERS: usize = 4;

/// The read connections of a store: its own, opened with the store, plus up to [`MAX_READERS`]` - 1` more opened
/// when scans run at the same time (an increment reads the feature and each upstream concurrently). PostgreSQL
/// serves one statement at a time per connection, so concurrent scans on one connection would run one after
/// another; on their own connections the server runs them in parallel.
pub struct ReadPool {
    spec: ConnSpec,
    own: Client,
    own_busy: std::sync::atomic::AtomicBool,
    idle: std::sync::Mutex<Vec<Client>>,
    /// Extra connections opened and not closed (idle or in use).
    extra: std::sync::atomic::AtomicUsize,
}

impl ReadPool {
    /// A pool around the store's connection `own` (opened from `spec`).
    pub fn new(spec: ConnSpec, own: Client) -> Self {
        Self {
            spec,
            own,
            own_busy: Default::default(),
            idle: Default::default(),
            extra: Default::default(),
        }
    }

    /// The store's own connection, for short queries (catalog lookups, counts).
    pub fn own(&self) -> &Client {
        &self.own
    }

    /// Runs `f` (which blocks on its query) on a free connection: the store's own when no other scan holds it,
    /// else an idle extra one, else a new one while fewer than [`MAX_READERS`] are open; past that (or when a new
    /// connection cannot be opened) on the store's own, where tokio-postgres queues the request.
    pub fn with<T>(&self, f: impl FnOnce(&Client) -> T) -> T {
        use std::sync::atomic::Ordering;
        if !self.own_busy.swap(true, Ordering::AcqRel) {
            struct Release<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Release<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::Release);
                }
            }
            let _release = Release(&self.own_busy);
            return f(&self.own);
        }
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let client = idle.or_else(|| {
            if self.extra.fetch_add(1, Ordering::AcqRel) + 1 < MAX_READERS {
                if let Ok(c) = crate::engine::rt::block_on(self.spec.connect()) {
                    return Some(c);
                }
            }
            self.extra.fetch_sub(1, Ordering::AcqRel);
            None
        });
        let Some(client) = client else {
            return f(&self.own);
        };
        let out = f(&client);
        match client.is_closed() {
            true => {
                self.extra.fetch_sub(1, Ordering::AcqRel);
            }
            false => {
                if let Ok(mut v) = self.idle.lock() {
                    v.push(client);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_like_metaxy() {
        assert_eq!(
            sanitize_uri("postgresql://postgres@127.0.0.1:55432/metaxy"),
            "postgresql://***:@127.0.0.1:55432/metaxy"
        );
        assert_eq!(
            sanitize_uri("postgresql://u:p@h:5432/db"),
            "postgresql://***:***@h:5432/db"
        );
        assert_eq!(sanitize_uri("postgresql://h/db"), "postgresql://h/db");
    }
}
