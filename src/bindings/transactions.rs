//! Bindings for the transaction-log functions: summary, calibration/holdout, KPIs.
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array};
use arrow_schema::{DataType, Field};
use pyo3::prelude::*;

use super::columns::{
    batch, f64_column, id_column, money_values, row_column, time_column, Named, Transactions,
};
use super::errors::CustvalError;
use super::gil;
use crate::core::aggregate::{self, Aggregate, Consumer, Options, Stream};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::kpis::Kpis;
use crate::core::period::Freq;
use crate::core::summary::{self, Money, MoneyKind, MEAN_EXTRA_SCALE};

/// The per-customer state of a log given as batches, and what its output needs.
struct Fed {
    aggregate: Aggregate,
    options: Options,
    /// Types of the customer and (local) time arrays the kernel read.
    id_type: DataType,
    time_type: DataType,
    with_money: bool,
    with_cost: bool,
}

/// Types of the customer, time and amount arrays of a batch.
pub(super) type Types = (DataType, DataType, Option<DataType>);

/// One batch of columns as Python passes it: customer, time, amount, order, cost.
type Batch = (Named, Named, Option<Named>, Option<Named>, Option<Named>);

/// Feeds the batches Python yields (one table, or the record batches of files) to `stream`,
/// each in turn and dropped before the next is read. Returns the first batch's options and
/// column types, or `None` when the stream could not take the rows in their order.
pub(super) fn feed_batches<P: Consumer>(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    stream: &mut Stream<P>,
    freq: Freq,
    scale: u32,
    window: impl Fn(&mut Options),
) -> PyResult<Option<(Options, Types)>> {
    let mut first: Option<(Options, Types)> = None;
    for batch in batches.try_iter()? {
        let transactions = transactions_of(&batch?)?;
        let (columns, mut options) = transactions.columns(freq, scale)?;
        window(&mut options);
        let types = transactions.types();
        match &first {
            None => first = Some((options.clone(), types.clone())),
            Some((_, (_, time_type, amount_type))) => {
                if (time_type, amount_type) != (&types.1, &types.2) {
                    return Err(CustvalError::new_err(
                        "record batches differ in their time or amount types",
                    ));
                }
            }
        }
        if !gil::run(py, || stream.feed(&columns, &options))? {
            return Ok(None);
        }
    }
    first
        .map(Some)
        .ok_or_else(|| CustvalError::new_err("no batch of transactions was given"))
}

fn transactions_of(batch: &Bound<'_, PyAny>) -> PyResult<Transactions> {
    let (customer, time, amount, order, cost): Batch = batch.extract()?;
    Transactions::new(customer, time, amount, order, cost)
}

/// Aggregates the batches. `None` when they are not in period order within customers: only
/// the whole log read at once, passed as one batch with `unordered`, can summarise them.
fn aggregate_batches(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    rows: usize,
    unordered: bool,
    freq: Freq,
    scale: u32,
    window: impl Fn(&mut Options),
) -> PyResult<Option<Fed>> {
    if unordered {
        let mut batches = batches.try_iter()?;
        let (Some(batch), None) = (batches.next(), batches.next()) else {
            return Err(CustvalError::new_err("an unordered log comes as one batch"));
        };
        let transactions = transactions_of(&batch?)?;
        let (columns, mut options) = transactions.columns(freq, scale)?;
        window(&mut options);
        let aggregate = gil::run(py, || aggregate::aggregate_unordered(&columns, &options))?;
        return Ok(Some(Fed::new(aggregate, options, transactions.types())));
    }
    let mut stream: Stream = Stream::new(rows);
    let Some((options, types)) = feed_batches(py, batches, &mut stream, freq, scale, window)?
    else {
        return Ok(None);
    };
    let aggregate = gil::run(py, || stream.finish(&options))?;
    Ok(Some(Fed::new(aggregate, options, types)))
}

impl Fed {
    fn new(
        aggregate: Aggregate,
        options: Options,
        (id_type, time_type, amount_type): Types,
    ) -> Fed {
        Fed {
            aggregate,
            with_money: amount_type.is_some(),
            with_cost: !options.cost_name.is_empty(),
            options,
            id_type,
            time_type,
        }
    }
}

/// (batch, rows after observation_end, latest time used).
type SummaryOut<'py> = (Bound<'py, PyAny>, u64, Option<i64>);

/// Per-customer RFM summary of the batches. Returns (batch, rows after observation_end,
/// latest time used), or `None` when the batches are out of period order.
#[pyfunction]
#[pyo3(signature = (batches, *, rows, unordered, freq, freq_multiplier, scale, observation_end, include_first, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn rfm_summary<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    rows: usize,
    unordered: bool,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    observation_end: Option<i64>,
    include_first: bool,
    decimal: bool,
) -> PyResult<Option<SummaryOut<'py>>> {
    let freq = Freq::parse(freq)?;
    let window = |options: &mut Options| options.end = observation_end;
    let Some(fed) = aggregate_batches(py, batches, rows, unordered, freq, scale, window)? else {
        return Ok(None);
    };
    let (out, rows_after_end, max_time) = gil::run(py, || {
        let Fed {
            aggregate, options, ..
        } = &fed;
        let end_period = summary::end_period(aggregate, &options.periodizer, observation_end)?;
        let result = summary::rfm_summary(
            aggregate,
            end_period,
            freq_multiplier,
            include_first,
            money_kind(decimal),
            options.scale,
        );
        check_money_digits(fed.with_money, result.too_large, &options.amount_name)?;
        let everyone: Vec<u32> = (0..aggregate.len() as u32).collect();
        let scale = options.scale;
        let mean_scale = scale + MEAN_EXTRA_SCALE;
        let mut out = vec![
            id_column(aggregate.ids(&everyone), &fed.id_type)?,
            time_column("first_time", result.first_time, &fed.time_type)?,
            time_column("last_time", result.last_time, &fed.time_type)?,
            row_column("min_row", result.min_row),
            row_column("max_row", result.max_row),
            f64_column("frequency", result.frequency),
            f64_column("recency", result.recency),
            f64_column("T", result.t),
        ];
        push_money(
            &mut out,
            fed.with_money,
            "monetary_value",
            result.monetary_value,
            mean_scale,
        )?;
        out.push((
            Field::new("n_orders", DataType::Int64, false),
            Arc::new(Int64Array::from(result.n_orders)) as ArrayRef,
        ));
        push_money(&mut out, fed.with_money, "revenue", result.revenue, scale)?;
        push_money(&mut out, fed.with_money, "aov", result.aov, mean_scale)?;
        Ok((out, aggregate.rows_after_end, aggregate.max_time))
    })?;
    Ok(Some((batch(py, out)?, rows_after_end, max_time)))
}

/// (batch, rows after observation_end, customers first seen in the holdout, latest time used).
type HoldoutOut<'py> = (Bound<'py, PyAny>, u64, u64, Option<i64>);

/// Calibration/holdout table of the batches. Returns (batch, rows after observation_end,
/// customers first seen in the holdout, latest time used), or `None` when the batches are out
/// of period order.
#[pyfunction]
#[pyo3(signature = (batches, *, rows, unordered, freq, freq_multiplier, scale, calibration_end, observation_end, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn calibration_holdout<'py>(
    py: Python<'py>,
    batches: &Bound<'py, PyAny>,
    rows: usize,
    unordered: bool,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    calibration_end: i64,
    observation_end: Option<i64>,
    decimal: bool,
) -> PyResult<Option<HoldoutOut<'py>>> {
    let freq = Freq::parse(freq)?;
    let window = |options: &mut Options| {
        options.end = observation_end;
        options.split = Some(options.periodizer.period(calibration_end));
    };
    let Some(fed) = aggregate_batches(py, batches, rows, unordered, freq, scale, window)? else {
        return Ok(None);
    };
    let (out, rows_after_end, holdout_only, max_time) = gil::run(py, || {
        let Fed {
            aggregate, options, ..
        } = &fed;
        let end_period = summary::end_period(aggregate, &options.periodizer, observation_end)?;
        let split = options.split.unwrap_or(end_period);
        let result = summary::calibration_holdout(
            aggregate,
            split,
            end_period,
            freq_multiplier,
            money_kind(decimal),
            options.scale,
        )?;
        check_money_digits(fed.with_money, result.too_large, &options.amount_name)?;
        let scale = options.scale + MEAN_EXTRA_SCALE;
        let n = result.positions.len();
        let mut out = vec![
            id_column(aggregate.ids(&result.positions), &fed.id_type)?,
            f64_column("frequency_cal", result.frequency_cal),
            f64_column("recency_cal", result.recency_cal),
            f64_column("T_cal", result.t_cal),
        ];
        push_money(
            &mut out,
            fed.with_money,
            "monetary_value_cal",
            result.monetary_value_cal,
            scale,
        )?;
        out.push(f64_column("frequency_holdout", result.frequency_holdout));
        push_money(
            &mut out,
            fed.with_money,
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
            aggregate.rows_after_end,
            result.holdout_only,
            aggregate.max_time,
        ))
    })?;
    Ok(Some((
        batch(py, out)?,
        rows_after_end,
        holdout_only,
        max_time,
    )))
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

/// KPI totals over [start, end] of the batches, or `None` when they are out of period order.
#[pyfunction]
#[pyo3(signature = (batches, *, rows, unordered, scale, start, end))]
pub fn kpis(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    rows: usize,
    unordered: bool,
    scale: u32,
    start: Option<i64>,
    end: Option<i64>,
) -> PyResult<Option<KpiTotals>> {
    let window = |options: &mut Options| {
        options.start = start;
        options.end = end;
    };
    let Some(fed) = aggregate_batches(py, batches, rows, unordered, Freq::Day, scale, window)?
    else {
        return Ok(None);
    };
    let aggregate = &fed.aggregate;
    let kpis = gil::run(py, || Ok(Kpis::from_aggregate(aggregate, fed.with_cost)))?;
    Ok(Some((
        kpis.customers,
        kpis.orders,
        kpis.revenue,
        kpis.repeat_customers,
        kpis.cost,
        fed.options.scale,
        aggregate.rows_before_start + aggregate.rows_after_end,
    )))
}
