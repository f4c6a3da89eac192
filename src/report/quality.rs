//! The report's data-quality section: every input's accounting and the export's edges.

use super::*;

/// Per input: rows read, accepted, rejected, superseded and why.
pub(super) fn data_quality(a: &Analysis) -> Result<String> {
    let mut md = String::new();
    // Data quality.
    let _ = writeln!(md, "## Data quality\n");
    let rows: Vec<Vec<String>> = a
        .data
        .inputs
        .iter()
        .map(|s| {
            let q = crate::summary::QualityRow::of(s);
            let mut row =
                vec![q.input.to_string(), format!("`{}`", escape(&q.file)), escape(q.format), q.profile.to_string()];
            row.extend(q.counts.map(thousands));
            row.push(escape(&q.top_reasons));
            row
        })
        .collect();
    let _ = writeln!(
        md,
        "{}",
        table(
            &[
                "input",
                "file",
                "format",
                "profile",
                "rows read",
                "accepted",
                "rejected",
                "superseded",
                "top reject reasons"
            ],
            &rows,
            &[4, 5, 6, 7]
        )
    );
    let _ = writeln!(
        md,
        "For every input, rows read = accepted + rejected + superseded (earlier events of an event-log export). Every rejected row is in \
         [rejects.csv](rejects.csv) with its line, column, value and reason ({} rows).\n",
        thousands(a.data.rejects.len() as u64)
    );
    for w in &a.data.warnings {
        let _ = writeln!(md, "- Warning: {}", escape(w));
    }
    for (input, n) in &a.attributed.unattributed {
        let _ = writeln!(md, "- Warning: {n} {input} match no process and are not in any metric.");
    }
    let edges = edge_lines(&a.comparisons.edges);
    for line in &edges {
        let _ = writeln!(md, "- {line}");
    }
    if !a.data.warnings.is_empty() || !a.attributed.unattributed.is_empty() || !edges.is_empty() {
        md.push('\n');
    }

    Ok(md)
}

/// The export's edges in words, one line per run of weeks left out for one reason.
pub(crate) fn edge_lines(edges: &crate::compare::edges::ExportEdges) -> Vec<String> {
    use crate::compare::edges::Why;
    const WEEK_MS: i64 = 7 * 86_400_000;
    let mut lines = Vec::new();
    for (side, weeks) in [("first", &edges.warm_up), ("last", &edges.cool_down)] {
        let mut start = 0;
        while start < weeks.len() {
            let why = weeks[start].1;
            let end = (start..weeks.len()).find(|&i| weeks[i].1 != why).unwrap_or(weeks.len());
            let run = &weeks[start..end];
            let (first, last) = (&run[0].0, &run[run.len() - 1].0);
            let when = format!(
                "{} {} from {} to {}",
                run.len(),
                if run.len() == 1 { "week" } else { "weeks" },
                format_date(first.start_ms),
                format_date(last.start_ms + WEEK_MS - 1)
            );
            let tickets: u64 = run.iter().map(|w| w.0.tickets).sum();
            let hours: Vec<f64> = run.iter().filter_map(|w| w.0.log_median.map(f64::exp)).collect();
            let range = match (hours.iter().copied().reduce(f64::min), hours.iter().copied().reduce(f64::max)) {
                (Some(lo), Some(hi)) if (hi - lo) >= 0.05 => format!("{lo:.1}–{hi:.1} h"),
                (Some(lo), Some(_)) => format!("{lo:.1} h"),
                _ => "unknown".into(),
            };
            let reference = if side == "first" { edges.reference_hours.0 } else { edges.reference_hours.1 };
            let finding = match why {
                Why::Thin => format!(
                    "the {side} {when} hold {} tickets, under a quarter of a typical week's {}",
                    thousands(tickets),
                    thousands(edges.typical_week)
                ),
                Why::MostlyOpen => format!("the {side} {when} have half or more of their tickets still open"),
                Why::Durations => format!(
                    "in the {side} {when}, the desk's median time to resolve was {range}, against {reference:.1} h over the export's {side} 13 weeks (outside 3 robust standard deviations of the week-to-week changes{})",
                    if side == "first" {
                        ": an export's first weeks hold mostly the tickets opened long before it and still running, left truncation"
                    } else {
                        ""
                    }
                ),
            };
            lines.push(format!(
                "Export {}: {finding}; these weeks are left out of every comparison window and weekly series (the metric tables keep them).",
                if side == "first" { "start" } else { "end" }
            ));
            start = end;
        }
    }
    lines
}
