//! Growth accounting by calendar period (DESIGN.md §4, "Retention by period").
//!
//! Each customer's purchases are turned into maximal *active intervals* (the union of
//! `[q, q + window − 1]` over its purchase periods q, clipped to the last period). Counts that
//! hold over a whole interval (active, retained) go into difference arrays; events at its ends
//! (new, resurrected, churned) and revenue changes at purchase periods are point updates. The
//! work per customer is O(purchases), whatever the number of periods. Partitions are reduced
//! into a few partial arrays of integers, so the result is exact and independent of the
//! thread count.
use rayon::prelude::*;

use crate::core::activity::{Activity, Purchases};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::money::ratio;

/// Most periods one retention table may span.
pub const MAX_PERIODS: i64 = 10_000_000;

/// Per-period columns; period `i` is `first_period + i`. Money in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    pub first_period: i64,
    pub active: Vec<i64>,
    pub new: Vec<i64>,
    pub retained: Vec<i64>,
    pub resurrected: Vec<i64>,
    pub churned: Vec<i64>,
    pub revenue: Vec<i128>,
    pub new_revenue: Vec<i128>,
    pub resurrected_revenue: Vec<i128>,
    pub retained_revenue: Vec<i128>,
    pub expansion_revenue: Vec<i128>,
    pub contraction_revenue: Vec<i128>,
    pub churned_revenue: Vec<i128>,
}

impl Retention {
    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Adds `other`, a table of the same periods over other customers: counts and money of
    /// disjoint customer sets add up (growth accounting is per customer), so the parts of a
    /// log shuffled by customer give the whole log's table.
    pub fn merge(&mut self, other: &Retention) -> Result<()> {
        if other.first_period != self.first_period || other.len() != self.len() {
            return Err(CoreError::argument(
                "partials",
                "retention tables over different periods cannot be merged",
            ));
        }
        add(&mut self.active, &other.active);
        add(&mut self.new, &other.new);
        add(&mut self.retained, &other.retained);
        add(&mut self.resurrected, &other.resurrected);
        add(&mut self.churned, &other.churned);
        add(&mut self.revenue, &other.revenue);
        add(&mut self.new_revenue, &other.new_revenue);
        add(&mut self.resurrected_revenue, &other.resurrected_revenue);
        add(&mut self.retained_revenue, &other.retained_revenue);
        add(&mut self.expansion_revenue, &other.expansion_revenue);
        add(&mut self.contraction_revenue, &other.contraction_revenue);
        add(&mut self.churned_revenue, &other.churned_revenue);
        Ok(())
    }

    /// active(p − 1), 0 for the first period.
    pub fn previous_active(&self, i: usize) -> i64 {
        if i == 0 {
            0
        } else {
            self.active[i - 1]
        }
    }

    /// rev(p − 1), 0 for the first period.
    pub fn previous_revenue(&self, i: usize) -> i128 {
        if i == 0 {
            0
        } else {
            self.revenue[i - 1]
        }
    }

    pub fn retention_rate(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| ratio(self.retained[i].into(), self.previous_active(i).into()))
            .collect()
    }

    pub fn churn_rate(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| ratio(self.churned[i].into(), self.previous_active(i).into()))
            .collect()
    }

    /// (new + resurrected) / churned.
    pub fn quick_ratio(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| {
                ratio(
                    (self.new[i] + self.resurrected[i]).into(),
                    self.churned[i].into(),
                )
            })
            .collect()
    }

    /// (rev(p − 1) + expansion − contraction − churned) / rev(p − 1).
    pub fn net_revenue_retention(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| {
                let previous = self.previous_revenue(i);
                ratio(
                    previous + self.expansion_revenue[i]
                        - self.contraction_revenue[i]
                        - self.churned_revenue[i],
                    previous,
                )
            })
            .collect()
    }

    /// (new + resurrected + expansion) / (churned + contraction).
    pub fn revenue_quick_ratio(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| {
                ratio(
                    self.new_revenue[i] + self.resurrected_revenue[i] + self.expansion_revenue[i],
                    self.churned_revenue[i] + self.contraction_revenue[i],
                )
            })
            .collect()
    }
}

/// Adds `b` to `a`, element by element.
fn add<T: Copy + std::ops::AddAssign>(a: &mut [T], b: &[T]) {
    a.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
}

/// Partial sums of one group of partitions: `*_diff` are difference arrays (length n + 1).
struct Acc {
    active_diff: Vec<i64>,
    retained_diff: Vec<i64>,
    new: Vec<i64>,
    resurrected: Vec<i64>,
    churned: Vec<i64>,
    revenue: Vec<i128>,
    new_revenue: Vec<i128>,
    resurrected_revenue: Vec<i128>,
    retained_revenue: Vec<i128>,
    expansion: Vec<i128>,
    contraction: Vec<i128>,
    churned_revenue: Vec<i128>,
}

impl Acc {
    fn new(n: usize) -> Acc {
        Acc {
            active_diff: vec![0; n + 1],
            retained_diff: vec![0; n + 1],
            new: vec![0; n],
            resurrected: vec![0; n],
            churned: vec![0; n],
            revenue: vec![0; n],
            new_revenue: vec![0; n],
            resurrected_revenue: vec![0; n],
            retained_revenue: vec![0; n],
            expansion: vec![0; n],
            contraction: vec![0; n],
            churned_revenue: vec![0; n],
        }
    }

    fn merge(mut self, other: Acc) -> Acc {
        add(&mut self.active_diff, &other.active_diff);
        add(&mut self.retained_diff, &other.retained_diff);
        add(&mut self.new, &other.new);
        add(&mut self.resurrected, &other.resurrected);
        add(&mut self.churned, &other.churned);
        add(&mut self.revenue, &other.revenue);
        add(&mut self.new_revenue, &other.new_revenue);
        add(&mut self.resurrected_revenue, &other.resurrected_revenue);
        add(&mut self.retained_revenue, &other.retained_revenue);
        add(&mut self.expansion, &other.expansion);
        add(&mut self.contraction, &other.contraction);
        add(&mut self.churned_revenue, &other.churned_revenue);
        self
    }

    /// Revenue change `delta` of a retained customer at index `i`.
    #[inline]
    fn change(&mut self, i: usize, delta: i128) {
        if delta > 0 {
            self.expansion[i] += delta;
        } else {
            self.contraction[i] -= delta;
        }
    }

    fn add_customer(&mut self, p: Purchases<'_>, lo: i64, hi: i64, window: i64) {
        let r = p.revenue;
        let q = |k: usize| i64::from(p.periods[k]);
        let purchases = p.periods.len();
        let idx = |period: i64| (period - lo) as usize;
        let mut i = 0;
        while i < purchases {
            // The maximal active interval [a, b] starting at purchase i.
            let a = q(i);
            let mut b = a + window - 1;
            let mut j = i + 1;
            while j < purchases && q(j) <= b + 1 {
                b = b.max(q(j) + window - 1);
                j += 1;
            }
            let b = b.min(hi);
            self.active_diff[idx(a)] += 1;
            self.active_diff[idx(b) + 1] -= 1;
            if a < b {
                self.retained_diff[idx(a) + 1] += 1;
                self.retained_diff[idx(b) + 1] -= 1;
            }
            if i == 0 {
                self.new[idx(a)] += 1;
                self.new_revenue[idx(a)] += r[i];
            } else {
                self.resurrected[idx(a)] += 1;
                self.resurrected_revenue[idx(a)] += r[i];
            }
            for k in i..j {
                let at = idx(q(k));
                self.revenue[at] += r[k];
                if k > i {
                    // Retained at q(k): compare with the previous period's revenue.
                    self.retained_revenue[at] += r[k];
                    let previous = if q(k - 1) == q(k) - 1 { r[k - 1] } else { 0 };
                    self.change(at, r[k] - previous);
                }
                let next = q(k) + 1;
                if next <= b && !(k + 1 < j && q(k + 1) == next) {
                    // Retained at q(k) + 1 without a purchase: revenue falls to 0.
                    self.change(at + 1, -r[k]);
                }
            }
            if b < hi {
                let at = idx(b) + 1;
                self.churned[at] += 1;
                if q(j - 1) == b {
                    self.churned_revenue[at] += r[j - 1];
                }
            }
            i = j;
        }
    }
}

/// Growth accounting over every period from the first to the last purchase. A customer is
/// active in p when it purchased in one of the `window` periods ending at p.
pub fn retention(activity: &Activity, window: u32) -> Result<Retention> {
    if window == 0 {
        return Err(CoreError::argument("active_window", "must be at least 1"));
    }
    let Some((lo, n)) = activity.period_span(MAX_PERIODS, "a retention table")? else {
        return Ok(Retention::default());
    };
    let hi = lo + n as i64 - 1;
    let window = i64::from(window);
    let min_len = activity.parts_per_task();
    let acc = activity
        .parts
        .par_iter()
        .with_min_len(min_len)
        .fold(
            || Acc::new(n),
            |mut acc, part| {
                checkpoint();
                for purchases in part.iter() {
                    acc.add_customer(purchases, lo, hi, window);
                }
                acc
            },
        )
        .reduce(|| Acc::new(n), Acc::merge);
    let prefix = |diff: &[i64]| -> Vec<i64> {
        diff[..n]
            .iter()
            .scan(0i64, |sum, &d| {
                *sum += d;
                Some(*sum)
            })
            .collect()
    };
    Ok(Retention {
        first_period: lo,
        active: prefix(&acc.active_diff),
        retained: prefix(&acc.retained_diff),
        new: acc.new,
        resurrected: acc.resurrected,
        churned: acc.churned,
        revenue: acc.revenue,
        new_revenue: acc.new_revenue,
        resurrected_revenue: acc.resurrected_revenue,
        retained_revenue: acc.retained_revenue,
        expansion_revenue: acc.expansion,
        contraction_revenue: acc.contraction,
        churned_revenue: acc.churned_revenue,
    })
}
