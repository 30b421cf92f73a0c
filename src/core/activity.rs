//! Per customer-period activity: for every customer, its purchase periods in ascending order
//! with the exact revenue and the number of orders of each.
//!
//! Built from a [`Stream`] of batches, in parallel over the customer-hash partitions: inside a
//! partition, customers get dense local codes from a hash table and each transaction extends
//! its customer's latest run of same-period rows or starts a new one. At the end, runs are
//! grouped by customer with a counting sort (stable, so a time-sorted log needs no further
//! sort); only a customer whose periods arrived out of order is sorted. No locks, no per-row
//! allocation, and memory grows with the runs, not the rows.
use foldhash::fast::FixedState;
use hashbrown::HashSet;
use rayon::prelude::*;

use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::log::{Columns, Options, Tx};
use crate::core::partition::mem::{prefetch, LOOKAHEAD};
use crate::core::partition::table::{IdArena, KeyTable};
use crate::core::partition::{Consumer, Stream};

/// The activity of the customers of one partition, in compressed sparse rows: customer `i`
/// owns entries `offsets[i]..offsets[i + 1]` of `periods`, `revenue` and `orders`.
#[derive(Debug, Default)]
pub struct ActivityPart {
    /// Smallest row index of each customer (identifies it in the input).
    pub first_row: Vec<u32>,
    pub offsets: Vec<usize>,
    /// Purchase periods, strictly ascending within a customer (`check_period_range` bounds
    /// every period to `i32`; 4 bytes instead of 8 on the table's biggest columns).
    pub periods: Vec<i32>,
    /// Revenue of the period in minor units at `Options::scale` (0 without amounts).
    pub revenue: Vec<i128>,
    /// Orders in the period (rows, or distinct order ids when given; a stream holds fewer than
    /// 2^32 rows).
    pub orders: Vec<u32>,
}

/// One customer's purchases.
#[derive(Clone, Copy, Debug)]
pub struct Purchases<'a> {
    pub periods: &'a [i32],
    pub revenue: &'a [i128],
    pub orders: &'a [u32],
}

impl ActivityPart {
    pub fn customers(&self) -> usize {
        self.first_row.len()
    }

    pub fn customer(&self, i: usize) -> Purchases<'_> {
        let range = self.offsets[i]..self.offsets[i + 1];
        Purchases {
            periods: &self.periods[range.clone()],
            revenue: &self.revenue[range.clone()],
            orders: &self.orders[range],
        }
    }

    /// Iterates over the customers' purchases.
    pub fn iter(&self) -> impl Iterator<Item = Purchases<'_>> + '_ {
        (0..self.customers()).map(move |i| self.customer(i))
    }
}

/// All customers' activity, partition by partition.
#[derive(Debug, Default)]
pub struct Activity {
    pub parts: Vec<ActivityPart>,
    /// First and last period with a purchase (`None` when no rows were used).
    pub min_period: Option<i64>,
    pub max_period: Option<i64>,
    pub rows_used: u64,
    pub rows_before_start: u64,
    pub rows_after_end: u64,
}

impl Activity {
    pub fn customers(&self) -> usize {
        self.parts.iter().map(ActivityPart::customers).sum()
    }

    /// The first purchase period and the number of periods up to the last one (`None` without
    /// purchases); `Err` naming `freq` when they are `max_periods` or more, which `what` (a
    /// table's name) cannot hold.
    pub fn period_span(&self, max_periods: i64, what: &str) -> Result<Option<(i64, usize)>> {
        let (Some(lo), Some(hi)) = (self.min_period, self.max_period) else {
            return Ok(None);
        };
        if hi - lo >= max_periods {
            return Err(CoreError::argument(
                "freq",
                format!(
                    "the data span {} periods, more than the {max_periods} {what} allows; \
                     use a coarser freq",
                    hi - lo + 1
                ),
            ));
        }
        Ok(Some((lo, (hi - lo + 1) as usize)))
    }

    /// Widens the period range to `[first, last]`, the span of the whole log when this
    /// activity is one part of it (a Dask partition): tables over the part then have the
    /// whole log's rows and add up cell by cell. `Err` naming `span` when the part's own
    /// purchases fall outside it.
    pub fn set_span(&mut self, first: i64, last: i64) -> Result<()> {
        let inside = |p: Option<i64>| p.is_none_or(|p| (first..=last).contains(&p));
        if first > last || !inside(self.min_period) || !inside(self.max_period) {
            return Err(CoreError::argument(
                "span",
                format!(
                    "periods {first}..={last} do not cover the purchases ({:?}..={:?})",
                    self.min_period, self.max_period
                ),
            ));
        }
        self.min_period = Some(first);
        self.max_period = Some(last);
        Ok(())
    }

    /// Partitions per rayon task when folding over them: one run of partitions per thread, so
    /// each task allocates its per-period arrays once.
    pub fn parts_per_task(&self) -> usize {
        let groups = rayon::current_num_threads().max(1);
        self.parts.len().div_ceil(groups).max(1)
    }
}

/// Builds the per customer-period table of a log in memory.
pub fn activity(columns: &Columns, options: &Options) -> Result<Activity> {
    let mut stream: Stream<ActivityBuilder> = Stream::new(columns.times.len());
    // Always `true`: an activity builder takes rows in any order.
    stream.feed(columns, options)?;
    finish(stream, options)
}

/// The per customer-period table of every batch fed to `stream`.
pub fn finish(stream: Stream<ActivityBuilder>, options: &Options) -> Result<Activity> {
    let fed = stream.into_parts(options)?;
    let overflows: u64 = fed.parts.iter().map(|b| b.overflows).sum();
    let rows_used = fed.parts.iter().map(|b| b.rows_used).sum();
    let built: Vec<(ActivityPart, u64)> = fed
        .parts
        .into_par_iter()
        .map(|part| {
            checkpoint();
            part.into_part()
        })
        .collect();
    let overflows = overflows + built.iter().map(|b| b.1).sum::<u64>();
    if overflows > 0 {
        return Err(CoreError::data(
            &options.amount_name,
            "per-period total overflows 38 decimal digits",
            overflows,
        ));
    }
    let mut out = Activity {
        rows_used,
        rows_before_start: fed.counts.rows_before_start,
        rows_after_end: fed.counts.rows_after_end,
        ..Activity::default()
    };
    for (part, _) in built {
        for purchases in part.iter() {
            if let (Some(&first), Some(&last)) =
                (purchases.periods.first(), purchases.periods.last())
            {
                let (first, last) = (i64::from(first), i64::from(last));
                out.min_period = Some(out.min_period.map_or(first, |m| m.min(first)));
                out.max_period = Some(out.max_period.map_or(last, |m| m.max(last)));
            }
        }
        out.parts.push(part);
    }
    Ok(out)
}

/// One customer's purchases in one period, as they arrived: a run ends when a transaction of
/// the customer falls in another period.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    revenue: i128,
    customer: u32,
    /// Fits: `check_period_range` bounds every period to `i32` before aggregating.
    period: i32,
    orders: u32,
    /// Transactions in the run (0: no run yet).
    rows: u32,
}

/// A closed run: [`Run`] without its row count, the revenue in 8 bytes (24 bytes instead of
/// 32: closed runs are most of an activity table's memory while it is built).
#[derive(Clone, Copy, Debug)]
struct Closed {
    /// [`WIDE_REVENUE`]: the revenue does not fit `i64` and is in [`Runs::wide`].
    revenue: i64,
    customer: u32,
    period: i32,
    orders: u32,
}

/// Marks a closed run whose revenue is kept aside in [`Runs::wide`].
const WIDE_REVENUE: i64 = i64::MIN;

/// Runs closed so far, in chunks of [`RUN_CHUNK`]: a `Vec`'s doubling would leave up to half
/// of its capacity unused (and copy it on growth).
#[derive(Default)]
struct Runs {
    chunks: Vec<Vec<Closed>>,
    len: usize,
    /// (run index, revenue) of the runs whose revenue does not fit `i64`, in index order.
    wide: Vec<(usize, i128)>,
}

/// Runs per chunk of [`Runs`] (96 KiB).
const RUN_CHUNK: usize = 4096;

impl Runs {
    fn push(&mut self, run: Run) {
        let revenue = match i64::try_from(run.revenue) {
            Ok(narrow) if narrow != WIDE_REVENUE => narrow,
            _ => {
                self.wide.push((self.len, run.revenue));
                WIDE_REVENUE
            }
        };
        let closed = Closed {
            revenue,
            customer: run.customer,
            period: run.period,
            orders: run.orders,
        };
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < RUN_CHUNK => chunk.push(closed),
            _ => {
                let mut chunk = Vec::with_capacity(RUN_CHUNK);
                chunk.push(closed);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Run `k` (its row count not kept: 1).
    fn get(&self, k: usize) -> Run {
        let closed = self.chunks[k / RUN_CHUNK][k % RUN_CHUNK];
        let revenue = if closed.revenue == WIDE_REVENUE {
            let at = self.wide.partition_point(|&(index, _)| index < k);
            self.wide[at].1
        } else {
            i128::from(closed.revenue)
        };
        Run {
            revenue,
            customer: closed.customer,
            period: closed.period,
            orders: closed.orders,
            rows: 1,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn customers(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks.iter().flatten().map(|closed| closed.customer)
    }
}

/// The running activity of one partition. Each customer's current run is kept beside its
/// code and closed into `runs` (written in order) when the customer's period changes, so
/// rows may come in any order. Orders are counted distinct per (customer, period) as they
/// arrive, so runs of the same period merge by adding.
pub struct ActivityBuilder {
    table: KeyTable,
    names: IdArena,
    /// Per customer: its smallest row and its current run.
    first_row: Vec<u32>,
    open: Vec<Run>,
    runs: Runs,
    seen_orders: HashSet<(u32, i32, i64), FixedState>,
    /// Last (day, period) computed.
    day_period: (i64, i64),
    rows_used: u64,
    overflows: u64,
}

impl Consumer for ActivityBuilder {
    fn new() -> Self {
        ActivityBuilder {
            table: KeyTable::new(),
            names: IdArena::default(),
            first_row: Vec::new(),
            open: Vec::new(),
            runs: Runs::default(),
            seen_orders: HashSet::with_hasher(FixedState::default()),
            day_period: (i64::MIN, 0),
            rows_used: 0,
            overflows: 0,
        }
    }

    fn consume(&mut self, columns: &Columns, options: &Options, txs: &[Tx], base: u32) -> bool {
        for (i, tx) in txs.iter().enumerate() {
            // The table slot of a coming row, then its customer's run, load meanwhile.
            if let Some(far) = txs.get(i + 2 * LOOKAHEAD) {
                self.table.prefetch(far.key);
            }
            if let Some(near) = txs.get(i + LOOKAHEAD) {
                if let Some(c) = self.table.lookup(&columns.ids, &self.names, near) {
                    prefetch(&self.open[c as usize]);
                }
            }
            self.rows_used += 1;
            let customer = self.customer(columns, tx, base);
            // In range: `check_period_range` ran on these rows.
            let period = options
                .periodizer
                .period_cached(tx.time, &mut self.day_period) as i32;
            let open = &mut self.open[customer as usize];
            if open.period != period || open.rows == 0 {
                if open.rows > 0 {
                    self.runs.push(*open);
                }
                *open = Run {
                    customer,
                    period,
                    ..Run::default()
                };
            }
            open.rows += 1;
            match open.revenue.checked_add(tx.amount(columns, options)) {
                Some(total) => open.revenue = total,
                None => self.overflows += 1,
            }
            open.orders += match columns.orders {
                None => 1,
                Some(orders) => u32::from(self.seen_orders.insert((
                    customer,
                    period,
                    orders[tx.row as usize],
                ))),
            };
        }
        true
    }

    fn ids_full(&self) -> bool {
        self.names.full
    }
}

impl ActivityBuilder {
    /// The local code of the customer of `tx`, adding the customer when new.
    #[inline]
    fn customer(&mut self, columns: &Columns, tx: &Tx, base: u32) -> u32 {
        if let Some(i) = self.table.lookup(&columns.ids, &self.names, tx) {
            return i;
        }
        let i = self.first_row.len() as u32;
        self.table.add(&columns.ids, &mut self.names, tx, i);
        self.first_row.push(base + tx.row);
        self.open.push(Run::default());
        i
    }

    /// Groups the runs by customer (stable, so a time-sorted log needs no sort) and merges
    /// each customer's runs into ascending periods; also returns how many merged revenues
    /// overflowed.
    fn into_part(mut self) -> (ActivityPart, u64) {
        let open = std::mem::take(&mut self.open);
        for run in open.into_iter().filter(|run| run.rows > 0) {
            self.runs.push(run);
        }
        let customers = self.first_row.len();
        let mut starts = vec![0usize; customers + 1];
        for customer in self.runs.customers() {
            starts[customer as usize + 1] += 1;
        }
        for i in 0..customers {
            starts[i + 1] += starts[i];
        }
        let mut cursor = starts.clone();
        let mut grouped = vec![0u32; self.runs.len()];
        for (k, customer) in self.runs.customers().enumerate() {
            grouped[cursor[customer as usize]] = k as u32;
            cursor[customer as usize] += 1;
        }
        let mut part = ActivityPart {
            first_row: self.first_row,
            offsets: Vec::with_capacity(customers + 1),
            periods: Vec::with_capacity(self.runs.len()),
            revenue: Vec::with_capacity(self.runs.len()),
            orders: Vec::with_capacity(self.runs.len()),
        };
        part.offsets.push(0);
        let mut overflows = 0u64;
        let mut own: Vec<Run> = Vec::new();
        for c in 0..customers {
            own.clear();
            own.extend(
                grouped[starts[c]..starts[c + 1]]
                    .iter()
                    .map(|&k| self.runs.get(k as usize)),
            );
            if own.windows(2).any(|w| w[1].period <= w[0].period) {
                own.sort_by_key(|run| run.period);
            }
            let first = part.periods.len();
            for run in &own {
                if part.periods.len() > first && part.periods.last() == Some(&run.period) {
                    let last = part.periods.len() - 1;
                    match part.revenue[last].checked_add(run.revenue) {
                        Some(total) => part.revenue[last] = total,
                        None => overflows += 1,
                    }
                    part.orders[last] += run.orders;
                } else {
                    part.periods.push(run.period);
                    part.revenue.push(run.revenue);
                    part.orders.push(run.orders);
                }
            }
            part.offsets.push(part.periods.len());
        }
        (part, overflows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::log::{daily_options, Amounts, Ids};

    #[test]
    fn runs_of_a_period_merge_whatever_the_row_order() {
        const DAY: i64 = 86_400;
        // Customer 7: day 0, day 1, day 0 again (same order 1 and a new order 2), day 1.
        let ids = [7, 7, 7, 7, 7, 9];
        let times = [10, DAY + 5, 20, 30, DAY + 9, 40];
        let orders = [1, 3, 1, 2, 3, 5];
        let amounts = [1.25, 2.0, 0.75, 1.0, 4.0, 9.0];
        let options = daily_options();
        let columns = Columns {
            ids: Ids::Int(&ids),
            times: &times,
            amounts: Some(Amounts::F64(&amounts)),
            orders: Some(&orders),
            costs: None,
        };
        let activity = activity(&columns, &options).expect("builds");
        type Row = (u32, Vec<i32>, Vec<i128>, Vec<u32>);
        let mut customers: Vec<Row> = activity
            .parts
            .iter()
            .flat_map(|part| {
                (0..part.customers()).map(move |i| {
                    let p = part.customer(i);
                    let row = part.first_row[i];
                    (
                        row,
                        p.periods.to_vec(),
                        p.revenue.to_vec(),
                        p.orders.to_vec(),
                    )
                })
            })
            .collect();
        customers.sort();
        assert_eq!(
            customers,
            vec![
                (0, vec![0, 1], vec![300, 600], vec![2, 1]),
                (5, vec![0], vec![900], vec![1]),
            ]
        );
        assert_eq!(
            (activity.min_period, activity.max_period),
            (Some(0), Some(1))
        );
        assert_eq!(activity.rows_used, 6);
    }

    #[test]
    fn revenues_beyond_i64_survive_closed_runs() {
        const DAY: i64 = 86_400;
        // Customer 1's runs: day 0 (wide), day 1 (exactly i64::MIN, the marker's value),
        // day 2 (small), day 3 (wide and negative); customer 2 in between, day 0 again.
        let ids = [1, 1, 2, 1, 1, 2, 1];
        let times = [0, DAY, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 3 * DAY + 5];
        let wide = i128::from(i64::MAX) * 4;
        let amounts = [wide, i128::from(i64::MIN), 7, 5, -(1i128 << 70), 1, -3];
        let columns = Columns {
            ids: Ids::Int(&ids),
            times: &times,
            amounts: Some(Amounts::Decimal(&amounts)),
            orders: None,
            costs: None,
        };
        let activity = activity(&columns, &daily_options()).expect("builds");
        let mut customers: Vec<(u32, Vec<i32>, Vec<i128>)> = activity
            .parts
            .iter()
            .flat_map(|part| {
                (0..part.customers()).map(move |i| {
                    let p = part.customer(i);
                    (part.first_row[i], p.periods.to_vec(), p.revenue.to_vec())
                })
            })
            .collect();
        customers.sort();
        assert_eq!(
            customers,
            vec![
                (
                    0,
                    vec![0, 1, 2, 3],
                    vec![wide, i128::from(i64::MIN), 5, -(1i128 << 70) - 3]
                ),
                (2, vec![1, 4], vec![7, 1]),
            ]
        );
    }
}
