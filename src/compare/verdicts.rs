//! The trend-aware estimate of each comparison, Benjamini–Hochberg per metric, and the verdicts.

use super::*;

/// The trend-aware estimate of every row that has enough weeks for one (the rest keep the
/// direct comparison of their windows): its p-value replaces the windows' one.
pub(super) fn estimate_trends(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    changes: &[Change],
    rows: &mut [Comparison],
    as_of_ms: i64,
    keep: Interval,
) -> Result<()> {
    let weekly = series::weekly(att, cfg, queries, as_of_ms)?;
    // Where each process's SOP versions begin and end: a control has none inside the span.
    let mut boundaries: HashMap<u32, Vec<i64>> = HashMap::new();
    for row in &att.timeline {
        boundaries.entry(row.process_id).or_default().extend(row.effective_from.iter().chain(&row.effective_to));
    }
    // Each change's span and control candidates, then every row's estimate on one of the cores
    // (each a fit with its placebos).
    let mut by_change: Vec<Vec<&mut Comparison>> = (0..changes.len()).map(|_| Vec::new()).collect();
    // Only where the windows held enough records for a test: the trend does not make up for a
    // process too small to compare.
    for row in rows.iter_mut().filter(|r| r.p_value.is_some()) {
        if let Some(rows) = by_change.get_mut(row.change) {
            rows.push(row);
        }
    }
    let mut work: Vec<(&mut Comparison, trend::Span, u32, std::sync::Arc<Vec<u32>>)> = Vec::new();
    let mut candidates_by_span: HashMap<(i64, i64), std::sync::Arc<Vec<u32>>> = HashMap::new();
    for (ch, rows) in changes.iter().zip(by_change) {
        let pre_start = (ch.change_date - trend::MAX_SIDE_MS)
            .max(ch.previous_from.unwrap_or(i64::MIN))
            .max(keep.start.unwrap_or(i64::MIN));
        // The weeks after run to the next version (at most a year), whatever the window compared:
        // the average effect is over all of them, so that one that builds up is seen in full.
        let post_end = Some(
            ch.replaced_at
                .unwrap_or(i64::MAX)
                .min(ch.change_date + trend::MAX_SIDE_MS)
                .min(keep.end.unwrap_or(i64::MAX)),
        );
        let Some(span) = trend::Span::of(&weekly, pre_start, ch.change_date, post_end) else {
            for row in rows {
                row.caveats
                    .push("no verdict: no whole week on one side of the change within the export's weeks kept".into());
            }
            continue;
        };
        let (from, to) = (weekly.week_start(span.first), weekly.week_start(span.last + 1));
        // The treated process has a version boundary inside its own span, so it is never its own
        // candidate: the changes whose spans are the same weeks share one list (changes a week
        // apart share a span; 20,000 changes each sorting 20,000 processes took minutes).
        let candidates = candidates_by_span
            .entry((from, to))
            .or_insert_with(|| {
                let changed = |p: u32| boundaries.get(&p).is_some_and(|b| b.iter().any(|t| *t > from && *t < to));
                std::sync::Arc::new(trend::candidates(&weekly, changed))
            })
            .clone();
        work.extend(rows.into_iter().map(|row| (row, span, ch.process_id, candidates.clone())));
    }
    let weekly = &weekly;
    let alpha = cfg.compare.alpha;
    crate::cores::share(
        work,
        |_| 1,
        |(row, span, process_id, candidates)| {
            let est = match trend::estimate(weekly, &row.metric, process_id, span, &candidates, alpha) {
                Ok(est) => est,
                Err(why) => {
                    row.caveats.push(format!("no verdict: {why}"));
                    return;
                }
            };
            row.p_value = Some(est.p);
            row.test = trend_test(&row.metric, &est);
            row.controls = est
                .controls
                .iter()
                .map(|(p, w)| format!("{} ({w:.2})", att.processes.get(*p as usize).map_or("?", String::as_str)))
                .collect::<Vec<_>>()
                .join("; ");
            row.method = est.method;
            row.trend = Some(est);
        },
    );
    crate::diag::trace("trend estimates fitted");
    Ok(())
}

/// What the p-value of a trend estimate comes from, in words.
pub(super) fn trend_test(metric: &Metric, est: &Estimate) -> String {
    let scale = if log_scale(metric) { "weekly log Kaplan-Meier median hours" } else { "weekly values" };
    let against = match est.controls.len() {
        0 => "the process's own trend".to_string(),
        1 => "1 control process".to_string(),
        n => format!("{n} control processes"),
    };
    let design = match est.method {
        Method::DifferenceInDifferences => "difference in differences (step in the gap to the mean of",
        _ => "segmented regression (level and trend; the gap to a synthetic control of",
    };
    let design = if est.controls.is_empty() {
        format!("segmented regression on {scale} against {against}")
    } else {
        format!("{design} {against}) on {scale}")
    };
    format!(
        "{design}; the average effect over the {} weeks after against the counterfactual; Newey-West errors; calibrated by the spread of {} placebos (Student t), placebo p over them",
        est.average_weeks, est.placebos
    )
}

/// Whether a row's estimate can decide a verdict: a counterfactual from processes to compare
/// with, calibrated by enough placebos. The plain before/after test never decides: an export's
/// warm-up, a trend or a season moves it as much as an SOP would.
pub(super) fn decides(row: &Comparison) -> bool {
    row.trend.as_ref().is_some_and(|t| !t.controls.is_empty() && t.placebos >= trend::MIN_CALIBRATING_PLACEBOS)
}

/// Why a row with a test has no verdict.
pub(super) fn undecided_reason(row: &Comparison) -> Option<String> {
    let t = row.trend.as_ref()?;
    Some(match &t.no_controls {
        Some(why) => format!("no verdict: its own trend only, with no process to compare with ({why})"),
        None => format!(
            "no verdict: only {} placebos, {} are needed to calibrate the estimate",
            t.placebos,
            trend::MIN_CALIBRATING_PLACEBOS
        ),
    })
}

/// Benjamini–Hochberg over the comparisons whose design can decide, one family per metric, and
/// the verdicts. The others are `insufficient_data`, their windows' test kept as a description.
/// A family per metric because a procedure moves some metrics and not others: in one family with
/// the rest, the rows of the metrics it left alone set the bar for those it moved.
pub(super) fn adjust<'a>(rows: impl IntoIterator<Item = &'a mut Comparison>, alpha: f64) {
    let mut tested: Vec<&mut Comparison> = Vec::new();
    for row in rows.into_iter().filter(|r| r.p_value.is_some()) {
        if decides(row) {
            tested.push(row);
        } else {
            row.verdict = Verdict::InsufficientData;
            row.p_adjusted = None;
            if let Some(why) = undecided_reason(row) {
                if !row.caveats.contains(&why) {
                    row.caveats.push(why);
                }
            }
        }
    }
    let mut families: BTreeMap<String, Vec<&mut Comparison>> = BTreeMap::new();
    for row in tested {
        families.entry(row.metric.name.clone()).or_default().push(row);
    }
    for family in families.values_mut() {
        let q = multiple::benjamini_hochberg(&family.iter().map(|r| r.p_value.unwrap_or(1.0)).collect::<Vec<_>>());
        for (row, q) in family.iter_mut().zip(q) {
            row.p_adjusted = Some(q);
            row.verdict = verdict(row, q, alpha);
        }
    }
}

/// `improved` or `worsened` when q and the placebos pass and the average effect moved; else
/// `no_significant_change`.
pub(super) fn verdict(row: &Comparison, q: f64, alpha: f64) -> Verdict {
    let better = row.metric.better;
    // Where there are placebos enough for their rank to reach the level, it must agree too:
    // the model's errors alone are too small in short series, and fitting the controls
    // makes them smaller still.
    let placebos_agree = row.trend.as_ref().is_some_and(|t| match t.calibration {
        trend::Calibration::PlaceboRank => t.placebo_p.is_some_and(|p| p < alpha),
        trend::Calibration::PlaceboSpread => true,
    });
    let direction = row.trend.as_ref().map_or(0.0, |t| t.average_effect);
    if q < alpha && placebos_agree {
        match (better, direction) {
            (Better::Lower, d) if d < 0.0 => Verdict::Improved,
            (Better::Lower, d) if d > 0.0 => Verdict::Worsened,
            (Better::Higher, d) if d > 0.0 => Verdict::Improved,
            (Better::Higher, d) if d < 0.0 => Verdict::Worsened,
            _ => Verdict::NoSignificantChange,
        }
    } else {
        Verdict::NoSignificantChange
    }
}
