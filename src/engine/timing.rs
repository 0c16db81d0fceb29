//! Phase timings of the engine's slow paths, printed to stderr when `METAXY_TUI_TIMINGS=1` (used by the
//! benchmark harness in `bench/` to show where the time of a `resolve_update` goes). Off by default: a disabled
//! [`span`] costs one relaxed atomic load.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

static STATE: AtomicU8 = AtomicU8::new(0); // 0 = unknown, 1 = off, 2 = on

/// Whether `METAXY_TUI_TIMINGS` is set to something other than `0` / empty (read once per process).
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let on = std::env::var("METAXY_TUI_TIMINGS")
                .map(|v| !v.is_empty() && v != "0")
                .unwrap_or(false);
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

/// A running phase; prints `timing <name> <ms> ms` to stderr when dropped (only when [`enabled`]).
pub struct Span {
    name: Option<(String, Instant)>,
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some((name, t0)) = self.name.take() {
            eprintln!(
                "timing {name} {:.1} ms",
                t0.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
}

/// Starts a phase named by `name()` (the closure only runs when timings are enabled).
pub fn span(name: impl FnOnce() -> String) -> Span {
    Span {
        name: enabled().then(|| (name(), Instant::now())),
    }
}
