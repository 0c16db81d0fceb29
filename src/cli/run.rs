//! Command handlers: each maps a subcommand onto engine calls and renders plain or JSON output.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use serde_json::{json, Map, Value};

use crate::cli::output::{align_right, frame_table, table};
use crate::cli::{
    Cli, Command, DescribeCommand, FeatureSelector, Format, IncrementFilters, ListCommand,
    MetadataCommand,
};
use crate::engine::config::MetaxyConfig;
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::read::{cols, ReadOptions};
use crate::engine::resolve::{Increment, ResolveOptions};
use crate::engine::status::{status_document, FeatureStatus, StatusCategory};
use crate::engine::workspace::{OpenOptions, Workspace};

fn out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    if !s.ends_with('\n') {
        o.write_all(b"\n")?;
    }
    Ok(())
}

fn out_json(v: &Value) -> Result<()> {
    out(&serde_json::to_string_pretty(v)?)
}

fn open(cli: &Cli, snapshot: Option<String>) -> Result<Workspace> {
    let mut opts = OpenOptions::from_process();
    opts.config_file = cli.config_file.clone();
    opts.store = cli.store.clone();
    opts.snapshot = snapshot;
    Workspace::open(&opts).context("cannot open the metadata store")
}

fn select(ws: &Workspace, sel: &FeatureSelector) -> Result<Vec<FeatureKey>> {
    if sel.all_features {
        if !sel.features.is_empty() {
            bail!("give either feature keys or --all-features, not both");
        }
        return Ok(ws
            .graph
            .features
            .iter()
            .map(|f| f.spec.key.clone())
            .collect());
    }
    if sel.features.is_empty() {
        bail!("no features selected: pass feature keys (e.g. example/crop) or --all-features");
    }
    sel.features
        .iter()
        .map(|k| ws.feature(k).map_err(anyhow::Error::from))
        .collect()
}

/// Runs a headless command and returns the process exit code (0 ok, 1 error or out of sync).
pub fn execute(cli: &Cli) -> ExitCode {
    match execute_inner(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn execute_inner(cli: &Cli) -> Result<ExitCode> {
    let Some(cmd) = &cli.command else {
        bail!("no command given")
    };
    match cmd {
        Command::Demo => bail!("`demo` opens the TUI; run it in a terminal"),
        Command::List(ListCommand::Stores { format }) => list_stores(cli, *format),
        Command::List(ListCommand::Features { format, verbose }) => {
            list_features(&open(cli, None)?, *format, *verbose)
        }
        Command::Describe(DescribeCommand::Features { selector, format }) => {
            let ws = open(cli, None)?;
            describe_features(&ws, &select(&ws, selector)?, *format)
        }
        Command::Metadata(MetadataCommand::Status {
            selector,
            filters,
            snapshot,
            assert_in_sync,
            format,
        }) => {
            let ws = open(cli, snapshot.clone())?;
            status(
                &ws,
                &select(&ws, selector)?,
                filters,
                snapshot.as_deref(),
                *assert_in_sync,
                *format,
            )
        }
        Command::Metadata(MetadataCommand::Increment {
            feature,
            filters,
            limit,
            samples,
            format,
        }) => {
            let ws = open(cli, None)?;
            let mut opts = resolve_opts(filters);
            if let Some(path) = samples {
                opts.samples = Some(crate::engine::samples::load_samples(path)?);
            }
            increment(&ws, feature, &opts, *limit, *format)
        }
        Command::Metadata(MetadataCommand::Read {
            feature,
            filters,
            with_feature_history,
            with_sample_history,
            include_soft_deleted,
            limit,
            format,
        }) => {
            let ws = open(cli, None)?;
            let opts = ReadOptions {
                with_feature_history: *with_feature_history,
                with_sample_history: *with_sample_history,
                include_soft_deleted: *include_soft_deleted,
                feature_version: None,
                filters: filters.clone(),
            };
            read(&ws, feature, &opts, *limit, *format)
        }
    }
}

fn list_stores(cli: &Cli, format: Format) -> Result<ExitCode> {
    let opts = OpenOptions::from_process();
    let config = MetaxyConfig::load(cli.config_file.as_deref(), &opts.cwd, &opts.env)
        .context("cannot load the Metaxy config")?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let mut stores: Vec<_> = config.stores.iter().collect();
    stores.sort_by_key(|s| (s.name != config.store, s.name.clone()));
    if format == Format::Json {
        let list: Vec<Value> = stores
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "is_default": s.name == config.store,
                    "info": format!("{}(backend={})", s.kind.display_name(), backend_word(s.kind)),
                    "type": s.type_path,
                    "location": s.location().unwrap_or_default(),
                    "hash_algorithm": s.hash_algorithm.as_str(),
                    "fallbacks": s.fallback_stores,
                })
            })
            .collect();
        out_json(
            &json!({"default_store": config.store, "store_count": list.len(), "stores": list}),
        )?;
    } else {
        let mut t = table(&["Name", "Type", "Location", "Hash", "Fallbacks"]);
        for s in &stores {
            let name = if s.name == config.store {
                format!("{} (default)", s.name)
            } else {
                s.name.clone()
            };
            let fb = if s.fallback_stores.is_empty() {
                "-".to_string()
            } else {
                s.fallback_stores.join(", ")
            };
            t.add_row(vec![
                name,
                s.kind.display_name().to_string(),
                s.location().unwrap_or_default(),
                s.hash_algorithm.as_str().to_string(),
                fb,
            ]);
        }
        out(&t.to_string())?;
        out(&format!("\nTotal: {} store(s)", stores.len()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn backend_word(kind: crate::engine::config::StoreKind) -> &'static str {
    use crate::engine::config::StoreKind::*;
    match kind {
        DuckDb => "duckdb",
        Delta => "delta",
        LanceDb => "lancedb",
    }
}

fn warn_mismatches(ws: &Workspace) {
    for m in ws.graph.mismatches() {
        eprintln!(
            "warning: {} {}: stored {} but recomputed {}",
            m.feature, m.what, m.stored, m.computed
        );
    }
}

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

/// `describe features` data, the same dict Metaxy's `_collect_feature_data` builds.
fn feature_json(ws: &Workspace, key: &FeatureKey) -> Result<Value> {
    let g = &ws.graph;
    let f = g.require(key)?;
    let v = g.versions_of(key).context("versions missing")?;
    let mut fields = Vec::new();
    for (i, (fs, (_, fv))) in f.spec.fields.iter().zip(&v.field_versions).enumerate() {
        let mut m = Map::new();
        m.insert("key".into(), json!(fs.key.to_string()));
        m.insert("code_version".into(), json!(fs.code_version));
        m.insert("version".into(), json!(fv));
        if !f.spec.is_root() {
            let parents = g.parent_fields(key, i)?;
            let mut deps: Vec<(String, Vec<String>)> = Vec::new();
            for d in &f.spec.deps {
                let fl: Vec<String> = parents
                    .iter()
                    .filter(|(pk, _)| pk == &d.feature)
                    .map(|(_, pf)| pf.to_string())
                    .collect();
                if !fl.is_empty() {
                    deps.push((d.feature.to_string(), fl));
                }
            }
            if !deps.is_empty() {
                m.insert(
                    "deps".into(),
                    Value::Array(
                        deps.into_iter()
                            .map(|(k, fl)| json!({"feature": k, "fields": fl}))
                            .collect(),
                    ),
                );
            }
        }
        fields.push(Value::Object(m));
    }
    let deps: Vec<Value> = f
        .spec
        .deps
        .iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("feature".into(), json!(d.feature.to_string()));
            if let Some(s) = &d.select {
                m.insert("select".into(), json!(s));
            }
            if !d.rename.is_empty() {
                m.insert(
                    "rename".into(),
                    Value::Object(
                        d.rename
                            .iter()
                            .map(|(a, b)| (a.clone(), json!(b)))
                            .collect(),
                    ),
                );
            }
            if d.optional {
                m.insert("optional".into(), json!(true));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("project".into(), json!(f.pushed.project));
    m.insert("key".into(), json!(key.to_string()));
    m.insert("version".into(), json!(v.feature_version));
    m.insert("description".into(), json!(f.spec.description));
    m.insert("is_external".into(), json!(false));
    m.insert("source".into(), json!(f.pushed.feature_class_path));
    m.insert("id_columns".into(), json!(f.spec.id_columns));
    m.insert("fields".into(), Value::Array(fields));
    m.insert("dependencies".into(), Value::Array(deps));
    if f.spec.metadata.as_object().is_some_and(|o| !o.is_empty()) {
        m.insert("metadata".into(), f.spec.metadata.clone());
    }
    Ok(Value::Object(m))
}

fn describe_features(ws: &Workspace, keys: &[FeatureKey], format: Format) -> Result<ExitCode> {
    warn_mismatches(ws);
    let data: Vec<Value> = keys
        .iter()
        .map(|k| feature_json(ws, k))
        .collect::<Result<_>>()?;
    if format == Format::Json {
        if data.len() == 1 {
            out_json(&data[0])?;
        } else {
            out_json(&json!({"features": data}))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for (i, f) in data.iter().enumerate() {
        if i > 0 {
            text.push_str(&format!("\n{}\n\n", "─".repeat(60)));
        }
        let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
        text.push_str(&format!(
            "{} ({}) {}\nSource: {}\n",
            s("key"),
            s("version"),
            s("project"),
            s("source")
        ));
        if let Some(d) = f["description"].as_str() {
            text.push_str(&format!("\n  {}\n", d.trim()));
        }
        let ids: Vec<&str> = f["id_columns"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        text.push_str(&format!("\nID columns: {}\n\nFields:\n", ids.join(", ")));
        for fl in f["fields"].as_array().into_iter().flatten() {
            let mut line = format!(
                "  {} ({})",
                fl["key"].as_str().unwrap_or(""),
                fl["version"].as_str().unwrap_or("")
            );
            if let Some(deps) = fl["deps"].as_array() {
                let parts: Vec<String> = deps
                    .iter()
                    .map(|d| {
                        let fs: Vec<&str> = d["fields"]
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        format!(
                            "{}:({})",
                            d["feature"].as_str().unwrap_or(""),
                            fs.join(", ")
                        )
                    })
                    .collect();
                line.push_str(&format!(" ← {}", parts.join(", ")));
            }
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("\nDependencies:\n");
        let deps = f["dependencies"].as_array().cloned().unwrap_or_default();
        if deps.is_empty() {
            text.push_str("  none (root feature)\n");
        }
        for d in deps {
            let mut line = format!("  {}", d["feature"].as_str().unwrap_or(""));
            let mut opts = Vec::new();
            if let Some(sel) = d.get("select").and_then(Value::as_array) {
                let cols: Vec<&str> = sel.iter().filter_map(Value::as_str).collect();
                opts.push(if cols.is_empty() {
                    "select: none".to_string()
                } else {
                    format!("select: {}", cols.join(", "))
                });
            }
            if d.get("optional").is_some() {
                opts.push("optional".into());
            }
            if let Some(r) = d.get("rename").and_then(Value::as_object) {
                opts.push(format!(
                    "rename: {}",
                    r.iter()
                        .map(|(a, b)| format!("{a} → {}", b.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !opts.is_empty() {
                line.push_str(&format!(" | {}", opts.join(" | ")));
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn resolve_opts(f: &IncrementFilters) -> ResolveOptions {
    ResolveOptions {
        global_filters: f.global_filters.clone(),
        target_filters: f.filters.clone(),
        stale_if: f.stale_if.clone(),
        ..Default::default()
    }
}

fn status(
    ws: &Workspace,
    keys: &[FeatureKey],
    filters: &IncrementFilters,
    snapshot: Option<&str>,
    assert_in_sync: bool,
    format: Format,
) -> Result<ExitCode> {
    // bad filters are usage errors of the whole command, not per-feature errors
    for f in filters
        .filters
        .iter()
        .chain(&filters.global_filters)
        .chain(&filters.stale_if)
    {
        let _ = crate::engine::read::parse_filter(f)?;
    }
    let opts = resolve_opts(filters);
    let statuses: Vec<FeatureStatus> = keys.iter().map(|k| ws.status(k, &opts)).collect();
    let needs_update = statuses.iter().any(|s| s.needs_update);
    if format == Format::Json {
        out_json(&status_document(&statuses, snapshot))?;
    } else {
        warn_mismatches(ws);
        if let Some(s) = snapshot {
            out(&format!("Metadata status (snapshot {s})"))?;
        }
        let mut t = table(&[
            "Status",
            "Feature",
            "Materialized",
            "Missing",
            "Stale",
            "Orphaned",
            "Info",
        ]);
        for s in &statuses {
            let dash = |v: Option<usize>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            let info = match (&s.error_message, &s.store_metadata) {
                (Some(e), _) => e.clone(),
                (None, Some(m)) => match m.get("resolved_from") {
                    Some(r) => format!(
                        "{} → {}",
                        r["name"].as_str().unwrap_or(""),
                        r["table_name"]
                            .as_str()
                            .or_else(|| r["uri"].as_str())
                            .or_else(|| r["display"].as_str())
                            .unwrap_or("")
                    ),
                    None => format!("{} (no table)", m["name"].as_str().unwrap_or("")),
                },
                _ => String::new(),
            };
            let materialized = if s.status == StatusCategory::Error {
                "-".to_string()
            } else {
                s.store_rows.to_string()
            };
            t.add_row(vec![
                s.status.icon().to_string(),
                s.feature_key.to_string(),
                materialized,
                dash(s.missing),
                dash(s.stale),
                dash(s.orphaned),
                info,
            ]);
        }
        align_right(&mut t, &[2, 3, 4, 5]);
        out(&t.to_string())?;
        let errors = statuses
            .iter()
            .filter(|s| s.status == StatusCategory::Error)
            .count();
        if errors > 0 {
            eprintln!("warning: {errors} feature(s) had errors");
        }
    }
    if assert_in_sync && needs_update {
        eprintln!("metadata is out of sync");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of an increment row: id columns present in the frame, remaining join columns, then provenance.
fn increment_row_columns(inc: &Increment, df: &DataFrame) -> Vec<String> {
    let mut c: Vec<String> = inc
        .id_columns
        .iter()
        .filter(|x| df.get_column_index(x).is_some())
        .cloned()
        .collect();
    for j in &inc.join_columns {
        if !c.contains(j) {
            c.push(j.clone());
        }
    }
    c.push(cols::PROVENANCE_BY_FIELD.into());
    c.push(cols::PROVENANCE.into());
    c
}

fn increment(
    ws: &Workspace,
    feature: &str,
    opts: &ResolveOptions,
    limit: Option<usize>,
    format: Format,
) -> Result<ExitCode> {
    let key = ws.feature(feature)?;
    let inc = ws.increment(&key, opts)?;
    let lim = |df: &DataFrame| match limit {
        Some(n) => df.head(Some(n)),
        None => df.clone(),
    };
    if format == Format::Json {
        let rows = |df: &DataFrame| -> Result<Vec<Value>> {
            Ok(df_to_json_rows(
                &lim(df),
                Some(&increment_row_columns(&inc, df)),
            )?)
        };
        let v = json!({
            "feature": key.to_string(),
            "feature_version": inc.feature_version,
            "id_columns": inc.id_columns,
            "join_columns": inc.join_columns,
            "resolved_from": inc.upstream_sources.iter().map(|(k, s)| (k.clone(), json!(s))).collect::<serde_json::Map<String, Value>>(),
            "counts": {"new": inc.new.height(), "stale": inc.stale.height(), "orphaned": inc.orphaned.height()},
            "new": rows(&inc.new)?,
            "stale": rows(&inc.stale)?,
            "orphaned": rows(&inc.orphaned)?,
        });
        out_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    out(&format!(
        "{} ({}) in store {}: {} new, {} stale, {} orphaned",
        key,
        inc.feature_version,
        ws.store.name(),
        inc.new.height(),
        inc.stale.height(),
        inc.orphaned.height()
    ))?;
    for (title, df) in [
        ("New", &inc.new),
        ("Stale", &inc.stale),
        ("Orphaned", &inc.orphaned),
    ] {
        out(&format!("\n{title} ({})", df.height()))?;
        if df.height() == 0 {
            continue;
        }
        out(&increment_table(&inc, title, df, limit)?.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One plain increment table: key columns, one column per field, `metaxy_provenance`; the stale table shows
/// `stored → expected` where a hash changed (the engine's [`Increment::stale_diffs`]).
fn increment_table(
    inc: &Increment,
    title: &str,
    df: &DataFrame,
    limit: Option<usize>,
) -> Result<comfy_table::Table> {
    let mut headers = inc.key_columns(df);
    headers.extend(inc.field_keys.iter().cloned());
    headers.push(cols::PROVENANCE.into());
    let mut t = table(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
    let diff = |old: Option<&Option<String>>, new: &Option<String>| match old {
        Some(o) if o != new => format!("{} → {}", text(o), text(new)),
        _ => text(new),
    };
    if title == "Stale" {
        for d in inc.stale_diffs(limit)? {
            let mut row = d.expected.key.clone();
            for (i, new) in d.expected.fields.iter().enumerate() {
                row.push(diff(d.stored.as_ref().map(|s| &s.fields[i]), new));
            }
            row.push(diff(
                d.stored.as_ref().map(|s| &s.provenance),
                &d.expected.provenance,
            ));
            t.add_row(row);
        }
    } else {
        for p in inc.provenance_rows(df, limit)? {
            let mut row = p.key;
            row.extend(p.fields.iter().map(text));
            row.push(text(&p.provenance));
            t.add_row(row);
        }
    }
    Ok(t)
}

fn read(
    ws: &Workspace,
    feature: &str,
    opts: &ReadOptions,
    limit: Option<usize>,
    format: Format,
) -> Result<ExitCode> {
    let key = ws.feature(feature)?;
    let Some(df) = ws.read(&key, opts)? else {
        bail!(
            "no metadata for feature {key} in store {:?} (table {} does not exist)",
            ws.store.name(),
            ws.store.table_name(&key)
        );
    };
    let total = df.height();
    let shown = match limit {
        Some(n) => df.head(Some(n)),
        None => df,
    };
    let source = ws.store.resolved_from(&key);
    if format == Format::Json {
        let v = json!({
            "feature": key.to_string(),
            "feature_version": ws.graph.feature_version(&key),
            "resolved_from": source,
            "count": total,
            "rows": df_to_json_rows(&shown, None)?,
        });
        out_json(&v)?;
    } else {
        out(&frame_table(&shown, None)?.to_string())?;
        let from = if source.name != ws.store.name() {
            format!(" (read from fallback store {:?})", source.name)
        } else {
            String::new()
        };
        out(&format!("{} of {} row(s){from}", shown.height(), total))?;
    }
    Ok(ExitCode::SUCCESS)
}
