//! Products bought together: exact co-occurrence counts of every pair of products over the
//! baskets, pruned first on single-product support as apriori does (a pair is never more
//! frequent than either of its products), with the association-rule measures of each pair.
//!
//! Counting reads the baskets once in order, writing each pair occurrence as an entry
//! (a → b) grouped by `a`, then tallies each product's entries in a dense counter (Linden,
//! Smith & York's item-to-item loop): memory is the incidence, the entries (capped: beyond
//! [`EMIT_BUDGET`] they are counted in several passes, each for a range of products `a`) and
//! one counter of `products` entries per thread, however many pairs exist; each product's
//! pairs are written by one task, in order. Counts are integer sums, so neither the chunks
//! nor the passes change them.
use rayon::prelude::*;

use crate::core::basket::fisher::LnFactorials;
use crate::core::basket::tally::{Tally, PRODUCTS_PER_TASK};
use crate::core::basket::{concat, top_k, Baskets};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::pages;
use crate::core::vmath;

/// Which pairs to keep.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// Least share of baskets holding the pair (and so each of its products), in (0, 1].
    pub min_support: Option<f64>,
    /// Least number of baskets holding the pair.
    pub min_count: u64,
}

impl Thresholds {
    pub fn new(min_support: Option<f64>, min_count: u64) -> Result<Thresholds> {
        if let Some(s) = min_support {
            if !(s > 0.0 && s <= 1.0) {
                return Err(CoreError::argument(
                    "min_support",
                    format!("must be in (0, 1], got {s}"),
                ));
            }
        }
        if min_count == 0 {
            return Err(CoreError::argument("min_count", "must be at least 1"));
        }
        Ok(Thresholds {
            min_support,
            min_count,
        })
    }

    /// Whether `count` of `baskets` passes; support is compared as the float apriori
    /// implementations compute it (count / baskets), so borderline pairs agree with them.
    #[inline]
    fn keeps(&self, count: u64, baskets: usize) -> bool {
        count >= self.min_count
            && self
                .min_support
                .is_none_or(|s| count as f64 / baskets as f64 >= s)
    }
}

/// A pair of products `a < b` and the baskets holding both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    /// Baskets holding both: at most the lines, which one call caps at `u32::MAX`.
    pub count: u32,
}

/// The kept pairs, by ascending (a, b), with the basket counts they are measured against.
#[derive(Debug, Default)]
pub struct PairCounts {
    pub pairs: Vec<Pair>,
    /// Baskets holding each product.
    pub product_counts: Vec<u64>,
    pub baskets: usize,
    /// Products that passed the single-product thresholds.
    pub frequent_products: usize,
}

/// Counts every pair of products held by at least `thresholds` baskets.
pub fn count_pairs(baskets: &Baskets, thresholds: &Thresholds) -> PairCounts {
    count_in_passes(baskets, thresholds, EMIT_BUDGET)
}

/// [`count_pairs`], writing at most `budget` entries (a → b) per pass.
fn count_in_passes(baskets: &Baskets, thresholds: &Thresholds, budget: usize) -> PairCounts {
    let n = baskets.len();
    let product_counts = baskets.product_counts();
    let frequent: Vec<bool> = product_counts
        .iter()
        .map(|&c| thresholds.keeps(c, n))
        .collect();
    let frequent_products = frequent.iter().filter(|&&f| f).count();
    let emitter = Emitter::new(baskets, &product_counts, &frequent);
    let keeps = |count| thresholds.keeps(count, n);
    let counted: Vec<Vec<Pair>> = emitter
        .windows(budget)
        .iter()
        .map(|window| emitter.count(window, keeps))
        .collect();
    let pairs = if counted.len() == 1 {
        counted.into_iter().next().unwrap_or_default()
    } else {
        concat(&counted)
    };
    PairCounts {
        pairs,
        product_counts,
        baskets: n,
        frequent_products,
    }
}

/// Most (a → b) entries written at once: 64M entries, 256 MiB. More are counted in several
/// passes over the baskets, each for a range of products `a`.
const EMIT_BUDGET: usize = 1 << 26;

/// Writes every basket's pairs of frequent products as (a → b) entries, grouped by `a`, and
/// counts them per `a` in a dense counter (Linden, Smith & York's item-to-item loop, fed
/// from one sequential read of the baskets instead of random reads per product). The
/// baskets are cut into chunks, one per task; each chunk writes into its own slice, by `a`.
struct Emitter<'a> {
    baskets: &'a Baskets,
    /// Which products pass the thresholds; `None` when every product bought does (then
    /// baskets are read as they are, not filtered into a copy).
    frequent: Option<&'a [bool]>,
    /// Basket ranges of the chunks.
    chunks: Vec<(usize, usize)>,
    /// Per chunk, per product `a`: the entries (a → b) its baskets write.
    entries: Vec<Vec<u32>>,
}

/// A range of products `a` counted in one pass, and the entries it writes.
struct Window {
    first: usize,
    last: usize,
    entries: usize,
}

impl<'a> Emitter<'a> {
    fn new(baskets: &'a Baskets, counts: &[u64], frequent: &'a [bool]) -> Emitter<'a> {
        let n = baskets.len();
        let all_bought_frequent = counts.iter().zip(frequent).all(|(&c, &f)| f || c == 0);
        let frequent = (!all_bought_frequent).then_some(frequent);
        let pieces = (rayon::current_num_threads() * 2).max(1);
        let mut cuts: Vec<usize> = (0..=pieces).map(|k| n * k / pieces).collect();
        cuts.dedup();
        let chunks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let mut emitter = Emitter {
            baskets,
            frequent,
            chunks,
            entries: Vec::new(),
        };
        emitter.entries = emitter
            .chunks
            .par_iter()
            .map(|&(from, to)| {
                checkpoint();
                let mut entries = vec![0u32; baskets.n_products];
                emitter.each_basket(from, to, |items| {
                    for (i, &a) in items.iter().enumerate() {
                        entries[a as usize] += (items.len() - i - 1) as u32;
                    }
                });
                entries
            })
            .collect();
        emitter
    }

    /// Calls `f` with the frequent products of each basket in `from..to` holding two or more.
    fn each_basket(&self, from: usize, to: usize, mut f: impl FnMut(&[u32])) {
        let Some(frequent) = self.frequent else {
            for i in from..to {
                let items = self.baskets.basket(i);
                if items.len() > 1 {
                    f(items);
                }
            }
            return;
        };
        let mut items = Vec::new();
        for i in from..to {
            items.clear();
            items.extend(
                self.baskets
                    .basket(i)
                    .iter()
                    .filter(|&&p| frequent[p as usize]),
            );
            if items.len() > 1 {
                f(&items);
            }
        }
    }

    /// Consecutive ranges of products whose entries fit `budget` (a product over it alone
    /// gets its own range).
    fn windows(&self, budget: usize) -> Vec<Window> {
        let products = self.baskets.n_products;
        let mut windows = Vec::new();
        let mut current = Window {
            first: 0,
            last: 0,
            entries: 0,
        };
        for a in 0..products {
            let entries: usize = self.entries.iter().map(|e| e[a] as usize).sum();
            if current.entries + entries > budget && current.last > current.first {
                let next = Window {
                    first: a,
                    last: a,
                    entries: 0,
                };
                windows.push(std::mem::replace(&mut current, next));
            }
            current.last = a + 1;
            current.entries += entries;
        }
        if current.last > current.first {
            windows.push(current);
        }
        windows
    }

    /// The pairs (a, b) with `a` in the window whose counts `keep`, by ascending (a, b).
    fn count(&self, window: &Window, keep: impl Fn(u64) -> bool + Sync) -> Vec<Pair> {
        let span = window.last - window.first;
        // Per chunk: where each product's entries start in that chunk's slice.
        let starts: Vec<Vec<usize>> = self
            .entries
            .iter()
            .map(|e| {
                let mut at = 0;
                let mut starts = Vec::with_capacity(span + 1);
                for &k in &e[window.first..window.last] {
                    starts.push(at);
                    at += k as usize;
                }
                starts.push(at);
                starts
            })
            .collect();
        // Not zeroed first: the chunks write every entry they counted in `new`.
        let mut written: Vec<u32> = pages::with_capacity(window.entries);
        let mut slices = Vec::with_capacity(self.chunks.len());
        let mut rest = &mut written.spare_capacity_mut()[..window.entries];
        for s in &starts {
            let (own, tail) = rest.split_at_mut(s[span]);
            slices.push(own);
            rest = tail;
        }
        slices
            .into_par_iter()
            .zip(&self.chunks)
            .zip(&starts)
            .for_each(|((own, &(from, to)), starts)| {
                checkpoint();
                let mut cursor = starts[..span].to_vec();
                self.each_basket(from, to, |items| {
                    for (i, &a) in items.iter().enumerate() {
                        let Some(at) = (a as usize).checked_sub(window.first) else {
                            continue;
                        };
                        if at >= span {
                            break;
                        }
                        // One by one: baskets hold a few items, fewer than a memcpy call
                        // is worth (it was a seventh of the time).
                        for &b in &items[i + 1..] {
                            own[cursor[at]].write(b);
                            cursor[at] += 1;
                        }
                    }
                });
            });
        // SAFETY: each chunk's baskets are read by `each_basket` as in `new`, which counted
        // their entries per product: the chunk's cursors fill its slice exactly, and the
        // slices cover `written`'s room.
        unsafe { written.set_len(window.entries) };
        let mut bases = Vec::with_capacity(starts.len());
        let mut base = 0;
        for s in &starts {
            bases.push(base);
            base += s[span];
        }
        let products = self.baskets.n_products;
        // One task per block of products `a` (a few hundred tasks: balanced, and one list
        // of pairs each rather than one per product).
        let blocks = span.div_ceil(PRODUCTS_PER_TASK);
        let lists: Vec<Vec<Pair>> = (0..blocks)
            .into_par_iter()
            .map_init(
                || Tally::new(products),
                |tally, block| {
                    let mut kept = Vec::new();
                    let ats =
                        block * PRODUCTS_PER_TASK..((block + 1) * PRODUCTS_PER_TASK).min(span);
                    for at in ats {
                        for (s, base) in starts.iter().zip(&bases) {
                            tally.add(&written[base + s[at]..base + s[at + 1]]);
                        }
                        tally.drain((window.first + at) as u32, &keep, &mut kept);
                    }
                    kept
                },
            )
            .collect();
        concat(&lists)
    }
}

/// The association-rule measures of the kept pairs, one entry per pair, as mlxtend's
/// `association_rules` defines them for one-item rules (A → B and B → A), plus the one-sided
/// Fisher exact p-value of a positive association.
#[derive(Debug, Default)]
pub struct Measures {
    pub support: Vec<f64>,
    pub confidence_a_b: Vec<f64>,
    pub confidence_b_a: Vec<f64>,
    pub lift: Vec<f64>,
    pub leverage: Vec<f64>,
    pub conviction_a_b: Vec<f64>,
    pub conviction_b_a: Vec<f64>,
    pub jaccard: Vec<f64>,
    pub p_value: Vec<f64>,
}

impl PairCounts {
    pub fn measures(&self) -> Measures {
        let n = self.baskets as f64;
        let most = self.product_counts.iter().copied().max().unwrap_or(0);
        let ln_factorials = LnFactorials::new(self.baskets as u64, most);
        // Per product: its basket count as a double (gathered into lanes below) and the
        // part of Fisher's log-pmf that depends on it alone.
        let counts: Vec<f64> = self.product_counts.iter().map(|&c| c as f64).collect();
        let margins: Vec<f64> = self
            .product_counts
            .iter()
            .map(|&c| ln_factorials.margin(c))
            .collect();
        let len = self.pairs.len();
        // Written once each, with no zeroing pass first (see `pages::par_written`).
        let mut columns: [Vec<f64>; 9] = std::array::from_fn(|_| pages::with_capacity(len));
        let [sup, cab, cba, lift, lev, cvab, cvba, jac, p] = columns
            .each_mut()
            .map(|c| &mut c.spare_capacity_mut()[..len]);
        // Each task fills one block of rows in every column.
        const BLOCK: usize = 4096;
        (
            sup.par_chunks_mut(BLOCK),
            cab.par_chunks_mut(BLOCK),
            cba.par_chunks_mut(BLOCK),
            lift.par_chunks_mut(BLOCK),
            lev.par_chunks_mut(BLOCK),
            cvab.par_chunks_mut(BLOCK),
            cvba.par_chunks_mut(BLOCK),
            jac.par_chunks_mut(BLOCK),
            p.par_chunks_mut(BLOCK),
            self.pairs.par_chunks(BLOCK),
        )
            .into_par_iter()
            .for_each(|(sup, cab, cba, lift, lev, cvab, cvba, jac, p, pairs)| {
                checkpoint();
                let mut columns = [sup, cab, cba, lift, lev, cvab, cvba, jac];
                vmath::widest(
                    #[inline(always)]
                    || {
                        for (at, pairs) in pairs.chunks(LANES).enumerate() {
                            // Gathered first, so that the arithmetic is a loop over lanes.
                            let mut count = [1.0; LANES];
                            let mut count_a = [1.0; LANES];
                            let mut count_b = [1.0; LANES];
                            for (l, pair) in pairs.iter().enumerate() {
                                count[l] = pair.count as f64;
                                count_a[l] = counts[pair.a as usize];
                                count_b[l] = counts[pair.b as usize];
                            }
                            let lanes = rule_measures(n, count, count_a, count_b);
                            let rows = at * LANES..at * LANES + pairs.len();
                            for (column, lanes) in columns.iter_mut().zip(&lanes) {
                                pages::write_streaming(&mut column[rows.clone()], lanes);
                            }
                        }
                    },
                );
                // The streamed values are visible to other threads once fenced.
                pages::fence();
                let product_counts = &self.product_counts;
                ln_factorials.fisher_greater_each(p, |i| {
                    let (a, b) = (pairs[i].a as usize, pairs[i].b as usize);
                    (
                        [product_counts[a], product_counts[b], pairs[i].count as u64],
                        (margins[a], margins[b]),
                    )
                });
            });
        for column in &mut columns {
            // SAFETY: every row of every column was written above: the pairs' blocks cover
            // 0..len, the rule measures write each pair's row in the eight columns, and
            // `fisher_greater_each` writes every value of its block.
            unsafe { column.set_len(len) };
        }
        let [support, confidence_a_b, confidence_b_a, lift, leverage, conviction_a_b, conviction_b_a, jaccard, p_value] =
            columns;
        Measures {
            support,
            confidence_a_b,
            confidence_b_a,
            lift,
            leverage,
            conviction_a_b,
            conviction_b_a,
            jaccard,
            p_value,
        }
    }

    /// `product_a`, `product_b` and `count` of every pair as the result's integer columns,
    /// in one read of the pairs, each value written once (no zeroing pass first).
    pub fn code_columns(&self) -> [Vec<i64>; 3] {
        let len = self.pairs.len();
        let mut codes: [Vec<i64>; 3] = std::array::from_fn(|_| pages::with_capacity(len));
        let [a, b, count] = codes.each_mut().map(|c| &mut c.spare_capacity_mut()[..len]);
        (
            a.par_chunks_mut(4096),
            b.par_chunks_mut(4096),
            count.par_chunks_mut(4096),
        )
            .into_par_iter()
            .zip(self.pairs.par_chunks(4096))
            .for_each(|((a, b, count), pairs)| {
                for (i, p) in pairs.iter().enumerate() {
                    a[i].write(p.a as i64);
                    b[i].write(p.b as i64);
                    count[i].write(p.count as i64);
                }
            });
        for column in &mut codes {
            // SAFETY: the blocks cover 0..len and each row of each block was written above.
            unsafe { column.set_len(len) };
        }
        codes
    }

    /// Keeps the `k` pairs of highest lift (ties: higher count, then lower product codes),
    /// in that order.
    pub fn strongest(&mut self, k: usize) {
        let n = self.baskets as f64;
        let counts = &self.product_counts;
        // Lift compared exactly as the measures compute it, so the order matches the column.
        let lift = |p: &Pair| {
            let conf = p.count as f64 / counts[p.a as usize] as f64;
            conf / (counts[p.b as usize] as f64 / n)
        };
        top_k(&mut self.pairs, k, |x, y| {
            lift(y)
                .total_cmp(&lift(x))
                .then(y.count.cmp(&x.count))
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
    }
}

/// Pairs whose rule measures are computed together, in vector registers.
const LANES: usize = 16;

/// The rule measures of [`LANES`] pairs from their counts over `n` baskets: support,
/// confidence A → B and B → A, lift, leverage, conviction A → B and B → A, Jaccard.
#[inline(always)]
fn rule_measures(
    n: f64,
    count: [f64; LANES],
    count_a: [f64; LANES],
    count_b: [f64; LANES],
) -> [[f64; LANES]; 8] {
    let mut m = [[0.0; LANES]; 8];
    for l in 0..LANES {
        let (s_ab, s_a, s_b) = (count[l] / n, count_a[l] / n, count_b[l] / n);
        let conf_ab = count[l] / count_a[l];
        let conf_ba = count[l] / count_b[l];
        m[0][l] = s_ab;
        m[1][l] = conf_ab;
        m[2][l] = conf_ba;
        m[3][l] = conf_ab / s_b;
        m[4][l] = s_ab - s_a * s_b;
        m[5][l] = conviction(conf_ab, s_b);
        m[6][l] = conviction(conf_ba, s_a);
        m[7][l] = s_ab / (s_a + s_b - s_ab);
    }
    m
}

/// (1 − support(consequent)) / (1 − confidence); infinite for a rule that always holds.
#[inline(always)]
fn conviction(confidence: f64, consequent_support: f64) -> f64 {
    // Divide first, then choose: a select, not a branch, in the vectorised loop.
    let ratio = (1.0 - consequent_support) / (1.0 - confidence);
    if confidence < 1.0 {
        ratio
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, lines, Level};

    fn counts(orders: &[i64], products: &[i64], n: usize, t: Thresholds) -> PairCounts {
        count_pairs(
            &baskets(&lines(orders, products, n), Level::Order).unwrap(),
            &t,
        )
    }

    #[test]
    fn pairs_are_counted_once_per_basket() {
        // Baskets {0,1,2}, {0,1}, {1,2}, {0}.
        let orders = [1, 1, 1, 1, 2, 2, 3, 3, 4];
        let products = [0, 1, 2, 1, 0, 1, 1, 2, 0];
        let t = Thresholds::new(None, 1).unwrap();
        let c = counts(&orders, &products, 3, t);
        let got: Vec<(u32, u32, u32)> = c.pairs.iter().map(|p| (p.a, p.b, p.count)).collect();
        assert_eq!(got, vec![(0, 1, 2), (0, 2, 1), (1, 2, 2)]);
        assert_eq!(c.product_counts, vec![3, 3, 2]);
        let m = c.measures();
        assert_eq!(m.support[0], 0.5);
        assert_eq!(m.confidence_a_b[0], 2.0 / 3.0);
        assert_eq!(m.lift[2], (2.0 / 3.0) / 0.5);
    }

    #[test]
    fn single_product_support_prunes_before_pairs() {
        let orders = [1, 1, 2, 2, 3, 3];
        let products = [0, 1, 0, 1, 0, 2];
        let t = Thresholds::new(Some(0.5), 1).unwrap();
        let c = counts(&orders, &products, 3, t);
        assert_eq!(c.frequent_products, 2);
        assert_eq!(
            c.pairs,
            vec![Pair {
                a: 0,
                b: 1,
                count: 2
            }]
        );
    }

    #[test]
    fn support_outside_the_unit_interval_is_refused() {
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(Thresholds::new(Some(bad), 1).is_err());
        }
    }

    #[test]
    fn counts_in_several_passes_equal_one_pass() {
        let orders = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4];
        let products = [0, 1, 2, 3, 0, 2, 3, 1, 3, 0, 1, 2];
        let b = baskets(&lines(&orders, &products, 4), Level::Order).unwrap();
        let t = Thresholds::new(None, 1).unwrap();
        let one = count_pairs(&b, &t);
        for budget in [1, 2, 3, 5] {
            assert_eq!(count_in_passes(&b, &t, budget).pairs, one.pairs, "{budget}");
        }
        assert_eq!(one.pairs.len(), 6);
    }
}
