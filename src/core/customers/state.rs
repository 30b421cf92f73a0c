//! The running per-customer state of one partition, built by [`CustomerBuilder`] from the
//! transactions the partitioned pass feeds it in log order.
//!
//! Each customer's counters sit in one cache line ([`CustomerState`]), found through the
//! partition's [`KeyTable`] with the coming rows' slots and states prefetched. Distinct
//! purchase periods are counted in one pass, which needs each customer's periods in order (the
//! common, time-sorted log); a builder that meets a period going backwards gives up, and the
//! caller falls back to the whole-log path, which sorts such a partition by period first.
use foldhash::fast::FixedState;
use hashbrown::HashMap;

use super::Customer;
use crate::core::log::{Columns, Ids, Options, Tx};
use crate::core::partition::hash::hasher;
use crate::core::partition::mem::{prefetch, LOOKAHEAD};
use crate::core::partition::table::{IdArena, KeyTable, EMPTY};
use crate::core::partition::Consumer;
use crate::core::period::Periodizer;

/// The running state of one customer in one cache line, so the aggregation pass touches a
/// single line per transaction. Money sums are `i64`; a customer whose sums outgrow them moves
/// to its partition's `wide` map. The first period is `period(min_time)`: periods only grow
/// with time.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub(super) struct CustomerState {
    /// Customer key (see [`Tx::key`]), also its hash.
    pub(super) key: u64,
    pub(super) min_time: i64,
    max_time: i64,
    revenue: i64,
    first_period_revenue: i64,
    pub(super) first_row: u32,
    min_row: u32,
    max_row: u32,
    periods: u32,
    orders: u32,
    /// Fits: [`check_period_range`](crate::core::log::check_period_range) bounds every period to `i32` before aggregating.
    last_period: i32,
}

/// Calibration-period counters, kept only when `Window::split` is set.
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
pub(super) struct CustomerStates {
    pub(super) states: Vec<CustomerState>,
    /// Parallel to `states` when calibrating, else empty.
    calibration: Vec<Calibration>,
    /// Local index → exact sums, for the rare customers beyond `i64`.
    wide: HashMap<u32, WideSums, FixedState>,
    /// String ids of the customers (empty for integer ids).
    pub(super) names: IdArena,
    pub(super) rows_used: u64,
    pub(super) overflows: u64,
}

impl CustomerStates {
    /// Local customer `i` as consumers read it.
    pub(super) fn customer(&self, i: usize, periodizer: &Periodizer) -> Customer {
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

/// The running aggregation of one partition; fed transactions in order, block by block.
pub struct CustomerBuilder {
    table: KeyTable,
    /// The (customer, order id) pairs met so far, with the period each was met in. Periods
    /// arrive in order, so once the map outgrows `compact_at` the orders of a customer's past
    /// periods are dropped: memory stays O(customers + orders of the current periods), not
    /// O(orders). (An order id met again in a later period after that is counted again:
    /// an order's rows are taken to share its period.)
    seen_orders: HashMap<(u32, i64), i32, FixedState>,
    compact_at: usize,
    pub(super) customers: CustomerStates,
}

/// Orders kept before the first compaction of `seen_orders`, per partition.
const ORDERS_KEPT: usize = 1 << 12;

impl Consumer for CustomerBuilder {
    fn new() -> Self {
        CustomerBuilder {
            table: KeyTable::new(),
            seen_orders: HashMap::with_hasher(hasher()),
            compact_at: ORDERS_KEPT,
            customers: CustomerStates {
                wide: HashMap::with_hasher(hasher()),
                ..CustomerStates::default()
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
                self.find_or_insert(&columns.ids, tx, row, period, options.window.split)
            };
            let customers = &mut self.customers;
            customers.rows_used += 1;
            let state = &mut customers.states[index];
            if period < state.last_period {
                return false;
            }
            let calibrating = options
                .window
                .split
                .is_some_and(|split| period as i64 <= split);
            if period > state.last_period {
                state.periods += 1;
                state.last_period = period;
                if calibrating {
                    let cal = &mut customers.calibration[index];
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
                        .insert((index as u32, orders[tx.row as usize]), period)
                        .is_none(),
                ),
            };
            // Periods arrive in order, so the first period lasts while only one is counted.
            let in_first = state.periods == 1;
            if !customers.add_narrow(index, amount, in_first, calibrating) {
                customers.add_wide(index, amount, in_first, calibrating);
            }
            if self.seen_orders.len() > self.compact_at {
                self.forget_past_orders();
            }
        }
        true
    }

    fn ids_full(&self) -> bool {
        self.customers.names.full
    }
}

impl CustomerBuilder {
    /// Drops the orders of periods each customer has left; the next compaction comes when
    /// the map has doubled again (amortised O(1) a row).
    fn forget_past_orders(&mut self) {
        let states = &self.customers.states;
        self.seen_orders
            .retain(|&(customer, _), period| *period == states[customer as usize].last_period);
        self.compact_at = (2 * self.seen_orders.len()).max(ORDERS_KEPT);
    }

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
        if let Some(i) = self.table.lookup(ids, &self.customers.names, tx) {
            return i as usize;
        }
        let states = &mut self.customers.states;
        let i = states.len();
        self.table.add(ids, &mut self.customers.names, tx, i as u32);
        states.push(CustomerState {
            key: tx.key,
            min_time: tx.time,
            max_time: tx.time,
            first_row: row,
            min_row: row,
            max_row: row,
            periods: 1,
            last_period: period,
            ..CustomerState::default()
        });
        if let Some(split) = split {
            self.customers.calibration.push(Calibration {
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
                prefetch(&self.customers.states[slot.index as usize]);
                if strings {
                    ids.prefetch_bytes(near.row as usize);
                    self.customers.names.prefetch(slot.name);
                }
                found_ahead[i % LOOKAHEAD] = slot.index;
            }
        }
        known
    }
}

impl CustomerStates {
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
