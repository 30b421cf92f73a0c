//! Cross-sell and upsell: the order × product incidence of a log with a product column, and
//! what is read from it — basket KPIs ([`kpis`]), co-occurring pairs ([`pairs`]), products
//! bought in the next order ([`sequence`]) and item-to-item recommendations ([`similarity`]).
//!
//! A basket is a set of distinct products (an order's, or a customer's over the whole log).
//! Lines are grouped into baskets by a parallel sort of packed keys, so the result is the same
//! whatever the thread count; the consumers then work per product or per basket, in parallel,
//! each writing only its own output, which is concatenated in product (or basket) order.
use rayon::prelude::*;

use crate::core::error::{CoreError, Result};

pub mod kpis;
pub mod pairs;
pub mod sequence;
pub mod similarity;

/// The lines of a log as the basket kernels read them: product codes (dense, `0..products`,
/// numbered in the order products should be listed) and what groups lines into baskets.
#[derive(Clone, Copy)]
pub struct Lines<'a> {
    /// Order codes; `None`: a customer's lines at the same time are one order.
    pub orders: Option<&'a [i64]>,
    pub products: &'a [i64],
    /// Customer codes (needed for customer baskets, sequences and the order check).
    pub customers: Option<&'a [i64]>,
    /// Times (any monotone unit), for sequences.
    pub times: Option<&'a [i64]>,
    /// Number of distinct product codes.
    pub n_products: usize,
    /// The user's names of the product and customer columns, for messages.
    pub product_name: &'a str,
    pub customer_name: &'a str,
}

/// What makes a basket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The products of one order.
    Order,
    /// The products a customer ever bought.
    Customer,
}

impl Level {
    pub fn parse(level: &str) -> Result<Level> {
        match level {
            "order" => Ok(Level::Order),
            "customer" => Ok(Level::Customer),
            other => Err(CoreError::argument(
                "level",
                format!("must be 'order' or 'customer', got '{other}'"),
            )),
        }
    }
}

/// Baskets in compressed sparse rows: basket `i` holds `products[offsets[i]..offsets[i + 1]]`,
/// distinct and ascending. Baskets are ordered by (customer, time, order) for orders and by
/// customer code for customer baskets.
#[derive(Debug, Default)]
pub struct Baskets {
    pub offsets: Vec<usize>,
    pub products: Vec<u32>,
    /// The customer code of each basket (0 without customers).
    pub customers: Vec<i64>,
    /// The earliest time among each basket's lines (0 without times).
    pub times: Vec<i64>,
    /// The input rows of basket `i`'s lines: `rows[line_offsets[i]..line_offsets[i + 1]]`
    /// (empty once baskets are reordered by [`in_customer_order`]).
    pub line_offsets: Vec<usize>,
    pub rows: Vec<u32>,
    pub n_products: usize,
}

impl Baskets {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The input rows of basket `i`'s lines.
    pub fn rows_of(&self, i: usize) -> &[u32] {
        &self.rows[self.line_offsets[i]..self.line_offsets[i + 1]]
    }

    #[inline]
    pub fn basket(&self, i: usize) -> &[u32] {
        &self.products[self.offsets[i]..self.offsets[i + 1]]
    }

    /// How many baskets hold each product (in parallel over fixed chunks of baskets; integer
    /// sums, so the split does not matter).
    pub fn product_counts(&self) -> Vec<u64> {
        let n = self.n_products;
        self.products
            .par_chunks(1 << 16)
            .fold(
                || vec![0u64; n],
                |mut counts, chunk| {
                    for &p in chunk {
                        counts[p as usize] += 1;
                    }
                    counts
                },
            )
            .reduce(
                || vec![0u64; n],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    }

    /// For each product, the baskets holding it (ascending), in compressed sparse rows:
    /// the transpose the per-product consumers walk. `keep` selects the baskets.
    pub fn by_product(&self, keep: impl Fn(usize) -> bool + Sync) -> Transposed {
        let mut offsets = vec![0usize; self.n_products + 1];
        for i in (0..self.len()).filter(|&i| keep(i)) {
            for &p in self.basket(i) {
                offsets[p as usize + 1] += 1;
            }
        }
        for p in 0..self.n_products {
            offsets[p + 1] += offsets[p];
        }
        let mut cursor = offsets.clone();
        let mut baskets = vec![0u32; offsets[self.n_products]];
        for i in (0..self.len()).filter(|&i| keep(i)) {
            for &p in self.basket(i) {
                baskets[cursor[p as usize]] = i as u32;
                cursor[p as usize] += 1;
            }
        }
        Transposed { offsets, baskets }
    }
}

/// Product → the baskets holding it, in compressed sparse rows.
#[derive(Debug, Default)]
pub struct Transposed {
    pub offsets: Vec<usize>,
    pub baskets: Vec<u32>,
}

impl Transposed {
    #[inline]
    pub fn of(&self, product: usize) -> &[u32] {
        &self.baskets[self.offsets[product]..self.offsets[product + 1]]
    }
}

/// One line, packed for the grouping sort: `group` then `sub` decide the basket (and its
/// place), `product` its content.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed {
    group: i64,
    sub: i64,
    tie: i64,
    product: u32,
    row: u32,
}

/// Groups `lines` into baskets of `level`.
///
/// Order baskets need customers and times only for sequences: with them the baskets come in
/// (customer, time, order) order; an order whose lines name different customers is an error.
pub fn baskets(lines: &Lines, level: Level) -> Result<Baskets> {
    let n = lines.products.len();
    check_lengths(lines, n)?;
    check_products(lines)?;
    if n > u32::MAX as usize {
        return Err(CoreError::argument(
            "data",
            format!("{n} lines exceed the 4,294,967,295-line limit of one call"),
        ));
    }
    let customer = |i: usize| lines.customers.map_or(0, |c| c[i]);
    let time = |i: usize| lines.times.map_or(0, |t| t[i]);
    let keyed: Vec<Keyed> = match (level, lines.orders) {
        (Level::Customer, _) => {
            let Some(customers) = lines.customers else {
                return Err(CoreError::argument(
                    "customer",
                    "level='customer' needs the customer column",
                ));
            };
            (0..n)
                .into_par_iter()
                .map(|i| Keyed {
                    group: customers[i],
                    sub: 0,
                    tie: 0,
                    product: lines.products[i] as u32,
                    row: i as u32,
                })
                .collect()
        }
        // Sorted by order, then customer (to find orders with several), then product.
        (Level::Order, Some(orders)) => (0..n)
            .into_par_iter()
            .map(|i| Keyed {
                group: orders[i],
                sub: customer(i),
                tie: time(i),
                product: lines.products[i] as u32,
                row: i as u32,
            })
            .collect(),
        (Level::Order, None) => {
            if lines.customers.is_none() || lines.times.is_none() {
                return Err(CoreError::argument(
                    "order",
                    "without an order column, orders are a customer's lines at one time: \
                     pass the order, or the customer and time columns",
                ));
            }
            (0..n)
                .into_par_iter()
                .map(|i| Keyed {
                    group: customer(i),
                    sub: time(i),
                    tie: 0,
                    product: lines.products[i] as u32,
                    row: i as u32,
                })
                .collect()
        }
    };
    let by_order = level == Level::Order && lines.orders.is_some();
    let mut keyed = keyed;
    // (group, sub, product) decide the basket and its content; `tie` (a line's time inside
    // an order) only the order's earliest time, so it sorts after the product.
    keyed.par_sort_unstable_by_key(|k| (k.group, k.sub, k.product, k.tie));
    let same_basket = |a: &Keyed, b: &Keyed| a.group == b.group && (by_order || a.sub == b.sub);
    let mut out = Baskets {
        offsets: vec![0],
        line_offsets: vec![0],
        rows: keyed.iter().map(|k| k.row).collect(),
        n_products: lines.n_products,
        ..Baskets::default()
    };
    let mut mixed_orders = 0u64;
    let mut start = 0;
    while start < keyed.len() {
        let first = keyed[start];
        let mut end = start + 1;
        let mut earliest = if by_order { first.tie } else { first.sub };
        let mut mixed = false;
        while end < keyed.len() && same_basket(&first, &keyed[end]) {
            let line = keyed[end];
            mixed |= line.sub != first.sub;
            earliest = earliest.min(if by_order { line.tie } else { line.sub });
            if line.product != keyed[end - 1].product {
                out.products.push(keyed[end - 1].product);
            }
            end += 1;
        }
        out.products.push(keyed[end - 1].product);
        mixed_orders += u64::from(by_order && mixed);
        out.offsets.push(out.products.len());
        out.line_offsets.push(end);
        out.customers.push(match (level, by_order) {
            (Level::Order, true) => first.sub,
            _ => first.group,
        });
        out.times
            .push(if level == Level::Order { earliest } else { 0 });
        start = end;
    }
    if mixed_orders > 0 {
        return Err(CoreError::data(
            lines.customer_name,
            "the lines of one order carry different customers",
            mixed_orders,
        ));
    }
    Ok(out)
}

/// Order baskets in each customer's purchase order: (customer, earliest time, order) —
/// the order the sequence and evaluation consumers read them in.
pub fn in_customer_order(baskets: Baskets) -> Baskets {
    let mut index: Vec<u32> = (0..baskets.len() as u32).collect();
    // Stable: equal (customer, time) keep their order-code order from the grouping sort.
    index.par_sort_by_key(|&i| (baskets.customers[i as usize], baskets.times[i as usize]));
    let mut out = Baskets {
        offsets: Vec::with_capacity(baskets.offsets.len()),
        products: Vec::with_capacity(baskets.products.len()),
        customers: Vec::with_capacity(index.len()),
        times: Vec::with_capacity(index.len()),
        line_offsets: Vec::new(),
        rows: Vec::new(),
        n_products: baskets.n_products,
    };
    out.offsets.push(0);
    for &i in &index {
        let i = i as usize;
        out.products.extend_from_slice(baskets.basket(i));
        out.offsets.push(out.products.len());
        out.customers.push(baskets.customers[i]);
        out.times.push(baskets.times[i]);
    }
    out
}

fn check_lengths(lines: &Lines, n: usize) -> Result<()> {
    let lengths = [
        lines.orders.map(<[i64]>::len),
        lines.customers.map(<[i64]>::len),
        lines.times.map(<[i64]>::len),
    ];
    if lengths.iter().flatten().any(|&len| len != n) {
        return Err(CoreError::argument(
            "data",
            "columns have different lengths",
        ));
    }
    Ok(())
}

/// Every product code is in `0..n_products` (the bindings number them; this guards the
/// dense per-product arrays of the consumers).
fn check_products(lines: &Lines) -> Result<()> {
    let limit = lines.n_products.min(u32::MAX as usize) as i64;
    let bad = lines
        .products
        .par_iter()
        .filter(|&&p| p < 0 || p >= limit)
        .count();
    if bad > 0 {
        return Err(CoreError::data(
            lines.product_name,
            format!("product codes must lie in 0..{limit}"),
            bad as u64,
        ));
    }
    Ok(())
}

/// The `k` largest of `items` by `better` (a strict "comes first" order), sorted that way.
pub(crate) fn top_k<T: Copy>(
    items: &mut Vec<T>,
    k: usize,
    better: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    if items.len() > k {
        items.select_nth_unstable_by(k, &better);
        items.truncate(k);
    }
    items.sort_unstable_by(better);
}

#[cfg(test)]
pub(crate) fn lines<'a>(orders: &'a [i64], products: &'a [i64], n_products: usize) -> Lines<'a> {
    Lines {
        orders: Some(orders),
        products,
        customers: None,
        times: None,
        n_products,
        product_name: "product_id",
        customer_name: "customer_id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_lines_of_a_product_count_once() {
        let orders = [5, 5, 5, 2, 9];
        let products = [1, 0, 1, 2, 0];
        let b = baskets(&lines(&orders, &products, 3), Level::Order).expect("groups");
        assert_eq!(b.len(), 3);
        assert_eq!(b.basket(0), &[2]);
        assert_eq!(b.basket(1), &[0, 1]);
        assert_eq!(b.basket(2), &[0]);
        assert_eq!(b.product_counts(), vec![2, 1, 1]);
    }

    #[test]
    fn an_order_with_two_customers_is_refused() {
        let orders = [1, 1, 2];
        let products = [0, 1, 0];
        let customers = [7, 8, 7];
        let mut l = lines(&orders, &products, 2);
        l.customers = Some(&customers);
        let err = baskets(&l, Level::Order).expect_err("mixed");
        assert!(err.to_string().contains("different customers (1 rows)"));
    }

    #[test]
    fn product_codes_out_of_range_are_refused() {
        let orders = [1, 1];
        let products = [0, 3];
        assert!(baskets(&lines(&orders, &products, 2), Level::Order).is_err());
    }
}
