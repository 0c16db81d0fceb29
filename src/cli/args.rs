//! The clap definitions of headless mode: the top-level [`Cli`], the [`Command`] tree and the option groups shared
//! by several commands. Names, flags and defaults mirror Metaxy's CLI (`metaxy list features`, `metaxy metadata
//! status`, ...). Parsing only: no engine calls, apart from turning an option group into the engine's options
//! ([`IncrementFilters::resolve_options`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::versioning::resolve::ResolveOptions;

/// Top-level arguments: global `--config-file` / `--store` (as in Metaxy's CLI) and an optional command.
#[derive(Debug, Parser)]
#[command(
    name = "metaxy-tui",
    version = crate::VERSION_LINE,
    about = "Terminal UI and headless CLI for Metaxy metadata stores",
    long_about = "Inspect Metaxy metadata stores: the feature graph, metadata and increments (new / stale / orphaned samples).\n\nWithout a command, opens the terminal UI on the configured default store (or on an embedded demo store when no metaxy.toml is found)."
)]
pub struct Cli {
    /// Metaxy config file (otherwise METAXY_CONFIG, then metaxy.toml / pyproject.toml [tool.metaxy] discovered upwards from the working directory).
    #[arg(long, global = true, env = "METAXY_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// Metadata store name (defaults to the configured default store).
    #[arg(long, global = true, value_name = "NAME")]
    pub store: Option<String>,
    /// TUI only: key map and theme file (default: $METAXY_TUI_CONFIG, else ~/.config/metaxy-tui/config.toml when
    /// it exists; documented defaults in assets/tui-config.toml).
    #[arg(long, value_name = "PATH")]
    pub tui_config: Option<PathBuf>,
    /// TUI only: open a historical graph (a pushed project version, a unique prefix of one, `latest` or `current`).
    #[arg(long, value_name = "PROJECT_VERSION")]
    pub snapshot: Option<String>,
    /// Command (none = open the TUI).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Plain,
    /// JSON on stdout.
    Json,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the TUI on the embedded demo store (a real Metaxy DuckDB store with stale and orphaned samples).
    Demo,
    /// List features or stores.
    #[command(subcommand)]
    List(ListCommand),
    /// Describe features or the feature graph.
    #[command(subcommand)]
    Describe(DescribeCommand),
    /// Inspect metadata: status, increments, rows.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Render the feature graph.
    #[command(subcommand)]
    Graph(GraphCommand),
    /// Compare two pushed feature graphs (Metaxy `graph-diff render FROM TO`; `render` may be omitted).
    #[command(name = "graph-diff")]
    GraphDiff(GraphDiffCommand),
    /// Pushed feature graphs (project versions), newest first.
    History {
        /// Show at most N project versions.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: Format,
    },
    /// Show the resolved Metaxy configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run one read-only SQL query over the store: every feature is a view named by its key with Metaxy's read
    /// semantics (`"example/crop"`), `raw."example/crop"` holds every stored row and `increment."example/crop"` the
    /// increment (`kind`: new / stale / orphaned). Anything but a query (DDL, DML, COPY, ATTACH, INSTALL, PRAGMA,
    /// file-reading functions) is refused.
    Sql {
        /// The query, e.g. `SELECT count(*) FROM "example/crop"`.
        query: String,
        /// Output format (`parquet` needs `-o`; default: from the `-o` extension, else plain).
        #[arg(long, short = 'f', value_enum)]
        format: Option<SqlFormat>,
        /// Write the result to this file instead of stdout.
        #[arg(long = "output", short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Keep at most N result rows.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

/// Output formats of `sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    /// A table.
    Plain,
    /// A JSON array of row objects.
    Json,
    /// CSV with a header (struct and list values as JSON text).
    Csv,
    /// Parquet (with `-o FILE` only).
    Parquet,
}

/// `graph ...`
#[derive(Debug, Subcommand)]
pub enum GraphCommand {
    /// Render the feature graph: a tree in the terminal, or Mermaid, Graphviz DOT or JSON.
    Render {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: RenderFormat,
        /// Project version to render (`current`, `latest`, a project version or a unique prefix of one).
        #[arg(long, value_name = "PROJECT_VERSION")]
        snapshot: Option<String>,
    },
}

/// Output formats of `graph render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RenderFormat {
    /// A tree of features with versions, fields and dependencies (Metaxy's terminal rendering).
    #[default]
    #[value(alias = "plain")]
    Terminal,
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Graphviz,
    /// Nodes (features with versions, fields and field dependencies) and edges as JSON.
    Json,
}

/// `graph-diff [render] FROM [TO]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GraphDiffCommand {
    /// Metaxy spelling: `graph-diff render FROM [TO]`.
    #[command(subcommand)]
    pub render: Option<GraphDiffSubcommand>,
    /// Arguments of the short spelling `graph-diff FROM [TO]`.
    #[command(flatten)]
    pub args: GraphDiffArgs,
}

/// `graph-diff render ...` (the same arguments as `graph-diff ...`).
#[derive(Debug, Subcommand)]
pub enum GraphDiffSubcommand {
    /// Compare two pushed feature graphs.
    Render(GraphDiffArgs),
}

/// Arguments of `graph-diff`.
#[derive(Debug, Args, Clone)]
pub struct GraphDiffArgs {
    /// Older graph: `latest`, `current`, a project version or a unique prefix of one.
    #[arg(value_name = "FROM", required = true)]
    pub from: Option<String>,
    /// Newer graph (default: `current`, the newest pushed project version).
    #[arg(value_name = "TO", default_value = crate::engine::graph::snapshot::CURRENT)]
    pub to: String,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t)]
    pub format: DiffFormat,
}

/// Output formats of `graph-diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DiffFormat {
    /// Metaxy's merged view: every feature, with added / removed / changed features and fields marked.
    #[default]
    #[value(alias = "terminal")]
    Plain,
    /// Metaxy's JSON document (`nodes` with status, versions and field changes; `edges`).
    Json,
    /// A Mermaid flowchart with changed features highlighted.
    Mermaid,
}

/// `config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration (Metaxy `config print`).
    Print {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: ConfigFormat,
    },
}

/// Output formats of `config print`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ConfigFormat {
    /// TOML, as Metaxy prints it.
    #[default]
    #[value(alias = "plain")]
    Toml,
    /// JSON (the config model as Metaxy dumps it).
    Json,
}

/// `list ...`
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Features of the current feature graph (as pushed to the store).
    Features {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: Format,
        /// Also list fields with their versions and parent fields.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// Configured metadata stores.
    Stores {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: Format,
    },
}

/// Feature selection shared by commands (`KEY...` or `--all-features`).
#[derive(Debug, Args, Clone)]
pub struct FeatureSelector {
    /// Feature keys such as example/crop.
    #[arg(value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Select every feature of the graph.
    #[arg(long)]
    pub all_features: bool,
}

/// `describe ...`
#[derive(Debug, Subcommand)]
pub enum DescribeCommand {
    /// Feature definitions: versions, fields, field-level parents, dependencies.
    Features {
        #[command(flatten)]
        selector: FeatureSelector,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: Format,
    },
    /// Graph metrics: feature count, depth, root and leaf features.
    Graph {
        /// Project version to describe (`current`, `latest`, a project version or a unique prefix of one).
        #[arg(long, value_name = "PROJECT_VERSION")]
        snapshot: Option<String>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t)]
        format: Format,
    },
}

/// Filters shared by status and increment.
#[derive(Debug, Args, Clone, Default)]
pub struct IncrementFilters {
    /// SQL WHERE filter on the target feature's stored rows (repeatable).
    #[arg(long = "filter", value_name = "SQL")]
    pub filters: Vec<String>,
    /// SQL WHERE filter applied to every feature read, upstream and target (repeatable).
    #[arg(long = "global-filter", value_name = "SQL")]
    pub global_filters: Vec<String>,
    /// SQL predicate on stored rows that marks them stale even when provenance is unchanged (repeatable).
    #[arg(long = "stale-if", value_name = "SQL")]
    pub stale_if: Vec<String>,
}

impl IncrementFilters {
    /// The engine's [`ResolveOptions`] for these filters (everything else at its default).
    pub fn resolve_options(&self) -> ResolveOptions {
        ResolveOptions {
            global_filters: self.global_filters.clone(),
            target_filters: self.filters.clone(),
            stale_if: self.stale_if.clone(),
            ..Default::default()
        }
    }
}

/// `metadata ...`
#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Completeness and freshness of features (Metaxy `metadata status`).
    Status {
        #[command(flatten)]
        selector: FeatureSelector,
        #[command(flatten)]
        filters: IncrementFilters,
        /// Check against a historical project version instead of the current graph.
        #[arg(long = "snapshot-id", value_name = "PROJECT_VERSION")]
        snapshot: Option<String>,
        /// Exit with code 1 if any feature needs an update.
        #[arg(long)]
        assert_in_sync: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The full increment of a feature: new, stale and orphaned samples with their provenance.
    Increment {
        /// Feature key.
        feature: String,
        #[command(flatten)]
        filters: IncrementFilters,
        /// Show at most N rows per category (counts stay exact; stale causes are looked up for the shown rows).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Do not look up why stale samples are stale (reads the upstream features' history).
        #[arg(long)]
        no_causes: bool,
        /// Samples file (parquet, csv or ndjson) with the id columns and `metaxy_provenance_by_field`, used as the
        /// expected rows instead of upstream (required for root features; CSV spells fields as
        /// `metaxy_provenance_by_field.<field>` columns).
        #[arg(long, value_name = "FILE")]
        samples: Option<std::path::PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Where samples are in every feature of the graph: their state (up to date, stale and why, new, orphaned,
    /// soft-deleted, not stored, absent), current row and, optionally, every stored row.
    Lookup {
        /// One sample: `column=value`, or a composite id `column=value,column=value` (repeatable: several
        /// samples, each naming the same columns).
        #[arg(long = "id", value_name = "COLUMN=VALUE", required = true)]
        ids: Vec<String>,
        /// Also list every stored row of each sample (all feature versions, history and soft deletions).
        #[arg(long)]
        with_sample_history: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Append rows from a file (parquet, csv or ndjson) to a feature, system columns filled as Metaxy's
    /// `write()` does (provenance from `metaxy_provenance_by_field`, data versions, current feature and project
    /// versions, one transaction timestamp).
    Write {
        /// Feature key.
        feature: String,
        /// Input file: `.parquet`, `.csv` (struct fields as `metaxy_provenance_by_field.<field>` columns) or
        /// `.ndjson`.
        #[arg(long, short = 'i', value_name = "FILE")]
        input: std::path::PathBuf,
        /// `metaxy_materialization_id` of every written row.
        #[arg(long, value_name = "ID")]
        materialization_id: Option<String>,
        /// Show what would be written without writing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Delete rows (Metaxy `metadata delete`): soft by default (tombstone rows with `metaxy_deleted_at`), or hard
    /// (physically remove rows of the current feature version).
    Delete {
        #[command(flatten)]
        selector: FeatureSelector,
        /// SQL WHERE filter selecting the rows (repeatable, AND-ed).
        #[arg(long = "filter", value_name = "SQL")]
        filters: Vec<String>,
        /// Soft delete (default): append tombstones; readers stop seeing the rows.
        #[arg(long, conflicts_with = "hard")]
        soft: bool,
        /// Hard delete: physically remove the matching rows.
        #[arg(long)]
        hard: bool,
        /// Include rows of every feature version, not only the current one.
        #[arg(long)]
        with_feature_history: bool,
        /// Soft delete: tombstone every stored row of a sample, not only the latest.
        #[arg(long)]
        with_sample_history: bool,
        /// Also delete the same samples (shared id column values) in every downstream feature.
        #[arg(long)]
        cascade: bool,
        /// Show the rows that would be deleted, per feature, without deleting.
        #[arg(long)]
        dry_run: bool,
        /// Confirm without prompting (required for a hard delete without filters).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Preview at most N rows per feature in the plain dry run (counts stay exact).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Drop features' metadata (Metaxy's `drop_feature_metadata`): each feature's whole table goes (every feature
    /// version, every row); the system table (pushed graph) stays. Delta keeps an empty table, as Metaxy does.
    Drop {
        /// Feature keys (e.g. example/crop).
        #[arg(required = true, value_name = "KEY")]
        features: Vec<String>,
        /// Confirm without prompting (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Show what would be dropped (stored rows per feature version) without dropping.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Recompute provenance of a feature's rows from one feature version under another (Metaxy `metadata
    /// rebase`), keeping user columns and `metaxy_created_at`.
    Rebase {
        /// Feature key.
        feature: String,
        /// Source feature version.
        #[arg(long = "from", value_name = "VERSION")]
        from_version: String,
        /// Target feature version (default: the current one).
        #[arg(long = "to", value_name = "VERSION")]
        to_version: Option<String>,
        /// Show how many rows would be rebased (and, with --format json, the rebased rows) without writing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Copy metadata from one store to another (Metaxy `metadata copy`): latest live row per sample, every feature
    /// version by default, `metaxy_updated_at` re-stamped; the system table is not copied.
    Copy {
        #[command(flatten)]
        selector: FeatureSelector,
        /// Source store name.
        #[arg(long = "from", value_name = "STORE")]
        from_store: String,
        /// Destination store name.
        #[arg(long = "to", value_name = "STORE")]
        to_store: String,
        /// SQL WHERE filter applied to every feature (repeatable).
        #[arg(long = "filter", value_name = "SQL")]
        filters: Vec<String>,
        /// Copy every feature version (default).
        #[arg(long, overrides_with = "no_with_feature_history")]
        with_feature_history: bool,
        /// Copy only rows of the current feature version.
        #[arg(long)]
        no_with_feature_history: bool,
        /// Copy every row per sample, not only the latest.
        #[arg(long)]
        with_sample_history: bool,
        /// Show what would be copied without writing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Rows of a feature with Metaxy's read semantics.
    Read {
        /// Feature key.
        feature: String,
        /// SQL WHERE filter (repeatable, AND-ed).
        #[arg(long = "filter", value_name = "SQL")]
        filters: Vec<String>,
        /// Include rows of every feature version, not only the current one.
        #[arg(long)]
        with_feature_history: bool,
        /// Include every stored row per sample, not only the latest.
        #[arg(long)]
        with_sample_history: bool,
        /// Include soft-deleted rows.
        #[arg(long)]
        include_soft_deleted: bool,
        /// Show at most N rows.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}
