//! The trend-aware estimate of one (change, metric): the weekly series of the changed process
//! against a synthetic control built from processes that had no SOP change around it, a
//! segmented regression on the gap between the two (its own level and trend, a level change
//! and a slope change at the change, Newey–West errors), and placebo calibration (the same
//! estimator at fake change dates before the change and on each control). See
//! docs/statistics.md, "Trend-aware verdicts".

use super::series::{Weekly, WEEK_MS};
use crate::metrics::Metric;
use crate::stats::its;

/// Periods needed on each side of a change to fit its trend; with fewer the estimate falls back
/// to a difference in differences against the controls.
pub const MIN_PERIODS: usize = 8;
/// Periods needed on each side for the difference in differences.
const MIN_DID_PERIODS: usize = 2;
/// Controls taken into a synthetic control: the best-tracking ones among the largest.
const MAX_CONTROLS: usize = 10;
/// Processes considered as controls, by ticket count.
const CANDIDATE_POOL: usize = 50;
/// A control may miss this share of the weeks (filled in from its neighbours).
const MAX_MISSING: f64 = 0.2;
/// How far back the trend is fitted, and how far after the change the weeks run.
pub const MAX_SIDE_MS: i64 = 365 * 86_400_000;

/// How a verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// segmented regression on the gap between the process and its synthetic control
    ItsSyntheticControl,
    /// segmented regression on the process alone (no process qualified as a control)
    Its,
    /// a step in the gap to the mean of the controls, without trends (too few periods for one)
    DifferenceInDifferences,
    /// the two windows compared directly (too few periods and no controls)
    BeforeAfter,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::ItsSyntheticControl => "its_synthetic_control",
            Method::Its => "its",
            Method::DifferenceInDifferences => "difference_in_differences",
            Method::BeforeAfter => "before_after",
        }
    }
}

/// The weeks of one comparison: `[first, last]`, the change taking effect at `first_post`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub first: i64,
    pub first_post: i64,
    pub last: i64,
}

impl Span {
    /// Weeks wholly on one side of the change: the week the change falls inside is left out.
    pub fn of(weekly: &Weekly, pre_start: i64, change: i64, post_end: Option<i64>) -> Option<Span> {
        let first = weekly.week_of(pre_start + WEEK_MS - 1).max(0);
        let change_week = weekly.week_of(change);
        let first_post = if weekly.week_start(change_week) == change { change_week } else { change_week + 1 };
        let last = match post_end {
            Some(end) => weekly.week_of(end) - 1,
            None => weekly.weeks - 1,
        }
        .min(weekly.weeks - 1);
        (first < change_week && first_post <= last).then_some(Span { first, first_post, last })
    }

    fn weeks(&self) -> impl Iterator<Item = i64> {
        self.first..=self.last
    }
}

/// The estimate for one (change, metric), on the metric's fitted scale (log hours for durations).
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub method: Method,
    pub level_change: f64,
    pub level_change_se: f64,
    pub p: f64,
    /// the level change's interval at the run's confidence level
    pub level_ci: (f64, f64),
    /// change of the weekly slope (segmented regressions only)
    pub slope_change: Option<f64>,
    /// the process's own weekly slope before the change (on the fitted scale)
    pub pre_trend: Option<f64>,
    /// the mean over the weeks after the change of the counterfactual and of what was observed
    pub counterfactual_after: f64,
    pub observed_after: f64,
    /// the mean over the weeks after the change of observed − counterfactual (what the verdict
    /// tests), its standard error and its interval, and over how many weeks
    pub average_effect: f64,
    pub average_se: f64,
    pub average_ci: (f64, f64),
    pub average_weeks: usize,
    /// how the placebos calibrate the verdict
    pub calibration: Calibration,
    /// where no process qualified as a control: why (the estimate then decides nothing)
    pub no_controls: Option<String>,
    /// (1 + placebos at least as extreme) / (1 + placebos), with the number of placebos
    pub placebo_p: Option<f64>,
    pub placebos: usize,
    /// process_id and weight of each control
    pub controls: Vec<(u32, f64)>,
    /// the observed series and the counterfactual, week by week, for the chart
    pub path: Vec<PathPoint>,
    /// half-width of the band around the counterfactual (the pre-period residuals' spread × z)
    pub band: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPoint {
    pub week_start_ms: i64,
    pub observed: f64,
    pub expected: f64,
    pub after: bool,
}

/// One series over the span: week, value, weight (weeks without a value left out).
#[derive(Debug, Clone, Default)]
struct Series {
    weeks: Vec<i64>,
    values: Vec<f64>,
    weights: Vec<f64>,
}

impl Series {
    fn pre_len(&self, first_post: i64) -> usize {
        self.weeks.iter().filter(|w| **w < first_post).count()
    }
}

/// A control's values at every week of the span, gaps filled in linearly; `None` when it misses
/// too many of the weeks `at` (those the changed process has a value in: a week where neither
/// has one costs nothing).
fn control_series(weekly: &Weekly, metric: &Metric, process_id: u32, span: Span, at: &[i64]) -> Option<Vec<f64>> {
    let raw: Vec<Option<f64>> = span.weeks().map(|w| weekly.value(&metric.name, process_id, w)).collect();
    let missing = at.iter().filter(|w| raw.get((**w - span.first) as usize).is_none_or(|v| v.is_none())).count();
    if at.is_empty() || missing as f64 > MAX_MISSING * at.len() as f64 {
        return None;
    }
    let known: Vec<(usize, f64)> = raw.iter().enumerate().filter_map(|(i, v)| Some((i, (*v)?))).collect();
    Some(
        (0..raw.len())
            .map(|i| {
                if let Some(v) = raw[i] {
                    return v;
                }
                let after = known.partition_point(|(k, _)| *k < i);
                match (after.checked_sub(1).and_then(|b| known.get(b)), known.get(after)) {
                    (Some((a, va)), Some((b, vb))) => va + (vb - va) * (i - a) as f64 / (b - a) as f64,
                    (Some((_, v)), None) | (None, Some((_, v))) => *v,
                    (None, None) => 0.0,
                }
            })
            .collect(),
    )
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn demeaned(v: &[f64]) -> Vec<f64> {
    let m = mean(v);
    v.iter().map(|x| x - m).collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (da, db) = (demeaned(a), demeaned(b));
    let num: f64 = da.iter().zip(&db).map(|(x, y)| x * y).sum();
    let den = (da.iter().map(|x| x * x).sum::<f64>() * db.iter().map(|y| y * y).sum::<f64>()).sqrt();
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// What the estimator sees: the treated series and the controls, at the treated's weeks.
struct Panel<'a> {
    treated: &'a Series,
    /// each control at the treated's weeks
    controls: Vec<Vec<f64>>,
}

/// One fit of the estimator: the gap to the weighted controls, its counterfactual line, the
/// step at the change and the average effect after it.
struct GapFit {
    weights: Vec<f64>,
    synthetic: Vec<f64>,
    gap: Vec<f64>,
    step: f64,
    step_se: f64,
    /// the mean over the weeks after the change of the gap minus its line carried on
    average: f64,
    average_se: f64,
    /// the gap's line before the change: level and weekly trend
    level: f64,
    trend: f64,
}

impl GapFit {
    /// The tested statistic: the average effect over its standard error.
    fn statistic(&self) -> Option<f64> {
        (self.average_se > 0.0).then(|| self.average / self.average_se)
    }
}

/// The synthetic control fitted on the weeks before `first_post` (on demeaned series: the gap
/// has its own level), then on the gap: the step at `first_post` and the average effect after it,
/// both against the gap's own trend before the change where it has one.
fn fit_gap(panel: &Panel, first_post: i64) -> Option<GapFit> {
    let t = panel.treated;
    let pre = t.pre_len(first_post);
    let weights = if panel.controls.is_empty() {
        Vec::new()
    } else {
        let pre_controls: Vec<Vec<f64>> = panel.controls.iter().map(|c| demeaned(&c[..pre])).collect();
        its::simplex_weights(&demeaned(&t.values[..pre]), &pre_controls)?
    };
    let synthetic: Vec<f64> =
        (0..t.values.len()).map(|i| panel.controls.iter().zip(&weights).map(|(c, w)| c[i] * w).sum()).collect();
    let gap: Vec<f64> = t.values.iter().zip(&synthetic).map(|(y, s)| y - s).collect();
    let weeks = times(t);
    // Where the gap trends before the change, the average shift after it is measured against
    // one trend through both sides: a short trend of noisy weeks carried on alone for up to a
    // year scattered the placebos (the demo's VPN MTTR: spread-scaled p 0.0072 against 0.0005).
    // A gap without a trend of its own (the controls carry the desk's) is measured against its
    // mean before the change, so an effect that builds up counts in full.
    if trends(&weeks[..pre], &gap[..pre]) {
        let (step, se, _, fit) = its::step_on_trend(&weeks, &gap, Some(&t.weights), first_post as f64, None)?;
        let (level, trend) = (fit.coef[0], fit.coef[1]);
        return Some(GapFit {
            weights,
            synthetic,
            gap,
            step,
            step_se: se,
            average: step,
            average_se: se,
            level,
            trend,
        });
    }
    let (average, average_se, _) = its::average_effect(&weeks, &gap, Some(&t.weights), first_post as f64, false, None)?;
    let level = weighted_mean(&gap[..pre], &t.weights[..pre]);
    Some(GapFit { weights, synthetic, gap, step: average, step_se: average_se, average, average_se, level, trend: 0.0 })
}

fn weighted_mean(v: &[f64], w: &[f64]) -> f64 {
    let total: f64 = w.iter().sum();
    if total > 0.0 {
        v.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() / total
    } else {
        mean(v)
    }
}

/// Whether the gap before the change has a trend of its own: its slope's t statistic beyond the
/// two-sided 5% point of a Student t with n − 2 degrees of freedom, on the larger of the ordinary
/// and the Newey–West standard error: Newey–West alone, on a dozen weeks, is too small and finds
/// trends that are not there, and a trend fitted through both sides takes a step at the change
/// for its own (docs/statistics.md). Without a trend the counterfactual is the gap's mean
/// before the change. The placebos go through the same choice, so the p-value stays calibrated
/// either way.
fn trends(weeks: &[f64], gap: &[f64]) -> bool {
    let x: Vec<Vec<f64>> = weeks.iter().map(|t| vec![1.0, *t]).collect();
    its::ols(&x, gap).is_none_or(|fit| {
        let se = its::newey_west_se(&x, &fit, its::default_lags(gap.len()))[1].max(fit.se[1]);
        let df = gap.len().saturating_sub(2).max(1) as f64;
        se <= 0.0 || (fit.coef[1] / se).abs() > crate::stats::t_two_sided(0.05, df)
    })
}

fn times(s: &Series) -> Vec<f64> {
    s.weeks.iter().map(|w| *w as f64).collect()
}

/// Placebos needed before their spread calibrates the model's p-value; with fewer the estimate
/// decides nothing.
pub const MIN_CALIBRATING_PLACEBOS: usize = 10;
/// Placebos drawn at most per estimate (evenly over the possible ones).
const MAX_PLACEBOS: usize = 200;

/// How the placebos calibrate a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calibration {
    /// enough placebos for their rank to reach the significance level: the model's p scaled by
    /// their spread, and the rank, must both pass
    PlaceboRank,
    /// too few for the rank to reach it: the model's p scaled by their spread alone
    PlaceboSpread,
}

impl Calibration {
    pub fn name(self) -> &'static str {
        match self {
            Calibration::PlaceboRank => "placebo_rank",
            Calibration::PlaceboSpread => "placebo_spread",
        }
    }

    /// The rank p can go no lower than 1 / (1 + placebos): it decides only where that is at most
    /// half the significance level.
    pub fn for_placebos(placebos: usize, alpha: f64) -> Calibration {
        if 2.0 / (1.0 + placebos as f64) <= alpha {
            Calibration::PlaceboRank
        } else {
            Calibration::PlaceboSpread
        }
    }
}

/// How much wider than a standard normal the placebo statistics spread (their root mean square,
/// never below 1): Newey–West errors are too small in short series, and the fitted weights of
/// the controls make the gap before the change look tighter than it is.
fn spread_of(placebos: &[f64]) -> f64 {
    if placebos.len() < MIN_CALIBRATING_PLACEBOS {
        return 1.0;
    }
    (placebos.iter().map(|t| t * t).sum::<f64>() / placebos.len() as f64).sqrt().max(1.0)
}

/// The model's p-value with its statistic scaled by the placebos' spread, as a Student t with as
/// many degrees of freedom as placebos (the spread is estimated from them).
fn calibrated_p(statistic: f64, placebos: &[f64]) -> Option<f64> {
    (placebos.len() >= MIN_CALIBRATING_PLACEBOS)
        .then(|| crate::stats::two_sided_t_p(statistic / spread_of(placebos), placebos.len() as f64))
}

/// The candidates for controls, largest first: processes with no SOP change inside the span
/// (`changed` says whether a process had one; the treated process has).
pub fn candidates(weekly: &Weekly, changed: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut by_size: Vec<(u32, u64)> =
        weekly.tickets_by_process.iter().map(|(p, n)| (*p, *n)).filter(|(p, _)| !changed(*p)).collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_size.into_iter().take(CANDIDATE_POOL).map(|(p, _)| p).collect()
}

/// Estimate the effect of a change on one metric of `treated`, at significance `alpha`. `Err`:
/// no design here can build a counterfactual, and why, in words.
pub fn estimate(
    weekly: &Weekly,
    metric: &Metric,
    treated: u32,
    span: Span,
    candidates: &[u32],
    alpha: f64,
) -> Result<Estimate, String> {
    let mut series = Series::default();
    for w in span.weeks() {
        if let Some(v) = weekly.value(&metric.name, treated, w) {
            series.weeks.push(w);
            series.values.push(v);
            series.weights.push(weekly.weight(metric, treated, w));
        }
    }
    let pre = series.pre_len(span.first_post);
    let post = series.weeks.len() - pre;
    if pre < MIN_DID_PERIODS || post < MIN_DID_PERIODS {
        return Err(format!(
            "{pre} week{} with a value before the change and {post} after it; a comparison needs at least {MIN_DID_PERIODS} on each side",
            if pre == 1 { "" } else { "s" }
        ));
    }
    let offset = |w: i64| (w - span.first) as usize;
    let controls: Vec<(u32, Vec<f64>)> = candidates
        .iter()
        .filter(|&&p| p != treated)
        .filter_map(|&p| control_series(weekly, metric, p, span, &series.weeks).map(|c| (p, c)))
        .map(|(p, full)| (p, series.weeks.iter().map(|w| full[offset(*w)]).collect()))
        .collect();
    let none_qualified = || {
        if candidates.is_empty() {
            "no process without an SOP change in these weeks".to_string()
        } else {
            format!(
                "none of the {} processes without an SOP change in these weeks has values in {:.0}% of them",
                candidates.len(),
                100.0 * (1.0 - MAX_MISSING)
            )
        }
    };
    let mut estimate = if pre >= MIN_PERIODS && post >= MIN_PERIODS {
        interrupted(&series, controls, span, alpha)
    } else if !controls.is_empty() {
        did(&series, controls, span, alpha)
    } else {
        return Err(format!(
            "{pre} weeks before the change and {post} after it; a trend needs {MIN_PERIODS} on each side, or processes to compare with ({})",
            none_qualified()
        ));
    }
    .ok_or_else(|| "the weekly series could not be fitted (constant or collinear)".to_string())?;
    if estimate.controls.is_empty() {
        estimate.no_controls = Some(none_qualified());
    }
    for (point, week) in estimate.path.iter_mut().zip(&series.weeks) {
        point.week_start_ms = weekly.week_start(*week);
    }
    Ok(estimate)
}

/// The calibrated numbers of an estimate: (p, placebo p, level interval, average interval).
struct Calibrated {
    p: f64,
    placebo_p: Option<f64>,
    level_ci: (f64, f64),
    average_ci: (f64, f64),
    calibration: Calibration,
}

fn calibrate(fit: &GapFit, statistic: f64, placebos: &[f64], alpha: f64, fallback_p: f64) -> Calibrated {
    let spread = spread_of(placebos);
    let df = placebos.len().max(1) as f64;
    let q = if placebos.len() >= MIN_CALIBRATING_PLACEBOS {
        crate::stats::t_two_sided(alpha, df)
    } else {
        crate::stats::z_two_sided(alpha)
    };
    let half = |se: f64| q * se * spread;
    Calibrated {
        p: calibrated_p(statistic, placebos).unwrap_or(fallback_p),
        placebo_p: (!placebos.is_empty()).then(|| its::placebo_p(statistic, placebos)),
        level_ci: (fit.step - half(fit.step_se), fit.step + half(fit.step_se)),
        average_ci: (fit.average - half(fit.average_se), fit.average + half(fit.average_se)),
        calibration: Calibration::for_placebos(placebos.len(), alpha),
    }
}

fn interrupted(series: &Series, mut controls: Vec<(u32, Vec<f64>)>, span: Span, alpha: f64) -> Option<Estimate> {
    let pre = series.pre_len(span.first_post);
    // The controls that track the process best before the change.
    let fit_on = &series.values[..pre];
    controls.sort_by(|a, b| {
        correlation(&b.1[..pre], fit_on).total_cmp(&correlation(&a.1[..pre], fit_on)).then(a.0.cmp(&b.0))
    });
    let others: Vec<Vec<f64>> = controls.iter().skip(MAX_CONTROLS).map(|c| c.1.clone()).collect();
    controls.truncate(MAX_CONTROLS);
    let panel = Panel { treated: series, controls: controls.iter().map(|c| c.1.clone()).collect() };
    let fit = fit_gap(&panel, span.first_post)?;
    let t_real = fit.statistic()?;
    // The slope change, from the segmented regression of the same gap (it is reported, not tested).
    let slope_change = its::segmented_at(&times(series), &fit.gap, Some(&series.weights), span.first_post as f64, None)
        .map(|s| s.slope_change);
    let statistic = |p: &Panel, first_post: i64| fit_gap(p, first_post).and_then(|f| f.statistic());
    let placebos = placebo_statistics(&panel, &others, span.first_post, MIN_PERIODS, &statistic);
    let path: Vec<PathPoint> = series
        .weeks
        .iter()
        .enumerate()
        .map(|(i, &w)| PathPoint {
            week_start_ms: 0,
            observed: series.values[i],
            expected: fit.synthetic[i] + fit.level + fit.trend * w as f64,
            after: w >= span.first_post,
        })
        .collect();
    let pre_residuals: Vec<f64> = path.iter().filter(|p| !p.after).map(|p| p.observed - p.expected).collect();
    let spread = (pre_residuals.iter().map(|r| r * r).sum::<f64>() / (pre_residuals.len().max(3) - 2) as f64).sqrt();
    let after = |f: fn(&PathPoint) -> f64| mean(&path.iter().filter(|p| p.after).map(f).collect::<Vec<_>>());
    let own_trend = {
        let times: Vec<f64> = series.weeks[..pre].iter().map(|w| *w as f64).collect();
        let x: Vec<Vec<f64>> = times.iter().map(|t| vec![1.0, *t]).collect();
        its::ols(&x, fit_on).map(|f| f.coef[1])
    };
    let c = calibrate(&fit, t_real, &placebos, alpha, crate::stats::two_sided_p(t_real));
    Some(Estimate {
        method: if controls.is_empty() { Method::Its } else { Method::ItsSyntheticControl },
        level_change: fit.step,
        level_change_se: fit.step_se,
        p: c.p,
        level_ci: c.level_ci,
        slope_change,
        pre_trend: own_trend,
        counterfactual_after: after(|p| p.expected),
        observed_after: after(|p| p.observed),
        average_effect: fit.average,
        average_se: fit.average_se,
        average_ci: c.average_ci,
        average_weeks: series.weeks.len() - pre,
        calibration: c.calibration,
        no_controls: None,
        placebo_p: c.placebo_p,
        placebos: placebos.len(),
        controls: controls.iter().map(|c| c.0).zip(fit.weights.iter().copied()).collect(),
        path,
        band: crate::stats::z_two_sided(alpha) * spread,
    })
}

/// The estimator's statistic at every placebo: the process itself at each week before the
/// change with `min_pre` weeks before it as a fake change date (followed up to the real change),
/// and every candidate control (the controls of the estimate its donors, but for itself) at
/// every week of the span with `min_pre` weeks before it, the real date among them: a control
/// had no change in the span. Each is followed for as many weeks as the real change, or to the
/// end of the span. At most [`MAX_PLACEBOS`], spread evenly over the possible ones.
fn placebo_statistics(
    panel: &Panel,
    others: &[Vec<f64>],
    first_post: i64,
    min_pre: usize,
    statistic: &(dyn Fn(&Panel, i64) -> Option<f64> + Sync),
) -> Vec<f64> {
    let t = panel.treated;
    let n = t.weeks.len();
    let pre = t.pre_len(first_post);
    let post = n - pre;
    let need_after = post.min(MIN_PERIODS);
    // series: 0 the process, 1..=k the controls, then the other candidates
    let series = 1 + panel.controls.len() + others.len();
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for j in 0..series {
        // the process had its change at `pre`; a control had none in the span
        let end = if j == 0 { pre } else { n };
        let mut f = min_pre;
        while f + need_after <= end {
            jobs.push((j, f));
            f += 1;
        }
    }
    if jobs.len() > MAX_PLACEBOS {
        let stride = jobs.len() as f64 / MAX_PLACEBOS as f64;
        jobs = (0..MAX_PLACEBOS).filter_map(|k| jobs.get((k as f64 * stride) as usize).copied()).collect();
    }
    let k = panel.controls.len();
    let mut out = Vec::with_capacity(jobs.len());
    for (j, f) in jobs {
        let (values, donors): (&[f64], Vec<Vec<f64>>) = if j == 0 {
            (&t.values, panel.controls.clone())
        } else if j <= k {
            let rest = panel.controls.iter().enumerate().filter(|(i, _)| *i != j - 1).map(|(_, c)| c.clone());
            (&panel.controls[j - 1], rest.collect())
        } else {
            (&others[j - 1 - k], panel.controls.clone())
        };
        // the process's own fake dates are followed up to its real change only
        let end = if j == 0 { (f + post).min(pre) } else { (f + post).min(n) };
        let cut = |v: &[f64]| v[..end].to_vec();
        let earlier = Series { weeks: t.weeks[..end].to_vec(), values: cut(values), weights: cut(&t.weights) };
        let placebo = Panel { treated: &earlier, controls: donors.iter().map(|c| cut(c)).collect() };
        out.extend(statistic(&placebo, t.weeks[f]));
    }
    out
}

/// Too few weeks for a trend: the gap between the process and the mean of its controls, its
/// mean after the change against its mean before (difference in differences of weekly means);
/// placebos on the controls at the real date and at other weeks of the span, and on the process
/// at earlier weeks.
fn did(series: &Series, mut controls: Vec<(u32, Vec<f64>)>, span: Span, alpha: f64) -> Option<Estimate> {
    let others: Vec<Vec<f64>> = controls.iter().skip(MAX_CONTROLS).map(|c| c.1.clone()).collect();
    controls.truncate(MAX_CONTROLS);
    let post: Vec<bool> = series.weeks.iter().map(|w| *w >= span.first_post).collect();
    let pre = post.iter().filter(|p| !**p).count();
    let panel = Panel { treated: series, controls: controls.iter().map(|c| c.1.clone()).collect() };
    let gap_fit = |p: &Panel, first_post: i64| -> Option<GapFit> {
        let values = &p.treated.values;
        let synthetic: Vec<f64> =
            (0..values.len()).map(|i| mean(&p.controls.iter().map(|c| c[i]).collect::<Vec<_>>())).collect();
        let gap: Vec<f64> = values.iter().zip(&synthetic).map(|(y, s)| y - s).collect();
        let after: Vec<bool> = p.treated.weeks.iter().map(|w| *w >= first_post).collect();
        let (step, se, _) = its::level_shift(&after, &gap, Some(&p.treated.weights), None)?;
        let before = after.iter().filter(|a| !**a).count();
        let level = weighted_mean(&gap[..before], &p.treated.weights[..before]);
        let weights = vec![1.0 / p.controls.len().max(1) as f64; p.controls.len()];
        Some(GapFit { weights, synthetic, gap, step, step_se: se, average: step, average_se: se, level, trend: 0.0 })
    };
    let fit = gap_fit(&panel, span.first_post)?;
    let statistic = fit.statistic().unwrap_or(0.0);
    let placebos = placebo_statistics(&panel, &others, span.first_post, MIN_DID_PERIODS, &|p, f| {
        gap_fit(p, f).and_then(|g| g.statistic())
    });
    let path: Vec<PathPoint> = (0..series.values.len())
        .map(|i| PathPoint {
            week_start_ms: 0,
            observed: series.values[i],
            expected: fit.synthetic[i] + fit.level,
            after: post[i],
        })
        .collect();
    let after = |f: fn(&PathPoint) -> f64| mean(&path.iter().filter(|p| p.after).map(f).collect::<Vec<_>>());
    let share = 1.0 / controls.len() as f64;
    let c = calibrate(&fit, statistic, &placebos, alpha, crate::stats::two_sided_p(statistic));
    Some(Estimate {
        method: Method::DifferenceInDifferences,
        level_change: fit.step,
        level_change_se: fit.step_se,
        p: c.p,
        level_ci: c.level_ci,
        slope_change: None,
        pre_trend: None,
        counterfactual_after: after(|p| p.expected),
        observed_after: after(|p| p.observed),
        average_effect: fit.average,
        average_se: fit.average_se,
        average_ci: c.average_ci,
        average_weeks: series.weeks.len() - pre,
        calibration: c.calibration,
        no_controls: None,
        placebo_p: c.placebo_p,
        placebos: placebos.len(),
        controls: controls.iter().map(|c| (c.0, share)).collect(),
        path,
        band: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{load_queries, metric};

    const WEEKS: i64 = 104;
    const CHANGE_WEEK: i64 = 60;

    /// Reproducible noise in [−0.5, 0.5).
    fn noise(state: &mut u64) -> f64 {
        *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (*state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    /// Log-median hours of a desk that improves 1% a week with a yearly swing: five controls and
    /// process 0, which takes `step` (log scale) from CHANGE_WEEK on.
    fn desk(step: f64, seed: u64) -> Weekly {
        desk_with(|t| if t >= CHANGE_WEEK { step } else { 0.0 }, seed)
    }

    /// The same desk, process 0 taking `effect(week)` (log scale).
    fn desk_with(effect: impl Fn(i64) -> f64, seed: u64) -> Weekly {
        let mut state = seed;
        let shared = |t: i64| 2.5 - 0.01 * t as f64 + 0.15 * (2.0 * std::f64::consts::PI * t as f64 / 52.0).sin();
        let series: Vec<(u32, Vec<Option<f64>>)> = (0..6u32)
            .map(|p| {
                let values = (0..WEEKS)
                    .map(|t| {
                        let own = 0.2 * f64::from(p) + 0.15 * noise(&mut state);
                        let effect = if p == 0 { effect(t) } else { 0.0 };
                        Some(shared(t) + own + effect)
                    })
                    .collect();
                (p, values)
            })
            .collect();
        Weekly::of_series("mttr_median_h", WEEKS, &series)
    }

    fn mttr() -> Metric {
        metric(&load_queries(None).unwrap(), "mttr_median_h").unwrap().clone()
    }

    fn span(w: &Weekly, pre_weeks: i64) -> Span {
        let change = w.week_start(CHANGE_WEEK);
        Span::of(w, change - pre_weeks * WEEK_MS, change, None).unwrap()
    }

    #[test]
    fn the_week_a_change_falls_in_is_on_neither_side() {
        let w = desk(0.0, 1);
        let at_start = Span::of(&w, w.week_start(10), w.week_start(20), None).unwrap();
        assert_eq!((at_start.first, at_start.first_post, at_start.last), (10, 20, WEEKS - 1));
        let midweek =
            Span::of(&w, w.week_start(10) + 1, w.week_start(20) + 3 * 86_400_000, Some(w.week_start(30))).unwrap();
        assert_eq!((midweek.first, midweek.first_post, midweek.last), (11, 21, 29), "partial weeks are left out");
    }

    #[test]
    fn a_step_on_a_trending_seasonal_desk_is_found() {
        let w = desk(-0.4, 7);
        let candidates = candidates(&w, |p| p == 0);
        assert_eq!(candidates.len(), 5);
        let e = estimate(&w, &mttr(), 0, span(&w, 52), &candidates, 0.05).unwrap();
        assert_eq!(e.method, Method::ItsSyntheticControl);
        assert!((e.level_change + 0.4).abs() < 0.08, "{}", e.level_change);
        assert!(e.level_ci.0 < -0.4 && e.level_ci.1 > -0.4, "{:?}", e.level_ci);
        assert!(e.placebo_p.unwrap() < 0.05 && e.p < 0.05, "{:?} {}", e.placebo_p, e.p);
        // the average over the weeks after, the step being constant, is the step
        assert!((e.average_effect + 0.4).abs() < 0.08, "{}", e.average_effect);
        assert!(e.average_ci.0 < -0.4 && e.average_ci.1 > -0.4, "{:?}", e.average_ci);
        assert_eq!(e.calibration, Calibration::PlaceboRank);
        let weights: f64 = e.controls.iter().map(|c| c.1).sum();
        assert!((weights - 1.0).abs() < 1e-6 && e.controls.iter().all(|c| c.1 >= 0.0), "{:?}", e.controls);
        // The counterfactual carries the desk's trend on: the observed weeks sit 0.4 below it.
        assert!((e.observed_after - e.counterfactual_after + 0.4).abs() < 0.08);
        assert!(e.placebos >= 100, "fake dates × (process and controls): {}", e.placebos);
        assert!(e.placebos <= MAX_PLACEBOS);
    }

    /// A procedure that needs training: the effect builds up to −0.5 over the 12 weeks after the
    /// change. The verdict's average over the 13 weeks compared is the ramp's mean (−0.27), where
    /// a step at the change date would see little of it.
    #[test]
    fn an_effect_that_builds_up_is_found_as_its_average() {
        let ramp = |t: i64| if t < CHANGE_WEEK { 0.0 } else { -0.5 * ((t - CHANGE_WEEK + 1) as f64 / 12.0).min(1.0) };
        let expected: f64 = (CHANGE_WEEK..CHANGE_WEEK + 13).map(ramp).sum::<f64>() / 13.0;
        let mut found = 0;
        for seed in 1..=6 {
            let w = desk_with(ramp, seed);
            let change = w.week_start(CHANGE_WEEK);
            let span = Span::of(&w, change - 52 * WEEK_MS, change, Some(change + 13 * WEEK_MS)).unwrap();
            let e = estimate(&w, &mttr(), 0, span, &candidates(&w, |p| p == 0), 0.05).unwrap();
            assert_eq!(e.average_weeks, 13);
            assert!((e.average_effect - expected).abs() < 0.08, "seed {seed}: {} vs {expected}", e.average_effect);
            let passes = match e.calibration {
                Calibration::PlaceboRank => e.p < 0.05 && e.placebo_p.unwrap() < 0.05,
                Calibration::PlaceboSpread => e.p < 0.05,
            };
            found += usize::from(passes && e.average_effect < 0.0);
        }
        assert!(found >= 5, "{found} of 6 gradual effects found");
    }

    #[test]
    fn a_trend_without_a_step_is_not_an_effect() {
        let mut called = 0;
        for seed in 1..=10 {
            let w = desk(0.0, seed);
            let e = estimate(&w, &mttr(), 0, span(&w, 52), &candidates(&w, |p| p == 0), 0.05).unwrap();
            // A before/after comparison would see the desk's 1% a week as a 12% cut.
            assert!(e.level_change.abs() < 0.1, "seed {seed}: {}", e.level_change);
            called += usize::from(e.placebo_p.unwrap() < 0.05 && e.p < 0.05);
        }
        assert!(called <= 1, "{called} of 10 no-effect series called");
    }

    #[test]
    fn few_weeks_fall_back_to_differences_in_differences_or_to_nothing() {
        let w = desk(-0.4, 3);
        let short = span(&w, 5);
        let did = estimate(&w, &mttr(), 0, short, &candidates(&w, |p| p == 0), 0.05).unwrap();
        assert_eq!(did.method, Method::DifferenceInDifferences);
        assert!(did.slope_change.is_none() && did.controls.len() == 5);
        let none = estimate(&w, &mttr(), 0, short, &[], 0.05).unwrap_err();
        assert!(none.contains("a trend needs 8") && none.contains("no process without an SOP change"), "{none}");
        let alone = estimate(&w, &mttr(), 0, span(&w, 52), &[], 0.05).unwrap();
        assert_eq!(alone.method, Method::Its, "enough weeks but no controls: its own trend");
        assert!(alone.no_controls.is_some(), "which decides nothing");
        assert!(
            candidates(&w, |p| p == 0 || p % 2 == 1).iter().all(|p| p % 2 == 0 && *p != 0),
            "changed processes are no controls"
        );
    }
}
