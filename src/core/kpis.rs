//! Business KPIs over a window (DESIGN.md §4).
use rayon::prelude::*;

use crate::core::customers::Aggregate;

/// Totals and ratios; money in minor units at the aggregate's scale, ratios as f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Kpis {
    pub customers: u64,
    pub orders: u64,
    pub revenue: i128,
    pub repeat_customers: u64,
    /// Cost total when a cost column was given.
    pub cost: Option<i128>,
}

impl Kpis {
    pub fn from_aggregate(aggregate: &Aggregate, with_cost: bool) -> Kpis {
        let (orders, revenue, repeat_customers) = aggregate
            .par_customers_unordered()
            .map(|c| (c.orders, c.revenue, u64::from(c.orders >= 2)))
            .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        Kpis {
            customers: aggregate.len() as u64,
            orders,
            revenue,
            repeat_customers,
            cost: with_cost.then_some(aggregate.cost),
        }
    }
}
