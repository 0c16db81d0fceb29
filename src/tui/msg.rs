//! What happens to the TUI ([`Msg`]: input, ticks, and the result of a background job in one envelope) and
//! what the pure `update` asks the runtime to do ([`Command`]: a background [`Job`] in one envelope, or work the
//! UI thread does itself). The generation of a job travels once, in the envelope: `update` drops results of an
//! older generation in one place.

use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::{DeletePlan, RebasePlan, WritePlan};
use crate::engine::workspace::Workspace;
use crate::tui::app::{Fetch, LoadedPage};
use crate::tui::dialogs::PickerEntry;
use crate::tui::tasks::{CancelToken, Job};
use crate::tui::view::StatusReport;

/// Everything that can happen to the [`crate::tui::App`].
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// A mouse event (wheel scrolls the pane under the pointer, a click selects a feature, a tab or a row).
    Mouse(MouseEvent),
    /// Timer tick (~100 ms): advances the spinner and the live-refresh poll ([`crate::tui::live`]).
    Tick,
    /// Whether some store read of this process is waiting, right now, for a lock another process holds (sent
    /// by the runtime when it changes; [`crate::engine::store::lock_waits`]).
    LockWait(bool),
    /// A background job finished (or reported one of several results).
    Done {
        /// [`crate::tui::App::generation`] when the job was started; results of older generations are dropped.
        generation: u64,
        /// What the job reports.
        result: JobResult,
    },
}

/// What a background [`Job`] reports.
pub enum JobResult {
    /// `Workspace::open` finished.
    Opened {
        /// The workspace or the error message.
        result: Result<Arc<Workspace>, String>,
    },
    /// One feature's status was computed (counts; the increment only where the store declined to count).
    Status {
        /// The status.
        report: Box<StatusReport>,
    },
    /// A feature's default read finished.
    Metadata {
        /// The feature read.
        key: FeatureKey,
        /// The first page (`None`: no table in the store) or the error message.
        result: Result<Option<Box<LoadedPage>>, String>,
        /// [`crate::tui::app::Details::view_generation`] of the request.
        view: u64,
    },
    /// A configured store was opened (or could not be).
    StoreProbed {
        /// The store name.
        name: String,
        /// What it holds (`3 feature tables`), or why it cannot be opened.
        result: Result<String, String>,
    },
    /// A page of the Metadata tab was fetched.
    Page {
        /// [`crate::tui::app::Details::view_generation`] of the request.
        view: u64,
        /// The feature.
        key: FeatureKey,
        /// Which page.
        fetch: Fetch,
        /// The page or the error message.
        result: Result<Box<LoadedPage>, String>,
    },
    /// The rows of the Metadata tab's read were counted.
    RowCount {
        /// [`crate::tui::app::Details::view_generation`] of the request.
        view: u64,
        /// The feature.
        key: FeatureKey,
        /// Rows, or the error message.
        result: Result<usize, String>,
    },
    /// A delete plan was computed.
    DeletePlanned {
        /// The plan or the error message.
        result: Result<Arc<DeletePlan>, String>,
    },
    /// A drop plan was computed.
    DropPlanned {
        /// The plan or the error message.
        result: Result<Arc<crate::engine::ops::drop::DropPlan>, String>,
    },
    /// A rebase plan was computed.
    RebasePlanned {
        /// The plan or the error message.
        result: Result<Arc<RebasePlan>, String>,
    },
    /// Stored rows per feature version of a feature (for the rebase picker).
    VersionCounts {
        /// The feature.
        key: FeatureKey,
        /// `(feature version, rows)`.
        counts: Vec<(String, usize)>,
    },
    /// A directory was listed for the write dialog's file picker.
    DirListed {
        /// The directory.
        dir: std::path::PathBuf,
        /// Its entries, or the error message.
        result: Result<Vec<PickerEntry>, String>,
    },
    /// A write was prepared from a file: the plan and how many of its samples are already stored.
    WritePlanned {
        /// The plan and the count, or the error message.
        result: Result<(Arc<WritePlan>, usize), String>,
    },
    /// A feature's increment was loaded for the details tabs.
    IncrementLoaded {
        /// The feature.
        key: FeatureKey,
        /// The increment with its rendered tables, or the error message.
        result: Result<Box<crate::tui::view::LoadedIncrement>, String>,
    },
    /// A feature's increment was filtered.
    IncrementFiltered {
        /// The feature.
        key: FeatureKey,
        /// The filter it was computed for.
        filter: String,
        /// The filtered tables, or the error message.
        result: Result<Box<crate::tui::view::IncrementTables>, String>,
    },
    /// An export finished: a toast text, or the error message.
    Exported {
        /// What was written, or the error.
        result: Result<String, String>,
    },
    /// Stored rows per feature and feature version (for the history screen).
    RowsPerVersion {
        /// Feature key -> `(feature version, rows)`.
        counts: HashMap<String, Vec<(String, usize)>>,
    },
    /// The store's change marker was read (live refresh).
    StoreChecked {
        /// [`crate::engine::store::MetadataStore::change_marker`] now.
        marker: Option<String>,
    },
    /// What a running SQL console query is doing (`reading example/crop (1/2)`, `running query`).
    SqlProgress {
        /// The progress line.
        text: String,
    },
    /// A SQL console query finished.
    SqlDone {
        /// The result (rows as a table), or the error message.
        result: Result<Box<crate::tui::screens::sql::SqlResult>, String>,
    },
    /// A lookup finished.
    Looked {
        /// The samples looked up.
        ids: crate::engine::store::filter::IdFilter,
        /// The lookup, or the error message.
        result: Result<Arc<crate::engine::versioning::lookup::Lookup>, String>,
    },
    /// A write (delete, drop, rebase) finished: a toast text, or the error message.
    Mutated {
        /// What was done, or the error.
        result: Result<String, String>,
    },
}

/// Work for the runtime: a background job, or something the UI thread does itself (it owns the terminal).
#[derive(Clone)]
pub enum Command {
    /// Run `job` on a blocking task; it reports [`Msg::Done`] with this generation.
    Task {
        /// [`crate::tui::App::generation`] to tag the results with.
        generation: u64,
        /// Asked by the job between units of work; cancelled by a newer generation or by Esc.
        cancel: CancelToken,
        /// The work.
        job: Job,
    },
    /// Copy text to the clipboard (OSC 52, done by the UI thread: it owns the terminal).
    Copy(String),
    /// Cancel a running job (the status computation of `generation`, Esc): it stops after the unit in progress.
    Cancel {
        /// Generation of the job.
        generation: u64,
        /// Its token.
        token: CancelToken,
    },
}
