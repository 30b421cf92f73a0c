//! Per-customer state of a transaction log: one parallel pass from rows to an [`Aggregate`],
//! the input of the RFM summaries, calibration/holdout tables and KPIs.
//!
//! A time-sorted log goes through the shared partitioned pass ([`Stream`]) into one
//! [`CustomerBuilder`] per partition, block by block or batch by batch. A log whose periods go
//! backwards within some customer cannot be counted that way; it takes the whole-log path:
//! every row scattered into its partition at once, and a partition out of order sorted by
//! period before it is aggregated. Either way, the partitions' states are merged into one
//! result that reads its customers in first-appearance order and names them without the input.
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::log::{
    check_money, check_period_range, check_rows, Columns, Counts, Ids, Options, Tx,
};
use crate::core::partition::hash::{partition_bits, unmix};
use crate::core::partition::mem::{prefetch, DisjointWriter, LOOKAHEAD};
use crate::core::partition::scatter::scatter;
use crate::core::partition::table::ids_too_large;
use crate::core::partition::{block_rows, Consumer, Stream};
use crate::core::period::Periodizer;

mod state;

pub use state::CustomerBuilder;
use state::CustomerStates;

/// One customer's aggregated state, as consumers read it. Rows are global row indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// [`Tx::key`]: for integer ids, the id itself (see [`unmix`]).
    pub key: u64,
    /// Smallest row index: gives the output order (first appearance).
    pub first_row: u32,
    /// Row of the earliest (latest) transaction, ties to the smaller row.
    pub min_row: u32,
    pub max_row: u32,
    pub min_time: i64,
    pub max_time: i64,
    pub first_period: i64,
    pub last_period: i64,
    /// Distinct purchase periods.
    pub periods: u32,
    pub orders: u64,
    pub revenue: i128,
    pub first_period_revenue: i128,
    /// Distinct periods, last period and revenue up to and including `Window::split`.
    pub cal_periods: u32,
    pub cal_last_period: i64,
    pub cal_revenue: i128,
}

/// Per-customer states, readable in first-appearance order, plus what was skipped.
#[derive(Debug)]
pub struct Aggregate {
    parts: Vec<CustomerStates>,
    /// Customers in first-appearance order, as (partition << 32 | local index).
    order: Vec<u64>,
    periodizer: Periodizer,
    pub rows_used: u64,
    pub rows_before_start: u64,
    pub rows_after_end: u64,
    /// Latest time among the rows used.
    pub max_time: Option<i64>,
    pub min_time: Option<i64>,
    /// Sum of `Columns::costs` over the rows used, in minor units.
    pub cost: i128,
    /// Whether customer ids are strings.
    strings: bool,
}

/// Customer ids of a result, as the kernel read them.
#[derive(Debug, PartialEq, Eq)]
pub enum CustomerIds {
    Int(Vec<i64>),
    /// UTF-8 bytes and Arrow-style offsets.
    Str {
        offsets: Vec<i64>,
        values: Vec<u8>,
    },
}

impl Aggregate {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The customer at `position` in first-appearance order.
    #[inline]
    pub fn customer(&self, position: usize) -> Customer {
        let (p, i) = split_key(self.order[position]);
        self.parts[p].customer(i, &self.periodizer)
    }

    /// The first-purchase period of the customer at `position`, without building the rest.
    #[inline]
    pub fn first_period_at(&self, position: usize) -> i64 {
        let (p, i) = split_key(self.order[position]);
        self.periodizer.period(self.parts[p].states[i].min_time)
    }

    /// Calls `visit(position, customer)` for the positions in `range`, in order, loading each
    /// customer's state ahead of its turn (states are read in random order).
    #[inline]
    pub fn visit(&self, range: std::ops::Range<usize>, mut visit: impl FnMut(usize, Customer)) {
        let end = range.end;
        for position in range {
            if position + LOOKAHEAD < end {
                let (p, i) = split_key(self.order[position + LOOKAHEAD]);
                prefetch(&self.parts[p].states[i]);
            }
            visit(position, self.customer(position));
        }
    }

    /// All customers in first-appearance order.
    pub fn customers(&self) -> Vec<Customer> {
        (0..self.len())
            .into_par_iter()
            .map(|i| self.customer(i))
            .collect()
    }

    /// All customers in no particular order (cheaper, for totals).
    pub fn par_customers_unordered(&self) -> impl ParallelIterator<Item = Customer> + '_ {
        let periodizer = self.periodizer;
        self.parts.par_iter().flat_map_iter(move |part| {
            (0..part.states.len()).map(move |i| part.customer(i, &periodizer))
        })
    }

    /// The ids of the customers at `positions`, recovered from the state alone (integer ids
    /// from their key, strings from the partition's names), so the input is not needed.
    pub fn ids(&self, positions: &[u32]) -> CustomerIds {
        let at = |position: u32| split_key(self.order[position as usize]);
        if !self.strings {
            return CustomerIds::Int(
                positions
                    .par_iter()
                    .map(|&position| {
                        let (p, i) = at(position);
                        unmix(self.parts[p].states[i].key)
                    })
                    .collect(),
            );
        }
        let name = |position: u32| {
            let (p, i) = at(position);
            self.parts[p].names.of(i)
        };
        let chunks: Vec<(Vec<i64>, Vec<u8>)> = positions
            .par_chunks(4096)
            .map(|chunk| {
                let mut lengths = Vec::with_capacity(chunk.len());
                let mut values = Vec::new();
                for &position in chunk {
                    let bytes = name(position);
                    values.extend_from_slice(bytes);
                    lengths.push(bytes.len() as i64);
                }
                (lengths, values)
            })
            .collect();
        let mut offsets = Vec::with_capacity(positions.len() + 1);
        let mut values = Vec::with_capacity(chunks.iter().map(|c| c.1.len()).sum());
        let mut end = 0i64;
        offsets.push(end);
        for (lengths, bytes) in chunks {
            for length in lengths {
                end += length;
                offsets.push(end);
            }
            values.extend_from_slice(&bytes);
        }
        CustomerIds::Str { offsets, values }
    }

    /// The earliest first-purchase period, if any customer.
    pub fn first_period(&self) -> Option<i64> {
        self.min_time.map(|time| self.periodizer.period(time))
    }
}

/// Aggregates the rows into per-customer state.
///
/// Blocks of rows are scattered into their partitions and fed to each partition's running
/// state, so memory beyond the input stays O(block + customers). If some customer's
/// periods go backwards (an unsorted log), the whole input is scattered at once and each
/// partition is sorted by period instead.
pub fn aggregate(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    let mut stream: Stream<CustomerBuilder> = Stream::new(n);
    if stream.feed_blocks(columns, options, block_rows(n))? {
        finish(stream, options)
    } else {
        aggregate_whole_log(columns, options, n, partition_bits(n))
    }
}

/// [`aggregate`] for a log known to be out of period order within customers.
pub fn aggregate_unordered(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    aggregate_whole_log(columns, options, n, partition_bits(n))
}

/// The per-customer state of every batch fed to `stream`.
pub fn finish(stream: Stream<CustomerBuilder>, options: &Options) -> Result<Aggregate> {
    let fed = stream.into_parts(options)?;
    let parts = fed
        .parts
        .into_iter()
        .map(|builder| builder.customers)
        .collect();
    merge(parts, &fed.counts, options, fed.rows, fed.strings)
}

/// The whole input scattered at once; partitions out of period order are sorted first.
fn aggregate_whole_log(
    columns: &Columns,
    options: &Options,
    n: usize,
    bits: u32,
) -> Result<Aggregate> {
    let scattered = scatter(columns, options, n, bits);
    check_money(&scattered.counts, options)?;
    check_period_range(&scattered.counts, columns.times, options)?;
    let parts: Vec<CustomerStates> = scattered
        .parts()
        .into_par_iter()
        .map(|txs| {
            checkpoint();
            aggregate_partition(columns, options, txs)
        })
        .collect();
    if parts.iter().any(|p| p.names.full) {
        return Err(ids_too_large());
    }
    let strings = !matches!(columns.ids, Ids::Int(_));
    merge(parts, &scattered.counts, options, n, strings)
}

/// The states of one partition's transactions, sorted by period first if they are out of
/// order.
fn aggregate_partition(columns: &Columns, options: &Options, txs: &[Tx]) -> CustomerStates {
    match aggregate_in_order(columns, options, txs) {
        Some(part) => part,
        None => {
            // Some customer's periods went backwards: sort the partition by period.
            let mut keyed: Vec<(i64, u32, u32)> = txs
                .iter()
                .enumerate()
                .map(|(i, tx)| (options.periodizer.period(tx.time), tx.row, i as u32))
                .collect();
            keyed.sort_unstable();
            let sorted: Vec<Tx> = keyed.iter().map(|k| txs[k.2 as usize]).collect();
            aggregate_in_order(columns, options, &sorted)
                .expect("transactions sorted by period are in order")
        }
    }
}

/// Aggregates transactions in the given order; `None` when a customer's periods are out of
/// order.
fn aggregate_in_order(columns: &Columns, options: &Options, txs: &[Tx]) -> Option<CustomerStates> {
    let mut builder = <CustomerBuilder as Consumer>::new();
    builder
        .consume(columns, options, txs, 0)
        .then_some(builder.customers)
}

/// (partition, local index) of an `Aggregate::order` entry.
#[inline]
fn split_key(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, key as u32 as usize)
}

/// Customers ordered by first row, without sorting: first rows are distinct, so marking them
/// in a bitmap of the `rows` rows and counting the marks before each one gives its position.
fn first_appearance_order(parts: &[CustomerStates], rows: usize) -> Vec<u64> {
    let marks: Vec<AtomicU64> = (0..rows.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    parts.par_iter().for_each(|part| {
        for s in &part.states {
            let row = s.first_row as usize;
            marks[row / 64].fetch_or(1 << (row % 64), Ordering::Relaxed);
        }
    });
    let marks: Vec<u64> = marks.into_iter().map(AtomicU64::into_inner).collect();
    let mut before = Vec::with_capacity(marks.len());
    let mut total = 0usize;
    for word in &marks {
        before.push(total);
        total += word.count_ones() as usize;
    }
    let mut order: Vec<u64> = Vec::with_capacity(total);
    let target = DisjointWriter(order.as_mut_ptr());
    parts.par_iter().enumerate().for_each(|(p, part)| {
        for (i, s) in part.states.iter().enumerate() {
            let row = s.first_row as usize;
            let below = marks[row / 64] & ((1u64 << (row % 64)) - 1);
            let position = before[row / 64] + below.count_ones() as usize;
            // SAFETY: first rows are distinct, so every position below `total` is written by
            // exactly one customer.
            unsafe { target.write(position, ((p as u64) << 32) | i as u64) };
        }
    });
    // SAFETY: all `total` positions were written above.
    unsafe { order.set_len(total) };
    order
}

/// One result of the partitions' states, once no customer's money overflowed.
fn merge(
    parts: Vec<CustomerStates>,
    counts: &Counts,
    options: &Options,
    rows: usize,
    strings: bool,
) -> Result<Aggregate> {
    let overflows: u64 = parts.iter().map(|p| p.overflows).sum();
    if overflows > 0 {
        return Err(CoreError::data(
            &options.amount_name,
            "per-customer total overflows 38 decimal digits",
            overflows,
        ));
    }
    let order = first_appearance_order(&parts, rows);
    Ok(Aggregate {
        rows_used: parts.iter().map(|p| p.rows_used).sum(),
        parts,
        order,
        periodizer: options.periodizer,
        rows_before_start: counts.rows_before_start,
        rows_after_end: counts.rows_after_end,
        min_time: counts.time_range().map(|(lo, _)| lo),
        max_time: counts.time_range().map(|(_, hi)| hi),
        cost: counts.cost,
        strings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::log::{daily_options, Amounts, Window};

    /// A time-sorted log of `rows` rows over `customers` customers, with some large amounts.
    fn sorted_log(rows: usize, customers: u64) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let ids = (0..rows).map(|_| (next() % customers) as i64).collect();
        let times = (0..rows as i64).map(|r| r * 3_600 + (r % 7)).collect();
        let amounts = (0..rows)
            .map(|r| match r % 97 {
                0 => 3.0e7 + (next() % 100) as f64,
                _ => (next() % 10_000) as f64 / 100.0,
            })
            .collect();
        (ids, times, amounts)
    }

    #[test]
    fn block_size_does_not_change_results() {
        let (ids, times, amounts) = sorted_log(120_000, 3_000);
        let orders: Vec<i64> = (0..ids.len() as i64).map(|r| r / 3).collect();
        let (mut values, mut offsets) = (Vec::new(), vec![0i32]);
        for id in &ids {
            values.extend_from_slice(format!("c-{id}").as_bytes());
            offsets.push(values.len() as i32);
        }
        let strings = Ids::Str {
            offsets: &offsets,
            values: &values,
        };
        let options = Options {
            window: Window {
                start: None,
                end: Some(100_000 * 3_600),
                split: Some(2_000),
            },
            ..daily_options()
        };
        let bits = partition_bits(ids.len());
        for (ids, orders) in [
            (Ids::Int(&ids), None),
            (strings, None),
            (Ids::Int(&ids), Some(orders.as_slice())),
        ] {
            let columns = Columns {
                ids,
                times: &times,
                amounts: Some(Amounts::F64(&amounts)),
                orders,
                costs: None,
            };
            let run = |block_rows| {
                let mut stream: Stream<CustomerBuilder> = Stream::new(times.len());
                assert!(stream
                    .feed_blocks(&columns, &options, block_rows)
                    .expect("aggregates"));
                finish(stream, &options).expect("aggregates")
            };
            let whole = run(usize::MAX / 2);
            assert_eq!(whole.len(), 3_000);
            assert_eq!(whole.rows_after_end, 20_000);
            for block_rows in [1_000, 4_099, 65_536] {
                let blocks = run(block_rows);
                assert_eq!(
                    blocks.customers(),
                    whole.customers(),
                    "blocks of {block_rows}"
                );
                assert_eq!(blocks.rows_used, whole.rows_used);
            }
            let sorted =
                aggregate_whole_log(&columns, &options, times.len(), bits).expect("aggregates");
            assert_eq!(sorted.customers(), whole.customers());
            // Separate batches (as record batches of a file arrive) number rows across them.
            let mut batches: Stream<CustomerBuilder> = Stream::new(1_000);
            for start in (0..times.len()).step_by(7_777) {
                let batch = columns.slice(start..times.len().min(start + 7_777));
                assert!(batches.feed(&batch, &options).expect("aggregates"));
            }
            assert_eq!(batches.rows(), times.len());
            let batched = finish(batches, &options).expect("aggregates");
            assert_eq!(batched.customers(), whole.customers());
            let everyone: Vec<u32> = (0..whole.len() as u32).collect();
            assert_eq!(batched.ids(&everyone), whole.ids(&everyone));
            assert_eq!(sorted.ids(&everyone), whole.ids(&everyone));
        }
    }

    #[test]
    fn ids_come_back_from_the_state() {
        let (ids, times, _) = sorted_log(5_000, 300);
        let (mut values, mut offsets) = (Vec::new(), vec![0i64]);
        for id in &ids {
            values.extend_from_slice(format!("customer {id}").as_bytes());
            offsets.push(values.len() as i64);
        }
        let options = Options {
            amount_name: String::new(),
            ..daily_options()
        };
        let mut first_seen: Vec<i64> = Vec::new();
        for id in &ids {
            if !first_seen.contains(id) {
                first_seen.push(*id);
            }
        }
        let positions: Vec<u32> = (0..first_seen.len() as u32).rev().collect();
        let reversed: Vec<i64> = first_seen.iter().rev().copied().collect();
        let columns = |ids| Columns {
            ids,
            times: &times,
            amounts: None,
            orders: None,
            costs: None,
        };
        let ints = aggregate(&columns(Ids::Int(&ids)), &options).expect("aggregates");
        assert_eq!(ints.ids(&positions), CustomerIds::Int(reversed.clone()));
        let strings = Ids::LargeStr {
            offsets: &offsets,
            values: &values,
        };
        let named = aggregate(&columns(strings), &options).expect("aggregates");
        let CustomerIds::Str { offsets, values } = named.ids(&positions) else {
            panic!("string ids give strings");
        };
        let names: Vec<String> = offsets
            .windows(2)
            .map(|w| String::from_utf8(values[w[0] as usize..w[1] as usize].to_vec()).unwrap())
            .collect();
        let expected: Vec<String> = reversed.iter().map(|id| format!("customer {id}")).collect();
        assert_eq!(names, expected);
    }
}
