//! Fisher's exact test of a positive association between two products: the upper tail of
//! the hypergeometric distribution, from a table of ln(i!) kept only at its two ends.
use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::core::basket::pairs::Pair;
#[cfg(target_arch = "x86_64")]
use crate::core::basket::rules::pair_fields;
use crate::core::{pages, vmath};

/// P(X ≥ k) for X hypergeometric: `k` of `draws` baskets holding one product also hold the
/// other, held by `successes` of `total` baskets. The tail is summed from the side away from
/// the mode, stopping once terms no longer change the sum.
pub fn fisher_greater(total: u64, successes: u64, draws: u64, k: u64) -> f64 {
    LnFactorials::new(total, successes.max(draws)).fisher_greater(successes, draws, k)
}

/// One product's figures as the tests of its pairs read them: its basket count (a double,
/// exact below 2^53) and its [`LnFactorials::margin`], side by side so that one 16-byte
/// load fetches both.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Margin {
    pub count: f64,
    pub margin: f64,
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
    /// ln(total!).
    ln_total: f64,
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
            ln_total: ln_factorial(total),
        }
    }

    #[inline]
    fn ln_factorial(&self, i: u64) -> f64 {
        match self.low.get(i as usize) {
            Some(&v) => v,
            None => self.high[(i - self.high_from) as usize],
        }
    }

    /// ln(c!) + ln((N − c)!) − ln(N!): the part of a log-pmf that depends on one product's
    /// count `c` alone, kept per product by callers testing many pairs. The two large
    /// ln-factorials are subtracted first, exactly (they are within a factor of two).
    #[inline]
    pub fn margin(&self, c: u64) -> f64 {
        self.ln_factorial(c) + (self.ln_factorial(self.total - c) - self.ln_factorial(self.total))
    }

    /// A product's [`Margin`]: held by `count` baskets.
    #[inline]
    pub fn product(&self, count: u64) -> Margin {
        Margin {
            count: count as f64,
            margin: self.margin(count),
        }
    }

    /// [`fisher_greater`] over the `total` baskets the table was built for.
    /// `successes` and `draws` must be at most the `most` it was built for.
    pub fn fisher_greater(&self, successes: u64, draws: u64, k: u64) -> f64 {
        let margins = (self.margin(successes), self.margin(draws));
        match self.tail(successes, draws, k) {
            Tail::Certain(p) => p,
            Tail::Upper => {
                let mut series = Upper::<1>::EMPTY;
                series.start(0, self.total, successes, draws, k);
                while !series.step() {}
                self.upper_p(margins, successes, draws, k, series.sum[0])
            }
            Tail::Lower => self.lower_p(margins, successes, draws, k),
        }
    }

    /// Writes `out[i]` = [`Self::fisher_greater`] of `pairs[i]` (every value), bit for bit:
    /// successes and draws are the basket counts of its products, read with their margins
    /// from `products` (each [`Self::product`]). The upper tails — almost every pair: only pairs
    /// bought together are tested, and most share more baskets than chance gives them — are
    /// summed [`LANES`] pairs at a time in vector registers, with a vectorised `exp`. `out`
    /// is row `first` onwards of a result column: the blocks of lanes are cut at multiples
    /// of [`LANES`] rows of the column, so that each block's values fill one cache line,
    /// written with streamed stores (call [`pages::fence`] before other threads read them).
    pub fn fisher_greater_each(
        &self,
        out: &mut [MaybeUninit<f64>],
        first: usize,
        pairs: &[Pair],
        products: &[Margin],
    ) {
        let len = out.len().min(pairs.len());
        let head = ((LANES - first % LANES) % LANES).min(len);
        let blocks = std::iter::once(0..head).chain(
            (head..len)
                .step_by(LANES)
                .map(|at| at..(at + LANES).min(len)),
        );
        #[cfg(target_arch = "x86_64")]
        let gathered = self.total < EXACT_PRODUCTS
            && products.len() <= i32::MAX as usize
            && self.high_from < i32::MAX as u64
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        vmath::widest(
            #[inline(always)]
            || {
                for rows in blocks {
                    let mut p = [0.0; LANES];
                    #[cfg(target_arch = "x86_64")]
                    if gathered && rows.len() == LANES {
                        // SAFETY: the CPU has AVX2 and FMA, the block has `LANES` pairs,
                        // and the checks above bound the table's indices and products.
                        unsafe { self.gathered_block(&pairs[rows.clone()], products, &mut p) };
                        pages::write_streaming(&mut out[rows], &p);
                        continue;
                    }
                    self.lane_block(&pairs[rows.clone()], products, &mut p);
                    pages::write_streaming(&mut out[rows], &p);
                }
            },
        )
    }

    /// Up to [`LANES`] pairs' p-values, each lane set up one at a time.
    #[inline(always)]
    fn lane_block(&self, pairs: &[Pair], products: &[Margin], p: &mut [f64; LANES]) {
        let mut series = Upper::<LANES>::EMPTY;
        let mut ln_pmf = [0.0; LANES];
        let mut summed = [false; LANES];
        for (l, pair) in pairs.iter().enumerate() {
            let (a, b) = (products[pair.a as usize], products[pair.b as usize]);
            let (successes, draws, k) = (a.count as u64, b.count as u64, pair.count as u64);
            let margins = (a.margin, b.margin);
            match self.tail(successes, draws, k) {
                Tail::Certain(certain) => p[l] = certain,
                Tail::Lower => p[l] = self.lower_p(margins, successes, draws, k),
                Tail::Upper => {
                    series.start(l, self.total, successes, draws, k);
                    ln_pmf[l] = self.ln_pmf(margins, successes, draws, k);
                    summed[l] = true;
                }
            }
        }
        // Every lane steps until all are done: a finished lane's sum no longer changes (its
        // next terms are below half an ulp of it).
        while !series.step() {}
        for l in 0..LANES {
            let upper = (vmath::exp(ln_pmf[l]) * series.sum[l]).min(1.0);
            p[l] = if summed[l] { upper } else { p[l] };
        }
    }

    /// [`Self::lane_block`] of exactly [`LANES`] pairs, set up in vector registers: the
    /// pairs' counts loaded, their products' counts and margins loaded a row a lane and
    /// transposed (two vector gathers a side: measures of 1.83M pairs 16.1 -> 15.55 ms), the
    /// ln-factorials gathered, the tails told apart by comparisons, all in doubles (exact: every count, sum and
    /// product of two counts is a whole number below 2^53 when the total is below
    /// [`EXACT_PRODUCTS`]). The same operations in the same order as the lanes' set-up, so
    /// the same bits. One lane at a time, the set-up waited on its loads and branches
    /// (measured: 1.83M pairs, single thread, 22.0 -> 17.9 ms).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `pairs` holds [`LANES`] pairs whose products index
    /// `products` (fewer than 2^31 of them); the total is below
    /// [`EXACT_PRODUCTS`] and the counts at most the `most` the table was built for.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn gathered_block(&self, pairs: &[Pair], products: &[Margin], p: &mut [f64; LANES]) {
        use std::arch::x86_64::*;
        const HALF: usize = LANES / 2;
        let mut series = Upper::<LANES>::EMPTY;
        let mut ln_pmf = [0.0; LANES];
        let mut lower = [false; LANES];
        let mut summed = [false; LANES];
        let total = _mm256_set1_pd(self.total as f64);
        let (zero, one, two) = (
            _mm256_setzero_pd(),
            _mm256_set1_pd(1.0),
            _mm256_set1_pd(2.0),
        );
        let low_len = _mm256_set1_pd(self.low.len() as f64);
        let high_from = _mm256_set1_pd(self.high_from as f64);
        let ln_total = _mm256_set1_pd(self.ln_total);
        let fields = pairs.as_ptr().cast::<i32>();
        let (low, high) = (self.low.as_ptr(), self.high.as_ptr());
        for half in 0..2 {
            let at = half * HALF;
            let [_, _, k] = pair_fields(fields.add(3 * at));
            // The products' rows, four of each side, transposed into counts and margins
            // (two gathers a side cost more).
            let rows = |side: fn(&Pair) -> u32| {
                let row = |l: usize| {
                    let product = side(&*pairs.as_ptr().add(at + l)) as usize;
                    _mm_loadu_pd(products.as_ptr().add(product).cast())
                };
                let front = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(row(0)), row(2));
                let back = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(row(1)), row(3));
                (
                    _mm256_unpacklo_pd(front, back),
                    _mm256_unpackhi_pd(front, back),
                )
            };
            let ((s, margin_s), (d, margin_d)) = (rows(|p| p.a), rows(|p| p.b));
            // Counts are below 2^31 here: a signed conversion is exact.
            let k = _mm256_cvtepi32_pd(k);
            // As `tail`: certain when k ≤ lo or k > hi, else upper past the mode.
            let lo = _mm256_max_pd(_mm256_sub_pd(_mm256_add_pd(s, d), total), zero);
            let hi = _mm256_min_pd(s, d);
            let certain_one = _mm256_cmp_pd::<_CMP_LE_OQ>(k, lo);
            let certain_zero = _mm256_cmp_pd::<_CMP_GT_OQ>(k, hi);
            let past_mode = _mm256_cmp_pd::<_CMP_GT_OQ>(
                _mm256_mul_pd(k, _mm256_add_pd(total, two)),
                _mm256_mul_pd(_mm256_add_pd(s, one), _mm256_add_pd(d, one)),
            );
            let certain = _mm256_or_pd(certain_one, certain_zero);
            let upper = _mm256_andnot_pd(certain, past_mode);
            let below = _mm256_andnot_pd(
                _mm256_or_pd(certain, past_mode),
                _mm256_cmp_pd::<_CMP_EQ_OQ>(zero, zero),
            );
            // The log-pmf at k, as `ln_pmf`: its indices are whole doubles below 2^31.
            let index = |x: __m256d| _mm256_cvttpd_epi32(x);
            let ln_fact_low = |x: __m256d, mask: __m256d| {
                _mm256_mask_i32gather_pd::<8>(zero, low, index(x), mask)
            };
            let wide_at = _mm256_sub_pd(_mm256_sub_pd(_mm256_add_pd(total, k), s), d);
            let in_low = _mm256_cmp_pd::<_CMP_LT_OQ>(wide_at, low_len);
            let from_low = ln_fact_low(wide_at, _mm256_and_pd(upper, in_low));
            let from_high = _mm256_mask_i32gather_pd::<8>(
                zero,
                high,
                index(_mm256_sub_pd(wide_at, high_from)),
                _mm256_andnot_pd(in_low, upper),
            );
            let wide = _mm256_sub_pd(ln_total, _mm256_blendv_pd(from_high, from_low, in_low));
            let mut ln = _mm256_add_pd(_mm256_add_pd(margin_s, margin_d), wide);
            ln = _mm256_sub_pd(ln, ln_fact_low(k, upper));
            ln = _mm256_sub_pd(ln, ln_fact_low(_mm256_sub_pd(s, k), upper));
            ln = _mm256_sub_pd(ln, ln_fact_low(_mm256_sub_pd(d, k), upper));
            // As `Upper::start`, lanes not summed left empty.
            let started = |value: __m256d, empty: __m256d| _mm256_blendv_pd(empty, value, upper);
            let store =
                |to: &mut [f64; LANES], v: __m256d| _mm256_storeu_pd(to.as_mut_ptr().add(at), v);
            store(&mut series.a, started(_mm256_sub_pd(s, k), zero));
            store(&mut series.b, started(_mm256_sub_pd(d, k), zero));
            store(&mut series.c, started(_mm256_add_pd(k, one), one));
            let rest = _mm256_sub_pd(
                _mm256_sub_pd(_mm256_add_pd(_mm256_add_pd(total, k), one), s),
                d,
            );
            store(&mut series.d, started(rest, one));
            store(&mut series.term, started(one, zero));
            store(&mut ln_pmf, ln);
            // Certain lanes: 1 at or below lo, else 0.
            store(p, _mm256_and_pd(certain_one, one));
            let (upper_bits, lower_bits) = (_mm256_movemask_pd(upper), _mm256_movemask_pd(below));
            for l in 0..HALF {
                summed[at + l] = upper_bits >> l & 1 == 1;
                lower[at + l] = lower_bits >> l & 1 == 1;
            }
        }
        for l in 0..LANES {
            if lower[l] {
                let pair = pairs[l];
                let (a, b) = (products[pair.a as usize], products[pair.b as usize]);
                p[l] = self.lower_p(
                    (a.margin, b.margin),
                    a.count as u64,
                    b.count as u64,
                    pair.count as u64,
                );
            }
        }
        while !series.step() {}
        for l in 0..LANES {
            let upper = (vmath::exp(ln_pmf[l]) * series.sum[l]).min(1.0);
            p[l] = if summed[l] { upper } else { p[l] };
        }
    }

    /// Which side of the distribution P(X ≥ k) is summed from.
    #[inline(always)]
    fn tail(&self, successes: u64, draws: u64, k: u64) -> Tail {
        let lo = (successes + draws).saturating_sub(self.total);
        let hi = successes.min(draws);
        if k <= lo {
            Tail::Certain(1.0)
        } else if k > hi {
            Tail::Certain(0.0)
        } else if k as u128 * (self.total + 2) as u128
            > (successes + 1) as u128 * (draws + 1) as u128
        {
            // k is past the mode ⌊(draws + 1)(successes + 1) / (total + 2)⌋: terms fall from k.
            Tail::Upper
        } else {
            Tail::Lower
        }
    }

    /// ln P(X = x), from the two products' margins and four look-ups; the large
    /// ln-factorials are only ever subtracted from each other, so the sum keeps the digits of
    /// its small terms.
    #[inline(always)]
    fn ln_pmf(&self, (margin_s, margin_d): (f64, f64), successes: u64, draws: u64, x: u64) -> f64 {
        // x, successes − x and draws − x are at most `most`: in the low end of the table.
        let low = |i: u64| self.low[i as usize];
        let wide = self.ln_total - self.ln_factorial(self.total + x - successes - draws);
        margin_s + margin_d + wide - low(x) - low(successes - x) - low(draws - x)
    }

    /// P(X ≥ k) from the series of terms relative to P(X = k).
    #[inline(always)]
    fn upper_p(&self, margins: (f64, f64), successes: u64, draws: u64, k: u64, sum: f64) -> f64 {
        (vmath::exp(self.ln_pmf(margins, successes, draws, k)) * sum).min(1.0)
    }

    /// P(X ≥ k) as 1 − P(X < k) when the upper tail holds the mode: the lower tail's terms
    /// fall from k − 1 down. Rare (a pair sharing no more baskets than chance gives it, of
    /// products both bought often), so summed one pair at a time.
    fn lower_p(&self, margins: (f64, f64), successes: u64, draws: u64, k: u64) -> f64 {
        let lo = (successes + draws).saturating_sub(self.total);
        let failures = self.total - successes;
        let mut term = 1.0;
        let mut sum = 1.0;
        for x in (lo + 1..k).rev() {
            // pmf(x − 1) / pmf(x).
            term *= (x as f64 * (failures + x - draws) as f64)
                / ((successes + 1 - x) as f64 * (draws + 1 - x) as f64);
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        let below = vmath::exp(self.ln_pmf(margins, successes, draws, k - 1)) * sum;
        (1.0 - below).clamp(0.0, 1.0)
    }
}

/// Pairs tested at once: one AVX-512 register of doubles, two AVX2 ones. Every lane steps
/// until the slowest is done, so fewer lanes waste fewer steps (measured: 8 lanes 13.1 ms,
/// 16 lanes 14.3 ms for 1.83M pairs).
const LANES: usize = 8;

/// Totals below this keep every count, sum and product of two counts of the Fisher set-up
/// exact in doubles (2^26 · 2^26 < 2^53): the vectorised set-up's bound.
#[cfg(target_arch = "x86_64")]
const EXACT_PRODUCTS: u64 = 1 << 26;

enum Tail {
    Certain(f64),
    Upper,
    Lower,
}

/// The upper tails of `N` pairs, as terms relative to P(X = k): 1, then each times
/// pmf(x + 1) / pmf(x) = (a · b) / (c · d), with a = successes − x, b = draws − x,
/// c = x + 1, d = failures − draws + x + 1 (whole numbers, exact in doubles). The terms
/// fall, reaching 0 past x = min(successes, draws) (a or b is 0 there, and the term after
/// a = 1 or b = 1 is 0 too). Lanes are columns
/// so that a step over all of them is a few vector instructions.
struct Upper<const N: usize> {
    a: [f64; N],
    b: [f64; N],
    c: [f64; N],
    d: [f64; N],
    term: [f64; N],
    sum: [f64; N],
}

impl<const N: usize> Upper<N> {
    /// Lanes with no series: their terms are 0 from the first step.
    const EMPTY: Upper<N> = Upper {
        a: [0.0; N],
        b: [0.0; N],
        c: [1.0; N],
        d: [1.0; N],
        term: [0.0; N],
        sum: [1.0; N],
    };

    #[inline(always)]
    fn start(&mut self, lane: usize, total: u64, successes: u64, draws: u64, k: u64) {
        self.a[lane] = (successes - k) as f64;
        self.b[lane] = (draws - k) as f64;
        self.c[lane] = (k + 1) as f64;
        self.d[lane] = (total + k + 1 - successes - draws) as f64;
        self.term[lane] = 1.0;
    }

    /// Adds every lane's next four terms; true once terms no longer change any sum. The
    /// four ratios r_j = u_j / v_j share one division: with q = u₀ / (v₀v₁v₂v₃), the terms
    /// are t·q·v₁v₂v₃, t·q·u₁v₂v₃, t·q·u₁u₂v₃ and t·q·u₁u₂u₃ (a division costs the divider
    /// as much as a dozen multiplications; measured with two terms a division, the
    /// measures of 1.83M pairs took 15.55 ms, with four 15.25 ms). The products stay far
    /// from overflow: each factor is below 2^128.
    #[inline(always)]
    fn step(&mut self) -> bool {
        let mut done = true;
        for l in 0..N {
            let (a, b, c, d) = (self.a[l], self.b[l], self.c[l], self.d[l]);
            let up = |j: f64| (a - j) * (b - j);
            let down = |j: f64| (c + j) * (d + j);
            let (down_23, up_12) = (down(2.0) * down(3.0), up(1.0) * up(2.0));
            let down_123 = down(1.0) * down_23;
            // The division is kept off the chain from one term to the next (it does not
            // depend on the term), so that the next step's can start before this one ends.
            let scale = self.term[l] * (up(0.0) / (down(0.0) * down_123));
            let terms = [
                scale * down_123,
                scale * (up(1.0) * down_23),
                scale * (up_12 * down(3.0)),
                scale * (up_12 * up(3.0)),
            ];
            self.sum[l] += (terms[0] + terms[1]) + (terms[2] + terms[3]);
            self.term[l] = terms[3];
            self.a[l] = a - 4.0;
            self.b[l] = b - 4.0;
            self.c[l] = c + 4.0;
            self.d[l] = d + 4.0;
            // The terms fall: the next four add at most 4·10⁻¹⁷ of the sum, less than half
            // an ulp.
            done &= terms[3] <= self.sum[l] * 1e-17;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::function::factorial::ln_binomial;

    #[test]
    fn fisher_tail_reads_both_ends_of_a_large_table() {
        // 10,000 baskets: the table keeps ln(i!) for i ≤ 40 and i ≥ 9,920 only. The exact
        // tails, Σ C(30, x) C(9970, 40 − x) / C(10000, 40) over x ≥ k in rational
        // arithmetic (Python's fractions), rounded to doubles.
        let exact = [
            (1, 0.11344816685315047),
            (2, 0.006322781718096648),
            (3, 0.00022336515608769315),
            (5, 1.0470076992213493e-07),
            (8, 1.7092647726871966e-13),
            (30, 2.3485101939867806e-79),
        ];
        let table = LnFactorials::new(10_000, 40);
        assert_eq!(table.low.len() + table.high.len(), 41 + 81);
        for (k, want) in exact {
            let got = table.fisher_greater(30, 40, k);
            // ln(i!) near 82,109 is rounded to ~1e-11: that much reaches the log-pmf.
            assert!((got - want).abs() <= 5e-11 * want, "k={k}: {got} vs {want}");
        }
    }

    #[test]
    fn pairs_tested_in_blocks_equal_pairs_tested_one_by_one() {
        // Upper tails (most), lower tails (pairs sharing no more baskets than chance gives
        // them: k ≤ mode), and certain ones, across block boundaries.
        let total = 5_000;
        let table = LnFactorials::new(total, 2_000);
        let mut next = crate::core::basket::numbers(7);
        // Products with counts up to 2,000, and pairs of them sharing up to all their
        // baskets and one more.
        let counts: Vec<f64> = (0..300).map(|_| (1 + next(2_000)) as f64).collect();
        let products: Vec<Margin> = counts.iter().map(|&c| table.product(c as u64)).collect();
        let pairs: Vec<Pair> = (0..1_000)
            .map(|_| {
                let (a, b) = (next(300) as u32, next(300) as u32);
                let most = counts[a as usize].min(counts[b as usize]) as u64;
                Pair {
                    a,
                    b,
                    count: next(most + 2) as u32,
                }
            })
            .collect();
        let cases: Vec<[u64; 3]> = pairs
            .iter()
            .map(|p| {
                [
                    counts[p.a as usize] as u64,
                    counts[p.b as usize] as u64,
                    p.count as u64,
                ]
            })
            .collect();
        let mut got = vec![MaybeUninit::new(f64::NAN); cases.len()];
        table.fisher_greater_each(&mut got, 3, &pairs, &products);
        // SAFETY: every value was initialised (NaN) before the call.
        let got: Vec<f64> = got.iter().map(|v| unsafe { v.assume_init() }).collect();
        let lower = cases
            .iter()
            .filter(|&&[s, d, k]| matches!(table.tail(s, d, k), Tail::Lower));
        assert!(lower.count() > 100);
        for (&[s, d, k], got) in cases.iter().zip(&got) {
            let want = table.fisher_greater(s, d, k);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{s} {d} {k}: {got} vs {want}"
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
