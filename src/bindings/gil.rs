//! The one way to run core work: detached from the interpreter, inside custval's pool,
//! with panics turned into Python exceptions.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use super::errors::internal_error;
use crate::core::error::{CoreError, Result as CoreResult};

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

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
    if let Some(pool) = POOL.read().ok().and_then(|guard| guard.clone()) {
        return Ok(pool);
    }
    let mut guard = POOL
        .write()
        .map_err(|_| internal_error("thread pool lock poisoned"))?;
    if guard.is_none() {
        *guard = Some(build_pool(default_threads())?);
    }
    guard
        .clone()
        .ok_or_else(|| internal_error("thread pool unavailable"))
}

pub fn set_num_threads(threads: usize) -> PyResult<()> {
    if threads == 0 {
        return Err(CoreError::argument("n", "set_num_threads needs at least 1 thread").into());
    }
    let new_pool = build_pool(threads)?;
    let mut guard = POOL
        .write()
        .map_err(|_| internal_error("thread pool lock poisoned"))?;
    *guard = Some(new_pool);
    Ok(())
}

pub fn num_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}

/// Runs `work` without the GIL on custval's pool.
pub fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> CoreResult<T> + Send,
{
    let pool = pool()?;
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| pool.install(work))));
    match outcome {
        Ok(result) => result.map_err(PyErr::from),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(internal_error(format!(
                "internal error in custval's native core (please report): {reason}"
            )))
        }
    }
}
