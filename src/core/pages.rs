//! Large result columns written once. Filling a few hundred megabytes of fresh memory costs
//! one page fault per 4 KiB page — tens of thousands, a fifth of a fast kernel's time — unless
//! the kernel backs the memory with 2 MiB pages, which Linux does for ranges asked for
//! (transparent huge pages in their common `madvise` mode).

use std::mem::MaybeUninit;

use rayon::prelude::*;

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

/// A vector of `len` values written once, in parallel, with no zeroing pass first: on memory
/// the allocator recycles, `vec![0.0; len]` is a memset that costs as much as a light
/// kernel's whole work (measured: the Pareto/NBD new-customer curve of 1M rows, 1.77 ms →
/// 1.41 ms). `fill(offset, block)` gets consecutive blocks of at most `block_len` values,
/// `offset` being the index of the block's first value, and returns a summary of its block
/// (say, its invalid rows) that `combine` adds up from `R::default()`.
///
/// # Safety
/// `fill` must write every value of each block it is given (unless it panics): the vector
/// is returned with all `len` values taken as written.
pub unsafe fn par_written<T, R>(
    len: usize,
    block_len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) -> R + Sync + Send,
    combine: impl Fn(R, R) -> R + Sync + Send,
) -> (Vec<T>, R)
where
    T: Send,
    R: Default + Send,
{
    let mut values = with_capacity::<T>(len);
    let summary = values.spare_capacity_mut()[..len]
        .par_chunks_mut(block_len)
        .enumerate()
        .map(|(i, block)| fill(i * block_len, block))
        .reduce(R::default, combine);
    // SAFETY: the blocks cover 0..len and the caller's `fill` wrote each of their values; had
    // it panicked, the vector would have been dropped empty.
    unsafe { values.set_len(len) };
    (values, summary)
}

/// Writes `values` into `out` (the same length or shorter: the first `out.len()` values,
/// each 8 bytes: `f64`, `i64`) with non-temporal stores where the CPU has them: result
/// columns are written once and read later, by the caller, so bringing their lines into the
/// cache first (a read for every line written) is wasted (measured: affinity's eight rule
/// columns, 1.83M rows, 24.8 → 23.3 ms). A value off the 16-byte grid at either end is
/// written plainly, as is everything elsewhere. Call [`fence`] before the values are read
/// from another thread.
#[inline(always)]
pub fn write_streaming<T: Copy>(out: &mut [MaybeUninit<T>], values: &[T]) {
    let len = out.len().min(values.len());
    let (out, values) = (&mut out[..len], &values[..len]);
    #[cfg(target_arch = "x86_64")]
    if size_of::<T>() == 8 && align_of::<T>() == 8 {
        use std::arch::x86_64::{_mm_loadu_si128, _mm_stream_si128};
        let head = usize::from((out.as_ptr() as usize) % 16 != 0).min(len);
        let pairs = (len - head) / 2;
        for k in 0..pairs {
            let at = head + 2 * k;
            // SAFETY: SSE2 is part of x86_64; values `at` and `at + 1` are inside both
            // slices, and the store address is 16-byte aligned (`out` is 8-byte aligned, and
            // `head` skips its first value when that is off the 16-byte grid).
            unsafe {
                _mm_stream_si128(
                    out.as_mut_ptr().add(at).cast(),
                    _mm_loadu_si128(values.as_ptr().add(at).cast()),
                );
            }
        }
        for at in (0..head).chain(head + 2 * pairs..len) {
            out[at].write(values[at]);
        }
        return;
    }
    for (out, &value) in out.iter_mut().zip(values) {
        out.write(value);
    }
}

/// Orders the non-temporal stores of [`write_streaming`] before any later store (such as
/// the one that tells another thread the work is done).
#[inline]
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86_64; a fence has no other effect.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
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
        // SAFETY: the block writes all its values.
        let (u, written) = unsafe {
            super::par_written::<u64, usize>(
                (3 << 20) + 5,
                1000,
                |offset, block| {
                    for (i, value) in block.iter_mut().enumerate() {
                        value.write((offset + i) as u64);
                    }
                    block.len()
                },
                |a, b| a + b,
            )
        };
        assert!(u.iter().enumerate().all(|(i, &v)| v == i as u64));
        assert_eq!(written, u.len());
    }

    #[test]
    fn streamed_writes_land_like_plain_ones() {
        let values: Vec<f64> = (0..16).map(|i| i as f64 * 0.5).collect();
        let mut room = vec![std::mem::MaybeUninit::new(f64::NAN); 40];
        // Aligned and not, even and odd lengths: streamed or written plainly, same values.
        for (start, len) in [(0, 16), (1, 16), (2, 7), (4, 10), (3, 0)] {
            super::write_streaming(&mut room[start..start + len], &values);
            super::fence();
            for (i, slot) in room[start..start + len].iter().enumerate() {
                // SAFETY: every slot was initialised (NaN) before, and is written now.
                assert_eq!(unsafe { slot.assume_init() }, values[i], "{start} {len}");
            }
        }
    }
}
