//! Per-customer RFM summary and calibration/holdout tables from aggregated state.
use rayon::prelude::*;

use crate::core::aggregate::{Aggregate, Customer};
use crate::core::error::{CoreError, Result};
use crate::core::money;
use crate::core::period::Periodizer;

/// Extra decimal places of means (aov, monetary_value) beyond the money scale.
pub const MEAN_EXTRA_SCALE: u32 = 6;

/// `total / count` in minor units at `scale + MEAN_EXTRA_SCALE`, half to even; 0 when count = 0.
pub fn mean_minor(total: i128, count: u64) -> i128 {
    if count == 0 {
        return 0;
    }
    money::div_round_half_even(total * money::pow10(MEAN_EXTRA_SCALE), count as i128)
}

/// Columns of `rfm_summary`, one entry per customer in first-appearance order.
#[derive(Debug, Default)]
pub struct Summary {
    pub first_row: Vec<u32>,
    pub min_row: Vec<u32>,
    pub max_row: Vec<u32>,
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub n_orders: Vec<u64>,
    /// Minor units at the money scale.
    pub revenue: Vec<i128>,
    /// Minor units at scale + MEAN_EXTRA_SCALE.
    pub monetary_value: Vec<i128>,
    pub aov: Vec<i128>,
}

/// Period of the observation end: the given time, or the last transaction.
pub fn end_period(aggregate: &Aggregate, periodizer: &Periodizer, end: Option<i64>) -> Result<i64> {
    if end.is_some() && aggregate.rows_used == 0 && aggregate.rows_after_end > 0 {
        return Err(CoreError::Argument {
            name: "observation_end".into(),
            message: "is before the first transaction".into(),
        });
    }
    let end_time = end.or(aggregate.max_time).unwrap_or(0);
    let end_period = periodizer.period(end_time);
    if aggregate
        .first_period()
        .is_some_and(|first| first > end_period)
    {
        return Err(CoreError::Argument {
            name: "observation_end".into(),
            message: "is before the first transaction".into(),
        });
    }
    Ok(end_period)
}

/// Customers written per task of the column-building pass.
const CHUNK: usize = 4096;

/// Builds the summary in one pass over the customers. `multiplier` divides period counts
/// (freq_multiplier).
pub fn rfm_summary(
    aggregate: &Aggregate,
    end_period: i64,
    multiplier: f64,
    include_first: bool,
) -> Summary {
    let n = aggregate.len();
    let mut s = Summary {
        first_row: vec![0; n],
        min_row: vec![0; n],
        max_row: vec![0; n],
        frequency: vec![0.0; n],
        recency: vec![0.0; n],
        t: vec![0.0; n],
        n_orders: vec![0; n],
        revenue: vec![0; n],
        monetary_value: vec![0; n],
        aov: vec![0; n],
    };
    let offset = if include_first { 0 } else { 1 };
    (
        s.first_row.par_chunks_mut(CHUNK),
        s.min_row.par_chunks_mut(CHUNK),
        s.max_row.par_chunks_mut(CHUNK),
        s.frequency.par_chunks_mut(CHUNK),
        s.recency.par_chunks_mut(CHUNK),
        s.t.par_chunks_mut(CHUNK),
        s.n_orders.par_chunks_mut(CHUNK),
        s.revenue.par_chunks_mut(CHUNK),
        s.monetary_value.par_chunks_mut(CHUNK),
        s.aov.par_chunks_mut(CHUNK),
    )
        .into_par_iter()
        .enumerate()
        .for_each(
            |(
                chunk,
                (
                    first_row,
                    min_row,
                    max_row,
                    frequency,
                    recency,
                    t,
                    n_orders,
                    revenue,
                    monetary_value,
                    aov,
                ),
            )| {
                let start = chunk * CHUNK;
                aggregate.visit(start..start + first_row.len(), |position, c| {
                    let j = position - start;
                    first_row[j] = c.first_row;
                    min_row[j] = c.min_row;
                    max_row[j] = c.max_row;
                    frequency[j] = (c.periods - offset) as f64;
                    recency[j] = (c.last_period - c.first_period) as f64 / multiplier;
                    t[j] = (end_period - c.first_period) as f64 / multiplier;
                    n_orders[j] = c.orders;
                    revenue[j] = c.revenue;
                    monetary_value[j] = monetary(&c, include_first);
                    aov[j] = mean_minor(c.revenue, c.orders);
                });
            },
        );
    s
}

fn monetary(c: &Customer, include_first: bool) -> i128 {
    if include_first {
        mean_minor(c.revenue, c.periods as u64)
    } else {
        mean_minor(c.revenue - c.first_period_revenue, (c.periods - 1) as u64)
    }
}

/// Columns of `calibration_holdout` for customers first seen in the calibration period.
#[derive(Debug, Default)]
pub struct CalibrationHoldout {
    pub first_row: Vec<u32>,
    pub frequency_cal: Vec<f64>,
    pub recency_cal: Vec<f64>,
    pub t_cal: Vec<f64>,
    pub monetary_value_cal: Vec<i128>,
    pub frequency_holdout: Vec<f64>,
    pub monetary_value_holdout: Vec<i128>,
    pub duration_holdout: f64,
    /// Customers whose first purchase is in the holdout (excluded).
    pub holdout_only: u64,
}

pub fn calibration_holdout(
    aggregate: &Aggregate,
    split: i64,
    end_period: i64,
    multiplier: f64,
) -> Result<CalibrationHoldout> {
    if split > end_period {
        return Err(CoreError::Argument {
            name: "calibration_end".into(),
            message: "is after observation_end".into(),
        });
    }
    let kept: Vec<Customer> = aggregate
        .customers()
        .into_par_iter()
        .filter(|c| c.first_period <= split)
        .collect();
    let column =
        |f: &(dyn Fn(&Customer) -> f64 + Sync)| -> Vec<f64> { kept.par_iter().map(f).collect() };
    Ok(CalibrationHoldout {
        first_row: kept.iter().map(|c| c.first_row).collect(),
        frequency_cal: column(&|c| (c.cal_periods - 1) as f64),
        recency_cal: column(&|c| (c.cal_last_period - c.first_period) as f64 / multiplier),
        t_cal: column(&|c| (split - c.first_period) as f64 / multiplier),
        monetary_value_cal: kept
            .par_iter()
            .map(|c| {
                mean_minor(
                    c.cal_revenue - c.first_period_revenue,
                    (c.cal_periods - 1) as u64,
                )
            })
            .collect(),
        frequency_holdout: column(&|c| (c.periods - c.cal_periods) as f64),
        monetary_value_holdout: kept
            .par_iter()
            .map(|c| {
                mean_minor(
                    c.revenue - c.cal_revenue,
                    (c.periods - c.cal_periods) as u64,
                )
            })
            .collect(),
        duration_holdout: (end_period - split) as f64 / multiplier,
        holdout_only: (aggregate.len() - kept.len()) as u64,
    })
}
