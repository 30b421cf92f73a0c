//! One parallel pass from transaction rows to per-customer state.
//!
//! Rows are radix-partitioned by a hash of the customer id (stable, so each partition keeps
//! the input order), then every partition is aggregated independently with its own hash
//! table: no locks, no per-row allocation. Distinct purchase periods are counted by streaming
//! when each customer's periods arrive in order (the common, time-sorted log); a partition
//! whose rows are out of order is sorted by period first.
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::{HashSet, HashTable};
use rayon::prelude::*;

use crate::core::error::{CoreError, Result};
use crate::core::money;
use crate::core::period::Periodizer;

const HASH_SEED: u64 = 0x5EED_C057_0A1E_u64;

fn hasher() -> FixedState {
    FixedState::with_seed(HASH_SEED)
}

/// Customer ids: integer keys or UTF-8 strings (Arrow offsets + values).
#[derive(Clone, Copy)]
pub enum Ids<'a> {
    Int(&'a [i64]),
    Str {
        offsets: &'a [i32],
        values: &'a [u8],
    },
    LargeStr {
        offsets: &'a [i64],
        values: &'a [u8],
    },
}

impl Ids<'_> {
    pub fn len(&self) -> usize {
        match self {
            Ids::Int(v) => v.len(),
            Ids::Str { offsets, .. } => offsets.len().saturating_sub(1),
            Ids::LargeStr { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn bytes(&self, row: usize) -> &[u8] {
        match self {
            Ids::Int(_) => &[],
            Ids::Str { offsets, values } => {
                &values[offsets[row] as usize..offsets[row + 1] as usize]
            }
            Ids::LargeStr { offsets, values } => {
                &values[offsets[row] as usize..offsets[row + 1] as usize]
            }
        }
    }

    #[inline]
    fn hash(&self, state: &FixedState, row: usize) -> u64 {
        match self {
            Ids::Int(v) => state.hash_one(v[row]),
            _ => state.hash_one(self.bytes(row)),
        }
    }

    #[inline]
    fn same(&self, a: usize, b: usize) -> bool {
        match self {
            Ids::Int(v) => v[a] == v[b],
            _ => self.bytes(a) == self.bytes(b),
        }
    }
}

/// Transaction amounts as they come from Arrow.
#[derive(Clone, Copy)]
pub enum Amounts<'a> {
    /// Integers in major units.
    Int(&'a [i64]),
    F64(&'a [f64]),
    F32(&'a [f32]),
    /// decimal128 minor units, already at the output scale.
    Decimal(&'a [i128]),
}

impl Amounts<'_> {
    #[inline]
    fn fixed(&self, row: usize, scale: u32) -> Option<i128> {
        match self {
            Amounts::Int(v) => money::from_int(v[row], scale),
            Amounts::F64(v) => money::from_f64(v[row], scale),
            Amounts::F32(v) => money::from_f32(v[row], scale),
            Amounts::Decimal(v) => Some(v[row]),
        }
    }
}

/// Borrowed, validated (null-free) input columns, all the same length.
#[derive(Clone, Copy)]
pub struct Columns<'a> {
    pub ids: Ids<'a>,
    /// Local wall time in the periodizer's unit.
    pub times: &'a [i64],
    pub amounts: Option<Amounts<'a>>,
    /// Order ids as integer codes; `None`: every row is one order.
    pub orders: Option<&'a [i64]>,
    /// Per-row cost (same money rules as amounts), summed over the rows used.
    pub costs: Option<Amounts<'a>>,
}

/// What to aggregate.
#[derive(Clone, Debug)]
pub struct Options {
    pub periodizer: Periodizer,
    /// Money scale (decimal places) of the minor units.
    pub scale: u32,
    /// Rows before this time (inclusive bound) are skipped and counted.
    pub start: Option<i64>,
    /// Rows after this time (inclusive bound) are skipped and counted.
    pub end: Option<i64>,
    /// Last calibration period; later periods are the holdout.
    pub split: Option<i64>,
    /// Name of the amount column, for error messages.
    pub amount_name: String,
    /// Name of the cost column, for error messages.
    pub cost_name: String,
}

/// Aggregated state of one customer. Rows are global row indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// Smallest row index: gives the output order (first appearance) and the id.
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
    /// Distinct periods, last period and revenue up to and including `Options::split`.
    pub cal_periods: u32,
    pub cal_last_period: i64,
    pub cal_revenue: i128,
}

/// Per-customer states in first-appearance order, plus what was skipped.
#[derive(Debug, Default)]
pub struct Aggregate {
    pub customers: Vec<Customer>,
    pub rows_used: u64,
    pub rows_before_start: u64,
    pub rows_after_end: u64,
    /// Latest time among the rows used.
    pub max_time: Option<i64>,
    pub min_time: Option<i64>,
    /// Sum of `Columns::costs` over the rows used, in minor units.
    pub cost: i128,
}

#[derive(Default)]
struct PartitionResult {
    customers: Vec<Customer>,
    rows_used: u64,
    overflows: u64,
}

/// Rows per block of the streaming pass: bounds the scatter buffer (32 bytes a row).
const BLOCK_ROWS: usize = 1 << 21;

/// Aggregates the rows into per-customer state.
///
/// Blocks of rows are scattered into their partitions and streamed into each partition's
/// running state, so memory beyond the input stays O(block + customers). If some customer's
/// periods go backwards (an unsorted log), the whole input is scattered at once and each
/// partition is sorted by period instead.
pub fn aggregate(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    let bits = partition_bits(n);
    match aggregate_streaming(columns, options, n, bits)? {
        Some(aggregate) => Ok(aggregate),
        None => aggregate_sorted(columns, options, n, bits),
    }
}

/// `None` when the log is not in period order within customers.
fn aggregate_streaming(
    columns: &Columns,
    options: &Options,
    n: usize,
    bits: u32,
) -> Result<Option<Aggregate>> {
    let mut states: Vec<PartitionState> =
        (0..1usize << bits).map(|_| PartitionState::new()).collect();
    let mut block = Scattered::default();
    let mut totals = Scattered::default();
    for start in (0..n).step_by(BLOCK_ROWS) {
        scatter_rows(
            columns,
            options,
            start..n.min(start + BLOCK_ROWS),
            bits,
            &mut block,
        );
        totals.add_counts(&block);
        let parts: Vec<&[Tx]> = block
            .bounds
            .windows(2)
            .map(|w| &block.txs[w[0]..w[1]])
            .collect();
        let in_order: Vec<bool> = states
            .par_iter_mut()
            .zip(parts)
            .map(|(state, txs)| state.consume(columns, options, txs.iter()))
            .collect();
        if in_order.contains(&false) {
            return Ok(None);
        }
    }
    check_money(&totals, options)?;
    let results = states.into_iter().map(|state| state.out).collect();
    merge(results, &totals, options).map(Some)
}

/// The whole input scattered at once; partitions out of period order are sorted first.
fn aggregate_sorted(
    columns: &Columns,
    options: &Options,
    n: usize,
    bits: u32,
) -> Result<Aggregate> {
    let scattered = scatter(columns, options, n, bits);
    check_money(&scattered, options)?;
    let results: Vec<PartitionResult> = scattered
        .bounds
        .par_windows(2)
        .map(|w| aggregate_partition(columns, options, &scattered.txs[w[0]..w[1]]))
        .collect();
    merge(results, &scattered, options)
}

fn check_rows(columns: &Columns, n: usize) -> Result<()> {
    check_lengths(columns, n)?;
    if n > u32::MAX as usize {
        return Err(CoreError::Argument {
            name: "data".into(),
            message: format!("{n} rows exceed the 4,294,967,295-row limit of one call"),
        });
    }
    Ok(())
}

fn check_money(scattered: &Scattered, options: &Options) -> Result<()> {
    if scattered.bad_amounts > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "amount is NaN, infinite or too large for the money scale".into(),
            rows: scattered.bad_amounts,
        });
    }
    if scattered.bad_costs > 0 {
        return Err(CoreError::Data {
            column: options.cost_name.clone(),
            message: "cost is NaN, infinite or too large, or the total overflows".into(),
            rows: scattered.bad_costs,
        });
    }
    Ok(())
}

fn check_lengths(columns: &Columns, n: usize) -> Result<()> {
    let amounts_len = columns.amounts.map(|a| match a {
        Amounts::Int(v) => v.len(),
        Amounts::F64(v) => v.len(),
        Amounts::F32(v) => v.len(),
        Amounts::Decimal(v) => v.len(),
    });
    let lengths = [
        Some(columns.ids.len()),
        amounts_len,
        columns.orders.map(|o| o.len()),
    ];
    if lengths.iter().flatten().any(|&len| len != n) {
        return Err(CoreError::Argument {
            name: "data".into(),
            message: "columns have different lengths".into(),
        });
    }
    Ok(())
}

fn partition_bits(rows: usize) -> u32 {
    // About 32k rows a partition keeps each hash table in cache; at most 128 partitions, so a
    // partition number fits 7 bits and never collides with the `SKIP` marker.
    let wanted = (rows / 32_768).max(1).next_power_of_two();
    wanted.trailing_zeros().min(7)
}

#[inline]
fn partition_of(hash: u64, bits: u32) -> usize {
    // Middle bits: hashbrown uses the low bits for buckets and the top 7 for tags.
    ((hash >> 32) & ((1u64 << bits) - 1)) as usize
}

/// One transaction copied into its partition, so the aggregation pass reads sequentially
/// instead of gathering three columns at random rows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tx {
    /// The integer id, or the id's hash for strings.
    pub key: u64,
    pub time: i64,
    /// Minor units; [`WIDE`] when the value needs more than 63 bits (read from the column).
    amount: i64,
    pub row: u32,
}

impl Tx {
    /// The amount in minor units at `options.scale` (0 without an amount column).
    #[inline]
    pub fn amount(&self, columns: &Columns, options: &Options) -> i128 {
        match (self.amount, columns.amounts) {
            (WIDE, Some(amounts)) => amounts.fixed(self.row as usize, options.scale).unwrap_or(0),
            (value, _) => value as i128,
        }
    }

    /// Hash of the customer id, as partitions and tables use it.
    #[inline]
    pub fn hash(&self, columns: &Columns) -> u64 {
        match columns.ids {
            Ids::Int(_) => hasher().hash_one(self.key as i64),
            _ => self.key,
        }
    }

    /// Whether two transactions belong to the same customer.
    #[inline]
    pub fn same_customer(&self, other: &Tx, columns: &Columns) -> bool {
        self.key == other.key
            && match columns.ids {
                Ids::Int(_) => true,
                ids => ids.same(self.row as usize, other.row as usize),
            }
    }
}

/// Transactions in the time window, partitioned by customer hash: every customer's
/// transactions are in exactly one partition, in input order.
pub struct Partitioned {
    scattered: Scattered,
}

impl Partitioned {
    pub fn parts(&self) -> Vec<&[Tx]> {
        let txs = &self.scattered.txs;
        self.scattered
            .bounds
            .windows(2)
            .map(|w| &txs[w[0]..w[1]])
            .collect()
    }

    pub fn rows_before_start(&self) -> u64 {
        self.scattered.rows_before_start
    }

    pub fn rows_after_end(&self) -> u64 {
        self.scattered.rows_after_end
    }
}

/// Validates the columns, filters the window, converts money (erroring on bad amounts) and
/// partitions the transactions by customer, as [`aggregate`] does.
pub fn partition_transactions(columns: &Columns, options: &Options) -> Result<Partitioned> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    let scattered = scatter(columns, options, n, partition_bits(n));
    check_money(&scattered, options)?;
    Ok(Partitioned { scattered })
}

/// Marks an amount too large for `Tx::amount`.
const WIDE: i64 = i64::MIN;
/// Partition byte of a row outside the time window (partition numbers stay below 128).
const SKIP: u8 = u8::MAX;

/// Raw output pointer shared by scatter tasks that write disjoint ranges.
#[derive(Clone, Copy)]
struct TxTarget(*mut Tx);
// SAFETY: every task writes only the positions reserved for its chunk by the prefix sums.
unsafe impl Send for TxTarget {}
unsafe impl Sync for TxTarget {}

impl TxTarget {
    /// # Safety
    /// `index` must be in bounds and written by one task only.
    unsafe fn write(self, index: usize, tx: Tx) {
        unsafe { self.0.add(index).write(tx) };
    }
}

/// Transactions grouped by partition, plus what the scatter skipped or summed.
#[derive(Default)]
struct Scattered {
    txs: Vec<Tx>,
    bounds: Vec<usize>,
    rows_before_start: u64,
    rows_after_end: u64,
    bad_amounts: u64,
    bad_costs: u64,
    cost: i128,
}

impl Scattered {
    /// Adds another block's counters and cost total.
    fn add_counts(&mut self, block: &Scattered) {
        self.rows_before_start += block.rows_before_start;
        self.rows_after_end += block.rows_after_end;
        self.bad_amounts += block.bad_amounts;
        self.bad_costs += block.bad_costs;
        match self.cost.checked_add(block.cost) {
            Some(total) => self.cost = total,
            None => self.bad_costs += 1,
        }
    }
}

#[inline]
fn row_key(ids: &Ids, state: &FixedState, row: usize) -> (u64, u64) {
    match ids {
        Ids::Int(values) => {
            let key = values[row];
            (key as u64, state.hash_one(key))
        }
        _ => {
            let hash = ids.hash(state, row);
            (hash, hash)
        }
    }
}

/// Two passes over the rows in input order: partition histogram, then a stable scatter of
/// `Tx` records (window filter and money conversion done on the way).
fn scatter(columns: &Columns, options: &Options, n: usize, bits: u32) -> Scattered {
    let mut out = Scattered::default();
    scatter_rows(columns, options, 0..n, bits, &mut out);
    out
}

/// Scatters rows `range` into `out` (its buffer reused), replacing its contents.
fn scatter_rows(
    columns: &Columns,
    options: &Options,
    range: std::ops::Range<usize>,
    bits: u32,
    out: &mut Scattered,
) {
    let parts = 1usize << bits;
    let state = hasher();
    let first = range.start;
    let n = range.len();
    let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(16_384);
    let mut keys = vec![0u8; n];
    let histograms: Vec<(Vec<usize>, u64, u64)> = keys
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(block_index, block)| {
            let mut counts = vec![0usize; parts];
            let (mut before, mut after) = (0u64, 0u64);
            let base = first + block_index * chunk;
            for (i, key) in block.iter_mut().enumerate() {
                let time = columns.times[base + i];
                if options.start.is_some_and(|start| time < start) {
                    before += 1;
                    *key = SKIP;
                } else if options.end.is_some_and(|end| time > end) {
                    after += 1;
                    *key = SKIP;
                } else {
                    let p = partition_of(row_key(&columns.ids, &state, base + i).1, bits);
                    *key = p as u8;
                    counts[p] += 1;
                }
            }
            (counts, before, after)
        })
        .collect();
    out.bounds.clear();
    let mut starts = vec![vec![0usize; parts]; histograms.len()];
    let mut offset = 0;
    for p in 0..parts {
        out.bounds.push(offset);
        for (block_index, (counts, _, _)) in histograms.iter().enumerate() {
            starts[block_index][p] = offset;
            offset += counts[p];
        }
    }
    out.bounds.push(offset);
    out.rows_before_start = histograms.iter().map(|h| h.1).sum();
    out.rows_after_end = histograms.iter().map(|h| h.2).sum();
    let mut txs = std::mem::take(&mut out.txs);
    txs.clear();
    txs.reserve(offset);
    let target = TxTarget(txs.as_mut_ptr());
    let sums: Vec<(u64, u64, Option<i128>)> = keys
        .par_chunks(chunk)
        .zip(starts.into_par_iter())
        .enumerate()
        .map(|(block_index, (block, mut cursor))| {
            let base = first + block_index * chunk;
            let (mut bad_amounts, mut bad_costs, mut cost) = (0u64, 0u64, Some(0i128));
            for (i, &p) in block.iter().enumerate() {
                if p == SKIP {
                    continue;
                }
                let row = base + i;
                let amount = match columns.amounts.map(|a| a.fixed(row, options.scale)) {
                    None => 0,
                    Some(Some(value)) => i64::try_from(value).unwrap_or(WIDE),
                    Some(None) => {
                        bad_amounts += 1;
                        0
                    }
                };
                if let Some(costs) = columns.costs {
                    match costs.fixed(row, options.scale) {
                        Some(value) => cost = cost.and_then(|c| c.checked_add(value)),
                        None => bad_costs += 1,
                    }
                }
                let tx = Tx {
                    key: row_key(&columns.ids, &state, row).0,
                    time: columns.times[row],
                    amount,
                    row: row as u32,
                };
                let slot = &mut cursor[p as usize];
                // SAFETY: `slot` walks this chunk's reserved range of partition `p`, and the
                // prefix sums give every (chunk, partition) pair a disjoint range below `offset`.
                unsafe { target.write(*slot, tx) };
                *slot += 1;
            }
            (bad_amounts, bad_costs, cost)
        })
        .collect();
    // SAFETY: the scatter wrote every position below `offset` exactly once.
    unsafe { txs.set_len(offset) };
    out.txs = txs;
    out.bad_amounts = sums.iter().map(|s| s.0).sum();
    out.bad_costs = sums.iter().map(|s| s.1).sum();
    out.cost = sums
        .iter()
        .try_fold(0i128, |total, s| s.2.and_then(|c| total.checked_add(c)))
        .unwrap_or_else(|| {
            out.bad_costs += 1;
            0
        });
}

fn aggregate_partition(columns: &Columns, options: &Options, txs: &[Tx]) -> PartitionResult {
    match stream_partition(columns, options, txs.iter()) {
        Some(result) => result,
        None => {
            // Some customer's periods went backwards: sort the partition by period.
            let mut keyed: Vec<(i64, u32, u32)> = txs
                .iter()
                .enumerate()
                .map(|(i, tx)| (options.periodizer.period(tx.time), tx.row, i as u32))
                .collect();
            keyed.sort_unstable();
            stream_partition(columns, options, keyed.iter().map(|k| &txs[k.2 as usize]))
                .expect("transactions sorted by period stream in order")
        }
    }
}

/// The running aggregation of one partition; fed transactions in order, block by block.
struct PartitionState {
    table: HashTable<u32>,
    keys: Vec<u64>,
    hashes: Vec<u64>,
    seen_orders: HashSet<(u32, i64), FixedState>,
    out: PartitionResult,
}

impl PartitionState {
    fn new() -> Self {
        PartitionState {
            table: HashTable::new(),
            keys: Vec::new(),
            hashes: Vec::new(),
            seen_orders: HashSet::with_hasher(hasher()),
            out: PartitionResult::default(),
        }
    }

    /// Adds transactions in order; `false` (state then unusable) when a customer's periods go
    /// backwards.
    fn consume<'t>(
        &mut self,
        columns: &Columns,
        options: &Options,
        txs: impl Iterator<Item = &'t Tx>,
    ) -> bool {
        let state = hasher();
        let ids = &columns.ids;
        let split = options.split.unwrap_or(i64::MAX);
        let PartitionState {
            table,
            keys,
            hashes,
            seen_orders,
            out,
        } = self;
        for tx in txs {
            let (row, time) = (tx.row, tx.time);
            let r = row as usize;
            let amount = tx.amount(columns, options);
            out.rows_used += 1;
            let period = options.periodizer.period(time);
            let customers = &mut out.customers;
            let found = match ids {
                Ids::Int(_) => {
                    let hash = state.hash_one(tx.key as i64);
                    (table.find(hash, |&i| keys[i as usize] == tx.key), hash)
                }
                _ => (
                    table.find(tx.key, |&i| {
                        keys[i as usize] == tx.key
                            && ids.same(customers[i as usize].first_row as usize, r)
                    }),
                    tx.key,
                ),
            };
            let index = match found {
                (Some(&i), _) => i,
                (None, hash) => {
                    let i = customers.len() as u32;
                    table.insert_unique(hash, i, |&j| hashes[j as usize]);
                    hashes.push(hash);
                    keys.push(tx.key);
                    customers.push(Customer {
                        first_row: row,
                        min_row: row,
                        max_row: row,
                        min_time: time,
                        max_time: time,
                        first_period: period,
                        last_period: period,
                        periods: 1,
                        cal_periods: u32::from(period <= split),
                        cal_last_period: period,
                        ..Customer::default()
                    });
                    i
                }
            };
            let customer = &mut customers[index as usize];
            if period < customer.last_period {
                return false;
            }
            if period > customer.last_period {
                customer.periods += 1;
                customer.last_period = period;
                if period <= split {
                    customer.cal_periods += 1;
                    customer.cal_last_period = period;
                }
            }
            customer.first_row = customer.first_row.min(row);
            if (time, row) < (customer.min_time, customer.min_row) {
                customer.min_time = time;
                customer.min_row = row;
            }
            if (time, std::cmp::Reverse(row))
                > (customer.max_time, std::cmp::Reverse(customer.max_row))
            {
                customer.max_time = time;
                customer.max_row = row;
            }
            customer.orders += match columns.orders {
                None => 1,
                Some(orders) => u64::from(seen_orders.insert((index, orders[r]))),
            };
            let sums = [
                Some(&mut customer.revenue),
                (period == customer.first_period).then_some(&mut customer.first_period_revenue),
                (period <= split).then_some(&mut customer.cal_revenue),
            ];
            for sum in sums.into_iter().flatten() {
                match sum.checked_add(amount) {
                    Some(total) => *sum = total,
                    None => out.overflows += 1,
                }
            }
        }
        true
    }
}

/// Aggregates transactions in the given order; `None` when a customer's periods are out of
/// order.
fn stream_partition<'t>(
    columns: &Columns,
    options: &Options,
    txs: impl Iterator<Item = &'t Tx>,
) -> Option<PartitionResult> {
    let mut state = PartitionState::new();
    state.consume(columns, options, txs).then_some(state.out)
}

fn merge(
    results: Vec<PartitionResult>,
    scattered: &Scattered,
    options: &Options,
) -> Result<Aggregate> {
    let mut aggregate = Aggregate {
        rows_before_start: scattered.rows_before_start,
        rows_after_end: scattered.rows_after_end,
        cost: scattered.cost,
        ..Aggregate::default()
    };
    aggregate.rows_used = results.iter().map(|r| r.rows_used).sum();
    let overflows: u64 = results.iter().map(|r| r.overflows).sum();
    if overflows > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "per-customer total overflows 38 decimal digits".into(),
            rows: overflows,
        });
    }
    // First-appearance order: sort 8-byte keys (first row, partition, index), then gather the
    // states once, instead of moving whole states around in the sort.
    let mut keys: Vec<u64> = results
        .par_iter()
        .enumerate()
        .flat_map_iter(|(p, result)| {
            result
                .customers
                .iter()
                .enumerate()
                .map(move |(i, c)| ((c.first_row as u64) << 32) | ((p as u64) << 24) | i as u64)
        })
        .collect();
    keys.par_sort_unstable();
    aggregate.customers = keys
        .par_iter()
        .map(|&key| {
            let (p, i) = ((key >> 24) & 0xFF, key & 0xFF_FFFF);
            results[p as usize].customers[i as usize].clone()
        })
        .collect();
    aggregate.max_time = aggregate.customers.par_iter().map(|c| c.max_time).max();
    aggregate.min_time = aggregate.customers.par_iter().map(|c| c.min_time).min();
    Ok(aggregate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_numbers_never_reach_the_skip_marker() {
        for rows in [0, 1, 40_000, 10_000_000, usize::MAX] {
            assert!((1usize << partition_bits(rows)) <= SKIP as usize);
        }
    }
}
