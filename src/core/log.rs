//! Rows as the kernel reads them: the borrowed input columns, the options that say what to
//! read, the compact record ([`Tx`]) a row inside the time window becomes, and the checks that
//! reject a log before or while it is aggregated.
//!
//! Everything downstream (the partitioned pass and the builders fed by it) reads rows only
//! through these types, so this is the one place that knows the Arrow layouts of the input and
//! the money rules of a row.
use rayon::prelude::*;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use crate::core::error::{CoreError, Result};
use crate::core::money;
use crate::core::partition::hash::mix;
use crate::core::partition::mem::prefetch;
use crate::core::period::Periodizer;

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
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Self {
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
    pub(crate) fn bytes(&self, row: usize) -> &[u8] {
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
    pub(crate) fn hash(&self, state: &FixedState, row: usize) -> u64 {
        match self {
            Ids::Int(v) => mix(v[row]),
            _ => state.hash_one(self.bytes(row)),
        }
    }

    /// Starts loading where row `row`'s string starts (nothing for integer ids).
    #[inline]
    pub(crate) fn prefetch_offset(&self, row: usize) {
        match self {
            Ids::Int(_) => {}
            Ids::Str { offsets, .. } => prefetch(&offsets[row]),
            Ids::LargeStr { offsets, .. } => prefetch(&offsets[row]),
        }
    }

    /// Starts loading row `row`'s string bytes; its offset should be in cache by now.
    #[inline]
    pub(crate) fn prefetch_bytes(&self, row: usize) {
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
    pub(crate) fn len(&self) -> usize {
        match self {
            Amounts::Int(v) => v.len(),
            Amounts::F64(v) => v.len(),
            Amounts::F32(v) => v.len(),
            Amounts::Decimal(v) => v.len(),
        }
    }

    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        match *self {
            Amounts::Int(v) => Amounts::Int(&v[range]),
            Amounts::F64(v) => Amounts::F64(&v[range]),
            Amounts::F32(v) => Amounts::F32(&v[range]),
            Amounts::Decimal(v) => Amounts::Decimal(&v[range]),
        }
    }

    #[inline(always)]
    pub(crate) fn fixed(&self, row: usize, scale: u32) -> Option<i128> {
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
    /// Rows `range`, as a batch of their own (rows numbered from 0 again).
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Columns {
            ids: self.ids.slice(range.clone()),
            times: &self.times[range.clone()],
            amounts: self.amounts.map(|a| a.slice(range.clone())),
            orders: self.orders.map(|o| &o[range.clone()]),
            costs: self.costs.map(|c| c.slice(range)),
        }
    }
}

/// The time bounds of a pass and where its calibration ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// First time kept (inclusive bound); earlier rows are skipped and counted as
    /// `rows_before_start`.
    pub start: Option<i64>,
    /// Last time kept (inclusive bound); later rows are skipped and counted as
    /// `rows_after_end`.
    pub end: Option<i64>,
    /// Last calibration *period* (a period number, not a time); later periods are the holdout.
    pub split: Option<i64>,
}

impl Window {
    /// Whether `time` is within `start..=end`.
    #[inline(always)]
    pub(crate) fn contains(&self, time: i64) -> bool {
        self.start.is_none_or(|start| time >= start) && self.end.is_none_or(|end| time <= end)
    }
}

/// What to aggregate.
#[derive(Clone, Debug)]
pub struct Options {
    pub periodizer: Periodizer,
    /// Money scale (decimal places) of the minor units.
    pub scale: u32,
    /// Which rows count, and the calibration split.
    pub window: Window,
    /// Names of the time, amount and cost columns, for error messages.
    pub time_name: String,
    pub amount_name: String,
    pub cost_name: String,
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
pub(crate) const WIDE: i32 = i32::MIN;

/// What a pass over rows skipped, could not convert or summed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counts {
    pub(crate) rows_before_start: u64,
    pub(crate) rows_after_end: u64,
    pub(crate) bad_amounts: u64,
    pub(crate) bad_costs: u64,
    pub(crate) cost: i128,
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
    pub(crate) fn new() -> Self {
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

    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        (self.lo <= self.hi).then_some((self.lo, self.hi))
    }

    pub(crate) fn add(&mut self, other: &Counts) {
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
    pub(crate) fn in_window(&mut self, window: &Window, time: i64) -> bool {
        if window.contains(time) {
            true
        } else {
            if window.start.is_some_and(|start| time < start) {
                self.rows_before_start += 1;
            } else {
                self.rows_after_end += 1;
            }
            false
        }
    }

    pub(crate) fn sum(counts: impl Iterator<Item = Counts>) -> Counts {
        counts.fold(Counts::new(), |mut total, c| {
            total.add(&c);
            total
        })
    }
}

/// The record of a row inside the time window: money converted, cost summed, bad values and
/// the time range counted.
#[inline(always)]
pub(crate) fn record(
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

/// The columns' lengths agree and their rows can be numbered in a `u32`.
pub(crate) fn check_rows(columns: &Columns, n: usize) -> Result<()> {
    check_lengths(columns, n)?;
    if n > u32::MAX as usize {
        return Err(too_many_rows(n));
    }
    Ok(())
}

pub(crate) fn too_many_rows(n: usize) -> CoreError {
    CoreError::argument(
        "data",
        format!("{n} rows exceed the 4,294,967,295-row limit of one call"),
    )
}

/// No amount or cost failed to convert, and the cost total did not overflow.
pub(crate) fn check_money(counts: &Counts, options: &Options) -> Result<()> {
    if counts.bad_amounts > 0 {
        return Err(CoreError::data(
            &options.amount_name,
            "amount is NaN, infinite or too large for the money scale",
            counts.bad_amounts,
        ));
    }
    if counts.bad_costs > 0 {
        return Err(CoreError::data(
            &options.cost_name,
            "cost is NaN, infinite or too large, or the total overflows",
            counts.bad_costs,
        ));
    }
    Ok(())
}

/// Every period must fit `i32` (hours within about 245,000 years of 1970), as the per-customer
/// and per-period states keep it. `counts` are those of rows of `times` (a block of them or
/// all); the error counts the rows of `times` in the window whose period does not fit.
pub(crate) fn check_period_range(counts: &Counts, times: &[i64], options: &Options) -> Result<()> {
    let fits = |time: i64| i32::try_from(options.periodizer.period(time)).is_ok();
    if counts
        .time_range()
        .is_none_or(|(lo, hi)| fits(lo) && fits(hi))
    {
        return Ok(());
    }
    let rows = times
        .par_iter()
        .filter(|&&time| options.window.contains(time) && !fits(time))
        .count();
    Err(CoreError::data(
        &options.time_name,
        "time is too far from 1970 to count periods in",
        rows.max(1) as u64,
    ))
}

/// Every column has `n` rows.
pub(crate) fn check_lengths(columns: &Columns, n: usize) -> Result<()> {
    let amounts_len = columns.amounts.map(|a| a.len());
    let lengths = [
        Some(columns.ids.len()),
        amounts_len,
        columns.orders.map(|o| o.len()),
    ];
    if lengths.iter().flatten().any(|&len| len != n) {
        return Err(CoreError::argument(
            "data",
            "columns have different lengths",
        ));
    }
    Ok(())
}

/// Daily periods of second timestamps at money scale 2, no window: the unit tests' options.
#[cfg(test)]
pub(crate) fn daily_options() -> Options {
    use crate::core::period::{Freq, TimeUnit};
    Options {
        periodizer: Periodizer::new(Freq::Day, TimeUnit::Second),
        scale: 2,
        window: Window::default(),
        time_name: "timestamp".into(),
        amount_name: "amount".into(),
        cost_name: String::new(),
    }
}
