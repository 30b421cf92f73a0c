//! Business KPIs over a window (DESIGN.md §4).
use crate::core::aggregate::Aggregate;

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
        let customers = &aggregate.customers;
        Kpis {
            customers: customers.len() as u64,
            orders: customers.iter().map(|c| c.orders).sum(),
            revenue: customers.iter().map(|c| c.revenue).sum(),
            repeat_customers: customers.iter().filter(|c| c.orders >= 2).count() as u64,
            cost: with_cost.then_some(aggregate.cost),
        }
    }
}
