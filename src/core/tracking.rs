//! Entries and repeat purchases by period: what tracking a purchase model against the log
//! reads (DESIGN.md §4, "Tracking").
//!
//! Each customer enters at its first purchase period; every later purchase period is one repeat
//! purchase (transactions in one period are one purchase, as in the RFM summary). The work per
//! customer is O(purchase periods); partitions are reduced into a few integer arrays, so the
//! result is exact and independent of the thread count.
use rayon::prelude::*;

use crate::core::activity::Activity;
use crate::core::error::Result;

/// Most periods the entries of one log may span.
pub const MAX_PERIODS: i64 = 10_000_000;

/// Per period `first_period + i`: customers entering and repeat purchases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub first_period: i64,
    /// Customers whose first purchase falls in the period.
    pub entering: Vec<u64>,
    /// Purchase periods, after their customer's first, that fall in the period.
    pub repeats: Vec<u64>,
}

impl Entries {
    /// Periods from the first to the last purchase.
    pub fn len(&self) -> usize {
        self.entering.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entering.is_empty()
    }

    /// Repeat purchases in the first `periods` periods (all of them past the last period).
    pub fn repeats_before(&self, periods: usize) -> u64 {
        self.repeats[..periods.min(self.repeats.len())].iter().sum()
    }
}

/// Entries and repeat purchases of every period from the first to the last purchase.
pub fn entries(activity: &Activity) -> Result<Entries> {
    let Some((lo, n)) = activity.period_span(MAX_PERIODS, "a tracking table")? else {
        return Ok(Entries::default());
    };
    let min_len = activity.parts_per_task();
    let empty = || (vec![0u64; n], vec![0u64; n]);
    let (entering, repeats) = activity
        .parts
        .par_iter()
        .with_min_len(min_len)
        .fold(empty, |(mut entering, mut repeats), part| {
            for p in part.iter() {
                if let Some((&first, later)) = p.periods.split_first() {
                    entering[(i64::from(first) - lo) as usize] += 1;
                    for &q in later {
                        repeats[(i64::from(q) - lo) as usize] += 1;
                    }
                }
            }
            (entering, repeats)
        })
        .reduce(empty, |(mut e1, mut r1), (e2, r2)| {
            e1.iter_mut().zip(&e2).for_each(|(a, &b)| *a += b);
            r1.iter_mut().zip(&r2).for_each(|(a, &b)| *a += b);
            (e1, r1)
        });
    Ok(Entries {
        first_period: lo,
        entering,
        repeats,
    })
}
