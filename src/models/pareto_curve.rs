//! The Pareto/NBD new-customer curve, `E[X(t)]` for a customer just acquired: one
//! vectorised pass, or a memo where ages repeat (as a summary's do, one per period).
use std::mem::MaybeUninit;

use super::pareto_nbd::PARAM_NAMES;
use super::{check_params, data_err};
use crate::core::error::Result;
use crate::core::pages;
use crate::core::vmath;

/// Expected purchases in `(0, t]` for a new customer: `rβ/(α(s-1)) [1 - (β/(β+t))^(s-1)]`.
pub fn expected_purchases(params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let (r, alpha, s, beta) = (params[0], params[1], params[2], params[3]);
    let s1 = s - 1.0;
    let scale = r * beta / alpha;
    // (1 - (β/(β+t))^(s-1)) / (s-1) is -expm1((s-1) u) / (s-1), u = ln(β/(β+t)); the
    // division by s - 1 is folded into the factor (continuous at s = 1, where it is -u).
    let near_one = s1.abs() < 1e-12;
    let curve = NewCustomers {
        factor: if near_one { -scale } else { -scale / s1 },
        s1: if near_one { 0.0 } else { s1 },
        inverse_beta: 1.0 / beta,
    };
    // Large blocks: each task's memo (see `NewCustomers::block`) is filled once for many rows.
    let block = (t.len() / (4 * rayon::current_num_threads())).clamp(1 << 14, 1 << 18);
    // SAFETY: `block` writes every value of its block.
    let (out, bad) = unsafe {
        pages::par_written(
            t.len(),
            block,
            |offset, out| curve.block_wide(&t[offset..offset + out.len()], out),
            |a: usize, b| a + b,
        )
    };
    if bad > 0 {
        return Err(data_err("t", "negative or non-finite values", bad));
    }
    Ok(out)
}

/// Slots of [`NewCustomers::block`]'s memo: 2^11 of 16 bytes, within the L1 cache.
const MEMO_BITS: u32 = 11;

/// Rows read through the memo before judging it: with more than a quarter of them missing
/// (ages of many distinct values), the rest of the block takes the vectorised pass.
const MEMO_TRIAL: usize = 4096;

/// The new-customer curve, computed once per distinct age where ages repeat, and counting
/// the invalid `t`.
struct NewCustomers {
    /// `-rβ/(α(s-1))`, or `-rβ/α` when s = 1.
    factor: f64,
    /// `s - 1`, or 0 when it is within 1e-12 of 0 (the curve is then `rβ/α ln((β+t)/β)`).
    s1: f64,
    inverse_beta: f64,
}

impl NewCustomers {
    /// The curve at `t`.
    #[inline(always)]
    fn at(&self, t: f64) -> f64 {
        // ln(β/(β+t)), exact to a few ulps also for t ≪ β.
        let u = -vmath::ln_1p(t * self.inverse_beta);
        let change = if self.s1 == 0.0 {
            u
        } else {
            vmath::exp_m1(self.s1 * u)
        };
        self.factor * change
    }

    /// [`NewCustomers::block`] compiled for the widest vectors the CPU has.
    fn block_wide(&self, t: &[f64], out: &mut [MaybeUninit<f64>]) -> usize {
        vmath::widest(
            #[inline(always)]
            || self.block(t, out),
        )
    }

    /// The curve at `t` into `out` (every value written); how many `t` are negative or not
    /// finite. A summary's ages take few distinct values (one per calendar period), so rows
    /// are read through a direct-mapped memo of the last valid age seen per slot: most are
    /// a lookup. Should the first [`MEMO_TRIAL`] rows miss more than a quarter of the time,
    /// the rest is computed in one vectorised pass instead. Both give [`NewCustomers::at`]'s
    /// value, bit for bit.
    #[inline(always)]
    fn block(&self, t: &[f64], out: &mut [MaybeUninit<f64>]) -> usize {
        let t = &t[..out.len()];
        let mut memo = [(0.0f64.to_bits(), self.at(0.0)); 1 << MEMO_BITS];
        let trial = t.len().min(MEMO_TRIAL);
        let (head, rest) = out.split_at_mut(trial);
        let (misses, mut bad) = self.memo_rows(&mut memo, &t[..trial], head);
        if misses * 4 > trial {
            bad += self.rows(&t[trial..], rest);
        } else {
            bad += self.memo_rows(&mut memo, &t[trial..], rest).1;
        }
        bad
    }

    /// The rows through the memo: (misses, invalid rows). Only valid ages enter it.
    #[inline(always)]
    fn memo_rows(
        &self,
        memo: &mut [(u64, f64); 1 << MEMO_BITS],
        t: &[f64],
        out: &mut [MaybeUninit<f64>],
    ) -> (usize, usize) {
        let (mut misses, mut bad) = (0, 0);
        for (o, &t) in out.iter_mut().zip(t) {
            let key = t.to_bits();
            let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_BITS)) as usize;
            if memo[slot].0 == key {
                o.write(memo[slot].1);
                continue;
            }
            let value = self.at(t);
            if t.is_finite() && t >= 0.0 {
                memo[slot] = (key, value);
                misses += 1;
            } else {
                bad += 1;
            }
            o.write(value);
        }
        (misses, bad)
    }

    /// The rows in one vectorised pass; how many are invalid.
    #[inline(always)]
    fn rows(&self, t: &[f64], out: &mut [MaybeUninit<f64>]) -> usize {
        let mut bad = 0;
        for (o, &t) in out.iter_mut().zip(t) {
            bad += usize::from(!(t.is_finite() && t >= 0.0));
            o.write(self.at(t));
        }
        bad
    }
}
