//! Property-based fuzzing of the aggregation core: arbitrary logs of every accepted column
//! type, with extreme values, any `freq`, windows and batch splits. Every call either returns
//! a typed error or exactly what a slow, obvious reference computes; it never panics. CI runs
//! this file under the `fuzz` profile (release speed, overflow checks on), so an arithmetic
//! wrap is a panic and fails the property. `PROPTEST_CASES` raises the case count.
use std::collections::BTreeMap;

use custval::core::customers::{
    aggregate, aggregate_unordered, finish, Aggregate, CustomerBuilder,
};
use custval::core::log::{Amounts, Columns, Ids, Options, Window};
use custval::core::partition::Stream;
use custval::core::period::{Freq, Periodizer, TimeUnit};
use proptest::prelude::*;

const FREQS: [Freq; 6] = [
    Freq::Hour,
    Freq::Day,
    Freq::Week,
    Freq::Month,
    Freq::Quarter,
    Freq::Year,
];
const UNITS: [TimeUnit; 4] = [
    TimeUnit::Second,
    TimeUnit::Millisecond,
    TimeUnit::Microsecond,
    TimeUnit::Nanosecond,
];

/// One generated log: ids as integers and as strings (the same customers), times, amounts.
#[derive(Debug, Clone)]
struct Log {
    ids: Vec<i64>,
    names: Vec<String>,
    times: Vec<i64>,
    amounts: AmountColumn,
}

#[derive(Debug, Clone)]
enum AmountColumn {
    Int(Vec<i64>),
    /// Cents as floats (k / 100, whose shortest decimal is exactly k cents), or non-finite.
    F64(Vec<f64>),
    /// decimal128 minor units at scale 2, up to precision 38.
    Decimal(Vec<i128>),
}

fn id_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..6,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => any::<i64>(),
    ]
}

fn time_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => -2_000_000_000i64..4_000_000_000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => any::<i64>(),
    ]
}

const MAX_38: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

fn amounts(n: usize) -> impl Strategy<Value = AmountColumn> {
    let int = prop_oneof![
        8 => -1_000_000i64..1_000_000,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ];
    let float = prop_oneof![
        8 => (-100_000_000i64..100_000_000).prop_map(|k| k as f64 / 100.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(1e300),
    ];
    let decimal = prop_oneof![
        8 => -1_000_000i128..1_000_000,
        1 => Just(MAX_38),
        1 => Just(-MAX_38),
    ];
    prop_oneof![
        prop::collection::vec(int, n).prop_map(AmountColumn::Int),
        prop::collection::vec(float, n).prop_map(AmountColumn::F64),
        prop::collection::vec(decimal, n).prop_map(AmountColumn::Decimal),
    ]
}

fn name_of(id: i64) -> String {
    // An empty id and a very long one are ids like any other.
    match id {
        0 => String::new(),
        1 => "x".repeat(5_000),
        other => format!("c{other}"),
    }
}

fn logs() -> impl Strategy<Value = Log> {
    (0usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(id_value(), n),
            prop::collection::vec(time_value(), n),
            amounts(n),
        )
            .prop_map(|(ids, times, amounts)| Log {
                names: ids.iter().map(|&i| name_of(i)).collect(),
                ids,
                times,
                amounts,
            })
    })
}

fn options(freq: Freq, unit: TimeUnit, window: Window) -> Options {
    Options {
        periodizer: Periodizer::new(freq, unit),
        scale: 2,
        window,
        time_name: "timestamp".into(),
        amount_name: "amount".into(),
        cost_name: "cost".into(),
    }
}

fn columns<'a>(log: &'a Log, ids: Ids<'a>) -> Columns<'a> {
    Columns {
        ids,
        times: &log.times,
        amounts: Some(match &log.amounts {
            AmountColumn::Int(v) => Amounts::Int(v),
            AmountColumn::F64(v) => Amounts::F64(v),
            AmountColumn::Decimal(v) => Amounts::Decimal(v),
        }),
        orders: None,
        costs: None,
    }
}

/// Per customer: (first period, last period, distinct periods, revenue in cents).
type Expected = BTreeMap<i64, (i64, i64, u32, i128)>;

/// What the kernel must answer for a log.
enum Reference {
    /// Exactly these customers.
    Valid(Expected),
    /// A typed error: a time whose period is out of range, or a non-finite or too large amount.
    Invalid,
    /// Either a typed error or an answer: a customer's amounts are so large that whether a
    /// running `i128` sum overflows depends on the order they are added in.
    Either,
}

/// The obvious computation: the rows in the window, grouped by id in a map.
fn reference(log: &Log, options: &Options) -> Reference {
    let mut periods: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut revenue: BTreeMap<i64, i128> = BTreeMap::new();
    let mut magnitude: BTreeMap<i64, u128> = BTreeMap::new();
    for row in 0..log.ids.len() {
        let time = log.times[row];
        let window = &options.window;
        if window.start.is_some_and(|s| time < s) || window.end.is_some_and(|e| time > e) {
            continue;
        }
        let cents: i128 = match &log.amounts {
            AmountColumn::Int(v) => i128::from(v[row]) * 100,
            AmountColumn::F64(v) if !v[row].is_finite() || v[row].abs() > 1e17 => {
                return Reference::Invalid
            }
            AmountColumn::F64(v) => (v[row] * 100.0).round() as i128,
            AmountColumn::Decimal(v) => v[row],
        };
        let period = options.periodizer.period(time);
        if i32::try_from(period).is_err() {
            return Reference::Invalid; // periods are kept as i32: ~245,000 years of hours
        }
        let id = log.ids[row];
        periods.entry(id).or_default().push(period);
        let total = revenue.entry(id).or_default();
        *total = total.wrapping_add(cents);
        let size = magnitude.entry(id).or_default();
        *size = size.saturating_add(cents.unsigned_abs());
    }
    if magnitude.values().any(|&m| m > i128::MAX as u128) {
        return Reference::Either;
    }
    let mut out = Expected::new();
    for (id, mut ps) in periods {
        ps.sort_unstable();
        ps.dedup();
        out.insert(id, (ps[0], ps[ps.len() - 1], ps.len() as u32, revenue[&id]));
    }
    Reference::Valid(out)
}

/// What the kernel found, keyed by the id of each customer's first row.
fn found(result: &Aggregate, log: &Log) -> Expected {
    result
        .customers()
        .iter()
        .map(|c| {
            let id = log.ids[c.first_row as usize];
            (id, (c.first_period, c.last_period, c.periods, c.revenue))
        })
        .collect()
}

/// The log fed to a stream in batches cut at `cuts`.
fn streamed(
    log: &Log,
    options: &Options,
    cuts: &[usize],
) -> custval::core::error::Result<Aggregate> {
    let n = log.ids.len();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (n + 1)).collect();
    bounds.extend([0, n]);
    bounds.sort_unstable();
    bounds.dedup();
    let mut stream: Stream<CustomerBuilder> = Stream::new(n);
    let whole = columns(log, Ids::Int(&log.ids));
    for range in bounds.windows(2) {
        let (lo, hi) = (range[0], range[1]);
        let amounts = match &log.amounts {
            AmountColumn::Int(v) => Amounts::Int(&v[lo..hi]),
            AmountColumn::F64(v) => Amounts::F64(&v[lo..hi]),
            AmountColumn::Decimal(v) => Amounts::Decimal(&v[lo..hi]),
        };
        let batch = Columns {
            ids: Ids::Int(&log.ids[lo..hi]),
            times: &log.times[lo..hi],
            amounts: Some(amounts),
            orders: None,
            costs: None,
        };
        if !stream.feed(&batch, options)? {
            return aggregate_unordered(&whole, options);
        }
    }
    finish(stream, options)
}

fn string_ids(names: &[String]) -> (Vec<i32>, Vec<u8>) {
    let mut offsets = vec![0i32];
    let mut values = Vec::new();
    for name in names {
        values.extend_from_slice(name.as_bytes());
        offsets.push(values.len() as i32);
    }
    (offsets, values)
}

fn window() -> impl Strategy<Value = Window> {
    (
        prop::option::of(time_value()),
        prop::option::of(time_value()),
    )
        .prop_map(|(start, end)| Window {
            start,
            end,
            split: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
    ))]

    #[test]
    fn aggregate_is_a_typed_error_or_the_reference(
        log in logs(),
        freq in 0usize..6,
        unit in 0usize..4,
        window in window(),
        cuts in prop::collection::vec(0usize..64, 0..4),
        sorted in any::<bool>(),
    ) {
        let mut log = log;
        if sorted {
            // Time order within customers takes the streamed path; any order, the scatter.
            let mut order: Vec<usize> = (0..log.ids.len()).collect();
            order.sort_by_key(|&i| log.times[i]);
            log.ids = order.iter().map(|&i| log.ids[i]).collect();
            log.names = order.iter().map(|&i| log.names[i].clone()).collect();
            log.times = order.iter().map(|&i| log.times[i]).collect();
            log.amounts = match &log.amounts {
                AmountColumn::Int(v) => AmountColumn::Int(order.iter().map(|&i| v[i]).collect()),
                AmountColumn::F64(v) => AmountColumn::F64(order.iter().map(|&i| v[i]).collect()),
                AmountColumn::Decimal(v) => {
                    AmountColumn::Decimal(order.iter().map(|&i| v[i]).collect())
                }
            };
        }
        let options = options(FREQS[freq], UNITS[unit], window);
        let expected = reference(&log, &options);
        let whole = aggregate(&columns(&log, Ids::Int(&log.ids)), &options);
        match (&whole, &expected) {
            (Ok(result), Reference::Valid(expected)) => {
                prop_assert_eq!(&found(result, &log), expected)
            }
            (Err(_), Reference::Invalid | Reference::Either) | (Ok(_), Reference::Either) => {}
            (Ok(_), Reference::Invalid) => prop_assert!(false, "accepted an invalid log"),
            (Err(err), Reference::Valid(_)) => prop_assert!(false, "rejected a valid log: {err}"),
        }
        // Batch splits and string ids give the same answer (or the same kind of error).
        let batches = streamed(&log, &options, &cuts);
        let (offsets, values) = string_ids(&log.names);
        let strings = aggregate(&columns(&log, Ids::Str { offsets: &offsets, values: &values }), &options);
        match (&whole, &batches, &strings) {
            (Ok(a), Ok(b), Ok(s)) => {
                prop_assert_eq!(found(a, &log), found(b, &log));
                // String ids name the same customers but for ids 0/1 vs their strings: compare
                // per first row instead of per id.
                let rows = |r: &Aggregate| {
                    let mut v: Vec<_> = r.customers().iter()
                        .map(|c| (c.first_row, c.periods, c.revenue)).collect();
                    v.sort_unstable();
                    v
                };
                prop_assert_eq!(rows(a), rows(s));
            }
            (Err(_), Err(_), Err(_)) => {}
            _ if matches!(expected, Reference::Either) => {}
            other => prop_assert!(false, "paths disagree: {:?}", other.0.as_ref().err()),
        }
    }
}
