//! The event loop: terminal setup and restore, crossterm input, ticks, and the blocking tasks that run
//! [`Command`]s (opening the workspace, statuses, reads) and report back as [`Msg`]s over a channel.

use std::any::Any;
use std::io::{self, Stdout};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{self, Event};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::UnboundedSender;

use crate::engine::mutate::{execute_delete, execute_rebase, plan_delete, plan_rebase};
use crate::engine::read::ReadOptions;
use crate::engine::resolve::ResolveOptions;
use crate::engine::status::FeatureStatus;
use crate::engine::workspace::Workspace;
use crate::tui::app::{update, App, Command, LoadedPage, Msg, PageRequest, PageSource, PAGE_ROWS};
use crate::tui::view::{frame_table, StatusReport};
use crate::tui::{ui, OpenRequest};

/// Spinner / timer period.
const TICK: Duration = Duration::from_millis(100);

/// Longest wait for input before draining background results.
const POLL: Duration = Duration::from_millis(50);

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

static RESTORED: AtomicBool = AtomicBool::new(true);

/// The generation whose status computation was cancelled (Esc); its task stops before the next feature.
static CANCELLED: AtomicU64 = AtomicU64::new(0);

/// Leaves raw mode and the alternate screen and shows the cursor (idempotent).
fn restore_terminal() {
    if RESTORED.swap(true, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        crossterm::event::DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Owns the terminal while the TUI runs; restores it on drop and (through a panic hook) on a UI-thread panic.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    previous_hook: Option<Arc<PanicHook>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let ui_thread = std::thread::current().id();
        let previous: Arc<PanicHook> = Arc::new(panic::take_hook());
        let chained = previous.clone();
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == ui_thread {
                restore_terminal();
                chained(info);
            }
            // Panics on worker threads are caught (catch_unwind) and shown on screen; printing them here would
            // garble the UI.
        }));
        let mut guard = Self {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
            previous_hook: Some(previous),
        };
        enable_raw_mode()
            .context("cannot switch the terminal to raw mode (is stdout a terminal?)")?;
        RESTORED.store(false, Ordering::SeqCst);
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            cursor::Hide,
            crossterm::event::EnableMouseCapture
        )
        .context("cannot enter the alternate screen")?;
        guard.terminal.clear()?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        if let Some(prev) = self.previous_hook.take() {
            let _ = panic::take_hook();
            panic::set_hook(Box::new(move |info| prev(info)));
        }
    }
}

/// Runs the TUI (see [`crate::tui::run`]).
pub fn run(req: OpenRequest) -> anyhow::Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        // Called from inside a tokio runtime: our own runtime must live on a thread of its own.
        return std::thread::scope(|s| {
            s.spawn(|| run_here(req))
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the TUI thread panicked")))
        });
    }
    run_here(req)
}

/// The runtime of the background tasks. Dropping it (also while unwinding) does not wait for a long status
/// computation still running: the process is about to exit anyway.
struct Background(Option<Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn run_here(req: OpenRequest) -> anyhow::Result<()> {
    let rt = Background(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    ));
    let mut guard = TerminalGuard::enter()?;
    event_loop(&mut guard.terminal, rt.0.as_ref().expect("runtime"), &req)
}

/// What the loading and error screens say is being opened.
pub fn source_label(req: &OpenRequest) -> String {
    let mut s = if req.demo {
        "embedded demo store (no metaxy.toml found)".to_string()
    } else if let Some(f) = &req.opts.config_file {
        format!("config {}", f.display())
    } else if let Some(f) = req.opts.env.get("METAXY_CONFIG") {
        format!("config {f} (METAXY_CONFIG)")
    } else {
        format!("metaxy.toml discovered from {}", req.opts.cwd.display())
    };
    if let Some(st) = &req.opts.store {
        s.push_str(&format!(", store {st}"));
    }
    if let Some(v) = &req.opts.snapshot {
        s.push_str(&format!(", snapshot {v}"));
    }
    s
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    rt: &Runtime,
    req: &OpenRequest,
) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let current = Arc::new(AtomicU64::new(0));
    let mut app = App::new(source_label(req));
    let mut cmds = app.start();
    let mut last_tick = Instant::now();
    let mut last_screen = app.screen;
    loop {
        for c in cmds.drain(..) {
            spawn(rt, req, &tx, &current, c);
        }
        if app.screen != last_screen {
            // a different screen repaints every cell: start from a cleared terminal, not a diff
            terminal.clear()?;
            last_screen = app.screen;
        }
        terminal.draw(|f| ui::draw(f, &app))?;
        let timeout = TICK.saturating_sub(last_tick.elapsed()).min(POLL);
        if event::poll(timeout)? {
            loop {
                match event::read()? {
                    Event::Key(k) => cmds.extend(update(&mut app, Msg::Key(k))),
                    Event::Mouse(m) => cmds.extend(update(&mut app, Msg::Mouse(m))),
                    _ => {}
                }
                if app.should_quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        while let Ok(m) = rx.try_recv() {
            cmds.extend(update(&mut app, m));
        }
        if last_tick.elapsed() >= TICK {
            cmds.extend(update(&mut app, Msg::Tick));
            last_tick = Instant::now();
        }
        if app.should_quit {
            return Ok(());
        }
    }
}

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

/// Opens the workspace a request asks for (demo or discovered / explicit config).
pub fn open_workspace(req: &OpenRequest) -> Result<Workspace, String> {
    let r = if req.demo {
        Workspace::open_demo(req.opts.snapshot.clone())
    } else {
        Workspace::open(&req.opts)
    };
    r.map_err(|e| e.to_string())
}

/// Drives `app` without a terminal or a runtime: runs `cmds` and every command they lead to synchronously (each
/// through [`execute`], as the runtime would on blocking tasks), feeding the messages back through
/// [`crate::tui::update`] until nothing is left. An `Open` gets `ws` instead of opening a store. Used by the
/// snapshot tests, the screenshots and the TUI benchmark.
pub fn run_to_idle(app: &mut crate::tui::App, mut cmds: Vec<Command>, ws: &Arc<Workspace>) {
    let req = OpenRequest::default();
    while let Some(cmd) = cmds.pop() {
        if let Command::Open { generation } = cmd {
            cmds.extend(crate::tui::update(
                app,
                Msg::Opened {
                    generation,
                    result: Ok(ws.clone()),
                },
            ));
            continue;
        }
        let mut msgs = vec![];
        execute(
            &req,
            cmd,
            |m| {
                msgs.push(m);
                true
            },
            || true,
        );
        for m in msgs {
            cmds.extend(crate::tui::update(app, m));
        }
    }
}

/// Runs one command's slow work (same code the runtime runs on a blocking task), returning its messages.
/// `keep_going` is asked before each feature of a status computation.
pub fn execute(
    req: &OpenRequest,
    cmd: Command,
    mut emit: impl FnMut(Msg) -> bool,
    keep_going: impl Fn() -> bool,
) {
    match cmd {
        Command::Open { generation } => {
            let result = guarded(|| open_workspace(req)).map(Arc::new);
            emit(Msg::Opened { generation, result });
        }
        Command::SwitchStore { generation, store } => {
            let mut r = req.clone();
            r.demo = false;
            r.opts.store = Some(store);
            let result = guarded(|| open_workspace(&r)).map(Arc::new);
            emit(Msg::Opened { generation, result });
        }
        Command::ProbeStores { generation, ws } => {
            for cfg in &ws.config.stores {
                let result = guarded(|| {
                    crate::engine::store::probe_store(cfg, &req.opts.cwd)
                        .map(|n| format!("reachable · {n} feature table(s)"))
                        .map_err(|e| e.to_string())
                });
                if !emit(Msg::StoreProbed {
                    generation,
                    name: cfg.name.clone(),
                    result,
                }) {
                    return;
                }
            }
            if ws.config.stores.is_empty() {
                // the embedded demo store: already open
                let n = ws.store.list_tables().map(|t| t.len()).unwrap_or(0);
                emit(Msg::StoreProbed {
                    generation,
                    name: ws.store.name().to_string(),
                    result: Ok(format!("reachable · {n} tables")),
                });
            }
        }
        Command::ComputeStatuses { generation, ws } => {
            for f in &ws.graph.features {
                if !keep_going() {
                    return;
                }
                let key = &f.spec.key;
                let report = guarded(|| {
                    Ok(StatusReport::build_with_causes(
                        ws.status(key, &ResolveOptions::default()),
                        ws.store.as_ref(),
                        &ws.graph,
                    ))
                })
                .unwrap_or_else(|e| StatusReport::build(FeatureStatus::error(key, e)));
                if !emit(Msg::Status {
                    generation,
                    report: Box::new(report),
                }) {
                    return;
                }
            }
        }
        Command::ReadMetadata {
            generation,
            ws,
            key,
            view,
            view_generation,
        } => {
            let result = guarded(|| first_page(&ws, &key, &view));
            emit(Msg::Metadata {
                generation,
                key,
                result,
                view: view_generation,
            });
        }
        Command::FetchPage {
            generation,
            view_generation,
            ws,
            key,
            view,
            fetch,
            request,
        } => {
            let result = guarded(|| fetch_page(&ws, &key, &view, &request).map(Box::new));
            emit(Msg::Page {
                generation,
                view: view_generation,
                key,
                fetch,
                result,
            });
        }
        Command::CountRows {
            generation,
            view_generation,
            ws,
            key,
            view,
        } => {
            let result = guarded(|| {
                crate::engine::page::count_rows(
                    ws.store.as_ref(),
                    &ws.graph,
                    &key,
                    &view.read_options(),
                )
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the store has no table for {key}"))
            });
            emit(Msg::RowCount {
                generation,
                view: view_generation,
                key,
                result,
            });
        }
        // the UI thread handles these itself (see `spawn`); nothing to do off it
        Command::Copy(_) | Command::CancelStatuses { .. } => {}
        Command::FilterIncrement {
            generation,
            ws,
            inc,
            filter,
        } => {
            let key = inc.feature.clone();
            let result = guarded(|| {
                let mut inc = *inc;
                let f = std::slice::from_ref(&filter);
                let apply = |df: polars::prelude::DataFrame| {
                    crate::engine::read::apply_filters(df, f).map_err(|e| e.to_string())
                };
                inc.new = apply(inc.new)?;
                inc.stale = apply(inc.stale)?;
                inc.orphaned = apply(inc.orphaned)?;
                let causes = if inc.stale.height() > 0 {
                    crate::engine::cause::stale_causes(
                        ws.store.as_ref(),
                        &ws.graph,
                        &inc,
                        Some(crate::tui::view::MAX_TABLE_ROWS),
                    )
                    .ok()
                } else {
                    None
                };
                crate::tui::view::IncrementTables::build_with_causes(&inc, causes.as_deref())
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            });
            emit(Msg::IncrementFiltered {
                generation,
                key,
                filter,
                result,
            });
        }
        Command::ExportIncrement {
            generation,
            mut rows,
            what,
            path,
        } => {
            let result = guarded(|| {
                crate::engine::samples::export_frame(&mut rows, &path)?;
                Ok(format!(
                    "✓ exported {} {what} to {}",
                    rows.height(),
                    path.display()
                ))
            });
            emit(Msg::Exported { generation, result });
        }
        Command::Export {
            generation,
            ws,
            key,
            view,
            path,
        } => {
            let result = guarded(|| {
                let mut df = view_rows(&ws, &key, &view)?
                    .ok_or_else(|| format!("the store has no table for {key}"))?;
                crate::engine::samples::export_frame(&mut df, &path)?;
                Ok(format!(
                    "✓ exported {} row(s) of {key} to {}",
                    df.height(),
                    path.display()
                ))
            });
            emit(Msg::Exported { generation, result });
        }
        Command::PlanDelete {
            generation,
            ws,
            request,
        } => {
            let result = guarded(|| {
                plan_delete(ws.store.as_ref(), &ws.graph, &request)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            });
            emit(Msg::DeletePlanned { generation, result });
        }
        Command::ExecuteDelete {
            generation,
            ws,
            plan,
        } => {
            let result = guarded(|| {
                let done = execute_delete(ws.store.as_ref(), &ws.graph, &plan)
                    .map_err(|e| e.to_string())?;
                let total: usize = done.iter().map(|(_, n)| n).sum();
                let features = done.iter().filter(|(_, n)| *n > 0).count();
                let mode = if plan.request.hard { "hard" } else { "soft" };
                Ok(format!(
                    "✓ {mode} deleted {total} row(s) in {features} feature(s)"
                ))
            });
            emit(Msg::Mutated { generation, result });
        }
        Command::CountVersions {
            generation,
            ws,
            key,
        } => {
            let counts = guarded(|| {
                ws.store
                    .rows_per_feature_version(&key)
                    .map(Option::unwrap_or_default)
                    .map_err(|e| e.to_string())
            })
            .unwrap_or_default();
            emit(Msg::VersionCounts {
                generation,
                key,
                counts,
            });
        }
        Command::PlanRebase {
            generation,
            ws,
            key,
            from,
        } => {
            let result = guarded(|| {
                plan_rebase(ws.store.as_ref(), &ws.graph, &ws.pushed, &key, &from, None)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            });
            emit(Msg::RebasePlanned { generation, result });
        }
        Command::CountAllVersions { generation, ws } => {
            let mut counts = std::collections::HashMap::new();
            for f in &ws.graph.features {
                let key = &f.spec.key;
                if !keep_going() {
                    return;
                }
                if let Ok(Ok(c)) = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    ws.store
                        .rows_per_feature_version(key)
                        .map(Option::unwrap_or_default)
                })) {
                    counts.insert(key.to_string(), c);
                }
            }
            emit(Msg::RowsPerVersion { generation, counts });
        }
        Command::ListDir { generation: _, dir } => {
            let result = guarded(|| crate::tui::dialog::list_dir(&dir));
            emit(Msg::DirListed { dir, result });
        }
        Command::PlanWrite {
            generation,
            ws,
            key,
            path,
        } => {
            let result = guarded(|| plan_file_write(&ws, &key, &path));
            emit(Msg::WritePlanned { generation, result });
        }
        Command::ExecuteWrite {
            generation,
            ws,
            plan,
        } => {
            let result = guarded(|| {
                let n = crate::engine::mutate::execute_write(ws.store.as_ref(), &plan)
                    .map_err(|e| e.to_string())?;
                Ok(format!("✓ wrote {n} row(s) to {}", plan.feature))
            });
            emit(Msg::Mutated { generation, result });
        }
        Command::ExecuteRebase {
            generation,
            ws,
            plan,
        } => {
            let result = guarded(|| {
                let n = execute_rebase(ws.store.as_ref(), &ws.graph, &plan)
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "✓ rebased {n} row(s) of {} from {} to {}",
                    plan.feature, plan.from_version, plan.to_version
                ))
            });
            emit(Msg::Mutated { generation, result });
        }
    }
}

/// The id columns of `key` in the workspace's graph (none for a feature it does not have).
fn id_columns(ws: &Workspace, key: &crate::engine::keys::FeatureKey) -> Vec<String> {
    ws.graph
        .get(key)
        .map(|d| d.spec.id_columns.clone())
        .unwrap_or_default()
}

/// Renders rows of a feature's read into a page (`ids`: the feature's id columns, frozen and first).
fn render_page(
    df: &polars::prelude::DataFrame,
    ids: &[String],
    at_start: bool,
    at_end: bool,
) -> Result<LoadedPage, String> {
    let present: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|c| df.get_column_index(c).is_some())
        .collect();
    Ok(LoadedPage {
        table: frame_table(df, ids).map_err(|e| e.to_string())?,
        ids: df.select(present).map_err(|e| e.to_string())?,
        at_start,
        at_end,
        source: None,
        total: None,
        start: None,
    })
}

/// The first page of the Metadata tab: a keyset page from the store when it has an ordered scan and the view
/// keeps Metaxy's id order, else the whole read (held in memory, pages are slices of it).
fn first_page(
    ws: &Workspace,
    key: &crate::engine::keys::FeatureKey,
    view: &crate::tui::app::TableView,
) -> Result<Option<Box<LoadedPage>>, String> {
    use crate::engine::page::{read_page, PageAt, PageRead};
    let ids = id_columns(ws, key);
    if view.sort.is_none() {
        let _t = crate::engine::timing::span(|| format!("tui first page {key}"));
        match read_page(
            ws.store.as_ref(),
            &ws.graph,
            key,
            &view.read_options(),
            &PageAt::First,
            PAGE_ROWS,
        )
        .map_err(|e| e.to_string())?
        {
            PageRead::Missing => return Ok(None),
            PageRead::Page(p) => {
                let mut page = render_page(&p.rows, &ids, true, p.at_end)?;
                page.source = Some(PageSource::Store);
                page.start = Some(0);
                return Ok(Some(Box::new(page)));
            }
            PageRead::Unsupported => {}
        }
    }
    let Some(df) = view_rows(ws, key, view)? else {
        return Ok(None);
    };
    let total = df.height();
    let frame = Arc::new(df);
    let mut page = render_page(&frame.slice(0, PAGE_ROWS), &ids, true, total <= PAGE_ROWS)?;
    page.source = Some(PageSource::Memory(frame));
    page.total = Some(total);
    page.start = Some(0);
    Ok(Some(Box::new(page)))
}

/// A further page of the Metadata tab.
fn fetch_page(
    ws: &Workspace,
    key: &crate::engine::keys::FeatureKey,
    view: &crate::tui::app::TableView,
    request: &PageRequest,
) -> Result<LoadedPage, String> {
    use crate::engine::page::{read_page, PageRead};
    let ids = id_columns(ws, key);
    match request {
        PageRequest::Slice { frame, start, len } => {
            let df = frame.slice(*start as i64, *len);
            let end = start + df.height();
            let mut page = render_page(&df, &ids, *start == 0, end >= frame.height())?;
            page.start = Some(*start);
            page.total = Some(frame.height());
            Ok(page)
        }
        PageRequest::Keyset(at) => {
            match read_page(
                ws.store.as_ref(),
                &ws.graph,
                key,
                &view.read_options(),
                at,
                PAGE_ROWS,
            )
            .map_err(|e| e.to_string())?
            {
                PageRead::Page(p) => render_page(&p.rows, &ids, p.at_start, p.at_end),
                PageRead::Missing => Err(format!("the store has no table for {key} any more")),
                PageRead::Unsupported => Err(format!("the store cannot page {key}")),
            }
        }
    }
}

/// The rows the Metadata tab shows for `view`: Metaxy's read with the view's options and filter, then its sort.
fn view_rows(
    ws: &Workspace,
    key: &crate::engine::keys::FeatureKey,
    view: &crate::tui::app::TableView,
) -> Result<Option<polars::prelude::DataFrame>, String> {
    use polars::prelude::*;
    let Some(df) = ws
        .read(key, &view.read_options())
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let Some((c, desc)) = &view.sort else {
        return Ok(Some(df));
    };
    if df.get_column_index(c).is_none() {
        return Ok(Some(df));
    }
    let opts = SortMultipleOptions::default()
        .with_order_descending(*desc)
        .with_nulls_last(true)
        .with_maintain_order(true);
    match df.clone().lazy().sort([c.as_str()], opts.clone()).collect() {
        Ok(d) => Ok(Some(d)),
        // types polars cannot order (structs): by their text
        Err(_) => df
            .lazy()
            .with_column(col(c.as_str()).cast(DataType::String).alias("__mx_sort"))
            .sort(["__mx_sort"], opts)
            .drop(cols(["__mx_sort"]))
            .collect()
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

/// Prepares a write of `path` to `key` (Metaxy's system columns) and counts the incoming samples already stored.
fn plan_file_write(
    ws: &Workspace,
    key: &crate::engine::keys::FeatureKey,
    path: &std::path::Path,
) -> Result<(Arc<crate::engine::mutate::WritePlan>, usize), String> {
    use polars::prelude::*;
    let df = crate::engine::samples::load_samples(path).map_err(|e| e.to_string())?;
    let plan = crate::engine::mutate::plan_write(
        ws.store.as_ref(),
        &ws.graph,
        key,
        df,
        &crate::engine::write::WriteOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let ids = id_columns(ws, key);
    let existing = match ws
        .read(key, &ReadOptions::default())
        .map_err(|e| e.to_string())?
    {
        None => 0,
        Some(_) if ids.is_empty() => 0,
        Some(cur) => {
            let on: Vec<Expr> = ids.iter().map(|c| col(c.as_str())).collect();
            let sel: Vec<Expr> = ids.iter().map(|c| col(c.as_str())).collect();
            plan.rows
                .clone()
                .lazy()
                .select(sel.clone())
                .join(
                    cur.lazy().select(sel),
                    on.clone(),
                    on,
                    JoinArgs::new(JoinType::Semi),
                )
                .collect()
                .map(|d| d.height())
                .map_err(|e| e.to_string())?
        }
    };
    Ok((Arc::new(plan), existing))
}

/// Puts `text` on the clipboard with the OSC 52 escape sequence (works over SSH and in tmux with
/// `set-clipboard on`).
fn copy_osc52(text: &str) {
    use std::io::Write;
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut enc = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                enc.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                enc.push('=');
            }
        }
    }
    let mut out = io::stdout();
    let _ = write!(out, "\x1b]52;c;{enc}\x07");
    let _ = out.flush();
}

fn spawn(
    rt: &Runtime,
    req: &OpenRequest,
    tx: &UnboundedSender<Msg>,
    current: &Arc<AtomicU64>,
    cmd: Command,
) {
    if let Command::Copy(text) = &cmd {
        copy_osc52(text);
        return;
    }
    if let Command::CancelStatuses { generation } = &cmd {
        CANCELLED.store(*generation, Ordering::SeqCst);
        return;
    }
    let generation = cmd.generation();
    if let Command::Open { generation } | Command::SwitchStore { generation, .. } = &cmd {
        current.store(*generation, Ordering::SeqCst);
    }
    let (req, tx, current) = (req.clone(), tx.clone(), current.clone());
    rt.spawn_blocking(move || {
        execute(
            &req,
            cmd,
            |m| tx.send(m).is_ok(),
            || {
                current.load(Ordering::SeqCst) == generation
                    && CANCELLED.load(Ordering::SeqCst) != generation
            },
        );
    });
}
