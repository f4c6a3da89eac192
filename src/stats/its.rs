//! Interrupted time series, the building blocks of trend-aware verdicts: segmented regression
//! (Wagner et al. 2002; Lopez Bernal et al. 2017) fitted by least squares with Newey–West (HAC)
//! standard errors (Newey & West 1987), synthetic-control weights for the controls (non-negative,
//! summing to one, fitted on the pre-period; Abadie et al. 2010), and the placebo p-value.
//!
//! The level change is coded as in Stata's `itsa` ("coding B" in docs/statistics.md): the time
//! since the change is 0 in the first period after it, so the level change is the step at that
//! period relative to the pre-change trend carried on.

use super::two_sided_p;

/// A least-squares fit of `y` on the columns of a design matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub coef: Vec<f64>,
    /// ordinary least-squares standard errors (σ̂² (X'X)⁻¹, σ̂² = SSR / (n − k))
    pub se: Vec<f64>,
    pub residuals: Vec<f64>,
    /// (X'X)⁻¹, for other covariance estimates
    pub xtx_inv: Vec<Vec<f64>>,
    pub ssr: f64,
    pub r_squared: f64,
}

/// Least squares of `y` on `x` (rows are observations). `None` when there are no more
/// observations than columns or the columns are collinear.
pub fn ols(x: &[Vec<f64>], y: &[f64]) -> Option<Fit> {
    let (n, k) = (y.len(), x.first()?.len());
    if n <= k || x.len() != n || x.iter().any(|row| row.len() != k) {
        return None;
    }
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (row, &yi) in x.iter().zip(y) {
        for a in 0..k {
            xty[a] += row[a] * yi;
            for b in 0..k {
                xtx[a][b] += row[a] * row[b];
            }
        }
    }
    let xtx_inv = invert(&xtx)?;
    let coef: Vec<f64> = (0..k).map(|a| (0..k).map(|b| xtx_inv[a][b] * xty[b]).sum()).collect();
    let residuals: Vec<f64> =
        x.iter().zip(y).map(|(row, yi)| yi - row.iter().zip(&coef).map(|(v, c)| v * c).sum::<f64>()).collect();
    let ssr: f64 = residuals.iter().map(|e| e * e).sum();
    let mean = y.iter().sum::<f64>() / n as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let sigma2 = ssr / (n - k) as f64;
    let se = (0..k).map(|a| (sigma2 * xtx_inv[a][a]).sqrt()).collect();
    let r_squared = if sst > 0.0 { 1.0 - ssr / sst } else { 0.0 };
    Some(Fit { coef, se, residuals, xtx_inv, ssr, r_squared })
}

/// Gauss–Jordan inverse with partial pivoting; `None` for a singular matrix.
fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = m.len();
    let scale = m.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs())).max(1.0);
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..k).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        let p = a[col][col];
        for v in &mut a[col] {
            *v /= p;
        }
        for row in 0..k {
            if row != col {
                let f = a[row][col];
                if f != 0.0 {
                    let pivot_row = a[col].clone();
                    for (v, pv) in a[row].iter_mut().zip(&pivot_row) {
                        *v -= f * pv;
                    }
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[k..].to_vec()).collect())
}

/// Newey–West standard errors of a fit with `lags` lags and Bartlett weights
/// w_l = 1 − l/(L+1); no small-sample factor (as statsmodels' `cov_type="HAC"` by default).
pub fn newey_west_se(x: &[Vec<f64>], fit: &Fit, lags: usize) -> Vec<f64> {
    let k = fit.coef.len();
    let u = &fit.residuals;
    let mut s = vec![vec![0.0; k]; k];
    for (t, row) in x.iter().enumerate() {
        for a in 0..k {
            for b in 0..k {
                s[a][b] += u[t] * u[t] * row[a] * row[b];
            }
        }
    }
    for l in 1..=lags.min(x.len().saturating_sub(1)) {
        let w = 1.0 - l as f64 / (lags as f64 + 1.0);
        for t in l..x.len() {
            let (xt, xl) = (&x[t], &x[t - l]);
            let uu = u[t] * u[t - l];
            for a in 0..k {
                for b in 0..k {
                    s[a][b] += w * uu * (xt[a] * xl[b] + xl[a] * xt[b]);
                }
            }
        }
    }
    let bread = &fit.xtx_inv;
    (0..k)
        .map(|a| {
            let v: f64 = (0..k).map(|i| (0..k).map(|j| bread[a][i] * s[i][j] * bread[j][a]).sum::<f64>()).sum();
            v.max(0.0).sqrt()
        })
        .collect()
}

/// The lag rule ⌊4 (n/100)^(2/9)⌋ (Newey & West 1994; statsmodels' default).
pub fn default_lags(n: usize) -> usize {
    (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize
}

/// A segmented regression of a series with one change: level and trend before, level change
/// and slope change at the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmented {
    pub level: f64,
    pub trend: f64,
    pub level_change: f64,
    pub slope_change: f64,
    /// HAC standard errors of level change and slope change
    pub level_change_se: f64,
    pub slope_change_se: f64,
    /// two-sided normal p-value of the level change with HAC errors
    pub level_change_p: f64,
    pub lags: usize,
    /// the pre-change line carried past the change, at each period after it
    pub counterfactual: Vec<f64>,
    pub fit: Fit,
}

/// The design of a segmented regression: [1, t, post, t − first_post (0 before)], t = 1..n.
pub fn segmented_design(n: usize, first_post: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let post = i >= first_post;
            let since = if post { (i - first_post) as f64 } else { 0.0 };
            vec![1.0, (i + 1) as f64, f64::from(u8::from(post)), since]
        })
        .collect()
}

/// Fit `y` (one value per period, in order) with the change before period index `first_post`.
/// `None` without two periods on each side or with a degenerate design.
pub fn segmented(y: &[f64], first_post: usize, lags: Option<usize>) -> Option<Segmented> {
    if first_post < 2 || y.len() < first_post + 2 {
        return None;
    }
    let x = segmented_design(y.len(), first_post);
    let fit = ols(&x, y)?;
    let lags = lags.unwrap_or_else(|| default_lags(y.len()));
    let hac = newey_west_se(&x, &fit, lags);
    let (level, trend) = (fit.coef[0], fit.coef[1]);
    let counterfactual = (first_post..y.len()).map(|i| level + trend * (i + 1) as f64).collect();
    let level_change_p = if hac[2] > 0.0 { two_sided_p(fit.coef[2] / hac[2]) } else { 1.0 };
    Some(Segmented {
        level,
        trend,
        level_change: fit.coef[2],
        slope_change: fit.coef[3],
        level_change_se: hac[2],
        slope_change_se: hac[3],
        level_change_p,
        lags,
        counterfactual,
        fit,
    })
}

/// The Durbin–Watson statistic of residuals (2 without autocorrelation, toward 0 with positive).
pub fn durbin_watson(residuals: &[f64]) -> f64 {
    let ssr: f64 = residuals.iter().map(|e| e * e).sum();
    let diff: f64 = residuals.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    if ssr > 0.0 {
        diff / ssr
    } else {
        2.0
    }
}

/// The placebo p-value: (1 + placebos at least as extreme as the estimate) / (1 + placebos).
pub fn placebo_p(estimate: f64, placebos: &[f64]) -> f64 {
    let extreme = placebos.iter().filter(|p| p.abs() >= estimate.abs()).count();
    (1 + extreme) as f64 / (1 + placebos.len()) as f64
}

/// Synthetic-control weights: the non-negative weights summing to one whose combination of the
/// `controls` (one series each, the same length as `treated`) is closest to `treated` in least
/// squares. Projected gradient descent onto the simplex (Duchi et al. 2008).
pub fn simplex_weights(treated: &[f64], controls: &[Vec<f64>]) -> Option<Vec<f64>> {
    let m = controls.len();
    if m == 0 || controls.iter().any(|c| c.len() != treated.len()) || treated.is_empty() {
        return None;
    }
    let mut w = vec![1.0 / m as f64; m];
    // Step 1/L with L the largest eigenvalue bound of C'C (its trace).
    let trace: f64 = controls.iter().map(|c| c.iter().map(|v| v * v).sum::<f64>()).sum();
    if trace <= 0.0 {
        return Some(w);
    }
    let step = 1.0 / trace;
    for _ in 0..20_000 {
        let fitted: Vec<f64> =
            (0..treated.len()).map(|t| controls.iter().zip(&w).map(|(c, wi)| c[t] * wi).sum()).collect();
        let gradient: Vec<f64> = controls
            .iter()
            .map(|c| 2.0 * c.iter().zip(&fitted).zip(treated).map(|((cv, f), y)| cv * (f - y)).sum::<f64>())
            .collect();
        let moved: Vec<f64> = w.iter().zip(&gradient).map(|(wi, g)| wi - step * g).collect();
        let next = project_to_simplex(&moved);
        let change: f64 = next.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
        w = next;
        if change < 1e-12 {
            break;
        }
    }
    Some(w)
}

/// The Euclidean projection of `v` onto {w ≥ 0, Σw = 1}.
fn project_to_simplex(v: &[f64]) -> Vec<f64> {
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut cumulative = 0.0;
    let mut theta = 0.0;
    for (i, s) in sorted.iter().enumerate() {
        cumulative += s;
        let t = (cumulative - 1.0) / (i + 1) as f64;
        if s - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/statistics.md, interrupted time series: monthly mean hours, change between t = 12
    /// and 13; statsmodels OLS and HAC (maxlags 1, 2) values.
    const Y: [f64; 24] = [
        31.4, 31.3, 32.2, 31.3, 30.8, 30.4, 31.2, 32.2, 33.2, 32.9, 32.0, 31.7, 30.0, 31.2, 31.8, 31.4, 30.6, 29.9,
        29.4, 30.6, 31.4, 32.0, 31.2, 30.4,
    ];

    fn close(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() <= 1e-8 * want.abs().max(1.0), "{what}: got {got}, want {want}");
    }

    /// Coding A (time since = t − 12 from t = 13): the reference table row by row.
    #[test]
    fn segmented_regression_matches_statsmodels_coding_a() {
        let x: Vec<Vec<f64>> = (1..=24)
            .map(|t| {
                let post = t >= 13;
                vec![1.0, t as f64, f64::from(u8::from(post)), if post { (t - 12) as f64 } else { 0.0 }]
            })
            .collect();
        let fit = ols(&x, &Y).unwrap();
        let coef = [31.05757576, 0.1013986014, -1.56981352, -0.08286713287];
        let se = [0.4969562384, 0.06752305629, 0.6627357304, 0.09549202198];
        let hac1 = [0.346072119, 0.05049114136, 0.6080640674, 0.08240219234];
        let hac2 = [0.3516669775, 0.04893536087, 0.5667251138, 0.07792425234];
        let (nw1, nw2) = (newey_west_se(&x, &fit, 1), newey_west_se(&x, &fit, 2));
        for k in 0..4 {
            close(fit.coef[k], coef[k], &format!("b{k}"));
            close(fit.se[k], se[k], &format!("se b{k}"));
            close(nw1[k], hac1[k], &format!("HAC L=1 b{k}"));
            close(nw2[k], hac2[k], &format!("HAC L=2 b{k}"));
        }
        close(fit.r_squared, 0.3253978459, "R²");
        close(fit.ssr, 13.03977855, "SSR");
        close(fit.ssr / 20.0, 0.6519889277, "σ̂²");
        close(durbin_watson(&fit.residuals), 0.9811001504, "Durbin-Watson");
        close(two_sided_p(fit.coef[1] / nw2[1]), 0.03825680203, "p HAC L=2 b1");
        close(two_sided_p(fit.coef[2] / nw2[2]), 0.005606086181, "p HAC L=2 b2");
        close(two_sided_p(fit.coef[3] / nw2[3]), 0.2875861494, "p HAC L=2 b3");
    }

    /// Coding B, as `segmented` fits: the level change is the step at the first post month.
    #[test]
    fn segmented_regression_coding_b() {
        let s = segmented(&Y, 12, Some(2)).unwrap();
        close(s.level_change, -1.652680653, "b2 coding B");
        close(s.fit.se[2], 0.6627357304, "se b2 coding B");
        close(s.level_change_se, 0.5653410962, "HAC L=2 se b2 coding B");
        close(s.trend + s.slope_change, 0.01853146853, "post slope");
        // effect at t = 24 against the pre-trend carried on: b2 + 11·b3
        let effect = Y[23] - s.counterfactual[11] - s.fit.residuals[23];
        close(effect, -2.564219114, "effect at t = 24");
        assert_eq!(default_lags(24), 2, "⌊4 (24/100)^(2/9)⌋");
        assert_eq!(s.lags, 2);
    }

    #[test]
    fn placebo_p_counts_the_estimate_itself() {
        assert_eq!(placebo_p(2.0, &[]), 1.0);
        assert_eq!(placebo_p(2.0, &[0.5, -1.0, 3.0, -2.5]), 3.0 / 5.0);
        assert_eq!(placebo_p(-2.0, &[0.5; 19]), 0.05, "19 smaller placebos: p = 1/20");
    }

    #[test]
    fn synthetic_control_weights_recover_a_mix_and_stay_on_the_simplex() {
        let a: Vec<f64> = (0..30).map(|t| (t as f64 * 0.3).sin() + 5.0).collect();
        let b: Vec<f64> = (0..30).map(|t| (t as f64 * 0.17).cos() * 2.0 + 3.0).collect();
        let c: Vec<f64> = (0..30).map(|t| t as f64 * 0.1).collect();
        let treated: Vec<f64> = (0..30).map(|t| 0.7 * a[t] + 0.3 * b[t]).collect();
        let w = simplex_weights(&treated, &[a, b, c]).unwrap();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9 && w.iter().all(|x| *x >= 0.0), "{w:?}");
        assert!((w[0] - 0.7).abs() < 1e-4 && (w[1] - 0.3).abs() < 1e-4 && w[2] < 1e-4, "{w:?}");
        assert_eq!(project_to_simplex(&[2.0, 0.0]), vec![1.0, 0.0]);
        assert_eq!(project_to_simplex(&[0.5, 0.5]), vec![0.5, 0.5]);
    }
}
