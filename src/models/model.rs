//! Which model fits on what, predicts what, and when rows are compressed first.
//!
//! The bindings (and any Rust caller) name a model once, as a [`Model`], and call its methods;
//! adding a model means adding a variant here, not editing a binding. Each method either
//! dispatches to the model's module or answers that the model does not define the quantity.
use rayon::prelude::*;

use super::compress::{compress, scatter};
use super::gamma_gamma::{self, SpendData};
use super::sbg::{self, SbgData};
use super::{bgbb, bgnbd, clv, mbgnbd, pareto_nbd, Distinct, FitOptions, FitResult};
use crate::core::error::{CoreError, Result};

/// The models, parsed once from their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    BgNbd,
    MbgNbd,
    ParetoNbd,
    BgBb,
    Sbg,
    GammaGamma,
}

/// Per-customer histories: frequency `x`, recency `t_x` and age `T`.
#[derive(Clone, Copy, Debug)]
pub struct History<'a> {
    pub x: &'a [f64],
    pub t_x: &'a [f64],
    pub t: &'a [f64],
}

/// A fit and the rows it left out (Gamma-Gamma: customers without repeat purchases).
#[derive(Debug, Clone)]
pub struct Fit {
    pub result: FitResult,
    pub excluded: usize,
}

/// What a CLV sums, besides the histories (see [`Model::customer_lifetime_value`]).
#[derive(Clone, Copy, Debug)]
pub struct ClvOptions {
    pub margin: f64,
    /// Number of horizon periods.
    pub horizon: usize,
    /// Discount rate per horizon period.
    pub discount_rate: f64,
    /// Model time units per horizon period.
    pub unit_factor: f64,
}

impl Model {
    pub const ALLOWED: &'static str =
        "'bgnbd', 'mbgnbd', 'pareto_nbd', 'bgbb', 'sbg', 'gamma_gamma'";

    pub fn parse(name: &str) -> Result<Model> {
        match name {
            "bgnbd" => Ok(Model::BgNbd),
            "mbgnbd" => Ok(Model::MbgNbd),
            "pareto_nbd" => Ok(Model::ParetoNbd),
            "bgbb" => Ok(Model::BgBb),
            "sbg" => Ok(Model::Sbg),
            "gamma_gamma" => Ok(Model::GammaGamma),
            other => Err(CoreError::argument(
                "model",
                format!(
                    "unknown model '{other}'; expected one of {}",
                    Model::ALLOWED
                ),
            )),
        }
    }

    fn unsupported(self, what: &str) -> CoreError {
        CoreError::argument("model", format!("{what} is not defined for {self:?}"))
    }

    /// The columns `fit` takes, in order.
    pub fn fit_columns(self) -> &'static [&'static str] {
        match self {
            Model::GammaGamma => &["frequency", "monetary_value"],
            Model::Sbg => &["recency", "T"],
            _ => &["frequency", "recency", "T"],
        }
    }

    /// Maximum-likelihood fit on [`Model::fit_columns`]. Purchase models fit on the unique
    /// `(x, t_x, T)` rows; Gamma-Gamma groups rows by x and merges equal (x, m) pairs itself
    /// (cheaper than a general compress of mostly distinct m); sBG rows are few already.
    pub fn fit(
        self,
        columns: &[&[f64]],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> Result<Fit> {
        options.check()?;
        let names = self.fit_columns();
        if columns.len() != names.len() {
            return Err(CoreError::argument(
                "columns",
                format!(
                    "{self:?} takes {} columns ({}), got {}",
                    names.len(),
                    names.join(", "),
                    columns.len()
                ),
            ));
        }
        let plain = |result| Fit {
            result,
            excluded: 0,
        };
        match self {
            Model::GammaGamma => {
                let kept = SpendData::new(columns[0], columns[1], weights)?;
                Ok(Fit {
                    result: gamma_gamma::fit(&kept, options)?,
                    excluded: kept.n_skipped,
                })
            }
            Model::Sbg => {
                let data = SbgData::new(columns[0], columns[1], weights)?;
                sbg::fit(&data, options).map(plain)
            }
            _ => {
                let rows = compress(columns[0], columns[1], columns[2], weights)?;
                let fit = match self {
                    Model::BgNbd => bgnbd::fit(&rows.data, options),
                    Model::MbgNbd => mbgnbd::fit(&rows.data, options),
                    Model::ParetoNbd => pareto_nbd::fit(&rows.data, options),
                    _ => bgbb::fit(&rows.data, options),
                };
                fit.map(plain)
            }
        }
    }

    /// Expected purchases of a new customer by each `t` (BG/BB: in the first `t` opportunities).
    /// The `2F1` (BG/NBD, MBG/NBD) and log-gamma (BG/BB) forms are computed once per distinct
    /// `t`: customers' ages repeat (a few hundred distinct values for a million customers with
    /// daily data). Pareto/NBD's closed form costs less than the lookup.
    pub fn expected_purchases(self, params: &[f64], t: &[f64]) -> Result<Vec<f64>> {
        let rows = |t: &[f64]| match self {
            Model::BgNbd => bgnbd::expected_purchases(params, t),
            Model::MbgNbd => mbgnbd::expected_purchases(params, t),
            Model::ParetoNbd => pareto_nbd::expected_purchases(params, t),
            Model::BgBb => bgbb::expected_purchases(params, t),
            _ => Err(self.unsupported("expected_purchases")),
        };
        match self {
            Model::BgNbd | Model::MbgNbd | Model::BgBb => per_distinct(t, rows),
            _ => rows(t),
        }
    }

    /// P(X(t) = n) for a new customer (`n` and `t` of equal length).
    pub fn probability_of_purchases(
        self,
        params: &[f64],
        n: &[f64],
        t: &[f64],
    ) -> Result<Vec<f64>> {
        match self {
            Model::BgNbd => bgnbd::probability_of_purchases(params, n, t),
            Model::MbgNbd => mbgnbd::probability_of_purchases(params, n, t),
            Model::ParetoNbd => pareto_nbd::probability_of_purchases(params, n, t),
            _ => Err(self.unsupported("probability_of_purchases")),
        }
    }

    /// Whether a per-customer prediction is cheaper computed per customer than on compressed
    /// rows: these models factor their work per distinct (x, T) pair (or have closed forms).
    fn factors_itself(self) -> bool {
        matches!(self, Model::BgNbd | Model::MbgNbd | Model::ParetoNbd)
    }

    /// Conditional expected purchases in the next `t` time units, per row of `h`.
    fn conditional_rows(self, params: &[f64], t: f64, h: History) -> Result<Vec<f64>> {
        let History { x, t_x, t: tt } = h;
        match self {
            Model::BgNbd => bgnbd::conditional_expected_purchases(params, t, x, t_x, tt),
            Model::MbgNbd => mbgnbd::conditional_expected_purchases(params, t, x, t_x, tt),
            Model::ParetoNbd => pareto_nbd::conditional_expected_purchases(params, t, x, t_x, tt),
            Model::BgBb => bgbb::conditional_expected_purchases(params, t, x, t_x, tt),
            _ => Err(self.unsupported("conditional_expected_purchases")),
        }
    }

    /// Expected purchases in the next `t` time units given each customer's history.
    pub fn conditional_expected_purchases(
        self,
        params: &[f64],
        t: f64,
        h: History,
    ) -> Result<Vec<f64>> {
        if self.factors_itself() {
            self.conditional_rows(params, t, h)
        } else {
            per_unique(h, |rows| self.conditional_rows(params, t, rows))
        }
    }

    /// P(alive) at `T + t` (t = 0: at the end of observation) given each customer's history,
    /// not conditioning on purchases after `T`. The continuous-time models compute it per
    /// customer (closed forms; Pareto/NBD's 2F1 terms per distinct pair), cheaper than
    /// compressing the rows; BG/BB's likelihood sums over opportunities, on unique rows.
    pub fn p_alive(self, params: &[f64], h: History, t: f64) -> Result<Vec<f64>> {
        let History { x, t_x, t: tt } = h;
        match self {
            Model::BgNbd => bgnbd::p_alive_at(params, x, t_x, tt, t),
            Model::MbgNbd => mbgnbd::p_alive_at(params, x, t_x, tt, t),
            Model::ParetoNbd => pareto_nbd::p_alive_at(params, x, t_x, tt, t),
            Model::BgBb => per_unique(h, |rows| {
                bgbb::p_alive_at(params, rows.x, rows.t_x, rows.t, t)
            }),
            _ => Err(self.unsupported("p_alive")),
        }
    }

    /// `Σ_k w_k E[X(t_k) | history]` in one pass per customer, for the models that have it.
    fn discounted(
        self,
        params: &[f64],
        times: &[f64],
        weights: &[f64],
        h: History,
    ) -> Option<Result<Vec<f64>>> {
        let History { x, t_x, t: tt } = h;
        match self {
            Model::BgNbd => Some(bgnbd::discounted_expected_purchases(
                params, times, weights, x, t_x, tt,
            )),
            Model::MbgNbd => Some(mbgnbd::discounted_expected_purchases(
                params, times, weights, x, t_x, tt,
            )),
            Model::ParetoNbd => Some(pareto_nbd::discounted_expected_purchases(
                params, times, weights, x, t_x, tt,
            )),
            _ => None,
        }
    }

    /// Discounted CLV per customer: `margin × spend × Σ_{i=1..H} ΔE[X(i)] / (1+d)^i`.
    /// `spend` is per customer or one value for all. The purchase part is linear in spend and
    /// margin, so it is computed once per customer (models with a one-pass weighted sum) or
    /// once per unique `(x, t_x, T)` row, and scaled afterwards.
    pub fn customer_lifetime_value(
        self,
        params: &[f64],
        h: History,
        spend: &[f64],
        options: &ClvOptions,
    ) -> Result<Vec<f64>> {
        if spend.len() != h.x.len() && spend.len() != 1 {
            return Err(CoreError::argument(
                "expected_spend",
                format!("has length {}, not {} (nor 1)", spend.len(), h.x.len()),
            ));
        }
        let ClvOptions {
            margin,
            horizon,
            discount_rate,
            unit_factor,
        } = *options;
        let (times, weights) = clv::horizon_weights(horizon, margin, discount_rate, unit_factor)?;
        if spend.iter().any(|v| !v.is_finite()) {
            return Err(CoreError::argument("expected_spend", "must be finite"));
        }
        let mut purchases = match self.discounted(params, &times, &weights, h) {
            Some(purchases) => purchases?,
            None => {
                let c = compress(h.x, h.t_x, h.t, None)?;
                let d = &c.data;
                let factor = clv::clv(
                    |t| self.conditional_rows(params, t, History::of(&d.x, &d.t_x, &d.t)),
                    &[1.0],
                    1.0,
                    horizon,
                    discount_rate,
                    unit_factor,
                )?;
                // A zero horizon sums nothing: one 0 per unique row.
                let factor = if factor.len() == d.x.len() {
                    factor
                } else {
                    vec![0.0; d.x.len()]
                };
                scatter(&factor, &c.index)?
            }
        };
        purchases
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v *= margin * if spend.len() == 1 { spend[0] } else { spend[i] });
        Ok(purchases)
    }
}

impl<'a> History<'a> {
    pub fn of(x: &'a [f64], t_x: &'a [f64], t: &'a [f64]) -> Self {
        History { x, t_x, t }
    }
}

/// Runs `f` on the distinct values of `values` and gathers the result for every value; on an
/// error (a bad value), runs `f` on all values for the error's row count.
fn per_distinct<F>(values: &[f64], f: F) -> Result<Vec<f64>>
where
    F: Fn(&[f64]) -> Result<Vec<f64>>,
{
    if values.len() < 64 {
        return f(values);
    }
    let distinct = Distinct::new(values);
    let Ok(out) = f(&distinct.values) else {
        return f(values);
    };
    Ok(distinct
        .index
        .par_iter()
        .with_min_len(4096)
        .map(|&k| out[k as usize])
        .collect())
}

/// Runs `f` on the unique `(x, t_x, T)` rows and scatters the result to every customer.
fn per_unique<F>(h: History, f: F) -> Result<Vec<f64>>
where
    F: Fn(History) -> Result<Vec<f64>>,
{
    let c = compress(h.x, h.t_x, h.t, None)?;
    let values = f(History::of(&c.data.x, &c.data.t_x, &c.data.t))?;
    scatter(&values, &c.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed() {
        for name in [
            "bgnbd",
            "mbgnbd",
            "pareto_nbd",
            "bgbb",
            "sbg",
            "gamma_gamma",
        ] {
            assert!(Model::parse(name).is_ok());
        }
        let err = Model::parse("bgbnd").unwrap_err().to_string();
        assert!(err.contains("'gamma_gamma'"), "{err}");
    }

    #[test]
    fn a_model_without_a_quantity_says_so() {
        let err = Model::GammaGamma
            .expected_purchases(&[1.0, 1.0, 1.0], &[1.0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected_purchases is not defined"), "{err}");
        let err = Model::Sbg
            .fit(&[&[1.0]], None, &FitOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes 2 columns"), "{err}");
    }
}
