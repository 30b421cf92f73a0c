//! BG/BB (Fader, Hardie & Shang 2010), discrete time. Parameters `[alpha, beta, gamma, delta]`.
//!
//! Data: [`RfmData`] with `x` = frequency (transactions), `t_x` = recency (opportunity of the
//! last transaction, 0 if none), `t` = number of opportunities `n`, and weights.

use super::bgnbd::off_one;
use super::special::{digamma, ln_beta, ln_gamma, log_add_exp};
use super::{
    at, bcast_len, check_nonneg, check_params, chunked_sum, optimize, par_map, FitOptions,
    FitResult, RfmData,
};
use crate::core::error::{CoreError, Result};

pub const PARAM_NAMES: &[&str] = &["alpha", "beta", "gamma", "delta"];

/// `ln[B(α+x, β+m)/B(α,β) · B(γ+e, δ+k)/B(γ,δ)]` and its gradient.
#[inline]
fn term(p: &[f64], c: &[f64; 6], x: f64, m: f64, e: f64, k: f64) -> (f64, [f64; 4]) {
    let (al, be, ga, de) = (p[0], p[1], p[2], p[3]);
    let [lbab, lbgd, pa_b, pg_d, pal, pbe] = *c;
    let v = ln_beta(al + x, be + m) - lbab + ln_beta(ga + e, de + k) - lbgd;
    let p1 = digamma(al + x + be + m);
    let p2 = digamma(ga + e + de + k);
    let (pga, pde) = (digamma(ga), digamma(de));
    (
        v,
        [
            digamma(al + x) - p1 - pal + pa_b,
            digamma(be + m) - p1 - pbe + pa_b,
            digamma(ga + e) - p2 - pga + pg_d,
            digamma(de + k) - p2 - pde + pg_d,
        ],
    )
}

fn consts(p: &[f64]) -> [f64; 6] {
    [
        ln_beta(p[0], p[1]),
        ln_beta(p[2], p[3]),
        digamma(p[0] + p[1]),
        digamma(p[2] + p[3]),
        digamma(p[0]),
        digamma(p[1]),
    ]
}

/// Row log-likelihood with gradient.
fn row(p: &[f64], c: &[f64; 6], x: f64, tx: f64, n: f64) -> (f64, [f64; 4]) {
    let (mut l, mut g) = term(p, c, x, n - x, 0.0, n);
    let extra = (n - tx).max(0.0) as usize;
    for i in 0..extra {
        let i = i as f64;
        let (v, gv) = term(p, c, x, tx - x + i, 1.0, tx + i);
        let nl = log_add_exp(l, v);
        let (wa, wb) = ((l - nl).exp(), (v - nl).exp());
        for k in 0..4 {
            g[k] = wa * g[k] + wb * gv[k];
        }
        l = nl;
    }
    (l, g)
}

fn validate(d: &RfmData) -> Result<()> {
    let bad = (0..d.len())
        .filter(|&i| {
            let (x, tx, n) = (d.x[i], d.t_x[i], d.t[i]);
            x.fract() != 0.0
                || tx.fract() != 0.0
                || n.fract() != 0.0
                || x > tx
                || tx > n
                || (x > 0.0 && tx < 1.0)
        })
        .count();
    if bad > 0 {
        return Err(CoreError::data("frequency/recency/periods", "BG/BB needs integers with frequency <= recency <= periods (recency >= 1 when frequency > 0)", bad as u64));
    }
    Ok(())
}

fn ll_grad_impl(p: &[f64], d: &RfmData, grad: &mut [f64]) -> f64 {
    if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return f64::NAN;
    }
    let c = consts(p);
    let (s, g) = chunked_sum::<4, _>(d.len(), |i, g| {
        let w = d.weight[i];
        if w == 0.0 {
            return 0.0;
        }
        let (l, gr) = row(p, &c, d.x[i], d.t_x[i], d.t[i]);
        for k in 0..4 {
            g[k] += w * gr[k];
        }
        w * l
    });
    grad.copy_from_slice(&g);
    s
}

/// Per-row log-likelihood terms (unweighted).
pub fn log_likelihood_terms(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    validate(data)?;
    let c = consts(params);
    Ok(par_map(data.len(), |i| {
        row(params, &c, data.x[i], data.t_x[i], data.t[i]).0
    }))
}

/// Total weighted log-likelihood.
pub fn log_likelihood(params: &[f64], data: &RfmData) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    validate(data)?;
    let mut g = [0.0; 4];
    Ok(ll_grad_impl(params, data, &mut g))
}

/// Gradient of the total weighted log-likelihood.
pub fn gradient(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    validate(data)?;
    let mut g = [0.0; 4];
    ll_grad_impl(params, data, &mut g);
    Ok(g.to_vec())
}

/// Maximum-likelihood fit.
pub fn fit(data: &RfmData, opts: &FitOptions) -> Result<FitResult> {
    validate(data)?;
    let sx: f64 = data.x.iter().zip(&data.weight).map(|(x, w)| x * w).sum();
    if sx <= 0.0 && data.n_obs() > 0.0 {
        return Err(CoreError::Convergence(
            "nobody made a transaction after the first: the transaction probability cannot be estimated".into(),
        ));
    }
    let starts = vec![
        vec![1.0, 1.0, 1.0, 1.0],
        vec![0.5, 0.5, 0.5, 2.0],
        vec![2.0, 1.0, 1.0, 4.0],
        vec![0.2, 0.2, 0.2, 0.2],
    ];
    optimize::fit_model(
        PARAM_NAMES,
        |p, g| ll_grad_impl(p, data, g),
        &starts,
        data.n_obs(),
        data.len(),
        opts,
    )
}

/// Expected transactions in the first `n` opportunities of a new customer.
pub fn expected_purchases(params: &[f64], n: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("n", n)?;
    let (al, be, ga, de) = (params[0], params[1], off_one(params[2]), params[3]);
    Ok(par_map(n.len(), |i| {
        let n = n[i];
        let l =
            ln_gamma(ga + de) - ln_gamma(1.0 + de) + ln_gamma(1.0 + de + n) - ln_gamma(ga + de + n);
        al / (al + be) * de / (ga - 1.0) * (-l.exp_m1())
    }))
}

fn hist(x: &[f64], t_x: &[f64], n: &[f64]) -> Result<usize> {
    let len = bcast_len(&[
        ("frequency", x.len()),
        ("recency", t_x.len()),
        ("periods", n.len()),
    ])?;
    for (nm, v) in [("frequency", x), ("recency", t_x), ("periods", n)] {
        check_nonneg(nm, v)?;
    }
    Ok(len)
}

/// Expected transactions in the next `m` opportunities given `(x, t_x, n)` (FHS 2010 eq. 13).
pub fn conditional_expected_purchases(
    params: &[f64],
    m: f64,
    x: &[f64],
    t_x: &[f64],
    n: &[f64],
) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("m", &[m])?;
    let len = hist(x, t_x, n)?;
    let (al, be, ga, de) = (params[0], params[1], off_one(params[2]), params[3]);
    let p = [al, be, ga, de];
    let c = consts(&p);
    Ok(par_map(len, |i| {
        let (x, tx, n) = (at(x, i), at(t_x, i), at(n, i));
        let l = row(&p, &c, x, tx.min(n), n).0;
        let p2 = ln_beta(al + x + 1.0, be + n - x) - c[0];
        let l3 = (de / (ga - 1.0)).abs().ln() + ln_gamma(ga + de) - ln_gamma(1.0 + de);
        let l4 = ln_gamma(1.0 + de + n) - ln_gamma(ga + de + n);
        let l5 = ln_gamma(1.0 + de + n + m) - ln_gamma(ga + de + n + m);
        // p4 - p5 has the sign of (ga - 1) times -1 ... use |.| with the sign folded in.
        let diff = (l4.exp() - l5.exp()) * (ga - 1.0).signum();
        (p2 + l3 - l).exp() * diff
    }))
}

/// P(alive at opportunity n+1 | x, t_x, n).
pub fn p_alive(params: &[f64], x: &[f64], t_x: &[f64], n: &[f64]) -> Result<Vec<f64>> {
    p_alive_at(params, x, t_x, n, 0.0)
}

/// P(alive `m` opportunities later | x, t_x, n).
pub fn p_alive_at(params: &[f64], x: &[f64], t_x: &[f64], n: &[f64], m: f64) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("m", &[m])?;
    let len = hist(x, t_x, n)?;
    let (al, be, ga, de) = (params[0], params[1], params[2], params[3]);
    let c = consts(params);
    Ok(par_map(len, |i| {
        let (x, tx, n) = (at(x, i), at(t_x, i), at(n, i));
        let l = row(params, &c, x, tx.min(n), n).0;
        let p1 = ln_beta(al + x, be + n - x) - c[0];
        let p2 = ln_beta(ga, de + n + m) - c[1];
        (p1 + p2 - l).exp().clamp(0.0, 1.0)
    }))
}
