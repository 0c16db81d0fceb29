//! The event loop: terminal setup and restore, crossterm input, ticks, and the blocking tasks that run
//! [`Command`]s (opening the workspace, statuses, reads) and report back as [`Msg`]s over a channel.

use std::io::{self, Stdout};
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering};
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

use crate::engine::workspace::Workspace;
use crate::tui::app::{update, App};
use crate::tui::msg::{Command, JobResult, Msg};
use crate::tui::tasks::{execute, Job};
use crate::tui::OpenRequest;

/// Spinner / timer period.
const TICK: Duration = Duration::from_millis(100);

/// Longest wait for input before draining background results.
const POLL: Duration = Duration::from_millis(50);

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

static RESTORED: AtomicBool = AtomicBool::new(true);

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
    let mut app = App::new(source_label(req));
    let mut cmds = app.start();
    let mut last_tick = Instant::now();
    let mut last_screen = app.screen;
    loop {
        for c in cmds.drain(..) {
            spawn(rt, req, &tx, c);
        }
        if app.screen != last_screen {
            // a different screen repaints every cell: start from a cleared terminal, not a diff
            terminal.clear()?;
            last_screen = app.screen;
        }
        terminal.draw(|f| crate::tui::draw::draw(f, &app))?;
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
            let waiting = crate::engine::store::lock_waits() > 0;
            if waiting != app.live.lock_wait {
                cmds.extend(update(&mut app, Msg::LockWait(waiting)));
            }
            cmds.extend(update(&mut app, Msg::Tick));
            last_tick = Instant::now();
        }
        if app.should_quit {
            return Ok(());
        }
    }
}

/// Drives `app` without a terminal or a runtime: runs `cmds` and every command they lead to synchronously (each
/// through [`execute`], as the runtime would on blocking tasks), feeding the messages back through
/// [`crate::tui::update`] until nothing is left. An `Open` gets `ws` instead of opening a store. Used by the
/// snapshot tests, the screenshots and the TUI benchmark.
pub fn run_to_idle(app: &mut crate::tui::App, mut cmds: Vec<Command>, ws: &Arc<Workspace>) {
    let req = OpenRequest::default();
    while let Some(cmd) = cmds.pop() {
        if let Command::Task {
            generation,
            job: Job::Open,
            ..
        } = cmd
        {
            cmds.extend(crate::tui::update(
                app,
                Msg::Done {
                    generation,
                    result: JobResult::Opened {
                        result: Ok(ws.clone()),
                    },
                },
            ));
            continue;
        }
        let mut msgs = vec![];
        execute(&req, cmd, |m| {
            msgs.push(m);
            true
        });
        for m in msgs {
            cmds.extend(crate::tui::update(app, m));
        }
    }
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

/// Starts a command: background jobs on a blocking task of `rt`, clipboard and cancellation right here.
fn spawn(rt: &Runtime, req: &OpenRequest, tx: &UnboundedSender<Msg>, cmd: Command) {
    match cmd {
        Command::Copy(text) => copy_osc52(&text),
        Command::Cancel { token, .. } => token.cancel(),
        Command::Task { .. } => {
            let (req, tx) = (req.clone(), tx.clone());
            rt.spawn_blocking(move || {
                execute(&req, cmd, |m| tx.send(m).is_ok());
            });
        }
    }
}
