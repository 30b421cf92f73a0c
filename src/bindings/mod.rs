//! The pyo3 module `custval._native`: extraction, one call into the core, conversion.
//!
//! `errors` (the exception tree and the one conversion from `CoreError`), `gil` (the one way
//! to run core work), `arrow_in` / `arrow_out` (Arrow across the boundary), then one thin file
//! per public area: `summary`, `metrics`, `models`, `baskets`.
use pyo3::prelude::*;

mod arrow_in;
mod arrow_out;
mod baskets;
mod errors;
mod gil;
mod metrics;
mod models;
mod summary;

/// The extension's allocator: large blocks (results, working columns) are kept for the next
/// call rather than unmapped, so repeated calls skip the page faults of fresh memory (see
/// `core::recycling`); small ones go to the system allocator as before.
#[global_allocator]
static ALLOCATOR: crate::core::recycling::Recycling = crate::core::recycling::Recycling;

/// Sets the size of custval's thread pool.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    gil::set_num_threads(n)
}

/// The size of custval's thread pool.
#[pyfunction]
fn get_num_threads() -> PyResult<usize> {
    gil::num_threads()
}

/// Hands the large blocks kept for reuse back to the system; returns their bytes.
#[pyfunction]
fn release_memory() -> usize {
    crate::core::recycling::release()
}

/// Whether this extension was compiled with optimisations.
#[pyfunction]
fn is_release_build() -> bool {
    !cfg!(debug_assertions)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CustvalError", py.get_type::<errors::CustvalError>())?;
    m.add(
        "ColumnNotFoundError",
        py.get_type::<errors::ColumnNotFoundError>(),
    )?;
    m.add("ArgumentError", py.get_type::<errors::ArgumentError>())?;
    m.add("SchemaError", py.get_type::<errors::SchemaError>())?;
    m.add("DataError", py.get_type::<errors::DataError>())?;
    m.add(
        "ConvergenceError",
        py.get_type::<errors::ConvergenceError>(),
    )?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(is_release_build, m)?)?;
    m.add_function(wrap_pyfunction!(release_memory, m)?)?;
    m.add_class::<arrow_out::LogTable>()?;
    m.add_class::<arrow_out::KpiTotals>()?;
    m.add_class::<arrow_out::OutOfOrder>()?;
    m.add_function(wrap_pyfunction!(summary::rfm_summary, m)?)?;
    m.add_function(wrap_pyfunction!(summary::calibration_holdout, m)?)?;
    m.add_function(wrap_pyfunction!(summary::kpis, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::retention, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::cohorts, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::retention_merge, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::cohorts_merge, m)?)?;
    m.add_function(wrap_pyfunction!(summary::kpis_merge, m)?)?;
    m.add_function(wrap_pyfunction!(
        metrics::expected_cumulative_transactions,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(baskets::id_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(baskets::id_span, m)?)?;
    m.add_function(wrap_pyfunction!(baskets::basket_kpis, m)?)?;
    m.add_function(wrap_pyfunction!(baskets::affinity, m)?)?;
    m.add_function(wrap_pyfunction!(baskets::next_purchase, m)?)?;
    m.add_function(wrap_pyfunction!(baskets::recommend, m)?)?;
    m.add_function(wrap_pyfunction!(models::fit_model, m)?)?;
    m.add_function(wrap_pyfunction!(models::rfm_violations, m)?)?;
    m.add_function(wrap_pyfunction!(models::expected_purchases, m)?)?;
    m.add_function(wrap_pyfunction!(models::conditional_expected_purchases, m)?)?;
    m.add_function(wrap_pyfunction!(models::p_alive, m)?)?;
    m.add_function(wrap_pyfunction!(models::probability_of_purchases, m)?)?;
    m.add_function(wrap_pyfunction!(models::conditional_expected_spend, m)?)?;
    m.add_function(wrap_pyfunction!(models::sbg_curve, m)?)?;
    m.add_function(wrap_pyfunction!(models::sbg_expected_lifetime, m)?)?;
    m.add_function(wrap_pyfunction!(models::time_unit_factor, m)?)?;
    m.add_function(wrap_pyfunction!(models::customer_lifetime_value, m)?)?;
    Ok(())
}
