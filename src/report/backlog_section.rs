//! The report's processes without an SOP, the documentation backlog and the review flags.

use super::*;

/// The processes that have no SOP, with the metrics their query headers put in this table.
pub(super) fn without_sop(a: &Analysis) -> Result<String> {
    let mut md = String::new();
    // Processes without an SOP.
    let sv = &a.tables.sop_versions;
    let (sv_sop, sv_process) = (strings(sv, "sop_id")?, strings(sv, "process")?);
    let shown = metrics::overview_columns(&a.queries);
    let values = shown.iter().map(|m| floats(sv, &m.name)).collect::<Result<Vec<_>>>()?;
    let no_sop: Vec<Vec<String>> = (0..sv.height())
        .filter(|&i| sv_sop[i].as_deref().unwrap_or("").is_empty())
        .map(|i| {
            let mut row = vec![escape(sv_process[i].as_deref().unwrap_or(""))];
            row.extend(shown.iter().zip(&values).map(|(m, v)| show_value(m, v[i])));
            row
        })
        .collect();
    if !no_sop.is_empty() {
        let _ = writeln!(md, "## Processes without an SOP\n");
        let mut header = vec!["process".to_string()];
        header.extend(shown.iter().map(|m| m.label_in_text()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let right: Vec<usize> = (1..header.len()).collect();
        let _ = writeln!(md, "{}", table(&header, &no_sop, &right));
    }

    Ok(md)
}

/// What to document next: the top of the ranking, its chart and the review calendar's flags.
pub(super) fn documentation_backlog(a: &Analysis, b: &crate::backlog::Backlog, charts_dir: &Path) -> Result<String> {
    let mut md = String::new();
    let _ = writeln!(md, "## What to document next\n");
    let w = &a.config.backlog;
    let _ = writeln!(
        md,
        "Every process ranked by its need for a new or revised SOP. Score = {} × volume + {} × risk + {} × pain + {} × inconsistency + {} × SOP state          (weights from the config; each component scaled 0–1 across processes; state: missing 1, stale 0.6, current 0).          Full table: [backlog.csv](backlog.csv); review dates implied by risk: [review_calendar.csv](review_calendar.csv).\n",
        w.volume, w.risk, w.pain, w.inconsistency, w.state
    );
    // The report shows the top of the ranking; backlog.csv has every process.
    let shown = &b.rows[..b.rows.len().min(BACKLOG_SHOWN)];
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            vec![
                r.rank.to_string(),
                escape(&r.process),
                r.state.name().to_string(),
                format!("{:.3}", r.score),
                escape(&r.reasons.join("; ")),
            ]
        })
        .collect();
    let _ = writeln!(md, "{}", table(&["rank", "process", "SOP", "score", "why"], &rows, &[0, 3]));
    let left_out = b.rows.len() - shown.len();
    if left_out > 0 {
        let _ = writeln!(
            md,
            "The {} processes ranked {} and below are left out here and in the chart: see [backlog.csv](backlog.csv).\n",
            thousands(left_out as u64),
            BACKLOG_SHOWN + 1
        );
    }
    charts::write(charts_dir, "backlog", &backlog_chart(shown, b.rows.len()))?;
    let _ = writeln!(md, "![documentation backlog](charts/backlog.png)\n");
    md.push_str(&review_flags(&b.calendar));
    Ok(md)
}

/// The top of the ranking as bars coloured by SOP state.
pub(super) fn backlog_chart(shown: &[crate::backlog::BacklogRow], total: usize) -> charts::BacklogChart {
    charts::BacklogChart {
        title: if total > shown.len() {
            format!("What to document next (top {BACKLOG_SHOWN} of {})", thousands(total as u64))
        } else {
            "What to document next".into()
        },
        bars: shown
            .iter()
            .map(|r| {
                let color = match r.state {
                    crate::backlog::State::Missing => charts::MISSING,
                    crate::backlog::State::Stale => charts::STALE,
                    crate::backlog::State::Current => charts::CURRENT,
                };
                (format!("{}. {}", r.rank, r.process), r.score, color)
            })
            .collect(),
    }
}

/// The review dates that disagree with the SOP's risk (nothing when none does).
pub(super) fn review_flags(calendar: &[crate::backlog::ReviewRow]) -> String {
    let flagged: Vec<Vec<String>> = calendar
        .iter()
        .filter(|r| !r.flag.is_empty())
        .map(|r| {
            vec![
                escape(&r.sop_id),
                escape(&r.process),
                r.risk_tier.to_string(),
                r.implied_next_review.map(format_date).unwrap_or_default(),
                r.recorded_next_review.map(format_date).unwrap_or_else(|| "–".into()),
                escape(&r.flag),
            ]
        })
        .collect();
    if flagged.is_empty() {
        return String::new();
    }
    let header = ["SOP", "process", "risk tier", "review due by risk", "review recorded", "note"];
    format!("Review dates that disagree with the SOP's risk:\n\n{}\n", table(&header, &flagged, &[]))
}
