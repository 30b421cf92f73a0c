//! Products bought together: exact co-occurrence counts of every pair of products over the
//! baskets, pruned first on single-product support as apriori does (a pair is never more
//! frequent than either of its products), with the association-rule measures of each pair.
//!
//! Counting walks the product → baskets transpose one product `a` at a time, tallying the
//! larger products `b` of each basket in a dense counter (Linden, Smith & York's item-to-item
//! loop): memory is the incidence plus one counter of `products` entries per thread, however
//! many pairs exist, and each product's pairs are written by one task, in order.
use rayon::prelude::*;

use crate::core::basket::{top_k, Baskets};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;

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
    pub count: u64,
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
    let n = baskets.len();
    let product_counts = baskets.product_counts();
    let frequent: Vec<bool> = product_counts
        .iter()
        .map(|&c| thresholds.keeps(c, n))
        .collect();
    let frequent_products = frequent.iter().filter(|&&f| f).count();
    // Baskets with fewer than two frequent products add no pair.
    let useful = |i: usize| {
        baskets
            .basket(i)
            .iter()
            .filter(|&&p| frequent[p as usize])
            .nth(1)
            .is_some()
    };
    let transposed = baskets.by_product(useful);
    let products = baskets.n_products;
    let pairs: Vec<Pair> = (0..products)
        .into_par_iter()
        .filter(|&a| frequent[a])
        .map_init(
            || (vec![0u32; products], Vec::<u32>::new()),
            |(counter, touched), a| {
                checkpoint();
                for &basket in transposed.of(a) {
                    let items = baskets.basket(basket as usize);
                    let after = items.partition_point(|&p| p as usize <= a);
                    for &b in &items[after..] {
                        if frequent[b as usize] {
                            let slot = &mut counter[b as usize];
                            if *slot == 0 {
                                touched.push(b);
                            }
                            *slot += 1;
                        }
                    }
                }
                touched.sort_unstable();
                let mut kept = Vec::new();
                for &b in touched.iter() {
                    let count = std::mem::take(&mut counter[b as usize]) as u64;
                    if thresholds.keeps(count, n) {
                        kept.push(Pair {
                            a: a as u32,
                            b,
                            count,
                        });
                    }
                }
                touched.clear();
                kept
            },
        )
        .flatten_iter()
        .collect();
    PairCounts {
        pairs,
        product_counts,
        baskets: n,
        frequent_products,
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
        let ln_factorials = LnFactorials::new(self.baskets as u64);
        let rows: Vec<[f64; 9]> = self
            .pairs
            .par_iter()
            .map(|pair| {
                let count_a = self.product_counts[pair.a as usize];
                let count_b = self.product_counts[pair.b as usize];
                let (s_ab, s_a, s_b) = (
                    pair.count as f64 / n,
                    count_a as f64 / n,
                    count_b as f64 / n,
                );
                let conf_ab = pair.count as f64 / count_a as f64;
                let conf_ba = pair.count as f64 / count_b as f64;
                [
                    s_ab,
                    conf_ab,
                    conf_ba,
                    conf_ab / s_b,
                    s_ab - s_a * s_b,
                    conviction(conf_ab, s_b),
                    conviction(conf_ba, s_a),
                    s_ab / (s_a + s_b - s_ab),
                    ln_factorials.fisher_greater(count_a, count_b, pair.count),
                ]
            })
            .collect();
        let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
        Measures {
            support: column(0),
            confidence_a_b: column(1),
            confidence_b_a: column(2),
            lift: column(3),
            leverage: column(4),
            conviction_a_b: column(5),
            conviction_b_a: column(6),
            jaccard: column(7),
            p_value: column(8),
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
        top_k(&mut self.pairs, k, |x, y| {
            lift(y)
                .total_cmp(&lift(x))
                .then(y.count.cmp(&x.count))
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
    }
}

/// (1 − support(consequent)) / (1 − confidence); infinite for a rule that always holds.
fn conviction(confidence: f64, consequent_support: f64) -> f64 {
    if confidence < 1.0 {
        (1.0 - consequent_support) / (1.0 - confidence)
    } else {
        f64::INFINITY
    }
}

/// P(X ≥ k) for X hypergeometric: `k` of `draws` baskets holding one product also hold the
/// other, held by `successes` of `total` baskets. The tail is summed from the side away from
/// the mode, stopping once terms no longer change the sum.
pub fn fisher_greater(total: u64, successes: u64, draws: u64, k: u64) -> f64 {
    LnFactorials::new(total).fisher_greater(successes, draws, k)
}

/// ln(i!) for i in 0..=total, each from the log-gamma function (exact to rounding, unlike a
/// running sum of logs), so that every pair's p-value costs a few look-ups.
pub struct LnFactorials {
    table: Vec<f64>,
}

impl LnFactorials {
    pub fn new(total: u64) -> LnFactorials {
        let table = (0..=total)
            .into_par_iter()
            .map(|i| statrs::function::gamma::ln_gamma(i as f64 + 1.0))
            .collect();
        LnFactorials { table }
    }

    #[inline]
    fn ln_binomial(&self, n: u64, k: u64) -> f64 {
        self.table[n as usize] - self.table[k as usize] - self.table[(n - k) as usize]
    }

    /// [`fisher_greater`] over the `total` baskets the table was built for.
    pub fn fisher_greater(&self, successes: u64, draws: u64, k: u64) -> f64 {
        let total = (self.table.len() - 1) as u64;
        let lo = (successes + draws).saturating_sub(total);
        let hi = successes.min(draws);
        if k <= lo {
            return 1.0;
        }
        if k > hi {
            return 0.0;
        }
        // One log-pmf, then the ratio of neighbouring terms: far cheaper than a log-gamma a term.
        let failures = total - successes;
        let ln_pmf = |x: u64| {
            self.ln_binomial(successes, x) + self.ln_binomial(failures, draws - x)
                - self.ln_binomial(total, draws)
        };
        // pmf(x + 1) / pmf(x).
        let up = |x: u64| {
            ((successes - x) as f64 * (draws - x) as f64)
                / ((x + 1) as f64 * (failures + x + 1 - draws) as f64)
        };
        let mode =
            ((draws + 1) as f64 * (successes + 1) as f64 / (total + 2) as f64).floor() as u64;
        let mut sum = 0.0;
        if k > mode {
            // Terms fall from k upward.
            let mut term = ln_pmf(k).exp();
            for x in k..=hi {
                sum += term;
                if term <= sum * 1e-17 || x == hi {
                    break;
                }
                term *= up(x);
            }
            sum.min(1.0)
        } else {
            // The upper tail holds the mode: 1 − the lower tail, whose terms fall from k − 1 down.
            let mut term = ln_pmf(k - 1).exp();
            for x in (lo..k).rev() {
                sum += term;
                if term <= sum * 1e-17 || x == lo {
                    break;
                }
                term /= up(x - 1);
            }
            (1.0 - sum).clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, lines, Level};
    use statrs::function::factorial::ln_binomial;

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
        let got: Vec<(u32, u32, u64)> = c.pairs.iter().map(|p| (p.a, p.b, p.count)).collect();
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
    fn fisher_tail_matches_a_direct_sum() {
        // Total 20, 8 hold A, 6 hold B.
        let exact = |k: u64| -> f64 {
            (k..=6)
                .map(|x| (ln_binomial(8, x) + ln_binomial(12, 6 - x) - ln_binomial(20, 6)).exp())
                .sum()
        };
        for k in 0..=7 {
            let got = fisher_greater(20, 8, 6, k);
            let want = if k > 6 { 0.0 } else { exact(k).min(1.0) };
            assert!((got - want).abs() < 1e-12, "k={k}: {got} vs {want}");
        }
    }
}
