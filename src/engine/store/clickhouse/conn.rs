//! Talking to ClickHouse the way Metaxy's `ClickHouseMetadataStore` does (Ibis -> clickhouse-connect, i.e. ClickHouse's
//! HTTP interface): where to connect from `connection_string` (`clickhouse://user:password@host:port/database`, with
//! `?secure=true` for TLS; `http://` / `https://` URLs too) or `connection_params` (`host`, `port`, `database`,
//! `user`, `password`, `secure`), and one HTTP request per statement.
//!
//! Credentials travel in the `X-ClickHouse-User` / `X-ClickHouse-Key` headers, never in a URL; the display string
//! and the location mask them (Metaxy's `sanitize_uri`), and [`ConnSpec`]'s `Debug` leaves the password out.

use std::time::Duration;

use crate::engine::config::StoreConfig;
use crate::engine::error::{EngineError, Result};
use crate::engine::store::common::sanitize_uri;

/// The settings every request carries: Arrow output a polars reader takes as is (strings as strings, no
/// dictionaries), column names winning over aliases (so `WHERE c` means the stored column even where the select
/// list rewrites `c`), and JSON output of 64-bit integers as numbers.
const SESSION_SETTINGS: [(&str, &str); 6] = [
    ("output_format_arrow_string_as_string", "1"),
    ("output_format_arrow_low_cardinality_as_dictionary", "0"),
    ("output_format_arrow_fixed_string_as_fixed_byte_array", "0"),
    ("prefer_column_name_to_alias", "1"),
    ("output_format_json_quote_64bit_integers", "0"),
    ("date_time_output_format", "iso"),
];

/// Where and how to connect, parsed from a store's config.
#[derive(Clone)]
pub struct ConnSpec {
    /// `http(s)://host:port`, no trailing slash.
    pub base_url: String,
    /// The database the tables live in (`default` when not given).
    pub database: String,
    /// Login user (`default` when not given).
    pub user: String,
    password: String,
    /// `connection_string` as configured (`None` with `connection_params`).
    pub connection_string: Option<String>,
}

impl std::fmt::Debug for ConnSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnSpec")
            .field("base_url", &self.base_url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

fn open_err(cfg: &StoreConfig, location: &str, m: impl Into<String>) -> EngineError {
    EngineError::StoreOpen {
        store: cfg.name.clone(),
        location: location.to_string(),
        message: m.into(),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn percent_decoded(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl ConnSpec {
    /// Reads `connection_string` / `connection_params` of `cfg` (the string wins, as in Ibis).
    ///
    /// Errors: [`EngineError::StoreOpen`] when neither is given (Metaxy: "Must provide either connection_string or
    /// connection_params") or the string is not a ClickHouse / HTTP URL.
    pub fn from_config(cfg: &StoreConfig) -> Result<Self> {
        let s = cfg
            .config
            .get("connection_string")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if let Some(s) = s {
            return Self::from_url(&s).map_err(|m| open_err(cfg, &sanitize_uri(&s), m));
        }
        let Some(p) = cfg
            .config
            .get("connection_params")
            .and_then(|v| v.as_object())
        else {
            return Err(open_err(
                cfg,
                "clickhouse",
                "Must provide either connection_string or connection_params. Example: connection_string='clickhouse://localhost:8443/default'",
            ));
        };
        let text = |k: &str| {
            p.get(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
        };
        let secure = text("secure").is_some_and(|v| truthy(&v));
        let host = text("host").unwrap_or_else(|| "localhost".into());
        let port = match text("port") {
            Some(p) => p.parse::<u16>().map_err(|_| {
                open_err(
                    cfg,
                    "clickhouse",
                    format!("bad connection_params.port {p:?}"),
                )
            })?,
            None if secure => 8443,
            None => 8123,
        };
        Ok(Self {
            base_url: format!("{}://{host}:{port}", if secure { "https" } else { "http" }),
            database: text("database").unwrap_or_else(|| "default".into()),
            user: text("user").unwrap_or_else(|| "default".into()),
            password: text("password").unwrap_or_default(),
            connection_string: None,
        })
    }

    /// Parses `clickhouse://[user[:password]@]host[:port]/database[?secure=true]` (also `clickhouse+http`,
    /// `clickhouse+https`, `http`, `https`); default port 8123 (8443 with TLS), database `default`.
    pub fn from_url(s: &str) -> std::result::Result<Self, String> {
        let u = url::Url::parse(s).map_err(|e| format!("bad connection_string: {e}"))?;
        let secure_param = u.query_pairs().any(|(k, v)| k == "secure" && truthy(&v));
        let secure = match u.scheme() {
            "clickhouse" | "clickhouse+http" | "http" => secure_param,
            "clickhouse+https" | "clickhouses" | "https" => true,
            other => {
                return Err(format!(
                "bad connection_string: scheme {other:?} is not clickhouse://, http:// or https://"
            ))
            }
        };
        let host = u
            .host_str()
            .ok_or("bad connection_string: no host")?
            .to_string();
        let port = u.port().unwrap_or(if secure { 8443 } else { 8123 });
        let db = u.path().trim_matches('/');
        let user = percent_decoded(u.username());
        Ok(Self {
            base_url: format!("{}://{host}:{port}", if secure { "https" } else { "http" }),
            database: if db.is_empty() {
                "default".into()
            } else {
                percent_decoded(db)
            },
            user: if user.is_empty() {
                "default".into()
            } else {
                user
            },
            password: u.password().map(percent_decoded).unwrap_or_default(),
            connection_string: Some(s.to_string()),
        })
    }

    /// Metaxy's `display()`: `ClickHouseMetadataStore(backend=<sanitized connection string>)`, or
    /// `backend=clickhouse` with `connection_params`.
    pub fn display(&self) -> String {
        let info = match &self.connection_string {
            Some(s) => sanitize_uri(s),
            None => "clickhouse".to_string(),
        };
        format!("ClickHouseMetadataStore(backend={info})")
    }

    /// Where the store is, for people: the sanitized connection string, or `http(s)://host:port/database`.
    pub fn location(&self) -> String {
        match &self.connection_string {
            Some(s) => sanitize_uri(s),
            None => format!("{}/{}", self.base_url, self.database),
        }
    }
}

/// A ClickHouse error answer: the server's exception code (`X-ClickHouse-Exception-Code`; 0 when the request did
/// not reach a server) and its message, one line.
#[derive(Debug, Clone)]
pub struct ChError {
    /// ClickHouse's error code (60 `UNKNOWN_TABLE`, 81 `UNKNOWN_DATABASE`, ...); 0 for transport errors.
    pub code: u32,
    /// The message without ClickHouse's `(version ...)` tail and stack traces.
    pub message: String,
}

impl std::fmt::Display for ChError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// ClickHouse's `UNKNOWN_TABLE` code.
pub const UNKNOWN_TABLE: u32 = 60;

fn one_line(body: &str) -> String {
    let first = body.trim().lines().next().unwrap_or("").trim();
    let first = match first.find(" (version ") {
        Some(i) => &first[..i],
        None => first,
    };
    first.chars().take(600).collect()
}

/// An HTTP connection pool to one ClickHouse server and database.
pub struct Conn {
    spec: ConnSpec,
    client: reqwest::Client,
}

impl Conn {
    /// A client for `spec` (no request is made).
    ///
    /// Errors: the TLS backend could not be initialised.
    pub fn new(spec: ConnSpec) -> std::result::Result<Self, ChError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ChError {
                code: 0,
                message: format!("HTTP client: {e}"),
            })?;
        Ok(Self { spec, client })
    }

    /// The connection's parameters.
    pub fn spec(&self) -> &ConnSpec {
        &self.spec
    }

    /// Runs `sql` (the statement text, in the body) and returns the response body. With `data`, `sql` travels in
    /// the `query` parameter and `data` is the body (`INSERT INTO t FORMAT ArrowStream` + the rows). `settings`
    /// are extra ClickHouse settings of this request.
    ///
    /// Errors: [`ChError`] with the server's code and message, or code 0 when the server cannot be reached.
    pub async fn request(
        &self,
        sql: &str,
        data: Option<Vec<u8>>,
        settings: &[(&str, String)],
    ) -> std::result::Result<bytes::Bytes, ChError> {
        let mut params: Vec<(&str, &str)> = vec![("database", self.spec.database.as_str())];
        params.extend(SESSION_SETTINGS.iter().copied());
        params.extend(settings.iter().map(|(k, v)| (*k, v.as_str())));
        let body = match data {
            Some(d) => {
                params.push(("query", sql));
                d
            }
            None => sql.as_bytes().to_vec(),
        };
        let url = format!("{}/", self.spec.base_url);
        let resp = self
            .client
            .post(&url)
            .query(&params)
            .header("X-ClickHouse-User", &self.spec.user)
            .header("X-ClickHouse-Key", &self.spec.password)
            .body(body)
            .send()
            .await
            .map_err(|e| ChError {
                code: 0,
                message: format!("cannot reach {}: {}", self.spec.base_url, transport(&e)),
            })?;
        let status = resp.status();
        let code = resp
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let bytes = resp.bytes().await.map_err(|e| ChError {
            code: 0,
            message: format!(
                "reading the answer of {}: {}",
                self.spec.base_url,
                transport(&e)
            ),
        })?;
        if !status.is_success() || code.is_some() {
            return Err(ChError {
                code: code.unwrap_or(0),
                message: one_line(&String::from_utf8_lossy(&bytes)),
            });
        }
        Ok(bytes)
    }
}

/// A transport error with its causes (connection refused, TLS, timeouts), without the request URL (long; it
/// holds no secret).
fn transport(e: &reqwest::Error) -> String {
    let s = e.to_string();
    let mut m = match s.find(" for url (") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        m.push_str(&format!(": {s}"));
        src = s.source();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_params_parse_like_ibis() {
        let c = ConnSpec::from_url("clickhouse://u:p%40ss@h:9000/db").unwrap();
        assert_eq!(c.base_url, "http://h:9000");
        assert_eq!((c.database.as_str(), c.user.as_str()), ("db", "u"));
        assert_eq!(c.password, "p@ss");
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(
            c.display(),
            "ClickHouseMetadataStore(backend=clickhouse://***:***@h:9000/db)"
        );
        let c = ConnSpec::from_url("clickhouse://h/db?secure=true").unwrap();
        assert_eq!(c.base_url, "https://h:8443");
        assert_eq!(c.user, "default");
        let c = ConnSpec::from_url("https://h").unwrap();
        assert_eq!(
            (c.base_url.as_str(), c.database.as_str()),
            ("https://h:8443", "default")
        );
        assert!(ConnSpec::from_url("postgresql://h/db").is_err());
        assert_eq!(
            one_line("Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE) (version 26.9.2.1)\n"),
            "Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE)"
        );
    }
}
