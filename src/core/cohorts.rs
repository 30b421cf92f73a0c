//! Acquisition cohorts × periods since acquisition (DESIGN.md §4, "Cohorts").
//!
//! cohort = period of the first purchase; cell (c, k) sums, over the customers of cohort c,
//! their activity in period c + k. Cells with c + k after the last period are not observable.
use rayon::prelude::*;

use crate::core::activity::Activity;
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;

/// Most periods a cohort matrix may span (the matrix is periods × periods).
pub const MAX_PERIODS: i64 = 2_000;

/// What a cell holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CohortValue {
    /// Customers with a purchase in the period.
    Active,
    /// Revenue in minor units.
    Revenue,
    /// Orders.
    Orders,
}

impl CohortValue {
    pub const ALLOWED: &'static str =
        "'active', 'revenue', 'orders', 'cumulative_revenue_per_customer'";

    /// Parses a `value=` option; `cumulative_revenue_per_customer` is built on `Revenue`.
    pub fn parse(text: &str) -> Result<CohortValue> {
        match text {
            "active" => Ok(CohortValue::Active),
            "revenue" | "cumulative_revenue_per_customer" => Ok(CohortValue::Revenue),
            "orders" => Ok(CohortValue::Orders),
            other => Err(CoreError::argument(
                "value",
                format!("unknown value '{other}'; expected one of {}", Self::ALLOWED),
            )),
        }
    }
}

/// Non-empty cohorts in period order. Row `i` is cohort `periods[i]`; its cells are
/// `cells[i * width..(i + 1) * width]`, of which the first `observable[i]` are observable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cohorts {
    pub periods: Vec<i64>,
    pub sizes: Vec<u64>,
    pub observable: Vec<usize>,
    pub width: usize,
    pub cells: Vec<i128>,
}

impl Cohorts {
    pub fn row(&self, i: usize) -> &[i128] {
        &self.cells[i * self.width..(i + 1) * self.width]
    }

    /// Adds `other`, a matrix of the same span over other customers: cohort sizes and cells
    /// of disjoint customer sets add up, cohort by cohort (a cohort may be empty in one part).
    pub fn merge(&self, other: &Cohorts) -> Result<Cohorts> {
        if self.periods.is_empty() {
            return Ok(other.clone());
        }
        if other.periods.is_empty() {
            return Ok(self.clone());
        }
        if other.width != self.width {
            return Err(CoreError::argument(
                "partials",
                "cohort matrices over different periods cannot be merged",
            ));
        }
        let mut rows: std::collections::BTreeMap<i64, (u64, usize, Vec<i128>)> =
            std::collections::BTreeMap::new();
        for table in [self, other] {
            for (i, &period) in table.periods.iter().enumerate() {
                let entry = rows
                    .entry(period)
                    .or_insert_with(|| (0, table.observable[i], vec![0; table.width]));
                entry.0 += table.sizes[i];
                entry.1 = entry.1.min(table.observable[i]);
                entry
                    .2
                    .iter_mut()
                    .zip(table.row(i))
                    .for_each(|(a, &b)| *a += b);
            }
        }
        let mut out = Cohorts {
            width: self.width,
            ..Cohorts::default()
        };
        for (period, (size, observable, cells)) in rows {
            out.periods.push(period);
            out.sizes.push(size);
            out.observable.push(observable);
            out.cells.extend(cells);
        }
        Ok(out)
    }
}

pub fn cohorts(activity: &Activity, value: CohortValue) -> Result<Cohorts> {
    let Some((lo, n)) = activity.period_span(MAX_PERIODS, "a cohort matrix")? else {
        return Ok(Cohorts::default());
    };
    let min_len = activity.parts_per_task();
    let empty = || (vec![0u64; n], vec![0i128; n * n]);
    let (sizes, cells) = activity
        .parts
        .par_iter()
        .with_min_len(min_len)
        .fold(empty, |(mut sizes, mut cells), part| {
            checkpoint();
            for p in part.iter() {
                let Some(first) = p.periods.first().map(|&first| i64::from(first)) else {
                    continue;
                };
                let c = (first - lo) as usize;
                sizes[c] += 1;
                let row = &mut cells[c * n..(c + 1) * n];
                for k in 0..p.periods.len() {
                    let cell = &mut row[(i64::from(p.periods[k]) - first) as usize];
                    *cell += match value {
                        CohortValue::Active => 1,
                        CohortValue::Revenue => p.revenue[k],
                        CohortValue::Orders => i128::from(p.orders[k]),
                    };
                }
            }
            (sizes, cells)
        })
        .reduce(empty, |(mut s1, mut c1), (s2, c2)| {
            s1.iter_mut().zip(&s2).for_each(|(a, &b)| *a += b);
            c1.iter_mut().zip(&c2).for_each(|(a, &b)| *a += b);
            (s1, c1)
        });
    let mut out = Cohorts {
        width: n,
        ..Cohorts::default()
    };
    for (c, &size) in sizes.iter().enumerate() {
        if size == 0 {
            continue;
        }
        out.periods.push(lo + c as i64);
        out.sizes.push(size);
        out.observable.push(n - c);
        out.cells.extend_from_slice(&cells[c * n..(c + 1) * n]);
    }
    Ok(out)
}
