//! Special functions: log-gamma, log-beta, digamma (statrs), and a log-space Gauss
//! hypergeometric function.

use statrs::function::gamma as sg;

/// `ln Γ(x)` for `x > 0` (NaN otherwise).
#[inline]
pub fn ln_gamma(x: f64) -> f64 {
    if x > 0.0 {
        sg::ln_gamma(x)
    } else {
        f64::NAN
    }
}

/// `ln B(a, b)` for `a, b > 0` (NaN otherwise; never panics).
#[inline]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    if a > 0.0 && b > 0.0 {
        sg::ln_gamma(a) + sg::ln_gamma(b) - sg::ln_gamma(a + b)
    } else {
        f64::NAN
    }
}

/// Digamma ψ(x).
#[inline]
pub fn digamma(x: f64) -> f64 {
    sg::digamma(x)
}

/// `ln(e^a + e^b)`, exact for infinite arguments.
#[inline]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    if m == f64::INFINITY {
        return m;
    }
    m + (-(a - b).abs()).exp().ln_1p()
}

/// `ln(1 + e^x)`.
#[inline]
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `1 / (1 + e^-x)`.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 - e^x)` for `x <= 0` (−inf at 0).
#[inline]
pub fn log1m_exp(x: f64) -> f64 {
    if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

const MAX_TERMS: usize = 1_000_000;
const EPS: f64 = 1e-17;
const RESCALE: f64 = 1e250;
const LN_RESCALE: f64 = 575.646_273_248_511_4; // 250 ln 10

/// `(ln|S|, sign S)` of the Gauss series `S = Σ (p)_k (q)_k / ((c)_k k!) z^k`, `|z| < 1`,
/// summed with rescaling so huge intermediate terms cannot overflow.
fn series(p: f64, q: f64, c: f64, z: f64) -> (f64, f64) {
    let ratio = |k: f64| (p + k) * (q + k) / ((c + k) * (k + 1.0)) * z;
    let mut sum = 1.0f64;
    let mut term = 1.0f64;
    let mut lscale = 0.0;
    let mut k = 0.0;
    let az = z.abs();
    for _ in 0..MAX_TERMS {
        term *= ratio(k);
        sum += term;
        k += 1.0;
        if term == 0.0 || !term.is_finite() {
            break;
        }
        let rn = ratio(k).abs().max(az);
        if rn < 1.0 && term.abs() * rn / (1.0 - rn) <= EPS * sum.abs() {
            break;
        }
        if sum.abs() > RESCALE || term.abs() > RESCALE {
            sum /= RESCALE;
            term /= RESCALE;
            lscale += LN_RESCALE;
        }
    }
    (sum.abs().ln() + lscale, sum.signum())
}

/// `ln 2F1(a, b; c; z)` for real `a, b, c > 0` and `z < 1` where the function is positive
/// (NaN outside that domain).
///
/// Negative `z` is mapped into `(0, 1)` with Pfaff's transformation; for `0 < z < 1` the direct
/// series or Euler's transformation `(1-z)^(c-a-b) 2F1(c-a, c-b; c; z)` is summed, whichever
/// has the smaller leading growth. Terms are summed with rescaling (log space), so large
/// parameters (thousands) do not overflow. Convergence slows like `z^k` as `z → 1`.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (l, s) = ln_hyp2f1_signed(a, b, c, z);
    if s > 0.0 {
        l
    } else {
        f64::NAN
    }
}

/// `(ln|F|, sign F)` of `F = 2F1(a, b; c; z)` for real parameters (`c` not a non-positive
/// integer) and `z < 1`; same method as [`ln_hyp2f1`]. Returns `(NaN, NaN)` outside the domain.
pub fn ln_hyp2f1_signed(a: f64, b: f64, c: f64, z: f64) -> (f64, f64) {
    let bad = (f64::NAN, f64::NAN);
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) || z >= 1.0 {
        return bad;
    }
    if c <= 0.0 && c == c.round() {
        return bad;
    }
    if z == 0.0 || a == 0.0 || b == 0.0 {
        return (0.0, 1.0);
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        let l1mz = (-z).ln_1p();
        // Prefer the form whose series has non-negative parameters (positive terms).
        let (lp, (ls, sg)) = if c - b >= 0.0 || c - a < 0.0 {
            (-a * l1mz, pos_branch(a, c - b, c, w))
        } else {
            (-b * l1mz, pos_branch(c - a, b, c, w))
        };
        return (lp + ls, sg);
    }
    pos_branch(a, b, c, z)
}

fn pos_branch(a: f64, b: f64, c: f64, z: f64) -> (f64, f64) {
    let ea = c - a;
    let eb = c - b;
    if (ea * eb).abs() < (a * b).abs() {
        let (ls, sg) = series(ea, eb, c, z);
        ((c - a - b) * (-z).ln_1p() + ls, sg)
    } else {
        series(a, b, c, z)
    }
}

/// `G = 2F1(a, b; a + 1; z)` for `a > 0`, `0 < b < a + 1`, `0 <= z < 1`: returns
/// `[ln G, ∂lnG/∂a, ∂lnG/∂b, ∂lnG/∂z]` (the `c = a + 1` moves with `a`).
///
/// Uses Euler's form `G = (1-z)^(1-b) Σ_k (a+1-b)_k / (a+1)_k z^k`, whose terms are positive and
/// decrease at least like `z^k`; the derivatives are accumulated in the same pass. This is the
/// function the Pareto/NBD likelihood needs.
pub fn ln_hyp2f1_ap1(a: f64, b: f64, z: f64) -> [f64; 4] {
    if !(a > 0.0 && b > 0.0 && (0.0..1.0).contains(&z)) {
        return [f64::NAN; 4];
    }
    if z == 0.0 {
        return [0.0, 0.0, 0.0, a * b / (a + 1.0)];
    }
    if z > AP1_CF_Z {
        if let Some(v) = ap1_cf(a, b, z) {
            return v;
        }
    }
    ap1_series(a, b, z)
}

/// Above this `z` [`ln_hyp2f1_ap1`] uses the continued fraction ([`ap1_cf`]).
const AP1_CF_Z: f64 = 0.4;

/// [`ln_hyp2f1_ap1`] by the continued fraction of the incomplete beta function.
///
/// `G = 2F1(a, b; a+1; z) = a z^-a B_z(a, q)` with `q = 1 - b`, and (DLMF 8.17.22)
/// `B_z(a, q) = z^a (1-z)^q / (a K)`, `K = 1 + d1/(1 + d2/(1 + ...))`,
/// `d_{2m+1} = -(a+m)(a+q+m) z / ((a+2m)(a+2m+1))`, `d_{2m} = m(q-m) z / ((a+2m-1)(a+2m))`.
/// So `ln G = (1-b) ln(1-z) - ln K`. All `d_n` are negative here (`q < 1`, `a + q > 0`) and
/// tend to `-z/4`: the fraction converges geometrically with ratio
/// `(1-√(1-z))/(1+√(1-z))` per term — about 50 terms at `z = 0.9` where the power series
/// needs hundreds — and has no poles in `b` (unlike the `1-z` connection formula).
/// `K` is evaluated with the forward three-term recurrence `A_n = A_{n-1} + d_n A_{n-2}`
/// (same for `B_n`), differentiated along with it for `∂ ln K/∂a` and `∂ ln K/∂q`;
/// `∂ ln G/∂z = a/z (K/(1-z) - 1)` is exact (from `dB_z/dz = z^(a-1)(1-z)^-b`).
/// Returns `None` (caller falls back to the series) if it does not converge.
fn ap1_cf(a: f64, b: f64, z: f64) -> Option<[f64; 4]> {
    let q = 1.0 - b;
    let e = a + q;
    // (A, ∂A/∂a, ∂A/∂q) for n-2 and n-1; same for B.
    let (mut a2, mut a2a, mut a2q) = (1.0f64, 0.0f64, 0.0f64); // A_{-1}
    let (mut a1, mut a1a, mut a1q) = (1.0f64, 0.0f64, 0.0f64); // A_0
    let (mut b2, mut b2a, mut b2q) = (0.0f64, 0.0f64, 0.0f64); // B_{-1}
    let (mut b1, mut b1a, mut b1q) = (1.0f64, 0.0f64, 0.0f64); // B_0
    let mut prev = [f64::NAN; 3];
    for n in 1..CF_MAX_TERMS {
        let m = (n / 2) as f64;
        // d_n and its partial derivatives with respect to a and q.
        let (d, da, dq) = if n % 2 == 1 {
            // -(a+m)(e+m) z / ((a+2m)(a+2m+1))
            let (u, v, p1, p2) = (a + m, e + m, a + 2.0 * m, a + 2.0 * m + 1.0);
            let d = -u * v * z / (p1 * p2);
            (
                d,
                d * (1.0 / u + 1.0 / v - 1.0 / p1 - 1.0 / p2),
                -u * z / (p1 * p2),
            )
        } else {
            // m(q-m) z / ((a+2m-1)(a+2m))
            let (p1, p2) = (a + 2.0 * m - 1.0, a + 2.0 * m);
            let c = m * z / (p1 * p2);
            let d = c * (q - m);
            (d, -d * (1.0 / p1 + 1.0 / p2), c)
        };
        let an = a1 + d * a2;
        let ana = a1a + d * a2a + da * a2;
        let anq = a1q + d * a2q + dq * a2;
        let bn = b1 + d * b2;
        let bna = b1a + d * b2a + da * b2;
        let bnq = b1q + d * b2q + dq * b2;
        (a2, a2a, a2q, a1, a1a, a1q) = (a1, a1a, a1q, an, ana, anq);
        (b2, b2a, b2q, b1, b1a, b1q) = (b1, b1a, b1q, bn, bna, bnq);
        if !(a1 > 0.0 && b1 > 0.0 && a1.is_finite() && b1.is_finite()) {
            return None;
        }
        // Keep the recurrence in range: rescale every quantity by 1/B_n.
        if !(1e-150..=1e150).contains(&b1) {
            let s = 1.0 / b1;
            for v in [
                &mut a2, &mut a2a, &mut a2q, &mut a1, &mut a1a, &mut a1q, &mut b2, &mut b2a,
                &mut b2q, &mut b1, &mut b1a, &mut b1q,
            ] {
                *v *= s;
            }
        }
        let k = a1 / b1;
        let ka = a1a / a1 - b1a / b1;
        let kq = a1q / a1 - b1q / b1;
        if n >= 3
            && (k - prev[0]).abs() <= CF_EPS * k
            && (ka - prev[1]).abs() <= CF_EPS * (1.0 + ka.abs())
            && (kq - prev[2]).abs() <= CF_EPS * (1.0 + kq.abs())
        {
            let l1mz = (-z).ln_1p();
            return Some([
                (1.0 - b) * l1mz - k.ln(),
                -ka,
                -l1mz + kq,
                a / z * (k / (1.0 - z) - 1.0),
            ]);
        }
        prev = [k, ka, kq];
    }
    None
}

const CF_MAX_TERMS: usize = 20_000;
const CF_EPS: f64 = 5e-16;

/// [`ln_hyp2f1_ap1`] by Euler's power series (any `0 < z < 1`, slow near 1).
fn ap1_series(a: f64, b: f64, z: f64) -> [f64; 4] {
    let e = a + 1.0 - b;
    let a1 = a + 1.0;
    let mut s = 1.0f64; // Σ t_k
    let mut sa = 0.0f64; // Σ t_k Da_k
    let mut sb = 0.0f64; // Σ t_k Db_k
    let mut sz = 0.0f64; // Σ k t_k
    let mut t = 1.0f64;
    let mut da = 0.0f64;
    let mut db = 0.0f64;
    let mut k = 0.0f64;
    let tail = z / (1.0 - z);
    for _ in 0..MAX_TERMS {
        t *= z * (e + k) / (a1 + k);
        da += 1.0 / (e + k) - 1.0 / (a1 + k);
        db -= 1.0 / (e + k);
        k += 1.0;
        s += t;
        sa += t * da;
        sb += t * db;
        sz += t * k;
        if t == 0.0 || t.abs() * (k + 1.0) * (1.0 + da.abs() + db.abs()) * tail <= EPS * s {
            break;
        }
    }
    let l1mz = (-z).ln_1p();
    [
        (1.0 - b) * l1mz + s.ln(),
        sa / s,
        -l1mz + sb / s,
        (b - 1.0) / (1.0 - z) + sz / (s * z),
    ]
}

/// Gauss-Legendre nodes and weights on `[-1, 1]` (Newton iteration on `P_n`).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let m = n.div_ceil(2);
    let nf = n as f64;
    for i in 0..m {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut pp = 0.0;
        for _ in 0..100 {
            let mut p1 = 1.0;
            let mut p2 = 0.0;
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                let jf = j as f64;
                p1 = ((2.0 * jf + 1.0) * z * p2 - jf * p3) / (jf + 1.0);
            }
            pp = nf * (z * p1 - p2) / (z * z - 1.0);
            let z1 = z;
            z = z1 - p1 / pp;
            if (z - z1).abs() < 1e-15 {
                break;
            }
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * pp * pp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ap1_derivatives_match_finite_differences() {
        for &(a, b, z) in &[
            (3.2, 1.6, 0.3),
            (250.0, 1.4, 0.8),
            (5.0, 4.9, 0.95),
            (1.1, 0.3, 0.02),
        ] {
            let g = ln_hyp2f1_ap1(a, b, z);
            let h = 1e-6;
            let fd = |i: usize| {
                let (mut p, mut m) = ([a, b, z], [a, b, z]);
                p[i] += h;
                m[i] -= h;
                (ln_hyp2f1_ap1(p[0], p[1], p[2])[0] - ln_hyp2f1_ap1(m[0], m[1], m[2])[0])
                    / (2.0 * h)
            };
            for i in 0..3 {
                let d = fd(i);
                assert!(
                    (d - g[i + 1]).abs() <= 1e-6 * (1.0 + d.abs()),
                    "{a} {b} {z} d{i}: {d} vs {}",
                    g[i + 1]
                );
            }
            let gen = ln_hyp2f1(a, b, a + 1.0, z);
            assert!(
                (gen - g[0]).abs() <= 1e-12 * (1.0 + gen.abs()),
                "{gen} vs {}",
                g[0]
            );
        }
    }

    #[test]
    fn ap1_continued_fraction_matches_series() {
        let mut worst = [0.0f64; 4];
        for &a in &[0.05, 0.7, 1.0, 2.0, 3.3, 12.6, 55.2, 310.4, 2000.0] {
            for &b in &[0.01, 0.35, 1.0, 1.6062, 2.0, 2.0 + 1e-9, 4.5, 17.0] {
                if b >= a + 1.0 {
                    continue;
                }
                for &z in &[0.41, 0.5, 0.75, 0.9, 0.97, 0.99, 0.999] {
                    let s = ap1_series(a, b, z);
                    let c = ap1_cf(a, b, z).unwrap_or_else(|| panic!("cf {a} {b} {z}"));
                    for i in 0..4 {
                        let err = (s[i] - c[i]).abs() / (1.0 + s[i].abs());
                        worst[i] = worst[i].max(err);
                        assert!(
                            err <= 1e-10,
                            "{a} {b} {z} [{i}]: series {} cf {}",
                            s[i],
                            c[i]
                        );
                    }
                }
            }
        }
        println!("worst cf vs series: {worst:?}");
    }

    #[test]
    fn gauss_legendre_integrates_polynomials() {
        let (x, w) = gauss_legendre(10);
        let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(18)).sum();
        assert!((s - 2.0 / 19.0).abs() < 1e-14);
    }
}
