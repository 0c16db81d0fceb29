//! The engine's async runtime. delta-rs and LanceDB are async; the engine's API is synchronous (the TUI runs it
//! on blocking tasks, the CLI calls it directly), so backend calls go through [`block_on`].

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("metaxy-engine-io")
            .enable_all()
            .build()
            .expect("cannot start the engine's tokio runtime")
    })
}

/// Runs `fut` to completion on the engine's runtime and returns its output.
///
/// Safe to call from any thread, including a thread that is already inside another tokio runtime (a TUI blocking
/// task): in that case the future is driven from a scoped helper thread, because tokio forbids nesting
/// `block_on` calls on one thread.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        runtime().block_on(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_outside_and_inside_another_runtime() {
        assert_eq!(block_on(async { 1 }), 1);
        // the TUI calls the engine from blocking tasks of its own runtime
        let other = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let v = other.block_on(async {
            let from_blocking = tokio::task::spawn_blocking(|| block_on(async { 2 }))
                .await
                .unwrap();
            // and even from async code of that runtime (a nested block_on would panic without the helper thread)
            from_blocking + block_on(async { 3 })
        });
        assert_eq!(v, 5);
    }
}
