//! The data-quality summary printed by `validate` (and, later, written into the report).

use std::fmt::Write;

use crate::validate::InputSummary;
use sop_impact_parse::time::format_date;

/// A plain-text table: one row per input file, then the profile decisions, the accounting
/// identities and the warnings.
pub fn data_quality(inputs: &[InputSummary], warnings: &[String]) -> String {
    let header = ["input", "file", "format", "profile", "read", "accepted", "rejected", "superseded", "from", "to"];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in inputs {
        let (from, to) = s.date_range.map(|(a, b)| (format_date(a), format_date(b))).unwrap_or_default();
        rows.push(vec![
            s.kind.name().to_string(),
            s.path.display().to_string(),
            s.format.clone(),
            s.profile.clone(),
            s.rows_read.to_string(),
            s.accepted.to_string(),
            s.rejected.to_string(),
            s.superseded.to_string(),
            from,
            to,
        ]);
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
        let superseded = if s.superseded > 0 { format!(" + {} superseded", s.superseded) } else { String::new() };
        let _ = writeln!(
            out,
            "  {} rows read = {} accepted + {} rejected{superseded}",
            s.rows_read, s.accepted, s.rejected
        );
        for (reason, n) in s.top_reasons.iter().take(5) {
            let _ = writeln!(out, "  rejected {n:>6} × {reason}");
        }
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
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
