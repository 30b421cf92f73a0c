//! Pair counting, next purchases and recommendations of the core against brute-force
//! definitions (DESIGN.md §4, *Baskets*), and the same answer whatever the thread count.
use std::collections::{BTreeMap, BTreeSet};

use custval::core::basket::pairs::{count_pairs, Thresholds};
use custval::core::basket::sequence::next_products;
use custval::core::basket::similarity::{recommend, Neighbours, Scorer};
use custval::core::basket::{baskets, in_customer_order, Level, Lines};

struct Log {
    orders: Vec<i64>,
    products: Vec<i64>,
    customers: Vec<i64>,
    times: Vec<i64>,
}

/// Lines of random orders: each order belongs to one customer and one time.
fn random_log(seed: u64, orders: i64, products: i64) -> Log {
    let mut x = seed | 1;
    let mut next = move |bound: i64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % bound as u64) as i64
    };
    let mut log = Log {
        orders: vec![],
        products: vec![],
        customers: vec![],
        times: vec![],
    };
    for order in 0..orders {
        let (customer, time) = (next(orders / 3 + 1), next(1000));
        for _ in 0..1 + next(6) {
            // Squared draws skew toward low product codes, so some pairs are frequent.
            let p = next(products);
            log.orders.push(order * 7919 % 100_003);
            log.products.push(p * p / products);
            log.customers.push(customer);
            log.times.push(time);
        }
    }
    log
}

fn lines(log: &Log, products: usize) -> Lines<'_> {
    Lines {
        orders: Some(&log.orders),
        products: &log.products,
        customers: Some(&log.customers),
        times: Some(&log.times),
        n_products: products,
        product_name: "product_id",
        customer_name: "customer_id",
    }
}

fn sets(log: &Log, level: Level) -> BTreeMap<i64, BTreeSet<i64>> {
    let mut out: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for i in 0..log.products.len() {
        let key = match level {
            Level::Order => log.orders[i],
            Level::Customer => log.customers[i],
        };
        out.entry(key).or_default().insert(log.products[i]);
    }
    out
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(work)
}

#[test]
fn pair_counts_match_brute_force_at_both_levels() {
    for seed in 1..6 {
        let log = random_log(seed, 400, 30);
        for level in [Level::Order, Level::Customer] {
            let mut want: BTreeMap<(u32, u32), u64> = BTreeMap::new();
            for set in sets(&log, level).values() {
                for &a in set {
                    for &b in set.range(a + 1..) {
                        *want.entry((a as u32, b as u32)).or_default() += 1;
                    }
                }
            }
            let min_count = 3;
            want.retain(|_, c| *c >= min_count);
            let b = baskets(&lines(&log, 30), level).expect("groups");
            let t = Thresholds::new(None, min_count).expect("valid");
            let got: BTreeMap<(u32, u32), u64> = count_pairs(&b, &t)
                .pairs()
                .map(|p| ((p.a, p.b), p.count as u64))
                .collect();
            assert_eq!(got, want, "seed {seed}, {level:?}");
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let log = random_log(42, 3000, 80);
    let run = || {
        let b = baskets(&lines(&log, 80), Level::Order).expect("groups");
        let t = Thresholds::new(Some(0.001), 1).expect("valid");
        let counts = count_pairs(&b, &t);
        let measures = counts.measures();
        let orders = in_customer_order(baskets(&lines(&log, 80), Level::Order).expect("groups"));
        let follows = next_products(&orders, 1, Some(5));
        let customers = baskets(&lines(&log, 80), Level::Customer).expect("groups");
        let table = Neighbours::of(&customers, Some(10));
        let recs = recommend(&customers, &Scorer::Similar(&table), 5, true);
        let pairs: Vec<_> = counts.pairs().copied().collect();
        (pairs, measures.lift, measures.p_value, follows, recs)
    };
    let one = in_pool(1, run);
    let three = in_pool(3, run);
    assert_eq!(one.0, three.0);
    assert_eq!(one.1, three.1);
    assert_eq!(one.2, three.2);
    assert_eq!(one.3, three.3);
    assert_eq!(one.4, three.4);
    assert!(!one.0.is_empty() && !one.3.is_empty() && !one.4.is_empty());
}

#[test]
fn next_products_match_brute_force() {
    let log = random_log(9, 500, 20);
    // Orders: (customer, time, order) → products.
    let mut orders: BTreeMap<(i64, i64, i64), BTreeSet<i64>> = BTreeMap::new();
    for i in 0..log.products.len() {
        orders
            .entry((log.customers[i], log.times[i], log.orders[i]))
            .or_default()
            .insert(log.products[i]);
    }
    let list: Vec<_> = orders.into_iter().collect();
    let mut want: BTreeMap<(u32, u32), (u64, u64)> = BTreeMap::new();
    let mut followed: BTreeMap<u32, u64> = BTreeMap::new();
    for w in list.windows(2) {
        if w[0].0 .0 != w[1].0 .0 {
            continue;
        }
        for &a in &w[0].1 {
            *followed.entry(a as u32).or_default() += 1;
            for &b in &w[1].1 {
                want.entry((a as u32, b as u32)).or_default().0 += 1;
            }
        }
    }
    for ((a, _), v) in want.iter_mut() {
        v.1 = followed[a];
    }
    let b = in_customer_order(baskets(&lines(&log, 20), Level::Order).expect("groups"));
    let got: BTreeMap<(u32, u32), (u64, u64)> = next_products(&b, 1, None)
        .iter()
        .map(|f| ((f.product, f.next), (f.count, f.followed)))
        .collect();
    assert_eq!(got, want);
}
