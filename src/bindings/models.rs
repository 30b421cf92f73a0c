//! Bindings for the BTYD models: fit on (compressed) rows, vectorised predictions, CLV.
//!
//! Every function takes the model's name (parsed once into [`Model`]), parameters in the order of
//! the model's `PARAM_NAMES` and contiguous float64 NumPy arrays; the Python layer
//! (`custval.models`) does the argument handling. Per-customer predictions are computed once per
//! unique `(frequency, recency, T)` row and scattered back.
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use super::errors::CustvalError;
use super::gil;
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::period::Freq;
use crate::models::compress::{compress, scatter};
use crate::models::gamma_gamma::SpendData;
use crate::models::sbg::SbgData;
use crate::models::{
    bgbb, bgnbd, clv, gamma_gamma, mbgnbd, pareto_nbd, sbg, FitOptions, FitResult,
};

/// The models, parsed once from their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    BgNbd,
    MbgNbd,
    ParetoNbd,
    BgBb,
    Sbg,
    GammaGamma,
}

impl Model {
    const ALLOWED: &'static str = "'bgnbd', 'mbgnbd', 'pareto_nbd', 'bgbb', 'sbg', 'gamma_gamma'";

    fn parse(name: &str) -> PyResult<Model> {
        match name {
            "bgnbd" => Ok(Model::BgNbd),
            "mbgnbd" => Ok(Model::MbgNbd),
            "pareto_nbd" => Ok(Model::ParetoNbd),
            "bgbb" => Ok(Model::BgBb),
            "sbg" => Ok(Model::Sbg),
            "gamma_gamma" => Ok(Model::GammaGamma),
            other => Err(CustvalError::new_err(format!(
                "unknown model '{other}'; expected one of {}",
                Model::ALLOWED
            ))),
        }
    }

    fn unsupported(self, what: &str) -> CoreError {
        CoreError::Argument {
            name: "model".into(),
            message: format!("{what} is not defined for {self:?}"),
        }
    }

    /// Conditional expected purchases in the next `t` time units for rows `(x, t_x, tt)`.
    fn conditional(
        self,
        p: &[f64],
        t: f64,
        x: &[f64],
        tx: &[f64],
        tt: &[f64],
    ) -> CoreResult<Vec<f64>> {
        match self {
            Model::BgNbd => bgnbd::conditional_expected_purchases(p, t, x, tx, tt),
            Model::MbgNbd => mbgnbd::conditional_expected_purchases(p, t, x, tx, tt),
            Model::ParetoNbd => pareto_nbd::conditional_expected_purchases(p, t, x, tx, tt),
            Model::BgBb => bgbb::conditional_expected_purchases(p, t, x, tx, tt),
            _ => Err(self.unsupported("conditional_expected_purchases")),
        }
    }

    /// `Σ_k w_k E[X(t_k) | history]` in one pass, for the models that have it (computed per
    /// customer: they factor the work per distinct (x, T) pair themselves, cheaper than
    /// compressing the rows).
    fn discounted(
        self,
        p: &[f64],
        times: &[f64],
        weights: &[f64],
        x: &[f64],
        tx: &[f64],
        tt: &[f64],
    ) -> Option<CoreResult<Vec<f64>>> {
        match self {
            Model::BgNbd => Some(bgnbd::discounted_expected_purchases(
                p, times, weights, x, tx, tt,
            )),
            Model::MbgNbd => Some(mbgnbd::discounted_expected_purchases(
                p, times, weights, x, tx, tt,
            )),
            Model::ParetoNbd => Some(pareto_nbd::discounted_expected_purchases(
                p, times, weights, x, tx, tt,
            )),
            _ => None,
        }
    }

    fn p_alive(self, p: &[f64], x: &[f64], tx: &[f64], tt: &[f64], t: f64) -> CoreResult<Vec<f64>> {
        match self {
            Model::BgNbd => bgnbd::p_alive_at(p, x, tx, tt, t),
            Model::MbgNbd => mbgnbd::p_alive_at(p, x, tx, tt, t),
            Model::ParetoNbd => pareto_nbd::p_alive_at(p, x, tx, tt, t),
            Model::BgBb => bgbb::p_alive_at(p, x, tx, tt, t),
            _ => Err(self.unsupported("p_alive")),
        }
    }
}

type Column<'py> = PyReadonlyArray1<'py, f64>;

fn slice<'a>(name: &str, array: &'a Column<'_>) -> PyResult<&'a [f64]> {
    array
        .as_slice()
        .map_err(|_| CustvalError::new_err(format!("'{name}' must be a contiguous float64 array")))
}

/// The (frequency, recency, T) columns of customer histories.
type History<'a> = (&'a [f64], &'a [f64], &'a [f64]);

fn history<'a>(
    frequency: &'a Column<'_>,
    recency: &'a Column<'_>,
    age: &'a Column<'_>,
) -> PyResult<History<'a>> {
    Ok((
        slice("frequency", frequency)?,
        slice("recency", recency)?,
        slice("T", age)?,
    ))
}

fn to_dict<'py>(py: Python<'py>, fit: &FitResult, skipped: usize) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("param_names", fit.param_names.to_vec())?;
    out.set_item("params", fit.params.clone())?;
    out.set_item("log_likelihood", fit.log_likelihood)?;
    out.set_item("standard_errors", fit.standard_errors.clone())?;
    out.set_item("ci_lower", fit.ci_lower.clone())?;
    out.set_item("ci_upper", fit.ci_upper.clone())?;
    out.set_item("aic", fit.aic)?;
    out.set_item("bic", fit.bic)?;
    out.set_item("n_obs", fit.n_obs)?;
    out.set_item("n_unique", fit.n_unique)?;
    out.set_item("iterations", fit.iterations)?;
    out.set_item("converged", fit.converged)?;
    out.set_item("n_excluded", skipped)?;
    Ok(out)
}

/// Maximum-likelihood fit. `columns`: `(frequency, recency, T)` for BG/NBD, MBG/NBD,
/// Pareto/NBD and BG/BB (T = opportunities); `(frequency, monetary_value)` for Gamma-Gamma;
/// `(recency, T)` for sBG. Returns a dict of the fit (`n_excluded`: Gamma-Gamma rows with
/// frequency 0).
#[pyfunction]
#[pyo3(signature = (model, columns, weights, *, penalizer, max_iter, tol))]
pub fn fit_model<'py>(
    py: Python<'py>,
    model: &str,
    columns: Vec<Column<'py>>,
    weights: Option<Column<'py>>,
    penalizer: f64,
    max_iter: usize,
    tol: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let model = Model::parse(model)?;
    if !(penalizer.is_finite() && penalizer >= 0.0) {
        return Err(CustvalError::new_err(format!(
            "penalizer must be finite and >= 0, got {penalizer}"
        )));
    }
    let want = match model {
        Model::GammaGamma | Model::Sbg => 2,
        _ => 3,
    };
    if columns.len() != want {
        return Err(CustvalError::new_err(format!(
            "{model:?} takes {want} columns, got {}",
            columns.len()
        )));
    }
    let names = ["frequency", "recency", "T"];
    let cols = columns
        .iter()
        .zip(names)
        .map(|(c, n)| slice(n, c))
        .collect::<PyResult<Vec<_>>>()?;
    let w = weights.as_ref().map(|w| slice("weights", w)).transpose()?;
    let opts = FitOptions {
        penalizer,
        max_iter,
        tol,
    };
    let (fit, skipped) = gil::run(py, || match model {
        Model::GammaGamma => {
            // `gamma_gamma::fit` groups the rows by x and merges equal (x, m) pairs itself
            // (n_unique counts those), cheaper than a general compress of mostly distinct m.
            let kept = SpendData::new(cols[0], cols[1], w)?;
            Ok((gamma_gamma::fit(&kept, &opts)?, kept.n_skipped))
        }
        Model::Sbg => {
            let data = SbgData::new(cols[0], cols[1], w)?;
            Ok((sbg::fit(&data, &opts)?, 0))
        }
        _ => {
            let c = compress(cols[0], cols[1], cols[2], w)?;
            let fit = match model {
                Model::BgNbd => bgnbd::fit(&c.data, &opts),
                Model::MbgNbd => mbgnbd::fit(&c.data, &opts),
                Model::ParetoNbd => pareto_nbd::fit(&c.data, &opts),
                _ => bgbb::fit(&c.data, &opts),
            }?;
            Ok((fit, 0))
        }
    })?;
    to_dict(py, &fit, skipped)
}

fn array<'py>(py: Python<'py>, values: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    values.into_pyarray(py)
}

/// Expected purchases of a new customer by each `t` (BG/BB: in the first `t` opportunities).
#[pyfunction]
pub fn expected_purchases<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    t: Column<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = Model::parse(model)?;
    let t = slice("t", &t)?;
    let out = gil::run(py, || match model {
        Model::BgNbd => bgnbd::expected_purchases(&params, t),
        Model::MbgNbd => mbgnbd::expected_purchases(&params, t),
        Model::ParetoNbd => pareto_nbd::expected_purchases(&params, t),
        Model::BgBb => bgbb::expected_purchases(&params, t),
        _ => Err(model.unsupported("expected_purchases")),
    })?;
    Ok(array(py, out))
}

/// Runs `f` on the unique `(x, t_x, T)` rows and scatters the result to every customer.
fn per_unique<F>(x: &[f64], tx: &[f64], tt: &[f64], f: F) -> CoreResult<Vec<f64>>
where
    F: Fn(&[f64], &[f64], &[f64]) -> CoreResult<Vec<f64>>,
{
    let c = compress(x, tx, tt, None)?;
    let values = f(&c.data.x, &c.data.t_x, &c.data.t)?;
    scatter(&values, &c.index)
}

/// Expected purchases in the next `t` time units given each customer's history.
#[pyfunction]
pub fn conditional_expected_purchases<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    t: f64,
    frequency: Column<'py>,
    recency: Column<'py>,
    age: Column<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = Model::parse(model)?;
    let (x, tx, tt) = history(&frequency, &recency, &age)?;
    let out = gil::run(py, || match model {
        // These factor the work per distinct (x, T) pair themselves: compute per customer.
        Model::BgNbd | Model::MbgNbd | Model::ParetoNbd => model.conditional(&params, t, x, tx, tt),
        _ => per_unique(x, tx, tt, |x, tx, tt| {
            model.conditional(&params, t, x, tx, tt)
        }),
    })?;
    Ok(array(py, out))
}

/// P(alive) at `T + t` (t = 0: at the end of observation) given each customer's history.
#[pyfunction]
pub fn p_alive<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    frequency: Column<'py>,
    recency: Column<'py>,
    age: Column<'py>,
    t: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = Model::parse(model)?;
    let (x, tx, tt) = history(&frequency, &recency, &age)?;
    let out = gil::run(py, || match model {
        // Closed forms (Pareto/NBD: 2F1 terms per distinct pair) cheaper than compressing the
        // rows: compute per customer.
        Model::BgNbd | Model::MbgNbd | Model::BgBb | Model::ParetoNbd => {
            model.p_alive(&params, x, tx, tt, t)
        }
        _ => per_unique(x, tx, tt, |x, tx, tt| model.p_alive(&params, x, tx, tt, t)),
    })?;
    Ok(array(py, out))
}

/// P(X(t) = n) for a new customer (`n` and `t` of equal length).
#[pyfunction]
pub fn probability_of_purchases<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    n: Column<'py>,
    t: Column<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = Model::parse(model)?;
    let (n, t) = (slice("n", &n)?, slice("t", &t)?);
    let out = gil::run(py, || match model {
        Model::BgNbd => bgnbd::probability_of_purchases(&params, n, t),
        Model::MbgNbd => mbgnbd::probability_of_purchases(&params, n, t),
        Model::ParetoNbd => pareto_nbd::probability_of_purchases(&params, n, t),
        _ => Err(model.unsupported("probability_of_purchases")),
    })?;
    Ok(array(py, out))
}

/// Gamma-Gamma: expected mean spend given frequency and mean repeat spend.
#[pyfunction]
pub fn conditional_expected_spend<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: Column<'py>,
    monetary_value: Column<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (x, m) = (
        slice("frequency", &frequency)?,
        slice("monetary_value", &monetary_value)?,
    );
    let out = gil::run(py, || {
        gamma_gamma::conditional_expected_spend(&params, x, m)
    })?;
    Ok(array(py, out))
}

/// sBG curves at periods `t`: `kind` is "survival", "retention_rate" or "churn_probability".
#[pyfunction]
pub fn sbg_curve<'py>(
    py: Python<'py>,
    kind: &str,
    params: Vec<f64>,
    t: Column<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let t = slice("t", &t)?;
    let f: fn(&[f64], &[f64]) -> CoreResult<Vec<f64>> = match kind {
        "survival" => sbg::survival,
        "retention_rate" => sbg::retention_rate,
        "churn_probability" => sbg::churn_probability,
        other => {
            return Err(CustvalError::new_err(format!(
                "unknown sBG curve '{other}'; expected 'survival', 'retention_rate' or \
                 'churn_probability'"
            )))
        }
    };
    let out = gil::run(py, || f(&params, t))?;
    Ok(array(py, out))
}

/// sBG expected lifetime in periods; discounted (payments at period starts) when
/// `discount_rate` is given.
#[pyfunction]
#[pyo3(signature = (params, discount_rate=None))]
pub fn sbg_expected_lifetime(
    py: Python<'_>,
    params: Vec<f64>,
    discount_rate: Option<f64>,
) -> PyResult<f64> {
    gil::run(py, || match discount_rate {
        None => sbg::expected_lifetime(&params),
        Some(d) => sbg::discounted_expected_lifetime(&params, d),
    })
}

/// Mean length of one period of `freq` in days (a month is 365.25/12 days).
fn mean_days(freq: Freq) -> f64 {
    let year = 365.25;
    match freq {
        Freq::Hour => 1.0 / 24.0,
        Freq::Day => 1.0,
        Freq::Week => 7.0,
        Freq::Month => year / 12.0,
        Freq::Quarter => year / 4.0,
        Freq::Year => year,
    }
}

/// Model time units per `horizon_unit` period, for a model whose time unit is
/// `freq_multiplier` periods of `freq`.
#[pyfunction]
pub fn time_unit_factor(horizon_unit: &str, freq: &str, freq_multiplier: f64) -> PyResult<f64> {
    let horizon = Freq::parse(horizon_unit).map_err(|e| match e {
        CoreError::Argument { message, .. } => CoreError::Argument {
            name: "horizon_unit".into(),
            message,
        },
        other => other,
    })?;
    if !(freq_multiplier.is_finite() && freq_multiplier > 0.0) {
        return Err(CustvalError::new_err(format!(
            "freq_multiplier must be positive, got {freq_multiplier}"
        )));
    }
    Ok(mean_days(horizon) / (mean_days(Freq::parse(freq)?) * freq_multiplier))
}

/// Discounted CLV per customer: `margin × spend × Σ_{i=1..H} ΔE[X(i)] / (1+d)^i` with the
/// purchase part computed once per unique `(x, t_x, T)` row. `unit_factor`: model time units
/// per horizon period.
#[pyfunction]
#[pyo3(signature = (model, params, frequency, recency, age, expected_spend, *, margin, horizon, discount_rate, unit_factor))]
#[allow(clippy::too_many_arguments)]
pub fn customer_lifetime_value<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    frequency: Column<'py>,
    recency: Column<'py>,
    age: Column<'py>,
    expected_spend: Column<'py>,
    margin: f64,
    horizon: usize,
    discount_rate: f64,
    unit_factor: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = Model::parse(model)?;
    let (x, tx, tt) = history(&frequency, &recency, &age)?;
    let spend = slice("expected_spend", &expected_spend)?;
    if spend.len() != x.len() && spend.len() != 1 {
        return Err(CustvalError::new_err(format!(
            "expected_spend has length {}, not {} (nor 1)",
            spend.len(),
            x.len()
        )));
    }
    let out = gil::run(py, || {
        let (times, weights) = clv::horizon_weights(horizon, margin, discount_rate, unit_factor)?;
        if let Some(purchases) = model.discounted(&params, &times, &weights, x, tx, tt) {
            if spend.iter().any(|v| !v.is_finite()) {
                return Err(CoreError::Argument {
                    name: "expected_spend".into(),
                    message: "must be finite".into(),
                });
            }
            let mut out = purchases?;
            out.par_iter_mut().enumerate().for_each(|(i, v)| {
                *v *= margin * if spend.len() == 1 { spend[0] } else { spend[i] }
            });
            return Ok(out);
        }
        let c = compress(x, tx, tt, None)?;
        let d = &c.data;
        // CLV is linear in spend and margin: discount the purchases once per unique row.
        let factor = clv::clv(
            |t| model.conditional(&params, t, &d.x, &d.t_x, &d.t),
            &[1.0],
            1.0,
            horizon,
            discount_rate,
            unit_factor,
        )?;
        if !margin.is_finite() {
            return Err(CoreError::Argument {
                name: "margin".into(),
                message: "must be finite".into(),
            });
        }
        if spend.iter().any(|v| !v.is_finite()) {
            return Err(CoreError::Argument {
                name: "expected_spend".into(),
                message: "must be finite".into(),
            });
        }
        let factor = if factor.len() == d.x.len() {
            factor
        } else {
            vec![0.0; d.x.len()]
        };
        let mut per_customer = scatter(&factor, &c.index)?;
        per_customer
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v *= margin * if spend.len() == 1 { spend[0] } else { spend[i] });
        Ok(per_customer)
    })?;
    Ok(array(py, out))
}
