//! Memory-access helpers of the partitioned pass: software prefetch (rows are looked up in
//! hash tables at random, so the pass loads what rows [`LOOKAHEAD`] ahead will touch), and a
//! raw pointer for parallel tasks that each write their own positions of one output.

/// Transactions between a state's prefetch and its use: enough to cover a memory access.
pub(crate) const LOOKAHEAD: usize = 16;

#[inline(always)]
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; the address comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            (item as *const T).cast::<i8>(),
            std::arch::x86_64::_MM_HINT_T0,
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Raw output pointer shared by tasks that write disjoint positions.
#[derive(Clone, Copy)]
pub(crate) struct DisjointWriter<T>(pub(crate) *mut T);
// SAFETY: callers of `write` guarantee that no position is written by two tasks.
unsafe impl<T: Send> Send for DisjointWriter<T> {}
unsafe impl<T: Send> Sync for DisjointWriter<T> {}

impl<T> DisjointWriter<T> {
    /// # Safety
    /// `index` must be in bounds and written by one task only.
    pub(crate) unsafe fn write(self, index: usize, value: T) {
        unsafe { self.0.add(index).write(value) };
    }
}
