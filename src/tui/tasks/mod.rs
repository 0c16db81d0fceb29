//! Background jobs: what each [`Job`] computes off the UI thread, the [`CancelToken`] every job carries, and
//! [`execute`], which runs one job behind `catch_unwind` and reports its [`JobResult`] tagged with the
//! generation of the request (the envelope [`crate::tui::msg::Msg::Done`]).

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::engine::keys::FeatureKey;
use crate::engine::workspace::Workspace;
use crate::tui::msg::{Command, JobResult, Msg};
use crate::tui::OpenRequest;

mod counts;
mod export;
mod files;
mod increment;
mod lookup;
mod mutate;
mod open;
mod page;
mod poll;
mod probe;
mod sql;
mod statuses;

pub use increment::load_increment;
pub use open::open_workspace;

/// Cancels one background job: the job asks [`CancelToken::cancelled`] between units of work (features) and
/// stops early. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop (idempotent).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called on this token or a clone of it.
    pub fn cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The tokens of the jobs started in the current generation ([`crate::tui::App::generation`]); a new
/// generation cancels them all (their results would be dropped anyway).
#[derive(Debug, Default)]
pub struct Running {
    /// Every job of the current generation that can stop early.
    tokens: Vec<CancelToken>,
    /// The status computation of the current generation (Esc cancels it alone).
    pub statuses: Option<CancelToken>,
}

impl Running {
    /// A token for a new job, remembered until [`Running::cancel_all`].
    pub fn token(&mut self) -> CancelToken {
        // a token only this list holds belongs to a finished job
        self.tokens
            .retain(|t| !t.cancelled() && Arc::strong_count(&t.0) > 1);
        let t = CancelToken::new();
        self.tokens.push(t.clone());
        t
    }

    /// Cancels every remembered job (a new generation starts).
    pub fn cancel_all(&mut self) {
        for t in self.tokens.drain(..) {
            t.cancel();
        }
        self.statuses = None;
    }
}

/// Slow work for the runtime to start on a blocking task (see [`execute`]); each reports back with a
/// [`JobResult`] in a [`Msg::Done`] envelope.
#[derive(Clone)]
pub enum Job {
    /// Open the workspace of the run request; reports [`JobResult::Opened`].
    Open,
    /// Open the workspace of the run request on another configured store; reports [`JobResult::Opened`].
    SwitchStore {
        /// The store name (`--store`).
        store: String,
    },
    /// Open every configured store of the workspace's config and list its tables; reports one
    /// [`JobResult::StoreProbed`] per store.
    ProbeStores {
        /// The workspace (its config).
        ws: Arc<Workspace>,
    },
    /// Compute every feature's status in graph order; reports one [`JobResult::Status`] per feature.
    ComputeStatuses {
        /// The workspace.
        ws: Arc<Workspace>,
    },
    /// Default read of one feature; reports [`JobResult::Metadata`].
    ReadMetadata {
        /// The workspace.
        ws: Arc<Workspace>,
        /// Feature to read.
        key: FeatureKey,
        /// How to read and sort.
        view: crate::tui::app::TableView,
        /// [`crate::tui::app::Details::view_generation`] to tag the result with.
        view_generation: u64,
    },
    /// Fetch a page of the Metadata tab; reports [`JobResult::Page`].
    FetchPage {
        /// [`crate::tui::app::Details::view_generation`] to tag the result with.
        view_generation: u64,
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// How to read.
        view: crate::tui::app::TableView,
        /// Which page.
        fetch: crate::tui::app::Fetch,
        /// How to read it.
        request: crate::tui::app::PageRequest,
    },
    /// Count the rows of the Metadata tab's read (only the columns its semantics need); reports
    /// [`JobResult::RowCount`].
    CountRows {
        /// [`crate::tui::app::Details::view_generation`] to tag the result with.
        view_generation: u64,
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// How to read.
        view: crate::tui::app::TableView,
    },
    /// Load a feature's increment for its New / Stale / Orphaned tabs (on demand, for the selected feature);
    /// reports [`JobResult::IncrementLoaded`].
    LoadIncrement {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// The increment the status job already resolved (the store declined to count it): rendered, not
        /// computed again.
        seed: Option<Box<crate::engine::versioning::resolve::Increment>>,
    },
    /// Filter a feature's increment with a SQL filter; reports [`JobResult::IncrementFiltered`].
    FilterIncrement {
        /// The workspace (for the stale causes).
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// The increment; `None` when the tabs hold only the store's first pages of it
        /// ([`crate::tui::view::LoadedIncrement::paged_in_store`]): the job computes the whole one.
        inc: Option<Box<crate::engine::versioning::resolve::Increment>>,
        /// SQL filter.
        filter: String,
    },
    /// Export one frame of an increment (new / stale / orphaned, filtered); reports [`JobResult::Exported`].
    ExportIncrement {
        /// The frame.
        rows: polars::prelude::DataFrame,
        /// What it is, for the toast (`new samples of example/crop`).
        what: String,
        /// Output file.
        path: std::path::PathBuf,
    },
    /// Export one frame of a feature's whole increment (filtered) when the tabs hold only the store's first pages
    /// of it ([`crate::tui::view::LoadedIncrement::paged_in_store`]): the increment is computed by the general
    /// engine; reports [`JobResult::Exported`].
    ExportWholeIncrement {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// Which frame.
        kind: crate::engine::store::count_plan::IncrementKind,
        /// The increment tabs' SQL filter.
        filter: Option<String>,
        /// What it is, for the toast (`new samples of example/crop`).
        what: String,
        /// Output file.
        path: std::path::PathBuf,
    },
    /// Export a feature's rows as the Metadata tab reads them; reports [`JobResult::Mutated`]-like toast via
    /// [`JobResult::Exported`].
    Export {
        /// The workspace.
        ws: Arc<Workspace>,
        /// Feature.
        key: FeatureKey,
        /// View (read options, filter, sort).
        view: crate::tui::app::TableView,
        /// Output file (`.parquet`, `.csv`, `.ndjson`).
        path: std::path::PathBuf,
    },
    /// Plan a delete (reads only); reports [`JobResult::DeletePlanned`].
    PlanDelete {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The request.
        request: crate::engine::ops::mutate::DeleteRequest,
    },
    /// Perform a delete plan; reports [`JobResult::Mutated`].
    ExecuteDelete {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The confirmed plan.
        plan: Arc<crate::engine::ops::mutate::DeletePlan>,
    },
    /// Plan dropping a feature's table (counts its stored rows per feature version); reports
    /// [`JobResult::DropPlanned`].
    PlanDrop {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
    },
    /// Perform a drop plan; reports [`JobResult::Mutated`].
    ExecuteDrop {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The confirmed plan.
        plan: Arc<crate::engine::ops::drop::DropPlan>,
    },
    /// Count stored rows per feature version; reports [`JobResult::VersionCounts`].
    CountVersions {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
    },
    /// Plan a rebase (reads only); reports [`JobResult::RebasePlanned`].
    PlanRebase {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// Source feature version.
        from: String,
        /// Only the rows passing this SQL filter (one sample, from the lookup screen); `None`: every row.
        filter: Option<String>,
    },
    /// List a directory; reports [`JobResult::DirListed`].
    ListDir {
        /// The directory.
        dir: std::path::PathBuf,
    },
    /// Read a file and prepare the write; reports [`JobResult::WritePlanned`].
    PlanWrite {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The feature.
        key: FeatureKey,
        /// The input file.
        path: std::path::PathBuf,
    },
    /// Perform a write plan; reports [`JobResult::Mutated`].
    ExecuteWrite {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The confirmed plan.
        plan: Arc<crate::engine::ops::mutate::WritePlan>,
    },
    /// Count stored rows per feature version of every feature; reports [`JobResult::RowsPerVersion`].
    CountAllVersions {
        /// The workspace.
        ws: Arc<Workspace>,
    },
    /// Read the store's change marker (live refresh; no lock taken); reports [`JobResult::StoreChecked`].
    PollStore {
        /// The workspace (its store).
        ws: Arc<Workspace>,
    },
    /// Run one query of the SQL console; reports [`JobResult::SqlProgress`] lines and one [`JobResult::SqlDone`].
    RunSql {
        /// The workspace (its store).
        ws: Arc<Workspace>,
        /// The query text.
        query: String,
        /// Stops the query (Esc).
        cancel: crate::engine::sql::SqlCancel,
    },
    /// Look samples up in every feature; reports [`JobResult::Looked`].
    Lookup {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The samples.
        ids: crate::engine::store::filter::IdFilter,
    },
    /// Perform a rebase plan; reports [`JobResult::Mutated`].
    ExecuteRebase {
        /// The workspace.
        ws: Arc<Workspace>,
        /// The confirmed plan.
        plan: Arc<crate::engine::ops::mutate::RebasePlan>,
    },
}

/// Runs one command's slow work (the same code the runtime runs on a blocking task), handing each message to
/// `emit`; `emit` returns `false` when nobody listens any more (the job then stops). [`Command::Copy`] and
/// [`Command::Cancel`] are the UI thread's and do nothing here.
pub fn execute(req: &OpenRequest, cmd: Command, mut emit: impl FnMut(Msg) -> bool) {
    let Command::Task {
        generation,
        cancel,
        job,
    } = cmd
    else {
        return;
    };
    run(req, job, &cancel, &mut |result| {
        emit(Msg::Done { generation, result })
    });
}

/// Where a job reports its results; `false`: stop, nobody listens.
type Emit<'a> = dyn FnMut(JobResult) -> bool + 'a;

/// Runs `job`, reporting through `emit`.
fn run(req: &OpenRequest, job: Job, cancel: &CancelToken, emit: &mut Emit<'_>) {
    match job {
        Job::Open => open::open(req, None, emit),
        Job::SwitchStore { store } => open::open(req, Some(store), emit),
        Job::ProbeStores { ws } => probe::probe_stores(req, &ws, emit),
        Job::ComputeStatuses { ws } => statuses::compute(&ws, cancel, emit),
        Job::ReadMetadata {
            ws,
            key,
            view,
            view_generation,
        } => page::read_first(&ws, key, &view, view_generation, emit),
        Job::FetchPage {
            view_generation,
            ws,
            key,
            view,
            fetch,
            request,
        } => page::fetch(&ws, key, &view, view_generation, fetch, &request, emit),
        Job::CountRows {
            view_generation,
            ws,
            key,
            view,
        } => counts::count_rows(&ws, key, &view, view_generation, emit),
        Job::LoadIncrement { ws, key, seed } => increment::load(&ws, key, seed.map(|s| *s), emit),
        Job::FilterIncrement {
            ws,
            key,
            inc,
            filter,
        } => increment::filter(&ws, key, inc.map(|i| *i), filter, emit),
        Job::ExportIncrement { rows, what, path } => export::increment(rows, &what, &path, emit),
        Job::ExportWholeIncrement {
            ws,
            key,
            kind,
            filter,
            what,
            path,
        } => export::whole_increment(&ws, &key, kind, filter.as_deref(), &what, &path, emit),
        Job::Export {
            ws,
            key,
            view,
            path,
        } => export::view(&ws, &key, &view, &path, emit),
        Job::PlanDelete { ws, request } => mutate::plan_delete(&ws, &request, emit),
        Job::ExecuteDelete { ws, plan } => mutate::execute_delete(&ws, &plan, emit),
        Job::PlanDrop { ws, key } => mutate::plan_drop(&ws, &key, emit),
        Job::ExecuteDrop { ws, plan } => mutate::execute_drop(&ws, &plan, emit),
        Job::CountVersions { ws, key } => counts::versions(&ws, key, emit),
        Job::PlanRebase {
            ws,
            key,
            from,
            filter,
        } => mutate::plan_rebase(&ws, &key, &from, filter.as_deref(), emit),
        Job::CountAllVersions { ws } => counts::all_versions(&ws, cancel, emit),
        Job::ListDir { dir } => files::list(dir, emit),
        Job::PlanWrite { ws, key, path } => mutate::plan_write(&ws, &key, &path, emit),
        Job::ExecuteWrite { ws, plan } => mutate::execute_write(&ws, &plan, emit),
        Job::ExecuteRebase { ws, plan } => mutate::execute_rebase(&ws, &plan, emit),
        Job::PollStore { ws } => poll::poll(&ws, emit),
        Job::RunSql { ws, query, cancel } => sql::run(&ws, &query, &cancel, emit),
        Job::Lookup { ws, ids } => lookup::run(&ws, ids, emit),
    }
}

/// The message of a caught panic.
fn panic_message(p: Box<dyn Any + Send>) -> String {
    let m = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (panic): {m}")
}

/// Runs `f`, turning a panic into an error message.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_message(p)))
}

/// The message of a feature the store has no table for.
fn no_table(key: &FeatureKey) -> String {
    format!("the store has no table for {key}")
}
