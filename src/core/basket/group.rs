//! Lines into baskets. When each order's lines are consecutive (as order exports list
//! them), the runs of equal order codes are the baskets, read in one parallel pass; otherwise
//! lines are grouped by one parallel sort of packed keys. Both give the same set of baskets,
//! each with its products sorted and distinct; only their order differs, and no consumer
//! depends on it.
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::core::basket::runs::{run_ends, RunEnds};
use crate::core::basket::{concat, in_parts, Baskets, Level, Lines, PieceTally};
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
    grouped(lines, level, false)
}

/// [`baskets`] for counting pairs: when order baskets are read as runs, with the products'
/// [`PieceTally`]s taken on the way (the pass that writes a basket tallies it while it is
/// in cache: one read of all baskets less) and without the lines' offsets (pairs read no
/// lines: an 8-byte copy per basket less).
pub fn baskets_tallied(lines: &Lines, level: Level) -> Result<Baskets> {
    grouped(lines, level, true)
}

fn grouped(lines: &Lines, level: Level, tally: bool) -> Result<Baskets> {
    let n = lines.products.len();
    check_lengths(lines, n)?;
    if n > u32::MAX as usize {
        return Err(CoreError::argument(
            "data",
            format!("{n} lines exceed the 4,294,967,295-line limit of one call"),
        ));
    }
    if let (Level::Order, Some(orders)) = (level, lines.orders) {
        if let Some(grouped) = by_runs(lines, orders, tally) {
            return grouped;
        }
    }
    check_products(lines)?;
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
    let limit = code_limit(lines);
    let bad = lines
        .products
        .par_iter()
        .filter(|&&p| p as u64 >= limit)
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

/// One past the largest product code allowed (a negative code, read as unsigned, is past it).
fn code_limit(lines: &Lines) -> u64 {
    lines.n_products.min(u32::MAX as usize) as u64
}

/// Order baskets straight from the lines when each order's lines are consecutive, as exports
/// list them: one run of lines per order, taken in parallel over pieces of the rows cut at
/// run starts, product codes checked on the way. `None` when some order's lines are split
/// into several runs (the caller sorts).
fn by_runs(lines: &Lines, orders: &[i64], tally: bool) -> Option<Result<Baskets>> {
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
        .map(|w| runs_of(lines, orders, w[0], w[1], tally))
        .collect();
    // Order codes ascending through the pieces (as exports usually list them) are distinct
    // without a look-up.
    let ascending = parts.iter().all(|p| p.ascending)
        && parts
            .windows(2)
            .all(|w| w[0].orders.last() < w[1].orders.first());
    let orders: Vec<&[i64]> = parts.iter().map(|p| p.orders.as_slice()).collect();
    if !ascending && !all_distinct(&orders) {
        return None;
    }
    if parts.iter().any(|p| p.outside) {
        // Counted by a second read, on this error path only.
        if let Err(outside) = check_products(lines) {
            return Some(Err(outside));
        }
    }
    let mixed: u64 = parts.iter().map(|p| p.mixed).sum();
    if mixed > 0 {
        return Some(Err(CoreError::data(
            lines.customer_name,
            "the lines of one order carry different customers",
            mixed,
        )));
    }
    Some(Ok(assemble(parts, lines, !tally)))
}

/// The pieces' baskets one after another, each piece copied by its own task.
/// `with_lines`: with the lines' offsets.
fn assemble(mut parts: Vec<Piece>, lines: &Lines, with_lines: bool) -> Baskets {
    // Per piece: its baskets, and where its products start in the whole.
    let counts: Vec<usize> = parts.iter().map(|p| p.ends.len()).collect();
    let mut tallies = Vec::new();
    let mut first = 0;
    for (part, &count) in parts.iter_mut().zip(&counts) {
        if let Some((entries, holding)) = part.tally.take() {
            tallies.push(PieceTally {
                baskets: first..first + count,
                entries,
                holding,
            });
        }
        first += count;
    }
    if tallies.len() != parts.len() {
        tallies.clear();
    }
    let mut product_base = Vec::with_capacity(parts.len());
    let mut base = 0;
    for part in &parts {
        product_base.push(base);
        base += part.products.len();
    }
    // Offsets lead with a 0: one more "piece" of one slot in front; piece k's basket ends
    // are shifted by `bases[k]`.
    let leading: Vec<usize> = std::iter::once(1).chain(counts.iter().copied()).collect();
    let after_zero = |ends: fn(&Piece) -> &Vec<usize>, bases: &[usize]| -> Vec<usize> {
        // SAFETY: the leading piece writes its one slot, piece k one slot per basket.
        unsafe {
            in_parts(&leading, |k, slots| {
                if k == 0 {
                    slots[0].write(0);
                    return;
                }
                for (slot, &end) in slots.iter_mut().zip(ends(&parts[k - 1])) {
                    slot.write(bases[k - 1] + end);
                }
            })
        }
    };
    let offsets = after_zero(|p| &p.ends, &product_base);
    // Line ends are already rows of the whole input.
    let line_offsets = if with_lines {
        after_zero(|p| &p.line_ends, &vec![0; parts.len()])
    } else {
        Vec::new()
    };
    let copied = |field: fn(&Piece) -> &Vec<i64>| -> Vec<i64> {
        let lists: Vec<&[i64]> = parts.iter().map(|p| field(p).as_slice()).collect();
        concat(&lists)
    };
    let with_customers = lines.customers.is_some();
    let product_lists: Vec<&[u32]> = parts.iter().map(|p| p.products.as_slice()).collect();
    Baskets {
        offsets,
        products: concat(&product_lists),
        customers: copied(|p| &p.customers),
        times: copied(|p| &p.times),
        orders: if with_customers {
            copied(|p| &p.orders)
        } else {
            Vec::new()
        },
        line_offsets,
        rows: Vec::new(),
        n_products: lines.n_products,
        tallies,
    }
}

/// The baskets of the runs of equal order codes in rows `from..to` (at least one row).
/// Branches that depend on the data are what cost here (a few per basket, most of them
/// mispredicted): the runs are found by a branch-free pass, which also checks the product
/// codes and whether the order codes ascend, and baskets of up to four lines are sorted by
/// networks. With `tally`, each basket written is tallied (see [`PieceTally`]).
fn runs_of(lines: &Lines, orders: &[i64], from: usize, to: usize, tally: bool) -> Piece {
    checkpoint();
    let codes = &orders[from..to];
    let items = &lines.products[from..to];
    let n = to - from;
    let limit = code_limit(lines);
    let RunEnds {
        ends: line_ends,
        ascending,
        outside,
    } = run_ends(codes, items, from, limit);
    // Three slots past the lines: a basket of fewer than four lines writes four values.
    let mut products: Vec<u32> = Vec::with_capacity(n + 3);
    let room = products.spare_capacity_mut();
    let mut part = Piece {
        ends: Vec::with_capacity(line_ends.len()),
        orders: Vec::with_capacity(line_ends.len()),
        ascending,
        outside,
        ..Piece::default()
    };
    // Codes outside the products fail the call: nothing to tally then. One slot more than
    // the products: the branch-free tally below counts a small basket's unused slots there.
    let spare = lines.n_products;
    let mut tallied = (tally && !outside).then(|| (vec![0u32; spare + 1], vec![0u32; spare + 1]));
    let (mut start, mut written) = (0, 0);
    for &end in &line_ends {
        let end = end - from;
        let kept = sorted_distinct(items, start..end, &mut room[written..]);
        if let Some((entries, holding)) = &mut tallied {
            // SAFETY: `sorted_distinct` wrote at least four slots from `written` (as many as
            // the lines, and four for fewer), and the room has three past the lines.
            let slots: [u32; 4] =
                std::array::from_fn(|i| unsafe { room[written + i].assume_init() });
            tally_basket(&slots, kept, &room[written..], entries, holding, spare);
        }
        written += kept;
        part.ends.push(written);
        part.orders.push(codes[start]);
        if let Some(c) = lines.customers {
            let c = &c[from + start..from + end];
            let least = *c.iter().min().unwrap_or(&0);
            part.mixed += u64::from(c.iter().any(|&x| x != least));
            part.customers.push(least);
            part.times.push(lines.times.map_or(0, |t| {
                *t[from + start..from + end].iter().min().unwrap_or(&0)
            }));
        }
        start = end;
    }
    // SAFETY: `sorted_distinct` wrote the first `written` slots, basket after basket.
    unsafe { products.set_len(written) };
    part.products = products;
    part.line_ends = line_ends;
    part.tally = tallied.map(|(mut entries, mut holding)| {
        entries.truncate(spare);
        holding.truncate(spare);
        (entries, holding)
    });
    part
}

/// Adds a basket of `kept` distinct products to the tallies: per product, the products after
/// it (pair entries it starts) and one basket. `slots` are its first four written slots;
/// up to four products are counted without branches (a slot past `kept` counts nothing, at
/// index `spare`), which matters: a loop over 1 to 4 products mispredicts its exit once a
/// basket (measured: the runs pass with the tally, 13.0 -> 11.0 ms; 9.1 without it).
#[inline(always)]
fn tally_basket(
    slots: &[u32; 4],
    kept: usize,
    basket: &[MaybeUninit<u32>],
    entries: &mut [u32],
    holding: &mut [u32],
    spare: usize,
) {
    if kept <= 4 {
        for (i, &a) in slots.iter().enumerate() {
            let used = i < kept;
            let at = if used { a as usize } else { spare };
            entries[at] += if used { (kept - i - 1) as u32 } else { 0 };
            holding[at] += u32::from(used);
        }
        return;
    }
    for (i, a) in basket[..kept].iter().enumerate() {
        // SAFETY: the basket's `kept` products were written.
        let a = unsafe { a.assume_init() } as usize;
        entries[a] += (kept - i - 1) as u32;
        holding[a] += 1;
    }
}

/// Writes the distinct products of the basket of lines `rows` of `items` into the first
/// slots of `out` (at least four, and as many as the lines), ascending; returns how many.
/// Up to four lines: padded to four with a code no product has, put in order by a sorting
/// network and deduplicated without branches (one branch a basket, on its size, taken the
/// same way by most baskets); more: the general sort.
#[inline]
fn sorted_distinct(items: &[i64], rows: Range<usize>, out: &mut [MaybeUninit<u32>]) -> usize {
    #[inline(always)]
    fn order(x: &mut [u32], i: usize, j: usize) {
        let (a, b) = (x[i], x[j]);
        x[i] = a.min(b);
        x[j] = a.max(b);
    }
    let len = rows.len();
    if len > 4 {
        let out = &mut out[..len];
        for (o, &p) in out.iter_mut().zip(&items[rows]) {
            o.write(p as u32);
        }
        // SAFETY: all `len` slots were just written.
        let out: &mut [u32] =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), len) };
        out.sort_unstable();
        let mut kept = 1;
        for i in 1..len {
            if out[i] != out[kept - 1] {
                out[kept] = out[i];
                kept += 1;
            }
        }
        return kept;
    }
    // Codes are below `u32::MAX` (checked against the number of products, at most that).
    const PAD: u32 = u32::MAX;
    let mut x = [PAD; 4];
    for (i, x) in x.iter_mut().enumerate() {
        let code = items.get(rows.start + i).map_or(PAD, |&p| p as u32);
        *x = if i < len { code } else { PAD };
    }
    order(&mut x, 0, 1);
    order(&mut x, 2, 3);
    order(&mut x, 0, 2);
    order(&mut x, 1, 3);
    order(&mut x, 1, 2);
    // Each value is written; the count moves on only past a new code.
    out[0].write(x[0]);
    let mut kept = 1;
    for i in 1..4 {
        out[kept].write(x[i]);
        kept += usize::from(x[i] != x[i - 1] && x[i] != PAD);
    }
    kept
}

/// Whether no code repeats across the lists: bitmaps when the codes span a small range
/// (one per task, merged after: a code marked in two is a repeat too), else a sorted copy.
fn all_distinct(lists: &[&[i64]]) -> bool {
    let bounds = |(lo, hi): (i64, i64), (l, h): (i64, i64)| (lo.min(l), hi.max(h));
    let (lo, hi) = lists
        .par_iter()
        .map(|list| {
            list.iter()
                .fold((i64::MAX, i64::MIN), |b, &o| bounds(b, (o, o)))
        })
        .reduce(|| (i64::MAX, i64::MIN), bounds);
    let len: usize = lists.iter().map(|l| l.len()).sum();
    if len == 0 {
        return true;
    }
    let span = hi as i128 - lo as i128 + 1;
    if span <= 8 * len as i128 + 4096 {
        let words = (span as usize).div_ceil(64);
        let merged = lists
            .par_iter()
            .fold(
                || (vec![0u64; words], false),
                |(mut seen, mut repeated), list| {
                    for &c in *list {
                        let at = (c - lo) as usize;
                        let (word, bit) = (at / 64, 1u64 << (at % 64));
                        repeated |= seen[word] & bit != 0;
                        seen[word] |= bit;
                    }
                    (seen, repeated)
                },
            )
            .reduce_with(|(mut seen, mut repeated), (other, again)| {
                repeated |= again;
                for (word, other) in seen.iter_mut().zip(&other) {
                    repeated |= *word & other != 0;
                    *word |= other;
                }
                (seen, repeated)
            });
        merged.is_none_or(|(_, repeated)| !repeated)
    } else {
        let mut sorted: Vec<i64> = lists.concat();
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
    /// The piece's order codes never fall.
    ascending: bool,
    /// Some product code is outside `0..n_products`.
    outside: bool,
    /// Per product: pair entries started, baskets holding it (when asked).
    tally: Option<(Vec<u32>, Vec<u32>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_baskets_sort_and_dedup_like_the_general_sort() {
        // Every basket of 1 to 6 lines over products 0..4 (duplicates included).
        for len in 1..=6u32 {
            for code in 0..4u32.pow(len) {
                let lines: Vec<i64> = (0..len)
                    .map(|i| ((code / 4u32.pow(i)) % 4) as i64)
                    .collect();
                let mut want: Vec<u32> = lines.iter().map(|&p| p as u32).collect();
                want.sort_unstable();
                want.dedup();
                let mut out = vec![MaybeUninit::new(99u32); lines.len().max(4)];
                let kept = sorted_distinct(&lines, 0..lines.len(), &mut out);
                // SAFETY: every slot was initialised (99) before the call.
                let got: Vec<u32> = out[..kept]
                    .iter()
                    .map(|v| unsafe { v.assume_init() })
                    .collect();
                assert_eq!(got, want, "{lines:?}");
            }
        }
    }
}
