//! MBG/NBD (Batislam, Denizel & Filiztekin 2007), lifetimes' `ModifiedBetaGeoFitter` formulas.
//! Parameters `[r, alpha, a, b]`.

use super::bgnbd::{
    fit_impl, ll_grad_impl, ln_survival, nbd_log_pmf, nbd_tail, off_one, one_minus, terms_impl,
    Alive,
};
use super::special::ln_beta;
use super::{
    at, bcast_len, check_nonneg, check_params, par_map, Factored, FitOptions, FitResult, RfmData,
};
use crate::core::error::Result;
use rayon::prelude::*;

pub const PARAM_NAMES: &[&str] = &["r", "alpha", "a", "b"];

/// Per-row log-likelihood terms (unweighted).
pub fn log_likelihood_terms(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    Ok(terms_impl(params, data, true))
}

/// Total weighted log-likelihood.
pub fn log_likelihood(params: &[f64], data: &RfmData) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 4];
    Ok(ll_grad_impl(
        params,
        data,
        &Factored::new(data),
        &mut g,
        true,
    ))
}

/// Gradient of the total weighted log-likelihood with respect to `[r, alpha, a, b]`.
pub fn gradient(params: &[f64], data: &RfmData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 4];
    ll_grad_impl(params, data, &Factored::new(data), &mut g, true);
    Ok(g.to_vec())
}

/// Maximum-likelihood fit.
pub fn fit(data: &RfmData, opts: &FitOptions) -> Result<FitResult> {
    fit_impl(data, opts, true)
}

/// Expected purchases in `(0, t]` for a new customer:
/// `b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))]`.
///
/// This is `Σ_n n P(X(t)=n)` of the MBG/NBD pmf (dropout possible at time 0 and after each
/// repeat purchase). lifetimes' `ModifiedBetaGeoFitter` uses `(b+1)/(a-1)` as the prefactor,
/// which disagrees with its own `probability_of_n_purchases_up_to_time`; we follow the model.
pub fn expected_purchases(params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", t)?;
    let (r, alpha, a, b) = (params[0], params[1], off_one(params[2]), params[3]);
    Ok(t.par_iter()
        .map(|&t| {
            if t == 0.0 {
                return 0.0;
            }
            let z = t / (alpha + t);
            b / (a - 1.0) * one_minus(r, r, b + 1.0, a + b, z)
        })
        .collect())
}

/// Expected purchases in the next `t` periods given `(x, t_x, T)` (columns may be broadcast).
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
/// with [`super::clv::horizon_weights`]). `E[X(t)] = A(x, T, t) × P(alive | x, t_x, T)`: the
/// weighted sum of the `2F1` factors `A` is computed once per distinct `(x, T)` pair (a few
/// tens of thousands with daily data), P(alive) once per row. Columns may be broadcast.
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
    let (r, alpha, a, b) = (params[0], params[1], off_one(params[2]), params[3]);
    // The 2F1 factor depends on (x, T) only, P(alive) on the whole history.
    let factor = |x: f64, big_t: f64, t: f64| {
        let z = t / (alpha + big_t + t);
        (a + b + x) / (a - 1.0) * one_minus(r + x, r + x, b + x + 1.0, a + b + x, z)
    };
    let alive = Alive::new(params, true).rows((x, t_x, tt))?;
    Ok(super::discounted_by_pairs(&steps, (x, tt), alive, factor))
}

/// P(alive at T | x, t_x, T).
pub fn p_alive(params: &[f64], x: &[f64], t_x: &[f64], tt: &[f64]) -> Result<Vec<f64>> {
    p_alive_at(params, x, t_x, tt, 0.0)
}

/// P(alive at T + t | x, t_x, T), not conditioning on purchases in (T, T + t]:
/// P(alive at T | x, t_x, T) × the chance of no dropout in (T, T + t] (see
/// [`super::bgnbd::ln_survival`]; here p ~ Beta(a, b+x+1) given alive at T).
pub fn p_alive_at(params: &[f64], x: &[f64], t_x: &[f64], tt: &[f64], t: f64) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", &[t])?;
    let now = Alive::new(params, true).rows((x, t_x, tt))?;
    Ok(super::alive_later(now, (x, tt), t, |x, big_t| {
        ln_survival(params, x, big_t, t, 1.0)
    }))
}

/// P(X(t) = n) for a new customer. `n` and `t` may be broadcast.
pub fn probability_of_purchases(params: &[f64], n: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let len = bcast_len(&[("n", n.len()), ("t", t.len())])?;
    check_nonneg("n", n)?;
    check_nonneg("t", t)?;
    let (r, alpha, a, b) = (params[0], params[1], params[2], params[3]);
    let lbab = ln_beta(a, b);
    Ok(par_map(len, |i| {
        let (n, t) = (at(n, i).floor(), at(t, i));
        let p = alpha / (alpha + t);
        let q = t / (alpha + t);
        let first = (ln_beta(a, b + n + 1.0) - lbab + nbd_log_pmf(r, n, p, q)).exp();
        let tail = if n == 0.0 { 1.0 } else { nbd_tail(r, n, q) };
        (first + (ln_beta(a + 1.0, b + n) - lbab).exp() * tail).clamp(0.0, 1.0)
    }))
}
