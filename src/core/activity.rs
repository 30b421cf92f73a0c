//! Per customer-period activity: for every customer, its purchase periods in ascending order
//! with the exact revenue and the number of orders of each.
//!
//! Built in one parallel pass over the customer-hash partitions of
//! [`aggregate::partition_transactions`]: inside a partition, customers get dense local codes
//! from a hash table, transactions are grouped by code with a counting sort (stable, so a
//! time-sorted log needs no further sort), and each customer's transactions are run-length
//! reduced to periods. Only a customer whose periods arrive out of order is sorted. No locks,
//! no per-row allocation.
use hashbrown::HashTable;
use rayon::prelude::*;

use crate::core::aggregate::{self, Columns, Options, Tx};
use crate::core::error::{CoreError, Result};

/// The activity of the customers of one partition, in compressed sparse rows: customer `i`
/// owns entries `offsets[i]..offsets[i + 1]` of `periods`, `revenue` and `orders`.
#[derive(Debug, Default)]
pub struct ActivityPart {
    /// Smallest row index of each customer (identifies it in the input).
    pub first_row: Vec<u32>,
    pub offsets: Vec<usize>,
    /// Purchase periods, strictly ascending within a customer.
    pub periods: Vec<i64>,
    /// Revenue of the period in minor units at `Options::scale` (0 without amounts).
    pub revenue: Vec<i128>,
    /// Orders in the period (rows, or distinct order ids when given).
    pub orders: Vec<u64>,
}

/// One customer's purchases.
#[derive(Clone, Copy, Debug)]
pub struct Purchases<'a> {
    pub periods: &'a [i64],
    pub revenue: &'a [i128],
    pub orders: &'a [u64],
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
}

#[derive(Default)]
struct PartResult {
    part: ActivityPart,
    rows_used: u64,
    overflows: u64,
}

/// Builds the per customer-period table.
pub fn activity(columns: &Columns, options: &Options) -> Result<Activity> {
    let partitioned = aggregate::partition_transactions(columns, options)?;
    let results: Vec<PartResult> = partitioned
        .parts()
        .into_par_iter()
        .map(|txs| build_part(columns, options, txs))
        .collect();
    let mut out = Activity {
        rows_before_start: partitioned.rows_before_start(),
        rows_after_end: partitioned.rows_after_end(),
        ..Activity::default()
    };
    let mut overflows = 0u64;
    for result in results {
        out.rows_used += result.rows_used;
        overflows += result.overflows;
        let part = result.part;
        for purchases in part.iter() {
            if let (Some(&first), Some(&last)) =
                (purchases.periods.first(), purchases.periods.last())
            {
                out.min_period = Some(out.min_period.map_or(first, |m| m.min(first)));
                out.max_period = Some(out.max_period.map_or(last, |m| m.max(last)));
            }
        }
        out.parts.push(part);
    }
    if overflows > 0 {
        return Err(CoreError::Data {
            column: options.amount_name.clone(),
            message: "per-period total overflows 38 decimal digits".into(),
            rows: overflows,
        });
    }
    Ok(out)
}

fn build_part(columns: &Columns, options: &Options, txs: &[Tx]) -> PartResult {
    let mut out = PartResult::default();
    let mut table: HashTable<u32> = HashTable::new();
    let mut hashes: Vec<u64> = Vec::new();
    let mut first_tx: Vec<Tx> = Vec::new();
    // Per transaction: customer code, period, amount, order id.
    let mut codes: Vec<u32> = Vec::with_capacity(txs.len());
    let mut periods: Vec<i64> = Vec::with_capacity(txs.len());
    let mut amounts: Vec<i128> = Vec::with_capacity(txs.len());
    let mut order_ids: Vec<i64> = Vec::new();
    for tx in txs {
        out.rows_used += 1;
        let hash = tx.hash();
        let code = match table.find(hash, |&i| first_tx[i as usize].same_customer(tx, columns)) {
            Some(&i) => i,
            None => {
                let i = first_tx.len() as u32;
                table.insert_unique(hash, i, |&j| hashes[j as usize]);
                hashes.push(hash);
                first_tx.push(*tx);
                i
            }
        };
        codes.push(code);
        periods.push(options.periodizer.period(tx.time));
        amounts.push(tx.amount(columns, options));
        if let Some(orders) = columns.orders {
            order_ids.push(orders[tx.row as usize]);
        }
    }
    let first_row: Vec<u32> = first_tx.iter().map(|tx| tx.row).collect();
    // Counting sort of the kept rows by customer code (stable).
    let customers = first_row.len();
    let mut starts = vec![0usize; customers + 1];
    for &code in &codes {
        starts[code as usize + 1] += 1;
    }
    for i in 0..customers {
        starts[i + 1] += starts[i];
    }
    let mut cursor = starts.clone();
    let mut order = vec![0u32; codes.len()];
    for (k, &code) in codes.iter().enumerate() {
        order[cursor[code as usize]] = k as u32;
        cursor[code as usize] += 1;
    }
    let part = &mut out.part;
    part.offsets.reserve_exact(customers + 1);
    part.offsets.push(0);
    let mut scratch: Vec<(i64, i128, i64)> = Vec::new();
    let mut seen_orders: Vec<i64> = Vec::new();
    let with_orders = columns.orders.is_some();
    for c in 0..customers {
        let own = &order[starts[c]..starts[c + 1]];
        scratch.clear();
        scratch.extend(own.iter().map(|&k| {
            let k = k as usize;
            let id = if with_orders { order_ids[k] } else { 0 };
            (periods[k], amounts[k], id)
        }));
        if scratch.windows(2).any(|w| w[1].0 < w[0].0) {
            scratch.sort_by_key(|e| e.0);
        }
        let mut i = 0;
        while i < scratch.len() {
            let period = scratch[i].0;
            let mut j = i;
            let mut revenue: i128 = 0;
            while j < scratch.len() && scratch[j].0 == period {
                match revenue.checked_add(scratch[j].1) {
                    Some(total) => revenue = total,
                    None => out.overflows += 1,
                }
                j += 1;
            }
            let orders = if with_orders {
                seen_orders.clear();
                seen_orders.extend(scratch[i..j].iter().map(|e| e.2));
                seen_orders.sort_unstable();
                seen_orders.dedup();
                seen_orders.len() as u64
            } else {
                (j - i) as u64
            };
            part.periods.push(period);
            part.revenue.push(revenue);
            part.orders.push(orders);
            i = j;
        }
        part.offsets.push(part.periods.len());
    }
    part.first_row = first_row;
    out
}
