//! The aggregation kernel: order independence, thread independence, id kinds, money rules.
use custval::core::customers::{aggregate, Aggregate, Customer};
use custval::core::error::CoreError;
use custval::core::log::{Amounts, Columns, Ids, Options, Window};
use custval::core::period::{Freq, Periodizer, TimeUnit};
use custval::core::summary;

const DAY: i64 = 86_400;

fn options(freq: Freq) -> Options {
    Options {
        periodizer: Periodizer::new(freq, TimeUnit::Second),
        scale: 2,
        window: Window::default(),
        time_name: "timestamp".into(),
        amount_name: "amount".into(),
        cost_name: "cost".into(),
    }
}

fn log(rows: usize) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
    log_of(rows, 20_000)
}

/// A pseudo-random, time-sorted log.
fn log_of(rows: usize, customers: u64) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
    let mut state: u64 = 42;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ids = Vec::with_capacity(rows);
    let mut times = Vec::with_capacity(rows);
    let mut amounts = Vec::with_capacity(rows);
    for _ in 0..rows {
        ids.push((next() % customers) as i64 * 7_919);
        times.push((next() % (700 * DAY as u64)) as i64);
        amounts.push((next() % 100_000) as f64 / 100.0);
    }
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by_key(|&i| times[i]);
    (
        order.iter().map(|&i| ids[i]).collect(),
        order.iter().map(|&i| times[i]).collect(),
        order.iter().map(|&i| amounts[i]).collect(),
    )
}

/// Id, time and amount columns, without orders or costs.
fn columns<'a>(ids: Ids<'a>, times: &'a [i64], amounts: Amounts<'a>) -> Columns<'a> {
    Columns {
        ids,
        times,
        amounts: Some(amounts),
        orders: None,
        costs: None,
    }
}

fn run(ids: Ids, times: &[i64], amounts: &[f64], freq: Freq) -> Aggregate {
    aggregate(&columns(ids, times, Amounts::F64(amounts)), &options(freq)).expect("aggregates")
}

/// Customer states keyed by id, independent of output order.
fn by_id(result: &Aggregate, ids: &[i64]) -> Vec<(i64, i64, i64, u32, i128, i128)> {
    let mut rows: Vec<_> = result
        .customers()
        .iter()
        .map(|c| {
            (
                ids[c.first_row as usize],
                c.first_period,
                c.last_period,
                c.periods,
                c.revenue,
                c.first_period_revenue,
            )
        })
        .collect();
    rows.sort_unstable();
    rows
}

#[test]
fn unsorted_input_gives_the_same_customers() {
    let (ids, times, amounts) = log(300_000);
    let sorted = run(Ids::Int(&ids), &times, &amounts, Freq::Day);
    let reversed: (Vec<i64>, Vec<i64>, Vec<f64>) = (
        ids.iter().rev().copied().collect(),
        times.iter().rev().copied().collect(),
        amounts.iter().rev().copied().collect(),
    );
    let shuffled = run(Ids::Int(&reversed.0), &reversed.1, &reversed.2, Freq::Day);
    assert_eq!(sorted.customers().len(), 20_000);
    assert_eq!(by_id(&sorted, &ids), by_id(&shuffled, &reversed.0));
}

#[test]
fn thread_count_does_not_change_results() {
    let (ids, times, amounts) = log(200_000);
    let results: Vec<Aggregate> = [1, 2, 3]
        .iter()
        .map(|&threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| run(Ids::Int(&ids), &times, &amounts, Freq::Week))
        })
        .collect();
    assert_eq!(results[0].customers(), results[1].customers());
    assert_eq!(results[0].customers(), results[2].customers());
}

#[test]
fn string_ids_match_integer_ids() {
    let (ids, times, amounts) = log(50_000);
    let mut values = Vec::new();
    let mut offsets = vec![0i32];
    for id in &ids {
        values.extend_from_slice(format!("customer-{id}").as_bytes());
        offsets.push(values.len() as i32);
    }
    let ints = run(Ids::Int(&ids), &times, &amounts, Freq::Month);
    let strings = run(
        Ids::Str {
            offsets: &offsets,
            values: &values,
        },
        &times,
        &amounts,
        Freq::Month,
    );
    // Equal but for the key, which hashes the id's own representation.
    let keyless = |a: &Aggregate| {
        a.customers()
            .into_iter()
            .map(|c| Customer { key: 0, ..c })
            .collect::<Vec<_>>()
    };
    assert_eq!(keyless(&ints), keyless(&strings));
}

#[test]
fn revenue_is_exact_and_sums_to_the_ledger() {
    let ids = vec![1i64; 10];
    let times: Vec<i64> = (0..10).map(|d| d * DAY).collect();
    let amounts = vec![0.1f64; 10];
    let result = run(Ids::Int(&ids), &times, &amounts, Freq::Day);
    assert_eq!(result.customers()[0].revenue, 100);
    let end = summary::end_period(&result, &options(Freq::Day).periodizer, None).unwrap();
    let table = summary::rfm_summary(&result, end, 1.0, false, summary::MoneyKind::Minor, 2);
    assert_eq!(table.frequency, vec![9.0]);
    assert_eq!(
        table.monetary_value,
        summary::Money::Minor(vec![10 * 1_000_000])
    );
}

#[test]
fn bad_amounts_are_counted() {
    let ids = vec![1i64, 2, 3];
    let times = vec![0i64, 1, 2];
    let amounts = vec![f64::NAN, 1.0, f64::INFINITY];
    let columns = columns(Ids::Int(&ids), &times, Amounts::F64(&amounts));
    let err = aggregate(&columns, &options(Freq::Day)).unwrap_err();
    assert!(err.to_string().contains("(2 rows)"), "{err}");
}

#[test]
#[ignore = "timing; run with --ignored --nocapture"]
fn time_ten_million_rows() {
    let (ids, times, amounts) = log_of(10_000_000, 1_000_000);
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let cpu = || {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (ticks(13) + ticks(14)) as f64 / 100.0
    };
    for _ in 0..3 {
        let (start, cpu_start) = (std::time::Instant::now(), cpu());
        let result = run(Ids::Int(&ids), &times, &amounts, Freq::Day);
        assert_eq!(result.customers().len(), distinct.len());
        println!(
            "{} customers in {:?} wall, {:.2} s cpu",
            result.customers().len(),
            start.elapsed(),
            cpu() - cpu_start
        );
    }
}

#[test]
fn sums_beyond_64_bits_stay_exact() {
    // 5e18 minor units a row: past i32 in every record, past i64 once two are summed.
    let big: i128 = 5_000_000_000_000_000_000;
    let ids = vec![7i64, 7, 7, 8, 8];
    let times = vec![0, 10, 2 * DAY, 0, 3 * DAY];
    let amounts = vec![big, big, big, 3_000_000_000, -1];
    let columns = columns(Ids::Int(&ids), &times, Amounts::Decimal(&amounts));
    let mut opts = options(Freq::Day);
    opts.window.split = Some(1);
    let result = aggregate(&columns, &opts).expect("aggregates");
    let customers = result.customers();
    assert_eq!(customers[0].revenue, 3 * big);
    assert_eq!(customers[0].first_period_revenue, 2 * big);
    assert_eq!(customers[0].cal_revenue, 2 * big);
    assert_eq!(customers[0].periods, 2);
    assert_eq!(customers[1].revenue, 2_999_999_999);
    assert_eq!(customers[1].first_period_revenue, 3_000_000_000);
    assert_eq!(customers[1].cal_revenue, 3_000_000_000);
}

#[test]
fn times_too_far_for_periods_are_an_error() {
    // Three rows too far (both sides of 1970) among five: the error counts all three.
    let ids = vec![1i64, 2, 3, 4, 5];
    let far = 100_000_000_000_000;
    let times = vec![0, far, -far, 7, far + 1];
    let amounts = vec![1.0; 5];
    let columns = columns(Ids::Int(&ids), &times, Amounts::F64(&amounts));
    match aggregate(&columns, &options(Freq::Hour)).unwrap_err() {
        CoreError::Data { column, rows, .. } => {
            assert_eq!((column.as_str(), rows), ("timestamp", 3))
        }
        other => panic!("expected a data error, got {other}"),
    }
    assert!(aggregate(&columns, &options(Freq::Year)).is_ok());
}

#[test]
fn distinct_orders_stay_exact_while_past_orders_are_forgotten() {
    use custval::core::customers::{finish, CustomerBuilder};
    use custval::core::partition::Stream;
    use std::collections::{HashMap, HashSet};

    // 300k orders of 1,000 customers, two lines each in the same second, time-sorted: one
    // partition (a stream sized for 1,000 rows) meets far more orders than it keeps, so it
    // forgets the orders of past periods several times over.
    let (customers, orders) = (1_000i64, 300_000i64);
    let (mut ids, mut times, mut order_ids) = (Vec::new(), Vec::new(), Vec::new());
    for order in 0..orders {
        for _line in 0..2 {
            ids.push(order * 7_919 % customers);
            times.push(order * 60); // an order a minute: ~208 days
            order_ids.push(order);
        }
    }
    let amounts = vec![1.0; ids.len()];
    let columns = Columns {
        orders: Some(&order_ids),
        ..columns(Ids::Int(&ids), &times, Amounts::F64(&amounts))
    };
    let options = options(Freq::Day);
    let mut stream: Stream<CustomerBuilder> = Stream::new(1_000);
    for start in (0..ids.len()).step_by(65_536) {
        let end = (start + 65_536).min(ids.len());
        let part = Columns {
            ids: Ids::Int(&ids[start..end]),
            times: &times[start..end],
            amounts: Some(Amounts::F64(&amounts[start..end])),
            orders: Some(&order_ids[start..end]),
            costs: None,
        };
        assert!(stream.feed(&part, &options).expect("feeds"));
    }
    let result = finish(stream, &options).expect("finishes");
    let mut want: HashMap<i64, HashSet<i64>> = HashMap::new();
    for (id, order) in ids.iter().zip(&order_ids) {
        want.entry(*id).or_default().insert(*order);
    }
    let got: HashMap<i64, u64> = result
        .customers()
        .iter()
        .map(|c| (ids[c.first_row as usize], c.orders))
        .collect();
    assert_eq!(got.len(), customers as usize);
    for (id, set) in &want {
        assert_eq!(got[id], set.len() as u64, "customer {id}");
    }
    // The same log in one piece, through the whole-log path, agrees.
    let whole = aggregate(&columns, &options).expect("aggregates");
    assert_eq!(
        whole.customers().iter().map(|c| c.orders).sum::<u64>(),
        orders as u64
    );
}
