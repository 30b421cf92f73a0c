//! Shifted-beta-geometric contractual model (Fader & Hardie 2007). Parameters `[alpha, beta]`.
//!
//! `recency` = periods paid for (the acquisition period counts as 1), `T` = periods observed.
//! `recency < T` (churned after paying `recency` periods) contributes
//! `B(α+1, β+recency-1)/B(α, β)`; `recency = T` (still active) contributes `B(α, β+T-1)/B(α, β)`.

use super::special::{digamma, ln_beta};
use super::{check_len, check_nonneg, check_params, chunked_sum, optimize, FitOptions, FitResult};
use crate::core::error::{CoreError, Result};
use std::collections::BTreeMap;

pub const PARAM_NAMES: &[&str] = &["alpha", "beta"];

/// Unique `(recency, T)` rows with weights.
#[derive(Debug, Clone, Default)]
pub struct SbgData {
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub weight: Vec<f64>,
}

impl SbgData {
    /// Validates (integers, `1 <= recency <= T`, weights >= 0) and compresses to unique rows.
    pub fn new(recency: &[f64], t: &[f64], weights: Option<&[f64]>) -> Result<Self> {
        check_len("T", t.len(), recency.len())?;
        if let Some(w) = weights {
            check_len("weights", w.len(), recency.len())?;
        }
        let bad = recency
            .iter()
            .zip(t)
            .filter(|(r, t)| {
                !(r.is_finite()
                    && t.is_finite()
                    && r.fract() == 0.0
                    && t.fract() == 0.0
                    && **r >= 1.0
                    && *r <= *t)
            })
            .count();
        if bad > 0 {
            return Err(CoreError::data(
                "recency",
                "sBG needs integers with 1 <= recency <= T",
                bad as u64,
            ));
        }
        let mut map: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        for i in 0..recency.len() {
            let w = weights.map_or(1.0, |w| w[i]);
            if !(w.is_finite() && w >= 0.0) {
                return Err(CoreError::data(
                    "weights",
                    "negative or non-finite weights",
                    1,
                ));
            }
            *map.entry((recency[i] as u64, t[i] as u64)).or_insert(0.0) += w;
        }
        let mut d = SbgData::default();
        for ((r, t), w) in map {
            d.recency.push(r as f64);
            d.t.push(t as f64);
            d.weight.push(w);
        }
        Ok(d)
    }

    pub fn n_obs(&self) -> f64 {
        self.weight.iter().sum()
    }
}

fn row(p: &[f64], c: &[f64; 3], r: f64, t: f64) -> (f64, [f64; 2]) {
    let (al, be) = (p[0], p[1]);
    let [lb, pab, pa] = *c;
    let pb = digamma(be);
    if r < t {
        let (u, v) = (al + 1.0, be + r - 1.0);
        let puv = digamma(u + v);
        (
            ln_beta(u, v) - lb,
            [digamma(u) - puv - pa + pab, digamma(v) - puv - pb + pab],
        )
    } else {
        let v = be + t - 1.0;
        let puv = digamma(al + v);
        (
            ln_beta(al, v) - lb,
            [-puv + pab, digamma(v) - puv - pb + pab],
        )
    }
}

fn ll_grad_impl(p: &[f64], d: &SbgData, grad: &mut [f64]) -> f64 {
    if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return f64::NAN;
    }
    let c = [ln_beta(p[0], p[1]), digamma(p[0] + p[1]), digamma(p[0])];
    let (s, g) = chunked_sum::<2, _>(d.recency.len(), |i, g| {
        let (l, gr) = row(p, &c, d.recency[i], d.t[i]);
        let w = d.weight[i];
        g[0] += w * gr[0];
        g[1] += w * gr[1];
        w * l
    });
    grad.copy_from_slice(&g);
    s
}

/// Total weighted log-likelihood.
pub fn log_likelihood(params: &[f64], data: &SbgData) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 2];
    Ok(ll_grad_impl(params, data, &mut g))
}

/// Gradient of the total log-likelihood with respect to `[alpha, beta]`.
pub fn gradient(params: &[f64], data: &SbgData) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    let mut g = [0.0; 2];
    ll_grad_impl(params, data, &mut g);
    Ok(g.to_vec())
}

/// Maximum-likelihood fit.
pub fn fit(data: &SbgData, opts: &FitOptions) -> Result<FitResult> {
    let churned: f64 = data
        .recency
        .iter()
        .zip(&data.t)
        .zip(&data.weight)
        .filter(|((r, t), _)| r < t)
        .map(|(_, w)| w)
        .sum();
    if churned <= 0.0 && data.n_obs() > 0.0 {
        return Err(CoreError::Convergence(
            "nobody churned: the churn distribution cannot be estimated".into(),
        ));
    }
    let starts = vec![
        vec![1.0, 1.0],
        vec![0.5, 2.0],
        vec![2.0, 5.0],
        vec![0.2, 0.2],
    ];
    optimize::fit_model(
        PARAM_NAMES,
        |p, g| ll_grad_impl(p, data, g),
        &starts,
        data.n_obs(),
        data.recency.len(),
        opts,
    )
}

/// The sBG curves over periods `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    Survival,
    RetentionRate,
    ChurnProbability,
}

impl Curve {
    pub fn parse(name: &str) -> Result<Curve> {
        match name {
            "survival" => Ok(Curve::Survival),
            "retention_rate" => Ok(Curve::RetentionRate),
            "churn_probability" => Ok(Curve::ChurnProbability),
            other => Err(CoreError::argument(
                "kind",
                format!(
                    "unknown sBG curve '{other}'; expected 'survival', 'retention_rate' or \
                     'churn_probability'"
                ),
            )),
        }
    }

    /// The curve at each period of `t`.
    pub fn at(self, params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
        match self {
            Curve::Survival => survival(params, t),
            Curve::RetentionRate => retention_rate(params, t),
            Curve::ChurnProbability => churn_probability(params, t),
        }
    }
}

/// Survival S(t) = P(still a customer after t renewals) = B(α, β+t)/B(α, β).
pub fn survival(params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", t)?;
    let lb = ln_beta(params[0], params[1]);
    Ok(t.iter()
        .map(|&t| (ln_beta(params[0], params[1] + t) - lb).exp())
        .collect())
}

/// Retention rate in period t (t >= 1): S(t)/S(t-1) = (β+t-1)/(α+β+t-1).
pub fn retention_rate(params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", t)?;
    let (al, be) = (params[0], params[1]);
    Ok(t.iter()
        .map(|&t| ((be + t - 1.0) / (al + be + t - 1.0)).clamp(0.0, 1.0))
        .collect())
}

/// P(churn in period t) = B(α+1, β+t-1)/B(α, β), t >= 1.
pub fn churn_probability(params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
    check_params(params, PARAM_NAMES)?;
    check_nonneg("t", t)?;
    let lb = ln_beta(params[0], params[1]);
    Ok(t.iter()
        .map(|&t| {
            if t < 1.0 {
                0.0
            } else {
                (ln_beta(params[0] + 1.0, params[1] + t - 1.0) - lb).exp()
            }
        })
        .collect())
}

/// Expected lifetime in periods, E[1/θ] = (α+β-1)/(α-1) for α > 1, infinite otherwise.
pub fn expected_lifetime(params: &[f64]) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    let (al, be) = (params[0], params[1]);
    Ok(if al > 1.0 {
        (al + be - 1.0) / (al - 1.0)
    } else {
        f64::INFINITY
    })
}

/// Discounted expected lifetime Σ_{t>=0} S(t) / (1+d)^t (payments at period starts), d > 0.
pub fn discounted_expected_lifetime(params: &[f64], discount: f64) -> Result<f64> {
    check_params(params, PARAM_NAMES)?;
    if !(discount > 0.0 && discount.is_finite()) {
        return Err(CoreError::argument("discount", "must be > 0"));
    }
    let (al, be) = (params[0], params[1]);
    let (mut s, mut total, mut t) = (1.0f64, 0.0f64, 0.0f64);
    let v = 1.0 / (1.0 + discount);
    let mut disc = 1.0;
    for _ in 0..10_000_000 {
        total += s * disc;
        t += 1.0;
        s *= (be + t - 1.0) / (al + be + t - 1.0);
        disc *= v;
        if s * disc <= 1e-16 * total {
            break;
        }
    }
    Ok(total)
}
