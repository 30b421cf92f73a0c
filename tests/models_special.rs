#![allow(clippy::needless_range_loop)]
#[path = "fixtures/common.rs"]
mod common;

use custval::models::special::{ln_hyp2f1, ln_hyp2f1_ap1, ln_hyp2f1_signed};

/// 2F1 against 50-digit mpmath values (tests/fixtures/gen_hyp2f1.py): relative error of the
/// function value (= absolute error of its log) <= 1e-10.
#[test]
fn hyp2f1_matches_mpmath() {
    let c = common::columns(
        "tests/fixtures/hyp2f1_mpmath.csv",
        &["a", "b", "c", "z", "ln_abs_hyp2f1", "sign"],
    );
    let mut worst = 0.0f64;
    for i in 0..c[0].len() {
        let (a, b, cc, z, want) = (c[0][i], c[1][i], c[2][i], c[3][i], c[4][i]);
        let (got, sign) = ln_hyp2f1_signed(a, b, cc, z);
        assert_eq!(sign, c[5][i], "sign of 2F1({a}, {b}; {cc}; {z})");
        if sign > 0.0 {
            assert_eq!(ln_hyp2f1(a, b, cc, z), got);
        } else {
            assert!(ln_hyp2f1(a, b, cc, z).is_nan());
        }
        let err = (got - want).abs();
        worst = worst.max(err);
        assert!(
            err <= 1e-10,
            "2F1({a}, {b}; {cc}; {z}): ln got {got}, want {want}"
        );
        if (cc - a - 1.0).abs() < 1e-12 && b < a + 1.0 && z >= 0.0 {
            let g = ln_hyp2f1_ap1(a, b, z)[0];
            assert!(
                (g - want).abs() <= 1e-10,
                "ap1({a}, {b}, {z}): {g} vs {want}"
            );
        }
    }
    println!("worst |ln error| = {worst:e} over {} cases", c[0].len());
}

#[test]
fn hyp2f1_domain() {
    assert!(ln_hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    assert!(ln_hyp2f1(1.0, 1.0, 2.0, f64::NAN).is_nan());
    assert_eq!(ln_hyp2f1(1.0, 1.0, 2.0, 0.0), 0.0);
    // 2F1(1,1;2;z) = -ln(1-z)/z
    let z: f64 = 0.3;
    assert!((ln_hyp2f1(1.0, 1.0, 2.0, z) - (-(1.0 - z).ln() / z).ln()).abs() < 1e-14);
}
