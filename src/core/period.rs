//! Calendar periods with pandas `Period` semantics.
//!
//! A time value is an `i64` count of `TimeUnit`s since the Unix epoch, in local wall time.
//! A period index is an `i64` whose differences count whole periods.
use crate::core::error::{CoreError, Result};

/// Period kind (`freq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freq {
    Hour,
    Day,
    /// Weeks ending Sunday (pandas "W" = "W-SUN").
    Week,
    Month,
    Quarter,
    Year,
}

impl Freq {
    pub const ALLOWED: &'static str = "'h' (alias 'H'), 'D', 'W', 'M', 'Q', 'Y'";

    pub fn parse(text: &str) -> Result<Freq> {
        match text {
            "h" | "H" => Ok(Freq::Hour),
            "D" => Ok(Freq::Day),
            "W" => Ok(Freq::Week),
            "M" => Ok(Freq::Month),
            "Q" => Ok(Freq::Quarter),
            "Y" => Ok(Freq::Year),
            other => Err(CoreError::argument(
                "freq",
                format!(
                    "unknown period '{other}'; expected one of {}",
                    Freq::ALLOWED
                ),
            )),
        }
    }

    /// Mean length of one period in days (a month is 365.25/12 days, a year 365.25).
    pub fn mean_days(self) -> f64 {
        const YEAR: f64 = 365.25;
        match self {
            Freq::Hour => 1.0 / 24.0,
            Freq::Day => 1.0,
            Freq::Week => 7.0,
            Freq::Month => YEAR / 12.0,
            Freq::Quarter => YEAR / 4.0,
            Freq::Year => YEAR,
        }
    }
}

/// Model time units per `horizon` period, for a model whose time unit is `multiplier`
/// periods of `freq` (e.g. months of a model fitted in weeks counted in days: 365.25/12/7).
pub fn time_unit_factor(horizon: Freq, freq: Freq, multiplier: f64) -> Result<f64> {
    if !(multiplier.is_finite() && multiplier > 0.0) {
        return Err(CoreError::argument(
            "freq_multiplier",
            format!("must be positive, got {multiplier}"),
        ));
    }
    Ok(horizon.mean_days() / (freq.mean_days() * multiplier))
}

/// Unit of the raw time values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
    /// date32: days since the epoch.
    Day,
}

impl TimeUnit {
    pub fn per_day(self) -> i64 {
        match self {
            TimeUnit::Second => 86_400,
            TimeUnit::Millisecond => 86_400_000,
            TimeUnit::Microsecond => 86_400_000_000,
            TimeUnit::Nanosecond => 86_400_000_000_000,
            TimeUnit::Day => 1,
        }
    }
}

/// Maps raw time values to period indices.
#[derive(Clone, Copy, Debug)]
pub struct Periodizer {
    pub freq: Freq,
    pub unit: TimeUnit,
}

/// Days since 1970-01-01 → (year, month 1..=12, day). Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Periodizer {
    pub fn new(freq: Freq, unit: TimeUnit) -> Self {
        Periodizer { freq, unit }
    }

    /// Whole days since the epoch; constant divisors so the compiler avoids a division.
    #[inline]
    fn days(&self, value: i64) -> i64 {
        match self.unit {
            TimeUnit::Second => value.div_euclid(86_400),
            TimeUnit::Millisecond => value.div_euclid(86_400_000),
            TimeUnit::Microsecond => value.div_euclid(86_400_000_000),
            TimeUnit::Nanosecond => value.div_euclid(86_400_000_000_000),
            TimeUnit::Day => value,
        }
    }

    #[inline]
    fn hours(&self, value: i64) -> i64 {
        match self.unit {
            TimeUnit::Second => value.div_euclid(3_600),
            TimeUnit::Millisecond => value.div_euclid(3_600_000),
            TimeUnit::Microsecond => value.div_euclid(3_600_000_000),
            TimeUnit::Nanosecond => value.div_euclid(3_600_000_000_000),
            TimeUnit::Day => value * 24,
        }
    }

    #[inline]
    pub fn period(&self, value: i64) -> i64 {
        match self.freq {
            Freq::Hour => self.hours(value),
            Freq::Day => self.days(value),
            // 1970-01-01 is a Thursday; weeks run Monday..Sunday.
            Freq::Week => (self.days(value) + 3).div_euclid(7),
            Freq::Month | Freq::Quarter | Freq::Year => {
                let (y, m, _) = civil_from_days(self.days(value));
                match self.freq {
                    Freq::Month => y * 12 + (m as i64 - 1),
                    Freq::Quarter => y * 4 + (m as i64 - 1) / 3,
                    _ => y,
                }
            }
        }
    }

    /// [`Periodizer::period`], remembering the last day's period in `last` (day, period):
    /// calendar periods cost a civil-date conversion, and neighbouring rows of a time-sorted
    /// log mostly share a day.
    #[inline]
    pub fn period_cached(&self, value: i64, last: &mut (i64, i64)) -> i64 {
        match self.freq {
            Freq::Month | Freq::Quarter | Freq::Year => {
                let day = self.days(value);
                if day != last.0 {
                    *last = (day, self.period(value));
                }
                last.1
            }
            _ => self.period(value),
        }
    }

    /// Start of period `p` as a value in this periodizer's unit (date32 for `Day`; hours are
    /// returned in the unit too, which for `Day` units truncates to the day).
    pub fn period_start(&self, p: i64) -> i64 {
        let per_day = self.unit.per_day();
        let days = match self.freq {
            Freq::Hour => {
                return match self.unit {
                    TimeUnit::Day => p.div_euclid(24),
                    unit => p * (unit.per_day() / 24),
                }
            }
            Freq::Day => p,
            Freq::Week => p * 7 - 3,
            Freq::Month => days_from_civil(p.div_euclid(12), (p.rem_euclid(12) + 1) as u32, 1),
            Freq::Quarter => days_from_civil(p.div_euclid(4), (p.rem_euclid(4) * 3 + 1) as u32, 1),
            Freq::Year => days_from_civil(p, 1, 1),
        };
        days * per_day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn weeks_end_on_sunday() {
        let p = Periodizer::new(Freq::Week, TimeUnit::Day);
        let sunday = days_from_civil(2024, 1, 7);
        assert_eq!(p.period(sunday), p.period(sunday - 6)); // Monday 2024-01-01
        assert_eq!(p.period(sunday) + 1, p.period(sunday + 1));
        assert_eq!(p.period_start(p.period(sunday)), sunday - 6);
    }

    #[test]
    fn negative_times_floor() {
        let p = Periodizer::new(Freq::Day, TimeUnit::Second);
        assert_eq!(p.period(-1), -1);
        let h = Periodizer::new(Freq::Hour, TimeUnit::Nanosecond);
        assert_eq!(h.period(-1), -1);
        assert_eq!(h.period(3_600_000_000_000), 1);
    }

    #[test]
    fn months_quarters_years() {
        let unit = TimeUnit::Day;
        let day = days_from_civil(1997, 9, 30);
        assert_eq!(
            Periodizer::new(Freq::Month, unit).period(day),
            1997 * 12 + 8
        );
        assert_eq!(
            Periodizer::new(Freq::Quarter, unit).period(day),
            1997 * 4 + 2
        );
        assert_eq!(Periodizer::new(Freq::Year, unit).period(day), 1997);
        let q = Periodizer::new(Freq::Quarter, unit);
        assert_eq!(q.period_start(q.period(day)), days_from_civil(1997, 7, 1));
    }

    #[test]
    fn parse_rejects_unknown() {
        assert_eq!(Freq::parse("H").unwrap(), Freq::Hour);
        let err = Freq::parse("min").unwrap_err().to_string();
        assert!(err.contains("'D'"), "{err}");
    }
}
