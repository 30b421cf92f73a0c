//! The association-rule measures of pairs, sixteen at a time in vector registers: the
//! pairs' counts and their products' [`Rates`] gathered into lanes, quotients by a
//! product's count or support taken with its reciprocal ([`quotient`], the same bits as the
//! division).
use crate::core::basket::pairs::Pair;

/// Pairs whose rule measures are computed together, in vector registers.
pub(super) const LANES: usize = 16;

/// One product's figures as the rule measures read them: its basket count and support, and
/// their reciprocals (for [`quotient`]).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(super) struct Rates {
    count: f64,
    support: f64,
    inverse_count: f64,
    inverse_support: f64,
}

impl Rates {
    pub(super) fn new(count: u64, baskets: f64) -> Rates {
        let count = count as f64;
        let support = count / baskets;
        Rates {
            count,
            support,
            inverse_count: 1.0 / count,
            inverse_support: 1.0 / support,
        }
    }
}

/// Up to [`LANES`] pairs, one a lane: their counts (as doubles: exact below 2^53), their
/// products' [`Rates`] (field by field), and the code columns' values (a, b, count). Lanes
/// past the pairs hold 1s and 0s.
pub(super) struct Lanes {
    pub(super) count: [f64; LANES],
    a: [[f64; LANES]; 4],
    b: [[f64; LANES]; 4],
    pub(super) codes: [[i64; LANES]; 3],
}

impl Lanes {
    pub(super) const EMPTY: Lanes = Lanes {
        count: [1.0; LANES],
        a: [[1.0; LANES]; 4],
        b: [[1.0; LANES]; 4],
        codes: [[0; LANES]; 3],
    };

    /// Whether [`Lanes::gather`] may take its vector path: the CPU has AVX2.
    pub(super) fn can_vectorise() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Sets the lanes to `pairs`, whose products index `rates`; `vector`: as
    /// [`Lanes::can_vectorise`] answered. In place: returned, the 1.5 KB of lanes were a
    /// `memcpy` a step. A full block is loaded in vector registers, four lanes at a time
    /// (one lane at a time, the loads and conversions waited on each other: measures of
    /// 1.83M pairs 20.3-20.8 -> 19.6 ms).
    #[inline(always)]
    pub(super) fn gather(&mut self, pairs: &[Pair], rates: &[Rates], vector: bool) {
        #[cfg(target_arch = "x86_64")]
        if vector && pairs.len() == LANES {
            // SAFETY: the CPU has AVX2 (`vector`); there are `LANES` pairs, and their codes
            // index `rates`.
            unsafe { self.gather_avx2(pairs, rates) };
            return;
        }
        *self = Lanes::EMPTY;
        for (l, pair) in pairs.iter().enumerate() {
            self.count[l] = pair.count as f64;
            for (side, product) in [(&mut self.a, pair.a), (&mut self.b, pair.b)] {
                let r = rates[product as usize];
                let fields = [r.count, r.support, r.inverse_count, r.inverse_support];
                for (field, value) in side.iter_mut().zip(fields) {
                    field[l] = value;
                }
            }
            self.codes[0][l] = pair.a as i64;
            self.codes[1][l] = pair.b as i64;
            self.codes[2][l] = pair.count as i64;
        }
    }

    /// # Safety
    /// As [`Lanes::gather`]'s vector branch.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn gather_avx2(&mut self, pairs: &[Pair], rates: &[Rates]) {
        use std::arch::x86_64::*;
        let fields = pairs.as_ptr().cast::<i32>();
        let table = rates.as_ptr().cast::<f64>();
        // u32 to double, exactly: flip the top bit, convert as signed, add 2^31 back.
        let top = _mm_set1_epi32(i32::MIN);
        let to_double = |x: __m128i| {
            _mm256_add_pd(
                _mm256_cvtepi32_pd(_mm_xor_si128(x, top)),
                _mm256_set1_pd(2_147_483_648.0),
            )
        };
        for group in 0..LANES / 4 {
            let at = 4 * group;
            let [a, b, count] = pair_fields(fields.add(3 * at));
            let store =
                |to: &mut [f64; LANES], v: __m256d| _mm256_storeu_pd(to.as_mut_ptr().add(at), v);
            store(&mut self.count, to_double(count));
            for (side, product) in [(&mut self.a, a), (&mut self.b, b)] {
                // A product's rates are one 32-byte row (`Rates` is `repr(C)`): four rows
                // loaded and transposed into four fields. Vector gathers of each field cost
                // more than the loads and shuffles (measures of 1.83M pairs 17.3 -> 16.6 ms).
                let rows = [
                    _mm_extract_epi32::<0>(product),
                    _mm_extract_epi32::<1>(product),
                    _mm_extract_epi32::<2>(product),
                    _mm_extract_epi32::<3>(product),
                ]
                .map(|p| _mm256_loadu_pd(table.add(4 * p as u32 as usize)));
                let [r0, r1, r2, r3] = rows;
                let (t0, t1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
                let (t2, t3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
                store(&mut side[0], _mm256_permute2f128_pd::<0x20>(t0, t2));
                store(&mut side[1], _mm256_permute2f128_pd::<0x20>(t1, t3));
                store(&mut side[2], _mm256_permute2f128_pd::<0x31>(t0, t2));
                store(&mut side[3], _mm256_permute2f128_pd::<0x31>(t1, t3));
            }
            for (codes, x) in self.codes.iter_mut().zip([a, b, count]) {
                _mm256_storeu_si256(codes.as_mut_ptr().add(at).cast(), _mm256_cvtepu32_epi64(x));
            }
        }
    }
}

/// The fields (a, b, count) of the four pairs from `fields`, a lane each, by two loads and
/// shuffles (three vector gathers cost more: with the Fisher set-up's, measures of 1.83M
/// pairs 16.6 -> 16.1 ms).
///
/// # Safety
/// The CPU has AVX2; `fields` points at four `repr(C)` [`Pair`]s (twelve `u32`s).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn pair_fields(fields: *const i32) -> [std::arch::x86_64::__m128i; 3] {
    use std::arch::x86_64::*;
    // lo: a0 b0 c0 a1 b1 c1 a2 b2; hi: b1 c1 a2 b2 c2 a3 b3 c3 (u32s 4..12).
    let lo = _mm256_loadu_si256(fields.cast());
    let hi = _mm256_loadu_si256(fields.add(4).cast());
    // A field's four lanes: permuted out of `lo`, the last one (`hi_lanes` 1) or two (2)
    // out of `hi`.
    let pick = |from_lo: __m256i, from_hi: __m256i, hi_lanes: i32| {
        let lo = _mm256_permutevar8x32_epi32(lo, from_lo);
        let hi = _mm256_permutevar8x32_epi32(hi, from_hi);
        _mm256_castsi256_si128(match hi_lanes {
            1 => _mm256_blend_epi32::<0b1000>(lo, hi),
            _ => _mm256_blend_epi32::<0b1100>(lo, hi),
        })
    };
    [
        pick(
            _mm256_setr_epi32(0, 3, 6, 0, 0, 0, 0, 0),
            _mm256_setr_epi32(0, 0, 0, 5, 0, 0, 0, 0),
            1,
        ),
        pick(
            _mm256_setr_epi32(1, 4, 7, 0, 0, 0, 0, 0),
            _mm256_setr_epi32(0, 0, 0, 6, 0, 0, 0, 0),
            1,
        ),
        pick(
            _mm256_setr_epi32(2, 5, 0, 0, 0, 0, 0, 0),
            _mm256_setr_epi32(0, 0, 4, 7, 0, 0, 0, 0),
            2,
        ),
    ]
}

/// `x / y` rounded to nearest (the same bits), given `inverse` = `1 / y` rounded to nearest:
/// q = x · (1/y), then twice q + r · (1/y) with the remainder r = x − q·y exact (a fused
/// multiply-add). Markstein's theorem (1990; Muller et al., Handbook of Floating-Point
/// Arithmetic, §4.7) makes the first correction exact once q is within an ulp of x / y; the
/// second covers the last half ulp of the first product. A division costs the divider
/// several cycles a lane; this is a product and four multiply-adds (measured: the rule
/// columns of 1.83M pairs without the p-values, 10.5 -> 10.1 ms; affinity's measures in
/// Python 22.4-23.5 -> 21.7-22.2 ms). Exact for the finite, normal values measured here
/// (counts and supports): checked against `/` in the tests, 2M cases each run and 3·10⁹
/// by hand.
#[inline(always)]
fn quotient(x: f64, y: f64, inverse: f64) -> f64 {
    let q = x * inverse;
    let q = (-q).mul_add(y, x).mul_add(inverse, q);
    (-q).mul_add(y, x).mul_add(inverse, q)
}

/// The rule measures of [`LANES`] pairs over `n` baskets (`inverse_n` = 1 / n): support,
/// confidence A → B and B → A, lift, leverage, conviction A → B and B → A, Jaccard. Every
/// value as the plain formula gives it, bit for bit: the quotients by a product's count or
/// support are taken by [`quotient`] with its reciprocal.
#[inline(always)]
pub(super) fn rule_measures(n: f64, inverse_n: f64, lanes: &Lanes, m: &mut [[f64; LANES]; 8]) {
    let [count_a, s_a, inverse_count_a, _] = &lanes.a;
    let [count_b, s_b, inverse_count_b, inverse_s_b] = &lanes.b;
    for l in 0..LANES {
        let count = lanes.count[l];
        let s_ab = quotient(count, n, inverse_n);
        let conf_ab = quotient(count, count_a[l], inverse_count_a[l]);
        let conf_ba = quotient(count, count_b[l], inverse_count_b[l]);
        m[0][l] = s_ab;
        m[1][l] = conf_ab;
        m[2][l] = conf_ba;
        m[3][l] = quotient(conf_ab, s_b[l], inverse_s_b[l]);
        m[4][l] = s_ab - s_a[l] * s_b[l];
        m[5][l] = conviction(conf_ab, s_b[l]);
        m[6][l] = conviction(conf_ba, s_a[l]);
        m[7][l] = s_ab / (s_a[l] + s_b[l] - s_ab);
    }
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

    /// `quotient` against `/` on the quotients the rule measures take: counts by baskets or
    /// by a product's count, and confidences by supports, over small and large counts.
    fn quotients_agree_with_division(cases: u64, seed: u64) {
        let mut next = crate::core::basket::numbers(seed);
        for i in 0..cases {
            // Totals from tiny to the most lines of one call, spread over their magnitudes.
            let n = 1 + next(1 << (1 + i % 32));
            let (a, b) = (1 + next(n), 1 + next(n));
            let count = 1 + next(a.min(b));
            let (count, a, b, n) = (count as f64, a as f64, b as f64, n as f64);
            let (s_b, confidence) = (b / n, count / a);
            for (x, y) in [(count, n), (count, a), (confidence, s_b)] {
                let got = quotient(x, y, 1.0 / y);
                assert_eq!(got.to_bits(), (x / y).to_bits(), "{x} / {y}");
            }
        }
    }

    #[test]
    fn quotients_by_reciprocals_are_divisions() {
        quotients_agree_with_division(2_000_000, 1);
    }

    /// Run by hand (`cargo test --release -- --ignored`): a billion more cases.
    #[test]
    #[ignore]
    fn quotients_by_reciprocals_are_divisions_at_length() {
        use rayon::prelude::*;
        (0..64u64)
            .into_par_iter()
            .for_each(|seed| quotients_agree_with_division(15_625_000, 1000 + seed));
    }
}
