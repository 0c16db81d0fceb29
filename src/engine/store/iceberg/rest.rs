//! An Iceberg REST catalog (`catalog_properties` with `type = "rest"`, pyiceberg's keys): reads, table creation and
//! drops through `iceberg-catalog-rest`; the store's own commits (one snapshot per write, built by [`super::write`])
//! posted as the REST API's `CommitTableRequest` (requirements + updates), which the server checks and applies
//! atomically, as pyiceberg's REST catalog commits.
//!
//! Secrets (`token`, `credential`, `header.*` values) are kept out of every error and of `Debug`.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::spec::{SnapshotReference, SnapshotRetention};
use iceberg::{CatalogBuilder, TableIdent, TableRequirement, TableUpdate};
use iceberg_catalog_rest::RestCatalogBuilder;

/// The `catalog_properties` keys of a REST catalog that metaxy-tui passes on (pyiceberg's names, the ones
/// `iceberg-catalog-rest` implements), besides `type`, `uri`, `warehouse` and `header.<name>`.
const PASSED_KEYS: &[&str] = &[
    "token",
    "credential",
    "prefix",
    "scope",
    "audience",
    "resource",
    "oauth2-server-uri",
];

/// A REST catalog: its base URI, optional warehouse, and the other properties (secrets among them).
#[derive(Clone, PartialEq, Eq)]
pub struct RestLocation {
    /// The catalog's base URI (`http(s)://host:port[/path]`, no trailing slash).
    pub uri: String,
    /// The `warehouse` property sent to the server (`GET /v1/config?warehouse=`), when given.
    pub warehouse: Option<String>,
    /// The catalog name (pyiceberg's `load_catalog` name: Metaxy's `catalog_name`).
    pub name: String,
    /// The other properties ([`PASSED_KEYS`], `header.*`), as strings.
    props: HashMap<String, String>,
}

impl std::fmt::Debug for RestLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<&String> = self.props.keys().collect();
        keys.sort();
        f.debug_struct("RestLocation")
            .field("uri", &self.uri)
            .field("warehouse", &self.warehouse)
            .field("name", &self.name)
            .field("keys", &keys)
            .finish()
    }
}

impl RestLocation {
    /// The REST catalog of `catalog_properties` (`type = "rest"`, or an `http(s)://` uri without a type).
    ///
    /// Errors (one line, naming the key, never its value): no `uri` or one that is not `http(s)://`, a key
    /// `iceberg-catalog-rest` does not implement (SigV4 signing, TLS client certificates, ...), a value that is
    /// not a string, number or boolean.
    pub fn from_props(
        name: &str,
        props: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        let mut uri = None;
        let mut warehouse = None;
        let mut passed = HashMap::new();
        for (k, v) in props {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
                _ => return Err(format!("REST catalog property {k:?} must be a string")),
            };
            match k.as_str() {
                "type" => {}
                "uri" => uri = Some(v),
                "warehouse" => warehouse = Some(v),
                k if PASSED_KEYS.contains(&k)
                    || k.strip_prefix("header.").is_some_and(|h| !h.is_empty()) =>
                {
                    passed.insert(k.to_string(), v);
                }
                k => {
                    return Err(format!(
                        "REST catalog property {k:?} is not supported by metaxy-tui (supported: uri, warehouse, \
                         {}, header.<name>)",
                        PASSED_KEYS.join(", ")
                    ))
                }
            }
        }
        let uri = uri.ok_or("a REST catalog needs catalog_properties.uri")?;
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(format!(
                "REST catalog uri {uri:?} must be an http:// or https:// URL"
            ));
        }
        Ok(Self {
            uri: uri.trim_end_matches('/').to_string(),
            warehouse,
            name: name.to_string(),
            props: passed,
        })
    }

    /// The crate's REST catalog (lazy: the server is first asked on the first call), over the local file IO.
    pub async fn connect(&self) -> Result<iceberg_catalog_rest::RestCatalog, String> {
        let mut props = self.props.clone();
        props.insert("uri".into(), self.uri.clone());
        if let Some(w) = &self.warehouse {
            props.insert("warehouse".into(), w.clone());
        }
        RestCatalogBuilder::default()
            .with_storage_factory(Arc::new(iceberg::io::LocalFsStorageFactory))
            .load(self.name.clone(), props)
            .await
            .map_err(|e| super::one_line(&e.to_string()))
    }

    /// Posts one commit of table `ident` (`POST /v1/{prefix}/namespaces/{ns}/tables/{table}`): `Ok(false)` when
    /// the server refuses a requirement (409: another writer committed first), `Ok(true)` when applied.
    ///
    /// Errors (one line): the server unreachable or answering another error (its status and `error.message`).
    pub async fn commit(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<bool, String> {
        let client = reqwest::Client::new();
        let headers = self.headers(&client).await?;
        let (uri, prefix) = self.resolved(&client, &headers).await?;
        let url = [
            uri.as_str(),
            "v1",
            prefix.as_deref().unwrap_or(""),
            "namespaces",
            &ident.namespace().to_url_string(),
            "tables",
            ident.name(),
        ]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/");
        let body = serde_json::json!({
            "identifier": ident,
            "requirements": requirements,
            "updates": updates,
        });
        let resp = client
            .post(&url)
            .headers(headers)
            .json(&body)
            .send()
            .await
            .map_err(|e| http_err(&e))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            409 => Ok(false),
            _ => Err(server_err("commit", resp).await),
        }
    }

    /// The request headers: JSON, `header.*`, and `Authorization: Bearer` with `token` or the token `credential`
    /// is exchanged for (OAuth2 client credentials at `oauth2-server-uri` or `{uri}/v1/oauth/tokens`), as the
    /// crate authenticates.
    async fn headers(
        &self,
        client: &reqwest::Client,
    ) -> Result<reqwest::header::HeaderMap, String> {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let mut h = HeaderMap::new();
        for (k, v) in &self.props {
            if let Some(name) = k.strip_prefix("header.") {
                let n = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("REST catalog property {k:?}: not a header name"))?;
                let v = HeaderValue::from_str(v)
                    .map_err(|_| format!("REST catalog property {k:?}: not a header value"))?;
                h.insert(n, v);
            }
        }
        let token = match (self.props.get("token"), self.props.get("credential")) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(c)) => Some(self.exchange(client, c).await?),
            (None, None) => None,
        };
        if let Some(t) = token {
            let v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| "REST catalog property \"token\": not a header value".to_string())?;
            h.insert(reqwest::header::AUTHORIZATION, v);
        }
        Ok(h)
    }

    async fn exchange(&self, client: &reqwest::Client, credential: &str) -> Result<String, String> {
        let url = self
            .props
            .get("oauth2-server-uri")
            .cloned()
            .unwrap_or_else(|| format!("{}/v1/oauth/tokens", self.uri));
        let (id, secret) = match credential.split_once(':') {
            Some((i, s)) => (Some(i), s),
            None => (None, credential),
        };
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_secret", secret.to_string()),
        ];
        if let Some(i) = id {
            form.push(("client_id", i.to_string()));
        }
        form.push((
            "scope",
            self.props.get("scope").cloned().unwrap_or("catalog".into()),
        ));
        for k in ["audience", "resource"] {
            if let Some(v) = self.props.get(k) {
                form.push((k, v.clone()));
            }
        }
        let resp = client
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| http_err(&e))?;
        if !resp.status().is_success() {
            return Err(server_err("token exchange", resp).await);
        }
        let v: serde_json::Value = resp.json().await.map_err(|e| http_err(&e))?;
        v.get("access_token")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| "REST catalog token exchange: no access_token in the answer".to_string())
    }

    /// The base URI and path prefix after the server's `GET /v1/config` (its `overrides` over the properties over
    /// its `defaults`, as the crate merges them).
    async fn resolved(
        &self,
        client: &reqwest::Client,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<(String, Option<String>), String> {
        let mut req = client
            .get(format!("{}/v1/config", self.uri))
            .headers(headers.clone());
        if let Some(w) = &self.warehouse {
            req = req.query(&[("warehouse", w)]);
        }
        let resp = req.send().await.map_err(|e| http_err(&e))?;
        if !resp.status().is_success() {
            return Err(server_err("config", resp).await);
        }
        let v: serde_json::Value = resp.json().await.map_err(|e| http_err(&e))?;
        let get = |section: &str, k: &str| {
            v.get(section)
                .and_then(|s| s.get(k))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        };
        let uri = get("overrides", "uri")
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| self.uri.clone());
        let prefix = get("overrides", "prefix")
            .or_else(|| self.props.get("prefix").cloned())
            .or_else(|| get("defaults", "prefix"));
        Ok((uri, prefix))
    }
}

/// The REST commit of one snapshot (what pyiceberg's REST catalog posts for an append / overwrite): the table is
/// still the one read (uuid) and its `main` branch still at `parent` (and, when the schema grows, the schema and
/// last column id still the ones read); updates: the new schema made current, the snapshot added, `main` moved.
pub(super) fn snapshot_commit(
    md: &iceberg::spec::TableMetadata,
    new_schema: Option<iceberg::spec::Schema>,
    snapshot: iceberg::spec::Snapshot,
    parent: Option<i64>,
) -> (Vec<iceberg::TableRequirement>, Vec<iceberg::TableUpdate>) {
    use iceberg::{TableRequirement as R, TableUpdate as U};
    let mut req = vec![
        R::UuidMatch { uuid: md.uuid() },
        R::RefSnapshotIdMatch {
            r#ref: "main".into(),
            snapshot_id: parent,
        },
    ];
    let mut upd = vec![];
    if let Some(schema) = new_schema {
        req.push(R::CurrentSchemaIdMatch {
            current_schema_id: md.current_schema_id(),
        });
        req.push(R::LastAssignedFieldIdMatch {
            last_assigned_field_id: md.last_column_id(),
        });
        upd.push(U::AddSchema { schema });
        upd.push(U::SetCurrentSchema { schema_id: -1 });
    }
    let snapshot_id = snapshot.snapshot_id();
    upd.push(U::AddSnapshot { snapshot });
    upd.push(U::SetSnapshotRef {
        ref_name: "main".into(),
        reference: SnapshotReference::new(snapshot_id, SnapshotRetention::branch(None, None, None)),
    });
    (req, upd)
}

/// One line for a transport error (the URL, never a header).
fn http_err(e: &reqwest::Error) -> String {
    super::one_line(&format!("REST catalog request failed: {e}"))
}

/// One line for an error answer: the step, the status and the server's `error.message`.
async fn server_err(step: &str, resp: reqwest::Response) -> String {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or(text);
    super::one_line(&format!("REST catalog {step}: HTTP {status}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_secrets_stay_out_of_debug() {
        let ok = serde_json::json!({"type": "rest", "uri": "http://h:1/", "token": "s3cr3t",
            "credential": "id:pw", "header.X-Tenant": "t", "prefix": "p"});
        let r = RestLocation::from_props("metaxy", ok.as_object().unwrap()).unwrap();
        assert_eq!(r.uri, "http://h:1");
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("s3cr3t") && !dbg.contains("pw"), "{dbg}");
        assert!(dbg.contains("token"), "{dbg}");
        let bad =
            serde_json::json!({"uri": "http://h", "rest.sigv4-enabled": "true", "token": "s3cr3t"});
        let e = RestLocation::from_props("m", bad.as_object().unwrap()).unwrap_err();
        assert!(e.contains("\"rest.sigv4-enabled\" is not supported"), "{e}");
        assert!(!e.contains("s3cr3t") && !e.contains('\n'), "{e}");
        let no_uri = serde_json::json!({"type": "rest"});
        assert!(RestLocation::from_props("m", no_uri.as_object().unwrap())
            .unwrap_err()
            .contains("uri"));
        let ftp = serde_json::json!({"type": "rest", "uri": "ftp://h"});
        assert!(RestLocation::from_props("m", ftp.as_object().unwrap()).is_err());
    }
}
