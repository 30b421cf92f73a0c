#![allow(clippy::needless_range_loop)]
#[path = "fixtures/common.rs"]
mod common;

use common::*;
use custval::models::{bgnbd, FitOptions};

const PUB: [f64; 4] = [0.2426, 4.4136, 0.7929, 2.4259];

#[test]
fn cdnow_published_estimates() {
    let c = cdnow();
    assert_eq!(c.data.n_obs(), 2357.0);
    let fit = bgnbd::fit(&c.data, &FitOptions::default()).expect("fit");
    println!("{fit:?}");
    assert!(fit.converged);
    for (i, want) in PUB.iter().enumerate() {
        assert_sig(fit.params[i], *want, 3, fit.param_names[i]);
    }
    assert!(
        (fit.log_likelihood - -9582.43).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    assert!(fit
        .standard_errors
        .iter()
        .all(|s| s.is_finite() && *s > 0.0));
    // LL at the published parameters agrees too.
    let ll = bgnbd::log_likelihood(&PUB, &c.data).unwrap();
    assert!((ll - -9582.43).abs() < 0.05, "{ll}");
}

#[test]
fn gradient_matches_finite_differences() {
    let c = cdnow();
    let p = [0.3, 5.0, 0.9, 2.0];
    let g = bgnbd::gradient(&p, &c.data).unwrap();
    for i in 0..4 {
        let h = 1e-6 * p[i];
        let (mut pp, mut pm) = (p, p);
        pp[i] += h;
        pm[i] -= h;
        let fd = (bgnbd::log_likelihood(&pp, &c.data).unwrap()
            - bgnbd::log_likelihood(&pm, &c.data).unwrap())
            / (2.0 * h);
        assert!(
            (fd - g[i]).abs() < 1e-5 * (1.0 + fd.abs()),
            "{i}: {fd} vs {}",
            g[i]
        );
    }
}

#[test]
fn fhl_2005_predictions() {
    // Fader, Hardie & Lee (2005): customer with x=2, t_x=30.43, T=38.86 → 1.226 expected in 39 weeks.
    let e = bgnbd::conditional_expected_purchases(&PUB, 39.0, &[2.0], &[30.43], &[38.86]).unwrap();
    assert!((e[0] - 1.226).abs() < 1e-3, "{}", e[0]);
    // Expected purchases of a new customer in 39 weeks is about 1.47 repeat purchases... check
    // it against the sum over the pmf.
    let t = 39.0;
    let n: Vec<f64> = (0..400).map(|v| v as f64).collect();
    let pmf = bgnbd::probability_of_purchases(&PUB, &n, &[t]).unwrap();
    let total: f64 = pmf.iter().sum();
    let mean: f64 = pmf.iter().zip(&n).map(|(p, n)| p * n).sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    let e = bgnbd::expected_purchases(&PUB, &[t]).unwrap()[0];
    assert!((mean - e).abs() < 1e-6, "{mean} vs {e}");
    let c = cdnow();
    let pa = bgnbd::p_alive(&PUB, &c.data.x, &c.data.t_x, &c.data.t).unwrap();
    assert!(pa.iter().all(|p| (0.0..=1.0).contains(p)));
}
