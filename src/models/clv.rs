//! Discounted customer lifetime value from any model's conditional expected purchases.

use super::{at, bcast_len};
use crate::core::error::{CoreError, Result};
use rayon::prelude::*;

fn check_args(margin: f64, discount: f64, unit_factor: f64) -> Result<()> {
    if !margin.is_finite() {
        return Err(CoreError::argument("margin", "must be finite"));
    }
    if !(discount.is_finite() && discount > -1.0) {
        return Err(CoreError::argument(
            "discount_rate",
            "must be finite and > -1",
        ));
    }
    if !(unit_factor.is_finite() && unit_factor > 0.0) {
        return Err(CoreError::argument(
            "time_unit",
            "the horizon-unit conversion factor must be > 0",
        ));
    }
    Ok(())
}

/// The `(t, weight)` horizon steps of a weighted expected-purchases sum that contribute
/// (t > 0, weight ≠ 0), after checking the two columns match and no t is negative.
pub fn horizon_steps(times: &[f64], weights: &[f64]) -> Result<Vec<(f64, f64)>> {
    super::check_len("weights", weights.len(), times.len())?;
    super::check_nonneg("t", times)?;
    Ok(times
        .iter()
        .zip(weights)
        .filter(|(t, w)| **t > 0.0 && **w != 0.0)
        .map(|(t, w)| (*t, *w))
        .collect())
}

/// Times and weights that turn CLV's discounted increments into one weighted sum:
/// `Σ_{i=1..H} (E[X(t_i)] − E[X(t_{i−1})]) / (1+d)^i = Σ_i c_i E[X(t_i)]` with
/// `t_i = i × unit_factor`, `c_i = (1+d)^-i − (1+d)^-(i+1)` for `i < H`, `c_H = (1+d)^-H`
/// (and `E[X(0)] = 0`). Models evaluate the weighted sum per row in one pass
/// (`discounted_expected_purchases`), sharing everything that does not depend on `t`.
/// Errors like [`clv`] on invalid `margin`, `discount` or `unit_factor`.
pub fn horizon_weights(
    horizon: usize,
    margin: f64,
    discount: f64,
    unit_factor: f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    check_args(margin, discount, unit_factor)?;
    let disc = |i: usize| (1.0 + discount).powi(-(i as i32));
    let times = (1..=horizon).map(|i| i as f64 * unit_factor).collect();
    let weights = (1..=horizon)
        .map(|i| {
            if i == horizon {
                disc(i)
            } else {
                disc(i) - disc(i + 1)
            }
        })
        .collect();
    Ok((times, weights))
}

/// CLV × Σ_{i=1..H} (E[X(i)] − E[X(i−1)]) × E[spend] / (1+d)^i.
///
/// * `cond_expected(t)`: conditional expected purchases of every customer by time `t` in the
///   model's time unit (e.g. a closure over `bgnbd::conditional_expected_purchases`); all calls
///   must return the same length.
/// * `expected_spend`: per customer (or length 1, broadcast).
/// * `horizon`: number of `horizon_unit` periods H; `unit_factor`: model time units per horizon
///   unit (e.g. 365.25/12/7 for monthly CLV from a model fitted in weeks); `discount`: d per
///   horizon unit (cash at period end).
pub fn clv<F>(
    cond_expected: F,
    expected_spend: &[f64],
    margin: f64,
    horizon: usize,
    discount: f64,
    unit_factor: f64,
) -> Result<Vec<f64>>
where
    F: Fn(f64) -> Result<Vec<f64>>,
{
    check_args(margin, discount, unit_factor)?;
    if expected_spend.iter().any(|v| !v.is_finite()) {
        return Err(CoreError::argument("expected_spend", "must be finite"));
    }
    let mut prev: Option<Vec<f64>> = None;
    let mut total: Vec<f64> = Vec::new();
    for i in 1..=horizon {
        let cur = cond_expected(i as f64 * unit_factor)?;
        let n = bcast_len(&[
            ("expected purchases", cur.len()),
            ("expected_spend", expected_spend.len()),
        ])?;
        if total.is_empty() {
            total = vec![0.0; n];
        }
        if total.len() != n {
            return Err(CoreError::argument(
                "cond_expected",
                "returned different lengths for different horizons",
            ));
        }
        let disc = (1.0 + discount).powi(-(i as i32));
        total.par_iter_mut().enumerate().for_each(|(j, acc)| {
            let before = prev.as_ref().map_or(0.0, |p| p[j]);
            *acc += (at(&cur, j) - before) * at(expected_spend, j) * disc;
        });
        prev = Some(cur);
    }
    if total.is_empty() {
        total = vec![0.0; expected_spend.len()];
    }
    total.par_iter_mut().for_each(|v| *v *= margin);
    Ok(total)
}
