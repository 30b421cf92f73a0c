//! The whole log scattered into its partitions at once, for the path that must see every row
//! of a partition before aggregating it (a log out of period order within customers): two
//! passes over the rows in input order (a partition histogram per task, then a stable scatter
//! into one exactly sized buffer), so each partition keeps the input order.
use rayon::prelude::*;

use crate::core::interrupt::checkpoint;
use crate::core::log::{record, Columns, Counts, Options, Tx};
use crate::core::partition::hash::{hasher, partition_of, SKIP};
use crate::core::partition::mem::DisjointWriter;

/// Rows per task of a scatter.
pub(crate) fn chunk_rows(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads() * 4).max(16_384)
}

/// Transactions grouped by partition in one buffer, plus what the scatter skipped or summed.
pub(crate) struct Scattered {
    txs: Vec<Tx>,
    bounds: Vec<usize>,
    pub(crate) counts: Counts,
}

impl Scattered {
    /// Each partition's transactions, in row order.
    pub(crate) fn parts(&self) -> Vec<&[Tx]> {
        self.bounds
            .windows(2)
            .map(|w| &self.txs[w[0]..w[1]])
            .collect()
    }
}

/// Two passes over the rows in input order: partition histogram, then a stable scatter into
/// one exactly sized buffer.
pub(crate) fn scatter(columns: &Columns, options: &Options, n: usize, bits: u32) -> Scattered {
    let parts = 1usize << bits;
    let state = hasher();
    let chunk = chunk_rows(n);
    let mut keys = vec![0u8; n];
    let histograms: Vec<(Vec<usize>, Counts)> = keys
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(block_index, block)| {
            checkpoint();
            let base = block_index * chunk;
            let mut sizes = vec![0usize; parts];
            let mut counts = Counts::new();
            for (i, key) in block.iter_mut().enumerate() {
                if counts.in_window(&options.window, columns.times[base + i]) {
                    let p = partition_of(columns.ids.hash(&state, base + i), bits);
                    *key = p as u8;
                    sizes[p] += 1;
                } else {
                    *key = SKIP;
                }
            }
            (sizes, counts)
        })
        .collect();
    let mut bounds = Vec::with_capacity(parts + 1);
    let mut starts = vec![vec![0usize; parts]; histograms.len()];
    let mut offset = 0;
    for p in 0..parts {
        bounds.push(offset);
        for (start, (sizes, _)) in starts.iter_mut().zip(&histograms) {
            start[p] = offset;
            offset += sizes[p];
        }
    }
    bounds.push(offset);
    let mut txs: Vec<Tx> = Vec::with_capacity(offset);
    let target = DisjointWriter(txs.as_mut_ptr());
    let written: Vec<Counts> = keys
        .par_chunks(chunk)
        .zip(starts.into_par_iter())
        .enumerate()
        .map(|(block_index, (block, mut cursor))| {
            checkpoint();
            let base = block_index * chunk;
            let mut counts = Counts::new();
            for (i, &p) in block.iter().enumerate() {
                if p == SKIP {
                    continue;
                }
                let tx = record(columns, options, &state, base + i, &mut counts);
                let slot = &mut cursor[p as usize];
                // SAFETY: `slot` walks this chunk's reserved range of partition `p`, and the
                // prefix sums give every (chunk, partition) pair a disjoint range below `offset`.
                unsafe { target.write(*slot, tx) };
                *slot += 1;
            }
            counts
        })
        .collect();
    // SAFETY: the scatter wrote every position below `offset` exactly once.
    unsafe { txs.set_len(offset) };
    let counts = Counts::sum(histograms.into_iter().map(|(_, c)| c).chain(written));
    Scattered {
        txs,
        bounds,
        counts,
    }
}
