//! Basket KPIs: how big orders are, how often they hold more than one product, what they are
//! worth by size, and each product's attach rate (the share of its orders that hold another
//! product too). Money is summed exactly in minor units.
use rayon::prelude::*;

use crate::core::basket::Baskets;
use crate::core::error::{CoreError, Result};
use crate::core::log::Amounts;

/// The per-line values KPIs read besides the baskets.
#[derive(Clone, Copy)]
pub struct LineValues<'a> {
    /// The line's total value (not a unit price).
    pub amounts: Option<Amounts<'a>>,
    pub scale: u32,
    /// Units on the line (≥ 1); `None`: one unit a line.
    pub quantities: Option<&'a [i64]>,
    pub amount_name: &'a str,
    pub quantity_name: &'a str,
}

/// Orders of one basket size (items, the largest bucket holding every bigger order too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeBucket {
    pub size: u64,
    pub orders: u64,
    /// Minor units at the money scale.
    pub revenue: i128,
}

/// The basket KPIs of a log.
#[derive(Debug, Default)]
pub struct BasketKpis {
    pub orders: u64,
    pub lines: u64,
    pub items: u64,
    /// Σ over orders of their distinct products.
    pub product_slots: u64,
    /// Orders with at least two items / two distinct products.
    pub multi_item_orders: u64,
    pub multi_product_orders: u64,
    /// Minor units at the money scale (0 without amounts).
    pub revenue: i128,
    /// By ascending size, sizes with orders only.
    pub by_size: Vec<SizeBucket>,
    /// Per product: orders holding it, and those also holding another product.
    pub product_orders: Vec<u64>,
    pub attached_orders: Vec<u64>,
}

/// Per order: items, revenue; or the count of bad values found.
struct OrderValue {
    items: u64,
    revenue: i128,
}

/// The KPIs of order `baskets` (built with [`baskets`](crate::core::basket::baskets), which
/// keeps each order's rows) whose lines carry `values`; sizes of `max_size` items or more
/// share the last bucket.
pub fn basket_kpis(baskets: &Baskets, values: &LineValues, max_size: u64) -> Result<BasketKpis> {
    let n_lines = baskets.lines();
    if values.amounts.is_some_and(|a| a.len() != n_lines)
        || values.quantities.is_some_and(|q| q.len() != n_lines)
    {
        return Err(CoreError::argument(
            "data",
            "columns have different lengths",
        ));
    }
    if let Some(q) = values.quantities {
        let bad = q.par_iter().filter(|&&v| v < 1).count();
        if bad > 0 {
            return Err(CoreError::data(
                values.quantity_name,
                "quantities must be whole numbers of at least 1",
                bad as u64,
            ));
        }
    }
    if let Some(a) = values.amounts {
        let bad = (0..n_lines)
            .into_par_iter()
            .filter(|&r| a.fixed(r, values.scale).is_none())
            .count();
        if bad > 0 {
            return Err(CoreError::data(
                values.amount_name,
                "amount is NaN, infinite or too large for the money scale",
                bad as u64,
            ));
        }
    }
    let per_order: Vec<Option<OrderValue>> = (0..baskets.len())
        .into_par_iter()
        .map(|i| {
            let items = match values.quantities {
                Some(q) => baskets.rows_of(i).map(|r| q[r] as u64).sum(),
                None => baskets.rows_of(i).count() as u64,
            };
            let mut revenue = 0i128;
            if let Some(a) = values.amounts {
                for r in baskets.rows_of(i) {
                    revenue = revenue.checked_add(a.fixed(r, values.scale)?)?;
                }
            }
            Some(OrderValue { items, revenue })
        })
        .collect();
    let overflows = per_order.iter().filter(|o| o.is_none()).count();
    if overflows > 0 {
        return Err(CoreError::data(
            values.amount_name,
            "an order's total overflows 38 decimal digits",
            overflows as u64,
        ));
    }
    let mut kpis = BasketKpis {
        orders: baskets.len() as u64,
        lines: n_lines as u64,
        product_orders: baskets.product_counts(),
        attached_orders: vec![0; baskets.n_products],
        ..BasketKpis::default()
    };
    let max_size = max_size.max(1);
    let mut buckets = vec![SizeBucket::default(); max_size as usize];
    let overflow = || CoreError::data(values.amount_name, "the revenue total overflows", 1);
    for (i, order) in per_order.into_iter().flatten().enumerate() {
        let products = baskets.basket(i);
        kpis.items += order.items;
        kpis.product_slots += products.len() as u64;
        kpis.multi_item_orders += u64::from(order.items >= 2);
        kpis.multi_product_orders += u64::from(products.len() >= 2);
        kpis.revenue = kpis
            .revenue
            .checked_add(order.revenue)
            .ok_or_else(overflow)?;
        let bucket = &mut buckets[(order.items.min(max_size) - 1) as usize];
        bucket.orders += 1;
        bucket.revenue = bucket
            .revenue
            .checked_add(order.revenue)
            .ok_or_else(overflow)?;
        if products.len() >= 2 {
            for &p in products {
                kpis.attached_orders[p as usize] += 1;
            }
        }
    }
    kpis.by_size = buckets
        .into_iter()
        .enumerate()
        .filter(|(_, b)| b.orders > 0)
        .map(|(k, b)| SizeBucket {
            size: k as u64 + 1,
            ..b
        })
        .collect();
    Ok(kpis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, lines, Level};

    #[test]
    fn orders_are_sized_valued_and_attached() {
        // Order 1: products 0, 0 (two lines), 1; order 2: product 0 ×3 units; order 3: 2.
        let orders = [1, 1, 1, 2, 3];
        let products = [0, 0, 1, 0, 2];
        let amounts = [1.10, 2.20, 0.05, 9.99, 0.01];
        let quantities = [1, 1, 1, 3, 1];
        let b = baskets(&lines(&orders, &products, 3), Level::Order).unwrap();
        let values = LineValues {
            amounts: Some(Amounts::F64(&amounts)),
            scale: 2,
            quantities: Some(&quantities),
            amount_name: "amount",
            quantity_name: "quantity",
        };
        let k = basket_kpis(&b, &values, 10).unwrap();
        assert_eq!((k.orders, k.lines, k.items, k.product_slots), (3, 5, 7, 4));
        assert_eq!((k.multi_item_orders, k.multi_product_orders), (2, 1));
        assert_eq!(k.revenue, 1335);
        assert_eq!(
            k.by_size,
            vec![
                SizeBucket {
                    size: 1,
                    orders: 1,
                    revenue: 1
                },
                SizeBucket {
                    size: 3,
                    orders: 2,
                    revenue: 1334
                },
            ]
        );
        assert_eq!(k.product_orders, vec![2, 1, 1]);
        assert_eq!(k.attached_orders, vec![1, 1, 0]);
    }

    #[test]
    fn quantities_below_one_are_refused() {
        let orders = [1, 2];
        let products = [0, 1];
        let b = baskets(&lines(&orders, &products, 2), Level::Order).unwrap();
        let values = LineValues {
            amounts: None,
            scale: 2,
            quantities: Some(&[1, 0]),
            amount_name: "amount",
            quantity_name: "quantity",
        };
        let err = basket_kpis(&b, &values, 10).unwrap_err();
        assert!(err.to_string().contains("'quantity'"));
    }
}
