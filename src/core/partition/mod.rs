//! The batch-by-batch, radix-partitioned pass shared by the builders of per-customer state
//! ([`CustomerBuilder`](crate::core::customers::CustomerBuilder)) and of per-period
//! activity ([`ActivityBuilder`](crate::core::activity::ActivityBuilder)).
//!
//! Rows are partitioned by a hash of the customer id ([`hash`]); each block of a batch is
//! scattered into per-task buffers (`buffers`) and every partition's transactions, in row
//! order, are fed to that partition's [`Consumer`], all partitions in parallel: no locks, and
//! each consumer keeps its own hash table (`table`). A consumer never points back into the
//! input, so a log can arrive as a [`Stream`] of batches that are dropped once consumed. The
//! whole-log alternative, for consumers that need every row of a partition first, is
//! `scatter`.
use rayon::prelude::*;

use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::log::{
    check_lengths, check_money, check_period_range, too_many_rows, Columns, Counts, Ids, Options,
    Tx,
};

pub(crate) mod buffers;
pub mod hash;
pub(crate) mod mem;
pub(crate) mod scatter;
pub(crate) mod table;

use buffers::BlockBuffers;
use hash::partition_bits;
use table::ids_too_large;

/// Rows per block of a [`Stream`] batch: a quarter of the input, so the scatter buffer (24
/// bytes a row) stays well below the input's own size, within bounds that keep blocks big
/// enough to amortise reloading the customer states and small enough to bound memory.
pub(crate) fn block_rows(rows: usize) -> usize {
    (rows / 4).clamp(1 << 18, 1 << 22)
}

/// The running per-customer state of one partition, fed its transactions in log order.
pub trait Consumer: Send {
    fn new() -> Self;

    /// Adds transactions (rows of `columns`, which start at row `base` of the whole log);
    /// `false` when this state cannot take them in this order.
    fn consume(&mut self, columns: &Columns, options: &Options, txs: &[Tx], base: u32) -> bool;

    /// Whether the stored string ids outgrew their offsets.
    fn ids_full(&self) -> bool;
}

/// Per-customer state built from batches of rows fed in log order (record batches of a file,
/// blocks of a table): each batch is aggregated into the running state and then no longer
/// needed, so memory stays O(batch + customers) however long the log. Rows are numbered
/// across batches.
pub struct Stream<P> {
    parts: Vec<P>,
    bits: u32,
    block: BlockBuffers,
    totals: Counts,
    rows: usize,
    /// Whether ids are strings, once the first batch said.
    strings: Option<bool>,
}

impl<P: Consumer> Stream<P> {
    /// A stream of about `rows` rows in all (it sizes the partitions; any count works).
    pub fn new(rows: usize) -> Self {
        let bits = partition_bits(rows);
        Stream {
            parts: (0..1usize << bits).map(|_| P::new()).collect(),
            bits,
            block: BlockBuffers::default(),
            totals: Counts::new(),
            rows: 0,
            strings: None,
        }
    }

    /// Rows fed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds the next batch. `Ok(false)` when the partition states cannot take the rows in
    /// this order (for [`CustomerBuilder`](crate::core::customers::CustomerBuilder):
    /// some customer's periods went backwards); the stream is then unusable, and only
    /// [`aggregate`](crate::core::customers::aggregate) over the whole log can summarise it.
    pub fn feed(&mut self, columns: &Columns, options: &Options) -> Result<bool> {
        let n = columns.times.len();
        self.feed_blocks(columns, options, block_rows(n))
    }

    pub(crate) fn feed_blocks(
        &mut self,
        columns: &Columns,
        options: &Options,
        block: usize,
    ) -> Result<bool> {
        let n = columns.times.len();
        check_lengths(columns, n)?;
        if self.rows + n > u32::MAX as usize {
            return Err(too_many_rows(self.rows + n));
        }
        let strings = !matches!(columns.ids, Ids::Int(_));
        if *self.strings.get_or_insert(strings) != strings {
            return Err(CoreError::argument(
                "data",
                "customer ids change between integers and strings",
            ));
        }
        for start in (0..n).step_by(block.max(1)) {
            checkpoint();
            let rows = columns.slice(start..n.min(start + block));
            self.block.fill(&rows, options, self.bits);
            check_money(&self.block.counts, options)?;
            check_period_range(&self.block.counts, columns.times, options)?;
            self.totals.add(&self.block.counts);
            let base = (self.rows + start) as u32;
            let buffers = &self.block;
            let in_order: Vec<bool> = self
                .parts
                .par_iter_mut()
                .enumerate()
                .map(|(p, state)| {
                    checkpoint();
                    buffers
                        .partition(p)
                        .all(|txs| state.consume(&rows, options, txs, base))
                })
                .collect();
            if in_order.contains(&false) {
                return Ok(false);
            }
            if self.parts.iter().any(P::ids_full) {
                return Err(ids_too_large());
            }
        }
        self.rows += n;
        Ok(true)
    }

    /// The partition states, once the money totals are checked.
    pub(crate) fn into_parts(self, options: &Options) -> Result<Partitions<P>> {
        check_money(&self.totals, options)?;
        Ok(Partitions {
            parts: self.parts,
            counts: self.totals,
            rows: self.rows,
            strings: self.strings.unwrap_or(false),
        })
    }
}

/// The partition states of a finished [`Stream`], plus what its rows skipped and summed.
pub(crate) struct Partitions<P> {
    pub parts: Vec<P>,
    /// Rows the window skipped, the time range and cost total of the rows used.
    pub counts: Counts,
    /// Rows fed, in all batches.
    pub rows: usize,
    /// Whether customer ids are strings (`false` when nothing was fed).
    pub strings: bool,
}
