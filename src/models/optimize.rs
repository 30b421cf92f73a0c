//! L-BFGS with a strong-Wolfe line search, restarts, and observed-information standard errors.

use super::{FitOptions, FitResult};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use std::collections::VecDeque;

/// Outcome of one L-BFGS run.
#[derive(Debug, Clone)]
pub struct LbfgsResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    pub message: &'static str,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

struct Point {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// Minimises `f` (returns the value and writes the gradient; a non-finite value means "outside
/// the domain") from `x0` with L-BFGS (memory 10) and a strong-Wolfe line search
/// (c1 = 1e-4, c2 = 0.9, cubic interpolation, bisection when the function is not finite).
/// Converged when `max|grad| <= tol`, or when the objective stops changing (relative 1e-15)
/// with `max|grad| <= 1e3 tol`.
pub fn lbfgs<F>(f: F, x0: &[f64], max_iter: usize, tol: f64) -> LbfgsResult
where
    F: Fn(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let eval = |x: &[f64]| -> Point {
        // Each evaluation is a pass over the (compressed) data: the unit of work to interrupt.
        checkpoint();
        let mut g = vec![0.0; n];
        let mut v = f(x, &mut g);
        if !v.is_finite() || g.iter().any(|z| !z.is_finite()) {
            v = f64::INFINITY;
        }
        Point {
            x: x.to_vec(),
            f: v,
            g,
        }
    };
    let mut cur = eval(x0);
    if !cur.f.is_finite() {
        return LbfgsResult {
            x: x0.to_vec(),
            f: f64::INFINITY,
            grad: cur.g,
            iterations: 0,
            converged: false,
            message: "objective not finite at the starting point",
        };
    }
    let m = 10;
    let mut hist: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::new();
    let mut iterations = 0;
    let mut small_steps = 0;
    let mut message = "maximum number of iterations reached";
    let mut converged = false;
    while iterations < max_iter {
        let gn = inf_norm(&cur.g);
        if gn <= tol {
            converged = true;
            message = "gradient below tolerance";
            break;
        }
        // Two-loop recursion.
        let mut q = cur.g.clone();
        let mut alphas = Vec::with_capacity(hist.len());
        for (s, y, rho) in hist.iter().rev() {
            let a = rho * dot(s, &q);
            for i in 0..n {
                q[i] -= a * y[i];
            }
            alphas.push(a);
        }
        if let Some((s, y, _)) = hist.back() {
            let gamma = dot(s, y) / dot(y, y);
            for v in q.iter_mut() {
                *v *= gamma;
            }
        }
        for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for i in 0..n {
                q[i] += s[i] * (a - b);
            }
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        if dot(&d, &cur.g) >= 0.0 || d.iter().any(|v| !v.is_finite()) {
            hist.clear();
            d = cur.g.iter().map(|v| -v).collect();
        }
        let step0 = if hist.is_empty() {
            (1.0 / inf_norm(&d)).min(1.0)
        } else {
            1.0
        };
        iterations += 1;
        let next = match line_search(&eval, &cur, &d, step0) {
            Some(p) => p,
            None => {
                if hist.is_empty() {
                    message = "line search failed";
                    converged = gn <= 1e3 * tol;
                    break;
                }
                hist.clear();
                continue;
            }
        };
        let s: Vec<f64> = next.x.iter().zip(&cur.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next.g.iter().zip(&cur.g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
            if hist.len() == m {
                hist.pop_front();
            }
            hist.push_back((s, y, 1.0 / sy));
        }
        let df = (cur.f - next.f).abs();
        cur = next;
        if df <= 1e-15 * cur.f.abs().max(1.0) {
            small_steps += 1;
            if small_steps >= 3 {
                converged = inf_norm(&cur.g) <= 1e3 * tol;
                message = "objective stopped changing";
                break;
            }
        } else {
            small_steps = 0;
        }
    }
    if !converged && inf_norm(&cur.g) <= tol {
        converged = true;
    }
    LbfgsResult {
        x: cur.x,
        f: cur.f,
        grad: cur.g,
        iterations,
        converged,
        message,
    }
}

fn line_search<E>(eval: &E, cur: &Point, d: &[f64], step0: f64) -> Option<Point>
where
    E: Fn(&[f64]) -> Point,
{
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let f0 = cur.f;
    let dg0 = dot(&cur.g, d);
    if dg0 >= 0.0 {
        return None;
    }
    let at = |a: f64| -> Point {
        let x: Vec<f64> = cur.x.iter().zip(d).map(|(x, d)| x + a * d).collect();
        eval(&x)
    };
    // (step, f, directional derivative)
    let mut lo = (0.0, f0, dg0);
    let mut lo_pt: Option<Point> = None;
    let mut a = step0;
    let mut hi: (f64, f64, f64);
    let mut i = 0;
    loop {
        let p = at(a);
        let dg = if p.f.is_finite() {
            dot(&p.g, d)
        } else {
            f64::NAN
        };
        if !p.f.is_finite() || p.f > f0 + C1 * a * dg0 || (i > 0 && p.f >= lo.1) {
            hi = (a, p.f, dg);
            break;
        }
        if dg.abs() <= -C2 * dg0 {
            return Some(p);
        }
        if dg >= 0.0 {
            hi = lo;
            lo = (a, p.f, dg);
            lo_pt = Some(p);
            break;
        }
        lo = (a, p.f, dg);
        lo_pt = Some(p);
        a *= 4.0;
        i += 1;
        if i > 40 {
            return lo_pt;
        }
    }
    // Zoom.
    let (d_norm, x_norm) = (inf_norm(d), inf_norm(&cur.x));
    for _ in 0..60 {
        let (a_lo, a_hi) = (lo.0, hi.0);
        let w = (a_hi - a_lo).abs();
        let (amin, amax) = (a_lo.min(a_hi), a_lo.max(a_hi));
        let mut trial = 0.5 * (a_lo + a_hi);
        if hi.1.is_finite() && hi.2.is_finite() {
            // Cubic interpolation (Nocedal & Wright 3.59).
            let d1 = lo.2 + hi.2 - 3.0 * (lo.1 - hi.1) / (a_lo - a_hi);
            let disc = d1 * d1 - lo.2 * hi.2;
            if disc >= 0.0 {
                let d2 = (a_hi - a_lo).signum() * disc.sqrt();
                let c = a_hi - (a_hi - a_lo) * (hi.2 + d2 - d1) / (hi.2 - lo.2 + 2.0 * d2);
                if c.is_finite() && c > amin + 0.1 * w && c < amax - 0.1 * w {
                    trial = c;
                }
            }
        }
        // Stop once the bracket no longer moves the parameters meaningfully: below that, the
        // objective's rounding noise decides, and bisecting further only burns evaluations.
        if w <= 1e-16 * amax.max(1e-300) || w * d_norm <= 1e-10 * (1.0 + x_norm) {
            break;
        }
        let p = at(trial);
        let dg = if p.f.is_finite() {
            dot(&p.g, d)
        } else {
            f64::NAN
        };
        if !p.f.is_finite() || p.f > f0 + C1 * trial * dg0 || p.f >= lo.1 {
            hi = (trial, p.f, dg);
        } else {
            if dg.abs() <= -C2 * dg0 {
                return Some(p);
            }
            if dg * (a_hi - a_lo) >= 0.0 {
                hi = lo;
            }
            lo = (trial, p.f, dg);
            lo_pt = Some(p);
        }
    }
    // Accept the best point with sufficient decrease, if any.
    lo_pt.filter(|p| p.f < f0)
}

/// Fits a model by maximum likelihood over log-parameters.
///
/// `ll_grad(theta, grad)` returns the total weighted log-likelihood at natural parameters
/// `theta` and writes `∂LL/∂theta` into `grad`. `starts` are natural-scale starting points, tried
/// in order; the best converged run wins (a non-converged best run is restarted once from its
/// end point). Errors with [`CoreError::Convergence`] if no run converges or a parameter runs
/// off to 0 or infinity.
pub fn fit_model<F>(
    names: &'static [&'static str],
    ll_grad: F,
    starts: &[Vec<f64>],
    n_obs: f64,
    n_unique: usize,
    opts: &FitOptions,
) -> Result<FitResult>
where
    F: Fn(&[f64], &mut [f64]) -> f64,
{
    if !(n_obs > 0.0) {
        return Err(CoreError::data(
            "weights",
            "no observations to fit (total weight is 0)",
            0,
        ));
    }
    if !(opts.penalizer >= 0.0 && opts.penalizer.is_finite()) {
        return Err(CoreError::argument(
            "penalizer",
            format!("must be finite and >= 0, got {}", opts.penalizer),
        ));
    }
    if !(opts.tol > 0.0) {
        return Err(CoreError::argument(
            "tol",
            format!("must be > 0, got {}", opts.tol),
        ));
    }
    let k = names.len();
    let pen = opts.penalizer;
    // The last evaluation (theta, LL, gradient): the optimiser's final point is usually the
    // last point it evaluated, so the final LL and the base gradient of the Hessian are free.
    let last: std::cell::RefCell<(Vec<f64>, f64, Vec<f64>)> =
        std::cell::RefCell::new((Vec::new(), f64::NAN, Vec::new()));
    let ll_grad = |t: &[f64], g: &mut [f64]| {
        let v = ll_grad(t, g);
        let mut l = last.borrow_mut();
        l.0.clear();
        l.0.extend_from_slice(t);
        l.1 = v;
        l.2.clear();
        l.2.extend_from_slice(g);
        v
    };
    let objective = |phi: &[f64], g: &mut [f64]| -> f64 {
        if phi.iter().any(|p| p.abs() > 60.0) {
            return f64::INFINITY;
        }
        let theta: Vec<f64> = phi.iter().map(|p| p.exp()).collect();
        let mut gt = vec![0.0; k];
        let ll = ll_grad(&theta, &mut gt);
        let mut v = -ll / n_obs;
        for i in 0..k {
            v += pen * theta[i] * theta[i];
            g[i] = theta[i] * (-gt[i] / n_obs + 2.0 * pen * theta[i]);
        }
        v
    };
    let mut best: Option<LbfgsResult> = None;
    let mut total_iter = 0;
    for s in starts {
        if s.len() != k || s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            continue;
        }
        let x0: Vec<f64> = s.iter().map(|v| v.ln()).collect();
        let r = lbfgs(objective, &x0, opts.max_iter, opts.tol);
        total_iter += r.iterations;
        let done = r.converged;
        let better = match &best {
            None => r.f.is_finite(),
            Some(b) => r.f.is_finite() && (r.converged || r.f < b.f),
        };
        if better {
            best = Some(r);
        }
        // Restart from the next starting point only when this run failed.
        if done {
            break;
        }
    }
    let mut best = best.ok_or_else(|| {
        CoreError::Convergence("the log-likelihood is not finite at any starting point".into())
    })?;
    if !best.converged {
        let r = lbfgs(objective, &best.x, opts.max_iter, opts.tol);
        total_iter += r.iterations;
        if r.f.is_finite() && r.f <= best.f {
            best = r;
        }
    }
    let theta: Vec<f64> = best.x.iter().map(|p| p.exp()).collect();
    for (i, p) in best.x.iter().enumerate() {
        if p.abs() > 25.0 {
            return Err(CoreError::Convergence(format!(
                "parameter '{}' ran off to {} ({:e}): the data do not identify the model \
                 (e.g. nobody repeats, everybody repeats, or no dropout); last parameters {:?}",
                names[i],
                if *p < 0.0 { "0" } else { "infinity" },
                theta[i],
                theta
            )));
        }
    }
    if !best.converged {
        return Err(CoreError::Convergence(format!(
            "optimiser did not converge ({}) after {} iterations: parameters {:?}, mean objective {}, \
             max |gradient| {:e}",
            best.message,
            total_iter,
            theta,
            best.f,
            inf_norm(&best.grad)
        )));
    }
    let mut g = vec![0.0; k];
    let cached = {
        let l = last.borrow();
        (l.0 == theta).then(|| (l.1, l.2.clone()))
    };
    let ll = match cached {
        Some((v, gl)) => {
            g = gl;
            v
        }
        None => ll_grad(&theta, &mut g),
    };
    let se = standard_errors(&ll_grad, &theta, &g, n_obs * pen);
    let z = 1.959_963_984_540_054;
    let ci_lower = theta.iter().zip(&se).map(|(t, s)| t - z * s).collect();
    let ci_upper = theta.iter().zip(&se).map(|(t, s)| t + z * s).collect();
    Ok(FitResult {
        params: theta,
        param_names: names,
        log_likelihood: ll,
        standard_errors: se,
        ci_lower,
        ci_upper,
        aic: 2.0 * k as f64 - 2.0 * ll,
        bic: k as f64 * n_obs.ln() - 2.0 * ll,
        n_obs,
        n_unique,
        iterations: best.iterations,
        converged: true,
    })
}

/// Standard errors from the observed information of `-LL + pen_total * sum(theta^2)`, the
/// Hessian taken by forward differences of the analytic gradient from `g0` at `theta` (natural
/// scale; `k` gradient evaluations, steps of `1e-7 theta_j`, relative accuracy about 1e-7, far
/// below the sampling error the standard errors describe). NaN when the Hessian is not
/// positive definite.
pub(crate) fn standard_errors<F>(ll_grad: &F, theta: &[f64], g0: &[f64], pen_total: f64) -> Vec<f64>
where
    F: Fn(&[f64], &mut [f64]) -> f64,
{
    let k = theta.len();
    let mut h = vec![vec![0.0; k]; k];
    for j in 0..k {
        let mut tp = theta.to_vec();
        tp[j] += 1e-7 * theta[j];
        let step = tp[j] - theta[j];
        let mut gp = vec![0.0; k];
        ll_grad(&tp, &mut gp);
        for i in 0..k {
            h[i][j] = -(gp[i] - g0[i]) / step;
        }
        h[j][j] += 2.0 * pen_total;
    }
    for i in 0..k {
        for j in 0..i {
            let v = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = v;
            h[j][i] = v;
        }
    }
    match invert_spd(&h) {
        Some(inv) => (0..k).map(|i| inv[i][i].sqrt()).collect(),
        None => vec![f64::NAN; k],
    }
}

/// Inverse of a symmetric positive-definite matrix by Cholesky; `None` if not SPD.
pub fn invert_spd(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i][j];
            for p in 0..j {
                s -= l[i][p] * l[j][p];
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // inv = L^-T L^-1
    let mut linv = vec![vec![0.0; n]; n];
    for i in 0..n {
        linv[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let mut s = 0.0;
            for p in j..i {
                s -= l[i][p] * linv[p][j];
            }
            linv[i][j] = s / l[i][i];
        }
    }
    let mut inv = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            let mut s = 0.0;
            for p in i.max(j)..n {
                s += linv[p][i] * linv[p][j];
            }
            inv[i][j] = s;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock() {
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let r = lbfgs(f, &[-1.2, 1.0], 1000, 1e-10);
        assert!(r.converged, "{}", r.message);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8,
            "{:?}",
            r.x
        );
    }

    #[test]
    fn quadratic_with_domain() {
        // Minimum at 3 with the function infinite below 0.5: the line search must back off.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] < 0.5 {
                return f64::INFINITY;
            }
            g[0] = 2.0 * (x[0] - 3.0) - 1.0 / x[0];
            (x[0] - 3.0).powi(2) - x[0].ln()
        };
        let r = lbfgs(f, &[10.0], 100, 1e-12);
        assert!(r.converged);
        let want = (3.0 + (9.0f64 + 2.0).sqrt()) / 2.0;
        assert!((r.x[0] - want).abs() < 1e-9);
    }

    #[test]
    fn spd_inverse() {
        let a = vec![vec![4.0, 1.0], vec![1.0, 3.0]];
        let inv = invert_spd(&a).unwrap();
        assert!((inv[0][0] - 3.0 / 11.0).abs() < 1e-15 && (inv[0][1] + 1.0 / 11.0).abs() < 1e-15);
        assert!(invert_spd(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
    }
}
