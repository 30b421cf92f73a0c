//! Business KPIs over a window (DESIGN.md §4).
use rayon::prelude::*;

use crate::core::customers::Aggregate;
use crate::core::money::{mean_minor, ratio};

/// Totals and ratios; money in minor units at the aggregate's scale (means at scale +
/// `MEAN_EXTRA_SCALE`), ratios as f64; `None` where the denominator is 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Kpis {
    pub customers: u64,
    pub orders: u64,
    pub revenue: i128,
    pub repeat_customers: u64,
    /// Cost total when a cost column was given.
    pub cost: Option<i128>,
    /// revenue / orders.
    pub aov: Option<i128>,
    /// revenue / customers.
    pub spend_per_customer: Option<i128>,
    /// orders / customers.
    pub purchase_frequency: Option<f64>,
    /// Customers with 2 or more orders / customers.
    pub repeat_customer_rate: Option<f64>,
}

impl Kpis {
    pub fn from_aggregate(aggregate: &Aggregate, with_cost: bool) -> Kpis {
        let (orders, revenue, repeat_customers) = aggregate
            .par_customers_unordered()
            .map(|c| (c.orders, c.revenue, u64::from(c.orders >= 2)))
            .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        let cost = with_cost.then_some(aggregate.cost);
        Kpis::from_totals(
            aggregate.len() as u64,
            orders,
            revenue,
            repeat_customers,
            cost,
        )
    }

    /// The KPIs of totals: of one log, or the sums over parts of a log that share no
    /// customer (Dask partitions after a shuffle by customer), which give the same answer.
    pub fn from_totals(
        customers: u64,
        orders: u64,
        revenue: i128,
        repeat_customers: u64,
        cost: Option<i128>,
    ) -> Kpis {
        let mean = |count: u64| (count > 0).then(|| mean_minor(revenue, count));
        Kpis {
            customers,
            orders,
            revenue,
            repeat_customers,
            cost,
            aov: mean(orders),
            spend_per_customer: mean(customers),
            purchase_frequency: ratio(orders.into(), customers.into()),
            repeat_customer_rate: ratio(repeat_customers.into(), customers.into()),
        }
    }
}
