//! Bindings for the BTYD models: extract NumPy columns, call [`Model`] through the GIL gate,
//! return NumPy arrays. Which model predicts what, and when rows are compressed, is decided in
//! `crate::models::model`, not here.
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::gil;
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::period::{self, Freq};
use crate::models::gamma_gamma;
use crate::models::model::{ClvOptions, Fit, History, Model};
use crate::models::{rfm_violations as count_violations, sbg, FitOptions};

type Column<'py> = PyReadonlyArray1<'py, f64>;
type Floats<'py> = PyResult<Bound<'py, PyArray1<f64>>>;

fn slice<'a>(name: &str, array: &'a Column<'_>) -> CoreResult<&'a [f64]> {
    array
        .as_slice()
        .map_err(|_| CoreError::argument(name, "must be a contiguous float64 array"))
}

fn history<'a>(
    frequency: &'a Column<'_>,
    recency: &'a Column<'_>,
    age: &'a Column<'_>,
) -> CoreResult<History<'a>> {
    Ok(History::of(
        slice("frequency", frequency)?,
        slice("recency", recency)?,
        slice("T", age)?,
    ))
}

fn fit_dict<'py>(py: Python<'py>, fit: &Fit) -> PyResult<Bound<'py, PyDict>> {
    let result = &fit.result;
    let out = PyDict::new(py);
    out.set_item("param_names", result.param_names.to_vec())?;
    out.set_item("params", result.params.clone())?;
    out.set_item("log_likelihood", result.log_likelihood)?;
    out.set_item("standard_errors", result.standard_errors.clone())?;
    out.set_item("ci_lower", result.ci_lower.clone())?;
    out.set_item("ci_upper", result.ci_upper.clone())?;
    out.set_item("aic", result.aic)?;
    out.set_item("bic", result.bic)?;
    out.set_item("n_obs", result.n_obs)?;
    out.set_item("n_unique", result.n_unique)?;
    out.set_item("iterations", result.iterations)?;
    out.set_item("converged", result.converged)?;
    out.set_item("n_excluded", fit.excluded)?;
    Ok(out)
}

fn array(py: Python<'_>, values: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    values.into_pyarray(py)
}

/// Rows breaking the RFM contract by kind (equal-length columns): `nan`, `infinite` and
/// `negative` are per column (frequency, recency, T); `fractional_frequency`,
/// `recency_above_t` and `recency_without_repeats` are counts.
#[pyfunction]
pub fn rfm_violations<'py>(
    py: Python<'py>,
    frequency: Column<'py>,
    recency: Column<'py>,
    age: Column<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, tx, t) = (
        slice("frequency", &frequency)?,
        slice("recency", &recency)?,
        slice("T", &age)?,
    );
    let v = gil::run(py, || count_violations(x, tx, t))?;
    let out = PyDict::new(py);
    out.set_item("nan", v.nan.to_vec())?;
    out.set_item("infinite", v.infinite.to_vec())?;
    out.set_item("negative", v.negative.to_vec())?;
    out.set_item("fractional_frequency", v.fractional_frequency)?;
    out.set_item("recency_above_t", v.recency_above_t)?;
    out.set_item("recency_without_repeats", v.recency_without_repeats)?;
    Ok(out)
}

/// Maximum-likelihood fit on the model's columns (`Model::fit_columns`). Returns a dict of
/// the fit (`n_excluded`: Gamma-Gamma rows with frequency 0).
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
    let names = model
        .fit_columns()
        .iter()
        .chain(std::iter::repeat(&"column"));
    let columns = columns
        .iter()
        .zip(names)
        .map(|(column, name)| slice(name, column))
        .collect::<CoreResult<Vec<_>>>()?;
    let weights = weights.as_ref().map(|w| slice("weights", w)).transpose()?;
    let options = FitOptions {
        penalizer,
        max_iter,
        tol,
    };
    let fit = gil::run(py, || model.fit(&columns, weights, &options))?;
    fit_dict(py, &fit)
}

/// Expected purchases of a new customer by each `t` (BG/BB: in the first `t` opportunities).
#[pyfunction]
pub fn expected_purchases<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    t: Column<'py>,
) -> Floats<'py> {
    let model = Model::parse(model)?;
    let t = slice("t", &t)?;
    let out = gil::run(py, || model.expected_purchases(&params, t))?;
    Ok(array(py, out))
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
) -> Floats<'py> {
    let model = Model::parse(model)?;
    let h = history(&frequency, &recency, &age)?;
    let out = gil::run(py, || model.conditional_expected_purchases(&params, t, h))?;
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
) -> Floats<'py> {
    let model = Model::parse(model)?;
    let h = history(&frequency, &recency, &age)?;
    let out = gil::run(py, || model.p_alive(&params, h, t))?;
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
) -> Floats<'py> {
    let model = Model::parse(model)?;
    let (n, t) = (slice("n", &n)?, slice("t", &t)?);
    let out = gil::run(py, || model.probability_of_purchases(&params, n, t))?;
    Ok(array(py, out))
}

/// Gamma-Gamma: expected mean spend given frequency and mean repeat spend.
#[pyfunction]
pub fn conditional_expected_spend<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: Column<'py>,
    monetary_value: Column<'py>,
) -> Floats<'py> {
    let x = slice("frequency", &frequency)?;
    let m = slice("monetary_value", &monetary_value)?;
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
) -> Floats<'py> {
    let curve = sbg::Curve::parse(kind)?;
    let t = slice("t", &t)?;
    let out = gil::run(py, || curve.at(&params, t))?;
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

/// Model time units per `horizon_unit` period, for a model whose time unit is
/// `freq_multiplier` periods of `freq`.
#[pyfunction]
pub fn time_unit_factor(horizon_unit: &str, freq: &str, freq_multiplier: f64) -> PyResult<f64> {
    let horizon = Freq::parse(horizon_unit).map_err(|e| e.renamed("horizon_unit"))?;
    Ok(period::time_unit_factor(
        horizon,
        Freq::parse(freq)?,
        freq_multiplier,
    )?)
}

/// Discounted CLV per customer: `margin × spend × Σ_{i=1..H} ΔE[X(i)] / (1+d)^i`.
/// `unit_factor`: model time units per horizon period.
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
) -> Floats<'py> {
    let model = Model::parse(model)?;
    let h = history(&frequency, &recency, &age)?;
    let spend = slice("expected_spend", &expected_spend)?;
    let options = ClvOptions {
        margin,
        horizon,
        discount_rate,
        unit_factor,
    };
    let out = gil::run(py, || {
        model.customer_lifetime_value(&params, h, spend, &options)
    })?;
    Ok(array(py, out))
}
