//! Cooperative interruption of long core work (Ctrl-C from Python).
//!
//! The bindings [`request`] an interrupt when the caller's thread receives a signal; kernels
//! call [`checkpoint`] between blocks of work (a block of rows, a partition, an optimiser
//! iteration), which unwinds with an [`Interrupted`] payload. Unwinding, rather than a
//! `Result` threaded through every kernel, is what lets a checkpoint sit inside a rayon
//! closure: rayon carries the unwind out of `par_iter` to the caller, and other tasks stop at
//! their own next checkpoint. `resume_unwind` skips the panic hook, so nothing is printed.
//!
//! The flag is process-wide on purpose: Ctrl-C stops every custval call running at that moment
//! (all of them answer `KeyboardInterrupt`), and calls that start while an interrupt is being
//! delivered wait for it to finish ([`Gate`]) instead of being stopped by it.
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// The unwind payload of an interrupted computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Unwinds with [`Interrupted`] when an interrupt was requested; otherwise one atomic load.
#[inline]
pub fn checkpoint() {
    if REQUESTED.load(Ordering::Relaxed) {
        resume_unwind(Box::new(Interrupted));
    }
}

/// Asks every running computation to stop at its next checkpoint.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// One running computation: while any is alive a requested interrupt stays pending; the last
/// one to finish clears it, so the next call starts clean.
pub struct Gate(());

impl Gate {
    /// Enters, first waiting out an interrupt still being delivered to earlier calls.
    pub fn enter() -> Gate {
        while REQUESTED.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        RUNNING.fetch_add(1, Ordering::AcqRel);
        Gate(())
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if RUNNING.fetch_sub(1, Ordering::AcqRel) == 1 {
            REQUESTED.store(false, Ordering::Release);
        }
    }
}
