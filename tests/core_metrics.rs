//! Retention, cohorts and tracking entries of the core against brute-force definitions
//! (DESIGN.md §4).
use std::collections::{BTreeMap, BTreeSet};

use custval::core::activity::activity;
use custval::core::cohorts::{cohorts, CohortValue};
use custval::core::log::{Amounts, Columns, Ids, Options, Window};
use custval::core::period::{Freq, Periodizer, TimeUnit};
use custval::core::retention::{retention, Retention};
use custval::core::tracking::entries;

struct Log {
    ids: Vec<i64>,
    days: Vec<i64>,
    cents: Vec<i64>,
}

fn random_log(seed: u64, rows: usize, customers: i64, days: i64) -> Log {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut log = Log {
        ids: vec![],
        days: vec![],
        cents: vec![],
    };
    for _ in 0..rows {
        log.ids.push((next() % customers as u64) as i64);
        log.days.push((next() % days as u64) as i64);
        log.cents.push((next() % 5000) as i64 - 500);
    }
    log
}

fn options(freq: Freq) -> Options {
    Options {
        periodizer: Periodizer::new(freq, TimeUnit::Day),
        scale: 0,
        window: Window::default(),
        time_name: "timestamp".into(),
        amount_name: "amount".into(),
        cost_name: String::new(),
    }
}

fn columns(log: &Log) -> Columns<'_> {
    Columns {
        ids: Ids::Int(&log.ids),
        times: &log.days,
        amounts: Some(Amounts::Int(&log.cents)),
        orders: None,
        costs: None,
    }
}

/// customer → period → revenue.
fn by_customer(log: &Log, freq: Freq) -> BTreeMap<i64, BTreeMap<i64, i128>> {
    let periodizer = Periodizer::new(freq, TimeUnit::Day);
    let mut out: BTreeMap<i64, BTreeMap<i64, i128>> = BTreeMap::new();
    for i in 0..log.ids.len() {
        *out.entry(log.ids[i])
            .or_default()
            .entry(periodizer.period(log.days[i]))
            .or_default() += i128::from(log.cents[i]);
    }
    out
}

fn brute_retention(log: &Log, freq: Freq, window: i64) -> Retention {
    let data = by_customer(log, freq);
    let lo = data.values().flat_map(|m| m.keys()).copied().min().unwrap();
    let hi = data.values().flat_map(|m| m.keys()).copied().max().unwrap();
    let n = (hi - lo + 1) as usize;
    let mut r = Retention {
        first_period: lo,
        active: vec![0; n],
        new: vec![0; n],
        retained: vec![0; n],
        resurrected: vec![0; n],
        churned: vec![0; n],
        revenue: vec![0; n],
        new_revenue: vec![0; n],
        resurrected_revenue: vec![0; n],
        retained_revenue: vec![0; n],
        expansion_revenue: vec![0; n],
        contraction_revenue: vec![0; n],
        churned_revenue: vec![0; n],
    };
    for periods in data.values() {
        let first = *periods.keys().next().unwrap();
        let active = |p: i64| periods.range(p - window + 1..=p).next().is_some();
        let rev = |p: i64| periods.get(&p).copied().unwrap_or(0);
        for p in lo..=hi {
            let i = (p - lo) as usize;
            let (now, before) = (active(p), active(p - 1));
            r.revenue[i] += rev(p);
            if now {
                r.active[i] += 1;
            }
            if now && p == first {
                r.new[i] += 1;
                r.new_revenue[i] += rev(p);
            } else if now && before {
                r.retained[i] += 1;
                r.retained_revenue[i] += rev(p);
                let delta = rev(p) - rev(p - 1);
                r.expansion_revenue[i] += delta.max(0);
                r.contraction_revenue[i] += (-delta).max(0);
            } else if now {
                r.resurrected[i] += 1;
                r.resurrected_revenue[i] += rev(p);
            } else if before {
                r.churned[i] += 1;
                r.churned_revenue[i] += rev(p - 1);
            }
        }
    }
    r
}

#[test]
fn retention_matches_definitions() {
    for (seed, freq, window) in [
        (1, Freq::Month, 1),
        (2, Freq::Week, 1),
        (3, Freq::Day, 1),
        (4, Freq::Month, 2),
        (5, Freq::Quarter, 3),
        (6, Freq::Year, 1),
        (7, Freq::Week, 4),
    ] {
        let log = random_log(seed, 3_000, 200, 900);
        let act = activity(&columns(&log), &options(freq)).unwrap();
        let got = retention(&act, window as u32).unwrap();
        let want = brute_retention(&log, freq, window);
        assert_eq!(got, want, "seed {seed} {freq:?} window {window}");
        for i in 0..got.len() {
            let previous = got.previous_revenue(i);
            assert_eq!(
                got.revenue[i],
                previous
                    + got.new_revenue[i]
                    + got.resurrected_revenue[i]
                    + got.expansion_revenue[i]
                    - got.contraction_revenue[i]
                    - got.churned_revenue[i]
            );
        }
    }
}

/// The rows of `log` whose customer falls in part `k` of `parts` (a shuffle by customer).
fn part_of(log: &Log, k: i64, parts: i64) -> Log {
    let keep: Vec<usize> = (0..log.ids.len())
        .filter(|&i| log.ids[i].rem_euclid(parts) == k)
        .collect();
    Log {
        ids: keep.iter().map(|&i| log.ids[i]).collect(),
        days: keep.iter().map(|&i| log.days[i]).collect(),
        cents: keep.iter().map(|&i| log.cents[i]).collect(),
    }
}

#[test]
fn parts_over_the_whole_span_merge_into_the_whole_log() {
    // Customers split over parts (one part empty): each part's tables over the whole log's
    // periods add up to the whole log's, so a Dask cluster gets the in-memory answer.
    let log = random_log(23, 30_000, 3_000, 400);
    for (freq, window) in [(Freq::Week, 1), (Freq::Month, 3)] {
        let whole = activity(&columns(&log), &options(freq)).unwrap();
        let (first, last) = (whole.min_period.unwrap(), whole.max_period.unwrap());
        let mut merged_retention: Option<Retention> = None;
        let mut merged_cohorts = custval::core::cohorts::Cohorts::default();
        let parts = 5;
        for k in 0..=parts {
            let part = part_of(&log, k, parts); // part `parts` is empty
            let mut act = activity(&columns(&part), &options(freq)).unwrap();
            act.set_span(first, last).unwrap();
            let r = retention(&act, window).unwrap();
            match merged_retention.as_mut() {
                None => merged_retention = Some(r),
                Some(all) => all.merge(&r).unwrap(),
            }
            let c = cohorts(&act, CohortValue::Revenue).unwrap();
            merged_cohorts = merged_cohorts.merge(&c).unwrap();
        }
        assert_eq!(
            merged_retention.unwrap(),
            retention(&whole, window).unwrap()
        );
        assert_eq!(
            merged_cohorts,
            cohorts(&whole, CohortValue::Revenue).unwrap()
        );
    }
    // A span that does not cover a part's purchases is refused.
    let mut act = activity(&columns(&log), &options(Freq::Week)).unwrap();
    let first = act.min_period.unwrap();
    assert!(act.set_span(first + 1, first + 2).is_err());
}

#[test]
fn kpis_of_added_totals_equal_the_whole_logs() {
    use custval::core::kpis::Kpis;
    let whole = Kpis::from_totals(10, 25, 1_234_567, 4, Some(1_000));
    assert_eq!(
        whole.aov,
        Some(custval::core::money::mean_minor(1_234_567, 25))
    );
    assert_eq!(whole.repeat_customer_rate, Some(0.4));
    assert_eq!(Kpis::from_totals(0, 0, 0, 0, None).aov, None);
}

#[test]
fn retention_is_thread_count_independent() {
    let log = random_log(11, 200_000, 20_000, 700);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let act = activity(&columns(&log), &options(Freq::Week)).unwrap();
            (
                retention(&act, 1).unwrap(),
                cohorts(&act, CohortValue::Revenue).unwrap(),
            )
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn cohorts_match_definitions() {
    let log = random_log(21, 5_000, 300, 400);
    let freq = Freq::Month;
    let data = by_customer(&log, freq);
    let hi = data.values().flat_map(|m| m.keys()).copied().max().unwrap();
    let act = activity(&columns(&log), &options(freq)).unwrap();
    for value in [
        CohortValue::Active,
        CohortValue::Revenue,
        CohortValue::Orders,
    ] {
        let got = cohorts(&act, value).unwrap();
        let cohort_periods: BTreeSet<i64> =
            data.values().map(|m| *m.keys().next().unwrap()).collect();
        assert_eq!(
            got.periods,
            cohort_periods.iter().copied().collect::<Vec<_>>()
        );
        for (row, &c) in got.periods.iter().enumerate() {
            let members: Vec<_> = data
                .values()
                .filter(|m| *m.keys().next().unwrap() == c)
                .collect();
            assert_eq!(got.sizes[row], members.len() as u64);
            assert_eq!(got.observable[row], (hi - c + 1) as usize);
            for k in 0..got.observable[row] {
                let p = c + k as i64;
                let want: i128 = match value {
                    CohortValue::Active => {
                        members.iter().filter(|m| m.contains_key(&p)).count() as i128
                    }
                    CohortValue::Revenue => members.iter().filter_map(|m| m.get(&p)).sum(),
                    CohortValue::Orders => {
                        let periodizer = Periodizer::new(freq, TimeUnit::Day);
                        (0..log.ids.len())
                            .filter(|&i| {
                                periodizer.period(log.days[i]) == p
                                    && data[&log.ids[i]].keys().next() == Some(&c)
                            })
                            .count() as i128
                    }
                };
                assert_eq!(got.row(row)[k], want, "{value:?} cohort {c} k {k}");
            }
        }
    }
}

#[test]
fn hand_checked_example() {
    // Months 0..=3: a buys in 0, 1, 3; b in 1; c in 2 and 3.
    let log = Log {
        ids: vec![1, 1, 1, 2, 3, 3],
        days: vec![0, 40, 70, 35, 60, 75],
        cents: vec![10, 30, 5, 7, 4, 1],
    };
    let act = activity(&columns(&log), &options(Freq::Month)).unwrap();
    let r = retention(&act, 1).unwrap();
    // Jan: a new. Feb: a retained (+20), b new. Mar (day 60 = Mar 2 and a's day 70 = Mar 12):
    // a retained (−25), c new, b churned. Apr (day 75 = Mar 17 → still March).
    assert_eq!(r.active, vec![1, 2, 2]);
    assert_eq!(r.new, vec![1, 1, 1]);
    assert_eq!(r.retained, vec![0, 1, 1]);
    assert_eq!(r.churned, vec![0, 0, 1]);
    assert_eq!(r.revenue, vec![10, 37, 10]);
    assert_eq!(r.expansion_revenue, vec![0, 20, 0]);
    assert_eq!(r.contraction_revenue, vec![0, 0, 25]);
    assert_eq!(r.churned_revenue, vec![0, 0, 7]);
    assert_eq!(r.retention_rate(), vec![None, Some(1.0), Some(0.5)]);
    assert_eq!(r.quick_ratio(), vec![None, None, Some(1.0)]);
}

#[test]
fn entries_match_definitions() {
    let log = random_log(31, 20_000, 2_000, 500);
    for freq in [Freq::Day, Freq::Week, Freq::Month] {
        let data = by_customer(&log, freq);
        let lo = data.values().flat_map(|m| m.keys()).copied().min().unwrap();
        let hi = data.values().flat_map(|m| m.keys()).copied().max().unwrap();
        let n = (hi - lo + 1) as usize;
        let (mut entering, mut repeats) = (vec![0u64; n], vec![0u64; n]);
        for periods in data.values() {
            let mut keys = periods.keys();
            entering[(keys.next().unwrap() - lo) as usize] += 1;
            for p in keys {
                repeats[(p - lo) as usize] += 1;
            }
        }
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| entries(&activity(&columns(&log), &options(freq)).unwrap()).unwrap())
        };
        let got = run(2);
        assert_eq!(got.first_period, lo);
        assert_eq!(got.entering, entering, "{freq:?}");
        assert_eq!(got.repeats, repeats, "{freq:?}");
        assert_eq!(got, run(1));
        let all: u64 = repeats.iter().sum();
        assert_eq!(got.repeats_before(n + 10), all);
        assert_eq!(got.repeats_before(3), repeats[..3].iter().sum::<u64>());
    }
}
