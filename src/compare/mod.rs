//! Before/after comparisons for every SOP change: the windows either side of each
//! change, the metric values in each window (from the same SQL files as the metric tables), the
//! right test and interval per metric type, Benjamini–Hochberg per metric, and a verdict
//! that never claims more than the data supports.
//!
//! Here: the comparison types and the run of them ([`compare`], [`compare_by`]). `windows` cuts
//! the windows and their records, `samples` reads the tickets' hours and priority mix,
//! `descriptive` tests the windows, `series` and `trend` build and fit the weekly series,
//! `verdicts` decides, `output` writes comparisons.csv and windows.csv; `edges` finds an
//! export's warm-up and cool-down.

mod descriptive;
pub mod edges;
mod output;
mod samples;
mod series;
pub mod trend;
mod verdicts;
mod windows;

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use crate::attribute::{attributed_ms, timestamp_ms, Attributed, NO_SOP};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, derive_change_columns, Better, Kind, Metric, Query, RateOf};
use crate::output::{cell, serialize_csv};
use crate::stats::{multiple, poisson, proportions, ranks, survival, z_two_sided};
pub use series::{log_scale, Weekly};
use sop_impact_parse::time::format_date;
pub use trend::{Estimate, Method};

pub use output::{comparisons_by_csv, comparisons_csv, method_name, windows_csv, Shown};
pub use windows::{changes, in_window};

use crate::stats::mix::mix_p;
use descriptive::*;
use samples::*;
use verdicts::*;
use windows::*;
/// A ticket column whose values each get their own comparisons (`--by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stratify {
    Priority,
    AssignmentGroup,
}

impl Stratify {
    pub fn column(self) -> &'static str {
        match self {
            Stratify::Priority => "priority",
            Stratify::AssignmentGroup => "assignment_group",
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// How much either side of a change is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// up to this many days either side, clipped at the neighbouring changes
    Days(u32),
    /// the full version intervals
    All,
}

impl Window {
    pub fn parse(s: &str) -> std::result::Result<Window, String> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(Window::All);
        }
        match s.parse::<u32>() {
            Ok(d) if d > 0 => Ok(Window::Days(d)),
            _ => Err(format!("--window '{s}' is not a number of days (1 or more) or `all`")),
        }
    }
}

/// One SOP change and the windows compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub sop_id: String,
    pub process: String,
    pub process_id: u32,
    pub from_version: String,
    pub to_version: String,
    /// UTC ms
    pub change_date: i64,
    /// when the version replaced took effect (UTC ms): the trend is never fitted across it
    pub previous_from: Option<i64>,
    /// when the new version was replaced in turn (UTC ms; None while in force)
    pub replaced_at: Option<i64>,
    /// the window before the change (it ends at the change)
    pub before: Interval,
    /// the window after it (it starts at the change)
    pub after: Interval,
    pub before_tickets: u64,
    pub after_tickets: u64,
}

/// A window [start, end) in UTC ms; `None` is unbounded (the start of the data, or open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// One row of comparisons.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub change: usize,
    /// the metric compared, with its facts
    pub metric: Metric,
    pub before_n: u64,
    pub before_value: Option<f64>,
    pub after_n: u64,
    pub after_value: Option<f64>,
    pub delta: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub verdict: Verdict,
    /// the test that gave the p-value, in words
    pub test: String,
    pub caveats: Vec<String>,
    /// how the verdict was reached; with its estimate unless the windows were compared directly
    pub method: Method,
    pub trend: Option<Estimate>,
    /// the controls of the estimate, with their weights, in words
    pub controls: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Improved,
    Worsened,
    NoSignificantChange,
    InsufficientData,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Worsened => "worsened",
            Verdict::NoSignificantChange => "no_significant_change",
            Verdict::InsufficientData => "insufficient_data",
        }
    }
}

/// Everything a run's comparisons produced.
pub struct Comparisons {
    pub changes: Vec<Change>,
    pub rows: Vec<Comparison>,
    /// the export's first and last weeks left out of every window and series
    pub edges: edges::ExportEdges,
}

impl Comparisons {
    /// The rows of each change, in change order.
    pub fn rows_by_change(&self) -> Vec<Vec<&Comparison>> {
        let mut by_change = vec![Vec::new(); self.changes.len()];
        for row in &self.rows {
            if let Some(rows) = by_change.get_mut(row.change) {
                rows.push(row);
            }
        }
        by_change
    }
}

/// The ticket columns the comparisons, the weekly series and the backlog read themselves,
/// whatever the queries.
pub(crate) const READ_BY_COMPARISONS: &[&str] =
    &["process_id", "attributed_at", "opened_at", "is_resolved", "resolution_hours", "priority"];

/// Compare every change. `as_of_ms` is "today": open tickets have been open until then.
pub fn compare(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    window: Window,
    as_of_ms: i64,
) -> Result<Comparisons> {
    let edges = edges::detect(&edges::desk_weeks(att, as_of_ms)?);
    compare_within(att, cfg, queries, window, as_of_ms, edges)
}

/// Narrow each window to the weeks of the export that are kept.
fn clip_to(changes: &mut [Change], keep: Interval) {
    for ch in changes {
        ch.before.start = intersect_start(ch.before.start, keep.start);
        ch.after.end = intersect_end(ch.after.end, keep.end);
        // a window that the edges leave empty
        if let (Some(start), Some(end)) = (ch.before.start, ch.before.end) {
            ch.before.start = Some(start.min(end));
        }
        if let (Some(start), Some(end)) = (ch.after.start, ch.after.end) {
            ch.after.end = Some(end.max(start));
        }
    }
}

/// [`compare`] with the export's edges given (the strata share those of the whole export).
fn compare_within(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    window: Window,
    as_of_ms: i64,
    edges: edges::ExportEdges,
) -> Result<Comparisons> {
    let mut changes = changes(att, window)?;
    if changes.is_empty() {
        return Ok(Comparisons { changes, rows: Vec::new(), edges });
    }
    clip_to(&mut changes, edges.keep);
    let windows = WindowData::collect(att, cfg, queries, &changes, as_of_ms)?;
    let tests = Tests { z: z_two_sided(cfg.compare.alpha), alpha: cfg.compare.alpha, min_n: cfg.compare.min_n as u64 };
    let mut rows = Vec::new();
    for (c, ch) in changes.iter_mut().enumerate() {
        let sides = Sides { before: 2 * c as i64, after: 2 * c as i64 + 1 };
        ch.before_tickets = windows.values.count("tickets", sides.before);
        ch.after_tickets = windows.values.count("tickets", sides.after);
        let mut shared = windows.shared_caveats(sides);
        if edges.keep.start.is_some_and(|s| ch.change_date < s) {
            shared.push("the change falls in the export's first weeks, which are left out (see data quality)".into());
        }
        if edges.keep.end.is_some_and(|e| ch.change_date >= e) {
            shared.push("the change falls in the export's last weeks, which are left out (see data quality)".into());
        }
        for m in metrics::compared(queries) {
            let mut row = Comparison {
                change: c,
                metric: m.clone(),
                before_n: 0,
                before_value: windows.values.get(&m.name, sides.before),
                after_n: 0,
                after_value: windows.values.get(&m.name, sides.after),
                delta: None,
                ci: None,
                p_value: None,
                p_adjusted: None,
                verdict: Verdict::InsufficientData,
                test: String::new(),
                caveats: shared.clone(),
                method: Method::BeforeAfter,
                trend: None,
                controls: String::new(),
            };
            let need = match (m.kind, &m.rate) {
                (Kind::Proportion, _) => tests.proportion(&mut row, &windows.values, sides),
                (Kind::Duration, _) => tests.duration(&mut row, &windows.samples, sides),
                (Kind::Rate, Some(rate)) => tests.rate(&mut row, rate, queries, &windows.values, sides),
                // Counts and plain values are never compared (the query header says so).
                _ => tests.min_n,
            };
            if row.p_value.is_none() {
                let (n_b, n_a) = (row.before_n, row.after_n);
                if n_b < need || n_a < need {
                    let (side, n) = if n_b < need { ("before", n_b) } else { ("after", n_a) };
                    row.caveats.push(format!("only {n} {} {side} the change; at least {need} are needed", m.of));
                }
            }
            rows.push(row);
        }
    }
    crate::diag::trace("before/after tests done");
    // The samples are done with: the weekly series need the memory (handed back, as the next
    // allocations come from other threads).
    drop(windows);
    crate::diag::release_freed_memory();
    estimate_trends(att, cfg, queries, &changes, &mut rows, as_of_ms, edges.keep)?;
    adjust(&mut rows, cfg.compare.alpha);
    Ok(Comparisons { changes, rows, edges })
}

/// The comparisons repeated within each stratum of a ticket column (`priority`,
/// `assignment_group`): where an overall effect is only a change in the mix, the strata show it.
/// Audit findings and change requests are not per ticket and are left out of the strata. One
/// Benjamini–Hochberg family per metric across all strata.
pub fn compare_by(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    window: Window,
    as_of_ms: i64,
    column: &str,
) -> Result<Vec<(String, Comparisons)>> {
    let values = att.tickets.column(column)?.cast(&DataType::String)?;
    let mut strata: Vec<Option<String>> = values.str()?.iter().map(|v| v.map(str::to_string)).collect();
    strata.sort();
    strata.dedup();
    let empty = |df: &DataFrame| df.clear();
    let edges = edges::detect(&edges::desk_weeks(att, as_of_ms)?);
    let mut out = Vec::new();
    for stratum in strata {
        let mask = match &stratum {
            Some(v) => values.str()?.equal(v.as_str()),
            None => values.is_null(),
        };
        let sub = Attributed {
            timeline: att.timeline.clone(),
            processes: att.processes.clone(),
            tickets: att.tickets.filter(&mask)?,
            changes: empty(&att.changes),
            audits: empty(&att.audits),
            unattributed: Vec::new(),
        };
        let mut c = compare_within(&sub, cfg, queries, window, as_of_ms, edges.clone())?;
        for r in c.rows.iter_mut().filter(|r| decides(r)) {
            r.p_adjusted = None;
            r.verdict = Verdict::NoSignificantChange;
        }
        out.push((stratum.unwrap_or_else(|| "(none)".into()), c));
    }
    adjust(out.iter_mut().flat_map(|(_, c)| c.rows.iter_mut()), cfg.compare.alpha);
    Ok(out)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn change(process_id: u32, before: (Option<i64>, i64), after: (i64, Option<i64>)) -> Change {
        Change {
            sop_id: String::new(),
            process: String::new(),
            process_id,
            from_version: String::new(),
            to_version: String::new(),
            change_date: before.1,
            previous_from: None,
            replaced_at: None,
            before: Interval { start: before.0, end: Some(before.1) },
            after: Interval { start: Some(after.0), end: after.1 },
            before_tickets: 0,
            after_tickets: 0,
        }
    }

    /// Windows as `grp` columns: a record in two overlapping windows of a process (the window
    /// after one change, the window before the next) is placed in both, through two layers; one
    /// outside every window in none; other processes' windows never clash.
    #[test]
    fn overlapping_windows_go_to_layers_and_every_record_finds_its_windows() {
        let changes = [
            change(1, (Some(0), 100), (100, Some(200))),
            change(1, (Some(150), 250), (250, None)),
            change(2, (None, 100), (100, Some(300))),
        ];
        let layers = window_layers(&changes);
        assert_eq!(layers.len(), 2, "{layers:?}");
        let grps_of = |process: u32, at: i64| -> Vec<i64> {
            let p = UInt32Chunked::from_vec("p".into(), vec![process]);
            let t = Int64Chunked::from_vec("t".into(), vec![at]);
            let mut g: Vec<i64> = layers.iter().filter_map(|l| layer_grp(&p, &t, l, "g").get(0)).collect();
            g.sort();
            g
        };
        assert_eq!(grps_of(1, -5), Vec::<i64>::new(), "before the first window");
        assert_eq!(grps_of(1, 50), vec![0]);
        assert_eq!(grps_of(1, 100), vec![1], "the change day is after");
        assert_eq!(grps_of(1, 170), vec![1, 2], "after change 0 and before change 1");
        assert_eq!(grps_of(1, 220), vec![2]);
        assert_eq!(grps_of(1, 9_999), vec![3], "the last window is open");
        assert_eq!(grps_of(2, -9_999), vec![4]);
        assert_eq!(grps_of(2, 299), vec![5]);
        assert_eq!(grps_of(2, 300), Vec::<i64>::new());
        assert_eq!(grps_of(3, 50), Vec::<i64>::new(), "a process without changes");
    }

    /// Records in process and time order are cut into the same windows as by the filter, in the
    /// same order, with the same `grp` and pair keys that pair the same records; records out of
    /// order go to the filter.
    #[test]
    fn windows_cut_from_runs_are_those_of_the_filter() {
        let changes = [
            change(1, (Some(0), 100), (100, Some(200))),
            change(1, (Some(150), 250), (250, None)),
            change(2, (None, 100), (100, Some(300))),
            change(4, (Some(1_000), 2_000), (2_000, Some(3_000))),
        ];
        // processes 0-3 (3 without changes; 4 changed but without records), times with ties
        let mut rows: Vec<(u32, i64, i32)> = Vec::new();
        for p in 0..4u32 {
            for k in 0..60i64 {
                rows.push((p, -40 + k * 7 - (k % 3), (k % 5) as i32));
            }
            // on every window's edge, twice
            for (k, t) in [0i64, 100, 150, 200, 250, 300].into_iter().enumerate() {
                rows.extend([(p, t, k as i32), (p, t, 4)]);
            }
        }
        rows.sort();
        let frame = |rows: &[(u32, i64, i32)]| {
            let df = df!(
                "process_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                "attributed_at" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "priority" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )
            .unwrap();
            df.lazy()
                .with_column(col("attributed_at").cast(DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))))
                .collect()
                .unwrap()
        };
        let queries = vec![Query {
            path: "pairs.sql".into(),
            metrics: Vec::new(),
            definition: String::new(),
            unit: String::new(),
            better: metrics::Better::None,
            order: None,
            sql: "SELECT grp, COUNT(DISTINCT grp_priority) AS n FROM tickets GROUP BY grp".into(),
        }];
        // per layer: (grp, process, time, priority, pair key) of each record
        type Cut = Vec<Vec<(i32, u32, i64, i32, u64)>>;
        let cut = |layers: Vec<LazyFrame>| -> Cut {
            layers
                .into_iter()
                .map(|l| {
                    let df = l.collect().unwrap();
                    let g = df.column("grp").unwrap().i32().unwrap().clone();
                    let p = df.column("process_id").unwrap().u32().unwrap().clone();
                    let t = attributed_ms(&df).unwrap();
                    let x = df.column("priority").unwrap().i32().unwrap().clone();
                    let k = df.column("grp_priority").unwrap().cast(&DataType::UInt64).unwrap();
                    let k = k.u64().unwrap().clone();
                    (0..df.height())
                        .map(|i| {
                            (
                                g.get(i).unwrap(),
                                p.get(i).unwrap(),
                                t.get(i).unwrap(),
                                x.get(i).unwrap(),
                                k.get(i).unwrap(),
                            )
                        })
                        .collect()
                })
                .collect()
        };
        let sorted = frame(&rows);
        let runs = cut(windowed_in_runs(&sorted, &changes, &queries).unwrap().expect("in order"));
        let filtered = cut(windowed_by_filter(&sorted, &changes, &queries).unwrap());
        assert_eq!(runs.len(), filtered.len());
        for (a, b) in runs.iter().zip(&filtered) {
            assert!(!a.is_empty());
            // the same records in the same order with the same grp...
            let strip = |l: &[(i32, u32, i64, i32, u64)]| l.iter().map(|r| (r.0, r.1, r.2, r.3)).collect::<Vec<_>>();
            assert_eq!(strip(a), strip(b));
            // ...and keys that pair the same (grp, priority)
            for (i, r) in a.iter().enumerate() {
                for s in &a[i + 1..] {
                    assert_eq!(r.4 == s.4, (r.0, r.3) == (s.0, s.3), "{r:?} {s:?}");
                }
            }
        }
        // windows of processes without records: empty layers, as the filter's
        let empty = [change(4, (Some(1_000), 2_000), (2_000, None)), change(5, (None, 0), (0, None))];
        let runs = cut(windowed_in_runs(&sorted, &empty, &queries).unwrap().expect("in order"));
        let filtered = cut(windowed_by_filter(&sorted, &empty, &queries).unwrap());
        assert_eq!(runs, filtered);
        assert!(runs.iter().all(Vec::is_empty));
        let mut shuffled = rows.clone();
        shuffled.swap(3, 70);
        assert!(windowed_in_runs(&frame(&shuffled), &changes, &queries).unwrap().is_none());
    }

    #[test]
    fn hours_keep_the_state_in_the_sign() {
        assert_eq!(Hours::new(2.5, true).pair(), (2.5, true));
        assert_eq!(Hours::new(2.5, false).pair(), (2.5, false));
        // zero hours, open: -0 keeps it open
        assert_eq!(Hours::new(0.0, false).pair(), (0.0, false));
        assert_eq!(Hours::new(0.0, true).pair(), (0.0, true));
        // negative spans (clock skew) count as zero, as before
        assert_eq!(Hours::new(-1.0, false).pair(), (0.0, false));
        assert_eq!(Hours::new(-1.0, true).pair(), (0.0, true));
        assert_eq!(Hours::new(-0.0, true).pair(), (0.0, true));
        assert_eq!(Hours::new(f64::NAN, true).pair(), (0.0, true));
    }

    #[test]
    fn window_option() {
        assert_eq!(Window::parse("90"), Ok(Window::Days(90)));
        assert_eq!(Window::parse("ALL"), Ok(Window::All));
        assert!(Window::parse("0").is_err());
        assert!(Window::parse("soon").is_err());
    }
}
