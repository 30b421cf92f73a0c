//! Bindings of the customer-base metrics: retention (growth accounting), cohorts and the
//! tracking of a purchase model, all built from the per customer-period activity of the log.
use std::collections::HashMap;

use pyo3::prelude::*;

use super::arrow_in::{self, Bounds, Fed, Roles};
use super::arrow_out::{
    batch, bool_column, f64_column, int_column, minor_money_column, money_kind,
    nullable_int_column, ratio_column,
};
use super::gil;
use crate::core::activity::{self, ActivityBuilder};
use crate::core::cohorts::{self as core_cohorts, CohortValue};
use crate::core::error::CoreError;
use crate::core::log::Options;
use crate::core::money::{mean_minor, MEAN_EXTRA_SCALE};
use crate::core::partition::Stream;
use crate::core::period::Freq;
use crate::core::retention as core_retention;
use crate::core::tracking;
use crate::models::model::Model;
use crate::models::tracking::expected_cumulative;

/// The batches fed into a customer-period activity stream, and their options.
fn activity_of(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    roles: &Roles,
    rows: usize,
    freq: Freq,
    scale: u32,
    bounds: &Bounds,
) -> PyResult<(Stream<ActivityBuilder>, Options)> {
    let mut stream = Stream::new(rows);
    match arrow_in::feed(py, batches, roles, &mut stream, freq, scale, bounds)? {
        Fed::Taken(options, _) => Ok((stream, options)),
        // An activity builder takes rows in any order.
        Fed::OutOfOrder => Err(CoreError::argument("data", "the activity refused a batch").into()),
    }
}

/// Growth accounting per period: one row per calendar period from the first to the last
/// purchase; `period` is the period's start in the time column's unit.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, freq, scale, active_window, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn retention<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    roles: HashMap<String, String>,
    rows: usize,
    freq: &str,
    scale: u32,
    active_window: u32,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let roles = Roles::new(roles)?;
    let (stream, options) =
        activity_of(py, batches, &roles, rows, freq, scale, &Bounds::default())?;
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
        bool_column("partial", (0..n).map(|i| i == 0 || i + 1 == n).collect()),
        int_column("active", table.active.iter().copied()),
        int_column("new", table.new.iter().copied()),
        int_column("retained", table.retained.iter().copied()),
        int_column("resurrected", table.resurrected.iter().copied()),
        int_column("churned", table.churned.iter().copied()),
        ratio_column("retention_rate", table.retention_rate()),
        ratio_column("churn_rate", table.churn_rate()),
        ratio_column("quick_ratio", table.quick_ratio()),
    ];
    if roles.has_amount() {
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
            let values: Vec<Option<i128>> = values.iter().map(|&v| Some(v)).collect();
            out.push(minor_money_column(
                name,
                &values,
                options.scale,
                money_kind(decimal),
            )?);
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
#[pyo3(signature = (batches, roles, *, rows, freq, scale, value, normalize, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn cohorts<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    roles: HashMap<String, String>,
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
    let roles = Roles::new(roles)?;
    // Python checks that money values come with an amount column, before reading the log.
    let (stream, options) =
        activity_of(py, batches, &roles, rows, freq, scale, &Bounds::default())?;
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
    let money = money_kind(decimal);
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
            CohortValue::Active | CohortValue::Orders => nullable_int_column(
                &name,
                (0..rows).map(|i| cell(i).map(|v| v as i64)).collect(),
            ),
            CohortValue::Revenue if cumulative => {
                let values: Vec<Option<i128>> = (0..rows)
                    .map(|i| {
                        running[i] += table.row(i)[k];
                        (k < table.observable[i]).then(|| mean_minor(running[i], table.sizes[i]))
                    })
                    .collect();
                let scale = options.scale + MEAN_EXTRA_SCALE;
                minor_money_column(&name, &values, scale, money)?
            }
            CohortValue::Revenue => {
                let values: Vec<Option<i128>> = (0..rows).map(cell).collect();
                minor_money_column(&name, &values, options.scale, money)?
            }
        };
        out.push(column);
    }
    batch(py, out)
}

/// Tracking of a purchase model: one row every `step` periods for the first `periods` periods
/// from the first purchase period. Row k covers periods `0..k × step` (counted from the first):
/// `actual` = repeat purchases in them (null once they reach past the period of
/// `observation_end`, default the last purchase), `predicted` = Σ over customers of the model's
/// expected purchases from their entry to the row's end (`unit_factor`: model time units per
/// period); `period` is the start of the row's last period.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, freq, observation_end, model, params, unit_factor, periods, step))]
#[allow(clippy::too_many_arguments)]
pub fn expected_cumulative_transactions<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    roles: HashMap<String, String>,
    rows: usize,
    freq: &str,
    observation_end: Option<i64>,
    model: &str,
    params: Vec<f64>,
    unit_factor: f64,
    periods: usize,
    step: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let model = Model::parse(model)?;
    if step == 0 {
        return Err(CoreError::argument("freq_multiplier", "must be at least 1").into());
    }
    let roles = Roles::new(roles)?;
    let bounds = Bounds {
        end: observation_end,
        ..Bounds::default()
    };
    let (stream, options) = activity_of(py, batches, &roles, rows, freq, 0, &bounds)?;
    let periodizer = options.periodizer;
    let (entries, end_period, predicted) = gil::run(py, || {
        let activity = activity::finish(stream, &options)?;
        let entries = tracking::entries(&activity)?;
        let end_period = observation_end
            .map(|end| periodizer.period(end))
            .or(activity.max_period);
        let boundaries: Vec<usize> = if entries.is_empty() {
            Vec::new()
        } else {
            (1..=periods / step).map(|k| k * step).collect()
        };
        let predicted =
            expected_cumulative(model, &params, &entries.entering, &boundaries, unit_factor)?;
        Ok((entries, end_period, predicted))
    })?;
    let n = predicted.len();
    // The last period of row k, counted from the first period.
    let last = |k: usize| entries.first_period + ((k + 1) * step) as i64 - 1;
    let actual: Vec<Option<i64>> = (0..n)
        .map(|k| {
            let observed = end_period.is_some_and(|end| last(k) <= end);
            observed.then(|| entries.repeats_before((k + 1) * step) as i64)
        })
        .collect();
    let actual_incremental = (0..n)
        .map(|k| match (actual[k], k.checked_sub(1).map(|j| actual[j])) {
            (Some(now), Some(Some(before))) => Some(now - before),
            (Some(now), None) => Some(now),
            _ => None,
        })
        .collect();
    let predicted_incremental = (0..n)
        .map(|k| predicted[k] - if k == 0 { 0.0 } else { predicted[k - 1] })
        .collect();
    batch(
        py,
        vec![
            int_column("period", (0..n).map(|k| periodizer.period_start(last(k)))),
            nullable_int_column("actual", actual),
            f64_column("predicted", predicted),
            nullable_int_column("actual_incremental", actual_incremental),
            f64_column("predicted_incremental", predicted_incremental),
        ],
    )
}
