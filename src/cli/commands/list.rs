//! `list features` (the features of the current graph, optionally with their fields) and `list stores` (the
//! configured stores with Metaxy's columns plus type, location and hash algorithm).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{json, Value};

use crate::cli::args::{Cli, Format, ListCommand};
use crate::cli::context::{load_config, open};
use crate::cli::output::table::{render_rich, rich_table, table};
use crate::cli::output::{out, out_json, warn_mismatches};
use crate::engine::config::{StoreConfig, StoreKind};
use crate::engine::workspace::Workspace;

/// Runs a `list ...` command.
pub fn run(cli: &Cli, cmd: &ListCommand) -> Result<ExitCode> {
    match cmd {
        ListCommand::Stores { format } => list_stores(cli, *format),
        ListCommand::Features { format, verbose } => {
            list_features(&open(cli, None)?, *format, *verbose)
        }
    }
}

/// `list features`: the current graph's features (key, version, source class, dependencies), with `--verbose`
/// one field table per feature (code version, version, parent fields).
fn list_features(ws: &Workspace, format: Format, verbose: bool) -> Result<ExitCode> {
    warn_mismatches(ws);
    let g = &ws.graph;
    if format == Format::Json {
        let features: Vec<Value> = g
            .features
            .iter()
            .zip(&g.versions)
            .map(|(f, v)| {
                let fields: Vec<Value> = f
                    .spec
                    .fields
                    .iter()
                    .zip(&v.field_versions)
                    .map(|(fs, (_, fv))| json!({"key": fs.key.to_string(), "code_version": fs.code_version, "version": fv}))
                    .collect();
                json!({
                    "key": f.spec.key.to_string(),
                    "version": v.feature_version,
                    "is_root": f.spec.is_root(),
                    "is_external": false,
                    "project": f.pushed.project,
                    "source": f.pushed.feature_class_path,
                    "field_count": fields.len(),
                    "fields": fields,
                })
            })
            .collect();
        out_json(&json!({"feature_count": features.len(), "features": features}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["Feature", "Version", "Source", "Dependencies"]);
    for (f, v) in g.features.iter().zip(&g.versions) {
        let deps: Vec<String> = f.spec.deps.iter().map(|d| d.feature.to_string()).collect();
        t.add_row(vec![
            f.spec.key.to_string(),
            v.feature_version.clone(),
            f.pushed.feature_class_path.clone(),
            if deps.is_empty() {
                "-".into()
            } else {
                deps.join(", ")
            },
        ]);
    }
    out(&format!("{} ({})", g.project, g.project_version))?;
    out(&t.to_string())?;
    if verbose {
        for (f, v) in g.features.iter().zip(&g.versions) {
            let mut ft = table(&["Field", "Code Version", "Version", "Dependencies"]);
            for (i, (fs, (_, fv))) in f.spec.fields.iter().zip(&v.field_versions).enumerate() {
                let parents = g.parent_fields(&f.spec.key, i).map(|p| {
                    p.iter()
                        .map(|(a, b)| format!("{a}.{b}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                ft.add_row(vec![
                    fs.key.to_string(),
                    fs.code_version.clone(),
                    fv.clone(),
                    parents.unwrap_or_else(|e| e.to_string()),
                ]);
            }
            out(&format!("\n{}", f.spec.key))?;
            out(&ft.to_string())?;
        }
    }
    let roots = g.features.iter().filter(|f| f.spec.is_root()).count();
    out(&format!(
        "\nTotal: {} feature(s) ({} root, {} dependent)",
        g.features.len(),
        roots,
        g.features.len() - roots
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Metaxy's `sanitize_uri`: credentials in a `scheme://user:password@host` URI become `***`.
fn sanitize_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    if scheme.is_empty() || scheme == "file" || scheme == "local" {
        return uri.to_string();
    }
    let netloc_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(netloc_end);
    let Some((credentials, host)) = netloc.rsplit_once('@') else {
        return uri.to_string();
    };
    let (user, password) = match credentials.split_once(':') {
        Some((u, p)) => (!u.is_empty(), !p.is_empty()),
        None => (!credentials.is_empty(), false),
    };
    if !user && !password {
        return uri.to_string();
    }
    let masked = format!(
        "{}:{}@",
        if user { "***" } else { "" },
        if password { "***" } else { "" }
    );
    format!("{scheme}://{masked}{host}{tail}")
}

/// Python's `Path(p).expanduser().resolve()` for a local store path: `~` expanded, relative paths joined to `cwd`,
/// symlinks resolved where the path exists, `.`/`..` removed lexically elsewhere.
fn resolve_path(p: &str, cwd: &Path) -> String {
    let expanded = match (p.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", home.to_string_lossy())
        }
        _ => p.to_string(),
    };
    let joined = cwd.join(expanded);
    if let Ok(c) = std::fs::canonicalize(&joined) {
        return c.display().to_string();
    }
    let mut out = std::path::PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Metaxy's `store.display()` for a configured store: `DuckDBMetadataStore(backend=duckdb)`,
/// `DeltaMetadataStore(path=<resolved root>)`, `LanceDBMetadataStore(path=<uri, credentials masked>)`.
fn store_info(s: &StoreConfig, cwd: &Path) -> String {
    let location = s.location().unwrap_or_default();
    match s.kind {
        StoreKind::DuckDb => format!("{}(backend=duckdb)", s.kind.display_name()),
        StoreKind::Delta | StoreKind::Iceberg => {
            let local = location.starts_with("file://")
                || location.starts_with("local://")
                || !location.contains("://");
            let root = if local {
                let stripped = location
                    .strip_prefix("file://")
                    .or_else(|| location.strip_prefix("local://"))
                    .unwrap_or(&location);
                resolve_path(stripped, cwd)
            } else {
                location.trim_end_matches('/').to_string()
            };
            let key = if s.kind == StoreKind::Delta {
                "path"
            } else {
                "warehouse"
            };
            format!("{}({key}={root})", s.kind.display_name())
        }
        StoreKind::LanceDb => format!(
            "{}(path={})",
            s.kind.display_name(),
            sanitize_uri(&location)
        ),
        StoreKind::Postgres => {
            use crate::engine::store::postgres::conn::ConnSpec;
            ConnSpec::from_config(s)
                .map(|c| c.display())
                .unwrap_or_else(|_| format!("{}(backend=postgres)", s.kind.display_name()))
        }
        StoreKind::ClickHouse => {
            use crate::engine::store::clickhouse::conn::ConnSpec;
            ConnSpec::from_config(s)
                .map(|c| c.display())
                .unwrap_or_else(|_| format!("{}(backend=clickhouse)", s.kind.display_name()))
        }
    }
}

/// `list stores`: every configured store (default first, then by name) with Metaxy's columns (name, info,
/// fallbacks) followed by the configured type, the location and the hash algorithm. Stores whose type this program
/// cannot open are listed too.
fn list_stores(cli: &Cli, format: Format) -> Result<ExitCode> {
    let (config, opts) = load_config(cli)?;
    struct Row {
        name: String,
        is_default: bool,
        info: String,
        fallbacks: Vec<String>,
        type_path: String,
        location: Option<String>,
        hash: Option<&'static str>,
    }
    let rows: Vec<Row> = config
        .store_summaries()
        .into_iter()
        .map(|st| match &st.config {
            Some(s) => Row {
                info: store_info(s, &opts.cwd),
                fallbacks: s.fallback_stores.clone(),
                location: s.location().ok(),
                hash: Some(s.hash_algorithm.as_str()),
                name: st.name,
                is_default: st.is_default,
                type_path: st.type_path,
            },
            None => Row {
                info: format!("{} (not supported by metaxy-tui)", st.class_name()),
                fallbacks: vec![],
                location: None,
                hash: None,
                name: st.name,
                is_default: st.is_default,
                type_path: st.type_path,
            },
        })
        .collect();
    if format == Format::Json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "is_default": r.is_default,
                    "info": r.info,
                    "fallbacks": r.fallbacks,
                    "type": r.type_path,
                    "location": r.location,
                    "hash_algorithm": r.hash,
                })
            })
            .collect();
        out_json(
            &json!({"default_store": config.store, "store_count": list.len(), "stores": list}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out("No stores configured.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = rich_table(&["Name", "Info", "Fallbacks", "Type", "Location", "Hash"]);
    for r in &rows {
        t.add_row(vec![
            if r.is_default {
                format!("{} (default)", r.name)
            } else {
                r.name.clone()
            },
            r.info.clone(),
            if r.fallbacks.is_empty() {
                "-".to_string()
            } else {
                r.fallbacks.join(", ")
            },
            r.type_path.clone(),
            r.location.clone().unwrap_or_else(|| "-".into()),
            r.hash.unwrap_or("-").to_string(),
        ]);
    }
    out(&render_rich(&t))?;
    out(&format!("\nTotal: {} store(s)", rows.len()))?;
    Ok(ExitCode::SUCCESS)
}
