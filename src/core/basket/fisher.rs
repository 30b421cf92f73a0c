//! Fisher's exact test of a positive association between two products: the upper tail of
//! the hypergeometric distribution, from a table of ln(i!) kept only at its two ends.
use rayon::prelude::*;

/// P(X ≥ k) for X hypergeometric: `k` of `draws` baskets holding one product also hold the
/// other, held by `successes` of `total` baskets. The tail is summed from the side away from
/// the mode, stopping once terms no longer change the sum.
pub fn fisher_greater(total: u64, successes: u64, draws: u64, k: u64) -> f64 {
    LnFactorials::new(total, successes.max(draws)).fisher_greater(successes, draws, k)
}

/// ln(i!) from the log-gamma function (exact to rounding, unlike a running sum of logs), so
/// that every pair's p-value costs a few look-ups. Of `0..=total` only the ends are kept: the
/// p-values of products held by at most `most` baskets read ln(i!) for i ≤ most and for
/// i ≥ total − 2·most, a small table however many baskets there are.
pub struct LnFactorials {
    total: u64,
    /// ln(i!) for i in `0..low.len()`.
    low: Vec<f64>,
    /// ln(i!) for i in `high_from..=total`.
    high_from: u64,
    high: Vec<f64>,
}

impl LnFactorials {
    pub fn new(total: u64, most: u64) -> LnFactorials {
        let ln_factorial = |i: u64| statrs::function::gamma::ln_gamma(i as f64 + 1.0);
        let low_end = most.min(total) + 1;
        let high_from = total.saturating_sub(most.saturating_mul(2)).max(low_end);
        LnFactorials {
            total,
            low: (0..low_end).into_par_iter().map(ln_factorial).collect(),
            high_from,
            high: (high_from..=total)
                .into_par_iter()
                .map(ln_factorial)
                .collect(),
        }
    }

    #[inline]
    fn ln_factorial(&self, i: u64) -> f64 {
        match self.low.get(i as usize) {
            Some(&v) => v,
            None => self.high[(i - self.high_from) as usize],
        }
    }

    #[inline]
    fn ln_binomial(&self, n: u64, k: u64) -> f64 {
        self.ln_factorial(n) - self.ln_factorial(k) - self.ln_factorial(n - k)
    }

    /// [`fisher_greater`] over the `total` baskets the table was built for.
    /// `successes` and `draws` must be at most the `most` it was built for.
    pub fn fisher_greater(&self, successes: u64, draws: u64, k: u64) -> f64 {
        let total = self.total;
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
    use statrs::function::factorial::ln_binomial;

    #[test]
    fn fisher_tail_reads_both_ends_of_a_large_table() {
        // 10,000 baskets: the table keeps ln(i!) for i ≤ 40 and i ≥ 9,920 only.
        let exact = |k: u64| -> f64 {
            (k..=30)
                .map(|x| {
                    (ln_binomial(30, x) + ln_binomial(9_970, 40 - x) - ln_binomial(10_000, 40))
                        .exp()
                })
                .sum()
        };
        let table = LnFactorials::new(10_000, 40);
        assert_eq!(table.low.len() + table.high.len(), 41 + 81);
        for k in [1, 2, 3, 5, 8, 30] {
            let got = table.fisher_greater(30, 40, k);
            let want = exact(k).min(1.0);
            assert!(
                (got - want).abs() <= 1e-12 * want.max(1e-300),
                "k={k}: {got} vs {want}"
            );
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
