//! Products bought together: exact co-occurrence counts of every pair of products over the
//! baskets, pruned first on single-product support as apriori does (a pair is never more
//! frequent than either of its products), with the association-rule measures of each pair.
//!
//! Counting reads the baskets once in order, writing each pair occurrence as an entry
//! (a → b) grouped by `a`, then tallies each product's entries in a dense counter (Linden,
//! Smith & York's item-to-item loop): memory is the incidence, the entries (capped: beyond
//! [`EMIT_BUDGET`] they are counted in several passes, each for a range of products `a`) and
//! one counter of `products` entries per thread, however many pairs exist; each product's
//! pairs are written by one task, in order (`emit.rs`). Counts are integer sums, so
//! neither the chunks nor the passes change them.

use rayon::prelude::*;

use crate::core::basket::emit::{Emitter, PairRuns, EMIT_BUDGET};
use crate::core::basket::fisher::{LnFactorials, Margin};
use crate::core::basket::rules::{rule_measures, Lanes, Rates, LANES};
use crate::core::basket::{top_k, Baskets};
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

/// A pair of products `a < b` and the baskets holding both. Laid out as three `u32`s in this
/// order (Fisher's test gathers them by offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    /// Baskets holding both: at most the lines, which one call caps at `u32::MAX`.
    pub count: u32,
}

/// The kept pairs, by ascending (a, b), with the basket counts they are measured against.
#[derive(Debug, Default)]
pub struct PairCounts {
    /// The pairs in consecutive runs, as the tasks that counted them left them: read as one
    /// sequence by [`PairCounts::pairs`], and by [`PairCounts::measures`] a run at a time
    /// (copying them into one vector first was a twelfth of an affinity call); one
    /// [`PairRuns`] per pass.
    runs: Vec<PairRuns>,
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
    let frequent: Vec<bool>;
    // A product bought once passes (`keeps` rises with the count), so no product is pruned:
    // the products' counts are taken in the pass that counts the entries, one read of the
    // baskets less.
    let (emitter, product_counts) = if thresholds.keeps(1, n) {
        Emitter::tallied(baskets).unwrap_or_else(|| Emitter::new(baskets, None))
    } else {
        let product_counts = baskets.product_counts();
        frequent = product_counts
            .iter()
            .map(|&c| thresholds.keeps(c, n))
            .collect();
        let all_bought_frequent = product_counts
            .iter()
            .zip(&frequent)
            .all(|(&c, &f)| f || c == 0);
        let frequent = (!all_bought_frequent).then_some(frequent.as_slice());
        (Emitter::new(baskets, frequent).0, product_counts)
    };
    let frequent_products = product_counts
        .iter()
        .filter(|&&c| thresholds.keeps(c, n))
        .count();
    let keeps = |count| thresholds.keeps(count, n);
    let runs: Vec<PairRuns> = emitter
        .windows(budget)
        .iter()
        .map(|window| emitter.count(window, keeps))
        .collect();
    PairCounts {
        runs,
        product_counts,
        baskets: n,
        frequent_products,
    }
}

/// The result's columns, one row per kept pair: the products' codes and the count, the
/// association-rule measures as mlxtend's `association_rules` defines them for one-item
/// rules (A → B and B → A), and the one-sided Fisher exact p-value of a positive association.
#[derive(Debug, Default, PartialEq)]
pub struct Measures {
    pub product_a: Vec<i64>,
    pub product_b: Vec<i64>,
    pub count: Vec<i64>,
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

/// Most pairs measured by one task: runs longer than this (a block of products that pair
/// with most others) are cut, so that the tasks stay balanced.
const PAIRS_PER_TASK: usize = 8192;

/// Tasks measured by one job at most. The tasks differ in work (blocks of popular products
/// hold more pairs), and rayon splits a range only as deep as the thread count unless a
/// piece is stolen: started on a pool thread, as Python's calls are, the two halves stayed
/// whole and one thread sat idle for 8 of the measures' 24 ms. Small jobs let an idle
/// thread take work to the end (measured from a pool thread: measures 22.7 -> 19.1 ms, the
/// whole count 56.4-59.2 -> 52.5 ms, median of 40). The tally does the same
/// (`emit.rs`).
const MEASURE_JOB_TASKS: usize = 1;

impl PairCounts {
    /// The kept pairs, by ascending (a, b).
    pub fn pairs(&self) -> impl Iterator<Item = &Pair> + Clone {
        self.runs().flatten()
    }

    /// The runs of pairs, in order.
    fn runs(&self) -> impl Iterator<Item = &[Pair]> + Clone {
        self.runs.iter().flat_map(PairRuns::runs)
    }

    pub fn len(&self) -> usize {
        self.runs().map(<[Pair]>::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every column of the result, in one read of the pairs; each value written once (no
    /// zeroing pass first), by tasks that each take a piece of a run and its rows.
    pub fn measures(&self) -> Measures {
        let n = self.baskets as f64;
        let most = self.product_counts.iter().copied().max().unwrap_or(0);
        let ln_factorials = LnFactorials::new(self.baskets as u64, most);
        // Per product: the figures its pairs' rule measures and p-values read, loaded into
        // lanes by product code.
        let rates: Vec<Rates> = self
            .product_counts
            .iter()
            .map(|&c| Rates::new(c, n))
            .collect();
        let products: Vec<Margin> = self
            .product_counts
            .iter()
            .map(|&c| ln_factorials.product(c))
            .collect();
        let inverse_n = 1.0 / n;
        let len = self.len();
        let mut codes: [Vec<i64>; 3] = std::array::from_fn(|_| pages::with_capacity(len));
        let mut rules: [Vec<f64>; 9] = std::array::from_fn(|_| pages::with_capacity(len));
        let mut code_rest = codes.each_mut().map(|c| &mut c.spare_capacity_mut()[..len]);
        let mut rule_rest = rules.each_mut().map(|c| &mut c.spare_capacity_mut()[..len]);
        // (pairs, index of the first, its rows of the code columns, of the rule columns).
        let mut tasks = Vec::new();
        let mut first = 0;
        for pairs in self.runs().flat_map(|run| run.chunks(PAIRS_PER_TASK)) {
            let rows = pairs.len();
            tasks.push((
                pairs,
                first,
                cut(&mut code_rest, rows),
                cut(&mut rule_rest, rows),
            ));
            first += rows;
        }
        let vector = Lanes::can_vectorise();
        tasks
            .into_par_iter()
            .with_max_len(MEASURE_JOB_TASKS)
            .for_each(|(pairs, first, mut codes, rules)| {
                checkpoint();
                let [sup, cab, cba, lift, lev, cvab, cvba, jac, p] = rules;
                let mut rules = [sup, cab, cba, lift, lev, cvab, cvba, jac];
                vmath::widest(
                    #[inline(always)]
                    || {
                        let (mut lanes, mut measures) = (Lanes::EMPTY, [[0.0; LANES]; 8]);
                        let mut at = 0;
                        while at < pairs.len() {
                            // Steps end on multiples of the lanes in the whole column, so
                            // that the streamed stores fill whole cache lines.
                            let step = (LANES - (first + at) % LANES).min(pairs.len() - at);
                            let rows = at..at + step;
                            // Gathered first, so that the arithmetic is a loop over lanes.
                            lanes.gather(&pairs[rows.clone()], &rates, vector);
                            rule_measures(n, inverse_n, &lanes, &mut measures);
                            for (column, lanes) in rules.iter_mut().zip(&measures) {
                                pages::write_streaming(&mut column[rows.clone()], lanes);
                            }
                            for (column, lanes) in codes.iter_mut().zip(&lanes.codes) {
                                pages::write_streaming(&mut column[rows.clone()], lanes);
                            }
                            at += step;
                        }
                    },
                );
                ln_factorials.fisher_greater_each(p, first, pairs, &products);
                // The streamed values are visible to other threads once fenced.
                pages::fence();
            });
        for column in &mut codes {
            // SAFETY: the tasks' rows cover 0..len (`cut` hands out consecutive rows, as many
            // as the pairs), and each task writes every row of every column it is given: the
            // steps cover its pairs, the streamed writes each step's rows, and
            // `fisher_greater_each` every p-value.
            unsafe { column.set_len(len) };
        }
        for column in &mut rules {
            // SAFETY: as above.
            unsafe { column.set_len(len) };
        }
        let [product_a, product_b, count] = codes;
        let [support, confidence_a_b, confidence_b_a, lift, leverage, conviction_a_b, conviction_b_a, jaccard, p_value] =
            rules;
        Measures {
            product_a,
            product_b,
            count,
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
        let mut pairs: Vec<Pair> = self.pairs().copied().collect();
        top_k(&mut pairs, k, |x, y| {
            lift(y)
                .total_cmp(&lift(x))
                .then(y.count.cmp(&x.count))
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
        self.runs = vec![PairRuns::whole(pairs)];
    }
}

/// The first `rows` of each of `rest`'s slices, which keep the others.
fn cut<'a, T, const N: usize>(rest: &mut [&'a mut [T]; N], rows: usize) -> [&'a mut [T]; N] {
    rest.each_mut().map(|r| {
        let (head, tail) = std::mem::take(r).split_at_mut(rows);
        *r = tail;
        head
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, baskets_tallied, lines, Level};

    fn counts(orders: &[i64], products: &[i64], n: usize, t: Thresholds) -> PairCounts {
        count_pairs(
            &baskets(&lines(orders, products, n), Level::Order).unwrap(),
            &t,
        )
    }

    #[test]
    fn tallies_taken_while_grouping_count_the_same_pairs() {
        // Orders as consecutive runs of 1 to 7 lines (repeats included), over 40 products;
        // with several threads the runs pass cuts pieces, each tallied.
        let mut next = crate::core::basket::numbers(3);
        let (mut orders, mut products) = (Vec::new(), Vec::new());
        for order in 0..3_000 {
            for _ in 0..1 + next(7) {
                orders.push(order * 7 % 3_001);
                products.push(next(40) as i64);
            }
        }
        let l = lines(&orders, &products, 40);
        let tallied = baskets_tallied(&l, Level::Order).unwrap();
        assert!(!tallied.tallies.is_empty());
        let covered: usize = tallied.tallies.iter().map(|t| t.baskets.len()).sum();
        assert_eq!(covered, tallied.len());
        let t = Thresholds::new(None, 1).unwrap();
        let (with, without) = (
            count_pairs(&tallied, &t),
            count_pairs(&baskets(&l, Level::Order).unwrap(), &t),
        );
        assert!(with.pairs().eq(without.pairs()));
        assert_eq!(with.product_counts, without.product_counts);
        assert_eq!(with.measures(), without.measures());
        // Lines of one order split into two runs: grouped by the sort, with no tallies.
        let (mut split, mut split_products) = (orders.clone(), products.clone());
        split.push(orders[0]);
        split_products.push(1);
        let sorted = baskets_tallied(&lines(&split, &split_products, 40), Level::Order).unwrap();
        assert!(sorted.tallies.is_empty());
    }

    #[test]
    fn pairs_are_counted_once_per_basket() {
        // Baskets {0,1,2}, {0,1}, {1,2}, {0}.
        let orders = [1, 1, 1, 1, 2, 2, 3, 3, 4];
        let products = [0, 1, 2, 1, 0, 1, 1, 2, 0];
        let t = Thresholds::new(None, 1).unwrap();
        let c = counts(&orders, &products, 3, t);
        let got: Vec<(u32, u32, u32)> = c.pairs().map(|p| (p.a, p.b, p.count)).collect();
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
            c.pairs().copied().collect::<Vec<_>>(),
            vec![Pair {
                a: 0,
                b: 1,
                count: 2
            }]
        );
    }

    #[test]
    fn measures_do_not_depend_on_how_the_pairs_are_split_into_runs() {
        let orders: Vec<i64> = (0..600).map(|i| i / 4).collect();
        let products: Vec<i64> = (0..600u64)
            .map(|i| ((i.wrapping_mul(6364136223846793005) >> 33) % 23) as i64)
            .collect();
        let counted = counts(&orders, &products, 23, Thresholds::new(None, 1).unwrap());
        let pairs: Vec<Pair> = counted.pairs().copied().collect();
        assert!(pairs.len() > 100);
        let split = |size: usize| PairCounts {
            runs: pairs
                .chunks(size)
                .map(|run| PairRuns::whole(run.to_vec()))
                .collect(),
            product_counts: counted.product_counts.clone(),
            ..PairCounts::default()
        };
        let whole = PairCounts {
            baskets: counted.baskets,
            ..split(pairs.len())
        }
        .measures();
        let codes: Vec<(i64, i64, i64)> = pairs
            .iter()
            .map(|p| (p.a as i64, p.b as i64, p.count as i64))
            .collect();
        let columns =
            (0..pairs.len()).map(|i| (whole.product_a[i], whole.product_b[i], whole.count[i]));
        assert!(columns.eq(codes));
        // Runs of odd lengths start rows off the 16-byte grid of the streamed stores.
        for size in [1, 3, 17, 40] {
            let measures = PairCounts {
                baskets: counted.baskets,
                ..split(size)
            }
            .measures();
            assert_eq!(measures, whole, "runs of {size}");
        }
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
            let passes = count_in_passes(&b, &t, budget);
            assert!(passes.pairs().eq(one.pairs()), "{budget}");
        }
        assert_eq!(one.len(), 6);
    }
}
