//! Bindings for the customer-base metrics: retention (growth accounting) and cohorts.
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use arrow_schema::{DataType, Field};
use pyo3::prelude::*;

use super::columns::{batch, money_column};
use super::errors::CustvalError;
use super::gil;
use super::transactions::feed_batches;
use crate::core::activity::{self, ActivityBuilder};
use crate::core::aggregate::{Options, Stream};
use crate::core::cohorts::{self as core_cohorts, CohortValue};
use crate::core::period::Freq;
use crate::core::retention as core_retention;
use crate::core::summary::{mean_minor, MEAN_EXTRA_SCALE};

fn int_column(name: &str, values: impl IntoIterator<Item = i64>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::Int64, false),
        Arc::new(Int64Array::from_iter_values(values)),
    )
}

fn ratio_column(name: &str, values: Vec<Option<f64>>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::Float64, true),
        Arc::new(Float64Array::from(values)),
    )
}

/// The batches fed into a customer-period activity stream, their options and whether they
/// have amounts.
fn activity_of(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    rows: usize,
    freq: Freq,
    scale: u32,
) -> PyResult<(Stream<ActivityBuilder>, Options, bool)> {
    let mut stream = Stream::new(rows);
    let (options, (_, _, amount_type)) =
        feed_batches(py, batches, &mut stream, freq, scale, |_| {})?
            .ok_or_else(|| CustvalError::new_err("the activity stream refused a batch"))?;
    Ok((stream, options, amount_type.is_some()))
}

/// Growth accounting per period: one row per calendar period from the first to the last
/// purchase; `period` is the period's start in the time column's unit.
#[pyfunction]
#[pyo3(signature = (batches, *, rows, freq, scale, active_window, decimal))]
pub fn retention<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    rows: usize,
    freq: &str,
    scale: u32,
    active_window: u32,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let (stream, options, with_money) = activity_of(py, batches, rows, freq, scale)?;
    let table = gil::run(py, || {
        let activity = activity::finish(stream, &options)?;
        core_retention::retention(&activity, active_window)
    })?;
    let n = table.len();
    let periodizer = options.periodizer;
    let mut out = vec![
        int_column(
            "period",
            (0..n).map(|i| periodizer.period_start(table.first_period + i as i64)),
        ),
        (
            Field::new("partial", DataType::Boolean, false),
            Arc::new(BooleanArray::from(
                (0..n).map(|i| i == 0 || i + 1 == n).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        int_column("active", table.active.iter().copied()),
        int_column("new", table.new.iter().copied()),
        int_column("retained", table.retained.iter().copied()),
        int_column("resurrected", table.resurrected.iter().copied()),
        int_column("churned", table.churned.iter().copied()),
        ratio_column("retention_rate", table.retention_rate()),
        ratio_column("churn_rate", table.churn_rate()),
        ratio_column("quick_ratio", table.quick_ratio()),
    ];
    if with_money {
        let scale = options.scale;
        let money = [
            ("revenue", &table.revenue),
            ("new_revenue", &table.new_revenue),
            ("resurrected_revenue", &table.resurrected_revenue),
            ("retained_revenue", &table.retained_revenue),
            ("expansion_revenue", &table.expansion_revenue),
            ("contraction_revenue", &table.contraction_revenue),
            ("churned_revenue", &table.churned_revenue),
        ];
        for (name, values) in money {
            let values = values.iter().map(|&v| Some(v)).collect();
            out.push(money_column(name, values, scale, decimal)?);
        }
        out.push(ratio_column(
            "net_revenue_retention",
            table.net_revenue_retention(),
        ));
        out.push(ratio_column(
            "revenue_quick_ratio",
            table.revenue_quick_ratio(),
        ));
    }
    batch(py, out)
}

/// Cohort matrix: columns `cohort` (period start), `cohort_size` and "0", "1", … (periods
/// since acquisition); cells not yet observable are null.
#[pyfunction]
#[pyo3(signature = (batches, *, rows, freq, scale, value, normalize, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn cohorts<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    rows: usize,
    freq: &str,
    scale: u32,
    value: &str,
    normalize: bool,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let kind = CohortValue::parse(value)?;
    let cumulative = value == "cumulative_revenue_per_customer";
    // Python checks that money values come with an amount column, before reading the log.
    let (stream, options, _) = activity_of(py, batches, rows, freq, scale)?;
    let table = gil::run(py, || {
        let activity = activity::finish(stream, &options)?;
        core_cohorts::cohorts(&activity, kind)
    })?;
    let periodizer = options.periodizer;
    let mut out = vec![
        int_column(
            "cohort",
            table.periods.iter().map(|&p| periodizer.period_start(p)),
        ),
        int_column("cohort_size", table.sizes.iter().map(|&s| s as i64)),
    ];
    let rows = table.periods.len();
    let mut running = vec![0i128; rows];
    for k in 0..table.width {
        let name = k.to_string();
        let cell = |i: usize| (k < table.observable[i]).then(|| table.row(i)[k]);
        let column = match kind {
            CohortValue::Active if normalize => ratio_column(
                &name,
                (0..rows)
                    .map(|i| cell(i).map(|v| v as f64 / table.sizes[i] as f64))
                    .collect(),
            ),
            CohortValue::Active | CohortValue::Orders => (
                Field::new(&name, DataType::Int64, true),
                Arc::new(Int64Array::from(
                    (0..rows)
                        .map(|i| cell(i).map(|v| v as i64))
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            CohortValue::Revenue if cumulative => {
                let values = (0..rows)
                    .map(|i| {
                        running[i] += table.row(i)[k];
                        (k < table.observable[i]).then(|| mean_minor(running[i], table.sizes[i]))
                    })
                    .collect();
                money_column(&name, values, options.scale + MEAN_EXTRA_SCALE, decimal)?
            }
            CohortValue::Revenue => {
                money_column(&name, (0..rows).map(cell).collect(), options.scale, decimal)?
            }
        };
        out.push(column);
    }
    batch(py, out)
}
