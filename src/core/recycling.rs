//! A global allocator that keeps large blocks for the next call instead of handing them back
//! to the kernel. A fresh block costs a page fault and a kernel-zeroed page for every page
//! first touched: for the 175 MB of a 1.8M-pair affinity result that was a quarter of the
//! whole call. Calls on the same data ask for the same sizes, so the blocks of one call's
//! result, freed when the caller drops it, serve the next call already mapped.
//!
//! Small blocks (below [`LARGE`]) go to the system allocator untouched. Large ones are mapped
//! on whole 2 MiB pages (advised huge, as `pages` does), rounded up to a multiple of them, and
//! on release kept in a small pool (at most [`CAP`] bytes, the oldest released first) after
//! `MADV_FREE`: the kernel may still take their pages back under memory pressure, in which
//! case they come back zeroed on first touch, as fresh ones would. Nothing else changes:
//! contents of a new block are unspecified either way, and `alloc_zeroed` zeroes a recycled
//! block itself. Off Linux, everything goes to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of this size and above are mapped and recycled.
pub const LARGE: usize = 256 << 10;
/// Large blocks are whole huge pages.
const GRAIN: usize = 2 << 20;
/// Most bytes kept for reuse.
pub const CAP: usize = 1 << 30;
/// Most blocks kept for reuse.
const SLOTS: usize = 256;

/// The allocator: declare `#[global_allocator] static A: Recycling = Recycling;`.
pub struct Recycling;

#[inline]
fn is_large(layout: &Layout) -> bool {
    cfg!(target_os = "linux") && layout.size() >= LARGE && layout.align() <= GRAIN
}

/// The mapped size of a large block of `size` bytes: a power of two below a huge page (so
/// a vector doubling its room reuses the same few sizes), whole huge pages above.
#[inline]
fn mapped(size: usize) -> usize {
    if size <= GRAIN {
        size.next_power_of_two()
    } else {
        size.next_multiple_of(GRAIN)
    }
}

unsafe impl GlobalAlloc for Recycling {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !is_large(&layout) {
            // SAFETY: forwarded unchanged.
            return unsafe { System.alloc(layout) };
        }
        large::take(mapped(layout.size()), false)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !is_large(&layout) {
            // SAFETY: forwarded unchanged.
            return unsafe { System.alloc_zeroed(layout) };
        }
        large::take(mapped(layout.size()), true)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !is_large(&layout) {
            // SAFETY: `ptr` came from `System` with this layout (small layouts always do).
            return unsafe { System.dealloc(ptr, layout) };
        }
        large::give(ptr, mapped(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` is a valid size for `layout.align()`.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (is_large(&layout), is_large(&new)) {
            // SAFETY: forwarded unchanged.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) if mapped(layout.size()) == mapped(new_size) => ptr,
            _ => {
                // SAFETY: `new` is a valid layout; the old block holds `layout.size()` bytes
                // and the new one `new_size`, so the copy stays inside both.
                unsafe {
                    let moved = self.alloc(new);
                    if !moved.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    moved
                }
            }
        }
    }
}

/// The bytes held for reuse now (for tests and diagnostics).
pub fn cached_bytes() -> usize {
    large::cached_bytes()
}

/// Hands every block held for reuse back to the system; returns their bytes.
pub fn release() -> usize {
    large::release()
}

#[cfg(target_os = "linux")]
mod large {
    use super::{CAP, GRAIN, SLOTS};
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Once;

    /// Released blocks, oldest first: (address, mapped bytes).
    struct Pool {
        blocks: [(usize, usize); SLOTS],
        len: usize,
        bytes: usize,
    }

    /// The pool behind a spin lock rather than a `Mutex`: its critical sections are a few
    /// hundred instructions with no system call, and the lock must be held across `fork()`
    /// (see [`at_fork`]), which a guard cannot be.
    struct Locked {
        busy: AtomicBool,
        pool: UnsafeCell<Pool>,
    }

    // SAFETY: `pool` is only reached through `Guard`, which holds `busy`.
    unsafe impl Sync for Locked {}

    static POOL: Locked = Locked {
        busy: AtomicBool::new(false),
        pool: UnsafeCell::new(Pool {
            blocks: [(0, 0); SLOTS],
            len: 0,
            bytes: 0,
        }),
    };

    fn lock() {
        while POOL
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }

    fn unlock() {
        POOL.busy.store(false, Ordering::Release);
    }

    /// The pool, locked until the guard drops.
    struct Guard;

    impl std::ops::Deref for Guard {
        type Target = Pool;
        fn deref(&self) -> &Pool {
            // SAFETY: the guard holds the lock: no other reference to the pool exists.
            unsafe { &*POOL.pool.get() }
        }
    }

    impl std::ops::DerefMut for Guard {
        fn deref_mut(&mut self) -> &mut Pool {
            // SAFETY: as above, and `&mut self` makes this the only one through the guard.
            unsafe { &mut *POOL.pool.get() }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            unlock();
        }
    }

    fn pool() -> Guard {
        static AT_FORK: Once = Once::new();
        AT_FORK.call_once(at_fork);
        lock();
        Guard
    }

    /// A process forked while another thread holds the lock (Airflow's and
    /// multiprocessing's default start) would find it held forever in the child: the lock
    /// is taken before `fork()` and released on both sides after, as glibc does for malloc.
    fn at_fork() {
        extern "C" fn prepare() {
            lock();
        }
        extern "C" fn after() {
            unlock();
        }
        // SAFETY: the handlers only touch the lock; registration copies the pointers.
        unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after)) };
    }

    pub fn cached_bytes() -> usize {
        pool().bytes
    }

    pub fn release() -> usize {
        let (blocks, len) = {
            let mut pool = pool();
            let taken = (pool.blocks, pool.len);
            pool.len = 0;
            pool.bytes = 0;
            taken
        };
        for &(address, bytes) in &blocks[..len] {
            unmap(address, bytes);
        }
        blocks[..len].iter().map(|&(_, bytes)| bytes).sum()
    }

    /// A block of `bytes` (a multiple of `GRAIN`): a released one of exactly that size, the
    /// most recent first, else a new mapping. Null when the system has no memory.
    pub fn take(bytes: usize, zeroed: bool) -> *mut u8 {
        let reused = {
            let mut pool = pool();
            let len = pool.len;
            let found = pool.blocks[..len].iter().rposition(|&(_, b)| b == bytes);
            found.map(|i| {
                let (address, _) = pool.blocks[i];
                pool.blocks.copy_within(i + 1..len, i);
                pool.len -= 1;
                pool.bytes -= bytes;
                address as *mut u8
            })
        };
        match reused {
            Some(block) => {
                if zeroed {
                    // SAFETY: the block is ours, mapped and `bytes` long.
                    unsafe { std::ptr::write_bytes(block, 0, bytes) };
                }
                block
            }
            // A fresh mapping reads as zeros.
            None => map(bytes),
        }
    }

    /// Keeps a released block for reuse, making room by unmapping the oldest ones; a block
    /// larger than the whole pool is unmapped at once.
    pub fn give(block: *mut u8, bytes: usize) {
        if bytes > CAP {
            unmap(block as usize, bytes);
            return;
        }
        // SAFETY: the block is ours and mapped; MADV_FREE only lets the kernel reclaim its
        // pages lazily (they read as zeros if it does), which a free block may.
        unsafe { libc::madvise(block.cast(), bytes, libc::MADV_FREE) };
        let mut evicted = [(0usize, 0usize); SLOTS];
        let mut n_evicted = 0;
        {
            let mut pool = pool();
            while pool.len > 0 && (pool.len == SLOTS || pool.bytes + bytes > CAP) {
                let oldest = pool.blocks[0];
                let len = pool.len;
                pool.blocks.copy_within(1..len, 0);
                pool.len -= 1;
                pool.bytes -= oldest.1;
                evicted[n_evicted] = oldest;
                n_evicted += 1;
            }
            let len = pool.len;
            pool.blocks[len] = (block as usize, bytes);
            pool.len += 1;
            pool.bytes += bytes;
        }
        for &(address, size) in &evicted[..n_evicted] {
            unmap(address, size);
        }
    }

    /// A new mapping of `bytes`, aligned to `GRAIN` and advised huge.
    fn map(bytes: usize) -> *mut u8 {
        let span = bytes + GRAIN;
        // SAFETY: an anonymous private mapping; nothing else refers to it.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(GRAIN);
        // Trim the unaligned head and the tail beyond `bytes`.
        if aligned > start {
            unmap(start, aligned - start);
        }
        let tail = start + span - (aligned + bytes);
        if tail > 0 {
            unmap(aligned + bytes, tail);
        }
        // SAFETY: the range is our own mapping; MADV_HUGEPAGE is advice only.
        unsafe { libc::madvise(aligned as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE) };
        aligned as *mut u8
    }

    fn unmap(address: usize, bytes: usize) {
        // SAFETY: the range is a mapping of ours that nothing refers to any more.
        unsafe { libc::munmap(address as *mut libc::c_void, bytes) };
    }
}

#[cfg(not(target_os = "linux"))]
mod large {
    // `is_large` is false off Linux: these are never called.
    pub fn cached_bytes() -> usize {
        0
    }
    pub fn release() -> usize {
        0
    }
    pub fn take(_bytes: usize, _zeroed: bool) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub fn give(_block: *mut u8, _bytes: usize) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// One test: the pool is process-wide, so its steps must not interleave with another's.
    #[test]
    fn large_blocks_come_back_for_the_same_size_and_keep_their_contract() {
        let alloc = Recycling;
        let size = LARGE + 12_345;
        let layout = Layout::from_size_align(size, 64).unwrap();
        // SAFETY: every block is used within its layout and freed with it.
        unsafe {
            let first = alloc.alloc(layout);
            assert!(!first.is_null());
            assert_eq!(first as usize % GRAIN, 0);
            std::ptr::write_bytes(first, 7, size);
            alloc.dealloc(first, layout);
            assert!(cached_bytes() >= mapped(size));
            // Same size class: the same block, contents unspecified.
            let again = alloc.alloc(layout);
            assert_eq!(again, first);
            alloc.dealloc(again, layout);
            // Zeroed even when recycled.
            let zeroed = alloc.alloc_zeroed(layout);
            assert_eq!(zeroed, first);
            assert!(std::slice::from_raw_parts(zeroed, size)
                .iter()
                .all(|&b| b == 0));
            // Growing inside the mapped size keeps the block; past it, the contents move.
            *zeroed.add(size - 1) = 42;
            let grown = alloc.realloc(zeroed, layout, mapped(size));
            assert_eq!(grown, zeroed);
            let grown_layout = Layout::from_size_align(mapped(size), 64).unwrap();
            let moved = alloc.realloc(grown, grown_layout, mapped(size) + 1);
            assert_eq!(*moved.add(size - 1), 42);
            // Shrinking below `LARGE` hands the contents to the system allocator.
            let moved_layout = Layout::from_size_align(mapped(size) + 1, 64).unwrap();
            let small = alloc.realloc(moved, moved_layout, 100);
            assert_eq!(*small.add(99), 0);
            alloc.dealloc(small, Layout::from_size_align(100, 64).unwrap());
            // The pool never holds more than its cap: a block over it is unmapped at once.
            let huge = Layout::from_size_align(CAP + 1, 64).unwrap();
            let before = cached_bytes();
            let block = alloc.alloc(huge);
            assert!(!block.is_null());
            alloc.dealloc(block, huge);
            assert_eq!(cached_bytes(), before);
            assert!(cached_bytes() <= CAP);
            // Released: nothing held, and the next block is a fresh mapping.
            assert_eq!(release(), before);
            assert_eq!(cached_bytes(), 0);
            assert_eq!(release(), 0);
        }
    }
}
