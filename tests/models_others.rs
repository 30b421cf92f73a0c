#![allow(clippy::needless_range_loop)]
#[path = "fixtures/common.rs"]
mod common;

use common::*;
use custval::models::{bgbb, clv, gamma_gamma, mbgnbd, sbg, FitOptions, RfmData};

#[test]
fn mbgnbd_cdnow() {
    let c = cdnow();
    let fit = mbgnbd::fit(&c.data, &FitOptions::default()).expect("fit");
    println!("{fit:?}");
    for (i, want) in [0.525, 6.183, 0.891, 1.614].iter().enumerate() {
        assert_sig(fit.params[i], *want, 3, fit.param_names[i]);
    }
    assert!(
        (fit.log_likelihood - -9582.13).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    let p = fit.params.clone();
    let g = mbgnbd::gradient(&[0.4, 5.0, 0.8, 2.0], &c.data).unwrap();
    let q = [0.4, 5.0, 0.8, 2.0];
    for i in 0..4 {
        let h = 1e-6 * q[i];
        let (mut a, mut b) = (q, q);
        a[i] += h;
        b[i] -= h;
        let fd = (mbgnbd::log_likelihood(&a, &c.data).unwrap()
            - mbgnbd::log_likelihood(&b, &c.data).unwrap())
            / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-5 * (1.0 + fd.abs()));
    }
    let n: Vec<f64> = (0..400).map(|v| v as f64).collect();
    let pmf = mbgnbd::probability_of_purchases(&p, &n, &[39.0]).unwrap();
    let mean: f64 = pmf.iter().zip(&n).map(|(p, n)| p * n).sum();
    let e = mbgnbd::expected_purchases(&p, &[39.0]).unwrap()[0];
    assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!((mean - e).abs() < 1e-6, "{mean} vs {e}");
    let pa = mbgnbd::p_alive(&p, &c.data.x, &c.data.t_x, &c.data.t).unwrap();
    assert!(pa.iter().all(|v| (0.0..=1.0).contains(v)));
    let ce = mbgnbd::conditional_expected_purchases(&p, 39.0, &[2.0], &[30.43], &[38.86]).unwrap();
    assert!(ce[0] > 0.8 && ce[0] < 1.6, "{}", ce[0]);
}

#[test]
fn gamma_gamma_cdnow() {
    let c = columns(CDNOW_TX, &["x", "zbar"]);
    let d = gamma_gamma::SpendData::new(&c[0], &c[1], None).unwrap();
    assert_eq!(d.x.len(), 946);
    assert_eq!(d.n_skipped, 2357 - 946);
    let fit = gamma_gamma::fit(&d, &FitOptions::default()).expect("fit");
    println!("{fit:?}");
    for (i, want) in [6.25, 3.74, 15.44].iter().enumerate() {
        assert_sig(fit.params[i], *want, 3, fit.param_names[i]);
    }
    assert!(
        (fit.log_likelihood - -4055.92).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    let e =
        gamma_gamma::conditional_expected_spend(&fit.params, &[0.0, 2.0], &[0.0, 22.35]).unwrap();
    let (p, q, g) = (fit.params[0], fit.params[1], fit.params[2]);
    assert!((e[0] - p * g / (q - 1.0)).abs() < 1e-9);
    assert!(e[1] > 22.35 && e[1] < e[0]);
    // m <= 0 among repeat customers is an error
    assert!(gamma_gamma::SpendData::new(&[1.0, 2.0], &[3.0, 0.0], None).is_err());
}

/// The fit's likelihood reads its lnΓ/ψ terms from tables per whole number; the per-row
/// terms (and predictions) evaluate them directly: both, and the gradient, must agree, on
/// long histories too.
#[test]
fn bgbb_tabulated_likelihood_matches_direct_terms() {
    let mut x = Vec::new();
    let (mut tx, mut n, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for periods in [1usize, 6, 52, 300] {
        for last in 0..=periods {
            for freq in [0, 1, last / 2, last] {
                if freq > last || (freq > 0 && last == 0) || (freq == 0 && last > 0) {
                    continue;
                }
                x.push(freq as f64);
                tx.push(last as f64);
                n.push(periods as f64);
                w.push(1.0 + (freq % 3) as f64);
            }
        }
    }
    let d = RfmData::new(x, tx, n, Some(w)).unwrap();
    for p in [[1.2035, 0.7498, 0.6568, 2.7839], [0.3, 9.0, 2.5, 0.4]] {
        let terms = bgbb::log_likelihood_terms(&p, &d).unwrap();
        let direct: f64 = terms.iter().zip(&d.weight).map(|(v, w)| v * w).sum();
        let tabulated = bgbb::log_likelihood(&p, &d).unwrap();
        assert!(
            (tabulated - direct).abs() <= 1e-10 * direct.abs(),
            "{tabulated} vs {direct}"
        );
        let g = bgbb::gradient(&p, &d).unwrap();
        for i in 0..4 {
            let h = 1e-6 * p[i];
            let (mut a, mut b) = (p, p);
            a[i] += h;
            b[i] -= h;
            let fd = (bgbb::log_likelihood(&a, &d).unwrap()
                - bgbb::log_likelihood(&b, &d).unwrap())
                / (2.0 * h);
            assert!(
                (g[i] - fd).abs() <= 1e-5 * (1.0 + fd.abs()),
                "{i}: {} vs {fd}",
                g[i]
            );
        }
    }
}

#[test]
fn bgbb_donations() {
    let c = columns(DONATIONS, &["frequency", "recency", "periods", "weights"]);
    let d = RfmData::new(c[0].clone(), c[1].clone(), c[2].clone(), Some(c[3].clone())).unwrap();
    assert_eq!(d.n_obs(), 11104.0);
    let fit = bgbb::fit(&d, &FitOptions::default()).expect("fit");
    println!("{fit:?}");
    for (i, want) in [1.2035, 0.7498, 0.6568, 2.7839].iter().enumerate() {
        assert_sig(fit.params[i], *want, 3, fit.param_names[i]);
    }
    assert!(
        (fit.log_likelihood - -33225.58).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    let p = fit.params.clone();
    let pa = bgbb::p_alive(&p, &d.x, &d.t_x, &d.t).unwrap();
    assert!(pa.iter().all(|v| (0.0..=1.0).contains(v)));
    // Customer who gave every year is surely alive.
    assert!(pa[d.x.iter().position(|x| *x == 6.0).unwrap()] > 0.99);
    let e = bgbb::expected_purchases(&p, &[5.0]).unwrap()[0];
    assert!(e > 0.5 && e < 5.0, "{e}");
    let ce = bgbb::conditional_expected_purchases(&p, 5.0, &d.x, &d.t_x, &d.t).unwrap();
    // Aggregate: FHS 2010 report ~ 1.6 expected transactions per donor over 5 years ... keep loose.
    let mean: f64 = ce.iter().zip(&d.weight).map(|(v, w)| v * w).sum::<f64>() / d.n_obs();
    assert!(mean > 0.5 && mean < 3.0, "{mean}");
    assert!(ce.iter().all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn sbg_cohorts() {
    let (h, rows) = read_csv(SBG);
    let (ri, ti, ci) = (
        h.iter().position(|c| c == "recency").unwrap(),
        h.iter().position(|c| c == "T").unwrap(),
        h.iter().position(|c| c == "cohort").unwrap(),
    );
    for (cohort, want, ll) in [
        ("regular", [0.704, 1.182], -1680.27),
        ("highend", [0.668, 3.806], -1611.16),
    ] {
        let sel: Vec<&Vec<String>> = rows.iter().filter(|r| r[ci] == cohort).collect();
        let rec: Vec<f64> = sel.iter().map(|r| r[ri].parse().unwrap()).collect();
        let t: Vec<f64> = sel.iter().map(|r| r[ti].parse().unwrap()).collect();
        let d = sbg::SbgData::new(&rec, &t, None).unwrap();
        let fit = sbg::fit(&d, &FitOptions::default()).expect("fit");
        println!("{cohort}: {fit:?}");
        for i in 0..2 {
            assert_sig(fit.params[i], want[i], 3, fit.param_names[i]);
        }
        assert!(
            (fit.log_likelihood - ll).abs() < 0.01,
            "{cohort}: {}",
            fit.log_likelihood
        );
        let s = sbg::survival(&fit.params, &[0.0, 1.0, 7.0]).unwrap();
        assert!((s[0] - 1.0).abs() < 1e-12 && s[1] < 1.0 && s[2] < s[1]);
        let rr = sbg::retention_rate(&fit.params, &[1.0, 2.0]).unwrap();
        assert!((rr[0] - s[1]).abs() < 1e-12 && rr[1] > rr[0]);
        let del = sbg::discounted_expected_lifetime(&fit.params, 0.1).unwrap();
        assert!(del > 1.0 && del < 11.0);
    }
}

#[test]
fn clv_discounting() {
    // Constant 1 purchase per unit time, spend 10, margin 0.5, 3 periods, no discount → 15.
    let v = clv::clv(|t| Ok(vec![t, 2.0 * t]), &[10.0], 0.5, 3, 0.0, 1.0).unwrap();
    assert!((v[0] - 15.0).abs() < 1e-12 && (v[1] - 30.0).abs() < 1e-12);
    let v = clv::clv(|t| Ok(vec![t]), &[10.0], 1.0, 2, 0.1, 1.0).unwrap();
    assert!((v[0] - (10.0 / 1.1 + 10.0 / 1.21)).abs() < 1e-12);
    // With a fitted BG/NBD and a unit factor (months measured in weeks).
    let c = cdnow();
    let p = [0.2426, 4.4136, 0.7929, 2.4259];
    let d = &c.data;
    let v = clv::clv(
        |t| custval::models::bgnbd::conditional_expected_purchases(&p, t, &d.x, &d.t_x, &d.t),
        &[35.0],
        0.3,
        12,
        0.01,
        365.25 / 12.0 / 7.0,
    )
    .unwrap();
    assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0));
    assert!(clv::clv(|t| Ok(vec![t]), &[1.0], 1.0, 2, -2.0, 1.0).is_err());
}
