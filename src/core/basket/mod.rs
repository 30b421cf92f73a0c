//! Cross-sell and upsell: the order × product incidence of a log with a product column, and
//! what is read from it — basket KPIs ([`kpis`]), co-occurring pairs ([`pairs`]), products
//! bought in the next order ([`sequence`]) and item-to-item recommendations ([`similarity`]).
//!
//! A basket is a set of distinct products (an order's, or a customer's over the whole log).
//! Lines are grouped into baskets by a parallel sort of packed keys, so the result is the same
//! whatever the thread count; the consumers then work per product or per basket, in parallel,
//! each writing only its own output, which is concatenated in product (or basket) order.
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::core::error::{CoreError, Result};

mod emit;
pub mod fisher;
mod group;
mod ids;
pub mod kpis;
pub mod pairs;
mod rules;
mod runs;
pub mod sequence;
pub mod similarity;
mod tally;

pub use group::{baskets, baskets_tallied};
pub use ids::{id_bounds, id_span, IdSpan};

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
/// distinct and ascending. Customer baskets come by customer code; order baskets in the
/// log's order when each order's lines are consecutive, else by order code: consumers that
/// need an order ask for it ([`in_customer_order`]).
#[derive(Debug, Default)]
pub struct Baskets {
    pub offsets: Vec<usize>,
    pub products: Vec<u32>,
    /// Per basket, when the lines carry customers (else empty): its customer code, the
    /// earliest time among its lines (0 without times) and its order code (0 for customer
    /// baskets and for orders made of a customer's lines at one time).
    pub customers: Vec<i64>,
    pub times: Vec<i64>,
    pub orders: Vec<i64>,
    /// The lines of basket `i` are `line_offsets[i]..line_offsets[i + 1]` of `rows`, the
    /// input rows in grouping order — or of the input itself when `rows` is empty (each
    /// basket a run of consecutive lines). Both empty once baskets are reordered by
    /// [`in_customer_order`], and for runs grouped by [`baskets_tallied`].
    pub line_offsets: Vec<usize>,
    pub rows: Vec<u32>,
    pub n_products: usize,
    /// What counting pairs reads first, when the grouping took it ([`baskets_tallied`], order
    /// baskets read as runs; else empty): consecutive pieces of the baskets, covering them
    /// all, each with its products' tallies.
    pub tallies: Vec<PieceTally>,
}

/// Per product, over the baskets of one piece: the pair entries it starts (the products
/// after it in each basket holding it) and how many baskets hold it.
#[derive(Debug, Default)]
pub struct PieceTally {
    pub baskets: Range<usize>,
    pub entries: Vec<u32>,
    pub holding: Vec<u32>,
}

impl Baskets {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The input rows of basket `i`'s lines.
    pub fn rows_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let range = self.line_offsets[i]..self.line_offsets[i + 1];
        let (direct, mapped) = if self.rows.is_empty() {
            (range, &[][..])
        } else {
            (0..0, &self.rows[range])
        };
        direct.chain(mapped.iter().map(|&r| r as usize))
    }

    /// The number of input lines grouped (before any reordering).
    pub fn lines(&self) -> usize {
        self.line_offsets.last().copied().unwrap_or(0)
    }

    #[inline]
    pub fn basket(&self, i: usize) -> &[u32] {
        &self.products[self.offsets[i]..self.offsets[i + 1]]
    }

    /// How many baskets hold each product (in parallel, one counter per thread's share of
    /// the baskets' products; integer sums, so the split does not matter).
    pub fn product_counts(&self) -> Vec<u64> {
        let n = self.n_products;
        let share = self
            .products
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1 << 16);
        self.products
            .par_chunks(share)
            .map(|chunk| {
                let mut counts = vec![0u64; n];
                for &p in chunk {
                    counts[p as usize] += 1;
                }
                counts
            })
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            })
            .unwrap_or_else(|| vec![0u64; n])
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

/// Order baskets in each customer's purchase order: (customer, earliest time, order) —
/// the order the sequence and evaluation consumers read them in.
pub fn in_customer_order(baskets: Baskets) -> Baskets {
    let mut index: Vec<u32> = (0..baskets.len() as u32).collect();
    // Orders at the same time by order code, whatever order grouping left them in.
    index.par_sort_unstable_by_key(|&i| {
        let i = i as usize;
        (baskets.customers[i], baskets.times[i], baskets.orders[i])
    });
    let mut out = Baskets {
        offsets: Vec::with_capacity(baskets.offsets.len()),
        products: Vec::with_capacity(baskets.products.len()),
        customers: Vec::with_capacity(index.len()),
        times: Vec::with_capacity(index.len()),
        orders: Vec::with_capacity(index.len()),
        line_offsets: Vec::new(),
        rows: Vec::new(),
        n_products: baskets.n_products,
        // The pieces' tallies stand for baskets in their old places.
        tallies: Vec::new(),
    };
    out.offsets.push(0);
    for &i in &index {
        let i = i as usize;
        out.products.extend_from_slice(baskets.basket(i));
        out.offsets.push(out.products.len());
        out.customers.push(baskets.customers[i]);
        out.times.push(baskets.times[i]);
        out.orders.push(baskets.orders[i]);
    }
    out
}

/// The lists one after another, copied in parallel (each list into its own slice).
pub(crate) fn concat<T: Copy + Send + Sync, L: AsRef<[T]> + Sync>(lists: &[L]) -> Vec<T> {
    let lens: Vec<usize> = lists.iter().map(|l| l.as_ref().len()).collect();
    // SAFETY: part k's slots are as many as list k's values, and each is written.
    unsafe {
        in_parts(&lens, |k, slots| {
            for (slot, &value) in slots.iter_mut().zip(lists[k].as_ref()) {
                slot.write(value);
            }
        })
    }
}

/// One vector of consecutive parts, written in parallel with no zeroing pass first: part
/// `k` is `lens[k]` slots of uninitialised room given to `fill(k, slots)`.
///
/// # Safety
/// `fill` must write every slot it is given: the vector is returned with all taken as
/// written.
pub(crate) unsafe fn in_parts<T: Send>(
    lens: &[usize],
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let total = lens.iter().sum();
    let mut out: Vec<T> = crate::core::pages::with_capacity(total);
    let mut slices = Vec::with_capacity(lens.len());
    let mut rest = &mut out.spare_capacity_mut()[..total];
    for &len in lens {
        let (own, tail) = rest.split_at_mut(len);
        slices.push(own);
        rest = tail;
    }
    slices
        .into_par_iter()
        .enumerate()
        .for_each(|(k, own)| fill(k, own));
    // SAFETY: the slices cover the first `total` slots exactly and the caller's `fill` wrote
    // every one (had it panicked, the vector would have been dropped empty).
    unsafe { out.set_len(total) };
    out
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

/// Test cases' random numbers: a 64-bit linear congruential generator (Knuth's MMIX
/// constants) from `seed`, each call a number below its argument from the state's top 53
/// bits. Deterministic, so a failing case is the same case every run.
#[cfg(test)]
pub(crate) fn numbers(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |below| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) % below
    }
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
        // Each order's lines are consecutive: baskets in the log's order.
        assert_eq!(b.len(), 3);
        assert_eq!(b.basket(0), &[0, 1]);
        assert_eq!(b.basket(1), &[2]);
        assert_eq!(b.basket(2), &[0]);
        assert_eq!(b.product_counts(), vec![2, 1, 1]);
        assert_eq!(b.rows_of(0).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    /// The baskets as sorted (order code, products, rows) triples, whatever their order.
    fn contents(b: &Baskets, orders: &[i64]) -> Vec<(i64, Vec<u32>, Vec<usize>)> {
        let mut all: Vec<_> = (0..b.len())
            .map(|i| {
                let mut rows: Vec<usize> = b.rows_of(i).collect();
                rows.sort_unstable();
                (orders[rows[0]], b.basket(i).to_vec(), rows)
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn split_orders_are_sorted_into_the_same_baskets() {
        // Order 5's lines are not consecutive: the runs are not the baskets.
        let orders = [5, 2, 5, 9, 5];
        let products = [1, 2, 0, 0, 1];
        let split = baskets(&lines(&orders, &products, 3), Level::Order).expect("groups");
        let orders_grouped = [5, 5, 5, 2, 9];
        let products_grouped = [1, 0, 1, 2, 0];
        let runs =
            baskets(&lines(&orders_grouped, &products_grouped, 3), Level::Order).expect("groups");
        let relabel = |c: Vec<(i64, Vec<u32>, Vec<usize>)>| -> Vec<(i64, Vec<u32>)> {
            c.into_iter().map(|(o, p, _)| (o, p)).collect()
        };
        assert_eq!(
            relabel(contents(&split, &orders)),
            relabel(contents(&runs, &orders_grouped))
        );
        assert_eq!(contents(&split, &orders)[1].2, vec![0, 2, 4]);
        assert_eq!(split.lines(), 5);
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
