//! One block of a [`Stream`](super::Stream) batch scattered in a single pass: each task
//! appends its rows' records to its own buffer per partition, whole cache-line groups written
//! with non-temporal stores (the records are read back once, by another thread, so caching
//! them on the way out would only evict the customer states). Reading a partition's buffers
//! task by task gives its records in row order.
use rayon::prelude::*;

use crate::core::interrupt::checkpoint;
use crate::core::log::{record, Columns, Counts, Options, Tx};
use crate::core::partition::hash::{hasher, partition_of};
use crate::core::partition::scatter::chunk_rows;

/// One block of rows scattered in a single pass into per-task, per-partition buffers (kept
/// between blocks for their capacity): partition `p` is `tasks[0][p]`, `tasks[1][p]`, … in
/// row order.
#[derive(Default)]
pub(crate) struct BlockBuffers {
    tasks: Vec<Vec<TaskBuffer>>,
    pub(crate) counts: Counts,
}

/// Records per group: 192 bytes, three whole cache lines.
const GROUP: usize = 8;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Group([Tx; GROUP]);

// Groups are plain runs of records, so a slice of groups can be read as a slice of records.
const _: () = assert!(std::mem::size_of::<Group>() == GROUP * std::mem::size_of::<Tx>());

/// One task's records of one partition: whole groups written with non-temporal stores (which
/// skip reading the destination lines into cache first), then up to `GROUP - 1` staged ones.
#[derive(Default)]
struct TaskBuffer {
    groups: Vec<Group>,
    staged: Group,
    staged_len: usize,
}

impl TaskBuffer {
    fn clear(&mut self) {
        self.groups.clear();
        self.staged_len = 0;
    }

    #[inline(always)]
    fn push(&mut self, tx: Tx) {
        self.staged.0[self.staged_len] = tx;
        self.staged_len += 1;
        if self.staged_len == GROUP {
            self.groups.reserve(1);
            // SAFETY: capacity for one more group was reserved; `store_nontemporal` writes all
            // of it.
            unsafe {
                store_nontemporal(
                    &self.staged,
                    self.groups.as_mut_ptr().add(self.groups.len()),
                );
                self.groups.set_len(self.groups.len() + 1);
            }
            self.staged_len = 0;
        }
    }

    /// The records in order: whole groups, then the staged ones.
    fn slices(&self) -> [&[Tx]; 2] {
        // SAFETY: a `Group` is `GROUP` records with no padding (asserted above).
        let groups = unsafe {
            std::slice::from_raw_parts(self.groups.as_ptr().cast::<Tx>(), self.groups.len() * GROUP)
        };
        [groups, &self.staged.0[..self.staged_len]]
    }
}

/// Copies a group to `dst` with non-temporal stores where the platform has them.
///
/// # Safety
/// `dst` must be valid for writing one `Group` (it is 64-byte aligned by type).
#[inline(always)]
unsafe fn store_nontemporal(src: &Group, dst: *mut Group) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::{__m128i, _mm_load_si128, _mm_stream_si128};
        let from = (src as *const Group).cast::<__m128i>();
        let to = dst.cast::<__m128i>();
        for k in 0..std::mem::size_of::<Group>() / 16 {
            _mm_stream_si128(to.add(k), _mm_load_si128(from.add(k)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unsafe {
        dst.write(*src)
    };
}

/// Orders this thread's non-temporal stores before the records are read by other threads.
fn nontemporal_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

impl BlockBuffers {
    /// Scatters all rows of `columns` (rows numbered from 0).
    pub(crate) fn fill(&mut self, columns: &Columns, options: &Options, bits: u32) {
        let range = 0..columns.times.len();
        let parts = 1usize << bits;
        let chunk = chunk_rows(range.len());
        let tasks = range.len().div_ceil(chunk);
        self.tasks
            .resize_with(tasks.max(self.tasks.len()), Vec::new);
        let expected = (chunk / parts + chunk / parts / 8) / GROUP + 8;
        let state = hasher();
        let first = range.start;
        let end = range.end;
        let counts: Vec<Counts> = self.tasks[..tasks]
            .par_iter_mut()
            .enumerate()
            .map(|(task, buffers)| {
                checkpoint();
                buffers.resize_with(parts, || TaskBuffer {
                    groups: Vec::with_capacity(expected),
                    ..TaskBuffer::default()
                });
                buffers.iter_mut().for_each(TaskBuffer::clear);
                let mut counts = Counts::new();
                let rows = first + task * chunk..end.min(first + (task + 1) * chunk);
                for row in rows {
                    if counts.in_window(&options.window, columns.times[row]) {
                        let tx = record(columns, options, &state, row, &mut counts);
                        buffers[partition_of(tx.key, bits)].push(tx);
                    }
                }
                nontemporal_fence();
                counts
            })
            .collect();
        self.tasks[tasks..]
            .iter_mut()
            .flatten()
            .for_each(TaskBuffer::clear);
        self.counts = Counts::sum(counts.into_iter());
    }

    /// Partition `p`'s transactions in row order, in slices.
    pub(crate) fn partition(&self, p: usize) -> impl Iterator<Item = &[Tx]> {
        self.tasks.iter().flat_map(move |task| task[p].slices())
    }
}
