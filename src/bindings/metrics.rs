//! Bindings of the customer-base metrics: retention (growth accounting), cohorts and the
//! tracking of a purchase model, all built from the per customer-period activity of the log.
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;

use super::arrow_in::{self, Bounds, Fed, Roles};
use super::arrow_out::{
    batch, bool_column, f64_column, int_column, minor_money_column, money_kind,
    nullable_int_column, ratio_column,
};
use super::gil;
use crate::core::activity::{self, ActivityBuilder};
use crate::core::cohorts::{self as core_cohorts, CohortValue};
use crate::core::error::{CoreError, Result as CoreResult};
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
/// purchase (of `span`, first and last times in the log's unit, when given: the whole log's
/// span for a part of it); `period` is the period's start in the time column's unit.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, freq, scale, active_window, decimal, span=None))]
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
    span: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let roles = Roles::new(roles)?;
    let (stream, options) =
        activity_of(py, batches, &roles, rows, freq, scale, &Bounds::default())?;
    let table = gil::run(py, || {
        let activity = spanned(activity::finish(stream, &options)?, &options, span)?;
        core_retention::retention(&activity, active_window)
    })?;
    let periodizer = options.periodizer;
    let starts = (0..table.len())
        .map(|i| periodizer.period_start(table.first_period + i as i64))
        .collect();
    let money = roles.has_amount().then_some(options.scale);
    retention_batch(py, &table, starts, money, decimal)
}

/// The activity over `span` (first and last times), when given.
fn spanned(
    mut activity: activity::Activity,
    options: &Options,
    span: Option<(i64, i64)>,
) -> CoreResult<activity::Activity> {
    if let Some((first, last)) = span {
        let periodizer = options.periodizer;
        activity.set_span(periodizer.period(first), periodizer.period(last))?;
    }
    Ok(activity)
}

const RETENTION_MONEY: [&str; 7] = [
    "revenue",
    "new_revenue",
    "resurrected_revenue",
    "retained_revenue",
    "expansion_revenue",
    "contraction_revenue",
    "churned_revenue",
];

/// The retention result: period starts, counts, rates and (with `money_scale`) money.
fn retention_batch<'py>(
    py: Python<'py>,
    table: &core_retention::Retention,
    starts: Vec<i64>,
    money_scale: Option<u32>,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let n = table.len();
    let mut out = vec![
        int_column("period", starts),
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
    if let Some(scale) = money_scale {
        let columns = [
            &table.revenue,
            &table.new_revenue,
            &table.resurrected_revenue,
            &table.retained_revenue,
            &table.expansion_revenue,
            &table.contraction_revenue,
            &table.churned_revenue,
        ];
        for (name, values) in RETENTION_MONEY.iter().zip(columns) {
            let values: Vec<Option<i128>> = values.iter().map(|&v| Some(v)).collect();
            out.push(minor_money_column(
                name,
                &values,
                scale,
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

/// The retention table of a whole log from the tables of its parts (each made by
/// `retention` with `decimal=True` over the whole log's `span`, the parts sharing no
/// customer): counts and money are added exactly, then the rates computed once.
#[pyfunction]
pub fn retention_merge<'py>(
    py: Python<'py>,
    partials: Vec<PyRecordBatch>,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let mut merged: Option<(core_retention::Retention, Vec<i64>, Option<u32>)> = None;
    for partial in partials {
        let part = partial.into_inner();
        let starts: Vec<i64> = partial_ints(&part, "period")?
            .into_iter()
            .flatten()
            .collect();
        let counts = |name| -> CoreResult<Vec<i64>> {
            Ok(partial_ints(&part, name)?.into_iter().flatten().collect())
        };
        let mut table = core_retention::Retention {
            active: counts("active")?,
            new: counts("new")?,
            retained: counts("retained")?,
            resurrected: counts("resurrected")?,
            churned: counts("churned")?,
            ..Default::default()
        };
        let mut scale = None;
        if part.schema().index_of("revenue").is_ok() {
            let mut money = Vec::with_capacity(RETENTION_MONEY.len());
            for name in RETENTION_MONEY {
                let (values, s) = partial_minor(&part, name)?;
                scale = Some(s);
                money.push(values.into_iter().flatten().collect::<Vec<i128>>());
            }
            let mut money = money.into_iter();
            let mut next = || money.next().unwrap_or_default();
            table.revenue = next();
            table.new_revenue = next();
            table.resurrected_revenue = next();
            table.retained_revenue = next();
            table.expansion_revenue = next();
            table.contraction_revenue = next();
            table.churned_revenue = next();
        } else {
            let zeros = vec![0i128; starts.len()];
            table.revenue = zeros.clone();
            table.new_revenue = zeros.clone();
            table.resurrected_revenue = zeros.clone();
            table.retained_revenue = zeros.clone();
            table.expansion_revenue = zeros.clone();
            table.contraction_revenue = zeros.clone();
            table.churned_revenue = zeros;
        }
        merged = Some(match merged {
            None => (table, starts, scale),
            Some((mut all, all_starts, all_scale)) => {
                if all_starts != starts || all_scale != scale {
                    return Err(CoreError::argument(
                        "partials",
                        "retention tables over different periods or scales cannot be merged",
                    )
                    .into());
                }
                all.merge(&table)?;
                (all, all_starts, all_scale)
            }
        });
    }
    let (table, starts, scale) =
        merged.ok_or_else(|| CoreError::argument("partials", "no retention table to merge"))?;
    retention_batch(py, &table, starts, scale, decimal)
}

/// An int64 column of a partial result, nulls as `None`.
fn partial_ints(part: &RecordBatch, name: &str) -> CoreResult<Vec<Option<i64>>> {
    let column = partial_column(part, name)?;
    match column.as_primitive_opt::<Int64Type>() {
        Some(values) => Ok(values.iter().collect()),
        None => Err(CoreError::schema(name, "a partial count must be int64")),
    }
}

/// A decimal128 money column of a partial result (minor units, nulls as `None`) and its scale.
fn partial_minor(part: &RecordBatch, name: &str) -> CoreResult<(Vec<Option<i128>>, u32)> {
    let column = partial_column(part, name)?;
    match column.data_type() {
        DataType::Decimal128(_, scale) if *scale >= 0 => Ok((
            column.as_primitive::<Decimal128Type>().iter().collect(),
            *scale as u32,
        )),
        _ => Err(CoreError::schema(
            name,
            "partial money must be decimal128 (made with decimal=True)",
        )),
    }
}

fn partial_column<'a>(part: &'a RecordBatch, name: &str) -> CoreResult<&'a ArrayRef> {
    part.column_by_name(name)
        .ok_or_else(|| CoreError::schema(name, "missing from a partial result"))
}

/// Cohort matrix: columns `cohort` (period start), `cohort_size` and "0", "1", … (periods
/// since acquisition); cells not yet observable are null. `span` (first and last times in
/// the log's unit) sets the periods, the whole log's when this is a part of it.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, freq, scale, value, normalize, decimal, span=None))]
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
    span: Option<(i64, i64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let freq = Freq::parse(freq)?;
    let kind = CohortValue::parse(value)?;
    let roles = Roles::new(roles)?;
    // Python checks that money values come with an amount column, before reading the log.
    let (stream, options) =
        activity_of(py, batches, &roles, rows, freq, scale, &Bounds::default())?;
    let mut table = gil::run(py, || {
        let activity = spanned(activity::finish(stream, &options)?, &options, span)?;
        core_cohorts::cohorts(&activity, kind)
    })?;
    let periodizer = options.periodizer;
    table.periods = table
        .periods
        .iter()
        .map(|&p| periodizer.period_start(p))
        .collect();
    let shape = CohortShape::new(value, normalize)?;
    cohorts_batch(py, &table, shape, options.scale, decimal)
}

/// What a cohort matrix shows: the kind of cell, shares of the cohort, running means.
#[derive(Clone, Copy)]
struct CohortShape {
    kind: CohortValue,
    normalize: bool,
    cumulative: bool,
}

impl CohortShape {
    fn new(value: &str, normalize: bool) -> CoreResult<CohortShape> {
        Ok(CohortShape {
            kind: CohortValue::parse(value)?,
            normalize,
            cumulative: value == "cumulative_revenue_per_customer",
        })
    }
}

/// The cohort result of `table`, whose `periods` hold the cohorts' period starts.
fn cohorts_batch<'py>(
    py: Python<'py>,
    table: &core_cohorts::Cohorts,
    shape: CohortShape,
    scale: u32,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let mut out = vec![
        int_column("cohort", table.periods.iter().copied()),
        int_column("cohort_size", table.sizes.iter().map(|&s| s as i64)),
    ];
    let rows = table.periods.len();
    let money = money_kind(decimal);
    let mut running = vec![0i128; rows];
    for k in 0..table.width {
        let name = k.to_string();
        let cell = |i: usize| (k < table.observable[i]).then(|| table.row(i)[k]);
        let column = match shape.kind {
            CohortValue::Active if shape.normalize => ratio_column(
                &name,
                (0..rows)
                    .map(|i| cell(i).map(|v| v as f64 / table.sizes[i] as f64))
                    .collect(),
            ),
            CohortValue::Active | CohortValue::Orders => nullable_int_column(
                &name,
                (0..rows).map(|i| cell(i).map(|v| v as i64)).collect(),
            ),
            CohortValue::Revenue if shape.cumulative => {
                let values: Vec<Option<i128>> = (0..rows)
                    .map(|i| {
                        running[i] += table.row(i)[k];
                        (k < table.observable[i]).then(|| mean_minor(running[i], table.sizes[i]))
                    })
                    .collect();
                minor_money_column(&name, &values, scale + MEAN_EXTRA_SCALE, money)?
            }
            CohortValue::Revenue => {
                let values: Vec<Option<i128>> = (0..rows).map(cell).collect();
                minor_money_column(&name, &values, scale, money)?
            }
        };
        out.push(column);
    }
    batch(py, out)
}

/// The cohort matrix of a whole log from the matrices of its parts (each made by `cohorts`
/// with `value` "active", "revenue" or "orders", `normalize=False` and `decimal=True` over
/// the whole log's `span`, the parts sharing no customer); `value` and `normalize` then
/// shape the merged cells as `cohorts` would.
#[pyfunction]
pub fn cohorts_merge<'py>(
    py: Python<'py>,
    partials: Vec<PyRecordBatch>,
    value: &str,
    normalize: bool,
    decimal: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = CohortShape::new(value, normalize)?;
    let mut merged = core_cohorts::Cohorts::default();
    let mut scale = 0;
    for partial in partials {
        let part = partial.into_inner();
        let width = part.num_columns().saturating_sub(2);
        let rows = part.num_rows();
        let mut table = core_cohorts::Cohorts {
            periods: partial_ints(&part, "cohort")?
                .into_iter()
                .flatten()
                .collect(),
            sizes: partial_ints(&part, "cohort_size")?
                .into_iter()
                .flatten()
                .map(|s| s as u64)
                .collect(),
            observable: vec![width; rows],
            width,
            cells: vec![0; rows * width],
        };
        for k in 0..width {
            let name = k.to_string();
            let cells: Vec<Option<i128>> = if shape.kind == CohortValue::Revenue {
                let (cells, s) = partial_minor(&part, &name)?;
                scale = s;
                cells
            } else {
                partial_ints(&part, &name)?
                    .into_iter()
                    .map(|v| v.map(i128::from))
                    .collect()
            };
            for (i, cell) in cells.into_iter().enumerate() {
                match cell {
                    Some(v) => table.cells[i * width + k] = v,
                    None => table.observable[i] = table.observable[i].min(k),
                }
            }
        }
        merged = merged.merge(&table)?;
    }
    cohorts_batch(py, &merged, shape, scale, decimal)
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
