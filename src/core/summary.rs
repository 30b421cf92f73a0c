//! Per-customer RFM summary and calibration/holdout tables from aggregated state.
use rayon::prelude::*;

use crate::core::customers::{Aggregate, Customer};
use crate::core::error::{CoreError, Result};
use crate::core::money::{self, mean_minor, MEAN_EXTRA_SCALE};
use crate::core::period::Periodizer;

/// A money column: exact minor units, or floats (minor units / 10^scale).
#[derive(Debug, PartialEq)]
pub enum Money {
    Minor(Vec<i128>),
    Float(Vec<f64>),
}

/// How money columns are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoneyKind {
    Minor,
    Float,
}

impl Money {
    fn zeros(kind: MoneyKind, n: usize) -> Money {
        match kind {
            MoneyKind::Minor => Money::Minor(vec![0; n]),
            MoneyKind::Float => Money::Float(vec![0.0; n]),
        }
    }

    /// Writable chunks of `size` values for a parallel pass; floats are converted at `scale`.
    fn chunks(&mut self, size: usize, scale: u32) -> Vec<MoneyChunk<'_>> {
        match self {
            Money::Minor(values) => values.chunks_mut(size).map(MoneyChunk::Minor).collect(),
            Money::Float(values) => values
                .chunks_mut(size)
                .map(|chunk| MoneyChunk::Float(chunk, scale))
                .collect(),
        }
    }
}

enum MoneyChunk<'a> {
    Minor(&'a mut [i128]),
    Float(&'a mut [f64], u32),
}

impl MoneyChunk<'_> {
    /// Stores `value` at `j`; `false` when it needs more than 38 digits.
    #[inline]
    fn set(&mut self, j: usize, value: i128) -> bool {
        match self {
            MoneyChunk::Minor(values) => values[j] = value,
            MoneyChunk::Float(values, scale) => values[j] = money::to_f64(value, *scale),
        }
        money::fits_38_digits(value)
    }
}

/// Columns of `rfm_summary`, one entry per customer in first-appearance order.
#[derive(Debug)]
pub struct Summary {
    /// Rows (of the whole log) of the first and last purchase, and their times.
    pub min_row: Vec<u32>,
    pub max_row: Vec<u32>,
    pub first_time: Vec<i64>,
    pub last_time: Vec<i64>,
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub n_orders: Vec<i64>,
    /// At the money scale.
    pub revenue: Money,
    /// At scale + MEAN_EXTRA_SCALE.
    pub monetary_value: Money,
    pub aov: Money,
    /// Money values that need more than 38 digits.
    pub too_large: u64,
}

/// Period of the observation end: the given time, or the last transaction.
pub fn end_period(aggregate: &Aggregate, periodizer: &Periodizer, end: Option<i64>) -> Result<i64> {
    if end.is_some() && aggregate.rows_used == 0 && aggregate.rows_after_end > 0 {
        return Err(CoreError::argument(
            "observation_end",
            "is before the first transaction",
        ));
    }
    let end_time = end.or(aggregate.max_time).unwrap_or(0);
    let end_period = periodizer.period(end_time);
    if aggregate
        .first_period()
        .is_some_and(|first| first > end_period)
    {
        return Err(CoreError::argument(
            "observation_end",
            "is before the first transaction",
        ));
    }
    Ok(end_period)
}

/// Customers written per task of the column-building pass.
const CHUNK: usize = 4096;

/// Builds the summary in one pass over the customers. `multiplier` divides period counts
/// (freq_multiplier); money comes as `kind`, `scale` being the money scale.
pub fn rfm_summary(
    aggregate: &Aggregate,
    end_period: i64,
    multiplier: f64,
    include_first: bool,
    kind: MoneyKind,
    scale: u32,
) -> Summary {
    let n = aggregate.len();
    let mut s = Summary {
        min_row: vec![0; n],
        max_row: vec![0; n],
        first_time: vec![0; n],
        last_time: vec![0; n],
        frequency: vec![0.0; n],
        recency: vec![0.0; n],
        t: vec![0.0; n],
        n_orders: vec![0; n],
        revenue: Money::zeros(kind, n),
        monetary_value: Money::zeros(kind, n),
        aov: Money::zeros(kind, n),
        too_large: 0,
    };
    let mean_scale = scale + MEAN_EXTRA_SCALE;
    let offset = if include_first { 0 } else { 1 };
    let too_large = (
        s.min_row.par_chunks_mut(CHUNK),
        s.max_row.par_chunks_mut(CHUNK),
        s.first_time.par_chunks_mut(CHUNK),
        s.last_time.par_chunks_mut(CHUNK),
        s.frequency.par_chunks_mut(CHUNK),
        s.recency.par_chunks_mut(CHUNK),
        s.t.par_chunks_mut(CHUNK),
        s.n_orders.par_chunks_mut(CHUNK),
        s.revenue.chunks(CHUNK, scale),
        s.monetary_value.chunks(CHUNK, mean_scale),
        s.aov.chunks(CHUNK, mean_scale),
    )
        .into_par_iter()
        .enumerate()
        .map(
            |(
                chunk,
                (
                    min_row,
                    max_row,
                    first_time,
                    last_time,
                    frequency,
                    recency,
                    t,
                    n_orders,
                    mut revenue,
                    mut monetary_value,
                    mut aov,
                ),
            )| {
                let start = chunk * CHUNK;
                let mut too_large = 0u64;
                aggregate.visit(start..start + min_row.len(), |position, c| {
                    let j = position - start;
                    min_row[j] = c.min_row;
                    max_row[j] = c.max_row;
                    first_time[j] = c.min_time;
                    last_time[j] = c.max_time;
                    frequency[j] = (c.periods - offset) as f64;
                    recency[j] = (c.last_period - c.first_period) as f64 / multiplier;
                    t[j] = (end_period - c.first_period) as f64 / multiplier;
                    n_orders[j] = c.orders as i64;
                    let fits = [
                        revenue.set(j, c.revenue),
                        monetary_value.set(j, monetary(&c, include_first)),
                        aov.set(j, mean_minor(c.revenue, c.orders)),
                    ];
                    too_large += fits.iter().filter(|&&fit| !fit).count() as u64;
                });
                too_large
            },
        )
        .sum::<u64>();
    s.too_large = too_large;
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
#[derive(Debug)]
pub struct CalibrationHoldout {
    /// Positions of the customers kept, in first-appearance order (see [`Aggregate::ids`]).
    pub positions: Vec<u32>,
    pub frequency_cal: Vec<f64>,
    pub recency_cal: Vec<f64>,
    pub t_cal: Vec<f64>,
    /// At scale + MEAN_EXTRA_SCALE, as are the holdout means.
    pub monetary_value_cal: Money,
    pub frequency_holdout: Vec<f64>,
    pub monetary_value_holdout: Money,
    pub duration_holdout: f64,
    /// Customers whose first purchase is in the holdout (excluded).
    pub holdout_only: u64,
    /// Money values that need more than 38 digits.
    pub too_large: u64,
}

/// Builds the calibration/holdout table in one pass over the customers first seen by period
/// `split`; money comes as `kind`, `scale` being the money scale.
pub fn calibration_holdout(
    aggregate: &Aggregate,
    split: i64,
    end_period: i64,
    multiplier: f64,
    kind: MoneyKind,
    scale: u32,
) -> Result<CalibrationHoldout> {
    if split > end_period {
        return Err(CoreError::argument(
            "calibration_end",
            "is after observation_end",
        ));
    }
    let kept: Vec<u32> = (0..aggregate.len())
        .into_par_iter()
        .filter(|&i| aggregate.first_period_at(i) <= split)
        .map(|i| i as u32)
        .collect();
    let n = kept.len();
    let mean_scale = scale + MEAN_EXTRA_SCALE;
    let mut t = CalibrationHoldout {
        positions: Vec::new(),
        frequency_cal: vec![0.0; n],
        recency_cal: vec![0.0; n],
        t_cal: vec![0.0; n],
        monetary_value_cal: Money::zeros(kind, n),
        frequency_holdout: vec![0.0; n],
        monetary_value_holdout: Money::zeros(kind, n),
        duration_holdout: (end_period - split) as f64 / multiplier,
        holdout_only: (aggregate.len() - n) as u64,
        too_large: 0,
    };
    t.too_large = (
        kept.par_chunks(CHUNK),
        t.frequency_cal.par_chunks_mut(CHUNK),
        t.recency_cal.par_chunks_mut(CHUNK),
        t.t_cal.par_chunks_mut(CHUNK),
        t.monetary_value_cal.chunks(CHUNK, mean_scale),
        t.frequency_holdout.par_chunks_mut(CHUNK),
        t.monetary_value_holdout.chunks(CHUNK, mean_scale),
    )
        .into_par_iter()
        .map(
            |(
                positions,
                frequency_cal,
                recency_cal,
                t_cal,
                mut monetary_value_cal,
                frequency_holdout,
                mut monetary_value_holdout,
            )| {
                let mut too_large = 0u64;
                for (j, &position) in positions.iter().enumerate() {
                    let c = aggregate.customer(position as usize);
                    frequency_cal[j] = (c.cal_periods - 1) as f64;
                    recency_cal[j] = (c.cal_last_period - c.first_period) as f64 / multiplier;
                    t_cal[j] = (split - c.first_period) as f64 / multiplier;
                    frequency_holdout[j] = (c.periods - c.cal_periods) as f64;
                    let fits = [
                        monetary_value_cal.set(
                            j,
                            mean_minor(
                                c.cal_revenue - c.first_period_revenue,
                                (c.cal_periods - 1) as u64,
                            ),
                        ),
                        monetary_value_holdout.set(
                            j,
                            mean_minor(
                                c.revenue - c.cal_revenue,
                                (c.periods - c.cal_periods) as u64,
                            ),
                        ),
                    ];
                    too_large += fits.iter().filter(|&&fit| !fit).count() as u64;
                }
                too_large
            },
        )
        .sum();
    t.positions = kept;
    Ok(t)
}
