//! What follows a purchase: for each product `a`, the products of the customer's next order
//! after each order holding `a` — the paths to offer after a first purchase, and upgrade
//! paths for upsell.
//!
//! Orders are read in each customer's purchase order (customer, earliest time, order code);
//! an order's successor is the customer's next one. Counting walks product → orders, one
//! product per task with a dense counter, as pair counting does.
use rayon::prelude::*;

use crate::core::basket::{top_k, Baskets};
use crate::core::interrupt::checkpoint;

/// Product `a`, a product `next` of the following order, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follow {
    pub product: u32,
    pub next: u32,
    /// Orders holding `product` whose next order holds `next`.
    pub count: u64,
    /// Orders holding `product` that have a next order.
    pub followed: u64,
}

/// For every product, the products of the next orders (at least `min_count` times; the `k`
/// most frequent per product when `top_k` is given, ties by product code), by product then
/// descending count. `orders` must be in customer order ([`in_customer_order`]).
///
/// [`in_customer_order`]: crate::core::basket::in_customer_order
pub fn next_products(orders: &Baskets, min_count: u64, top_k_per: Option<usize>) -> Vec<Follow> {
    let has_next =
        |i: usize| i + 1 < orders.len() && orders.customers[i + 1] == orders.customers[i];
    let transposed = orders.by_product(has_next);
    let products = orders.n_products;
    (0..products)
        .into_par_iter()
        .map_init(
            || (vec![0u32; products], Vec::<u32>::new()),
            |(counter, touched), a| {
                checkpoint();
                let before = transposed.of(a);
                for &order in before {
                    for &b in orders.basket(order as usize + 1) {
                        let slot = &mut counter[b as usize];
                        if *slot == 0 {
                            touched.push(b);
                        }
                        *slot += 1;
                    }
                }
                let followed = before.len() as u64;
                let mut out: Vec<Follow> = touched
                    .iter()
                    .map(|&b| Follow {
                        product: a as u32,
                        next: b,
                        count: std::mem::take(&mut counter[b as usize]) as u64,
                        followed,
                    })
                    .filter(|f| f.count >= min_count)
                    .collect();
                touched.clear();
                let order =
                    |x: &Follow, y: &Follow| y.count.cmp(&x.count).then(x.next.cmp(&y.next));
                let k = top_k_per.unwrap_or(out.len());
                top_k(&mut out, k, order);
                out
            },
        )
        .flatten_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, in_customer_order, Level, Lines};

    #[test]
    fn the_next_order_of_the_same_customer_is_followed() {
        // Customer 1: {0} at t=1, {1, 2} at t=5, {1} at t=9; customer 2: {0} at t=2, then
        // {2} at t=3; customer 3 only {0}.
        let orders = [10, 11, 11, 12, 20, 21, 30];
        let customers = [1, 1, 1, 1, 2, 2, 3];
        let times = [1, 5, 5, 9, 2, 3, 4];
        let products = [0, 1, 2, 1, 0, 2, 0];
        let lines = Lines {
            orders: Some(&orders),
            products: &products,
            customers: Some(&customers),
            times: Some(&times),
            n_products: 3,
            product_name: "product_id",
            customer_name: "customer_id",
        };
        let b = in_customer_order(baskets(&lines, Level::Order).unwrap());
        let got: Vec<(u32, u32, u64, u64)> = next_products(&b, 1, None)
            .iter()
            .map(|f| (f.product, f.next, f.count, f.followed))
            .collect();
        assert_eq!(
            got,
            vec![(0, 2, 2, 2), (0, 1, 1, 2), (1, 1, 1, 1), (2, 1, 1, 1)]
        );
    }
}
