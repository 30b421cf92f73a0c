//! BTYD / CLV models: maximum-likelihood fitting and predictions, in plain Rust.
//!
//! # Overview
//!
//! * [`compress`]: per-customer `(x, t_x, T)` (+ weights) → unique rows with summed weights, plus the
//!   customer → unique-row index ([`compress::compress`], [`compress::scatter`]).
//! * [`special`]: `ln_gamma`, `ln_beta`, `digamma`, a log-space Gauss hypergeometric function
//!   ([`special::ln_hyp2f1`]) and the special case used by the Pareto/NBD likelihood
//!   ([`special::ln_hyp2f1_ap1`], value and derivatives).
//! * [`optimize`]: L-BFGS with a strong-Wolfe line search over log-parameters, restarts, and the
//!   observed-information standard errors ([`optimize::fit_model`], used by every model's `fit`).
//! * Models (each a module of free functions over `&[f64]` parameter slices, in the order of the
//!   module's `PARAM_NAMES`):
//!   [`bgnbd`] (r, alpha, a, b), [`mbgnbd`] (r, alpha, a, b), [`pareto_nbd`] (r, alpha, s, beta),
//!   [`bgbb`] (alpha, beta, gamma, delta), [`sbg`] (alpha, beta), [`gamma_gamma`] (p, q, gamma).
//! * [`clv`]: discounted CLV from any conditional-expected-purchases function.
//!
//! # Data
//!
//! Continuous-time models (BG/NBD, MBG/NBD, Pareto/NBD) take an [`RfmData`]: frequency `x`
//! (repeat purchases), recency `t_x`, age `T`, and a weight per row (the number of customers with
//! that row). Build it with [`RfmData::new`] (validates) or, preferably, from
//! [`compress::compress`], which deduplicates rows. BG/BB uses the same struct with
//! `t_x` = recency (period of the last purchase) and `t` = number of opportunities `n`, all integers.
//! Gamma-Gamma uses [`gamma_gamma::SpendData`]; sBG uses [`sbg::SbgData`].
//!
//! # Fitting
//!
//! Every model has `fit(data, &FitOptions) -> Result<FitResult>`. The objective is lifetimes':
//! `-(sum of weighted log-likelihood) / n_obs + penalizer * sum(params^2)`, minimised over log
//! parameters with an analytic gradient, from several data-driven starting points (the best
//! converged run wins). `FitResult::log_likelihood` is the unpenalised total log-likelihood at the
//! estimate; standard errors come from the observed information (forward differences of the
//! analytic gradient of the penalised total objective, in the natural parameter scale); the 95%
//! interval is `param ± 1.96 se` (NaN when the information matrix is not positive definite).
//! Degenerate data (nobody repeats, parameters running off to 0 or infinity, …) gives
//! `CoreError::Convergence` with the reason, never NaN parameters.
//!
//! # Predictions
//!
//! Prediction functions take parameters and per-row slices, run in parallel with rayon's
//! `par_iter` (call them inside your own pool with `pool.install`), and return
//! `Result<Vec<f64>>` (errors only for invalid parameters or mismatched lengths). Compute them on
//! the compressed rows and scatter back with [`compress::scatter`].
//!
//! # Determinism
//!
//! Parallel reductions sum fixed-size chunks in a fixed order, so a fit gives bit-identical
//! results for any thread count.

// Numeric kernels index several parallel arrays by position and test `!(x > 0.0)` on purpose
// (rejecting NaN); these style lints fight that.
#![allow(
    clippy::needless_range_loop,
    clippy::neg_cmp_op_on_partial_ord,
    clippy::too_many_arguments
)]

pub mod bgbb;
pub mod bgnbd;
pub mod clv;
pub mod compress;
pub mod gamma_gamma;
mod history;
pub mod mbgnbd;
pub mod model;
pub mod optimize;
mod pareto_curve;
pub mod pareto_nbd;
pub mod sbg;
pub mod special;
pub mod tracking;

use crate::core::error::{CoreError, Result};
pub(crate) use history::{check_history, check_nonneg, history_len, valid_history, validate_rfm};
pub use history::{rfm_violations, RfmViolations};
use rayon::prelude::*;

/// Options for every model's `fit`.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// L2 penalty, lifetimes-style: `penalizer * sum(params^2)` added to the mean negative
    /// log-likelihood. 0 = plain maximum likelihood.
    pub penalizer: f64,
    /// Maximum L-BFGS iterations per start.
    pub max_iter: usize,
    /// Convergence tolerance on the infinity norm of the gradient of the mean objective with
    /// respect to log-parameters.
    pub tol: f64,
}

impl FitOptions {
    /// Rejects a negative or non-finite penalizer.
    pub fn check(&self) -> Result<()> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            return Err(CoreError::argument(
                "penalizer",
                format!("must be finite and >= 0, got {}", self.penalizer),
            ));
        }
        Ok(())
    }
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer: 0.0,
            max_iter: 1000,
            tol: 1e-8,
        }
    }
}

/// Result of a maximum-likelihood fit.
#[derive(Debug, Clone)]
pub struct FitResult {
    /// Estimates, in the order of `param_names`.
    pub params: Vec<f64>,
    pub param_names: &'static [&'static str],
    /// Unpenalised total (weighted) log-likelihood at `params`.
    pub log_likelihood: f64,
    /// Standard errors from the observed information (NaN when it is singular).
    pub standard_errors: Vec<f64>,
    /// `params - 1.96 * se`.
    pub ci_lower: Vec<f64>,
    /// `params + 1.96 * se`.
    pub ci_upper: Vec<f64>,
    /// `2k - 2 LL`.
    pub aic: f64,
    /// `k ln(n_obs) - 2 LL`.
    pub bic: f64,
    /// Sum of weights (number of customers).
    pub n_obs: f64,
    /// Number of (unique) rows fitted.
    pub n_unique: usize,
    /// L-BFGS iterations of the winning run.
    pub iterations: usize,
    pub converged: bool,
}

/// Rows of `(x, t_x, T)` with weights, for the continuous-time models (and BG/BB with
/// `t_x` = recency, `t` = opportunities).
#[derive(Debug, Clone, Default)]
pub struct RfmData {
    /// Frequency: number of repeat purchases.
    pub x: Vec<f64>,
    /// Recency: time of the last purchase since the first.
    pub t_x: Vec<f64>,
    /// Age `T`: time from the first purchase to the end of observation.
    pub t: Vec<f64>,
    /// Number of customers represented by each row.
    pub weight: Vec<f64>,
}

impl RfmData {
    /// Validates and wraps the columns (weights default to 1). Errors: mismatched lengths,
    /// non-finite values, negative values, `t_x > T`, `x > 0` with `t_x = 0` is allowed.
    pub fn new(x: Vec<f64>, t_x: Vec<f64>, t: Vec<f64>, weight: Option<Vec<f64>>) -> Result<Self> {
        let n = x.len();
        check_len("t_x", t_x.len(), n)?;
        check_len("T", t.len(), n)?;
        let weight = match weight {
            Some(w) => {
                check_len("weights", w.len(), n)?;
                w
            }
            None => vec![1.0; n],
        };
        validate_rfm(&x, &t_x, &t, Some(&weight))?;
        Ok(RfmData { x, t_x, t, weight })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Sum of weights.
    pub fn n_obs(&self) -> f64 {
        self.weight.iter().sum()
    }
}

pub(crate) fn check_len(name: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(CoreError::argument(
            name,
            format!("length {got} does not match length {want}"),
        ));
    }
    Ok(())
}

fn data_err(column: &str, message: &str, rows: usize) -> CoreError {
    CoreError::data(column, message, rows as u64)
}

/// Checks a parameter slice: right length, all finite and > 0.
pub(crate) fn check_params(params: &[f64], names: &[&str]) -> Result<()> {
    if params.len() != names.len() {
        return Err(CoreError::argument(
            "params",
            format!("expected {} parameters ({})", names.len(), names.join(", ")),
        ));
    }
    for (p, n) in params.iter().zip(names) {
        if !p.is_finite() || *p <= 0.0 {
            return Err(CoreError::argument(
                *n,
                format!("must be finite and > 0, got {p}"),
            ));
        }
    }
    Ok(())
}

/// Rows per chunk of the deterministic parallel reductions.
pub(crate) const CHUNK: usize = 2048;

/// Deterministic parallel sum of `f(i) -> (value, gradient)` over `0..n`: fixed-size chunks,
/// each summed sequentially, chunk results combined in order. Independent of the thread count.
pub(crate) fn chunked_sum<const K: usize, F>(n: usize, f: F) -> (f64, [f64; K])
where
    F: Fn(usize, &mut [f64; K]) -> f64 + Sync,
{
    let nchunks = n.div_ceil(CHUNK);
    let parts: Vec<(f64, [f64; K])> = (0..nchunks)
        .into_par_iter()
        .map(|c| {
            let mut s = 0.0;
            let mut g = [0.0; K];
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                s += f(i, &mut g);
            }
            (s, g)
        })
        .collect();
    let mut s = 0.0;
    let mut g = [0.0; K];
    for (ps, pg) in parts {
        s += ps;
        for k in 0..K {
            g[k] += pg[k];
        }
    }
    (s, g)
}

/// Sorted distinct values of a column and, per row, the index of its value: the factor table
/// of likelihood terms that depend on one column, and the ranks `compress` sorts rows by.
/// `-0.0` is folded into `0.0`.
#[derive(Debug, Clone)]
pub(crate) struct Distinct {
    pub values: Vec<f64>,
    pub index: Vec<u32>,
}

impl Distinct {
    /// Hash-based: per-chunk distinct bit patterns, merged and sorted (few), then one lookup
    /// per row (no sort of the whole column).
    pub fn new(col: &[f64]) -> Self {
        type Map = hashbrown::HashMap<u64, u32, foldhash::fast::FixedState>;
        const PCHUNK: usize = 1 << 16;
        let n = col.len();
        let locals: Vec<Vec<u64>> = (0..n.div_ceil(PCHUNK))
            .into_par_iter()
            .map(|c| {
                let mut m = Map::default();
                let mut keys = Vec::new();
                for &v in &col[c * PCHUNK..((c + 1) * PCHUNK).min(n)] {
                    if m.insert(canon(v), 0).is_none() {
                        keys.push(canon(v));
                    }
                }
                keys
            })
            .collect();
        let mut bits: Vec<u64> = locals.concat();
        bits.par_sort_unstable();
        bits.dedup();
        let mut values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
        values.par_sort_unstable_by(|a, b| a.total_cmp(b));
        let map: Map = values
            .iter()
            .enumerate()
            .map(|(r, v)| (v.to_bits(), r as u32))
            .collect();
        let index = col
            .par_iter()
            .with_min_len(4096)
            .map(|&v| map[&canon(v)])
            .collect();
        Distinct { values, index }
    }
}

/// Maps `f` over rows `0..n` in parallel, collecting in order.
pub(crate) fn par_map<F>(n: usize, f: F) -> Vec<f64>
where
    F: Fn(usize) -> f64 + Sync + Send,
{
    // Collected straight into the vector's room: no zeroing pass first.
    let mut out = crate::core::pages::with_capacity(n);
    (0..n).into_par_iter().map(f).collect_into_vec(&mut out);
    out
}

/// Computes `f(value)` for each distinct value (in parallel when there are many).
pub(crate) fn table<const M: usize, F>(values: &[f64], f: F) -> Vec<[f64; M]>
where
    F: Fn(f64) -> [f64; M] + Sync + Send,
{
    if values.len() > 4096 {
        values.par_iter().map(|&v| f(v)).collect()
    } else {
        values.iter().map(|&v| f(v)).collect()
    }
}

/// Broadcast length: all slices must have length `n` or 1.
pub(crate) fn bcast_len(cols: &[(&str, usize)]) -> Result<usize> {
    let n = cols.iter().map(|c| c.1).max().unwrap_or(0);
    for (name, len) in cols {
        if *len != n && *len != 1 {
            return Err(CoreError::argument(
                *name,
                format!("length {len} does not match length {n} (nor is 1)"),
            ));
        }
    }
    Ok(n)
}

/// Element `i` of a column that may be broadcast from length 1.
#[inline]
pub(crate) fn at(v: &[f64], i: usize) -> f64 {
    if v.len() == 1 {
        v[0]
    } else {
        v[i]
    }
}

/// Index of each row's value in the distinct tables for x, T and t_x.
#[derive(Debug, Clone)]
pub(crate) struct Factored {
    pub x: Distinct,
    pub t: Distinct,
    pub tx: Distinct,
}

impl Factored {
    pub fn new(d: &RfmData) -> Self {
        Factored {
            x: Distinct::new(&d.x),
            t: Distinct::new(&d.t),
            tx: Distinct::new(&d.t_x),
        }
    }
}

/// Distinct `(u, v)` value pairs of two (broadcastable) columns of length `n`, in order of first
/// appearance, and each row's pair index. Prediction terms that depend on one pair only (e.g.
/// BG/NBD's `2F1` in `(x, T)`) are then computed once per pair: with daily data 1M customers
/// have a few tens of thousands of `(x, T)` pairs. Hash-based (foldhash), two parallel passes;
/// the result does not depend on the thread count.
pub(crate) struct Pairs {
    pub values: Vec<(f64, f64)>,
    pub index: Vec<u32>,
}

impl Pairs {
    pub fn new(u: &[f64], v: &[f64], n: usize) -> Self {
        type Map = hashbrown::HashMap<(u64, u64), u32, foldhash::fast::FixedState>;
        let key = |i: usize| (canon(at(u, i)), canon(at(v, i)));
        const PCHUNK: usize = 1 << 16;
        // Pass 1: distinct keys per chunk (in order of first appearance), merged in chunk order.
        let locals: Vec<Vec<(u64, u64)>> = (0..n.div_ceil(PCHUNK))
            .into_par_iter()
            .map(|c| {
                let mut m = Map::default();
                let mut keys = Vec::new();
                for i in c * PCHUNK..((c + 1) * PCHUNK).min(n) {
                    let k = key(i);
                    if m.insert(k, 0).is_none() {
                        keys.push(k);
                    }
                }
                keys
            })
            .collect();
        let mut map = Map::default();
        let mut values = Vec::new();
        for keys in locals {
            for k in keys {
                if let hashbrown::hash_map::Entry::Vacant(e) = map.entry(k) {
                    e.insert(values.len() as u32);
                    values.push((f64::from_bits(k.0), f64::from_bits(k.1)));
                }
            }
        }
        // Pass 2: each row's pair index.
        let index = (0..n)
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| map[&key(i)])
            .collect();
        Pairs { values, index }
    }

    /// `f(u, v)` for each distinct pair, in parallel.
    pub fn map<F>(&self, f: F) -> Vec<f64>
    where
        F: Fn(f64, f64) -> f64 + Sync + Send,
    {
        self.values
            .par_iter()
            .with_min_len(64)
            .map(|&(u, v)| f(u, v))
            .collect()
    }
}

/// `Σ_k w_k E[X(t_k) | x, t_x, T]` per row for a model whose conditional expectation factors
/// as `A(x, T, t) × P(alive | x, t_x, T)` (BG/NBD, MBG/NBD), given `alive` = P(alive at T)
/// per row (from the vectorised `Alive::rows`, which checked the rows): the weighted sum of
/// `A` over the horizon `steps` (`(t, w)` pairs) is computed once per distinct `(x, T)` pair
/// (a few tens of thousands with daily data). Columns may be broadcast from length 1 (to the
/// length of `alive`).
pub(crate) fn discounted_by_pairs<A>(
    steps: &[(f64, f64)],
    history: (&[f64], &[f64]),
    mut alive: Vec<f64>,
    factor: A,
) -> Vec<f64>
where
    A: Fn(f64, f64, f64) -> f64 + Sync + Send,
{
    let (x, tt) = history;
    let pairs = Pairs::new(x, tt, alive.len());
    let sums = pairs.map(|x, big_t| steps.iter().map(|&(t, w)| w * factor(x, big_t, t)).sum());
    alive
        .par_iter_mut()
        .zip(pairs.index.par_iter())
        .for_each(|(p, &k)| *p *= sums[k as usize]);
    alive
}

/// P(alive at T + t) per row for a model where it factors as `P(alive at T | x, t_x, T) ×
/// S(x, T, t)` (BG/NBD, MBG/NBD), given `now` = P(alive at T) per row: `ln_survival(x, T)` is
/// evaluated once per distinct `(x, T)` pair, and not at all when `t` = 0. Columns may be
/// broadcast from length 1 (to the length of `now`).
pub(crate) fn alive_later<S>(
    mut now: Vec<f64>,
    history: (&[f64], &[f64]),
    t: f64,
    ln_survival: S,
) -> Vec<f64>
where
    S: Fn(f64, f64) -> f64 + Sync + Send,
{
    if t == 0.0 {
        return now;
    }
    let (x, tt) = history;
    let pairs = Pairs::new(x, tt, now.len());
    let survival = pairs.map(|x, big_t| ln_survival(x, big_t).exp());
    now.par_iter_mut()
        .zip(pairs.index.par_iter())
        .for_each(|(p, &k)| *p *= survival[k as usize]);
    now
}

/// `f(i, x, t_x, T)` for each row `i < n` (columns broadcast from length 1), in parallel,
/// checking the rows as [`check_history`] does in the same pass: one read of the columns
/// instead of two. On a bad value, `check_history`'s error.
pub(crate) fn map_history<F>(history: (&[f64], &[f64], &[f64]), n: usize, f: F) -> Result<Vec<f64>>
where
    F: Fn(usize, f64, f64, f64) -> f64 + Sync + Send,
{
    let (x, t_x, tt) = history;
    let bad = std::sync::atomic::AtomicBool::new(false);
    let out = par_map(n, |i| {
        let (x, tx, big_t) = (at(x, i), at(t_x, i), at(tt, i));
        if !valid_history(x, tx, big_t) {
            bad.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        f(i, x, tx, big_t)
    });
    if bad.into_inner() {
        check_history(x, t_x, tt)?;
    }
    Ok(out)
}

/// Bits of a value with `-0.0` folded into `0.0` (NaN payloads are kept as they are); for
/// non-negative finite values the bits order like the values.
#[inline]
pub(crate) fn canon(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}
