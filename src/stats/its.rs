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
    let times: Vec<f64> = (1..=n).map(|t| t as f64).collect();
    segmented_design_at(&times, first_post as f64 + 1.0)
}

/// The same design at explicit times (periods may be missing): post is t ≥ `first_post`, and
/// the time since the change is t − `first_post` there, 0 in the first period after it.
pub fn segmented_design_at(times: &[f64], first_post: f64) -> Vec<Vec<f64>> {
    times
        .iter()
        .map(|&t| {
            let post = t >= first_post;
            vec![1.0, t, f64::from(u8::from(post)), if post { t - first_post } else { 0.0 }]
        })
        .collect()
}

/// Fit `y` (one value per period, in order) with the change before period index `first_post`.
/// `None` without two periods on each side or with a degenerate design.
pub fn segmented(y: &[f64], first_post: usize, lags: Option<usize>) -> Option<Segmented> {
    let times: Vec<f64> = (1..=y.len()).map(|t| t as f64).collect();
    segmented_at(&times, y, None, first_post as f64 + 1.0, lags)
}

/// Fit `y` observed at `times` (increasing), the change taking effect at `first_post`, each
/// period weighted by `weights` (weighted least squares: a period's variance is taken as
/// proportional to 1/weight; `None` weighs all alike). `None` without two periods each side.
pub fn segmented_at(
    times: &[f64],
    y: &[f64],
    weights: Option<&[f64]>,
    first_post: f64,
    lags: Option<usize>,
) -> Option<Segmented> {
    let pre = times.iter().filter(|&&t| t < first_post).count();
    if pre < 2 || times.len() < pre + 2 || times.len() != y.len() {
        return None;
    }
    let x = segmented_design_at(times, first_post);
    let (xw, yw) = weighted(&x, y, weights)?;
    let fit = ols(&xw, &yw)?;
    let lags = lags.unwrap_or_else(|| default_lags(y.len()));
    let hac = newey_west_se(&xw, &fit, lags);
    let (level, trend) = (fit.coef[0], fit.coef[1]);
    let counterfactual = times.iter().filter(|&&t| t >= first_post).map(|t| level + trend * t).collect();
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

/// A step at the change on top of one trend through both sides: `y` on [1, t, post]. The step
/// is the average shift after the change relative to the trend before it, which a slope change
/// would otherwise split with itself. (step, HAC standard error, two-sided p, the fit).
pub fn step_on_trend(
    times: &[f64],
    y: &[f64],
    weights: Option<&[f64]>,
    first_post: f64,
    lags: Option<usize>,
) -> Option<(f64, f64, f64, Fit)> {
    let pre = times.iter().filter(|&&t| t < first_post).count();
    if pre < 2 || times.len() < pre + 2 || times.len() != y.len() {
        return None;
    }
    let x: Vec<Vec<f64>> = times.iter().map(|&t| vec![1.0, t, f64::from(u8::from(t >= first_post))]).collect();
    let (xw, yw) = weighted(&x, y, weights)?;
    let fit = ols(&xw, &yw)?;
    let se = newey_west_se(&xw, &fit, lags.unwrap_or_else(|| default_lags(y.len())))[2];
    let p = if se > 0.0 { two_sided_p(fit.coef[2] / se) } else { 1.0 };
    Some((fit.coef[2], se, p, fit))
}

/// A step without trends (difference in differences of period means when `y` is a gap between
/// series): `y` on [1, post]; (step, HAC standard error, two-sided p). `None` without two
/// periods each side.
pub fn level_shift(post: &[bool], y: &[f64], weights: Option<&[f64]>, lags: Option<usize>) -> Option<(f64, f64, f64)> {
    let after = post.iter().filter(|p| **p).count();
    if after < 2 || post.len() < after + 2 || post.len() != y.len() {
        return None;
    }
    let x: Vec<Vec<f64>> = post.iter().map(|&p| vec![1.0, f64::from(u8::from(p))]).collect();
    let (xw, yw) = weighted(&x, y, weights)?;
    let fit = ols(&xw, &yw)?;
    let se = newey_west_se(&xw, &fit, lags.unwrap_or_else(|| default_lags(y.len())))[1];
    let p = if se > 0.0 { two_sided_p(fit.coef[1] / se) } else { 1.0 };
    Some((fit.coef[1], se, p))
}

/// The average effect after a change, as CausalImpact summarises it: the (weighted) mean over
/// the periods after the change of `y` minus its counterfactual, the line fitted on the periods
/// before it carried on (`with_trend`) or their mean. Fitted as `y` on [1, t, post, post·(t − t̄)]
/// (or [1, post]), t̄ the weighted mean time of the periods after: the post coefficient is then
/// that mean, and an effect that builds up over the weeks counts in full, where a step at the
/// change would split it with a slope change. (effect, HAC standard error, two-sided p).
pub fn average_effect(
    times: &[f64],
    y: &[f64],
    weights: Option<&[f64]>,
    first_post: f64,
    with_trend: bool,
    lags: Option<usize>,
) -> Option<(f64, f64, f64)> {
    let post: Vec<bool> = times.iter().map(|&t| t >= first_post).collect();
    if !with_trend {
        return level_shift(&post, y, weights, lags);
    }
    let after = post.iter().filter(|p| **p).count();
    if after < 2 || times.len() < after + 2 || times.len() != y.len() {
        return None;
    }
    let weight = |i: usize| weights.and_then(|w| w.get(i).copied()).unwrap_or(1.0);
    let (mut sum_t, mut sum_w) = (0.0, 0.0);
    for (i, (&t, &p)) in times.iter().zip(&post).enumerate() {
        if p {
            sum_t += weight(i) * t;
            sum_w += weight(i);
        }
    }
    let mean_t = sum_t / sum_w;
    let x: Vec<Vec<f64>> = times
        .iter()
        .zip(&post)
        .map(|(&t, &p)| {
            let p = f64::from(u8::from(p));
            vec![1.0, t, p, p * (t - mean_t)]
        })
        .collect();
    let (xw, yw) = weighted(&x, y, weights)?;
    let fit = ols(&xw, &yw)?;
    let se = newey_west_se(&xw, &fit, lags.unwrap_or_else(|| default_lags(y.len())))[2];
    let p = if se > 0.0 { two_sided_p(fit.coef[2] / se) } else { 1.0 };
    Some((fit.coef[2], se, p))
}

/// Rows and values multiplied by √weight, so that least squares on them is weighted least squares.
fn weighted(x: &[Vec<f64>], y: &[f64], weights: Option<&[f64]>) -> Option<(Vec<Vec<f64>>, Vec<f64>)> {
    let Some(w) = weights else { return Some((x.to_vec(), y.to_vec())) };
    if w.len() != y.len() || w.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return None;
    }
    let root: Vec<f64> = w.iter().map(|v| v.sqrt()).collect();
    let xw = x.iter().zip(&root).map(|(row, r)| row.iter().map(|v| v * r).collect()).collect();
    let yw = y.iter().zip(&root).map(|(v, r)| v * r).collect();
    Some((xw, yw))
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
/// squares. Accelerated projected gradient (FISTA, Beck & Teboulle 2009) onto the simplex (Duchi
/// et al. 2008), on the Gram matrix: each step costs controls², not controls × periods.
pub fn simplex_weights(treated: &[f64], controls: &[Vec<f64>]) -> Option<Vec<f64>> {
    let m = controls.len();
    if m == 0 || controls.iter().any(|c| c.len() != treated.len()) || treated.is_empty() {
        return None;
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let gram: Vec<Vec<f64>> = controls.iter().map(|a| controls.iter().map(|b| dot(a, b)).collect()).collect();
    let target: Vec<f64> = controls.iter().map(|c| dot(c, treated)).collect();
    let times_gram = |w: &[f64]| -> Vec<f64> { gram.iter().map(|row| dot(row, w)).collect() };
    // The largest eigenvalue of the Gram matrix by power iteration: the step is its inverse.
    let mut v = vec![1.0 / (m as f64).sqrt(); m];
    let mut largest = 0.0;
    for _ in 0..100 {
        let gv = times_gram(&v);
        let norm = dot(&gv, &gv).sqrt();
        if norm <= 0.0 {
            break;
        }
        largest = norm;
        v = gv.into_iter().map(|x| x / norm).collect();
    }
    let mut w = vec![1.0 / m as f64; m];
    if largest <= 0.0 {
        return Some(w);
    }
    let step = 1.0 / (largest * 1.01);
    let mut momentum_point = w.clone();
    let mut t = 1.0f64;
    for _ in 0..20_000 {
        let g = times_gram(&momentum_point);
        let moved: Vec<f64> =
            momentum_point.iter().zip(g.iter().zip(&target)).map(|(p, (gi, bi))| p - step * (gi - bi)).collect();
        let next = project_to_simplex(&moved);
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let change: f64 = next.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
        momentum_point = next.iter().zip(&w).map(|(n, o)| n + (t - 1.0) / t_next * (n - o)).collect();
        w = next;
        t = t_next;
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

    /// The average effect over the 12 months after the change against the pre-change line
    /// carried on, and without a trend the difference of means. statsmodels 0.15.0:
    /// `OLS(Y, [1, t, post, post·(t − 18.5)]).fit(cov_type='HAC', cov_kwds={'maxlags': 2})`,
    /// parameter and standard error of `post`; `OLS(Y, [1, post])` likewise.
    #[test]
    fn average_effect_matches_statsmodels() {
        let times: Vec<f64> = (1..=24).map(|t| t as f64).collect();
        let (effect, se, _) = average_effect(&times, &Y, None, 13.0, true, Some(2)).unwrap();
        close(effect, -2.108449883449863, "average effect");
        close(se, 0.7266869464242954, "HAC L=2 se of the average effect");
        // the direct mean of y − the line fitted before the change, over the months after
        let pre = ols(&times[..12].iter().map(|t| vec![1.0, *t]).collect::<Vec<_>>(), &Y[..12]).unwrap();
        let direct: f64 = (12..24).map(|i| Y[i] - pre.coef[0] - pre.coef[1] * times[i]).sum::<f64>() / 12.0;
        close(effect, direct, "mean of observed − counterfactual");
        let (shift, shift_se, _) = average_effect(&times, &Y, None, 13.0, false, Some(2)).unwrap();
        close(shift, -0.8916666666666759, "difference of means");
        close(shift_se, 0.4052232593493313, "HAC L=2 se of the difference of means");
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

    /// Weighted least squares with integer weights has the coefficients of ordinary least
    /// squares on the rows repeated that many times; equal weights change nothing at all.
    #[test]
    fn weighted_segmented_regression() {
        let times: Vec<f64> = (1..=24).map(f64::from).collect();
        let weights: Vec<f64> = (0..24).map(|i| f64::from(1 + i % 3)).collect();
        let w = segmented_at(&times, &Y, Some(&weights), 13.0, Some(2)).unwrap();
        let (mut t_rep, mut y_rep) = (Vec::new(), Vec::new());
        for i in 0..24 {
            for _ in 0..(1 + i % 3) {
                t_rep.push(times[i]);
                y_rep.push(Y[i]);
            }
        }
        let repeated = ols(&segmented_design_at(&t_rep, 13.0), &y_rep).unwrap();
        for k in 0..4 {
            close(w.fit.coef[k], repeated.coef[k], &format!("b{k} weighted"));
        }
        let equal = segmented_at(&times, &Y, Some(&[2.5; 24]), 13.0, Some(2)).unwrap();
        close(equal.level_change, -1.652680653, "b2 with equal weights");
        close(equal.level_change_se, 0.5653410962, "HAC se with equal weights");
        assert!(segmented_at(&times, &Y, Some(&[0.0; 24]), 13.0, None).is_none(), "zero weight");
    }

    /// A step without trends is the difference of the means after and before.
    #[test]
    fn level_shift_is_the_difference_of_means() {
        let post: Vec<bool> = (0..24).map(|i| i >= 12).collect();
        let (step, se, p) = level_shift(&post, &Y, None, Some(2)).unwrap();
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        close(step, mean(&Y[12..]) - mean(&Y[..12]), "step");
        assert!(se > 0.0 && p > 0.0 && p < 1.0, "{se} {p}");
        assert!(level_shift(&post[..13], &Y[..13], None, None).is_none(), "one period after");
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
