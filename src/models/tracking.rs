//! Tracking a purchase model against the log (DESIGN.md §4, "Tracking"): the repeat purchases
//! a model expects of a customer base whose customers enter over time.
//!
//! Customers who enter in the same period share their expectation, so the expected cumulative
//! purchases at boundary `b` (a number of periods since the first period) are
//! `Σ_{e < b} n_e E[X((b − e) u)]`, with `n_e` the customers entering in period `e` and `u` the
//! model time units per period. `E[X(d u)]` is evaluated once per distinct lag `d`
//! (`1..=max b`), then each boundary is one pass over the periods with entries, summed in
//! period order (deterministic whatever the thread count).
use rayon::prelude::*;

use super::model::Model;
use crate::core::error::{CoreError, Result};

/// Expected cumulative repeat purchases at each boundary: customers entering in period `e`
/// (`entering[e]`, periods counted from the first) contribute their unconditional expected
/// purchases over the `b − e` periods to boundary `b` (nothing when `e ≥ b`). `unit_factor`:
/// model time units per period.
pub fn expected_cumulative(
    model: Model,
    params: &[f64],
    entering: &[u64],
    boundaries: &[usize],
    unit_factor: f64,
) -> Result<Vec<f64>> {
    if !(unit_factor.is_finite() && unit_factor > 0.0) {
        return Err(CoreError::argument(
            "unit_factor",
            format!("must be finite and > 0, got {unit_factor}"),
        ));
    }
    let last = boundaries.iter().copied().max().unwrap_or(0);
    // E[X(d u)] for every lag d = 1..=last (index d − 1).
    let lags: Vec<f64> = (1..=last).map(|d| d as f64 * unit_factor).collect();
    let expected = model.expected_purchases(params, &lags)?;
    let cohorts: Vec<(usize, f64)> = entering
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(e, &n)| (e, n as f64))
        .collect();
    Ok(boundaries
        .par_iter()
        .map(|&b| {
            cohorts
                .iter()
                .take_while(|&&(e, _)| e < b)
                .map(|&(e, n)| n * expected[b - e - 1])
                .sum()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_each_cohort_over_its_lag() {
        let p = [0.2426, 4.4136, 0.7929, 2.4259];
        let got =
            expected_cumulative(Model::BgNbd, &p, &[2, 0, 3, 1], &[0, 1, 3, 6], 1.0 / 7.0).unwrap();
        let e = |d: f64| Model::BgNbd.expected_purchases(&p, &[d / 7.0]).unwrap()[0];
        let want = [
            0.0,
            2.0 * e(1.0),
            2.0 * e(3.0) + 3.0 * e(1.0),
            2.0 * e(6.0) + 3.0 * e(4.0) + e(3.0),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-15 * w.abs(), "{got:?} vs {want:?}");
        }
        let err = expected_cumulative(Model::GammaGamma, &[1.0; 3], &[1], &[2], 1.0).unwrap_err();
        assert!(err.to_string().contains("not defined"), "{err}");
    }
}
