//! The customer-history contract every model reads: `(x, t_x, T)` finite and non-negative,
//! `x` whole, `t_x ≤ T`, `t_x = 0` when `x = 0` — one rule ([`valid_history`]), checked with
//! errors naming the rule and its rows ([`check_history`]) or counted by kind
//! ([`rfm_violations`], for the Python face's messages).
use rayon::prelude::*;

use super::{at, bcast_len, check_len, data_err, CHUNK};
use crate::core::error::Result;

/// The RFM contract of fitted rows ([`check_history`]'s) and weights finite and
/// non-negative. Columns have equal lengths here.
pub(crate) fn validate_rfm(x: &[f64], t_x: &[f64], t: &[f64], w: Option<&[f64]>) -> Result<()> {
    check_history(x, t_x, t)?;
    if let Some(w) = w {
        check_nonneg("weights", w)?;
    }
    Ok(())
}

/// Whether `x` is a whole number; NaN and infinities count as whole (they are told apart
/// elsewhere). Branch-free and vectorisable: below 2^52, adding and taking away 2^52 rounds
/// to the nearest whole number.
#[inline(always)]
fn whole(x: f64) -> bool {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let y = x.abs();
    !(y < TWO_52) | ((y + TWO_52) - TWO_52 == y)
}

/// `t_x > T` beyond a relative tolerance of 1e-12.
#[inline(always)]
fn recency_above(t_x: f64, t: f64) -> bool {
    t_x > t * (1.0 + 1e-12) + 1e-12
}

/// Whether a customer history `(x, t_x, T)` obeys the RFM contract: all finite and
/// non-negative, `x` whole, `t_x ≤ T` (see [`recency_above`]) and `t_x = 0` when `x = 0`.
/// Branch-free, so that row kernels check it in the pass that computes their answer.
#[inline(always)]
pub(crate) fn valid_history(x: f64, t_x: f64, t: f64) -> bool {
    let ok = |v: f64| (0.0..f64::INFINITY).contains(&v);
    ok(x) & ok(t_x) & ok(t) & whole(x) & !recency_above(t_x, t) & !((x == 0.0) & (t_x != 0.0))
}

/// Rows of `(x, t_x, T)` breaking the RFM contract, by kind: what the Python face checks
/// before fitting or predicting, counted in one parallel pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RfmViolations {
    /// Per column (frequency, recency, T).
    pub nan: [u64; 3],
    pub infinite: [u64; 3],
    pub negative: [u64; 3],
    /// Frequencies that are not whole numbers.
    pub fractional_frequency: u64,
    /// `t_x > T` beyond a relative tolerance of 1e-12 (as [`validate_rfm`]).
    pub recency_above_t: u64,
    /// `x = 0` with `t_x ≠ 0`.
    pub recency_without_repeats: u64,
}

impl RfmViolations {
    fn add(mut self, o: RfmViolations) -> RfmViolations {
        for k in 0..3 {
            self.nan[k] += o.nan[k];
            self.infinite[k] += o.infinite[k];
            self.negative[k] += o.negative[k];
        }
        self.fractional_frequency += o.fractional_frequency;
        self.recency_above_t += o.recency_above_t;
        self.recency_without_repeats += o.recency_without_repeats;
        self
    }
}

/// Counts the [`RfmViolations`] of columns of equal length.
pub fn rfm_violations(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<RfmViolations> {
    check_len("recency", t_x.len(), x.len())?;
    check_len("T", t.len(), x.len())?;
    let n = x.len();
    let count = |rows: std::ops::Range<usize>| {
        let mut v = RfmViolations::default();
        for i in rows {
            let row = [x[i], t_x[i], t[i]];
            for k in 0..3 {
                v.nan[k] += u64::from(row[k].is_nan());
                v.infinite[k] += u64::from(row[k].is_infinite());
                v.negative[k] += u64::from(row[k] < 0.0);
            }
            v.fractional_frequency += u64::from(!whole(row[0]));
            v.recency_above_t += u64::from(recency_above(row[1], row[2]));
            v.recency_without_repeats += u64::from(row[0] == 0.0 && row[1] != 0.0);
        }
        v
    };
    // Clean chunks (the usual case) are told apart by one branch-free pass; only chunks with a
    // bad row are counted in detail.
    let clean = |i: usize| valid_history(x[i], t_x[i], t[i]);
    Ok((0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK..((c + 1) * CHUNK).min(n);
            if rows.clone().fold(true, |all, i| all & clean(i)) {
                RfmViolations::default()
            } else {
                count(rows)
            }
        })
        .reduce(RfmViolations::default, RfmViolations::add))
}

/// The number of rows of customer histories `(x, t_x, T)` (lengths broadcast from 1).
pub(crate) fn history_len(history: (&[f64], &[f64], &[f64])) -> Result<usize> {
    let (x, t_x, tt) = history;
    bcast_len(&[
        ("frequency", x.len()),
        ("recency", t_x.len()),
        ("T", tt.len()),
    ])
}

/// Whether a history row `(x, t_x, T)` breaks one rule of the contract.
type RowRule = dyn Fn(f64, f64, f64) -> bool + Sync;

/// Validates customer histories `(x, t_x, T)`: broadcastable lengths and the RFM contract of
/// [`valid_history`], the error naming the first rule broken and its rows. Returns the number
/// of rows.
pub(crate) fn check_history(x: &[f64], t_x: &[f64], tt: &[f64]) -> Result<usize> {
    let n = history_len((x, t_x, tt))?;
    for (name, v) in [("frequency", x), ("recency", t_x), ("T", tt)] {
        check_nonneg(name, v)?;
    }
    let rows = |broken: &RowRule| {
        (0..n)
            .into_par_iter()
            .filter(|&i| broken(at(x, i), at(t_x, i), at(tt, i)))
            .count()
    };
    let rules: [(&str, &str, &RowRule); 3] = [
        ("frequency", "non-integer frequency", &|x, _, _| !whole(x)),
        ("recency", "recency greater than T", &|_, tx, t| {
            recency_above(tx, t)
        }),
        (
            "recency",
            "recency must be 0 when frequency is 0",
            &|x, tx, _| x == 0.0 && tx != 0.0,
        ),
    ];
    for (column, message, broken) in rules {
        let bad = rows(broken);
        if bad > 0 {
            return Err(data_err(column, message, bad));
        }
    }
    Ok(n)
}

pub(crate) fn check_nonneg(name: &str, v: &[f64]) -> Result<()> {
    let bad = v
        .par_iter()
        .filter(|z| !(z.is_finite() && **z >= 0.0))
        .count();
    if bad > 0 {
        return Err(data_err(name, "negative or non-finite values", bad));
    }
    Ok(())
}
