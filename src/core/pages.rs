//! Large result columns written once. Filling a few hundred megabytes of fresh memory costs
//! one page fault per 4 KiB page — tens of thousands, a fifth of a fast kernel's time — unless
//! the kernel backs the memory with 2 MiB pages, which Linux does for ranges asked for
//! (transparent huge pages in their common `madvise` mode).

/// Below this, huge pages are not worth a system call.
const WORTH_IT: usize = 4 << 20;

/// A zeroed vector of `len` values whose pages, on Linux, are asked to be huge before they
/// are first touched; elsewhere, or when the kernel declines, a plain `vec![0; len]`.
pub fn zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let values = vec![T::default(); len];
    advise_huge(&values);
    values
}

/// An empty vector with room for `len` values, advised like [`zeroed`].
pub fn with_capacity<T>(len: usize) -> Vec<T> {
    let values = Vec::with_capacity(len);
    advise_huge(&values);
    values
}

/// Asks for huge pages over the whole 2 MiB pages inside the vector's allocation. Only
/// advice: contents and ownership are unchanged whether or not the kernel follows it.
fn advise_huge<T>(values: &Vec<T>) {
    let bytes = values.capacity() * std::mem::size_of::<T>();
    if bytes < WORTH_IT {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = values.as_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside the vector's own allocation, and MADV_HUGEPAGE
            // changes neither its contents nor its mapping, only how later faults are served.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn large_vectors_are_zeroed_and_usable() {
        let mut v: Vec<f64> = super::zeroed(3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[12_345] = 1.5;
        assert_eq!(v.iter().sum::<f64>(), 1.5);
        let mut w: Vec<u64> = super::with_capacity(1 << 20);
        w.extend(0..1 << 20);
        assert_eq!(w[777], 777);
    }
}
