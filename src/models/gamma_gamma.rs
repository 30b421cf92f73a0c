//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005 note; lifetimes' `GammaGammaFitter`).
//! Parameters `[p, q, gamma]` (lifetimes calls `gamma` `v`).

use std::mem::MaybeUninit;

use super::special::{digamma, ln_gamma};
use super::{check_len, check_params, optimize, par_map, Distinct, FitOptions, FitResult, CHUNK};
use crate::core::error::{CoreError, Result};
use rayon::prelude::*;

use crate::core::pages;
use crate::core::vmath;

pub const PARAM_NAMES: &[&str] = &["p", "q", "gamma"];

/// Repeat customers' frequency `x` (> 0) and mean repeat spend `m` (> 0), with weights.
#[derive(Debug, Clone, Default)]
pub struct SpendData {
    pub x: Vec<f64>,
    pub m: Vec<f64>,
    pub weight: Vec<f64>,
    /// Input rows with `x = 0` that were left out (report this to the user).
    pub n_skipped: usize,
}

impl SpendData {
    /// Keeps rows with `x > 0`; errors on non-finite values, negative `x`, or `m <= 0` among
    /// the kept rows.
    pub fn new(x: &[f64], m: &[f64], weights: Option<&[f64]>) -> Result<Self> {
        check_len("monetary_value", m.len(), x.len())?;
        if let Some(w) = weights {
            check_len("weights", w.len(), x.len())?;
        }
        let err = |col: &str, msg: &str, rows: usize| CoreError::data(col, msg, rows as u64);
        let bad = x.iter().filter(|v| !(v.is_finite() && **v >= 0.0)).count();
        if bad > 0 {
            return Err(err("frequency", "negative or non-finite values", bad));
        }
        let bad = x
            .iter()
            .zip(m)
            .filter(|(x, m)| **x > 0.0 && !(m.is_finite() && **m > 0.0))
            .count();
        if bad > 0 {
            return Err(err(
                "monetary_value",
                "must be > 0 for customers with repeat purchases",
                bad,
            ));
        }
        let mut d = SpendData::default();
        for i in 0..x.len() {
            let w = weights.map_or(1.0, |w| w[i]);
            if !(w.is_finite() && w >= 0.0) {
                return Err(err("weights", "negative or non-finite weights", 1));
            }
            if x[i] > 0.0 {
                d.x.push(x[i]);
                d.m.push(m[i]);
                d.weight.push(w);
            } else {
                d.n_skipped += 1;
            }
        }
        Ok(d)
    }

    pub fn n_obs(&self) -> f64 {
        self.weight.iter().sum()
    }
}

fn row(p: &[f64], c: &[f64; 3], x: f64, m: f64) -> (f64, [f64; 3]) {
    let (pp, q, g) = (p[0], p[1], p[2]);
    let [lgq, lng, pq] = *c;
    let px = pp * x;
    let (lm, lx, lgm) = (m.ln(), x.ln(), (g + m * x).ln());
    let pxq = digamma(px + q);
    let l = ln_gamma(px + q) - ln_gamma(px) - lgq + q * lng + (px - 1.0) * lm + px * lx
        - (px + q) * lgm;
    (
        l,
        [
            x * (pxq - digamma(px) + lm + lx - lgm),
            pxq - pq + lng - lgm,
            q / g - (px + q) / (g + m * x),
        ],
    )
}

/// The rows grouped by distinct `x`, equal `(x, m)` rows merged, for the factored likelihood
/// (built once per fit).
///
/// With `l = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ+mx)`,
/// the special functions depend on `x` alone and run once per distinct `x`; per evaluation each
/// row costs one `ln(γ + m x)` and one division. The value is still summed row by row (group
/// constant + row terms, each row's total of the size of the result): summing large group-level
/// products instead would leave rounding noise in the objective above the decrease the line
/// search needs near the optimum.
pub(crate) struct Grouped {
    /// per distinct x: [x, ln x, Σw]
    groups: Vec<[f64; 3]>,
    /// per row (sorted by x, then m; rows with zero weight left out): `m x`, `ln m`, weight
    mx: Vec<f64>,
    lm: Vec<f64>,
    w: Vec<f64>,
    /// work items `(group, start, end)`: at most `CHUNK` rows of one group each, in order
    items: Vec<(u32, usize, usize)>,
}

impl Grouped {
    pub(crate) fn new(d: &SpendData) -> Self {
        let dist = Distinct::new(&d.x);
        let ng = dist.values.len();
        // Sort the kept rows by (x, m, input row) — m > 0, so its bits order like its values —
        // and merge equal (x, m) rows, summing their weights in input order.
        let mut keys: Vec<(u32, u64, u32)> = (0..d.x.len())
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| d.weight[i] != 0.0)
            .map(|i| (dist.index[i], d.m[i].to_bits(), i as u32))
            .collect();
        keys.par_sort_unstable();
        let mut groups: Vec<[f64; 3]> = dist.values.iter().map(|&x| [x, x.ln(), 0.0]).collect();
        let (mut mx, mut w) = (Vec::new(), Vec::new());
        let mut m_bits = Vec::new();
        let mut bounds = vec![0usize; ng + 1];
        let mut last: Option<(u32, u64)> = None;
        for &(g, mb, i) in &keys {
            let wi = d.weight[i as usize];
            groups[g as usize][2] += wi;
            if last == Some((g, mb)) {
                *w.last_mut().unwrap() += wi;
            } else {
                mx.push(f64::from_bits(mb) * dist.values[g as usize]);
                m_bits.push(mb);
                w.push(wi);
                bounds[g as usize + 1] = mx.len();
                last = Some((g, mb));
            }
        }
        for g in 0..ng {
            bounds[g + 1] = bounds[g + 1].max(bounds[g]);
        }
        let lm = m_bits
            .par_iter()
            .with_min_len(4096)
            .map(|&b| f64::from_bits(b).ln())
            .collect();
        let mut items = Vec::new();
        for g in 0..ng {
            let mut s = bounds[g];
            while s < bounds[g + 1] {
                let e = (s + CHUNK).min(bounds[g + 1]);
                items.push((g as u32, s, e));
                s = e;
            }
        }
        Grouped {
            groups,
            mx,
            lm,
            w,
            items,
        }
    }

    /// Number of distinct `(x, m)` rows with non-zero weight.
    pub(crate) fn len(&self) -> usize {
        self.mx.len()
    }
}

fn ll_grad_impl(p: &[f64], gd: &Grouped, grad: &mut [f64]) -> f64 {
    if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return f64::NAN;
    }
    let (pp, q, g) = (p[0], p[1], p[2]);
    let (lgq, lng, pq) = (ln_gamma(q), g.ln(), digamma(q));
    // Per distinct x: the row-independent part of l, and ψ(px+q), ψ(px).
    let consts: Vec<[f64; 3]> = gd
        .groups
        .iter()
        .map(|&[x, lx, _]| {
            let px = pp * x;
            [
                ln_gamma(px + q) - ln_gamma(px) - lgq + q * lng + px * lx,
                digamma(px + q),
                digamma(px),
            ]
        })
        .collect();
    // Per work item: Σ w l, Σ w ln m, Σ w ln(γ + m x), Σ w / (γ + m x). Items are combined in
    // order, so the result does not depend on the thread count.
    let part = |&(gi, s, e): &(u32, usize, usize)| {
        let x = gd.groups[gi as usize][0];
        let (px, c0) = (pp * x, consts[gi as usize][0]);
        let mut acc = [0.0; 4];
        for k in s..e {
            let (w, lm) = (gd.w[k], gd.lm[k]);
            let v = g + gd.mx[k];
            let lv = v.ln();
            acc[0] += w * (c0 + (px - 1.0) * lm - (px + q) * lv);
            acc[1] += w * lm;
            acc[2] += w * lv;
            acc[3] += w / v;
        }
        acc
    };
    let parts: Vec<[f64; 4]> = if gd.len() > CHUNK {
        gd.items.par_iter().map(part).collect()
    } else {
        gd.items.iter().map(part).collect()
    };
    let mut sums = vec![[0.0; 4]; gd.groups.len()];
    let mut ll = 0.0;
    for (it, a) in gd.items.iter().zip(parts) {
        ll += a[0];
        let s = &mut sums[it.0 as usize];
        for k in 1..4 {
            s[k] += a[k];
        }
    }
    let mut gr = [0.0; 3];
    for ((&[x, lx, sw], c), s) in gd.groups.iter().zip(&consts).zip(&sums) {
        if sw == 0.0 {
            continue;
        }
        let px = pp * x;
        let [_, slm, s1, s2] = *s;
        gr[0] += x * (sw * (c[1] - c[2] + lx) + slm - s1);
        gr[1] += sw * (c[1] - pq + lng) - s1;
        gr[2] += sw * q / g - (px + q) * s2;
    }
    grad.copy_from_slice(&gr);
    ll
}

/// Per-row log-likelihood terms (unweighted).
pub fn log_likelihood_terms(params: &[f64], data: &SpendData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let c = [ln_gamma(params[1]), params[2].ln(), digamma(params[1])];
    Ok(par_map(data.x.len(), |i| {
        row(params, &c, data.x[i], data.m[i]).0
    }))
}

/// Total weighted log-likelihood.
pub fn log_likelihood(params: &[f64], data: &SpendData) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 3];
    Ok(ll_grad_impl(params, &Grouped::new(data), &mut g))
}

/// Gradient of the total log-likelihood with respect to `[p, q, gamma]`.
pub fn gradient(params: &[f64], data: &SpendData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 3];
    ll_grad_impl(params, &Grouped::new(data), &mut g);
    Ok(g.to_vec())
}

/// A cached evaluation: parameters, log-likelihood, gradient.
type Evaluation = (Vec<f64>, f64, [f64; 3]);

/// Maximum-likelihood fit on the repeat customers in `data`.
pub fn fit(data: &SpendData, opts: &FitOptions) -> Result<FitResult> {
    let n = data.n_obs();
    if !(n > 0.0) {
        return Err(CoreError::data(
            "frequency",
            "no repeat customers to fit the spend model",
            0,
        ));
    }
    let mean = data
        .m
        .iter()
        .zip(&data.weight)
        .map(|(m, w)| m * w)
        .sum::<f64>()
        / n;
    let starts = vec![
        vec![2.0, 3.0, mean],
        vec![5.0, 4.0, 0.6 * mean],
        vec![1.0, 1.5, 0.5 * mean],
        vec![10.0, 10.0, 0.9 * mean],
    ];
    let gd = Grouped::new(data);
    let cache: std::cell::RefCell<Vec<Evaluation>> = Default::default();
    optimize::fit_model(
        PARAM_NAMES,
        |p, g| {
            // Near the optimum the line search re-evaluates bit-identical points (the
            // objective's rounding noise hides the remaining decrease): answer those from a
            // small cache of recent evaluations.
            let mut c = cache.borrow_mut();
            if let Some((_, v, gc)) = c.iter().find(|e| e.0 == p) {
                g.copy_from_slice(gc);
                return *v;
            }
            let v = ll_grad_impl(p, &gd, g);
            if c.len() == 8 {
                c.remove(0);
            }
            c.push((p.to_vec(), v, [g[0], g[1], g[2]]));
            v
        },
        &starts,
        n,
        gd.len(),
        opts,
    )
}

/// Expected spend of one row: `m` is read only where `x > 0`. Branch-free, so that
/// [`spend_rows`] vectorises.
#[inline(always)]
fn spend([p, q, g]: [f64; 3], x: f64, m: f64) -> f64 {
    let m = if x > 0.0 { m } else { 0.0 };
    (g + m * x) * p / (p * x + q - 1.0)
}

/// Whether a row can be predicted: `x` finite and non-negative, and `m` too where `x > 0`.
#[inline(always)]
fn valid(x: f64, m: f64) -> bool {
    let ok = |v: f64| (0.0..f64::INFINITY).contains(&v);
    ok(x) & (ok(m) | (x <= 0.0))
}

/// [`spend`] of equal-length rows into `out`; whether any row is not [`valid`].
#[inline(always)]
fn spend_rows(params: [f64; 3], x: &[f64], m: &[f64], out: &mut [MaybeUninit<f64>]) -> bool {
    let n = out.len();
    let (x, m) = (&x[..n], &m[..n]);
    let mut invalid = false;
    for i in 0..n {
        out[i].write(spend(params, x[i], m[i]));
        invalid |= !valid(x[i], m[i]);
    }
    invalid
}

/// E[mean spend | x, m] = (γ + m x) p / (p x + q - 1); for x = 0 the population mean
/// p γ / (q - 1), whatever `m` holds there (a summary's monetary value of one-time buyers is
/// 0 or missing). Errors if `q <= 1` (the mean is undefined), if a frequency is negative or
/// not finite, or if a repeat customer's `m` is. Columns may be broadcast; full-length ones are
/// checked in the pass that computes the answer.
pub fn conditional_expected_spend(params: &[f64], x: &[f64], m: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let (p, q, g) = (params[0], params[1], params[2]);
    if q <= 1.0 {
        return Err(CoreError::argument(
            "q",
            format!("expected spend is undefined for q <= 1 (q = {q})"),
        ));
    }
    let params = [p, q, g];
    let n = super::bcast_len(&[("frequency", x.len()), ("monetary_value", m.len())])?;
    let row = |i: usize| (super::at(x, i), super::at(m, i));
    let (out, bad) = if x.len() == n && m.len() == n {
        // SAFETY: `spend_rows` writes every value of its block.
        unsafe {
            pages::par_written(
                n,
                CHUNK,
                |offset, out| {
                    let rows = offset..offset + out.len();
                    let (x, m) = (&x[rows.clone()], &m[rows]);
                    vmath::widest(
                        #[inline(always)]
                        || spend_rows(params, x, m, out),
                    )
                },
                |a: bool, b| a | b,
            )
        }
    } else {
        let out = par_map(n, |i| {
            let (x, m) = row(i);
            spend(params, x, m)
        });
        let bad = (0..n).into_par_iter().any(|i| {
            let (x, m) = row(i);
            !valid(x, m)
        });
        (out, bad)
    };
    if bad {
        // Frequencies first; with those valid, every invalid row is a repeat customer's `m`.
        super::check_nonneg("frequency", x)?;
        let rows = (0..n)
            .into_par_iter()
            .filter(|&i| {
                let (x, m) = row(i);
                !valid(x, m)
            })
            .count();
        return Err(CoreError::data(
            "monetary_value",
            "negative or non-finite values",
            rows as u64,
        ));
    }
    Ok(out)
}
