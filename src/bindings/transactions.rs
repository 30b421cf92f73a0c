//! Bindings for the transaction-log functions: summary, calibration/holdout, KPIs.
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array};
use arrow_schema::{DataType, Field};
use pyo3::prelude::*;

use super::columns::{batch, f64_column, money_values, par_take, row_column, Named, Transactions};
use super::gil;
use crate::core::aggregate::{self, Aggregate};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::kpis::Kpis;
use crate::core::period::Freq;
use crate::core::summary::{self, Money, MoneyKind, MEAN_EXTRA_SCALE};

/// Per-customer RFM summary. Returns (batch, rows after observation_end).
#[pyfunction]
#[pyo3(signature = (customer, time, amount, order, *, freq, freq_multiplier, scale, observation_end, include_first, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn rfm_summary<'py>(
    py: Python<'py>,
    customer: Named,
    time: Named,
    amount: Option<Named>,
    order: Option<Named>,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    observation_end: Option<i64>,
    include_first: bool,
    decimal: bool,
) -> PyResult<(Bound<'py, PyAny>, u64)> {
    let freq = Freq::parse(freq)?;
    let transactions = Transactions::new(customer, time, amount, order, None)?;
    let (columns, mut options) = transactions.columns(freq, scale)?;
    options.end = observation_end;
    let with_money = columns.amounts.is_some();
    let (out, rows_after_end) = gil::run(py, || {
        let aggregate = aggregate::aggregate(&columns, &options)?;
        let end_period = summary::end_period(&aggregate, &options.periodizer, observation_end)?;
        let result = summary::rfm_summary(
            &aggregate,
            end_period,
            freq_multiplier,
            include_first,
            money_kind(decimal),
            options.scale,
        );
        let rows_after_end = aggregate.rows_after_end;
        drop(aggregate);
        check_money_digits(with_money, result.too_large, &options.amount_name)?;
        let scale = options.scale;
        let mean_scale = scale + MEAN_EXTRA_SCALE;
        // The ids and first/last purchase times of each customer, gathered from the arrays
        // the kernel read (Python uses them when those match the original column types).
        let (ids, times) = transactions.customer_and_time();
        let gathered = |name: &str, array: ArrayRef| {
            (Field::new(name, array.data_type().clone(), false), array)
        };
        let mut out = vec![
            gathered("ids", par_take(ids, &result.first_row)?),
            gathered("first_time", par_take(times, &result.min_row)?),
            gathered("last_time", par_take(times, &result.max_row)?),
            row_column("first_row", result.first_row),
            row_column("min_row", result.min_row),
            row_column("max_row", result.max_row),
            f64_column("frequency", result.frequency),
            f64_column("recency", result.recency),
            f64_column("T", result.t),
        ];
        push_money(
            &mut out,
            with_money,
            "monetary_value",
            result.monetary_value,
            mean_scale,
        )?;
        out.push((
            Field::new("n_orders", DataType::Int64, false),
            Arc::new(Int64Array::from(result.n_orders)) as ArrayRef,
        ));
        push_money(&mut out, with_money, "revenue", result.revenue, scale)?;
        push_money(&mut out, with_money, "aov", result.aov, mean_scale)?;
        Ok((out, rows_after_end))
    })?;
    Ok((batch(py, out)?, rows_after_end))
}

/// Calibration/holdout table. Returns (batch, rows after observation_end, customers first
/// seen in the holdout, duration_holdout).
#[pyfunction]
#[pyo3(signature = (customer, time, amount, order, *, freq, freq_multiplier, scale, calibration_end, observation_end, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn calibration_holdout<'py>(
    py: Python<'py>,
    customer: Named,
    time: Named,
    amount: Option<Named>,
    order: Option<Named>,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    calibration_end: i64,
    observation_end: Option<i64>,
    decimal: bool,
) -> PyResult<(Bound<'py, PyAny>, u64, u64, f64)> {
    let freq = Freq::parse(freq)?;
    let transactions = Transactions::new(customer, time, amount, order, None)?;
    let (columns, mut options) = transactions.columns(freq, scale)?;
    options.end = observation_end;
    options.split = Some(options.periodizer.period(calibration_end));
    let with_money = columns.amounts.is_some();
    let (out, rows_after_end, holdout_only, duration_holdout) = gil::run(py, || {
        let aggregate = aggregate::aggregate(&columns, &options)?;
        let end_period = summary::end_period(&aggregate, &options.periodizer, observation_end)?;
        let split = options.split.unwrap_or(end_period);
        let result = summary::calibration_holdout(
            &aggregate,
            split,
            end_period,
            freq_multiplier,
            money_kind(decimal),
            options.scale,
        )?;
        let rows_after_end = aggregate.rows_after_end;
        drop(aggregate);
        check_money_digits(with_money, result.too_large, &options.amount_name)?;
        let scale = options.scale + MEAN_EXTRA_SCALE;
        let n = result.first_row.len();
        let mut out = vec![
            row_column("first_row", result.first_row),
            f64_column("frequency_cal", result.frequency_cal),
            f64_column("recency_cal", result.recency_cal),
            f64_column("T_cal", result.t_cal),
        ];
        push_money(
            &mut out,
            with_money,
            "monetary_value_cal",
            result.monetary_value_cal,
            scale,
        )?;
        out.push(f64_column("frequency_holdout", result.frequency_holdout));
        push_money(
            &mut out,
            with_money,
            "monetary_value_holdout",
            result.monetary_value_holdout,
            scale,
        )?;
        out.push(f64_column(
            "duration_holdout",
            vec![result.duration_holdout; n],
        ));
        Ok((
            out,
            rows_after_end,
            result.holdout_only,
            result.duration_holdout,
        ))
    })?;
    Ok((
        batch(py, out)?,
        rows_after_end,
        holdout_only,
        duration_holdout,
    ))
}

/// Adds a money column when the call has amounts.
fn push_money(
    out: &mut Vec<(Field, ArrayRef)>,
    with_money: bool,
    name: &str,
    values: Money,
    scale: u32,
) -> CoreResult<()> {
    if with_money {
        out.push(money_values(name, values, scale)?);
    }
    Ok(())
}

fn money_kind(decimal: bool) -> MoneyKind {
    if decimal {
        MoneyKind::Minor
    } else {
        MoneyKind::Float
    }
}

/// Raises when some per-customer money needs more than the 38 digits of a decimal result.
fn check_money_digits(with_money: bool, too_large: u64, amount_name: &str) -> CoreResult<()> {
    if with_money && too_large > 0 {
        return Err(CoreError::Data {
            column: amount_name.into(),
            message: "per-customer money overflows 38 decimal digits".into(),
            rows: too_large,
        });
    }
    Ok(())
}

/// (customers, orders, revenue, repeat customers, cost, money scale, rows outside the window).
type KpiTotals = (u64, u64, i128, u64, Option<i128>, u32, u64);

/// KPI totals over [start, end]: (customers, orders, revenue, repeat customers, cost, scale,
/// rows outside the window).
#[pyfunction]
#[pyo3(signature = (customer, time, amount, order, cost, *, scale, start, end))]
#[allow(clippy::too_many_arguments)]
pub fn kpis(
    py: Python<'_>,
    customer: Named,
    time: Named,
    amount: Option<Named>,
    order: Option<Named>,
    cost: Option<Named>,
    scale: u32,
    start: Option<i64>,
    end: Option<i64>,
) -> PyResult<KpiTotals> {
    let transactions = Transactions::new(customer, time, amount, order, cost)?;
    let (columns, mut options) = transactions.columns(Freq::Day, scale)?;
    options.start = start;
    options.end = end;
    let with_cost = columns.costs.is_some();
    let (kpis, outside) = gil::run(py, || {
        let aggregate: Aggregate = aggregate::aggregate(&columns, &options)?;
        let outside = aggregate.rows_before_start + aggregate.rows_after_end;
        Ok((Kpis::from_aggregate(&aggregate, with_cost), outside))
    })?;
    Ok((
        kpis.customers,
        kpis.orders,
        kpis.revenue,
        kpis.repeat_customers,
        kpis.cost,
        options.scale,
        outside,
    ))
}
