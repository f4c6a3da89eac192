//! comparisons.csv and windows.csv: the rows as written, and the numbers as the report shows them.

use super::*;

/// comparisons_by_<column>.csv: the stratum, then the columns of comparisons.csv.
pub fn comparisons_by_csv(column: &str, strata: &[(String, Comparisons)]) -> Result<Vec<u8>> {
    let mut header = vec![column];
    header.extend(COMPARISON_COLUMNS);
    let rows: Vec<ComparisonRow> = strata
        .iter()
        .flat_map(|(stratum, c)| c.rows.iter().map(move |r| ComparisonRow::of(c, r, Some(cell(stratum)))))
        .collect();
    serialize_csv("comparisons_by_stratum.csv", &header, &rows)
}

pub(super) fn fmt_opt(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(crate::tables::format_float).unwrap_or_default()
}

pub(super) fn fmt_time(ms: Option<i64>) -> String {
    ms.map(sop_impact_parse::time::format_utc).unwrap_or_default()
}

/// The columns of comparisons.csv (docs/outputs.md): the comparison, then `test` and `caveats`.
pub(super) const COMPARISON_COLUMNS: [&str; 29] = [
    "sop_id",
    "process",
    "from_version",
    "to_version",
    "change_date",
    "metric",
    "before_n",
    "before_value",
    "after_n",
    "after_value",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "test",
    "caveats",
    "method",
    "level_change",
    "level_ci_low",
    "level_ci_high",
    "slope_change",
    "counterfactual_after",
    "placebo_p",
    "controls",
    "average_effect",
    "average_ci_low",
    "average_ci_high",
];

/// A line of comparisons.csv (after its stratum in comparisons_by_<column>.csv).
#[derive(serde::Serialize)]
pub(super) struct ComparisonRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) stratum: Option<String>,
    pub(super) sop_id: String,
    pub(super) process: String,
    pub(super) from_version: String,
    pub(super) to_version: String,
    pub(super) change_date: String,
    pub(super) metric: String,
    pub(super) before_n: u64,
    pub(super) before_value: String,
    pub(super) after_n: u64,
    pub(super) after_value: String,
    pub(super) delta: String,
    pub(super) ci_low: String,
    pub(super) ci_high: String,
    pub(super) p_value: String,
    pub(super) p_adjusted: String,
    pub(super) verdict: &'static str,
    pub(super) test: String,
    pub(super) caveats: String,
    pub(super) method: String,
    pub(super) level_change: String,
    pub(super) level_ci_low: String,
    pub(super) level_ci_high: String,
    pub(super) slope_change: String,
    pub(super) counterfactual_after: String,
    pub(super) placebo_p: String,
    pub(super) controls: String,
    pub(super) average_effect: String,
    pub(super) average_ci_low: String,
    pub(super) average_ci_high: String,
}

/// A trend estimate on the metric's own scale: durations are fitted on the log scale, so their
/// level and slope changes are relative (−0.35: 35% shorter) and their counterfactual is in hours.
pub struct Shown {
    pub level_change: f64,
    pub level_ci: (f64, f64),
    /// the average effect over the weeks after and its interval (relative for durations)
    pub average_effect: f64,
    pub average_ci: (f64, f64),
    pub slope_change: Option<f64>,
    pub counterfactual_after: f64,
    pub observed_after: f64,
    pub pre_trend: Option<f64>,
}

impl Shown {
    pub fn of(metric: &Metric, e: &Estimate) -> Shown {
        let relative = |v: f64| if log_scale(metric) { v.exp_m1() } else { v };
        let value = |v: f64| if log_scale(metric) { v.exp() } else { v };
        Shown {
            level_change: relative(e.level_change),
            level_ci: (relative(e.level_ci.0), relative(e.level_ci.1)),
            average_effect: relative(e.average_effect),
            average_ci: (relative(e.average_ci.0), relative(e.average_ci.1)),
            slope_change: e.slope_change.map(relative),
            counterfactual_after: value(e.counterfactual_after),
            observed_after: value(e.observed_after),
            pre_trend: e.pre_trend.map(relative),
        }
    }
}

impl ComparisonRow {
    pub(super) fn of(c: &Comparisons, r: &Comparison, stratum: Option<String>) -> Self {
        let ch = &c.changes[r.change];
        let shown = r.trend.as_ref().map(|t| Shown::of(&r.metric, t));
        ComparisonRow {
            stratum,
            sop_id: cell(&ch.sop_id),
            process: cell(&ch.process),
            from_version: cell(&ch.from_version),
            to_version: cell(&ch.to_version),
            change_date: format_date(ch.change_date),
            metric: r.metric.name.clone(),
            before_n: r.before_n,
            before_value: fmt_opt(r.before_value),
            after_n: r.after_n,
            after_value: fmt_opt(r.after_value),
            delta: fmt_opt(r.delta),
            ci_low: fmt_opt(r.ci.map(|c| c.0)),
            ci_high: fmt_opt(r.ci.map(|c| c.1)),
            p_value: fmt_opt(r.p_value),
            p_adjusted: fmt_opt(r.p_adjusted),
            verdict: r.verdict.name(),
            test: r.test.clone(),
            caveats: r.caveats.join("; "),
            method: method_name(r),
            level_change: fmt_opt(shown.as_ref().map(|s| s.level_change)),
            level_ci_low: fmt_opt(shown.as_ref().map(|s| s.level_ci.0)),
            level_ci_high: fmt_opt(shown.as_ref().map(|s| s.level_ci.1)),
            slope_change: fmt_opt(shown.as_ref().and_then(|s| s.slope_change)),
            counterfactual_after: fmt_opt(shown.as_ref().map(|s| s.counterfactual_after)),
            placebo_p: fmt_opt(r.trend.as_ref().and_then(|t| t.placebo_p)),
            controls: cell(&r.controls),
            average_effect: fmt_opt(shown.as_ref().map(|s| s.average_effect)),
            average_ci_low: fmt_opt(shown.as_ref().map(|s| s.average_ci.0)),
            average_ci_high: fmt_opt(shown.as_ref().map(|s| s.average_ci.1)),
        }
    }
}

/// The design of a row and, where it decided, the placebo calibration that did:
/// `its_synthetic_control+placebo_rank`.
pub fn method_name(r: &Comparison) -> String {
    match &r.trend {
        Some(t) if decides(r) => format!("{}+{}", r.method.name(), t.calibration.name()),
        _ => r.method.name().to_string(),
    }
}

/// comparisons.csv
pub fn comparisons_csv(c: &Comparisons) -> Result<Vec<u8>> {
    let rows: Vec<ComparisonRow> = c.rows.iter().map(|r| ComparisonRow::of(c, r, None)).collect();
    serialize_csv("comparisons.csv", &COMPARISON_COLUMNS, &rows)
}

/// A line of windows.csv: a change, the windows compared and their ticket counts.
#[derive(serde::Serialize)]
pub(super) struct WindowRow {
    pub(super) sop_id: String,
    pub(super) process: String,
    pub(super) from_version: String,
    pub(super) to_version: String,
    pub(super) change_date: String,
    pub(super) before_start: String,
    pub(super) before_end: String,
    pub(super) after_start: String,
    pub(super) after_end: String,
    pub(super) before_tickets: u64,
    pub(super) after_tickets: u64,
}

/// windows.csv: one row per change with the windows compared and their ticket counts.
pub fn windows_csv(c: &Comparisons) -> Result<Vec<u8>> {
    let header = [
        "sop_id",
        "process",
        "from_version",
        "to_version",
        "change_date",
        "before_start",
        "before_end",
        "after_start",
        "after_end",
        "before_tickets",
        "after_tickets",
    ];
    let rows: Vec<WindowRow> = c
        .changes
        .iter()
        .map(|ch| WindowRow {
            sop_id: cell(&ch.sop_id),
            process: cell(&ch.process),
            from_version: cell(&ch.from_version),
            to_version: cell(&ch.to_version),
            change_date: format_date(ch.change_date),
            before_start: fmt_time(ch.before.start),
            before_end: fmt_time(ch.before.end),
            after_start: fmt_time(ch.after.start),
            after_end: fmt_time(ch.after.end),
            before_tickets: ch.before_tickets,
            after_tickets: ch.after_tickets,
        })
        .collect();
    serialize_csv("windows.csv", &header, &rows)
}
