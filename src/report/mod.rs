//! The outputs people read (docs/outputs.md): metric tables, comparisons, charts, report.md and
//! manifest.json, written into a staging directory and published at --out (src/publish.rs).
//!
//! Here: building the report and its introduction and summary. `processes` writes the per-SOP
//! sections (with `change` for each change), `backlog_section` the processes without an SOP
//! and the backlog, `quality` the data quality, `methodology` the methods and provenance; the
//! tables, checksums and manifests come from `crate::artifacts`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::path::Path;

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;

mod backlog_section;
mod change;
mod methodology;
mod processes;
mod quality;

use change::{calibration_text, change_label, delta_with_ci, effect_with_ci, q_text, show_value};
pub(crate) use change::{change_section, change_stems, ChartsOf};

use backlog_section::*;
use methodology::*;
use processes::*;
use quality::*;

use crate::artifacts::{input_provenance, write_manifest, write_tables};
use crate::attribute::{AttributeBy, TimelineRow};
use crate::compare::{Change, Comparison, Verdict, Window};
use crate::error::Result;
use crate::metrics::{self, Better, Kind, Metric};
use crate::output;
use crate::period::{year4, Period};
use crate::pipeline::Analysis;
use crate::render::charts::{self, Trend, TrendPanel};
use crate::render::markdown::{ci_confidence, ci_label, escape, table, thousands};
use crate::render::{distinct_stems, slug};
use crate::tables::TableFormat;
use crate::validate::VersionFacts;
use sop_impact_parse::time::format_date;
/// The options that shape the results, for provenance (not --out or --quiet).
fn shaping_options(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--out" {
            skip = true;
            continue;
        }
        if a.starts_with("--out=") || a == "--quiet" || a == "-q" {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Text columns of a frame as owned strings.
fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

/// Where a moment falls on the period axis: the period's label and the fraction of it elapsed.
fn period_position(ms: i64, period: Period, tz: Tz) -> (String, f64) {
    let Some(t) = tz.timestamp_millis_opt(ms).single() else { return (String::new(), 0.0) };
    let d = t.date_naive();
    match period {
        Period::Month => {
            let days = chrono::NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
                .and_then(|f| f.checked_add_months(chrono::Months::new(1)).map(|n| (n - f).num_days()))
                .unwrap_or(30);
            (format!("{}-{:02}", year4(d.year().into()), d.month()), (d.day0() as f64) / days as f64)
        }
        Period::Quarter => {
            let q0 = (d.month0() / 3) * 3 + 1;
            let start = chrono::NaiveDate::from_ymd_opt(d.year(), q0, 1).unwrap_or(d);
            (format!("{}-Q{}", year4(d.year().into()), d.month0() / 3 + 1), (d - start).num_days() as f64 / 91.0)
        }
        Period::Week => (d.format("%G-W%V").to_string(), d.weekday().num_days_from_monday() as f64 / 7.0),
    }
}

/// x coordinate of a moment on a chart whose periods are `labels`.
fn x_of(ms: Option<i64>, labels: &[String], period: Period, tz: Tz, open_end: f64) -> f64 {
    let Some(ms) = ms else { return open_end };
    let (label, frac) = period_position(ms, period, tz);
    match labels.binary_search(&label) {
        Ok(i) => i as f64 - 0.5 + frac,
        Err(i) => i as f64 - 0.5,
    }
}

/// The facts of every SOP version (see validate::version_facts).
pub(crate) fn version_infos(a: &Analysis) -> Result<BTreeMap<(String, String), VersionFacts>> {
    crate::validate::version_facts(&a.data.sops)
}

/// How a metric's values read in the report, by its kind.
/// One line of the executive summary for a change with significant results.
fn summary_line(c: &Change, rows: &[&Comparison], verdict: Verdict, ci: &str) -> String {
    let parts: Vec<String> = rows
        .iter()
        .filter(|r| r.verdict == verdict)
        .map(|r| {
            match &r.trend {
                // The trend-aware effect decided the verdict: it is what the line says.
                Some(_) => format!(
                    "{} {} → {}, {} against the trend and controls ({})",
                    r.metric.label,
                    show_value(&r.metric, r.before_value),
                    show_value(&r.metric, r.after_value),
                    effect_with_ci(r, ci),
                    calibration_text(r)
                ),
                None => format!(
                    "{} {} → {} ({}; {})",
                    r.metric.label,
                    show_value(&r.metric, r.before_value),
                    show_value(&r.metric, r.after_value),
                    delta_with_ci(r, ci),
                    q_text(r.p_adjusted.unwrap_or(1.0))
                ),
            }
        })
        .collect();
    format!(
        "- **{}** ({}, {}): {} {}.",
        escape(&change_label(c)),
        escape(&c.process),
        format_date(c.change_date),
        if verdict == Verdict::Improved { "improved" } else { "worsened" },
        parts.join("; ")
    )
}

/// Processes shown in the report's backlog table and chart (a chart of tens of thousands of bars
/// is neither readable nor drawable).
const BACKLOG_SHOWN: usize = 30;

/// Write the full report to `out` (replacing what is there only when everything is written).
pub fn write_report(a: &Analysis, out: &Path, args: &[String], replace: crate::publish::Replace) -> Result<()> {
    let publication = crate::publish::Publication::begin(out, replace)?;
    // an error names the file under --out, not its staging copy
    build_report(a, publication.stage(), args).map_err(|e| publication.at_target(e))?;
    publication.commit()
}

fn build_report(a: &Analysis, dir: &Path, args: &[String]) -> Result<()> {
    write_tables(a, dir, TableFormat::Csv)?;
    let charts_dir = dir.join("charts");
    output::ensure_dir(&charts_dir)?;
    let as_of = format_date(a.as_of_ms - 1);
    // What to document next: its tables are outputs of their own.
    let b = crate::backlog::backlog(a)?;
    output::write_atomic(&dir.join("backlog.csv"), &crate::backlog::backlog_csv(&b)?)?;
    output::write_atomic(&dir.join("review_calendar.csv"), &crate::backlog::calendar_csv(&b)?)?;
    let options = shaping_options(args);
    let (provenance_rows, inputs_json) = input_provenance(a)?;
    let sections = [
        intro(a, &as_of)?,
        summary(a)?,
        processes(a, &charts_dir, &as_of)?,
        without_sop(a)?,
        documentation_backlog(a, &b, &charts_dir)?,
        data_quality(a)?,
        methodology(a)?,
        provenance(&options, &provenance_rows, &as_of)?,
    ];
    output::write_atomic(&dir.join("report.md"), sections.concat().as_bytes())?;
    write_manifest(a, dir, &options, inputs_json, &as_of)
}

/// Title and scope: what was read, the periods, windows and time zone.
fn intro(a: &Analysis, as_of: &str) -> Result<String> {
    let mut md = String::new();
    let tz = a.opts.tz;
    let range = a
        .data
        .inputs
        .iter()
        .filter(|s| s.kind == crate::ingest::profile::InputKind::Tickets)
        .filter_map(|s| s.date_range)
        .fold(None, |acc: Option<(i64, i64)>, (x, y)| Some(acc.map_or((x, y), |(p, q)| (p.min(x), q.max(y)))));
    let _ = writeln!(md, "# SOP impact report\n");
    let _ = writeln!(
        md,
        "Did changing a standard operating procedure make the work better or worse? This report compares every SOP change's \
         before and after windows on the metrics below, and reads each change against the trend before it and against processes \
         that did not change, with confidence intervals, multiple-testing-adjusted and placebo p-values.\n"
    );
    let _ = writeln!(
        md,
        "- **Tickets**: {} accepted, opened {} to {}\n- **As of**: {as_of} ({})\n- **Periods**: {}; **windows**: {}; **time zone**: {}\n- **Inputs**: {}\n",
        thousands(a.data.tickets.height() as u64),
        range.map(|r| format_date(r.0)).unwrap_or_default(),
        range.map(|r| format_date(r.1)).unwrap_or_default(),
        if a.as_of_given { "fixed with --as-of" } else { "the latest timestamp in the tickets" },
        match a.period {
            Period::Month => "months",
            Period::Week => "ISO weeks",
            Period::Quarter => "quarters",
        },
        match a.window {
            Window::Days(d) => format!("up to {d} days either side of each change, clipped at the neighbouring changes"),
            Window::All => "the full version intervals".into(),
        },
        tz,
        a.data.inputs.iter().map(|s| format!("{} `{}`", s.kind.name(), escape(&s.path.display().to_string()))).collect::<Vec<_>>().join(", ")
    );

    Ok(md)
}

/// The executive summary: at most ten lines.
fn summary(a: &Analysis) -> Result<String> {
    let mut md = String::new();
    // Executive summary: at most ten lines.
    let _ = writeln!(md, "## Summary\n");
    let by_change = a.comparisons.rows_by_change();
    let mut lines = Vec::new();
    for verdict in [Verdict::Worsened, Verdict::Improved] {
        for (c, rows) in by_change.iter().enumerate() {
            if rows.iter().any(|r| r.verdict == verdict) {
                lines.push(summary_line(&a.comparisons.changes[c], rows, verdict, &ci_label(a.config.compare.alpha)));
            }
        }
    }
    let quiet: Vec<String> = by_change
        .iter()
        .enumerate()
        .filter(|(_, rows)| {
            rows.iter().all(|r| matches!(r.verdict, Verdict::NoSignificantChange | Verdict::InsufficientData))
                && rows.iter().any(|r| r.verdict == Verdict::NoSignificantChange)
        })
        .map(|(c, _)| escape(&change_label(&a.comparisons.changes[c])))
        .collect();
    let unjudged: Vec<String> = by_change
        .iter()
        .enumerate()
        .filter(|(_, rows)| rows.iter().all(|r| r.verdict == Verdict::InsufficientData))
        .map(|(c, _)| escape(&change_label(&a.comparisons.changes[c])))
        .collect();
    let max_detail = 8usize;
    let more = lines.len().saturating_sub(max_detail);
    lines.truncate(max_detail);
    if more > 0 {
        lines.push(format!("- … and {more} more changes with significant results, in the sections below."));
    }
    if !quiet.is_empty() {
        lines.push(format!("- **No statistically significant change** on any metric: {}.", quiet.join(", ")));
    }
    if !unjudged.is_empty() {
        lines.push(format!("- **Could not be judged** (too little data either side): {}.", unjudged.join(", ")));
    }
    if a.comparisons.changes.is_empty() {
        lines.push("- No SOP change falls inside the ticket history, so there is nothing to compare.".into());
    }
    lines.truncate(10);
    let _ = writeln!(md, "{}\n", lines.join("\n"));
    let _ = writeln!(
        md,
        "A verdict reads the change against the process's own trend and against processes without an SOP change at the time \
         (weekly values; see Methodology): it tests the average effect over the weeks after the change, and needs the Benjamini–Hochberg \
         adjusted p-value (q) below α = {} (and the placebo p-value too, where there are placebos enough for it to get there). Without \
         processes to compare with there is no verdict: the before/after columns describe, they do not decide. \
         Intervals are unadjusted {} intervals. “No significant change” is not “no effect”: read the interval.\n",
        a.config.compare.alpha,
        ci_confidence(a.config.compare.alpha)
    );

    Ok(md)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_options() {
        let args: Vec<String> =
            ["report", "--out", "x", "--window", "all", "-q"].iter().map(|s| s.to_string()).collect();
        assert_eq!(shaping_options(&args), vec!["report", "--window", "all"]);
    }

    #[test]
    fn period_positions() {
        let ms = chrono::Utc.with_ymd_and_hms(2024, 3, 16, 0, 0, 0).unwrap().timestamp_millis();
        let (label, frac) = period_position(ms, Period::Month, Tz::UTC);
        assert_eq!(label, "2024-03");
        assert!((frac - 15.0 / 31.0).abs() < 1e-12);
        let labels = vec!["2024-02".to_string(), "2024-03".into()];
        assert!((x_of(Some(ms), &labels, Period::Month, Tz::UTC, 9.0) - (1.0 - 0.5 + 15.0 / 31.0)).abs() < 1e-12);
    }
}
