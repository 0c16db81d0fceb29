//! Command handlers: each maps a subcommand onto engine calls and renders plain or JSON output.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use serde_json::{json, Map, Value};

use std::path::Path;
use std::sync::Arc;

use crate::cli::output::{align_right, frame_table, render_rich, rich_table, table, table_title};
use crate::cli::render;
use crate::cli::{
    Cli, Command, ConfigCommand, ConfigFormat, DescribeCommand, DiffFormat, FeatureSelector,
    Format, GraphCommand, GraphDiffArgs, GraphDiffSubcommand, IncrementFilters, ListCommand,
    MetadataCommand, RenderFormat,
};
use crate::engine::config::{MetaxyConfig, StoreConfig, StoreKind};
use crate::engine::describe::describe_graph as describe_graph_metrics;
use crate::engine::graph::{snapshots, FeatureGraph};
use crate::engine::graph_diff::{diff_graphs, DiffStatus};
use crate::engine::json::df_to_json_rows;
use crate::engine::keys::FeatureKey;
use crate::engine::read::{cols, ReadOptions};
use crate::engine::resolve::{Increment, ResolveOptions};
use crate::engine::status::{status_document, FeatureStatus, StatusCategory};
use crate::engine::store::open_store;
use crate::engine::workspace::{OpenOptions, Workspace};

/// Writes `s` and a newline (when missing) to stdout.
pub(super) fn out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    if !s.ends_with('\n') {
        o.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes `v` as pretty JSON to stdout.
pub(super) fn out_json(v: &Value) -> Result<()> {
    out(&serde_json::to_string_pretty(v)?)
}

fn open(cli: &Cli, snapshot: Option<String>) -> Result<Workspace> {
    let mut opts = OpenOptions::from_process();
    opts.config_file = cli.config_file.clone();
    opts.store = cli.store.clone();
    opts.snapshot = snapshot;
    let ws = Workspace::open(&opts).context("cannot open the metadata store")?;
    if let Some(source) = &ws.graph_source {
        eprintln!(
            "note: store {:?} has no pushed feature graph; using the graph pushed to store {source:?}",
            ws.store.name()
        );
    }
    Ok(ws)
}

fn select(ws: &Workspace, sel: &FeatureSelector) -> Result<Vec<FeatureKey>> {
    select_keys(ws, sel, |k| ws.feature(k).map_err(anyhow::Error::from))
}

/// [`select`] for mutations: keys are only parsed; the engine's plan checks them (a feature of another project is
/// refused with its own error, `metaxy_tui::engine::mutate::check_project`).
fn select_for_write(ws: &Workspace, sel: &FeatureSelector) -> Result<Vec<FeatureKey>> {
    select_keys(ws, sel, |k| {
        FeatureKey::parse(k).map_err(anyhow::Error::from)
    })
}

fn select_keys(
    ws: &Workspace,
    sel: &FeatureSelector,
    key: impl Fn(&str) -> Result<FeatureKey>,
) -> Result<Vec<FeatureKey>> {
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
    sel.features.iter().map(|k| key(k)).collect()
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
        Command::Describe(DescribeCommand::Graph { snapshot, format }) => {
            describe_graph(&open(cli, None)?, snapshot.as_deref(), *format)
        }
        Command::Graph(GraphCommand::Render { format, snapshot }) => {
            graph_render(&open(cli, None)?, snapshot.as_deref(), *format)
        }
        Command::GraphDiff(c) => {
            let args = match &c.render {
                Some(GraphDiffSubcommand::Render(a)) => a,
                None => &c.args,
            };
            graph_diff(&open(cli, None)?, args)
        }
        Command::History { limit, format } => history(cli, *limit, *format),
        Command::Config(ConfigCommand::Print { format }) => config_print(cli, *format),
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
                ws.snapshot.as_deref(),
                *assert_in_sync,
                *format,
            )
        }
        Command::Metadata(MetadataCommand::Increment {
            feature,
            filters,
            limit,
            no_causes,
            samples,
            format,
        }) => {
            let ws = open(cli, None)?;
            let mut opts = resolve_opts(filters);
            if let Some(path) = samples {
                opts.samples = Some(crate::engine::samples::load_samples(path)?);
            }
            increment(&ws, feature, &opts, *limit, !*no_causes, *format)
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
                unsorted: false,
                filters: filters.clone(),
                columns: Default::default(),
            };
            read(&ws, feature, &opts, *limit, *format)
        }
        Command::Metadata(MetadataCommand::Write {
            feature,
            input,
            materialization_id,
            dry_run,
            format,
        }) => crate::cli::mutate::write(
            &open(cli, None)?,
            feature,
            input,
            materialization_id.clone(),
            *dry_run,
            *format,
        ),
        Command::Metadata(MetadataCommand::Delete {
            selector,
            filters,
            soft: _,
            hard,
            with_feature_history,
            with_sample_history,
            cascade,
            dry_run,
            yes,
            limit,
            format,
        }) => {
            let ws = open(cli, None)?;
            let keys = select_for_write(&ws, selector)?;
            crate::cli::mutate::delete(
                &ws,
                keys,
                filters,
                *hard,
                *with_feature_history,
                *with_sample_history,
                *cascade,
                *dry_run,
                *yes,
                *limit,
                *format,
            )
        }
        Command::Metadata(MetadataCommand::Rebase {
            feature,
            from_version,
            to_version,
            dry_run,
            format,
        }) => crate::cli::mutate::rebase(
            &open(cli, None)?,
            feature,
            from_version,
            to_version.as_deref(),
            *dry_run,
            *format,
        ),
        Command::Metadata(MetadataCommand::Copy {
            selector,
            from_store,
            to_store,
            filters,
            with_feature_history: _,
            no_with_feature_history,
            with_sample_history,
            dry_run,
            format,
        }) => {
            let mut opts = OpenOptions::from_process();
            opts.config_file = cli.config_file.clone();
            opts.store = Some(from_store.clone());
            let ws = Workspace::open(&opts).context("cannot open the source store")?;
            let keys = select_for_write(&ws, selector)?;
            crate::cli::mutate::copy(
                &ws,
                keys,
                to_store,
                filters,
                !*no_with_feature_history,
                *with_sample_history,
                *dry_run,
                *format,
            )
        }
    }
}

fn load_config(cli: &Cli) -> Result<(MetaxyConfig, OpenOptions)> {
    let opts = OpenOptions::from_process();
    let config = MetaxyConfig::load(cli.config_file.as_deref(), &opts.cwd, &opts.env)
        .context("cannot load the Metaxy config")?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok((config, opts))
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
        StoreKind::Delta => {
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
            format!("{}(path={root})", s.kind.display_name())
        }
        StoreKind::LanceDb => format!(
            "{}(path={})",
            s.kind.display_name(),
            sanitize_uri(&location)
        ),
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

/// `config print`: Metaxy's `config print` (TOML like `tomli_w`, or the JSON of `--format json`).
fn config_print(cli: &Cli, format: ConfigFormat) -> Result<ExitCode> {
    let (config, _) = load_config(cli)?;
    match format {
        ConfigFormat::Json => out(&config.to_print_json_string())?,
        ConfigFormat::Toml => out(&crate::cli::toml_w::dumps(&config.to_print_json()))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `history`: pushed project versions of the configured project (all projects without one) in the selected store,
/// newest first, like `metaxy history` (which prints the same table on stderr).
fn history(cli: &Cli, limit: Option<usize>, format: Format) -> Result<ExitCode> {
    let (config, opts) = load_config(cli)?;
    let store_config = config.store_config(cli.store.as_deref())?;
    let store = open_store(store_config, &opts.cwd).context("cannot open the metadata store")?;
    let rows = store.system_rows()?;
    let all = snapshots(&rows, config.project.as_deref());
    let shown = &all[..limit.unwrap_or(all.len()).min(all.len())];
    if format == Format::Json {
        let list: Vec<Value> = shown
            .iter()
            .map(|s| {
                json!({
                    "project_version": s.project_version,
                    "recorded_at": s.recorded_at,
                    "feature_count": s.feature_count,
                })
            })
            .collect();
        out_json(&json!({
            "project": config.project,
            "store": store.name(),
            "snapshot_count": list.len(),
            "snapshots": list,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        eprintln!("No graph snapshots recorded yet");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = rich_table(&["Project version", "Recorded At", "Feature Count"]);
    for s in shown {
        let when = chrono::DateTime::from_timestamp_micros(s.recorded_at_us)
            .map(|d| d.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| s.recorded_at.clone());
        t.add_row(vec![
            s.project_version.clone(),
            when,
            s.feature_count.to_string(),
        ]);
    }
    align_right(&mut t, &[2]);
    let text = render_rich(&t);
    out(&format!(
        "{}{text}\n\nTotal snapshots: {}",
        table_title("Graph Snapshot History", &text),
        shown.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The graph a `--snapshot` option denotes (the workspace's current graph without one).
fn graph_for(ws: &Workspace, snapshot: Option<&str>) -> Result<Arc<FeatureGraph>> {
    let graph = match snapshot {
        None => ws.graph.clone(),
        Some(r) => ws.graph_at(r)?,
    };
    warn_graph_mismatches(&graph);
    Ok(graph)
}

/// `describe graph`: Metaxy's metrics table (title, table, root and leaf features); the "Describing ..." line goes
/// to stderr.
fn describe_graph(ws: &Workspace, snapshot: Option<&str>, format: Format) -> Result<ExitCode> {
    let graph = graph_for(ws, snapshot)?;
    let project = ws.config.project.as_deref();
    let info = describe_graph_metrics(&graph, project);
    if format == Format::Json {
        out_json(&serde_json::to_value(&info)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match snapshot {
        None => eprintln!("Describing current feature graph..."),
        Some(s) => eprintln!("Describing feature graph snapshot: {s}"),
    }
    let mut title = format!("Graph Snapshot: {}", info.metaxy_project_version);
    if let Some(p) = project {
        title.push_str(&format!(" (Project: {p})"));
    }
    let mut t = rich_table(&["Metric", "Value"]);
    match (info.filtered_features, &info.filter_project) {
        (Some(n), Some(p)) if n < info.total_features => {
            t.add_row(vec![
                "Total Features".to_string(),
                info.total_features.to_string(),
            ]);
            t.add_row(vec![format!("Features in {p}"), n.to_string()]);
        }
        (Some(n), _) => {
            t.add_row(vec!["Total Features".to_string(), n.to_string()]);
        }
        (None, _) => {
            t.add_row(vec![
                "Total Features".to_string(),
                info.total_features.to_string(),
            ]);
        }
    }
    t.add_row(vec![
        "Graph Depth".to_string(),
        info.graph_depth.to_string(),
    ]);
    t.add_row(vec![
        "Root Features".to_string(),
        info.root_features.len().to_string(),
    ]);
    t.add_row(vec![
        "Leaf Features".to_string(),
        info.leaf_features.len().to_string(),
    ]);
    align_right(&mut t, &[1]);
    let table_text = render_rich(&t);
    let mut text = format!("{}{table_text}\n", table_title(&title, &table_text));
    if info.projects.len() > 1 {
        text.push_str("\nFeatures by Project:\n");
        for (p, n) in &info.projects {
            text.push_str(&format!("  • {p}: {n} features\n"));
        }
    }
    for (heading, list) in [
        ("Root Features", &info.root_features),
        ("Leaf Features", &info.leaf_features),
    ] {
        if list.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{heading}:\n"));
        for k in list.iter().take(10) {
            text.push_str(&format!("  • {k}\n"));
        }
        if list.len() > 10 {
            text.push_str(&format!("  ... and {} more\n", list.len() - 10));
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `graph render`: the graph (current or `--snapshot`) as a terminal tree, Mermaid, Graphviz DOT or JSON.
fn graph_render(ws: &Workspace, snapshot: Option<&str>, format: RenderFormat) -> Result<ExitCode> {
    let graph = graph_for(ws, snapshot)?;
    match format {
        RenderFormat::Terminal => out(&render::graph_terminal(&graph))?,
        RenderFormat::Mermaid => out(&render::graph_mermaid(&graph))?,
        RenderFormat::Graphviz => out(&render::graph_graphviz(&graph))?,
        RenderFormat::Json => out_json(&render::graph_json(&graph))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `graph-diff FROM [TO]`: Metaxy's merged view of two pushed graphs (plain, JSON or Mermaid).
fn graph_diff(ws: &Workspace, args: &GraphDiffArgs) -> Result<ExitCode> {
    let from_ref = args
        .from
        .as_deref()
        .context("FROM is required: a project version, `latest` or `current`")?;
    let from = ws
        .graph_at(from_ref)
        .with_context(|| format!("cannot load FROM graph {from_ref:?}"))?;
    let to = ws
        .graph_at(&args.to)
        .with_context(|| format!("cannot load TO graph {:?}", args.to))?;
    for g in [&from, &to] {
        warn_graph_mismatches(g);
    }
    let diff = diff_graphs(&from, &to);
    let count = |st: DiffStatus| diff.with_status(st).count();
    eprintln!(
        "{} → {}: {} added, {} removed, {} changed, {} unchanged",
        diff.from_project_version,
        diff.to_project_version,
        count(DiffStatus::Added),
        count(DiffStatus::Removed),
        count(DiffStatus::Changed),
        count(DiffStatus::Unchanged)
    );
    match args.format {
        DiffFormat::Plain => out(&render::diff_plain(&diff))?,
        DiffFormat::Json => out_json(&diff.to_metaxy_json())?,
        DiffFormat::Mermaid => out(&render::diff_mermaid(&diff))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_mismatches(ws: &Workspace) {
    warn_graph_mismatches(&ws.graph);
}

fn warn_graph_mismatches(graph: &FeatureGraph) {
    for m in graph.mismatches() {
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
    let opts = ResolveOptions {
        // counts only: the orphaned rows' user columns are never shown
        narrow_target: true,
        ..resolve_opts(filters)
    };
    let statuses: Vec<FeatureStatus> = keys
        .iter()
        .map(|k| {
            let _t = crate::engine::timing::span(|| format!("status {k}"));
            ws.status(k, &opts)
        })
        .collect();
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
    with_causes: bool,
    format: Format,
) -> Result<ExitCode> {
    let key = ws.feature(feature)?;
    let inc = ws.increment(&key, opts)?;
    // why each stale sample is stale (which upstream data versions changed); samples files bypass upstream, so
    // causes are only looked up for computed increments
    let causes = if with_causes && opts.samples.is_none() && inc.stale.height() > 0 {
        Some(crate::engine::cause::stale_causes(
            ws.store.as_ref(),
            &ws.graph,
            &inc,
            limit,
        )?)
    } else {
        None
    };
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
            "stale_causes": causes.as_ref().map(|c| json!({
                // causes are looked up for the stale rows shown (all of them without --limit)
                "samples_examined": c.len(),
                "summary": crate::engine::cause::summarize(c)
                    .into_iter()
                    .map(|(cause, count)| json!({"cause": cause, "count": count}))
                    .collect::<Vec<_>>(),
                "samples": c,
            })),
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
        if title == "Stale" {
            if let Some(c) = &causes {
                out(&format!("why: {}", crate::engine::cause::summary_line(c)))?;
                for sc in c {
                    out(&format!(
                        "  {}: {}",
                        sc.key.join(", "),
                        crate::engine::cause::cause_text(sc)
                    ))?;
                }
            }
        }
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
