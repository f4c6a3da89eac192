//! The section of one SOP change, in the report and in its evidence pack: what changed, the
//! windows, the table of comparisons, the trend-aware reading in words, the before/after chart
//! and the chart of each metric against its counterfactual.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::compare::{Change, Comparison, Estimate, Method, Shown, Verdict};
use crate::error::Result;
use crate::metrics::{Kind, Metric};
use crate::pipeline::Analysis;
use crate::render::charts::{self, ChangeBar, ChangeChart, CounterfactualChart, CounterfactualPanel};
use crate::render::markdown::{ci_label, escape, hours, p_value, percent, points, signed, table, thousands};
use crate::render::{distinct_stems, slug};
use crate::validate::VersionFacts;
use sop_impact_parse::time::format_date;

pub(super) fn show_value(m: &Metric, v: Option<f64>) -> String {
    let Some(v) = v else { return "–".into() };
    match (m.kind, &m.rate) {
        (Kind::Proportion, _) => percent(v),
        (Kind::Duration, _) => hours(v),
        (Kind::Rate, Some(rate)) => format!("{v:.2} per {}", per_text(rate.per)),
        (Kind::Count, _) => thousands(v.round() as u64),
        _ => format!("{v:.2}"),
    }
}

/// `1k` for 1000: the unit of a rate.
pub(super) fn per_text(per: f64) -> String {
    if per >= 1000.0 && per % 1000.0 == 0.0 {
        format!("{}k", per / 1000.0)
    } else {
        format!("{per}")
    }
}

/// A change of a metric's value, in its unit: percentage points for proportions.
pub(super) fn show_delta(m: &Metric, v: f64) -> String {
    match (m.kind, &m.rate) {
        (Kind::Proportion, _) => points(v),
        (Kind::Duration, _) => format!("{} h", signed(v, 2)),
        (Kind::Rate, Some(rate)) => format!("{} per {}", signed(v, 2), per_text(rate.per)),
        _ => signed(v, 2),
    }
}

pub(super) fn delta_with_ci(r: &Comparison, ci: &str) -> String {
    let m = &r.metric;
    // The interval's limits in the delta's unit, without repeating it.
    let bare = |v: f64| {
        if !v.is_finite() {
            "∞".to_string()
        } else if m.kind == Kind::Proportion {
            signed(v * 100.0, 1)
        } else {
            signed(v, 2)
        }
    };
    match (r.delta, r.ci) {
        // For durations the change is the Hodges–Lehmann shift, not the difference of the medians.
        (Some(d), Some((lo, hi))) if m.kind == Kind::Duration => {
            format!("{} shift ({ci} {} to {})", show_delta(m, d), bare(lo), bare(hi))
        }
        (Some(d), Some((lo, hi))) => format!("{} ({ci} {} to {})", show_delta(m, d), bare(lo), bare(hi)),
        (Some(d), None) => show_delta(m, d),
        _ => "–".into(),
    }
}

pub(super) fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Improved => "**improved**",
        Verdict::Worsened => "**worsened**",
        Verdict::NoSignificantChange => "no significant change",
        Verdict::InsufficientData => "insufficient data",
    }
}

pub(super) fn change_label(c: &Change) -> String {
    format!("{} {} → {}", c.sop_id, c.from_version, c.to_version)
}

/// "q < 0.001" or "q = 0.012"
pub(super) fn q_text(q: f64) -> String {
    let p = p_value(q);
    if p.starts_with('<') {
        format!("q {p}")
    } else {
        format!("q = {p}")
    }
}

/// The chart file stem of every change, in change order, each distinct from the others.
pub(crate) fn change_stems(a: &Analysis) -> Vec<String> {
    let version_slug = |v: &str| if v == crate::attribute::NO_SOP { "none".to_string() } else { slug(v) };
    let key = |ch: &Change| format!("{}\u{0}{}\u{0}{}", ch.sop_id, ch.from_version, ch.to_version);
    let stems = distinct_stems(a.comparisons.changes.iter().map(|ch| {
        let stem = format!(
            "change-{}-{}-to-{}",
            slug(&ch.sop_id),
            version_slug(&ch.from_version),
            version_slug(&ch.to_version)
        );
        (key(ch), stem)
    }));
    a.comparisons.changes.iter().map(|ch| stems[&key(ch)].clone()).collect()
}

/// Where a change's charts go: their file stem, and the charts directory, or None when the
/// report's chart budget is spent.
pub(crate) struct ChartsOf<'p> {
    pub stem: &'p str,
    pub charts_dir: Option<&'p Path>,
}

/// The section of one change: what changed, the windows, the table and the chart (`rows`: the
/// change's comparison rows).
pub(crate) fn change_section(
    a: &Analysis,
    c: usize,
    rows: &[&Comparison],
    chart: &ChartsOf,
    infos: &BTreeMap<(String, String), VersionFacts>,
    as_of: &str,
    heading: &str,
) -> Result<String> {
    let ci = ci_label(a.config.compare.alpha);
    let ch = &a.comparisons.changes[c];
    let mut md = format!(
        "{}{}{}",
        change_intro(a, c, infos, as_of, heading),
        change_table(rows, &ci),
        trend_reading(ch, rows, &ci, &a.attributed.processes),
    );
    let (stem, Some(charts_dir)) = (chart.stem, chart.charts_dir) else {
        return Ok(md);
    };
    charts::write(charts_dir, stem, &change_chart(ch, rows, &ci))?;
    let _ = writeln!(md, "![before and after](charts/{stem}.png)\n");
    if let Some(chart) = counterfactual_chart(ch, rows) {
        charts::write(charts_dir, &format!("{stem}-trend"), &chart)?;
        let _ = writeln!(md, "![observed and without the change](charts/{stem}-trend.png)\n");
    }
    Ok(md)
}

/// The change's heading, summary, approval and the windows compared.
fn change_intro(
    a: &Analysis,
    c: usize,
    infos: &BTreeMap<(String, String), VersionFacts>,
    as_of: &str,
    heading: &str,
) -> String {
    let ch = &a.comparisons.changes[c];
    let mut md = String::new();
    let vinfo = infos.get(&(ch.sop_id.clone(), ch.to_version.clone()));
    let _ = writeln!(
        md,
        "{heading} {} → {} on {}\n",
        escape(&ch.from_version),
        escape(&ch.to_version),
        format_date(ch.change_date)
    );
    if let Some(summary) = vinfo.and_then(|i| i.summary.clone()) {
        let _ = writeln!(md, "> {}\n", escape(&summary));
    }
    let _ = writeln!(
        md,
        "Approved by {} on {}. Compared {} tickets from {} to {} with {} tickets from {} to {}.\n",
        vinfo.and_then(|i| i.approved_by.clone()).map(|x| escape(&x)).unwrap_or_else(|| "(not recorded)".into()),
        vinfo.and_then(|i| i.approved_at).map(format_date).unwrap_or_else(|| "(not recorded)".into()),
        thousands(ch.before_tickets),
        ch.before.start.map(format_date).unwrap_or_else(|| "the start of the data".into()),
        format_date(ch.change_date - 1),
        thousands(ch.after_tickets),
        format_date(ch.change_date),
        ch.after.end.map(|e| format_date(e - 1)).unwrap_or_else(|| as_of.to_string()),
    );
    md
}

/// One line per metric; caveats every metric carries are said once, under the table.
fn change_table(rows: &[&Comparison], ci: &str) -> String {
    let shared: Vec<String> = rows
        .first()
        .map(|first| first.caveats.iter().filter(|c| rows.iter().all(|r| r.caveats.contains(c))).cloned().collect())
        .unwrap_or_default();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.metric.label.clone(),
                format!("{} (n={})", show_value(&r.metric, r.before_value), thousands(r.before_n)),
                format!("{} (n={})", show_value(&r.metric, r.after_value), thousands(r.after_n)),
                delta_with_ci(r, ci),
                effect_with_ci(r, ci),
                r.p_value.map(p_value).unwrap_or_else(|| "–".into()),
                r.p_adjusted.map(p_value).unwrap_or_else(|| "–".into()),
                r.trend.as_ref().and_then(|t| t.placebo_p).map(p_value).unwrap_or_else(|| "–".into()),
                verdict_text(r.verdict).to_string(),
                escape(&r.caveats.iter().filter(|c| !shared.contains(c)).cloned().collect::<Vec<_>>().join("; ")),
            ]
        })
        .collect();
    let header = [
        "metric",
        "before",
        "after",
        &format!("change ({ci})"),
        &format!("vs trend and controls ({ci})"),
        "p",
        "q (BH)",
        "placebo p",
        "verdict",
        "caveats",
    ];
    let mut md = format!("{}\n", table(&header, &cells, &[5, 6, 7]));
    for c in &shared {
        let _ = writeln!(md, "Caveat: {}.\n", escape(c));
    }
    md
}

/// The forest plot of a change: each metric after vs before as % of its before value.
fn change_chart(ch: &Change, rows: &[&Comparison], ci: &str) -> ChangeChart {
    let bars = rows
        .iter()
        .map(|r| {
            let relative = match (r.trend.as_ref(), r.before_value, r.delta) {
                (Some(t), _, _) => relative_effect(&r.metric, t),
                (None, Some(b), Some(d)) if b.abs() > 1e-12 => {
                    Some((100.0 * d / b, r.ci.map(|(lo, hi)| (100.0 * lo / b, 100.0 * hi / b))))
                }
                _ => None,
            };
            let color = match r.verdict {
                Verdict::Improved => charts::IMPROVED,
                Verdict::Worsened => charts::WORSENED,
                Verdict::NoSignificantChange => charts::UNCHANGED,
                Verdict::InsufficientData => charts::INSUFFICIENT,
            };
            let label = format!(
                "{}: {} → {}",
                r.metric.label,
                show_value(&r.metric, r.before_value),
                show_value(&r.metric, r.after_value)
            );
            ChangeBar { label, relative, color }
        })
        .collect();
    ChangeChart {
        interval: ci.to_string(),
        title: format!(
            "{} {} → {} ({}): effect per metric",
            ch.sop_id,
            ch.from_version,
            ch.to_version,
            format_date(ch.change_date)
        ),
        bars,
    }
}

/// The trend-aware average effect as a percentage of the value expected without the change,
/// with its interval: durations are fitted on the log scale and are relative already.
fn relative_effect(m: &Metric, t: &Estimate) -> Option<(f64, Option<(f64, f64)>)> {
    let shown = Shown::of(m, t);
    if crate::compare::log_scale(m) {
        return Some((100.0 * shown.average_effect, Some((100.0 * shown.average_ci.0, 100.0 * shown.average_ci.1))));
    }
    let base = shown.counterfactual_after;
    (base.abs() > 1e-12).then(|| {
        let of = |v: f64| 100.0 * v / base;
        (of(shown.average_effect), Some((of(shown.average_ci.0), of(shown.average_ci.1))))
    })
}

/// A trend-aware effect in the metric's unit: "−35% (95% CI −45% to −22%)" for durations.
fn show_effect(m: &Metric, v: f64) -> String {
    match (m.kind, &m.rate) {
        (Kind::Duration, _) => format!("{}%", signed(100.0 * v, 0)),
        (Kind::Proportion, _) => points(v),
        (Kind::Rate, Some(rate)) => format!("{} per {}", signed(v, 2), per_text(rate.per)),
        _ => signed(v, 2),
    }
}

pub(super) fn effect_with_ci(r: &Comparison, ci: &str) -> String {
    effect_and(r, ci, None)
}

/// The average effect with its interval and, inside the same parentheses, `more` (the p-values).
fn effect_and(r: &Comparison, ci: &str, more: Option<&str>) -> String {
    let Some(t) = &r.trend else { return "–".into() };
    let s = Shown::of(&r.metric, t);
    let (lo, hi) = s.average_ci;
    format!(
        "{} ({ci} {} to {}{})",
        show_effect(&r.metric, s.average_effect),
        show_effect(&r.metric, lo),
        show_effect(&r.metric, hi),
        more.map(|m| format!("; {m}")).unwrap_or_default()
    )
}

/// "18% below", "2.1 pts above": the average effect's size and side, in the metric's unit.
fn below_or_above(m: &Metric, v: f64) -> String {
    let size = match (m.kind, &m.rate) {
        (Kind::Duration, _) => format!("{:.0}%", 100.0 * v.abs()),
        (Kind::Proportion, _) => format!("{:.1} pts", 100.0 * v.abs()),
        (Kind::Rate, Some(rate)) => format!("{:.2} per {}", v.abs(), per_text(rate.per)),
        _ => format!("{:.2}", v.abs()),
    };
    format!("{size} {}", if v < 0.0 { "below" } else { "above" })
}

/// "q = 0.012, placebo p = 0.004"
pub(super) fn calibration_text(r: &Comparison) -> String {
    format!(
        "{}, placebo p = {}",
        q_text(r.p_adjusted.unwrap_or(1.0)),
        r.trend.as_ref().and_then(|t| t.placebo_p).map(p_value).unwrap_or_else(|| "–".into())
    )
}

/// How the metric moved a month before the change, in words: "falling 3.1% a month".
fn pre_trend_words(m: &Metric, weekly: f64) -> String {
    const WEEKS_PER_MONTH: f64 = 365.25 / 12.0 / 7.0;
    let monthly = weekly * WEEKS_PER_MONTH;
    let (size, flat) = if crate::compare::log_scale(m) {
        (format!("{:.1}%", 100.0 * monthly.exp_m1().abs()), monthly.abs() < 0.005)
    } else if m.kind == Kind::Proportion {
        (format!("{:.2} pts", 100.0 * monthly.abs()), monthly.abs() < 0.0005)
    } else {
        (format!("{:.2}", monthly.abs()), monthly.abs() < 1e-9)
    };
    if flat {
        "flat".into()
    } else {
        format!("{} {size} a month", if monthly < 0.0 { "falling" } else { "rising" })
    }
}

/// The trend-aware reading of a change, one line per metric that has a trend estimate.
fn trend_reading(ch: &Change, rows: &[&Comparison], ci: &str, names: &[String]) -> String {
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let t = r.trend.as_ref()?;
            let label = r.metric.label.clone();
            let against = match (t.method, t.controls.len()) {
                (_, 0) => "its own trend".to_string(),
                (Method::DifferenceInDifferences, n) => format!("the mean of {n} control process(es)"),
                (_, n) => {
                    let mut named: Vec<&(u32, f64)> = t.controls.iter().filter(|c| c.1 >= 0.05).collect();
                    named.sort_by(|a, b| b.1.total_cmp(&a.1));
                    let names: Vec<String> = named
                        .iter()
                        .take(3)
                        .map(|(p, _)| escape(names.get(*p as usize).map_or("?", String::as_str)))
                        .collect();
                    format!("its own trend and {n} control processes (mostly {})", names.join(", "))
                }
            };
            let trend = t
                .pre_trend
                .map(|w| format!("{label} was {} before {}; ", pre_trend_words(&r.metric, w), escape(&ch.to_version)));
            let s = Shown::of(&r.metric, t);
            let (lo, hi) = s.average_ci;
            let interval = format!("{ci} {} to {}", show_effect(&r.metric, lo), show_effect(&r.metric, hi));
            let average = format!(
                "{label} {} what {against} predict over the {} weeks after {} ({interval}",
                below_or_above(&r.metric, s.average_effect),
                t.average_weeks,
                escape(&ch.to_version)
            );
            let finding = match r.verdict {
                Verdict::Improved | Verdict::Worsened => format!(
                    "the change **{}** it: {average}; {})",
                    if r.verdict == Verdict::Improved { "improved" } else { "worsened" },
                    calibration_text(r)
                ),
                Verdict::NoSignificantChange => {
                    format!("no statistically significant average effect: {average}; {})", calibration_text(r))
                }
                Verdict::InsufficientData => {
                    let why = r.caveats.iter().find(|c| c.starts_with("no verdict")).cloned().unwrap_or_default();
                    format!("{average}), but {}", escape(&why))
                }
            };
            let sentence = match trend {
                Some(t) => format!("{t}{finding}"),
                None => format!("{label}: {finding}"),
            };
            Some(format!("- {sentence}."))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "Read against the trend and the processes without a change (weekly values; the verdict tests the average effect over the weeks after the change, and needs q below α, and the placebo p too where there are placebos enough for it to get there):\n\n{}\n\n",
        lines.join("\n")
    )
}

/// The chart of each metric with a trend estimate: observed weekly values and the values
/// expected without the change, on the metric's own scale.
fn counterfactual_chart(ch: &Change, rows: &[&Comparison]) -> Option<CounterfactualChart> {
    const DAY_MS: f64 = 86_400_000.0;
    let panels: Vec<CounterfactualPanel> = rows
        .iter()
        .filter_map(|r| {
            let t = r.trend.as_ref()?;
            let log = crate::compare::log_scale(&r.metric);
            let (scale, unit): (f64, &str) = match r.metric.kind {
                Kind::Proportion => (100.0, "%"),
                Kind::Duration => (1.0, "hours"),
                _ => (1.0, ""),
            };
            let (floor, ceiling) = if r.metric.kind == Kind::Proportion { (0.0, 100.0) } else { (f64::MIN, f64::MAX) };
            let show = |v: f64| if log { v.exp() } else { (v * scale).clamp(floor, ceiling) };
            let points = t
                .path
                .iter()
                .map(|p| {
                    let x = p.week_start_ms as f64 / DAY_MS;
                    (x, show(p.observed), show(p.expected), show(p.expected - t.band), show(p.expected + t.band))
                })
                .collect();
            Some(CounterfactualPanel {
                title: format!("{} ({})", r.metric.label, verdict_text(r.verdict).trim_matches('*')),
                unit: unit.to_string(),
                points,
                change_day: ch.change_date as f64 / DAY_MS,
            })
        })
        .collect();
    (!panels.is_empty()).then(|| CounterfactualChart {
        title: format!(
            "{} {} → {} ({}): observed and without the change",
            ch.sop_id,
            ch.from_version,
            ch.to_version,
            format_date(ch.change_date)
        ),
        panels,
    })
}
