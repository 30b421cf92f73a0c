//! Lines into baskets. When each order's lines are consecutive (as order exports list
//! them), the runs of equal order codes are the baskets, read in one parallel pass; otherwise
//! lines are grouped by one parallel sort of packed keys. Both give the same set of baskets,
//! each with its products sorted and distinct; only their order differs, and no consumer
//! depends on it.
use rayon::prelude::*;

use crate::core::basket::{Baskets, Level, Lines};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;

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
    if let (Level::Order, Some(orders)) = (level, lines.orders) {
        if let Some(grouped) = by_runs(lines, orders) {
            return grouped;
        }
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
        if lines.customers.is_some() {
            out.orders.push(if by_order { first.group } else { 0 });
            out.customers.push(match (level, by_order) {
                (Level::Order, true) => first.sub,
                _ => first.group,
            });
            out.times
                .push(if level == Level::Order { earliest } else { 0 });
        }
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

/// Order baskets straight from the lines when each order's lines are consecutive, as exports
/// list them: one run of lines per order, taken in parallel over pieces of the rows cut at
/// run starts. `None` when some order's lines are split into several runs (the caller sorts).
fn by_runs(lines: &Lines, orders: &[i64]) -> Option<Result<Baskets>> {
    let n = orders.len();
    let pieces = (rayon::current_num_threads() * 4).max(1);
    let mut cuts: Vec<usize> = (0..=pieces)
        .map(|k| {
            let mut at = n * k / pieces;
            while at > 0 && at < n && orders[at] == orders[at - 1] {
                at += 1;
            }
            at
        })
        .collect();
    cuts.dedup();
    let parts: Vec<Piece> = cuts
        .par_windows(2)
        .map(|w| runs_of(lines, orders, w[0], w[1]))
        .collect();
    let baskets: usize = parts.iter().map(|p| p.ends.len()).sum();
    let mut codes = Vec::with_capacity(baskets);
    for part in &parts {
        codes.extend_from_slice(&part.orders);
    }
    if !all_distinct(&codes) {
        return None;
    }
    let mixed: u64 = parts.iter().map(|p| p.mixed).sum();
    if mixed > 0 {
        return Some(Err(CoreError::data(
            lines.customer_name,
            "the lines of one order carry different customers",
            mixed,
        )));
    }
    let with_customers = lines.customers.is_some();
    let mut out = Baskets {
        offsets: Vec::with_capacity(baskets + 1),
        products: Vec::with_capacity(parts.iter().map(|p| p.products.len()).sum()),
        orders: if with_customers { codes } else { Vec::new() },
        line_offsets: Vec::with_capacity(baskets + 1),
        n_products: lines.n_products,
        ..Baskets::default()
    };
    out.offsets.push(0);
    out.line_offsets.push(0);
    for part in parts {
        let base = out.products.len();
        out.offsets.extend(part.ends.iter().map(|&end| base + end));
        out.line_offsets.extend_from_slice(&part.line_ends);
        out.products.extend_from_slice(&part.products);
        out.customers.extend_from_slice(&part.customers);
        out.times.extend_from_slice(&part.times);
    }
    Some(Ok(out))
}

/// The baskets of the runs of equal order codes in rows `from..to`.
fn runs_of(lines: &Lines, orders: &[i64], from: usize, to: usize) -> Piece {
    checkpoint();
    let mut part = Piece {
        products: Vec::with_capacity(to - from),
        ..Piece::default()
    };
    let mut start = from;
    while start < to {
        let code = orders[start];
        let end = start + orders[start..to].iter().take_while(|&&o| o == code).count();
        let first = part.products.len();
        part.products
            .extend(lines.products[start..end].iter().map(|&p| p as u32));
        part.products[first..].sort_unstable();
        let mut kept = first;
        for i in first..part.products.len() {
            if i == first || part.products[i] != part.products[kept - 1] {
                part.products[kept] = part.products[i];
                kept += 1;
            }
        }
        part.products.truncate(kept);
        part.ends.push(kept);
        part.line_ends.push(end);
        part.orders.push(code);
        if let Some(c) = lines.customers {
            let least = *c[start..end].iter().min().unwrap_or(&0);
            part.mixed += u64::from(c[start..end].iter().any(|&x| x != least));
            part.customers.push(least);
            part.times.push(
                lines
                    .times
                    .map_or(0, |t| *t[start..end].iter().min().unwrap_or(&0)),
            );
        }
        start = end;
    }
    part
}

/// Whether no code repeats: a bitmap when the codes span a small range, else a sorted copy.
fn all_distinct(codes: &[i64]) -> bool {
    let (lo, hi) = codes
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &o| (lo.min(o), hi.max(o)));
    if codes.is_empty() {
        return true;
    }
    let span = hi as i128 - lo as i128 + 1;
    if span <= 8 * codes.len() as i128 + 4096 {
        let mut seen = vec![0u64; (span as usize).div_ceil(64)];
        for &c in codes {
            let at = (c - lo) as usize;
            let (word, bit) = (at / 64, 1u64 << (at % 64));
            if seen[word] & bit != 0 {
                return false;
            }
            seen[word] |= bit;
        }
        true
    } else {
        let mut sorted = codes.to_vec();
        sorted.par_sort_unstable();
        sorted.windows(2).all(|w| w[0] != w[1])
    }
}

/// The baskets of one piece of runs.
#[derive(Default)]
struct Piece {
    products: Vec<u32>,
    /// Per basket: the end of its products in `products`, of its lines in the input.
    ends: Vec<usize>,
    line_ends: Vec<usize>,
    orders: Vec<i64>,
    customers: Vec<i64>,
    times: Vec<i64>,
    mixed: u64,
}
