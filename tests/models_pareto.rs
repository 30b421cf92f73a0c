#![allow(clippy::needless_range_loop)]
#[path = "fixtures/common.rs"]
mod common;

use common::*;
use custval::models::{pareto_nbd, FitOptions};

const PUB: [f64; 4] = [0.5532, 10.5763, 0.6062, 11.6715];

#[test]
fn cdnow_published_estimates() {
    let c = cdnow();
    let fit = pareto_nbd::fit(&c.data, &FitOptions::default()).expect("fit");
    println!("{fit:?}");
    for (i, want) in PUB.iter().enumerate() {
        assert_sig(fit.params[i], *want, 3, fit.param_names[i]);
    }
    assert!(
        (fit.log_likelihood - -9594.98).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    assert!(fit
        .standard_errors
        .iter()
        .all(|s| s.is_finite() && *s > 0.0));
}

#[test]
fn gradient_matches_finite_differences() {
    let c = cdnow();
    for p in [
        [0.5, 10.0, 0.6, 12.0],
        [0.5, 30.0, 0.6, 2.0],
        [1.5, 2.0, 2.5, 40.0],
        [0.5, 10.0, 1.0, 10.0],
    ] {
        let g = pareto_nbd::gradient(&p, &c.data).unwrap();
        for i in 0..4 {
            let h = 1e-6 * p[i];
            let (mut pp, mut pm) = (p, p);
            pp[i] += h;
            pm[i] -= h;
            let fd = (pareto_nbd::log_likelihood(&pp, &c.data).unwrap()
                - pareto_nbd::log_likelihood(&pm, &c.data).unwrap())
                / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-4 * (1.0 + fd.abs()),
                "{p:?} {i}: {fd} vs {}",
                g[i]
            );
        }
    }
}

#[test]
fn predictions() {
    let t = 39.0;
    let n: Vec<f64> = (0..300).map(|v| v as f64).collect();
    let pmf = pareto_nbd::probability_of_purchases(&PUB, &n, &[t]).unwrap();
    let total: f64 = pmf.iter().sum();
    let mean: f64 = pmf.iter().zip(&n).map(|(p, n)| p * n).sum();
    let e = pareto_nbd::expected_purchases(&PUB, &[t]).unwrap()[0];
    assert!((total - 1.0).abs() < 1e-7, "{total}");
    assert!((mean - e).abs() < 1e-5, "{mean} vs {e}");
    let c = cdnow();
    let pa = pareto_nbd::p_alive(&PUB, &c.data.x, &c.data.t_x, &c.data.t).unwrap();
    assert!(pa.iter().all(|p| (0.0..=1.0).contains(p)));
    let ce =
        pareto_nbd::conditional_expected_purchases(&PUB, 39.0, &[2.0], &[30.43], &[38.86]).unwrap();
    assert!(ce[0] > 0.5 && ce[0] < 2.0, "{}", ce[0]);
}

/// The vectorised new-customer curve against the formula in libm, and its count of bad `t`.
#[test]
fn new_customer_curve_matches_the_formula() {
    let (r, alpha, s, beta) = (PUB[0], PUB[1], PUB[2], PUB[3]);
    let t: Vec<f64> = (0..5_000)
        .map(|i| (i as f64 * 0.37).powf(1.3) * 1e-3)
        .collect();
    let got = pareto_nbd::expected_purchases(&PUB, &t).unwrap();
    for (&t, &g) in t.iter().zip(&got) {
        let want = r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + t)).powf(s - 1.0));
        let exact = -r * beta / alpha * (-(s - 1.0) * (t / beta).ln_1p()).exp_m1() / (s - 1.0);
        assert!(
            (g - exact).abs() <= 1e-13 * exact.abs() + 1e-300,
            "{t}: {g} vs {exact}"
        );
        assert!(
            (g - want).abs() <= 1e-9 * want.abs() + 1e-15,
            "{t}: {g} vs {want}"
        );
    }
    let bad = pareto_nbd::expected_purchases(&PUB, &[1.0, -1.0, f64::NAN, f64::INFINITY, 2.0]);
    assert!(bad.unwrap_err().to_string().contains("(3 rows)"));
}

#[test]
fn new_customer_curve_is_the_same_whether_ages_repeat_or_not() {
    // Ages of a daily summary in weeks (few distinct values: read through the memo) and ages
    // all distinct (the vectorised pass): each row's value must not depend on the path.
    let repeating: Vec<f64> = (0..300_000u64)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 731) as f64 / 7.0)
        .collect();
    let distinct: Vec<f64> = (0..300_000).map(|i| i as f64 * 1e-3 + 0.5).collect();
    let one_by_one = |t: &[f64]| -> Vec<u64> {
        t.iter()
            .map(|&t| pareto_nbd::expected_purchases(&PUB, &[t]).unwrap()[0].to_bits())
            .collect()
    };
    for t in [&repeating, &distinct] {
        let got: Vec<u64> = pareto_nbd::expected_purchases(&PUB, t)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert!(got == one_by_one(t));
    }
    // Bad ages never enter the memo: each repetition counts.
    let mut bad = repeating.clone();
    for i in (0..bad.len()).step_by(1000) {
        bad[i] = if i % 2000 == 0 { -1.0 } else { f64::NAN };
    }
    let err = pareto_nbd::expected_purchases(&PUB, &bad).unwrap_err();
    assert!(err.to_string().contains("(300 rows)"), "{err}");
}
