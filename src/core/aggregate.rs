//! One parallel pass from transaction rows to per-customer state.
//!
//! Rows are radix-partitioned by a hash of the customer id (stable, so each partition keeps
//! the input order), then every partition is aggregated independently with its own hash
//! table: no locks, no per-row allocation. Distinct purchase periods are counted by streaming
//! when each customer's periods arrive in order (the common, time-sorted log); a partition
//! whose rows are out of order is sorted by period first. The state never points back into
//! the input (string ids are copied once per customer), so a log can arrive as a [`Stream`]
//! of batches that are dropped once aggregated.
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Rows `range` (string offsets keep pointing into the same values).
    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        match *self {
            Ids::Int(v) => Ids::Int(&v[range]),
            Ids::Str { offsets, values } => Ids::Str {
                offsets: &offsets[range.start..range.end + 1],
                values,
            },
            Ids::LargeStr { offsets, values } => Ids::LargeStr {
                offsets: &offsets[range.start..range.end + 1],
                values,
            },
        }
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
            Ids::Int(v) => mix(v[row]),
            _ => state.hash_one(self.bytes(row)),
        }
    }

    /// Starts loading where row `row`'s string starts (nothing for integer ids).
    #[inline]
    fn prefetch_offset(&self, row: usize) {
        match self {
            Ids::Int(_) => {}
            Ids::Str { offsets, .. } => prefetch(&offsets[row]),
            Ids::LargeStr { offsets, .. } => prefetch(&offsets[row]),
        }
    }

    /// Starts loading row `row`'s string bytes; its offset should be in cache by now.
    #[inline]
    fn prefetch_bytes(&self, row: usize) {
        let start = match self {
            Ids::Int(_) => return,
            Ids::Str { offsets, .. } => offsets[row] as usize,
            Ids::LargeStr { offsets, .. } => offsets[row] as usize,
        };
        if let Ids::Str { values, .. } | Ids::LargeStr { values, .. } = self {
            if let Some(byte) = values.get(start) {
                prefetch(byte);
            }
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
    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        match *self {
            Amounts::Int(v) => Amounts::Int(&v[range]),
            Amounts::F64(v) => Amounts::F64(&v[range]),
            Amounts::F32(v) => Amounts::F32(&v[range]),
            Amounts::Decimal(v) => Amounts::Decimal(&v[range]),
        }
    }

    #[inline(always)]
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

impl Columns<'_> {
    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Columns {
            ids: self.ids.slice(range.clone()),
            times: &self.times[range.clone()],
            amounts: self.amounts.map(|a| a.slice(range.clone())),
            orders: self.orders.map(|o| &o[range.clone()]),
            costs: self.costs.map(|c| c.slice(range)),
        }
    }
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
    /// Names of the time, amount and cost columns, for error messages.
    pub time_name: String,
    pub amount_name: String,
    pub cost_name: String,
}

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
    /// Distinct periods, last period and revenue up to and including `Options::split`.
    pub cal_periods: u32,
    pub cal_last_period: i64,
    pub cal_revenue: i128,
}

/// The running state of one customer in one cache line, so the aggregation pass touches a
/// single line per transaction. Money sums are `i64`; a customer whose sums outgrow them moves
/// to its partition's `wide` map. The first period is `period(min_time)`: periods only grow
/// with time.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct State {
    /// Customer key (see [`Tx::key`]), also its hash.
    key: u64,
    min_time: i64,
    max_time: i64,
    revenue: i64,
    first_period_revenue: i64,
    first_row: u32,
    min_row: u32,
    max_row: u32,
    periods: u32,
    orders: u32,
    /// Fits: [`check_period_range`] bounds every period to `i32` before aggregating.
    last_period: i32,
}

/// Calibration-period counters, kept only when `Options::split` is set.
#[derive(Clone, Copy, Debug, Default)]
struct Calibration {
    revenue: i64,
    last_period: i32,
    periods: u32,
}

/// Exact sums of a customer whose money outgrew `i64`.
#[derive(Clone, Copy, Debug, Default)]
struct WideSums {
    revenue: i128,
    first_period_revenue: i128,
    cal_revenue: i128,
}

/// Per-customer states of one partition, in the order customers were first met.
#[derive(Debug, Default)]
struct Part {
    states: Vec<State>,
    /// Parallel to `states` when calibrating, else empty.
    calibration: Vec<Calibration>,
    /// Local index → exact sums, for the rare customers beyond `i64`.
    wide: HashMap<u32, WideSums, FixedState>,
    /// String ids of the customers (empty for integer ids).
    names: Names,
    rows_used: u64,
    overflows: u64,
}

/// The string ids of one partition's customers, each stored once when first met, so that
/// later rows (of any batch) compare against them and the result can name its customers
/// without the input.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Each id as a little-endian `u32` length, then its bytes.
    bytes: Vec<u8>,
    /// Local index → where its id starts in `bytes`.
    at: Vec<u32>,
    /// Set when `bytes` would outgrow `u32` offsets (ids not stored from then on).
    pub(crate) full: bool,
}

impl Names {
    /// Stores `name` for the next local index; returns where it starts.
    fn push(&mut self, name: &[u8]) -> u32 {
        let at = self.bytes.len();
        if at + 4 + name.len() > u32::MAX as usize {
            self.full = true;
            self.at.push(0);
            return 0;
        }
        self.bytes
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(name);
        self.at.push(at as u32);
        at as u32
    }

    #[inline]
    fn get(&self, at: u32) -> &[u8] {
        let at = at as usize;
        let b = &self.bytes[at..at + 4];
        let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        &self.bytes[at + 4..at + 4 + len]
    }

    #[inline]
    fn of(&self, index: usize) -> &[u8] {
        self.get(self.at[index])
    }

    #[inline]
    fn prefetch(&self, at: u32) {
        if let Some(byte) = self.bytes.get(at as usize) {
            prefetch(byte);
        }
    }
}

impl Part {
    fn customer(&self, i: usize, periodizer: &Periodizer) -> Customer {
        let s = &self.states[i];
        let wide = if self.wide.is_empty() {
            None
        } else {
            self.wide.get(&(i as u32))
        };
        let revenue = wide.map_or(s.revenue as i128, |w| w.revenue);
        let (cal_periods, cal_last_period, cal_revenue) = match self.calibration.get(i) {
            Some(c) => (
                c.periods,
                c.last_period as i64,
                wide.map_or(c.revenue as i128, |w| w.cal_revenue),
            ),
            None => (s.periods, s.last_period as i64, revenue),
        };
        Customer {
            key: s.key,
            first_row: s.first_row,
            min_row: s.min_row,
            max_row: s.max_row,
            min_time: s.min_time,
            max_time: s.max_time,
            first_period: periodizer.period(s.min_time),
            last_period: s.last_period as i64,
            periods: s.periods,
            orders: s.orders as u64,
            revenue,
            first_period_revenue: wide
                .map_or(s.first_period_revenue as i128, |w| w.first_period_revenue),
            cal_periods,
            cal_last_period,
            cal_revenue,
        }
    }
}

/// Per-customer states, readable in first-appearance order, plus what was skipped.
#[derive(Debug)]
pub struct Aggregate {
    parts: Vec<Part>,
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

/// Rows per block of the streaming pass: a quarter of the input, so the scatter buffer (24
/// bytes a row) stays well below the input's own size, within bounds that keep blocks big
/// enough to amortise reloading the customer states and small enough to bound memory.
fn block_rows(rows: usize) -> usize {
    (rows / 4).clamp(1 << 18, 1 << 22)
}

/// Aggregates the rows into per-customer state.
///
/// Blocks of rows are scattered into their partitions and streamed into each partition's
/// running state, so memory beyond the input stays O(block + customers). If some customer's
/// periods go backwards (an unsorted log), the whole input is scattered at once and each
/// partition is sorted by period instead.
pub fn aggregate(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    let mut stream: Stream = Stream::new(n);
    if stream.feed_blocks(columns, options, block_rows(n))? {
        stream.finish(options)
    } else {
        aggregate_sorted(columns, options, n, partition_bits(n))
    }
}

/// [`aggregate`] for a log known to be out of period order within customers.
pub fn aggregate_unordered(columns: &Columns, options: &Options) -> Result<Aggregate> {
    let n = columns.times.len();
    check_rows(columns, n)?;
    aggregate_sorted(columns, options, n, partition_bits(n))
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
pub struct Stream<P = PartitionState> {
    parts: Vec<P>,
    bits: u32,
    block: Buffers,
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
            block: Buffers::default(),
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
    /// this order (for [`PartitionState`]: some customer's periods went backwards); the
    /// stream is then unusable, and only [`aggregate`] over the whole log can summarise it.
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
            return Err(CoreError::Argument {
                name: "data".into(),
                message: "customer ids change between integers and strings".into(),
            });
        }
        for start in (0..n).step_by(block.max(1)) {
            let rows = columns.slice(start..n.min(start + block));
            self.block.fill(&rows, options, self.bits);
            check_money(&self.block.counts, options)?;
            check_period_range(&self.block.counts, options)?;
            self.totals.add(&self.block.counts);
            let base = (self.rows + start) as u32;
            let buffers = &self.block;
            let in_order: Vec<bool> = self
                .parts
                .par_iter_mut()
                .enumerate()
                .map(|(p, state)| {
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
            rows_before_start: self.totals.rows_before_start,
            rows_after_end: self.totals.rows_after_end,
        })
    }
}

/// The partition states of a finished [`Stream`] and the rows its window skipped.
pub(crate) struct Partitions<P> {
    pub parts: Vec<P>,
    pub rows_before_start: u64,
    pub rows_after_end: u64,
}

impl Stream<PartitionState> {
    /// The per-customer state of every row fed.
    pub fn finish(self, options: &Options) -> Result<Aggregate> {
        check_money(&self.totals, options)?;
        let parts = self.parts.into_iter().map(|state| state.part).collect();
        let strings = self.strings.unwrap_or(false);
        merge(parts, &self.totals, options, self.rows, strings)
    }
}

fn ids_too_large() -> CoreError {
    CoreError::Argument {
        name: "data".into(),
        message: "customer ids take more than 4 GiB in one partition".into(),
    }
}

fn too_many_rows(n: usize) -> CoreError {
    CoreError::Argument {
        name: "data".into(),
        message: format!("{n} rows exceed the 4,294,967,295-row limit of one call"),
    }
}

/// The whole input scattered at once; partitions out of period order are sorted first.
fn aggregate_sorted(
    columns: &Columns,
    options: &Options,
    n: usize,
    bits: u32,
) -> Result<Aggregate> {
    let scattered = scatter(columns, options, n, bits);
    check_money(&scattered.counts, options)?;
    check_period_range(&scattered.counts, options)?;
    let parts: Vec<Part> = scattered
        .parts()
        .into_par_iter()
        .map(|txs| aggregate_partition(columns, options, txs))
        .collect();
    if parts.iter().any(|p| p.names.full) {
        return Err(ids_too_large());
    }
    let strings = !matches!(columns.ids, Ids::Int(_));
    merge(parts, &scattered.counts, options, n, strings)
}

fn check_rows(columns: &Columns, n: usize) -> Result<()> {
    check_lengths(columns, n)?;
    if n > u32::MAX as usize {
        return Err(too_many_rows(n));
    }
    Ok(())
}

fn check_money(counts: &Counts, options: &Options) -> Result<()> {
    if counts.bad_amounts > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "amount is NaN, infinite or too large for the money scale".into(),
            rows: counts.bad_amounts,
        });
    }
    if counts.bad_costs > 0 {
        return Err(CoreError::Data {
            column: options.cost_name.clone(),
            message: "cost is NaN, infinite or too large, or the total overflows".into(),
            rows: counts.bad_costs,
        });
    }
    Ok(())
}

/// Every period must fit `i32` (hours within about 245,000 years of 1970), as `State` keeps it.
fn check_period_range(counts: &Counts, options: &Options) -> Result<()> {
    let fits = |time: i64| i32::try_from(options.periodizer.period(time)).is_ok();
    if counts
        .time_range()
        .is_none_or(|(lo, hi)| fits(lo) && fits(hi))
    {
        return Ok(());
    }
    Err(CoreError::Data {
        column: options.time_name.clone(),
        message: "time is too far from 1970 to count periods in".into(),
        rows: 1,
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

/// A bijective mix of an integer id (murmur3's finaliser): equal keys mean equal ids, so the
/// key is both the hash and the identity of an integer customer.
#[inline]
fn mix(id: i64) -> u64 {
    let mut h = (id as u64) ^ HASH_SEED;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The multiplicative inverse of an odd `c` modulo 2^64 (Newton's iteration: each step
/// doubles the correct low bits, from 3).
const fn inverse(c: u64) -> u64 {
    let mut x = c;
    let mut step = 0;
    while step < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(x)));
        step += 1;
    }
    x
}

/// The integer id whose [`mix`] is `key`.
pub fn unmix(key: u64) -> i64 {
    // `h ^= h >> 33` is its own inverse, as 33 ≥ 64 / 2.
    let mut h = key ^ (key >> 33);
    h = h.wrapping_mul(inverse(0xc4ce_b9fe_1a85_ec53));
    h ^= h >> 33;
    h = h.wrapping_mul(inverse(0xff51_afd7_ed55_8ccd));
    h ^= h >> 33;
    (h ^ HASH_SEED) as i64
}

/// One transaction copied into its partition, so the aggregation pass reads sequentially
/// instead of gathering three columns at random rows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tx {
    /// [`mix`] of an integer id, or the hash of a string id.
    pub key: u64,
    pub time: i64,
    pub row: u32,
    /// Minor units; [`WIDE`] when the value needs more than 31 bits (read from the column).
    amount: i32,
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
}

/// Marks an amount too large for `Tx::amount`.
const WIDE: i32 = i32::MIN;
/// Partition byte of a row outside the time window (partition numbers stay below 128).
const SKIP: u8 = u8::MAX;

/// Raw output pointer shared by tasks that write disjoint positions.
#[derive(Clone, Copy)]
struct Target<T>(*mut T);
// SAFETY: callers of `write` guarantee that no position is written by two tasks.
unsafe impl<T: Send> Send for Target<T> {}
unsafe impl<T: Send> Sync for Target<T> {}

impl<T> Target<T> {
    /// # Safety
    /// `index` must be in bounds and written by one task only.
    unsafe fn write(self, index: usize, value: T) {
        unsafe { self.0.add(index).write(value) };
    }
}

/// What a scatter skipped, could not convert or summed.
#[derive(Clone, Copy, Debug)]
struct Counts {
    rows_before_start: u64,
    rows_after_end: u64,
    bad_amounts: u64,
    bad_costs: u64,
    cost: i128,
    /// Earliest and latest time kept; `lo > hi` while no row is kept.
    lo: i64,
    hi: i64,
}

impl Default for Counts {
    fn default() -> Self {
        Counts::new()
    }
}

impl Counts {
    fn new() -> Self {
        Counts {
            rows_before_start: 0,
            rows_after_end: 0,
            bad_amounts: 0,
            bad_costs: 0,
            cost: 0,
            lo: i64::MAX,
            hi: i64::MIN,
        }
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        (self.lo <= self.hi).then_some((self.lo, self.hi))
    }

    fn add(&mut self, other: &Counts) {
        self.rows_before_start += other.rows_before_start;
        self.rows_after_end += other.rows_after_end;
        self.bad_amounts += other.bad_amounts;
        self.bad_costs += other.bad_costs;
        match self.cost.checked_add(other.cost) {
            Some(total) => self.cost = total,
            None => self.bad_costs += 1,
        }
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
    }

    /// Whether `time` is in the window; counts it if not.
    #[inline(always)]
    fn in_window(&mut self, options: &Options, time: i64) -> bool {
        if options.start.is_some_and(|start| time < start) {
            self.rows_before_start += 1;
            false
        } else if options.end.is_some_and(|end| time > end) {
            self.rows_after_end += 1;
            false
        } else {
            true
        }
    }

    fn sum(counts: impl Iterator<Item = Counts>) -> Counts {
        counts.fold(Counts::new(), |mut total, c| {
            total.add(&c);
            total
        })
    }
}

/// The record of a row inside the time window: money converted, cost summed, bad values and
/// the time range counted.
#[inline(always)]
fn transaction(
    columns: &Columns,
    options: &Options,
    state: &FixedState,
    row: usize,
    counts: &mut Counts,
) -> Tx {
    let time = columns.times[row];
    counts.lo = counts.lo.min(time);
    counts.hi = counts.hi.max(time);
    let amount = match columns.amounts.map(|a| a.fixed(row, options.scale)) {
        None => 0,
        Some(Some(value)) => i32::try_from(value)
            .ok()
            .filter(|&v| v != WIDE)
            .unwrap_or(WIDE),
        Some(None) => {
            counts.bad_amounts += 1;
            0
        }
    };
    if let Some(costs) = columns.costs {
        match costs
            .fixed(row, options.scale)
            .and_then(|value| counts.cost.checked_add(value))
        {
            Some(total) => counts.cost = total,
            None => counts.bad_costs += 1,
        }
    }
    Tx {
        key: columns.ids.hash(state, row),
        time,
        row: row as u32,
        amount,
    }
}

/// Rows per task of a scatter.
fn chunk_rows(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads() * 4).max(16_384)
}

/// Transactions grouped by partition in one buffer, plus what the scatter skipped or summed.
struct Scattered {
    txs: Vec<Tx>,
    bounds: Vec<usize>,
    counts: Counts,
}

impl Scattered {
    fn parts(&self) -> Vec<&[Tx]> {
        self.bounds
            .windows(2)
            .map(|w| &self.txs[w[0]..w[1]])
            .collect()
    }
}

/// Two passes over the rows in input order: partition histogram, then a stable scatter into
/// one exactly sized buffer.
fn scatter(columns: &Columns, options: &Options, n: usize, bits: u32) -> Scattered {
    let parts = 1usize << bits;
    let state = hasher();
    let chunk = chunk_rows(n);
    let mut keys = vec![0u8; n];
    let histograms: Vec<(Vec<usize>, Counts)> = keys
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(block_index, block)| {
            let base = block_index * chunk;
            let mut sizes = vec![0usize; parts];
            let mut counts = Counts::new();
            for (i, key) in block.iter_mut().enumerate() {
                if counts.in_window(options, columns.times[base + i]) {
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
    let target = Target(txs.as_mut_ptr());
    let written: Vec<Counts> = keys
        .par_chunks(chunk)
        .zip(starts.into_par_iter())
        .enumerate()
        .map(|(block_index, (block, mut cursor))| {
            let base = block_index * chunk;
            let mut counts = Counts::new();
            for (i, &p) in block.iter().enumerate() {
                if p == SKIP {
                    continue;
                }
                let tx = transaction(columns, options, &state, base + i, &mut counts);
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

/// One block of rows scattered in a single pass into per-task, per-partition buffers (kept
/// between blocks for their capacity): partition `p` is `tasks[0][p]`, `tasks[1][p]`, … in
/// row order.
#[derive(Default)]
struct Buffers {
    tasks: Vec<Vec<PartitionBuffer>>,
    counts: Counts,
}

/// Records per group: 192 bytes, three whole cache lines.
const GROUP: usize = 8;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Group([Tx; GROUP]);

// Groups are plain runs of records, so a slice of groups can be read as a slice of records.
const _: () = assert!(std::mem::size_of::<Group>() == GROUP * std::mem::size_of::<Tx>());

/// One task's records of one partition: whole groups written with streaming stores (which
/// skip reading the destination lines into cache first), then up to `GROUP - 1` staged ones.
#[derive(Default)]
struct PartitionBuffer {
    groups: Vec<Group>,
    staged: Group,
    staged_len: usize,
}

impl PartitionBuffer {
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
            // SAFETY: capacity for one more group was reserved; `stream` writes all of it.
            unsafe {
                stream(
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
unsafe fn stream(src: &Group, dst: *mut Group) {
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

/// Orders this thread's streaming stores before the records are read by other threads.
fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

impl Buffers {
    /// Scatters all rows of `columns` (rows numbered from 0).
    fn fill(&mut self, columns: &Columns, options: &Options, bits: u32) {
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
                buffers.resize_with(parts, || PartitionBuffer {
                    groups: Vec::with_capacity(expected),
                    ..PartitionBuffer::default()
                });
                buffers.iter_mut().for_each(PartitionBuffer::clear);
                let mut counts = Counts::new();
                let rows = first + task * chunk..end.min(first + (task + 1) * chunk);
                for row in rows {
                    if counts.in_window(options, columns.times[row]) {
                        let tx = transaction(columns, options, &state, row, &mut counts);
                        buffers[partition_of(tx.key, bits)].push(tx);
                    }
                }
                stream_fence();
                counts
            })
            .collect();
        self.tasks[tasks..]
            .iter_mut()
            .flatten()
            .for_each(PartitionBuffer::clear);
        self.counts = Counts::sum(counts.into_iter());
    }

    /// Partition `p`'s transactions in row order, in slices.
    fn partition(&self, p: usize) -> impl Iterator<Item = &[Tx]> {
        self.tasks.iter().flat_map(move |task| task[p].slices())
    }
}

fn aggregate_partition(columns: &Columns, options: &Options, txs: &[Tx]) -> Part {
    match stream_partition(columns, options, txs) {
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
            stream_partition(columns, options, &sorted)
                .expect("transactions sorted by period stream in order")
        }
    }
}

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

/// Customer key → local index, by linear probing in a table at most half full, so a lookup
/// usually reads one slot whose address is known from the key alone (and can be prefetched).
pub(crate) struct KeyTable {
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    /// Local index; [`EMPTY`] for a free slot.
    index: u32,
    /// Where the customer's string id starts in its partition's [`Names`] (0 for integer
    /// ids), so it can be prefetched and compared from the slot alone.
    name: u32,
}

const EMPTY: u32 = u32::MAX;
const EMPTY_SLOT: Slot = Slot {
    key: 0,
    index: EMPTY,
    name: 0,
};

impl KeyTable {
    pub(crate) fn new() -> Self {
        KeyTable {
            slots: vec![EMPTY_SLOT; 1024],
            len: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    #[inline]
    pub(crate) fn prefetch(&self, key: u64) {
        prefetch(&self.slots[key as usize & self.mask()]);
    }

    /// The slot under `key` that satisfies `same`.
    #[inline]
    fn find(&self, key: u64, same: impl Fn(&Slot) -> bool) -> Option<Slot> {
        let mask = self.mask();
        let mut at = key as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.index == EMPTY {
                return None;
            }
            if slot.key == key && same(&slot) {
                return Some(slot);
            }
            at = (at + 1) & mask;
        }
    }

    /// Local index of the customer of `tx` (whose row is in `ids`); string ids are compared
    /// with the stored `names`.
    #[inline]
    pub(crate) fn lookup(&self, ids: &Ids, names: &Names, tx: &Tx) -> Option<u32> {
        let found = match ids {
            Ids::Int(_) => self.find(tx.key, |_| true),
            _ => {
                let name = ids.bytes(tx.row as usize);
                self.find(tx.key, |slot| names.get(slot.name) == name)
            }
        };
        found.map(|slot| slot.index)
    }

    /// Adds the customer of `tx`, known to be absent, as local index `index` (storing its
    /// string id in `names`).
    pub(crate) fn add(&mut self, ids: &Ids, names: &mut Names, tx: &Tx, index: u32) {
        let at = match ids {
            Ids::Int(_) => 0,
            _ => names.push(ids.bytes(tx.row as usize)),
        };
        self.insert(tx.key, index, at);
    }

    /// Adds a key known to be absent.
    fn insert(&mut self, key: u64, index: u32, name: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(Slot { key, index, name });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.mask();
        let mut at = slot.key as usize & mask;
        while self.slots[at].index != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    #[cold]
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; size]);
        for slot in old.into_iter().filter(|s| s.index != EMPTY) {
            self.place(slot);
        }
    }
}

/// The running aggregation of one partition; fed transactions in order, block by block.
pub struct PartitionState {
    table: KeyTable,
    seen_orders: HashSet<(u32, i64), FixedState>,
    part: Part,
}

impl Consumer for PartitionState {
    fn new() -> Self {
        PartitionState {
            table: KeyTable::new(),
            seen_orders: HashSet::with_hasher(hasher()),
            part: Part {
                wide: HashMap::with_hasher(hasher()),
                ..Part::default()
            },
        }
    }

    /// Adds transactions in order; `false` (state then unusable) when a customer's periods go
    /// backwards. `txs` index rows of `columns`, which start at row `base` of the whole log.
    fn consume(&mut self, columns: &Columns, options: &Options, txs: &[Tx], base: u32) -> bool {
        let ints = matches!(columns.ids, Ids::Int(_));
        let mut found_ahead = [EMPTY; LOOKAHEAD];
        for (i, tx) in txs.iter().enumerate() {
            let known = self.look_ahead(&columns.ids, txs, i, &mut found_ahead);
            let (row, time) = (base + tx.row, tx.time);
            let amount = tx.amount(columns, options);
            // In range: `check_period_range` ran on these rows.
            let period = options.periodizer.period(time) as i32;
            let index = if ints && known != EMPTY {
                known as usize
            } else {
                self.find_or_insert(&columns.ids, tx, row, period, options.split)
            };
            let part = &mut self.part;
            part.rows_used += 1;
            let state = &mut part.states[index];
            if period < state.last_period {
                return false;
            }
            let calibrating = options.split.is_some_and(|split| period as i64 <= split);
            if period > state.last_period {
                state.periods += 1;
                state.last_period = period;
                if calibrating {
                    let cal = &mut part.calibration[index];
                    cal.periods += 1;
                    cal.last_period = period;
                }
            }
            state.first_row = state.first_row.min(row);
            if (time, row) < (state.min_time, state.min_row) {
                state.min_time = time;
                state.min_row = row;
            }
            if (time, std::cmp::Reverse(row)) > (state.max_time, std::cmp::Reverse(state.max_row)) {
                state.max_time = time;
                state.max_row = row;
            }
            state.orders += match columns.orders {
                None => 1,
                Some(orders) => u32::from(
                    self.seen_orders
                        .insert((index as u32, orders[tx.row as usize])),
                ),
            };
            // Periods arrive in order, so the first period lasts while only one is counted.
            let in_first = state.periods == 1;
            if !part.add_narrow(index, amount, in_first, calibrating) {
                part.add_wide(index, amount, in_first, calibrating);
            }
        }
        true
    }

    fn ids_full(&self) -> bool {
        self.part.names.full
    }
}

impl PartitionState {
    /// Local index of the transaction's customer, inserting a new customer if needed; `row`
    /// is the transaction's row in the whole log.
    #[inline]
    fn find_or_insert(
        &mut self,
        ids: &Ids,
        tx: &Tx,
        row: u32,
        period: i32,
        split: Option<i64>,
    ) -> usize {
        if let Some(i) = self.table.lookup(ids, &self.part.names, tx) {
            return i as usize;
        }
        let states = &mut self.part.states;
        let i = states.len();
        self.table.add(ids, &mut self.part.names, tx, i as u32);
        states.push(State {
            key: tx.key,
            min_time: tx.time,
            max_time: tx.time,
            first_row: row,
            min_row: row,
            max_row: row,
            periods: 1,
            last_period: period,
            ..State::default()
        });
        if let Some(split) = split {
            self.part.calibration.push(Calibration {
                revenue: 0,
                last_period: period,
                periods: u32::from(period as i64 <= split),
            });
        }
        i
    }

    /// Starts loading what the coming rows will touch, in two stages so that each load finds
    /// the previous one in cache: the table slot of the row 2·LOOKAHEAD on (string ids: and
    /// where its string starts); the state of the row LOOKAHEAD on (string ids: and its string
    /// and its customer's stored one). Returns the index found for row `i` when it was
    /// LOOKAHEAD on (`EMPTY` if none): for integer ids it is final, as indices never move.
    #[inline]
    fn look_ahead(
        &self,
        ids: &Ids,
        txs: &[Tx],
        i: usize,
        found_ahead: &mut [u32; LOOKAHEAD],
    ) -> u32 {
        let strings = !matches!(ids, Ids::Int(_));
        if let Some(far) = txs.get(i + 2 * LOOKAHEAD) {
            self.table.prefetch(far.key);
            if strings {
                ids.prefetch_offset(far.row as usize);
            }
        }
        let known = found_ahead[i % LOOKAHEAD];
        found_ahead[i % LOOKAHEAD] = EMPTY;
        if let Some(near) = txs.get(i + LOOKAHEAD) {
            if let Some(slot) = self.table.find(near.key, |_| true) {
                prefetch(&self.part.states[slot.index as usize]);
                if strings {
                    ids.prefetch_bytes(near.row as usize);
                    self.part.names.prefetch(slot.name);
                }
                found_ahead[i % LOOKAHEAD] = slot.index;
            }
        }
        known
    }
}

impl Part {
    /// Adds to the `i64` sums; `false` (nothing changed) if this customer is wide or would
    /// overflow them.
    #[inline]
    fn add_narrow(
        &mut self,
        index: usize,
        amount: i128,
        in_first: bool,
        calibrating: bool,
    ) -> bool {
        if !self.wide.is_empty() && self.wide.contains_key(&(index as u32)) {
            return false;
        }
        let Ok(amount) = i64::try_from(amount) else {
            return false;
        };
        let state = &self.states[index];
        let add = |sum: i64, yes: bool| {
            if yes {
                sum.checked_add(amount)
            } else {
                Some(sum)
            }
        };
        let cal = self.calibration.get(index).map_or(0, |c| c.revenue);
        let (Some(revenue), Some(first), Some(cal)) = (
            add(state.revenue, true),
            add(state.first_period_revenue, in_first),
            add(cal, calibrating),
        ) else {
            return false;
        };
        let state = &mut self.states[index];
        state.revenue = revenue;
        state.first_period_revenue = first;
        if let Some(c) = self.calibration.get_mut(index) {
            c.revenue = cal;
        }
        true
    }

    /// Adds to the exact `i128` sums, moving the customer there first if needed.
    #[cold]
    fn add_wide(&mut self, index: usize, amount: i128, in_first: bool, calibrating: bool) {
        let state = &self.states[index];
        let cal = self.calibration.get(index).map(|c| c.revenue);
        let sums = self.wide.entry(index as u32).or_insert_with(|| WideSums {
            revenue: state.revenue as i128,
            first_period_revenue: state.first_period_revenue as i128,
            cal_revenue: cal.unwrap_or(state.revenue) as i128,
        });
        let targets = [
            Some(&mut sums.revenue),
            in_first.then_some(&mut sums.first_period_revenue),
            calibrating.then_some(&mut sums.cal_revenue),
        ];
        for sum in targets.into_iter().flatten() {
            match sum.checked_add(amount) {
                Some(total) => *sum = total,
                None => self.overflows += 1,
            }
        }
    }
}

/// Aggregates transactions in the given order; `None` when a customer's periods are out of
/// order.
fn stream_partition(columns: &Columns, options: &Options, txs: &[Tx]) -> Option<Part> {
    let mut state = <PartitionState as Consumer>::new();
    state
        .consume(columns, options, txs, 0)
        .then_some(state.part)
}

/// (partition, local index) of an `Aggregate::order` entry.
#[inline]
fn split_key(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, key as u32 as usize)
}

/// Customers ordered by first row, without sorting: first rows are distinct, so marking them
/// in a bitmap of the `rows` rows and counting the marks before each one gives its position.
fn first_appearance_order(parts: &[Part], rows: usize) -> Vec<u64> {
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
    let target = Target(order.as_mut_ptr());
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

fn merge(
    parts: Vec<Part>,
    counts: &Counts,
    options: &Options,
    rows: usize,
    strings: bool,
) -> Result<Aggregate> {
    let overflows: u64 = parts.iter().map(|p| p.overflows).sum();
    if overflows > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "per-customer total overflows 38 decimal digits".into(),
            rows: overflows,
        });
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
    use crate::core::period::TimeUnit;

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
            periodizer: Periodizer::new(crate::core::period::Freq::Day, TimeUnit::Second),
            scale: 2,
            start: None,
            end: Some(100_000 * 3_600),
            split: Some(2_000),
            time_name: "timestamp".into(),
            amount_name: "amount".into(),
            cost_name: String::new(),
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
                let mut stream: Stream = Stream::new(times.len());
                assert!(stream
                    .feed_blocks(&columns, &options, block_rows)
                    .expect("aggregates"));
                stream.finish(&options).expect("aggregates")
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
                aggregate_sorted(&columns, &options, times.len(), bits).expect("aggregates");
            assert_eq!(sorted.customers(), whole.customers());
            // Separate batches (as record batches of a file arrive) number rows across them.
            let mut batches: Stream = Stream::new(1_000);
            for start in (0..times.len()).step_by(7_777) {
                let batch = columns.slice(start..times.len().min(start + 7_777));
                assert!(batches.feed(&batch, &options).expect("aggregates"));
            }
            assert_eq!(batches.rows(), times.len());
            let batched = batches.finish(&options).expect("aggregates");
            assert_eq!(batched.customers(), whole.customers());
            let everyone: Vec<u32> = (0..whole.len() as u32).collect();
            assert_eq!(batched.ids(&everyone), whole.ids(&everyone));
            assert_eq!(sorted.ids(&everyone), whole.ids(&everyone));
        }
    }

    #[test]
    fn ids_come_back_from_the_state() {
        for id in [0, 1, -1, 42, i64::MIN, i64::MAX, 0x1234_5678_9abc] {
            assert_eq!(unmix(mix(id)), id);
        }
        let (ids, times, _) = sorted_log(5_000, 300);
        let (mut values, mut offsets) = (Vec::new(), vec![0i64]);
        for id in &ids {
            values.extend_from_slice(format!("customer {id}").as_bytes());
            offsets.push(values.len() as i64);
        }
        let options = Options {
            periodizer: Periodizer::new(crate::core::period::Freq::Day, TimeUnit::Second),
            scale: 2,
            start: None,
            end: None,
            split: None,
            time_name: "timestamp".into(),
            amount_name: String::new(),
            cost_name: String::new(),
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

    #[test]
    fn partition_numbers_never_reach_the_skip_marker() {
        for rows in [0, 1, 40_000, 10_000_000, usize::MAX] {
            assert!((1usize << partition_bits(rows)) <= SKIP as usize);
        }
    }
}
