#![allow(clippy::needless_range_loop)]
#[path = "fixtures/common.rs"]
mod common;

use common::*;
use custval::core::error::CoreError;
use custval::models::compress::{compress, scatter};
use custval::models::{bgnbd, mbgnbd, pareto_nbd, FitOptions, RfmData};
use std::time::Instant;

fn extreme_rows() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    // heavy buyers, one-time buyers, T = 0, huge T, t_x = T
    let x = vec![0.0, 0.0, 0.0, 1.0, 300.0, 800.0, 500.0, 5.0, 0.0, 2.0];
    let tx = vec![0.0, 0.0, 0.0, 0.1, 77.9, 78.0, 1e5, 1e6, 0.0, 0.0];
    let t = vec![0.0, 78.0, 1e7, 0.1, 78.0, 78.0, 1e5, 1e7, 1e-9, 0.0];
    (x, tx, t)
}

#[test]
fn predictions_are_finite_on_extreme_rows() {
    let (x, tx, t) = extreme_rows();
    let pb = [0.2426, 4.4136, 0.7929, 2.4259];
    let pm = [0.525, 6.183, 0.891, 1.614];
    let pp = [0.5532, 10.5763, 0.6062, 11.6715];
    // also parameter regimes with alpha >> beta and beta >> alpha (Pareto 2F1 near z = 1)
    let pp2 = [0.5, 400.0, 0.6, 0.5];
    let pp3 = [0.5, 0.5, 2.0, 300.0];
    for h in [0.0, 1.0, 39.0, 520.0] {
        for v in [
            bgnbd::conditional_expected_purchases(&pb, h, &x, &tx, &t).unwrap(),
            mbgnbd::conditional_expected_purchases(&pm, h, &x, &tx, &t).unwrap(),
            pareto_nbd::conditional_expected_purchases(&pp, h, &x, &tx, &t).unwrap(),
            pareto_nbd::conditional_expected_purchases(&pp2, h, &x, &tx, &t).unwrap(),
            pareto_nbd::conditional_expected_purchases(&pp3, h, &x, &tx, &t).unwrap(),
        ] {
            assert!(v.iter().all(|e| e.is_finite() && *e >= 0.0), "h={h}: {v:?}");
        }
        for v in [
            bgnbd::p_alive_at(&pb, &x, &tx, &t, h).unwrap(),
            mbgnbd::p_alive_at(&pm, &x, &tx, &t, h).unwrap(),
            pareto_nbd::p_alive_at(&pp, &x, &tx, &t, h).unwrap(),
            pareto_nbd::p_alive_at(&pp2, &x, &tx, &t, h).unwrap(),
            pareto_nbd::p_alive_at(&pp3, &x, &tx, &t, h).unwrap(),
        ] {
            assert!(v.iter().all(|p| (0.0..=1.0).contains(p)), "h={h}: {v:?}");
        }
    }
    let d = RfmData::new(x, tx, t, None).unwrap();
    for p in [pp, pp2, pp3] {
        let terms = pareto_nbd::log_likelihood_terms(&p, &d).unwrap();
        assert!(terms.iter().all(|v| v.is_finite()), "{p:?}: {terms:?}");
    }
    assert!(bgnbd::log_likelihood_terms(&pb, &d)
        .unwrap()
        .iter()
        .all(|v| v.is_finite()));
    assert!(mbgnbd::log_likelihood_terms(&pm, &d)
        .unwrap()
        .iter()
        .all(|v| v.is_finite()));
    for e in [
        bgnbd::expected_purchases(&pb, &[0.0, 1e6]).unwrap(),
        pareto_nbd::expected_purchases(&pp, &[0.0, 1e6]).unwrap(),
    ] {
        assert!(e.iter().all(|v| v.is_finite() && *v >= 0.0), "{e:?}");
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(matches!(
        compress(&[1.0], &[2.0], &[1.0], None),
        Err(CoreError::Data { .. })
    ));
    assert!(matches!(
        compress(&[f64::NAN], &[0.0], &[1.0], None),
        Err(CoreError::Data { .. })
    ));
    assert!(matches!(
        compress(&[1.0, 2.0], &[0.0], &[1.0], None),
        Err(CoreError::Argument { .. })
    ));
    assert!(bgnbd::p_alive(&[1.0, -1.0, 1.0, 1.0], &[1.0], &[1.0], &[2.0]).is_err());
    assert!(bgnbd::p_alive(&[1.0, 1.0, 1.0], &[1.0], &[1.0], &[2.0]).is_err());
}

#[test]
fn degenerate_data() {
    // nobody repeats
    let d = RfmData::new(vec![0.0; 50], vec![0.0; 50], vec![10.0; 50], None).unwrap();
    for r in [
        bgnbd::fit(&d, &FitOptions::default()),
        pareto_nbd::fit(&d, &FitOptions::default()),
        mbgnbd::fit(&d, &FitOptions::default()),
    ] {
        assert!(matches!(r, Err(CoreError::Convergence(_))), "{r:?}");
    }
    // everybody repeats, nobody drops out (t_x = T): error or finite boundary, never NaN
    let n = 200;
    let x: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64).collect();
    let t: Vec<f64> = (0..n).map(|i| 20.0 + (i % 11) as f64).collect();
    let d = RfmData::new(x, t.clone(), t, None).unwrap();
    for r in [
        bgnbd::fit(&d, &FitOptions::default()),
        pareto_nbd::fit(&d, &FitOptions::default()),
        mbgnbd::fit(&d, &FitOptions::default()),
    ] {
        match r {
            Ok(f) => assert!(f.params.iter().all(|p| p.is_finite() && *p > 0.0), "{f:?}"),
            Err(CoreError::Convergence(m)) => println!("degenerate: {m}"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // all weights zero
    let d = RfmData::new(vec![1.0], vec![1.0], vec![2.0], Some(vec![0.0])).unwrap();
    assert!(bgnbd::fit(&d, &FitOptions::default()).is_err());
}

#[test]
fn compress_and_scatter() {
    let x = [1.0, 0.0, 1.0, 2.0, 0.0];
    let tx = [3.0, 0.0, 3.0, 4.0, -0.0];
    let t = [5.0, 5.0, 5.0, 6.0, 5.0];
    let c = compress(&x, &tx, &t, Some(&[1.0, 2.0, 3.0, 4.0, 5.0])).unwrap();
    assert_eq!(c.data.x, vec![0.0, 1.0, 2.0]);
    assert_eq!(c.data.weight, vec![7.0, 4.0, 4.0]);
    let back = scatter(&c.data.t_x, &c.index).unwrap();
    assert_eq!(back, vec![3.0, 0.0, 3.0, 4.0, 0.0]);
    assert!(scatter(&[1.0], &[3]).is_err());
}

fn run_in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn fits_are_identical_for_1_and_2_threads() {
    let (x, tx, t) = synthetic(60_000, 7);
    let c = compress(&x, &tx, &t, None).unwrap();
    let opts = FitOptions::default();
    let a = run_in_pool(1, || bgnbd::fit(&c.data, &opts).unwrap());
    let b = run_in_pool(2, || bgnbd::fit(&c.data, &opts).unwrap());
    assert_eq!(a.params, b.params);
    assert_eq!(a.log_likelihood.to_bits(), b.log_likelihood.to_bits());
    let a = run_in_pool(1, || pareto_nbd::fit(&c.data, &opts).unwrap());
    let b = run_in_pool(2, || pareto_nbd::fit(&c.data, &opts).unwrap());
    assert_eq!(a.params, b.params);
    assert_eq!(a.standard_errors, b.standard_errors);
}

/// Timing on 1M synthetic customers: `cargo test --release --test models_robust -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_1m() {
    let (x, tx, t) = synthetic(1_000_000, 42);
    let s = Instant::now();
    let c = compress(&x, &tx, &t, None).unwrap();
    println!(
        "compress: {:?} -> {} unique rows",
        s.elapsed(),
        c.data.len()
    );
    let opts = FitOptions::default();
    for (name, f) in [
        ("bgnbd", bgnbd::fit as fn(&RfmData, &FitOptions) -> _),
        ("mbgnbd", mbgnbd::fit),
        ("pareto_nbd", pareto_nbd::fit),
    ] {
        let s = Instant::now();
        let r: custval::core::error::Result<custval::models::FitResult> = f(&c.data, &opts);
        let r = r.unwrap();
        println!(
            "{name} fit: {:?} ({} iterations) params {:?}",
            s.elapsed(),
            r.iterations,
            r.params
        );
    }
    let p = bgnbd::fit(&c.data, &opts).unwrap().params;
    let s = Instant::now();
    let e = bgnbd::conditional_expected_purchases(&p, 52.0, &x, &tx, &t).unwrap();
    let pa = bgnbd::p_alive(&p, &x, &tx, &t).unwrap();
    println!(
        "bgnbd predictions on 1M rows (cond. expected + p_alive): {:?}",
        s.elapsed()
    );
    assert_eq!(e.len() + pa.len(), 2_000_000);
    let pp = pareto_nbd::fit(&c.data, &opts).unwrap().params;
    let s = Instant::now();
    let e =
        pareto_nbd::conditional_expected_purchases(&pp, 52.0, &c.data.x, &c.data.t_x, &c.data.t)
            .unwrap();
    let e = scatter(&e, &c.index).unwrap();
    println!(
        "pareto predictions (unique rows + scatter): {:?}",
        s.elapsed()
    );
    assert_eq!(e.len(), 1_000_000);
}

#[test]
fn compress_matches_naive_grouping() {
    let (x, tx, t) = synthetic(20_000, 3);
    let w: Vec<f64> = (0..x.len()).map(|i| 0.5 + (i % 5) as f64).collect();
    let c = compress(&x, &tx, &t, Some(&w)).unwrap();
    let mut keys: Vec<(u64, u64, u64, usize)> = (0..x.len())
        .map(|i| (x[i].to_bits(), tx[i].to_bits(), t[i].to_bits(), i))
        .collect();
    keys.sort();
    let (mut ux, mut uw) = (Vec::new(), Vec::<f64>::new());
    let mut prev = None;
    for &(a, b, cc, i) in &keys {
        if prev != Some((a, b, cc)) {
            ux.push((f64::from_bits(a), f64::from_bits(b), f64::from_bits(cc)));
            uw.push(0.0);
            prev = Some((a, b, cc));
        }
        *uw.last_mut().unwrap() += w[i];
    }
    assert_eq!(c.data.len(), ux.len());
    for j in 0..ux.len() {
        assert_eq!((c.data.x[j], c.data.t_x[j], c.data.t[j]), ux[j]);
        assert_eq!(c.data.weight[j].to_bits(), uw[j].to_bits());
    }
    for i in 0..x.len() {
        let j = c.index[i] as usize;
        assert_eq!(
            (c.data.x[j], c.data.t_x[j], c.data.t[j]),
            (x[i], tx[i], t[i])
        );
    }
    // predictions per unique (x, T) pair equal the per-row formula on the full columns
    let p = [0.2426, 4.4136, 0.7929, 2.4259];
    let full = bgnbd::conditional_expected_purchases(&p, 10.0, &x, &tx, &t).unwrap();
    let part =
        bgnbd::conditional_expected_purchases(&p, 10.0, &c.data.x, &c.data.t_x, &c.data.t).unwrap();
    assert_eq!(scatter(&part, &c.index).unwrap(), full);
}

/// Deterministic pseudo-random uniforms in (0, 1).
fn uniforms(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        })
        .collect()
}

#[test]
fn gamma_gamma_factored_likelihood_matches_rows() {
    use custval::models::gamma_gamma::{self, SpendData};
    // > CHUNK rows, repeated (x, m) pairs, zero weights and x = 0 rows.
    let n = 9000;
    let u = uniforms(2 * n, 7);
    let x: Vec<f64> = (0..n).map(|i| (u[i] * 8.0).floor()).collect();
    let m: Vec<f64> = (0..n)
        .map(|i| 1.0 + (u[n + i] * 400.0).round() / 8.0)
        .collect();
    let w: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
    let d = SpendData::new(&x, &m, Some(&w)).unwrap();
    let p = [4.3, 2.7, 11.0];
    let terms = gamma_gamma::log_likelihood_terms(&p, &d).unwrap();
    let want: f64 = terms.iter().zip(&d.weight).map(|(t, w)| t * w).sum();
    let got = gamma_gamma::log_likelihood(&p, &d).unwrap();
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
    // Analytic gradient vs central differences.
    let g = gamma_gamma::gradient(&p, &d).unwrap();
    for k in 0..3 {
        let h = 1e-6 * p[k];
        let (mut a, mut b) = (p, p);
        a[k] += h;
        b[k] -= h;
        let fd = (gamma_gamma::log_likelihood(&a, &d).unwrap()
            - gamma_gamma::log_likelihood(&b, &d).unwrap())
            / (2.0 * h);
        assert!(
            (g[k] - fd).abs() <= 1e-5 * fd.abs().max(1.0),
            "{k}: {} vs {fd}",
            g[k]
        );
    }
    // Bit-identical for 1 and 2 threads.
    let l1 = run_in_pool(1, || gamma_gamma::log_likelihood(&p, &d).unwrap());
    let g1 = run_in_pool(1, || gamma_gamma::gradient(&p, &d).unwrap());
    let l2 = run_in_pool(2, || gamma_gamma::log_likelihood(&p, &d).unwrap());
    let g2 = run_in_pool(2, || gamma_gamma::gradient(&p, &d).unwrap());
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert_eq!(g1, g2);
    // CDNOW repeat customers, each row three times (weights 0, 1, 2): same estimate as the
    // weighted-once data, and n_unique counts the distinct (x, m) rows with weight.
    let c = columns(CDNOW_TX, &["x", "zbar"]);
    let k = c[0].len();
    let tri = |v: &[f64]| [v, v, v].concat();
    let w3: Vec<f64> = (0..3 * k).map(|i| (i / k) as f64).collect();
    let d3 = SpendData::new(&tri(&c[0]), &tri(&c[1]), Some(&w3)).unwrap();
    let w1 = vec![3.0; k];
    let d1 = SpendData::new(&c[0], &c[1], Some(&w1)).unwrap();
    let f3 = run_in_pool(2, || gamma_gamma::fit(&d3, &FitOptions::default()).unwrap());
    let f1 = run_in_pool(1, || gamma_gamma::fit(&d1, &FitOptions::default()).unwrap());
    for j in 0..3 {
        assert!((f3.params[j] - f1.params[j]).abs() <= 1e-6 * f1.params[j]);
    }
    let mut pairs: Vec<(u64, u64)> = (0..d1.x.len())
        .map(|i| (d1.x[i].to_bits(), d1.m[i].to_bits()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    assert_eq!(f3.n_unique, pairs.len());
    assert_eq!(f1.n_unique, pairs.len());
}

#[test]
fn discounted_expected_purchases_match_per_horizon_sums() {
    use custval::models::clv;
    let n = 5000;
    let u = uniforms(3 * n, 11);
    let t: Vec<f64> = (0..n).map(|i| (u[i] * 78.0 * 7.0).round() / 7.0).collect();
    let tx: Vec<f64> = (0..n)
        .map(|i| (u[n + i] * t[i] * 7.0).floor() / 7.0)
        .collect();
    let x: Vec<f64> = (0..n)
        .map(|i| {
            if tx[i] > 0.0 {
                1.0 + (u[2 * n + i] * 6.0).floor()
            } else {
                0.0
            }
        })
        .collect();
    let (times, weights) = clv::horizon_weights(12, 1.0, 0.01, 4.348).unwrap();
    type Cond = fn(&[f64], f64, &[f64], &[f64], &[f64]) -> custval::core::error::Result<Vec<f64>>;
    type Disc = fn(
        &[f64],
        &[f64],
        &[f64],
        &[f64],
        &[f64],
        &[f64],
    ) -> custval::core::error::Result<Vec<f64>>;
    let models: [(&[f64], Cond, Disc); 3] = [
        (
            &[0.2426, 4.4136, 0.7929, 2.4259],
            bgnbd::conditional_expected_purchases,
            bgnbd::discounted_expected_purchases,
        ),
        (
            &[0.525, 6.183, 0.891, 1.614],
            mbgnbd::conditional_expected_purchases,
            mbgnbd::discounted_expected_purchases,
        ),
        (
            &[0.5532, 10.5763, 0.6062, 11.6715],
            pareto_nbd::conditional_expected_purchases,
            pareto_nbd::discounted_expected_purchases,
        ),
    ];
    for (p, cond, disc) in models {
        let got = disc(p, &times, &weights, &x, &tx, &t).unwrap();
        let want = clv::clv(|h| cond(p, h, &x, &tx, &t), &[1.0], 1.0, 12, 0.01, 4.348).unwrap();
        for i in 0..n {
            assert!(
                (got[i] - want[i]).abs() <= 1e-12 * want[i].abs().max(1e-300) + 1e-300,
                "row {i}: {} vs {}",
                got[i],
                want[i]
            );
        }
        // Per-row results equal single-row calls (pair factoring is exact).
        for i in (0..n).step_by(97) {
            let one = cond(p, 39.0, &x[i..i + 1], &tx[i..i + 1], &t[i..i + 1]).unwrap()[0];
            let all = cond(p, 39.0, &x, &tx, &t).unwrap()[i];
            assert_eq!(one.to_bits(), all.to_bits());
        }
    }
    // Pareto/NBD P(alive) by pairs vs single rows, shifted.
    let p = [0.5532, 10.5763, 0.6062, 11.6715];
    let all = pareto_nbd::p_alive_at(&p, &x, &tx, &t, 3.0).unwrap();
    for i in (0..n).step_by(89) {
        let one =
            pareto_nbd::p_alive_at(&p, &x[i..i + 1], &tx[i..i + 1], &t[i..i + 1], 3.0).unwrap()[0];
        assert_eq!(one.to_bits(), all[i].to_bits());
    }
}

#[test]
fn p_alive_later_starts_at_p_alive_and_decays() {
    type Alive = fn(&[f64], &[f64], &[f64], &[f64], f64) -> custval::core::error::Result<Vec<f64>>;
    let models: [(&[f64], Alive); 3] = [
        (&[0.2426, 4.4136, 0.7929, 2.4259], bgnbd::p_alive_at),
        (&[0.525, 6.183, 0.891, 1.614], mbgnbd::p_alive_at),
        (&[0.5532, 10.5763, 0.6062, 11.6715], pareto_nbd::p_alive_at),
    ];
    let (x, tx, t) = synthetic(5_000, 7);
    for (p, alive_at) in models {
        let now = alive_at(p, &x, &tx, &t, 0.0).unwrap();
        let mut before = now.clone();
        for h in [0.5, 4.0, 52.0, 520.0] {
            let later = alive_at(p, &x, &tx, &t, h).unwrap();
            for i in 0..x.len() {
                assert!(later[i] < before[i] && later[i] > 0.0, "row {i}, t={h}");
            }
            // Pair factoring: every row as computed alone.
            for i in (0..x.len()).step_by(97) {
                let one = alive_at(p, &x[i..i + 1], &tx[i..i + 1], &t[i..i + 1], h).unwrap()[0];
                assert_eq!(one.to_bits(), later[i].to_bits());
            }
            before = later;
        }
    }
    // Pareto/NBD: the lifetime's survival given alive at T, ((β+T)/(β+T+t))^s.
    let p = [0.5532, 10.5763, 0.6062, 11.6715];
    let now = pareto_nbd::p_alive(&p, &x, &tx, &t).unwrap();
    let later = pareto_nbd::p_alive_at(&p, &x, &tx, &t, 10.0).unwrap();
    for i in 0..x.len() {
        let want = now[i] * ((p[3] + t[i]) / (p[3] + t[i] + 10.0)).powf(p[2]);
        assert!((later[i] - want).abs() <= 1e-14 * want, "row {i}");
    }
}

#[test]
fn rfm_violations_count_each_kind() {
    use custval::models::{rfm_violations, RfmViolations};
    let x = [1.0, f64::NAN, 2.5, 0.0, 3.0, -1.0, f64::INFINITY, 1.0];
    let tx = [1.0, 0.0, 1.0, 2.0, 5.0, 0.0, 0.0, 1.0];
    let t = [2.0, 1.0, 3.0, 3.0, 4.0, 1.0, 1.0, f64::NAN];
    let (x, tx, t) = (x.repeat(1000), tx.repeat(1000), t.repeat(1000));
    assert_eq!(
        rfm_violations(&x, &tx, &t).unwrap(),
        RfmViolations {
            nan: [1000, 0, 1000],
            infinite: [1000, 0, 0],
            negative: [1000, 0, 0],
            fractional_frequency: 1000,
            recency_above_t: 1000,
            recency_without_repeats: 1000,
        }
    );
    let clean = rfm_violations(&[0.0, 2.0, 1e20], &[0.0, 1.0, 3.0], &[1.0, 1.0, 3.0]).unwrap();
    assert_eq!(clean, RfmViolations::default());
    assert!(rfm_violations(&[1.0], &[1.0, 2.0], &[1.0]).is_err());
}

/// Timing of P(alive) on 1M rows, 1 and 2 threads:
/// `cargo test --release --test models_robust bench_p_alive -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_p_alive() {
    let (x, tx, t) = synthetic(1_000_000, 42);
    let p = [0.2426, 4.4136, 0.7929, 2.4259];
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let best = |f: &dyn Fn()| {
            (0..20)
                .map(|_| {
                    let s = Instant::now();
                    f();
                    s.elapsed()
                })
                .min()
                .unwrap()
        };
        pool.install(|| {
            let alive = best(&|| {
                bgnbd::p_alive(&p, &x, &tx, &t).unwrap();
            });
            let check = best(&|| {
                custval::models::rfm_violations(&x, &tx, &t).unwrap();
            });
            let pareto = best(&|| {
                pareto_nbd::expected_purchases(&[0.55, 10.5, 0.6, 11.6], &t).unwrap();
            });
            let pp = [0.5532, 10.5763, 0.6062, 11.6715];
            let pareto_alive = best(&|| {
                pareto_nbd::p_alive(&pp, &x, &tx, &t).unwrap();
            });
            println!(
                "{threads} threads: bgnbd p_alive {alive:?}, rfm_violations {check:?}, \
                 pareto expected {pareto:?}, pareto p_alive {pareto_alive:?}"
            );
        });
    }
}

/// Predictions check the whole RFM contract (not only NaN and negatives), naming the first
/// rule broken and counting its rows, on full-length columns and broadcast ones alike.
#[test]
fn predictions_check_the_whole_history_contract() {
    let rule = |r: Result<Vec<f64>, CoreError>| match r {
        Err(CoreError::Data {
            column,
            message,
            rows,
        }) => (column, message, rows),
        other => panic!("expected a data error, got {other:?}"),
    };
    let p = [0.24, 4.4, 0.79, 2.4];
    let n = 3000;
    let (x, tx, t) = (vec![2.0; n], vec![1.0; n], vec![5.0; n]);
    let mut fractional = x.clone();
    fractional[7] = 2.5;
    let mut above = tx.clone();
    above[9] = 6.0;
    above[2999] = 7.0;
    let (mut no_repeats, mut zero_x) = (x.clone(), tx.clone());
    no_repeats[0] = 0.0;
    zero_x[0] = 1.0;
    for (mbg, f) in [
        (
            false,
            bgnbd::p_alive as fn(&[f64], &[f64], &[f64], &[f64]) -> _,
        ),
        (true, mbgnbd::p_alive),
        (false, pareto_nbd::p_alive),
    ] {
        let p = if mbg { [0.5, 6.0, 0.9, 1.6] } else { p };
        let (column, message, rows) = rule(f(&p, &fractional, &tx, &t));
        assert_eq!(
            (column.as_str(), message.as_str(), rows),
            ("frequency", "non-integer frequency", 1)
        );
        let (column, message, rows) = rule(f(&p, &x, &above, &t));
        assert_eq!(
            (column.as_str(), message.as_str(), rows),
            ("recency", "recency greater than T", 2)
        );
        let (_, message, rows) = rule(f(&p, &no_repeats, &zero_x, &t));
        assert_eq!(
            (message.as_str(), rows),
            ("recency must be 0 when frequency is 0", 1)
        );
        // Broadcast columns: the same rules.
        let (_, message, rows) = rule(f(&p, &[2.0], &above, &[5.0]));
        assert_eq!((message.as_str(), rows), ("recency greater than T", 2));
    }
    // Frequencies beyond the odds table (≥ 1024) give the scalar path's answer.
    let big: Vec<f64> = (0..n).map(|i| (i * 7) as f64).collect();
    let (tx, t): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (i as f64 * 0.5, 2000.0)).unzip();
    let tx: Vec<f64> = tx
        .iter()
        .zip(&big)
        .map(|(&a, &x)| if x == 0.0 { 0.0 } else { a })
        .collect();
    let rows = bgnbd::p_alive(&p, &big, &tx, &t).unwrap();
    for i in [0, 1, 146, 147, 500, 2999] {
        let one = bgnbd::p_alive(&p, &[big[i]], &[tx[i]], &[t[i]]).unwrap();
        assert_eq!(rows[i].to_bits(), one[0].to_bits(), "row {i}");
    }
}

/// Gamma-Gamma's expected spend ignores the monetary value of one-time buyers (the population
/// mean) and counts only repeat customers' bad values, on full-length and broadcast columns.
#[test]
fn expected_spend_reads_monetary_value_of_repeat_customers_only() {
    use custval::models::gamma_gamma::conditional_expected_spend;
    let p = [6.25, 3.74, 15.44];
    let mean = 15.44 * 6.25 / (3.74 - 1.0);
    let got = conditional_expected_spend(&p, &[0.0, 0.0, 2.0], &[f64::NAN, -1.0, 10.0]).unwrap();
    assert_eq!(got[..2], [mean, mean]);
    assert_eq!(
        got[2],
        (15.44 + 10.0 * 2.0) * 6.25 / (6.25 * 2.0 + 3.74 - 1.0)
    );
    let bad =
        conditional_expected_spend(&p, &[1.0, 0.0, 3.0, 2.0], &[f64::NAN, f64::NAN, -1.0, 5.0]);
    match bad {
        Err(CoreError::Data { column, rows, .. }) => {
            assert_eq!((column.as_str(), rows), ("monetary_value", 2))
        }
        other => panic!("expected a data error, got {other:?}"),
    }
    let broadcast = conditional_expected_spend(&p, &[2.0], &[f64::INFINITY, 1.0, -2.0]);
    assert!(
        matches!(broadcast, Err(CoreError::Data { rows: 2, .. })),
        "{broadcast:?}"
    );
    assert!(conditional_expected_spend(&p, &[-1.0], &[1.0]).is_err());
}

/// The vectorised full-length pass of Gamma-Gamma's expected spend equals the row-by-row
/// (broadcast) one bit for bit, across task boundaries and with one-time buyers' `m` unset.
#[test]
fn expected_spend_vectorised_equals_row_by_row() {
    use custval::models::gamma_gamma::conditional_expected_spend;
    let p = [6.25, 3.74, 15.44];
    let n = 5_000;
    let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64).collect();
    let m: Vec<f64> = (0..n)
        .map(|i| {
            if x[i] == 0.0 && i % 3 == 0 {
                f64::NAN
            } else {
                ((i * 104_729) % 9_973) as f64 / 37.0
            }
        })
        .collect();
    let rows = conditional_expected_spend(&p, &x, &m).unwrap();
    for i in 0..n {
        // Two rows against one monetary value: the broadcast (row by row) path.
        let two = conditional_expected_spend(&p, &[x[i], x[i]], &[m[i]]).unwrap();
        assert_eq!(rows[i].to_bits(), two[0].to_bits(), "row {i}");
    }
}
