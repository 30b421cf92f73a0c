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

/// `ln Σ e^v` over a row's terms `(v, ∂v)`, with its gradient (each term's weighted by its
/// share of the sum), accumulated as a running log-sum-exp.
fn log_sum(first: (f64, [f64; 4]), rest: impl Iterator<Item = (f64, [f64; 4])>) -> (f64, [f64; 4]) {
    let (mut l, mut g) = first;
    for (v, gv) in rest {
        let nl = log_add_exp(l, v);
        let (wa, wb) = ((l - nl).exp(), (v - nl).exp());
        for k in 0..4 {
            g[k] = wa * g[k] + wb * gv[k];
        }
        l = nl;
    }
    (l, g)
}

/// Row log-likelihood with gradient: alive through all `n` opportunities, or dropped out
/// after opportunity `t_x + i` for each `i` < `n − t_x` (FHS 2010, eq. 5).
fn row(p: &[f64], c: &[f64; 6], x: f64, tx: f64, n: f64) -> (f64, [f64; 4]) {
    let extra = (n - tx).max(0.0) as usize;
    log_sum(
        term(p, c, x, n - x, 0.0, n),
        (0..extra).map(|i| {
            let i = i as f64;
            term(p, c, x, tx - x + i, 1.0, tx + i)
        }),
    )
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

/// Largest number of opportunities for which the fit tabulates its terms (beyond it, a row's
/// sum would be too long to matter next to the tables anyway).
const TABLE_LIMIT: f64 = (1u64 << 22) as f64;

/// The lnΓ and ψ values every [`term`] of a fit's rows is made of, once per whole number
/// `0..len` for the current parameters. The data of a fit are whole numbers (`validate`), and
/// `ln B(α+x, β+m)` = lnΓ(α+x) + lnΓ(β+m) − lnΓ(α+β+x+m) (likewise for γ, δ), so a row's
/// sum over its opportunities costs lookups and one `exp` per term instead of six digammas
/// and two log-betas (Fader, Hardie & Shang 2010, eq. 5, evaluated once per distinct value).
struct Tables {
    lg_a: Vec<f64>,  // lnΓ(α+i)
    lg_b: Vec<f64>,  // lnΓ(β+i)
    lg_ab: Vec<f64>, // lnΓ(α+β+i)
    lg_d: Vec<f64>,  // lnΓ(δ+i)
    lg_gd: Vec<f64>, // lnΓ(γ+δ+i)
    ps_a: Vec<f64>,
    ps_b: Vec<f64>,
    ps_ab: Vec<f64>,
    ps_d: Vec<f64>,
    ps_gd: Vec<f64>,
    lg_g: [f64; 2], // lnΓ(γ), lnΓ(γ+1)
    ps_g: [f64; 2],
}

impl Tables {
    fn new(p: &[f64], len: usize) -> Self {
        let (al, be, ga, de) = (p[0], p[1], p[2], p[3]);
        let of = |f: fn(f64) -> f64, base: f64| -> Vec<f64> {
            (0..len).map(|i| f(base + i as f64)).collect()
        };
        Tables {
            lg_a: of(ln_gamma, al),
            lg_b: of(ln_gamma, be),
            lg_ab: of(ln_gamma, al + be),
            lg_d: of(ln_gamma, de),
            lg_gd: of(ln_gamma, ga + de),
            ps_a: of(digamma, al),
            ps_b: of(digamma, be),
            ps_ab: of(digamma, al + be),
            ps_d: of(digamma, de),
            ps_gd: of(digamma, ga + de),
            lg_g: [ln_gamma(ga), ln_gamma(ga + 1.0)],
            ps_g: [digamma(ga), digamma(ga + 1.0)],
        }
    }

    /// [`term`] for whole `x, m, k` and `e` ∈ {0, 1}.
    #[inline]
    fn term(&self, c: &[f64; 6], x: usize, m: usize, e: usize, k: usize) -> (f64, [f64; 4]) {
        let [lbab, lbgd, pa_b, pg_d, pal, pbe] = *c;
        let (j, ke) = (x + m, k + e);
        let v = self.lg_a[x] + self.lg_b[m] - self.lg_ab[j] - lbab + self.lg_g[e] + self.lg_d[k]
            - self.lg_gd[ke]
            - lbgd;
        let (pga, pde) = (self.ps_g[0], self.ps_d[0]);
        (
            v,
            [
                self.ps_a[x] - self.ps_ab[j] - pal + pa_b,
                self.ps_b[m] - self.ps_ab[j] - pbe + pa_b,
                self.ps_g[e] - self.ps_gd[ke] - pga + pg_d,
                self.ps_d[k] - self.ps_gd[ke] - pde + pg_d,
            ],
        )
    }

    /// [`row`] for a whole-number row `x ≤ t_x ≤ n`.
    fn row(&self, c: &[f64; 6], x: usize, tx: usize, n: usize) -> (f64, [f64; 4]) {
        log_sum(
            self.term(c, x, n - x, 0, n),
            (tx..n).map(|k| self.term(c, x, k - x, 1, k)),
        )
    }
}

fn ll_grad_impl(p: &[f64], d: &RfmData, grad: &mut [f64]) -> f64 {
    if p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return f64::NAN;
    }
    let c = consts(p);
    let max_n = d.t.iter().fold(0.0f64, |m, &v| m.max(v));
    let tables = (max_n <= TABLE_LIMIT).then(|| Tables::new(p, max_n as usize + 2));
    let (s, g) = chunked_sum::<4, _>(d.len(), |i, g| {
        let w = d.weight[i];
        if w == 0.0 {
            return 0.0;
        }
        let (x, tx, n) = (d.x[i], d.t_x[i], d.t[i]);
        let (l, gr) = match &tables {
            Some(t) => t.row(&c, x as usize, tx as usize, n as usize),
            None => row(p, &c, x, tx, n),
        };
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
