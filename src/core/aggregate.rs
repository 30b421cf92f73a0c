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

    /// The customer hash of `row` (the one partitions are built from).
    #[inline]
    pub fn hash_row(&self, row: usize) -> u64 {
        self.hash(&hasher(), row)
    }

    /// Whether rows `a` and `b` hold the same customer id.
    #[inline]
    pub fn same_row(&self, a: usize, b: usize) -> bool {
        self.same(a, b)
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
    /// The amount of `row` in minor units at `scale`; `None` when NaN, infinite or too large.
    #[inline]
    pub fn fixed_at(&self, row: usize, scale: u32) -> Option<i128> {
        self.fixed(row, scale)
    }

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
    rows_before_start: u64,
    rows_after_end: u64,
    bad_amounts: u64,
    bad_costs: u64,
    overflows: u64,
    cost: i128,
}

/// Aggregates the rows into per-customer state.
pub fn aggregate(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_lengths(columns, n)?;
    if n > u32::MAX as usize {
        return Err(CoreError::Argument {
            name: "data".into(),
            message: format!("{n} rows exceed the 4,294,967,295-row limit of one call"),
        });
    }
    let bits = partition_bits(n);
    let partitions = radix_partition(&columns.ids, n, bits);
    let results: Vec<PartitionResult> = partitions
        .slices()
        .into_par_iter()
        .map(|rows| aggregate_partition(columns, options, rows))
        .collect();
    merge(results, options)
}

/// Row indices grouped by customer-hash partition, for other per-customer passes: every
/// customer's rows are in exactly one partition, in input order. Partition `p` is
/// `rows[bounds[p]..bounds[p + 1]]`.
pub struct RowPartitions {
    pub rows: Vec<u32>,
    pub bounds: Vec<usize>,
}

impl RowPartitions {
    pub fn slices(&self) -> Vec<&[u32]> {
        self.bounds
            .windows(2)
            .map(|w| &self.rows[w[0]..w[1]])
            .collect()
    }
}

/// Validates the columns (equal lengths, at most `u32::MAX` rows) and radix-partitions the
/// rows by customer hash, exactly as [`aggregate`] does.
pub fn partition_rows(columns: &Columns) -> Result<RowPartitions> {
    let n = columns.times.len();
    check_lengths(columns, n)?;
    if n > u32::MAX as usize {
        return Err(CoreError::Argument {
            name: "data".into(),
            message: format!("{n} rows exceed the 4,294,967,295-row limit of one call"),
        });
    }
    let partitions = radix_partition(&columns.ids, n, partition_bits(n));
    Ok(RowPartitions {
        rows: partitions.rows,
        bounds: partitions.bounds,
    })
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
    // About 32k rows a partition keeps each hash table in cache; at most 256 partitions.
    let wanted = (rows / 32_768).max(1).next_power_of_two();
    wanted.trailing_zeros().min(8)
}

#[inline]
fn partition_of(hash: u64, bits: u32) -> usize {
    // Middle bits: hashbrown uses the low bits for buckets and the top 7 for tags.
    ((hash >> 32) & ((1u64 << bits) - 1)) as usize
}

/// Row indices grouped by partition: partition `p` is `rows[bounds[p]..bounds[p + 1]]`.
struct Partitions {
    rows: Vec<u32>,
    bounds: Vec<usize>,
}

impl Partitions {
    fn slices(&self) -> Vec<&[u32]> {
        self.bounds
            .windows(2)
            .map(|w| &self.rows[w[0]..w[1]])
            .collect()
    }
}

/// Raw output pointer shared by scatter tasks that write disjoint ranges.
#[derive(Clone, Copy)]
struct ScatterTarget(*mut u32);

impl ScatterTarget {
    /// # Safety
    /// `index` must be in bounds and written by one task only.
    unsafe fn write(self, index: usize, row: u32) {
        unsafe { *self.0.add(index) = row };
    }
}
// SAFETY: every task writes only the positions reserved for its chunk by the prefix sums.
unsafe impl Send for ScatterTarget {}
unsafe impl Sync for ScatterTarget {}

/// Stable scatter of row indices into `2^bits` partitions by customer hash.
fn radix_partition(ids: &Ids, n: usize, bits: u32) -> Partitions {
    let parts = 1usize << bits;
    if parts == 1 {
        return Partitions {
            rows: (0..n as u32).collect(),
            bounds: vec![0, n],
        };
    }
    let state = hasher();
    let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(16_384);
    let mut keys = vec![0u8; n];
    let histograms: Vec<Vec<usize>> = keys
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(block_index, block)| {
            let mut counts = vec![0usize; parts];
            let base = block_index * chunk;
            for (i, key) in block.iter_mut().enumerate() {
                let p = partition_of(ids.hash(&state, base + i), bits);
                *key = p as u8;
                counts[p] += 1;
            }
            counts
        })
        .collect();
    // Prefix sums: partition-major, chunk-minor, so each partition keeps input order.
    let mut bounds = Vec::with_capacity(parts + 1);
    let mut starts = vec![vec![0usize; parts]; histograms.len()];
    let mut offset = 0;
    for p in 0..parts {
        bounds.push(offset);
        for (block_index, counts) in histograms.iter().enumerate() {
            starts[block_index][p] = offset;
            offset += counts[p];
        }
    }
    bounds.push(offset);
    let mut rows = vec![0u32; n];
    let target = ScatterTarget(rows.as_mut_ptr());
    keys.par_chunks(chunk)
        .zip(starts.into_par_iter())
        .enumerate()
        .for_each(|(block_index, (block, mut cursor))| {
            let base = block_index * chunk;
            for (i, &key) in block.iter().enumerate() {
                let slot = &mut cursor[key as usize];
                // SAFETY: `slot` walks this chunk's reserved range of partition `key`.
                unsafe { target.write(*slot, (base + i) as u32) };
                *slot += 1;
            }
        });
    Partitions { rows, bounds }
}

fn aggregate_partition(columns: &Columns, options: &Options, rows: &[u32]) -> PartitionResult {
    match stream_partition(columns, options, rows.iter().copied()) {
        Some(result) => result,
        None => {
            // Some customer's periods went backwards: sort the partition by period.
            let mut keyed: Vec<(i64, u32)> = rows
                .iter()
                .map(|&row| (options.periodizer.period(columns.times[row as usize]), row))
                .collect();
            keyed.sort_unstable();
            stream_partition(columns, options, keyed.into_iter().map(|(_, row)| row))
                .expect("rows sorted by period stream in order")
        }
    }
}

/// Aggregates rows in the given order; `None` when a customer's periods are out of order.
fn stream_partition(
    columns: &Columns,
    options: &Options,
    rows: impl Iterator<Item = u32>,
) -> Option<PartitionResult> {
    let state = hasher();
    let ids = &columns.ids;
    let split = options.split.unwrap_or(i64::MAX);
    let mut table: HashTable<u32> = HashTable::new();
    let mut hashes: Vec<u64> = Vec::new();
    // Integer ids are compared against a local copy: no cache miss into the id column.
    let mut int_keys: Vec<i64> = Vec::new();
    let mut seen_orders: HashSet<(u32, i64), FixedState> = HashSet::with_hasher(hasher());
    let mut out = PartitionResult::default();
    for row in rows {
        let r = row as usize;
        let time = columns.times[r];
        if options.start.is_some_and(|start| time < start) {
            out.rows_before_start += 1;
            continue;
        }
        if options.end.is_some_and(|end| time > end) {
            out.rows_after_end += 1;
            continue;
        }
        let amount = match columns.amounts {
            None => 0,
            Some(amounts) => match amounts.fixed(r, options.scale) {
                Some(value) => value,
                None => {
                    out.bad_amounts += 1;
                    continue;
                }
            },
        };
        if let Some(costs) = columns.costs {
            match costs
                .fixed(r, options.scale)
                .and_then(|c| out.cost.checked_add(c))
            {
                Some(total) => out.cost = total,
                None => {
                    out.bad_costs += 1;
                    continue;
                }
            }
        }
        out.rows_used += 1;
        let period = options.periodizer.period(time);
        let hash = ids.hash(&state, r);
        let customers = &mut out.customers;
        let found = match ids {
            Ids::Int(values) => table.find(hash, |&i| int_keys[i as usize] == values[r]),
            _ => table.find(hash, |&i| {
                ids.same(customers[i as usize].first_row as usize, r)
            }),
        };
        let index = match found {
            Some(&i) => i,
            None => {
                let i = customers.len() as u32;
                table.insert_unique(hash, i, |&j| hashes[j as usize]);
                hashes.push(hash);
                if let Ids::Int(values) = ids {
                    int_keys.push(values[r]);
                }
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
            return None;
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
        if (time, std::cmp::Reverse(row)) > (customer.max_time, std::cmp::Reverse(customer.max_row))
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
    Some(out)
}

fn merge(results: Vec<PartitionResult>, options: &Options) -> Result<Aggregate> {
    let mut aggregate = Aggregate::default();
    let (mut bad_amounts, mut bad_costs, mut overflows) = (0u64, 0u64, 0u64);
    let total: usize = results.iter().map(|r| r.customers.len()).sum();
    aggregate.customers.reserve_exact(total);
    for result in results {
        aggregate.rows_used += result.rows_used;
        aggregate.rows_before_start += result.rows_before_start;
        aggregate.rows_after_end += result.rows_after_end;
        bad_amounts += result.bad_amounts;
        overflows += result.overflows;
        bad_costs += result.bad_costs;
        aggregate.cost =
            aggregate
                .cost
                .checked_add(result.cost)
                .ok_or_else(|| CoreError::Data {
                    column: options.cost_name.clone(),
                    message: "total cost overflows 38 decimal digits".into(),
                    rows: 1,
                })?;
        aggregate.customers.extend(result.customers);
    }
    if bad_amounts > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "amount is NaN, infinite or too large for the money scale".into(),
            rows: bad_amounts,
        });
    }
    if bad_costs > 0 {
        return Err(CoreError::Data {
            column: options.cost_name.clone(),
            message: "cost is NaN, infinite or too large for the money scale".into(),
            rows: bad_costs,
        });
    }
    if overflows > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "per-customer total overflows 38 decimal digits".into(),
            rows: overflows,
        });
    }
    aggregate
        .customers
        .par_sort_unstable_by_key(|c| c.first_row);
    aggregate.max_time = aggregate.customers.par_iter().map(|c| c.max_time).max();
    aggregate.min_time = aggregate.customers.par_iter().map(|c| c.min_time).min();
    Ok(aggregate)
}
