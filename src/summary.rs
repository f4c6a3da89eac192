//! The data-quality summary: printed by `validate`; its rows also feed the report and the evidence pack.

use std::fmt::Write;

use crate::validate::InputSummary;
use sop_impact_parse::time::format_date;

/// A plain-text table: one row per input file, then the profile decisions, the accounting
/// identities and the warnings.
pub fn data_quality(inputs: &[InputSummary], warnings: &[String]) -> String {
    let header = ["input", "file", "format", "profile", "read", "accepted", "rejected", "superseded", "from", "to"];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in inputs {
        let q = QualityRow::of(s);
        let mut row = vec![q.input.to_string(), q.file, q.format.to_string(), q.profile.to_string()];
        row.extend(q.counts.map(|n| n.to_string()));
        row.extend([q.from, q.to]);
        rows.push(row);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric = |k: usize| (4..=7).contains(&k);
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(
                |(k, c)| if numeric(k) { format!("{c:>w$}", w = widths[k]) } else { format!("{c:<w$}", w = widths[k]) },
            )
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out.push('\n');
    for s in inputs {
        let _ = writeln!(out, "{} {}: profile {} ({})", s.kind.name(), s.path.display(), s.profile, s.profile_reason);
        if !s.mapping.is_empty() {
            let _ = writeln!(out, "  columns: {}", s.mapping);
        }
        let _ = writeln!(out, "  {}", accounting(s));
        if let Some(lines) = s.file_lines {
            let _ = writeln!(out, "  {}", line_accounting(lines, s.rows_read));
        }
        for (reason, n) in s.top_reasons.iter().take(5) {
            let _ = writeln!(out, "  rejected {n:>6} × {reason}");
        }
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// One input's line of a data-quality table: the terminal summary, the report and the evidence
/// pack each show the columns they need from it.
pub struct QualityRow<'a> {
    pub input: &'static str,
    pub file: String,
    pub format: &'a str,
    pub profile: &'a str,
    /// rows read, accepted, rejected, superseded
    pub counts: [u64; 4],
    /// the first and last ticket date (empty for other inputs)
    pub from: String,
    pub to: String,
    /// the three commonest reasons for a reject, with their counts
    pub top_reasons: String,
}

impl<'a> QualityRow<'a> {
    pub fn of(s: &'a InputSummary) -> Self {
        let (from, to) = s.date_range.map(|(a, b)| (format_date(a), format_date(b))).unwrap_or_default();
        QualityRow {
            input: s.kind.name(),
            file: s.path.display().to_string(),
            format: &s.format,
            profile: &s.profile,
            counts: [s.rows_read, s.accepted, s.rejected, s.superseded],
            from,
            to,
            top_reasons: s.top_reasons.iter().take(3).map(|(r, n)| format!("{r} ({n})")).collect::<Vec<_>>().join("; "),
        }
    }
}

/// "4001 lines: the header and one per row read", or how many lines more the rows took.
fn line_accounting(lines: u64, rows_read: u64) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    match lines.checked_sub(rows_read + 1) {
        Some(0) => format!("{lines} lines: the header and one per row read"),
        Some(more) => format!(
            "{lines} lines: the header, one per row read and {more} more (line{} inside quoted fields, or blank)",
            plural(more)
        ),
        None => format!("{lines} line{}: fewer than the header and one per row read", plural(lines)),
    }
}

/// "1000 rows read = 990 accepted + 8 rejected + 2 superseded"
pub fn accounting(s: &InputSummary) -> String {
    let superseded = if s.superseded > 0 { format!(" + {} superseded", s.superseded) } else { String::new() };
    format!("{} rows read = {} accepted + {} rejected{superseded}", s.rows_read, s.accepted, s.rejected)
}

/// "tickets t.csv: 1000 rows read = …"
pub fn accounting_line(s: &InputSummary) -> String {
    format!("{} {}: {}", s.kind.name(), s.path.display(), accounting(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_accounted_for_by_the_header_and_the_rows() {
        assert_eq!(line_accounting(4001, 4000), "4001 lines: the header and one per row read");
        assert!(line_accounting(4001, 99).contains("and 3901 more"), "a swallowed stretch shows");
        assert!(line_accounting(3, 5).contains("fewer"));
    }
}
