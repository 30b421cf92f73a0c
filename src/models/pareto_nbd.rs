//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood via the log-space Gauss
//! hypergeometric function (Fader & Hardie's 2F1 form). Parameters `[r, alpha, s, beta]`.

use super::bgnbd::nbd_log_pmf;
use super::special::{
    digamma, gauss_legendre, ln_gamma, ln_hyp2f1_ap1, log1m_exp, log_add_exp, sigmoid,
};
use super::{
    at, bcast_len, check_nonneg, check_params, chunked_sum, optimize, par_map, table, Distinct,
    Factored, FitOptions, FitResult, Pairs, RfmData,
};
use crate::core::error::{CoreError, Result};
use rayon::prelude::*;

pub const PARAM_NAMES: &[&str] = &["r", "alpha", "s", "beta"];

/// `ln F(t)` and its gradient `[d/dr, d/dα, d/ds, d/dβ]`, where
/// `F(t) = ∫_t^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ = (γ+t)^-a 2F1(a, b; a+1; z) / a`, `a = r+s+x`.
#[inline]
fn ln_tail(r: f64, alpha: f64, s: f64, beta: f64, x: f64, t: f64) -> [f64; 5] {
    let a = r + s + x;
    let ia = 1.0 / a;
    if alpha >= beta {
        let at_ = alpha + t;
        let z = (alpha - beta) / at_;
        let [lg, ga, gb, gz] = ln_hyp2f1_ap1(a, s + 1.0, z);
        let lat = at_.ln();
        [
            -a * lat - a.ln() + lg,
            -lat - ia + ga,
            -a / at_ + gz * (beta + t) / (at_ * at_),
            -lat - ia + ga + gb,
            -gz / at_,
        ]
    } else {
        let bt = beta + t;
        let z = (beta - alpha) / bt;
        let [lg, ga, gb, gz] = ln_hyp2f1_ap1(a, r + x, z);
        let lbt = bt.ln();
        [
            -a * lbt - a.ln() + lg,
            -lbt - ia + ga + gb,
            -gz / bt,
            -lbt - ia + ga,
            -a / bt + gz * (alpha + t) / (bt * bt),
        ]
    }
}

/// Row → distinct-value indices, plus the distinct `(x, T)` and `(x, t_x)` pairs: the
/// expensive `ln_tail` terms depend on one of these pairs only, and there are far fewer pairs
/// than rows (tens of thousands against hundreds of thousands with daily data).
pub(crate) struct PFactored {
    f: Factored,
    /// distinct (x, T) pairs as (x value, T value), and each row's pair
    xt: Vec<(f64, f64)>,
    xt_index: Vec<u32>,
    /// distinct (x, t_x) pairs, and each row's pair
    xtx: Vec<(f64, f64)>,
    xtx_index: Vec<u32>,
}

/// Distinct pairs `(a.values[ia[i]], b.values[ib[i]])` and each row's index into them.
fn pairs(a: &Distinct, b: &Distinct) -> (Vec<(f64, f64)>, Vec<u32>) {
    let nb = b.values.len() as u64;
    let keys: Vec<u64> = a
        .index
        .par_iter()
        .zip(b.index.par_iter())
        .map(|(&i, &j)| i as u64 * nb + j as u64)
        .collect();
    let mut uniq = keys.clone();
    uniq.par_sort_unstable();
    uniq.dedup();
    let index = keys
        .par_iter()
        .map(|k| uniq.partition_point(|u| u < k) as u32)
        .collect();
    let vals = uniq
        .iter()
        .map(|k| (a.values[(k / nb) as usize], b.values[(k % nb) as usize]))
        .collect();
    (vals, index)
}

impl PFactored {
    pub(crate) fn new(d: &RfmData) -> Self {
        let f = Factored::new(d);
        let (xt, xt_index) = pairs(&f.x, &f.t);
        let (xtx, xtx_index) = pairs(&f.x, &f.tx);
        PFactored {
            f,
            xt,
            xt_index,
            xtx,
            xtx_index,
        }
    }
}

struct Tables {
    /// per x: [lnΓ(r+x) - lnΓ(r), ψ(r+x)]
    xs: Vec<[f64; 2]>,
    /// per T: [ln(α+T), ln(β+T), 1/(α+T), 1/(β+T)]
    ts: Vec<[f64; 4]>,
    /// ln_tail per (x, T) pair and per (x, t_x) pair
    ft: Vec<[f64; 5]>,
    fx: Vec<[f64; 5]>,
}

fn pair_table(p: &[f64], pairs: &[(f64, f64)]) -> Vec<[f64; 5]> {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    if pairs.len() > 1024 {
        pairs
            .par_iter()
            .with_min_len(256)
            .map(|&(x, t)| ln_tail(r, alpha, s, beta, x, t))
            .collect()
    } else {
        pairs
            .iter()
            .map(|&(x, t)| ln_tail(r, alpha, s, beta, x, t))
            .collect()
    }
}

fn tables(p: &[f64], pf: &PFactored) -> Tables {
    let (r, alpha, beta) = (p[0], p[1], p[3]);
    let lgr = ln_gamma(r);
    let xs = table(&pf.f.x.values, |x| [ln_gamma(r + x) - lgr, digamma(r + x)]);
    let ts = table(&pf.f.t.values, |t| {
        [
            (alpha + t).ln(),
            (beta + t).ln(),
            1.0 / (alpha + t),
            1.0 / (beta + t),
        ]
    });
    Tables {
        xs,
        ts,
        ft: pair_table(p, &pf.xt),
        fx: pair_table(p, &pf.xtx),
    }
}

/// Row log-likelihood; adds `w * gradient` to `g`; returns `(ll, P(alive))`.
#[inline]
#[allow(clippy::too_many_arguments)]
fn row(
    p: &[f64],
    consts: &[f64; 4],
    d: &RfmData,
    pf: &PFactored,
    tb: &Tables,
    i: usize,
    g: Option<(&mut [f64; 4], f64)>,
) -> (f64, f64) {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let [lalpha, lbeta, pr, ls] = *consts;
    let x = d.x[i];
    let xt = &tb.xs[pf.f.x.index[i] as usize];
    let [lat, lbt, iat, ibt] = tb.ts[pf.f.t.index[i] as usize];
    let rx = r + x;
    let lnc = xt[0] + r * lalpha + s * lbeta;
    let l1 = -rx * lat - s * lbt;
    let ft = &tb.ft[pf.xt_index[i] as usize];
    let fx = &tb.fx[pf.xtx_index[i] as usize];
    let (dd, w1, wi, wx, wt) = if ft[0] < fx[0] {
        let lni = fx[0] + log1m_exp(ft[0] - fx[0]);
        let dd = log_add_exp(l1, ls + lni);
        (
            dd,
            (l1 - dd).exp(),
            (ls + lni - dd).exp(),
            (ls + fx[0] - dd).exp(),
            (ls + ft[0] - dd).exp(),
        )
    } else {
        (l1, 1.0, 0.0, 0.0, 0.0)
    };
    if let Some((g, w)) = g {
        let dl1 = [-lat, -rx * iat, -lbt, -s * ibt];
        let dlc = [xt[1] - pr + lalpha, r / alpha, lbeta, s / beta];
        for k in 0..4 {
            let mut v = dlc[k] + w1 * dl1[k];
            if wx != 0.0 {
                v += wx * fx[k + 1] - wt * ft[k + 1];
            }
            g[k] += w * v;
        }
        g[2] += w * wi / s;
    }
    (lnc + dd, w1)
}

fn ll_grad_impl(p: &[f64], d: &RfmData, f: &PFactored, grad: &mut [f64]) -> f64 {
    if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return f64::NAN;
    }
    let tb = tables(p, f);
    let consts = [p[1].ln(), p[3].ln(), digamma(p[0]), p[2].ln()];
    let (s, g) = chunked_sum::<4, _>(d.len(), |i, g| {
        let w = d.weight[i];
        if w == 0.0 {
            return 0.0;
        }
        w * row(p, &consts, d, f, &tb, i, Some((g, w))).0
    });
    grad.copy_from_slice(&g);
    s
}

/// Per-row log-likelihood terms (unweighted).
pub fn log_likelihood_terms(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let f = PFactored::new(data);
    let tb = tables(params, &f);
    let consts = [
        params[1].ln(),
        params[3].ln(),
        digamma(params[0]),
        params[2].ln(),
    ];
    Ok(par_map(data.len(), |i| {
        row(params, &consts, data, &f, &tb, i, None).0
    }))
}

/// Total weighted log-likelihood.
pub fn log_likelihood(params: &[f64], data: &RfmData) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 4];
    Ok(ll_grad_impl(params, data, &PFactored::new(data), &mut g))
}

/// Gradient of the total weighted log-likelihood with respect to `[r, alpha, s, beta]`.
pub fn gradient(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 4];
    ll_grad_impl(params, data, &PFactored::new(data), &mut g);
    Ok(g.to_vec())
}

/// Maximum-likelihood fit.
pub fn fit(data: &RfmData, opts: &FitOptions) -> Result<FitResult> {
    let n = data.n_obs();
    let sx: f64 = data.x.iter().zip(&data.weight).map(|(x, w)| x * w).sum();
    let st: f64 = data.t.iter().zip(&data.weight).map(|(t, w)| t * w).sum();
    if sx <= 0.0 && n > 0.0 {
        return Err(CoreError::Convergence(
            "nobody made a repeat purchase (all frequencies are 0): the purchase rate cannot be estimated".into(),
        ));
    }
    if st <= 0.0 && n > 0.0 {
        return Err(CoreError::Convergence(
            "every customer has T = 0: there is no observation time to fit".into(),
        ));
    }
    let rate = if st > 0.0 { sx / st } else { 1.0 };
    let mean_t = if n > 0.0 { (st / n).max(1e-3) } else { 1.0 };
    let starts = vec![
        vec![1.0, 1.0 / rate, 1.0, mean_t],
        vec![0.5, 0.5 / rate, 0.5, 0.3 * mean_t],
        vec![2.0, 2.0 / rate, 2.0, 3.0 * mean_t],
        vec![0.2, 0.2 / rate, 0.2, 0.1 * mean_t],
    ];
    let f = PFactored::new(data);
    optimize::fit_model(
        PARAM_NAMES,
        |p, g| ll_grad_impl(p, data, &f, g),
        &starts,
        n,
        data.len(),
        opts,
    )
}

/// `(1 - (1+t/β)^-(s-1)) / (s-1)` given `u = ln(β/(β+t))`, continuous at `s = 1`.
#[inline]
fn pow_ratio(u: f64, s1: f64) -> f64 {
    if s1.abs() < 1e-12 {
        -u
    } else {
        -(s1 * u).exp_m1() / s1
    }
}

pub use super::pareto_curve::expected_purchases;

/// `ln s + (r+x) ln(α+T) + s ln(β+T)`: with the `ln_tail` values at `T` (`ft`) and at `t_x`
/// (`fx`), P(alive at T) = `1 / (1 + s (α+T)^(r+x) (β+T)^s (F(t_x) − F(T)))` (Fader & Hardie
/// 2005, eq. 18 rearranged) is the logistic function of `−(c + fx + ln(1 − e^(ft − fx)))`.
#[inline]
fn ln_scale(p: &[f64], x: f64, big_t: f64) -> f64 {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    s.ln() + (r + x) * (alpha + big_t).ln() + s * (beta + big_t).ln()
}

/// P(alive at T) from [`ln_scale`] `c` and the `ln_tail` values `ft`, `fx`.
#[inline]
fn alive_from(c: f64, ft: f64, fx: f64) -> f64 {
    if !(ft < fx) {
        return 1.0;
    }
    sigmoid(-(c + fx + log1m_exp(ft - fx)))
}

fn p_alive_one(p: &[f64], x: f64, tx: f64, big_t: f64) -> f64 {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let ft = ln_tail(r, alpha, s, beta, x, big_t)[0];
    let fx = ln_tail(r, alpha, s, beta, x, tx)[0];
    alive_from(ln_scale(p, x, big_t), ft, fx)
}

/// P(alive at T | x, t_x, T).
pub fn p_alive(params: &[f64], x: &[f64], t_x: &[f64], tt: &[f64]) -> Result<Vec<f64>> {
    p_alive_at(params, x, t_x, tt, 0.0)
}

/// P(alive at T + t | x, t_x, T), not conditioning on purchases in (T, T + t]: alive at T,
/// the death rate's posterior is μ ~ Gamma(s, β+T), so the lifetime goes past T + t with
/// chance `E[e^(−μt)] = ((β+T)/(β+T+t))^s`, times P(alive at T | x, t_x, T).
pub fn p_alive_at(params: &[f64], x: &[f64], t_x: &[f64], tt: &[f64], t: f64) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", &[t])?;
    let n = super::check_history(x, t_x, tt)?;
    let alive = PairTails::new(params, x, t_x, tt, n).p_alive(params, x, t_x, tt);
    if t == 0.0 {
        return Ok(alive);
    }
    let (s, beta) = (params[2], params[3]);
    Ok(alive
        .into_par_iter()
        .enumerate()
        .map(|(i, pa)| {
            let bt = beta + at(tt, i);
            pa * (s * (bt / (bt + t)).ln()).exp()
        })
        .collect())
}

/// The terms of P(alive) per distinct `(x, T)` pair (`ln_tail` and [`ln_scale`]) and per
/// distinct `(x, t_x)` pair (`ln_tail`): the `2F1` evaluations dominate the cost, and with
/// daily data there are tens of thousands of pairs against hundreds of thousands of rows. A
/// row then costs one logarithm and two exponentials.
struct PairTails {
    xt: Pairs,
    /// per (x, T) pair: [ln_tail(x, T), ln_scale(x, T)]
    ft: Vec<[f64; 2]>,
    xtx: Pairs,
    /// per (x, t_x) pair: ln_tail(x, t_x)
    fx: Vec<f64>,
}

impl PairTails {
    fn new(p: &[f64], x: &[f64], t_x: &[f64], tt: &[f64], n: usize) -> Self {
        let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
        let xt = Pairs::new(x, tt, n);
        let ft = xt
            .values
            .par_iter()
            .with_min_len(64)
            .map(|&(x, big_t)| {
                [
                    ln_tail(r, alpha, s, beta, x, big_t)[0],
                    ln_scale(p, x, big_t),
                ]
            })
            .collect();
        let xtx = Pairs::new(x, t_x, n);
        let fx = xtx.map(|x, tx| ln_tail(r, alpha, s, beta, x, tx)[0]);
        PairTails { xt, ft, xtx, fx }
    }

    /// P(alive at T) per row (as `p_alive_one`).
    fn p_alive(&self, p: &[f64], x: &[f64], t_x: &[f64], tt: &[f64]) -> Vec<f64> {
        par_map(self.xt.index.len(), |i| {
            let (x, tx, big_t) = (at(x, i), at(t_x, i), at(tt, i));
            if tx > big_t {
                // Recency above T (not validated here): as p_alive_one, with t_x clipped to T.
                return p_alive_one(p, x, big_t, big_t);
            }
            let [ft, c] = self.ft[self.xt.index[i] as usize];
            alive_from(c, ft, self.fx[self.xtx.index[i] as usize])
        })
    }
}

/// Expected purchases in the next `t` periods given `(x, t_x, T)`:
/// `(r+x)(β+T)/((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)] P(alive)`.
pub fn conditional_expected_purchases(
    params: &[f64],
    t: f64,
    x: &[f64],
    t_x: &[f64],
    tt: &[f64],
) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", &[t])?;
    discounted_expected_purchases(params, &[t], &[1.0], x, t_x, tt)
}

/// `Σ_k weights[k] × E[X(times[k]) | x, t_x, T]` per row: several horizons in one pass (CLV
/// with [`super::clv::horizon_weights`]). The horizon-dependent factor depends on `(x, T)`
/// only and P(alive) does not depend on the horizon: both are computed once per distinct pair
/// (P(alive)'s `2F1` terms) and combined per row.
pub fn discounted_expected_purchases(
    params: &[f64],
    times: &[f64],
    weights: &[f64],
    x: &[f64],
    t_x: &[f64],
    tt: &[f64],
) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let steps = super::clv::horizon_steps(times, weights)?;
    let n = super::check_history(x, t_x, tt)?;
    let (r, alpha, s, beta) = (params[0], params[1], params[2], params[3]);
    if steps.is_empty() {
        return Ok(vec![0.0; n]);
    }
    let tails = PairTails::new(params, x, t_x, tt, n);
    let num = tails.xt.map(|x, big_t| {
        let bt = beta + big_t;
        let sum: f64 = steps
            .iter()
            .map(|&(t, w)| w * pow_ratio((bt / (bt + t)).ln(), s - 1.0))
            .sum();
        (r + x) * bt / (alpha + big_t) * sum
    });
    let alive = tails.p_alive(params, x, t_x, tt);
    Ok(alive
        .into_par_iter()
        .enumerate()
        .map(|(i, pa)| num[tails.xt.index[i] as usize] * pa)
        .collect())
}

/// P(X(t) = n) for a new customer: alive through `t` times the NBD probability, plus the
/// integral over the death time (Gauss-Legendre in `ln(β+τ)`, 8 × 20 nodes).
pub fn probability_of_purchases(params: &[f64], n: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let len = bcast_len(&[("n", n.len()), ("t", t.len())])?;
    check_nonneg("n", n)?;
    check_nonneg("t", t)?;
    let (r, alpha, s, beta) = (params[0], params[1], params[2], params[3]);
    let (gx, gw) = gauss_legendre(20);
    Ok(par_map(len, |i| {
        let (n, t) = (at(n, i).floor(), at(t, i));
        let nb = |tau: f64| nbd_log_pmf(r, n, alpha / (alpha + tau), tau / (alpha + tau)).exp();
        if t == 0.0 {
            return if n == 0.0 { 1.0 } else { 0.0 };
        }
        let alive = (s * (beta / (beta + t)).ln()).exp() * nb(t);
        // ∫_0^t s β^s (β+τ)^-(s+1) NB(n|τ) dτ with u = ln(β+τ): ∫ s e^{s(ln β - u)} NB du.
        let (u0, u1) = (beta.ln(), (beta + t).ln());
        let panels = 8;
        let h = (u1 - u0) / panels as f64;
        let mut acc = 0.0;
        for k in 0..panels {
            let (lo, hi) = (u0 + k as f64 * h, u0 + (k + 1) as f64 * h);
            for (xi, wi) in gx.iter().zip(&gw) {
                let u = 0.5 * (lo + hi) + 0.5 * (hi - lo) * xi;
                let tau = (u.exp() - beta).max(0.0);
                acc += 0.5 * (hi - lo) * wi * s * (s * (u0 - u)).exp() * nb(tau);
            }
        }
        (alive + acc).clamp(0.0, 1.0)
    }))
}
