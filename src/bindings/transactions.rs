//! Bindings for the transaction-log functions: summary, calibration/holdout, KPIs.
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyRecordBatch};

use super::errors::CustvalError;
use super::gil;
use super::input::{self, NamedArray};
use crate::core::aggregate::{self, Aggregate, Columns, Options};
use crate::core::kpis::Kpis;
use crate::core::money;
use crate::core::period::{Freq, Periodizer};
use crate::core::summary::{self, MEAN_EXTRA_SCALE};

/// The transaction columns of one call, validated.
struct Transactions {
    customer: NamedArray,
    time: NamedArray,
    amount: Option<NamedArray>,
    order: Option<NamedArray>,
    cost: Option<NamedArray>,
}

type Named = (String, PyArray);

impl Transactions {
    fn new(
        customer: Named,
        time: Named,
        amount: Option<Named>,
        order: Option<Named>,
        cost: Option<Named>,
    ) -> PyResult<Self> {
        let named = |(name, array): Named| NamedArray::new(name, array);
        Ok(Transactions {
            customer: named(customer)?,
            time: named(time)?,
            amount: amount.map(named).transpose()?,
            order: order.map(named).transpose()?,
            cost: cost.map(named).transpose()?,
        })
    }

    /// Borrowed columns, the options and the money scale actually used.
    fn columns(&self, freq: Freq, scale: u32) -> PyResult<(Columns<'_>, Options)> {
        let (times, unit) = input::times(&self.time)?;
        let amounts = self
            .amount
            .as_ref()
            .map(|a| input::amounts(a, scale))
            .transpose()?;
        let scale = amounts.map_or(scale, |(_, s)| s);
        let costs = self
            .cost
            .as_ref()
            .map(|c| input::amounts(c, scale))
            .transpose()?;
        if let (Some(name), Some((_, cost_scale))) = (&self.cost, costs) {
            if cost_scale != scale {
                return Err(input_error(
                    &name.name,
                    "cost scale differs from the amount scale",
                ));
            }
        }
        let columns = Columns {
            ids: input::ids(&self.customer)?,
            times,
            amounts: amounts.map(|(a, _)| a),
            orders: self.order.as_ref().map(input::order_codes).transpose()?,
            costs: costs.map(|(c, _)| c),
        };
        let options = Options {
            periodizer: Periodizer::new(freq, unit),
            scale,
            start: None,
            end: None,
            split: None,
            amount_name: self
                .amount
                .as_ref()
                .map_or_else(String::new, |a| a.name.clone()),
            cost_name: self
                .cost
                .as_ref()
                .map_or_else(String::new, |c| c.name.clone()),
        };
        Ok((columns, options))
    }
}

fn input_error(column: &str, message: &str) -> PyErr {
    super::errors::schema_error(column, message)
}

fn arrow_error(err: ArrowError) -> PyErr {
    CustvalError::new_err(format!("building the result failed: {err}"))
}

fn f64_column(name: &str, values: Vec<f64>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::Float64, false),
        Arc::new(Float64Array::from(values)),
    )
}

fn row_column(name: &str, values: Vec<u32>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::UInt32, false),
        Arc::new(UInt32Array::from(values)),
    )
}

/// Money in minor units at `scale` as decimal128(38, scale) or float64.
fn money_column(
    name: &str,
    values: Vec<i128>,
    scale: u32,
    decimal: bool,
) -> PyResult<(Field, ArrayRef)> {
    let limit = money::pow10(38);
    let too_large = values
        .iter()
        .filter(|v| v.unsigned_abs() >= limit as u128)
        .count();
    if too_large > 0 {
        return Err(super::errors::DataError::new_err(format!(
            "column '{name}': {too_large} totals overflow 38 decimal digits"
        )));
    }
    if decimal {
        let array = Decimal128Array::from(values)
            .with_precision_and_scale(38, scale as i8)
            .map_err(arrow_error)?;
        let field = Field::new(name, array.data_type().clone(), false);
        Ok((field, Arc::new(array)))
    } else {
        let floats = values
            .into_iter()
            .map(|v| money::to_f64(v, scale))
            .collect();
        Ok(f64_column(name, floats))
    }
}

/// A pyarrow RecordBatch of the columns.
fn batch(py: Python<'_>, columns: Vec<(Field, ArrayRef)>) -> PyResult<Bound<'_, PyAny>> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow_error)?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}

fn check_scale(scale: u32) -> PyResult<()> {
    if scale > 18 {
        return Err(CustvalError::new_err(format!(
            "scale must be between 0 and 18, got {scale}"
        )));
    }
    Ok(())
}

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
    check_scale(scale)?;
    let freq = Freq::parse(freq)?;
    let transactions = Transactions::new(customer, time, amount, order, None)?;
    let (columns, mut options) = transactions.columns(freq, scale)?;
    options.end = observation_end;
    let (result, end_period, rows_after_end) = gil::run(py, || {
        let aggregate = aggregate::aggregate(&columns, &options)?;
        let end_period = summary::end_period(&aggregate, &options.periodizer, observation_end)?;
        let result = summary::rfm_summary(&aggregate, end_period, freq_multiplier, include_first);
        Ok((result, end_period, aggregate.rows_after_end))
    })?;
    let _ = end_period;
    let scale = options.scale;
    let mut out = vec![
        row_column("first_row", result.first_row),
        row_column("min_row", result.min_row),
        row_column("max_row", result.max_row),
        f64_column("frequency", result.frequency),
        f64_column("recency", result.recency),
        f64_column("T", result.t),
    ];
    if columns.amounts.is_some() {
        out.push(money_column(
            "monetary_value",
            result.monetary_value,
            scale + MEAN_EXTRA_SCALE,
            decimal,
        )?);
    }
    out.push((
        Field::new("n_orders", DataType::Int64, false),
        Arc::new(Int64Array::from_iter_values(
            result.n_orders.iter().map(|&n| n as i64),
        )),
    ));
    if columns.amounts.is_some() {
        out.push(money_column("revenue", result.revenue, scale, decimal)?);
        out.push(money_column(
            "aov",
            result.aov,
            scale + MEAN_EXTRA_SCALE,
            decimal,
        )?);
    }
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
    check_scale(scale)?;
    let freq = Freq::parse(freq)?;
    let transactions = Transactions::new(customer, time, amount, order, None)?;
    let (columns, mut options) = transactions.columns(freq, scale)?;
    options.end = observation_end;
    options.split = Some(options.periodizer.period(calibration_end));
    let (result, rows_after_end) = gil::run(py, || {
        let aggregate = aggregate::aggregate(&columns, &options)?;
        let end_period = summary::end_period(&aggregate, &options.periodizer, observation_end)?;
        let split = options.split.unwrap_or(end_period);
        let result = summary::calibration_holdout(&aggregate, split, end_period, freq_multiplier)?;
        Ok((result, aggregate.rows_after_end))
    })?;
    let scale = options.scale + MEAN_EXTRA_SCALE;
    let mut out = vec![
        row_column("first_row", result.first_row),
        f64_column("frequency_cal", result.frequency_cal),
        f64_column("recency_cal", result.recency_cal),
        f64_column("T_cal", result.t_cal),
    ];
    if columns.amounts.is_some() {
        out.push(money_column(
            "monetary_value_cal",
            result.monetary_value_cal,
            scale,
            decimal,
        )?);
    }
    out.push(f64_column("frequency_holdout", result.frequency_holdout));
    if columns.amounts.is_some() {
        out.push(money_column(
            "monetary_value_holdout",
            result.monetary_value_holdout,
            scale,
            decimal,
        )?);
    }
    let n = out[0].1.len();
    out.push(f64_column(
        "duration_holdout",
        vec![result.duration_holdout; n],
    ));
    Ok((
        batch(py, out)?,
        rows_after_end,
        result.holdout_only,
        result.duration_holdout,
    ))
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
    check_scale(scale)?;
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
