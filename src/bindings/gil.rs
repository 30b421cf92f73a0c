//! The one way to run core work: detached from the interpreter, inside custval's pool, with
//! panics turned into Python exceptions and Ctrl-C turned into `KeyboardInterrupt`.
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use super::errors::{internal_error, interrupted};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::interrupt::{self, Gate, Interrupted};

/// custval's pool and the process that started it: a child forked from that process has
/// none of its threads (only the forking thread survives a fork), so it starts its own.
struct Pooled {
    pid: u32,
    pool: Arc<ThreadPool>,
}

static POOL: RwLock<Option<Pooled>> = RwLock::new(None);

/// How often a waiting caller looks for signals: well under the one second a user waits.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build_pool(threads: usize) -> PyResult<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("custval-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| internal_error(format!("cannot start thread pool: {e}")))
}

fn pool() -> PyResult<Arc<ThreadPool>> {
    let pid = std::process::id();
    let current = |pooled: &Option<Pooled>| {
        pooled
            .as_ref()
            .filter(|p| p.pid == pid)
            .map(|p| p.pool.clone())
    };
    if let Some(pool) = POOL.read().ok().and_then(|guard| current(&guard)) {
        return Ok(pool);
    }
    let mut guard = POOL
        .write()
        .map_err(|_| internal_error("thread pool lock poisoned"))?;
    if let Some(pool) = current(&guard) {
        return Ok(pool);
    }
    // First use, or the first in a forked child: there, keep the parent's pool size, and
    // leak the parent's pool rather than drop it (its threads do not exist here).
    let threads = guard
        .take()
        .map(|stale| {
            let threads = stale.pool.current_num_threads();
            std::mem::forget(stale.pool);
            threads
        })
        .unwrap_or_else(default_threads);
    let pool = build_pool(threads)?;
    *guard = Some(Pooled {
        pid,
        pool: pool.clone(),
    });
    Ok(pool)
}

pub fn set_num_threads(threads: usize) -> PyResult<()> {
    if threads == 0 {
        return Err(CoreError::argument("n", "set_num_threads needs at least 1 thread").into());
    }
    let new_pool = build_pool(threads)?;
    let mut guard = POOL
        .write()
        .map_err(|_| internal_error("thread pool lock poisoned"))?;
    let pid = std::process::id();
    if let Some(stale) = guard.take().filter(|p| p.pid != pid) {
        std::mem::forget(stale.pool);
    }
    *guard = Some(Pooled {
        pid,
        pool: new_pool,
    });
    Ok(())
}

pub fn num_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}

type Outcome<T> = std::thread::Result<CoreResult<T>>;

/// Runs `work` without the GIL on custval's pool.
///
/// The work runs as a job of the pool while the caller waits for it, waking every
/// [`SIGNAL_POLL`] to let Python run its signal handlers: only the waiting thread can receive
/// Ctrl-C, and Python raises `KeyboardInterrupt` only when a thread holding the GIL asks.
/// On an interrupt every running kernel is asked to stop at its next checkpoint, the caller
/// waits for that (so no custval thread keeps working), and the `KeyboardInterrupt` is
/// returned.
pub fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> CoreResult<T> + Send,
{
    let pool = pool()?;
    let (outcome, signal) = py.detach(|| {
        let _gate = Gate::enter();
        // The work is a job of the pool itself (no thread to start: a call costs
        // microseconds); the scope ends only when it has.
        pool.in_place_scope(|scope| {
            let (done, finished) = mpsc::channel::<Outcome<T>>();
            scope.spawn(move |_| {
                let outcome = catch_unwind(AssertUnwindSafe(work));
                // The receiver outlives the scope's jobs, so this send cannot fail.
                let _ = done.send(outcome);
            });
            wait(&finished)
        })
    });
    match (outcome, signal) {
        (_, Some(signal)) => Err(signal),
        (Ok(result), None) => result.map_err(PyErr::from),
        (Err(panic), None) => Err(panic_error(panic)),
    }
}

/// The outcome of the work, and the signal's exception when one interrupted it.
fn wait<T>(finished: &mpsc::Receiver<Outcome<T>>) -> (Outcome<T>, Option<PyErr>) {
    loop {
        match finished.recv_timeout(SIGNAL_POLL) {
            Ok(outcome) => return (outcome, None),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(signal) = Python::attach(|py| py.check_signals()) {
                    interrupt::request();
                    return (receive(finished), Some(signal));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return (Err(Box::new(NO_ANSWER)), None),
        }
    }
}

fn receive<T>(finished: &mpsc::Receiver<Outcome<T>>) -> Outcome<T> {
    finished.recv().unwrap_or_else(|_| Err(Box::new(NO_ANSWER)))
}

/// Reported as an internal error if the worker thread ever ends without sending its outcome.
const NO_ANSWER: &str = "custval's worker thread ended without an answer";

fn panic_error(panic: Box<dyn Any + Send>) -> PyErr {
    if panic.downcast_ref::<Interrupted>().is_some() {
        // Another call's Ctrl-C stopped this one too.
        return interrupted();
    }
    let reason = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    internal_error(format!(
        "internal error in custval's native core (please report): {reason}"
    ))
}
