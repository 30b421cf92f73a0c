//! Bindings of the per-customer functions: RFM summary, calibration/holdout, KPIs. Each takes
//! the log as record batches plus a roles mapping (see `arrow_in`), aggregates it through the
//! GIL gate and returns a typed result, or [`OutOfOrder`] when only the whole log can do.
use std::collections::HashMap;

use pyo3::prelude::*;

use super::arrow_in::{self, Bounds, Fed, Roles, Types};
use super::arrow_out::{
    batch, f64_column, id_column, int_column, money_column, money_kind, row_column, time_column,
    Column, KpiTotals, LogTable, OutOfOrder,
};
use super::gil;
use crate::core::customers::{self, Aggregate, CustomerBuilder};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::kpis::Kpis;
use crate::core::log::Options;
use crate::core::money::MEAN_EXTRA_SCALE;
use crate::core::partition::Stream;
use crate::core::period::Freq;
use crate::core::summary::{self, Money};

/// The per-customer state of a log and what its output needs.
struct Aggregated {
    aggregate: Aggregate,
    options: Options,
    types: Types,
    roles: Roles,
}

/// How a log function was called: the log and how to read it.
struct Call<'a, 'py> {
    py: Python<'py>,
    batches: &'a Bound<'py, PyAny>,
    roles: Roles,
    /// About how many rows (sizes the partitions).
    rows: usize,
    /// The batches are one whole log known to be out of order.
    unordered: bool,
}

impl<'a, 'py> Call<'a, 'py> {
    fn new(
        py: Python<'py>,
        batches: &'a Bound<'py, PyAny>,
        roles: HashMap<String, String>,
        rows: usize,
        unordered: bool,
    ) -> PyResult<Self> {
        Ok(Call {
            py,
            batches,
            roles: Roles::new(roles)?,
            rows,
            unordered,
        })
    }

    /// Aggregates the batches; `None` when they are not in period order within customers.
    fn aggregate(self, freq: Freq, scale: u32, bounds: Bounds) -> PyResult<Option<Aggregated>> {
        let Call {
            py,
            batches,
            roles,
            rows,
            unordered,
        } = self;
        if unordered {
            let mut batches = batches.try_iter()?;
            let (Some(batch), None) = (batches.next(), batches.next()) else {
                return Err(
                    CoreError::argument("data", "an unordered log comes as one batch").into(),
                );
            };
            let batch = arrow_in::log_batch(&batch?, &roles)?;
            let (columns, options) = batch.columns(freq, scale, &bounds)?;
            let types = batch.types()?;
            let aggregate = gil::run(py, || customers::aggregate_unordered(&columns, &options))?;
            return Ok(Some(Aggregated {
                aggregate,
                options,
                types,
                roles,
            }));
        }
        let mut stream: Stream<CustomerBuilder> = Stream::new(rows);
        match arrow_in::feed(py, batches, &roles, &mut stream, freq, scale, &bounds)? {
            Fed::OutOfOrder => Ok(None),
            Fed::Taken(options, types) => {
                let aggregate = gil::run(py, || customers::finish(stream, &options))?;
                Ok(Some(Aggregated {
                    aggregate,
                    options,
                    types,
                    roles,
                }))
            }
        }
    }
}

fn out_of_order(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, OutOfOrder)?.into_any())
}

fn log_table(
    py: Python<'_>,
    columns: Vec<Column>,
    fed: &Aggregated,
    holdout_only: u64,
) -> PyResult<Py<PyAny>> {
    let table = LogTable {
        table: batch(py, columns)?.unbind(),
        rows_after_end: fed.aggregate.rows_after_end,
        customers_first_seen_in_holdout: holdout_only,
        last_time: fed.aggregate.max_time,
    };
    Ok(Py::new(py, table)?.into_any())
}

/// Per-customer RFM summary of the batches: a `LogTable`, or `OutOfOrder`.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, unordered, freq, freq_multiplier, scale, observation_end, include_first, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn rfm_summary(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    roles: HashMap<String, String>,
    rows: usize,
    unordered: bool,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    observation_end: Option<i64>,
    include_first: bool,
    decimal: bool,
) -> PyResult<Py<PyAny>> {
    let freq = Freq::parse(freq)?;
    let bounds = Bounds {
        end: observation_end,
        ..Bounds::default()
    };
    let call = Call::new(py, batches, roles, rows, unordered)?;
    let Some(fed) = call.aggregate(freq, scale, bounds)? else {
        return out_of_order(py);
    };
    let columns = gil::run(py, || {
        let Aggregated {
            aggregate,
            options,
            types,
            roles,
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
        check_money_digits(roles.has_amount(), result.too_large, &options.amount_name)?;
        let everyone: Vec<u32> = (0..aggregate.len() as u32).collect();
        let scale = options.scale;
        let mean_scale = scale + MEAN_EXTRA_SCALE;
        let with_money = roles.has_amount();
        let mut out = vec![
            id_column(aggregate.ids(&everyone), &types.id)?,
            time_column("first_time", result.first_time, &types.time)?,
            time_column("last_time", result.last_time, &types.time)?,
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
        out.push(int_column("n_orders", result.n_orders));
        push_money(&mut out, with_money, "revenue", result.revenue, scale)?;
        push_money(&mut out, with_money, "aov", result.aov, mean_scale)?;
        Ok(out)
    })?;
    log_table(py, columns, &fed, 0)
}

/// Calibration/holdout table of the batches: a `LogTable`, or `OutOfOrder`.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, unordered, freq, freq_multiplier, scale, calibration_end, observation_end, decimal))]
#[allow(clippy::too_many_arguments)]
pub fn calibration_holdout(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    roles: HashMap<String, String>,
    rows: usize,
    unordered: bool,
    freq: &str,
    freq_multiplier: f64,
    scale: u32,
    calibration_end: i64,
    observation_end: Option<i64>,
    decimal: bool,
) -> PyResult<Py<PyAny>> {
    let freq = Freq::parse(freq)?;
    let bounds = Bounds {
        end: observation_end,
        calibration_end: Some(calibration_end),
        ..Bounds::default()
    };
    let call = Call::new(py, batches, roles, rows, unordered)?;
    let Some(fed) = call.aggregate(freq, scale, bounds)? else {
        return out_of_order(py);
    };
    let (columns, holdout_only) = gil::run(py, || {
        let Aggregated {
            aggregate,
            options,
            types,
            roles,
        } = &fed;
        let end_period = summary::end_period(aggregate, &options.periodizer, observation_end)?;
        let split = options.window.split.unwrap_or(end_period);
        let result = summary::calibration_holdout(
            aggregate,
            split,
            end_period,
            freq_multiplier,
            money_kind(decimal),
            options.scale,
        )?;
        check_money_digits(roles.has_amount(), result.too_large, &options.amount_name)?;
        let scale = options.scale + MEAN_EXTRA_SCALE;
        let with_money = roles.has_amount();
        let n = result.positions.len();
        let mut out = vec![
            id_column(aggregate.ids(&result.positions), &types.id)?,
            f64_column("frequency_cal", result.frequency_cal),
            f64_column("recency_cal", result.recency_cal),
            f64_column("T_cal", result.t_cal),
        ];
        let cal = result.monetary_value_cal;
        push_money(&mut out, with_money, "monetary_value_cal", cal, scale)?;
        out.push(f64_column("frequency_holdout", result.frequency_holdout));
        let holdout = result.monetary_value_holdout;
        push_money(
            &mut out,
            with_money,
            "monetary_value_holdout",
            holdout,
            scale,
        )?;
        out.push(f64_column(
            "duration_holdout",
            vec![result.duration_holdout; n],
        ));
        Ok((out, result.holdout_only))
    })?;
    log_table(py, columns, &fed, holdout_only)
}

/// Adds a money column when the call has amounts.
fn push_money(
    out: &mut Vec<Column>,
    with_money: bool,
    name: &str,
    values: Money,
    scale: u32,
) -> CoreResult<()> {
    if with_money {
        out.push(money_column(name, values, scale, None)?);
    }
    Ok(())
}

/// Raises when some per-customer money needs more than the 38 digits of a decimal result.
fn check_money_digits(with_money: bool, too_large: u64, amount_name: &str) -> CoreResult<()> {
    if with_money && too_large > 0 {
        return Err(CoreError::data(
            amount_name,
            "per-customer money overflows 38 decimal digits",
            too_large,
        ));
    }
    Ok(())
}

/// KPI totals over [start, end] of the batches: a `KpiTotals`, or `OutOfOrder`.
#[pyfunction]
#[pyo3(signature = (batches, roles, *, rows, unordered, scale, start, end))]
#[allow(clippy::too_many_arguments)]
pub fn kpis(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    roles: HashMap<String, String>,
    rows: usize,
    unordered: bool,
    scale: u32,
    start: Option<i64>,
    end: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let bounds = Bounds {
        start,
        end,
        calibration_end: None,
    };
    let call = Call::new(py, batches, roles, rows, unordered)?;
    let Some(fed) = call.aggregate(Freq::Day, scale, bounds)? else {
        return out_of_order(py);
    };
    let aggregate = &fed.aggregate;
    let kpis = gil::run(py, || {
        Ok(Kpis::from_aggregate(aggregate, fed.roles.has_cost()))
    })?;
    let outside = aggregate.rows_before_start + aggregate.rows_after_end;
    kpi_totals(py, kpis, fed.options.scale, outside)
}

/// The KPIs of the totals of parts of a log that share no customer (Dask partitions after a
/// shuffle by customer; each part's `KpiTotals` at the same `scale`): the totals are added
/// exactly by the caller, the means and ratios computed here as for one log.
#[pyfunction]
#[pyo3(signature = (*, customers, orders, revenue, repeat_customers, cost, scale, rows_outside_window))]
#[allow(clippy::too_many_arguments)]
pub fn kpis_merge(
    py: Python<'_>,
    customers: u64,
    orders: u64,
    revenue: i128,
    repeat_customers: u64,
    cost: Option<i128>,
    scale: u32,
    rows_outside_window: u64,
) -> PyResult<Py<PyAny>> {
    let kpis = Kpis::from_totals(customers, orders, revenue, repeat_customers, cost);
    kpi_totals(py, kpis, scale, rows_outside_window)
}

fn kpi_totals(py: Python<'_>, kpis: Kpis, scale: u32, outside: u64) -> PyResult<Py<PyAny>> {
    let totals = KpiTotals {
        customers: kpis.customers,
        orders: kpis.orders,
        revenue: kpis.revenue,
        repeat_customers: kpis.repeat_customers,
        cost: kpis.cost,
        scale,
        rows_outside_window: outside,
        aov: kpis.aov,
        spend_per_customer: kpis.spend_per_customer,
        mean_scale: scale + MEAN_EXTRA_SCALE,
        purchase_frequency: kpis.purchase_frequency,
        repeat_customer_rate: kpis.repeat_customer_rate,
    };
    Ok(Py::new(py, totals)?.into_any())
}
