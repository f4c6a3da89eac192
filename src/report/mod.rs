//! The outputs people read (docs/outputs.md): metric tables, comparisons, charts, report.md and
//! manifest.json, written into a staging directory and published at --out (src/publish.rs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;

mod change;

use change::{calibration_text, change_label, delta_with_ci, effect_with_ci, q_text, show_value};
pub(crate) use change::{change_section, change_stems, ChartsOf};

use crate::attribute::{AttributeBy, TimelineRow};
use crate::compare::{Change, Comparison, Verdict, Window};
use crate::error::{Error, Result};
use crate::metrics::{self, Better, Kind, Metric};
use crate::output;
use crate::period::{year4, Period};
use crate::pipeline::Analysis;
use crate::render::charts::{self, Trend, TrendPanel};
use crate::render::markdown::{ci_confidence, ci_label, escape, table, thousands};
use crate::render::{distinct_stems, slug};
use crate::tables;
use crate::tables::TableFormat;
use crate::validate::VersionFacts;
use sop_impact_parse::time::{format_date, format_utc};

/// Metric tables, comparisons, windows and rejects under `out` (the `metrics` command).
pub fn write_tables(a: &Analysis, out: &Path, format: TableFormat) -> Result<Vec<(PathBuf, usize)>> {
    let dir = out.join("metrics");
    output::ensure_dir(&dir)?;
    let ext = tables::extension(format);
    let mut written = Vec::new();
    for (name, df) in
        [("sop_version_metrics", &a.tables.sop_versions), ("process_period_metrics", &a.tables.process_periods)]
    {
        let path = dir.join(format!("{name}.{ext}"));
        output::write_atomic(&path, &tables::to_bytes(df, format)?)?;
        written.push((path, df.height()));
    }
    for (name, bytes, rows) in [
        ("comparisons.csv", crate::compare::comparisons_csv(&a.comparisons)?, a.comparisons.rows.len()),
        ("windows.csv", crate::compare::windows_csv(&a.comparisons)?, a.comparisons.changes.len()),
        ("rejects.csv", crate::validate::rejects_csv(&a.data.rejects)?, a.data.rejects.len()),
    ] {
        let path = out.join(name);
        output::write_atomic(&path, &bytes)?;
        written.push((path, rows));
    }
    if let Some(crate::pipeline::Strata { column, within: strata }) = &a.strata {
        let path = out.join(format!("comparisons_by_{column}.csv"));
        output::write_atomic(&path, &crate::compare::comparisons_by_csv(column, strata)?)?;
        written.push((path, strata.iter().map(|(_, c)| c.rows.len()).sum()));
    }
    Ok(written)
}

/// Warnings a user must see: SOP history problems and records that match no process.
pub fn print_warnings(a: &Analysis) {
    for w in &a.data.warnings {
        eprintln!("sop-impact: warning: {w}");
    }
    for (input, n) in &a.attributed.unattributed {
        eprintln!("sop-impact: warning: {n} {input} match no process (no category, subcategory, sop_id or process of an SOP or a ticket)");
    }
}

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

/// An input as a manifest lists it. Fields in name order: the manifests' keys are sorted.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct InputEntry {
    accepted: u64,
    format: String,
    kind: &'static str,
    path: String,
    profile: String,
    rejected: u64,
    rows_read: u64,
    sha256: String,
    superseded: u64,
}

/// An output file and its checksum.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OutputEntry {
    path: String,
    sha256: String,
}

/// The report's manifest.json (fields in name order).
#[derive(serde::Serialize)]
struct ReportManifest<'a> {
    as_of: &'a str,
    generated_at: String,
    inputs: Vec<InputEntry>,
    options: &'a [String],
    outputs: Vec<OutputEntry>,
    time_zone: String,
    tool: &'static str,
    version: &'static str,
}

/// Per input: a provenance table row (kind, path, SHA-256) and its manifest entry.
pub(crate) fn input_provenance(a: &Analysis) -> Result<(Vec<Vec<String>>, Vec<InputEntry>)> {
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for s in &a.data.inputs {
        let sha = output::sha256_file(&s.path)?;
        rows.push(vec![
            s.kind.name().to_string(),
            format!("`{}`", escape(&s.path.display().to_string())),
            format!("`{sha}`"),
        ]);
        entries.push(InputEntry {
            accepted: s.accepted,
            format: s.format.clone(),
            kind: s.kind.name(),
            path: s.path.display().to_string(),
            profile: s.profile.clone(),
            rejected: s.rejected,
            rows_read: s.rows_read,
            sha256: sha,
            superseded: s.superseded,
        });
    }
    Ok((rows, entries))
}

/// Every file under `dir` with its SHA-256, for a manifest.
pub(crate) fn output_checksums(dir: &Path) -> Result<Vec<OutputEntry>> {
    let mut outputs = Vec::new();
    for rel in output::list_files(dir)? {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|e| Error::output(&dir.join(&rel), e))?;
        outputs.push(OutputEntry { sha256: output::sha256_bytes(&bytes), path: rel });
    }
    Ok(outputs)
}

/// `value` as pretty JSON with a final newline, at `path`.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    output::write_atomic(path, &bytes)
}

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

/// The most charts one report draws (each an SVG and a PNG file): a report over thousands of
/// SOPs draws those of the SOPs with the most tickets, and says so.
const CHART_BUDGET: usize = 400;

/// One SOP's part of the report: its versions, its changes and whether they are drawn.
struct SopSection<'t> {
    sop: &'t str,
    versions: Vec<&'t TimelineRow>,
    /// the period table's rows of its current process
    rows: Vec<usize>,
    changes: Vec<usize>,
    draw_trend: bool,
    /// the changes drawn: the latest first, while the budget lasts
    drawn_changes: BTreeSet<usize>,
}

/// One section per SOP: its facts, its trend chart and each of its changes.
fn processes(a: &Analysis, charts_dir: &Path, as_of: &str) -> Result<String> {
    let mut md = String::new();
    let infos = version_infos(a)?;
    let axis = PeriodAxis::new(a)?;
    let _ = writeln!(md, "## Processes with an SOP\n");
    let mut sections = sop_sections(a, &axis);
    let tickets: Vec<u64> = sections.iter().map(|s| axis.tickets(&s.rows)).collect();
    let (drawn, skipped) = share_chart_budget(&mut sections, &tickets, CHART_BUDGET);
    if skipped > 0 {
        let _ = writeln!(
            md,
            "*This report draws at most {CHART_BUDGET} charts: those of the {drawn} SOPs with the most tickets (their trend \
             and their latest changes). {skipped} more sections have their tables without charts; every change's numbers \
             are in [comparisons.csv](comparisons.csv).*\n"
        );
    }
    // One trend chart per SOP, named after its current process.
    let trend_stems = distinct_stems(sections.iter().filter_map(|s| {
        let current = s.versions.last()?;
        Some((s.sop.to_string(), format!("trend-{}", slug(&current.process))))
    }));
    let change_stems = change_stems(a);
    let rows_by_change = a.comparisons.rows_by_change();
    for s in &sections {
        let Some(current) = s.versions.last() else { continue };
        let info = infos.get(&(s.sop.to_string(), current.version.clone()));
        md.push_str(&sop_heading(a, s.sop, current, info));
        if s.draw_trend {
            md.push_str(&trend_chart(a, &axis, s, &trend_stems[s.sop], charts_dir)?);
        }
        for &c in &s.changes {
            let drawn = s.drawn_changes.contains(&c).then_some(charts_dir);
            let chart = ChartsOf { stem: &change_stems[c], charts_dir: drawn };
            md.push_str(&change_section(a, c, &rows_by_change[c], &chart, &infos, as_of, "####")?);
        }
    }
    Ok(md)
}

/// The SOPs of the timeline in its order, each with its versions, rows and changes (found in one
/// pass each: per SOP, a scan of the timeline or of the changes was minutes at 20,000 SOPs).
fn sop_sections<'t>(a: &'t Analysis, axis: &PeriodAxis) -> Vec<SopSection<'t>> {
    let mut changes_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (c, ch) in a.comparisons.changes.iter().enumerate() {
        changes_of.entry(ch.sop_id.as_str()).or_default().push(c);
    }
    let mut sections: Vec<SopSection> = Vec::new();
    for row in a.attributed.timeline.iter().filter(|r| !r.sop_id.is_empty()) {
        if sections.last().is_none_or(|s| s.sop != row.sop_id) {
            sections.push(SopSection {
                sop: &row.sop_id,
                versions: Vec::new(),
                rows: Vec::new(),
                changes: changes_of.remove(row.sop_id.as_str()).unwrap_or_default(),
                draw_trend: false,
                drawn_changes: BTreeSet::new(),
            });
        }
        if let Some(s) = sections.last_mut().filter(|_| row.version != crate::attribute::NO_SOP) {
            s.versions.push(row);
        }
    }
    for s in &mut sections {
        if let Some(current) = s.versions.last() {
            s.rows = axis.rows_of(&current.process).to_vec();
        }
    }
    sections
}

/// Grants `budget` charts to the SOPs with the most tickets: to each its trend chart, then its
/// changes' two charts each, the latest first (`tickets`: each section's). Returns how many SOPs
/// got charts and how many sections went without some.
fn share_chart_budget(sections: &mut [SopSection], tickets: &[u64], budget: usize) -> (usize, usize) {
    let mut order: Vec<(u64, &str, usize)> =
        sections.iter().zip(tickets).enumerate().map(|(k, (s, n))| (*n, s.sop, k)).collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let order: Vec<usize> = order.into_iter().map(|(_, _, k)| k).collect();
    let (mut left, mut drawn) = (budget, 0);
    for k in order {
        let s = &mut sections[k];
        if s.rows.is_empty() || left == 0 {
            continue;
        }
        s.draw_trend = true;
        left -= 1;
        drawn += 1;
        for &c in s.changes.iter().rev() {
            if left < 2 {
                break;
            }
            s.drawn_changes.insert(c);
            left -= 2;
        }
    }
    let skipped = sections
        .iter()
        .filter(|s| !s.rows.is_empty() && (!s.draw_trend || s.drawn_changes.len() < s.changes.len()))
        .count();
    (drawn, skipped)
}

/// The heading of an SOP's section: its current version, owner and review date.
fn sop_heading(a: &Analysis, sop: &str, current: &TimelineRow, info: Option<&VersionFacts>) -> String {
    let review = info.and_then(|i| i.next_review);
    let overdue = review.is_some_and(|r| r < a.as_of_ms);
    format!(
        "### {}\n\nSOP **{}**, current version **{}** (in force since {}); owner: {}; next review: {}{}.\n\n",
        escape(&current.process),
        escape(sop),
        escape(&current.version),
        current.effective_from.map(format_date).unwrap_or_default(),
        info.and_then(|i| i.owner.clone()).map(|o| escape(&o)).unwrap_or_else(|| "**none recorded**".into()),
        review.map(format_date).unwrap_or_else(|| "not set".into()),
        if overdue { " (**overdue**)" } else { "" }
    )
}

/// The periods every trend chart shares, and the period table's columns the panels draw.
struct PeriodAxis<'a> {
    /// every period label, sorted
    labels: Vec<String>,
    period: Vec<Option<String>>,
    version: Vec<Option<String>>,
    panels: Vec<&'a Metric>,
    columns: BTreeMap<&'a str, Vec<Option<f64>>>,
    /// each process's rows
    rows_of_process: HashMap<String, Vec<usize>>,
    tickets: Vec<Option<f64>>,
}

impl<'a> PeriodAxis<'a> {
    fn new(a: &'a Analysis) -> Result<Self> {
        let pp = &a.tables.process_periods;
        let period = strings(pp, "period")?;
        let mut labels: Vec<String> = period.iter().flatten().cloned().collect();
        labels.sort();
        labels.dedup();
        let panels = metrics::chart_panels(&a.queries);
        let mut columns = BTreeMap::new();
        for m in &panels {
            for column in [m.name.as_str(), m.chart.as_ref().map_or("tickets", |c| c.over.as_str())] {
                columns.insert(column, floats(pp, column)?);
            }
        }
        let process = strings(pp, "process")?;
        let mut rows_of_process: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in process.iter().enumerate() {
            if let Some(p) = p {
                rows_of_process.entry(p.clone()).or_default().push(i);
            }
        }
        Ok(PeriodAxis {
            labels,
            rows_of_process,
            tickets: floats(pp, "tickets")?,
            period,
            version: strings(pp, "version_in_force")?,
            panels,
            columns,
        })
    }

    /// The rows of `process` in the period table.
    fn rows_of(&self, process: &str) -> &[usize] {
        self.rows_of_process.get(process).map_or(&[], Vec::as_slice)
    }

    /// The tickets of `rows`.
    fn tickets(&self, rows: &[usize]) -> u64 {
        rows.iter().filter_map(|&i| self.tickets.get(i).copied().flatten()).sum::<f64>() as u64
    }

    /// Where row `i` falls on the axis.
    fn slot(&self, i: usize) -> Option<usize> {
        self.labels.binary_search(self.period[i].as_ref()?).ok()
    }

    /// `column` over the whole axis for `rows`: empty where the process had no tickets.
    fn aligned(&self, rows: &[usize], column: &str) -> Vec<Option<f64>> {
        let mut v = vec![None; self.labels.len()];
        for &i in rows {
            if let (Some(k), Some(values)) = (self.slot(i), self.columns.get(column)) {
                v[k] = values[i];
            }
        }
        v
    }

    /// The version in force in each period (the later one where a change falls inside it).
    fn stages(&self, rows: &[usize]) -> Vec<String> {
        let mut stages = vec![String::new(); self.labels.len()];
        for &i in rows {
            if let Some(k) = self.slot(i) {
                let v = self.version[i].clone().unwrap_or_default();
                stages[k] = v.rsplit('→').next().unwrap_or("").to_string();
            }
        }
        stages
    }
}

/// The trend chart of one SOP's process with its versions marked, and its caption.
fn trend_chart(a: &Analysis, axis: &PeriodAxis, section: &SopSection, stem: &str, charts_dir: &Path) -> Result<String> {
    let (versions, rows) = (&section.versions, &section.rows);
    let Some(current) = versions.last() else { return Ok(String::new()) };
    let process = &current.process;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let (tz, labels) = (a.opts.tz, &axis.labels);
    let end = labels.len() as f64 - 0.5;
    let x = |ms: Option<i64>, open_end: f64| x_of(ms, labels, a.period, tz, open_end);
    let latest_change = section.changes.last().map(|&c| &a.comparisons.changes[c]);
    let trend = Trend {
        title: format!(
            "{process} — trend by {} with SOP changes",
            match a.period {
                Period::Month => "month",
                Period::Week => "week",
                Period::Quarter => "quarter",
            }
        ),
        periods: labels.clone(),
        stages: axis.stages(rows),
        changes: versions
            .iter()
            .filter_map(|r| {
                r.effective_from.map(|e| (x(Some(e), end), format!("v{}", r.version.trim_start_matches(['v', 'V']))))
            })
            .filter(|(x, _)| *x > -0.5 && *x < end)
            .collect(),
        windows: latest_change.map(|c| {
            (
                (x(c.before.start, -0.5).max(-0.5), x(c.before.end, end)),
                (x(c.after.start, end), x(c.after.end, end).min(end)),
            )
        }),
        panels: axis
            .panels
            .iter()
            .map(|m| {
                let proportion = m.kind == Kind::Proportion;
                let over = m.chart.as_ref().map_or("tickets", |c| c.over.as_str());
                TrendPanel {
                    title: m.label.clone(),
                    unit: m.chart.as_ref().map_or(String::new(), |c| c.axis.clone()),
                    values: axis.aligned(rows, &m.name),
                    counts: axis.aligned(rows, over).iter().map(|v| v.unwrap_or(0.0) as u64).collect(),
                    is_rate: proportion,
                    percent: proportion,
                }
            })
            .collect(),
    };
    charts::write(charts_dir, stem, &trend)?;
    Ok(format!(
        "![{} trend](charts/{stem}.png)\n\n*Vertical lines: SOP versions taking effect. Shaded: the windows compared for the latest change \
         (orange before, blue after). Thin lines: centre and 3-sigma control limits recomputed per SOP version (p-chart for rates, \
         individuals chart for MTTR). [SVG](charts/{stem}.svg)*\n\n",
        escape(process)
    ))
}

/// The processes that have no SOP, with the metrics their query headers put in this table.
fn without_sop(a: &Analysis) -> Result<String> {
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
fn documentation_backlog(a: &Analysis, b: &crate::backlog::Backlog, charts_dir: &Path) -> Result<String> {
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
fn backlog_chart(shown: &[crate::backlog::BacklogRow], total: usize) -> charts::BacklogChart {
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
fn review_flags(calendar: &[crate::backlog::ReviewRow]) -> String {
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

/// Per input: rows read, accepted, rejected, superseded and why.
fn data_quality(a: &Analysis) -> Result<String> {
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

/// How every number was made: metric definitions, attribution, windows and tests.
fn methodology(a: &Analysis) -> Result<String> {
    let mut md = String::new();
    // Methodology.
    let _ = writeln!(md, "## Methodology\n");
    let defs: Vec<Vec<String>> = a
        .queries
        .iter()
        .map(|q| {
            vec![
                format!("`{}`", q.names().collect::<Vec<_>>().join("`, `")),
                escape(&q.definition),
                escape(&q.unit),
                match q.better {
                    Better::Lower => "lower".into(),
                    Better::Higher => "higher".into(),
                    Better::None => "–".into(),
                },
                format!(
                    "`{}`",
                    escape(&q.path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default())
                ),
            ]
        })
        .collect();
    let _ = writeln!(md, "Metric definitions, from the headers of the SQL files that compute them:\n");
    let _ = writeln!(md, "{}", table(&["metric", "definition", "unit", "better", "query"], &defs, &[]));
    let attributed_when = match a.attribute_by {
        AttributeBy::OpenedAt => "when it was opened",
        AttributeBy::ResolvedAt => {
            "when it was resolved (closed, if it has no resolution time; opened, while it is still open)"
        }
    };
    let _ = writeln!(
        md,
        "- **Attribution**: a ticket belongs to the process whose SOP governs its category and subcategory (the exact pair first, \
         then the whole category) and to the SOP version in force {}; before an SOP's first version it counts as `-`.\n\
         - **Windows**: {}. Changes before the first ticket are not compared.\n\
         - **Tests of the windows** (the descriptive before/after columns; they never decide a verdict): rates — pooled two-proportion z test, or Fisher's exact test when an expected count is below 5, with Newcombe's \
         hybrid score interval for the difference; MTTR — Mann–Whitney U (normal approximation, tie and continuity corrections) with the \
         Hodges–Lehmann shift and its interval as the change; audit exceptions — exact conditional Poisson test with the Clopper–Pearson \
         rate-ratio interval, shown as a difference at the before rate.\n\
         - **Verdicts against the trend**: each metric is followed week by week (durations as the log of the week's Kaplan–Meier median, \
         open tickets counted as still running), from up to a year before the change (never across the SOP's previous change) to the \
         next version (at most a year). Processes with no SOP change in those weeks, the ones without any SOP included, are the controls: \
         up to 10 of the largest that track the process best form a synthetic control (non-negative weights summing to one, fitted \
         before the change). The verdict tests the average effect after the change — the mean over the weeks after of the gap between the \
         process and its synthetic control minus that gap's line before the change carried on (its mean, where it has no trend of its \
         own) — with Newey–West errors; the step at the change and the slope change are reported beside it. The same estimator is run \
         at placebo dates before the change and on each control, at the real date and at other weeks, as if it had changed (up to 200 \
         placebos); their spread scales the model's statistic (a Student t with as many degrees of freedom as placebos), and the \
         placebo p is (1 + placebos at least as extreme) / (1 + placebos). A verdict needs the scaled p (after Benjamini–Hochberg) below \
         α, and the placebo p too where there are at least 2/α − 1 placebos (`method` ends in `+placebo_rank`; else `+placebo_spread`). \
         With fewer than 8 weeks on either side the average effect is a difference in differences against the mean of the controls. \
         Without controls, or without a week on each side, there is no verdict (`insufficient_data`, with the reason).\n\
         - **Export edges**: the first weeks of the export whose desk-wide median time to resolve stands more than 3 robust standard \
         deviations (of the week-to-week changes) above the median of its first 13 weeks (left truncation: the long-running tickets \
         opened before the export), the last weeks likewise against its last 13, and edge weeks with under a quarter of a typical \
         week's tickets or with half of them or more still open, are left out of every window and weekly series (at most 6 weeks \
         told apart by their durations at each edge).\n\
         - **Multiple testing**: Benjamini–Hochberg, one family per metric (a procedure moves some metrics and leaves others alone): \
         the {} comparisons of this report whose design decides, over {} metrics; a verdict needs q < {}.\n\
         - **Minimum data**: fewer than {} records on either side (100 tickets of exposure for audit findings) is *insufficient data*, \
         with the unmet requirement named.\n\
         - **Caveats**: tests assume independent tickets; the before/after columns credit any background trend to the SOP, which is why \
         the verdict reads the change against the trend; a strong change in priority mix (χ² p < 0.01) is flagged; open tickets are \
         not in the windows' MTTR and are reported.\n\
         - Medians and percentiles interpolate linearly between order statistics (R type 7).\n",
        attributed_when,
        match a.window {
            Window::Days(d) => format!("up to {d} days before and after each change, clipped at the neighbouring changes of the same SOP"),
            Window::All => "the full interval of each version".into(),
        },
        a.comparisons.rows.iter().filter(|r| r.p_adjusted.is_some()).count(),
        a.comparisons
            .rows
            .iter()
            .filter(|r| r.p_adjusted.is_some())
            .map(|r| r.metric.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        a.config.compare.alpha,
        a.config.compare.min_n
    );

    Ok(md)
}

/// The command, the version and each input's checksum.
fn provenance(options: &[String], prov: &[Vec<String>], as_of: &str) -> Result<String> {
    let mut md = String::new();
    // Provenance.
    let _ = writeln!(md, "## Provenance\n");
    let _ = writeln!(md, "sop-impact {}, as of {as_of}; to run it again:\n", env!("CARGO_PKG_VERSION"));
    let command: Vec<String> = std::iter::once("sop-impact".to_string()).chain(options.iter().cloned()).collect();
    let _ = writeln!(md, "{}", crate::render::markdown::shell_block(&crate::render::markdown::shell_command(&command)));
    let _ = writeln!(md, "{}", table(&["input", "file", "SHA-256"], prov, &[]));
    let _ = writeln!(md, "Every output's SHA-256 is in [manifest.json](manifest.json).");

    Ok(md)
}

/// The manifest, last: it lists every other output with its checksum.
fn write_manifest(a: &Analysis, dir: &Path, options: &[String], inputs: Vec<InputEntry>, as_of: &str) -> Result<()> {
    let tz = a.opts.tz;
    let outputs = output_checksums(dir)?;
    let generated_at = if a.as_of_given {
        format_utc(a.as_of_ms - 1)
    } else {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    };
    let manifest = ReportManifest {
        as_of,
        generated_at,
        inputs,
        options,
        outputs,
        time_zone: tz.to_string(),
        tool: "sop-impact",
        version: env!("CARGO_PKG_VERSION"),
    };
    write_json(&dir.join("manifest.json"), &manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_budget_goes_to_the_sops_with_the_most_tickets_latest_changes_first() {
        let ids: Vec<String> = (0..5).map(|k| format!("S-{k}")).collect();
        let section = |k: usize, changes: Vec<usize>, rows: Vec<usize>| SopSection {
            sop: &ids[k],
            versions: Vec::new(),
            rows,
            changes,
            draw_trend: false,
            drawn_changes: BTreeSet::new(),
        };
        let mut sections = vec![
            section(0, vec![0], vec![0]),
            section(1, vec![1, 2, 3], vec![1]),
            section(2, vec![4], vec![2]),
            section(3, vec![5], Vec::new()),
            section(4, vec![6], vec![3]),
        ];
        // S-1 has the most tickets, then S-0 and S-4 (a tie, by id), then S-2; S-3 has no rows
        let (drawn, skipped) = share_chart_budget(&mut sections, &[50, 90, 10, 1000, 50], 6);
        assert!(
            sections[1].draw_trend && sections[1].drawn_changes == BTreeSet::from([2, 3]),
            "its trend, its 2 latest"
        );
        assert!(sections[0].draw_trend && sections[0].drawn_changes.is_empty(), "one chart left: the trend only");
        assert!(!sections[4].draw_trend && !sections[2].draw_trend, "the budget is spent");
        assert!(!sections[3].draw_trend, "no rows, no chart");
        assert_eq!((drawn, skipped), (2, 4), "S-1, S-0, S-4 and S-2 go without some charts");
    }

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
