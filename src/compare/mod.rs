//! Before/after comparisons for every SOP change: the windows either side of each
//! change, the metric values in each window (from the same SQL files as the metric tables), the
//! right test and interval per metric type, Benjamini–Hochberg across the run, and a verdict
//! that never claims more than the data supports.

pub mod edges;
mod series;
pub mod trend;

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::attribute::{attributed_ms, timestamp_ms, Attributed, NO_SOP};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, derive_change_columns, Better, Kind, Metric, Query, RateOf};
use crate::output::{cell, serialize_csv};
use crate::stats::{multiple, poisson, proportions, ranks, survival, z_two_sided};
pub use series::{log_scale, Weekly};
use sop_impact_parse::time::format_date;
pub use trend::{Estimate, Method};

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

fn intersect_start(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

fn intersect_end(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

/// The changes of every SOP and their windows. A change before the first record of the data
/// has nothing before it to compare and is left out.
pub fn changes(att: &Attributed, window: Window) -> Result<Vec<Change>> {
    let Some(first_ticket) = attributed_ms(&att.tickets)?.min() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let rows = &att.timeline;
    for (k, next) in rows.iter().enumerate().skip(1) {
        let prev = &rows[k - 1];
        if prev.sop_id != next.sop_id || next.sop_id.is_empty() || next.version == NO_SOP {
            continue;
        }
        let Some(change_date) = next.effective_from else { continue };
        if change_date <= first_ticket {
            continue;
        }
        let (before_start, after_end) = match window {
            Window::All => (prev.effective_from, next.effective_to),
            Window::Days(d) => {
                let span = d as i64 * DAY_MS;
                (
                    intersect_start(Some(change_date - span), prev.effective_from),
                    intersect_end(Some(change_date + span), next.effective_to),
                )
            }
        };
        let before = Interval { start: before_start, end: Some(change_date) };
        let after = Interval { start: Some(change_date), end: after_end };
        out.push(Change {
            sop_id: next.sop_id.clone(),
            process: next.process.clone(),
            process_id: next.process_id,
            from_version: prev.version.clone(),
            to_version: next.version.clone(),
            change_date,
            previous_from: prev.effective_from,
            replaced_at: next.effective_to,
            before,
            after,
            before_tickets: 0,
            after_tickets: 0,
        });
    }
    Ok(out)
}

/// The ticket columns the windows need: the ones any query names, and the ones the windows and
/// the duration samples read. The windowed copy of a large table then holds a few columns, not
/// all of them.
fn columns_read(tickets: &DataFrame, queries: &[Query]) -> Vec<Expr> {
    tickets
        .get_column_names()
        .into_iter()
        .filter(|n| READ_BY_COMPARISONS.contains(&n.as_str()) || metrics::reads_column(queries, n.as_str()))
        .map(|n| col(n.clone()))
        .collect()
}

/// The ticket columns the comparisons, the weekly series and the backlog read themselves,
/// whatever the queries.
pub(crate) const READ_BY_COMPARISONS: &[&str] =
    &["process_id", "attributed_at", "opened_at", "is_resolved", "resolution_hours", "priority"];

/// The records of `process_id` attributed within `window`.
pub fn in_window(process_id: u32, window: Interval) -> Expr {
    let mut pred = col("process_id").eq(lit(process_id));
    let t = col("attributed_at").dt().timestamp(TimeUnit::Milliseconds);
    if let Some(s) = window.start {
        pred = pred.and(t.clone().gt_eq(lit(s)));
    }
    if let Some(e) = window.end {
        pred = pred.and(t.lt(lit(e)));
    }
    pred
}

/// One comparison window: its `grp` (2·change before, 2·change + 1 after), process and span.
#[derive(Debug, Clone, Copy)]
struct CutWindow {
    grp: i64,
    process_id: u32,
    span: Interval,
}

fn overlap(a: Interval, b: Interval) -> bool {
    let before = |start: Option<i64>, end: Option<i64>| start.zip(end).is_none_or(|(s, e)| s < e);
    before(a.start, b.end) && before(b.start, a.end)
}

/// The windows' spans of one layer, by process.
type SpansByProcess = HashMap<u32, Vec<Interval>>;

/// The windows of every change in layers: within a layer no two windows of a process overlap,
/// so one `grp` column per layer places every record of the layer's windows. A record in two
/// overlapping windows (the after-window of one change and the before-window of the next) is in
/// two layers; there are rarely more than two, whatever the number of changes.
fn window_layers(changes: &[Change]) -> Vec<Vec<CutWindow>> {
    // each layer with its windows' spans by process: a window is checked against its own
    // process's windows only (against all of the layer's, 20,000 changes took minutes)
    let mut layers: Vec<(Vec<CutWindow>, SpansByProcess)> = Vec::new();
    for (c, ch) in changes.iter().enumerate() {
        for (grp, span) in [(2 * c as i64, ch.before), (2 * c as i64 + 1, ch.after)] {
            let w = CutWindow { grp, process_id: ch.process_id, span };
            let free = |spans: &SpansByProcess| {
                spans.get(&w.process_id).is_none_or(|taken| !taken.iter().any(|o| overlap(*o, w.span)))
            };
            match layers.iter_mut().find(|(_, spans)| free(spans)) {
                Some((layer, spans)) => {
                    layer.push(w);
                    spans.entry(w.process_id).or_default().push(w.span);
                }
                None => layers.push((vec![w], HashMap::from([(w.process_id, vec![w.span])]))),
            }
        }
    }
    layers.into_iter().map(|(layer, _)| layer).collect()
}

/// The `grp` of every record in one layer's windows (null outside them): per record, a binary
/// search among its process's windows in the layer, which do not overlap.
fn layer_grp(process: &UInt32Chunked, at: &Int64Chunked, layer: &[CutWindow], name: &str) -> Int64Chunked {
    // by process id (dense), not hashed: one lookup per record and layer
    let processes = layer.iter().map(|w| w.process_id as usize + 1).max().unwrap_or(0);
    let mut by_process: Vec<Vec<CutWindow>> = vec![Vec::new(); processes];
    for w in layer {
        if let Some(windows) = by_process.get_mut(w.process_id as usize) {
            windows.push(*w);
        }
    }
    for windows in &mut by_process {
        windows.sort_by_key(|w| w.span.start.unwrap_or(i64::MIN));
    }
    let grp = process.iter().zip(at.iter()).map(|(p, t)| {
        let (windows, t) = (by_process.get(p? as usize)?, t?);
        let after_start = windows.partition_point(|w| w.span.start.is_none_or(|s| s <= t));
        let w = windows.get(after_start.checked_sub(1)?)?;
        w.span.end.is_none_or(|e| t < e).then_some(w.grp)
    });
    Int64Chunked::from_iter_options(name.into(), grp)
}

/// The records of every window with its `grp`, a record once per window it is in (and the
/// `grp_X` pair keys the queries name, see `metrics::pair_key`). The table is not copied: each
/// layer of windows is a `grp` column and a filter, which the queries apply as they read (the
/// copies of the windowed records cost 800 MB next to a 10M-ticket table).
fn windowed(df: &DataFrame, changes: &[Change], queries: &[Query]) -> Result<Vec<LazyFrame>> {
    match windowed_in_runs(df, changes, queries)? {
        Some(layers) => Ok(layers),
        None => windowed_by_filter(df, changes, queries),
    }
}

/// [`windowed`] for records in any order: per layer a `grp` column over the whole table and a
/// filter on it.
fn windowed_by_filter(df: &DataFrame, changes: &[Change], queries: &[Query]) -> Result<Vec<LazyFrame>> {
    let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
    let process = process.u32()?;
    let attributed = attributed_ms(df)?;
    let layers = window_layers(changes);
    let paired = metrics::paired_columns(df, queries);
    let names: Vec<Expr> = df.get_column_names().into_iter().map(|n| col(n.clone())).collect();
    let mut with_grps = df.clone();
    for (k, layer) in layers.iter().enumerate() {
        let grp = layer_grp(process, &attributed, layer, &format!("grp_{k}"));
        for x in &paired {
            let values = df.column(x)?;
            let key = window_pair_key(&grp.clone().into_column(), values, &format!("grp_{x}_{k}"), changes)?;
            with_grps.with_column(key)?;
        }
        // a window's grp is small: held as 32 bits, each layer's column is half the size
        with_grps.with_column(grp.into_column().cast(&DataType::Int32)?)?;
    }
    let all = with_grps.lazy();
    let parts: Vec<LazyFrame> = (0..layers.len())
        .map(|k| {
            let grp = format!("grp_{k}");
            let pair_keys = paired.iter().map(|x| col(format!("grp_{x}_{k}")).alias(format!("grp_{x}")));
            let columns: Vec<Expr> = names
                .iter()
                .cloned()
                // kept at 32 bits through the queries' filtered copies (their results are 64-bit)
                .chain([col(grp.as_str()).alias("grp")])
                .chain(pair_keys)
                .collect();
            all.clone().filter(col(grp.as_str()).is_not_null()).select(columns)
        })
        .collect();
    if parts.is_empty() {
        let pair_keys = paired.iter().map(|x| lit(0u64).alias(format!("grp_{x}")));
        return Ok(vec![all
            .filter(lit(false))
            .select(names.into_iter().chain([lit(0i32).alias("grp")]).chain(pair_keys).collect::<Vec<_>>())]);
    }
    Ok(parts)
}

/// As [`windowed`], for records in process and time order (the tickets): each window is then a
/// run of rows, found by binary search, and a layer is its windows' runs put one after the
/// other (slices of the table, not a copy), each with its `grp`. The queries then read the
/// windows' records only, where a filter read every record once per query and layer. None when
/// the records are not in that order (checked, never assumed).
fn windowed_in_runs(df: &DataFrame, changes: &[Change], queries: &[Query]) -> Result<Option<Vec<LazyFrame>>> {
    let layers = window_layers(changes);
    if layers.is_empty() || df.height() == 0 {
        return Ok(None);
    }
    let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
    let process = process.u32()?.rechunk();
    let attributed = attributed_ms(df)?;
    let attributed = attributed.rechunk();
    let (Ok(process), Ok(times)) = (process.cont_slice(), attributed.cont_slice()) else {
        return Ok(None);
    };
    let in_order = process.windows(2).zip(times.windows(2)).all(|(p, t)| p[0] < p[1] || (p[0] == p[1] && t[0] <= t[1]));
    if !in_order {
        return Ok(None);
    }
    let paired = metrics::paired_columns(df, queries);
    let mut parts = Vec::with_capacity(layers.len());
    for layer in &layers {
        // (first row, rows, grp) of each window, in the table's order
        let mut runs: Vec<(usize, usize, i64)> = Vec::with_capacity(layer.len());
        for w in layer {
            let first = process.partition_point(|&p| p < w.process_id);
            let end = process.partition_point(|&p| p <= w.process_id);
            let of_process = times.get(first..end).unwrap_or_default();
            let from = first + w.span.start.map_or(0, |s| of_process.partition_point(|&t| t < s));
            let to = first + w.span.end.map_or(of_process.len(), |e| of_process.partition_point(|&t| t < e));
            if to > from {
                runs.push((from, to - from, w.grp));
            }
        }
        runs.sort_unstable();
        // a window's grp is small: held as 32 bits
        let with_grp = |from: usize, rows: usize, grp: i64| -> Result<DataFrame> {
            let mut run = df.slice(from as i64, rows);
            run.with_column(Int32Chunked::full("grp".into(), grp as i32, rows).into_column())?;
            Ok(run)
        };
        // (a layer whose windows hold no record is the table's columns without rows)
        let mut frame = with_grp(0, 0, 0)?;
        for (from, rows, grp) in runs {
            frame.vstack_mut_owned(with_grp(from, rows, grp)?)?;
        }
        for x in &paired {
            let (grp, values) = (frame.column("grp"), frame.column(x));
            let key = window_pair_key(grp?, values?, &format!("grp_{x}"), changes)?;
            frame.with_column(key)?;
        }
        parts.push(frame.lazy());
    }
    Ok(Some(parts))
}

/// `grp_X` of a window `grp` and a column: packed against the range of every window's grp (two
/// per change), so that keys of different layers never meet.
fn window_pair_key(grp: &Column, values: &Column, name: &str, changes: &[Change]) -> Result<Column> {
    metrics::pair_key(grp, values, name, Some((0, 2 * changes.len() as i64)))
}

/// The layers of windows as one table.
fn stacked(layers: Vec<LazyFrame>) -> Result<LazyFrame> {
    Ok(concat(layers, UnionArgs::default())?)
}

struct WindowValues {
    /// metric → grp → value
    values: HashMap<String, HashMap<i64, f64>>,
}

impl WindowValues {
    fn get(&self, metric: &str, grp: i64) -> Option<f64> {
        self.values.get(metric).and_then(|m| m.get(&grp)).copied()
    }

    fn count(&self, metric: &str, grp: i64) -> u64 {
        self.get(metric, grp).map_or(0, |v| v.round() as u64)
    }
}

fn collect_values(df: &DataFrame) -> Result<WindowValues> {
    Ok(WindowValues { values: metrics::values_by_grp(df)? })
}

/// Per window: the hours of its tickets (see `Hours`) and ticket counts per priority.
struct Samples {
    durations: PlHashMap<i64, Vec<Hours>>,
    priorities: PlHashMap<i64, [u64; 6]>,
}

/// A resolved ticket's hours to resolve, or an open one's hours so far, in 8 bytes: the sign
/// says which (negative, -0 included, for open). As (hours, resolved) pairs the windows' samples
/// took 16 bytes a ticket, 0.2 GB at 10M tickets.
#[derive(Debug, Clone, Copy)]
struct Hours(f64);

impl Hours {
    /// `hours` at least 0.
    fn new(hours: f64, resolved: bool) -> Hours {
        // not f64::max: it may keep a -0, which would read as open
        let hours = if hours > 0.0 { hours } else { 0.0 };
        Hours(if resolved { hours } else { -hours })
    }

    fn resolved(self) -> bool {
        self.0.is_sign_positive()
    }

    /// (hours, resolved), as the survival statistics take them.
    fn pair(self) -> (f64, bool) {
        (self.0.abs(), self.resolved())
    }
}

/// A resolved ticket's hours to resolve, an open one's hours open until `as_of_ms` (its
/// censoring time); none without the times to tell. Row by row, not as a column of hours: at 10M
/// tickets such a column was 80 MB more at the peak.
fn hours_or_open_so_far(
    resolved: Option<bool>,
    resolution_hours: Option<f64>,
    opened_ms: Option<i64>,
    as_of_ms: i64,
) -> Option<Hours> {
    let resolved = resolved.unwrap_or(false);
    let hours = if resolved { resolution_hours? } else { (as_of_ms - opened_ms?) as f64 / 3_600_000.0 };
    Some(Hours::new(hours, resolved))
}

/// The samples of every window, one layer of windows at a time (a window lies in one layer),
/// each window's durations allocated at their final size: at 10M tickets, all layers at once
/// and vectors grown by doubling held 0.25 GB more.
fn collect_samples(layers: &[LazyFrame], as_of_ms: i64) -> Result<Samples> {
    // looked up once per record or more: a fast hash, not the default's DoS-resistant one
    let mut durations: PlHashMap<i64, Vec<Hours>> = PlHashMap::new();
    let mut priorities: PlHashMap<i64, [u64; 6]> = PlHashMap::new();
    for layer in layers {
        let df = layer
            .clone()
            .select([
                col("grp").cast(DataType::Int64),
                col("is_resolved"),
                col("resolution_hours"),
                col("opened_at"),
                col("priority"),
            ])
            .collect()?;
        let grp = df.column("grp")?.i64()?;
        let resolved = df.column("is_resolved")?.bool()?;
        let resolution = df.column("resolution_hours")?.f64()?;
        let opened = timestamp_ms(&df, "opened_at")?;
        let prio = df.column("priority")?.i32()?;
        let hours = || {
            resolved
                .iter()
                .zip(resolution.iter())
                .zip(opened.iter())
                .map(|((r, h), o)| hours_or_open_so_far(r, h, o, as_of_ms))
        };
        let mut sizes: PlHashMap<i64, usize> = PlHashMap::new();
        for (g, h) in grp.iter().zip(hours()) {
            if let (Some(g), Some(_)) = (g, h) {
                *sizes.entry(g).or_default() += 1;
            }
        }
        for (g, n) in sizes {
            durations.entry(g).or_default().reserve_exact(n);
        }
        for ((g, h), p) in grp.iter().zip(hours()).zip(prio.iter()) {
            let Some(g) = g else { continue };
            if let Some(h) = h {
                durations.entry(g).or_default().push(h);
            }
            priorities.entry(g).or_insert([0; 6])[p.unwrap_or(0).clamp(0, 5) as usize] += 1;
        }
    }
    Ok(Samples { durations, priorities })
}

/// Pearson χ² test of the priority mix before vs after (ignoring priorities neither side has).
fn mix_p(before: &[u64; 6], after: &[u64; 6]) -> Option<f64> {
    let cols: Vec<(f64, f64)> =
        (0..6).map(|k| (before[k] as f64, after[k] as f64)).filter(|(a, b)| a + b > 0.0).collect();
    if cols.len() < 2 {
        return None;
    }
    let (nb, na): (f64, f64) = (cols.iter().map(|c| c.0).sum(), cols.iter().map(|c| c.1).sum());
    if nb == 0.0 || na == 0.0 {
        return None;
    }
    let total = nb + na;
    let mut chi2 = 0.0;
    for (b, a) in &cols {
        let col_total = b + a;
        for (obs, row) in [(*b, nb), (*a, na)] {
            let e = row * col_total / total;
            chi2 += (obs - e).powi(2) / e;
        }
    }
    ChiSquared::new((cols.len() - 1) as f64).ok().map(|d| d.sf(chi2))
}

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

/// The trend-aware estimate of every row that has enough weeks for one (the rest keep the
/// direct comparison of their windows): its p-value replaces the windows' one.
fn estimate_trends(
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
fn trend_test(metric: &Metric, est: &Estimate) -> String {
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

/// The `grp` of a change's before and after windows.
#[derive(Debug, Clone, Copy)]
struct Sides {
    before: i64,
    after: i64,
}

/// What the windows of every change hold: the query results, the samples of tickets and the
/// change requests in them.
struct WindowData {
    values: WindowValues,
    samples: Samples,
    /// grp → change requests in that window
    change_counts: HashMap<i64, u64>,
}

impl WindowData {
    fn collect(att: &Attributed, cfg: &Config, queries: &[Query], changes: &[Change], as_of_ms: i64) -> Result<Self> {
        // The windows' values of the other metrics are never read (measured at 10M tickets:
        // analyst_cv.sql on the windows peaked at 1.65 GB).
        let queries = &metrics::feeding_comparisons(queries);
        // The windowed tables feed both the SQL and the samples: build each once.
        // The windows of the tickets are views of the table (a `grp` column per layer of
        // windows, filtered as read); change requests and audit findings are few.
        let read = att.tickets.clone().lazy().select(columns_read(&att.tickets, queries)).collect();
        let ticket_layers = windowed(&read?, changes, queries)?;
        let change_records = derive_change_columns(&att.changes, cfg).collect()?;
        let change_layers = windowed(&change_records, changes, &[])?;
        let audit_layers = windowed(&att.audits, changes, &[])?;
        let change_records = stacked(change_layers.clone())?;
        crate::diag::trace("comparison windows cut");
        // A window lies in one layer: the queries run layer by layer, each on a filtered copy
        // of its layer's records only (measured at 10M tickets: all layers at once peaked at
        // 1.51 GB in error_rate.sql).
        let parts = ticket_layers.iter().cloned().zip(change_layers).zip(audit_layers).map(|((t, c), a)| (t, c, a));
        let values = collect_values(&metrics::run_queries_in_parts(queries, cfg, parts.collect())?)?;
        crate::diag::trace("window queries run");
        let samples = collect_samples(&ticket_layers, as_of_ms)?;
        crate::diag::trace("comparison samples collected");
        let change_counts = change_records
            .select([col("grp").cast(DataType::Int64)])
            .collect()?
            .column("grp")?
            .i64()?
            .iter()
            .flatten()
            .fold(HashMap::<i64, u64>::new(), |mut m, g| {
                *m.entry(g).or_default() += 1;
                m
            });
        Ok(WindowData { values, samples, change_counts })
    }

    /// Caveats that concern every metric of a change: a shift in the priority mix, change
    /// requests on the process during the windows.
    fn shared_caveats(&self, sides: Sides) -> Vec<String> {
        let mut shared = Vec::new();
        let empty = [0u64; 6];
        let priorities = |g: i64| self.samples.priorities.get(&g).unwrap_or(&empty);
        if let Some(p) = mix_p(priorities(sides.before), priorities(sides.after)) {
            if p < 0.01 {
                shared.push(format!("priority mix changed (chi-square p = {p:.2e}); compare per priority"));
            }
        }
        let count = |g: i64| self.change_counts.get(&g).copied().unwrap_or(0);
        let concurrent = count(sides.before) + count(sides.after);
        if concurrent > 0 {
            shared.push(format!("{concurrent} change request(s) on this process during the windows"));
        }
        shared
    }
}

/// The test settings of a run; each test fills a row and returns the records it needs a side.
struct Tests {
    z: f64,
    alpha: f64,
    min_n: u64,
}

impl Tests {
    /// Two proportions: the two-proportion test (Fisher's when counts are small) with Newcombe's
    /// interval for the difference.
    fn proportion(&self, row: &mut Comparison, values: &WindowValues, sides: Sides) -> u64 {
        let n = &row.metric.n;
        let (nb, na) = (values.count(n, sides.before), values.count(n, sides.after));
        row.before_n = nb;
        row.after_n = na;
        if nb >= self.min_n && na >= self.min_n {
            let xb = (row.before_value.unwrap_or(0.0) * nb as f64).round() as u64;
            let xa = (row.after_value.unwrap_or(0.0) * na as f64).round() as u64;
            let (test, p) = proportions::two_proportion_p(xa, na, xb, nb);
            row.delta = Some(xa as f64 / na as f64 - xb as f64 / nb as f64);
            row.ci = Some(proportions::newcombe(xa, na, xb, nb, self.z));
            row.p_value = Some(p);
            row.test = test.name().to_string();
        }
        self.min_n
    }

    /// Durations: Mann–Whitney U with the Hodges–Lehmann shift, on the resolved tickets; open
    /// tickets are counted and, where many, compared by Kaplan–Meier medians and the log-rank test.
    fn duration(&self, row: &mut Comparison, samples: &Samples, sides: Sides) -> u64 {
        let side = |g: i64| samples.durations.get(&g).map_or(&[][..], Vec::as_slice);
        let (sb, sa) = (side(sides.before), side(sides.after));
        let resolved = |s: &[Hours]| s.iter().filter(|h| h.resolved()).map(|h| h.0).collect::<Vec<f64>>();
        let (rb, ra) = (resolved(sb), resolved(sa));
        row.before_n = rb.len() as u64;
        row.after_n = ra.len() as u64;
        let (ob, oa) = (sb.len() - rb.len(), sa.len() - ra.len());
        if ob + oa > 0 {
            let share = |o: usize, n: usize| if n == 0 { 0.0 } else { o as f64 / n as f64 };
            let mut note = format!("{ob} open before, {oa} open after (not in the medians)");
            if share(ob, sb.len()) > 0.1 || share(oa, sa.len()) > 0.1 {
                // as (hours, resolved) pairs only here: for the largest windows a copy of both
                // sides at 16 bytes a ticket
                let pairs = |s: &[Hours]| s.iter().map(|h| h.pair()).collect::<Vec<(f64, bool)>>();
                let (sb, sa) = (pairs(sb), pairs(sa));
                let km =
                    |s: &[(f64, bool)]| survival::km_median(s).map_or("not reached".into(), |m| format!("{m:.2} h"));
                let lr =
                    survival::log_rank(&sa, &sb).map(|(_, p)| format!(", log-rank p = {p:.3}")).unwrap_or_default();
                note.push_str(&format!(
                    "; over 10% open, so resolved-only medians favour the later window: Kaplan-Meier medians {} before, {} after{lr}",
                    km(&sb),
                    km(&sa)
                ));
            }
            row.caveats.push(note);
        }
        if rb.len() as u64 >= self.min_n && ra.len() as u64 >= self.min_n {
            if let (Some(mw), Some((shift, ci))) =
                (ranks::mann_whitney(&ra, &rb), ranks::hodges_lehmann(&rb, &ra, self.z))
            {
                row.delta = Some(shift);
                row.ci = ci;
                row.p_value = Some(mw.p);
                row.test = "Mann-Whitney U; delta is the Hodges-Lehmann shift".into();
            }
        }
        self.min_n
    }

    /// Events per exposure: the exact conditional Poisson test, with at least 100 of exposure a side.
    fn rate(&self, row: &mut Comparison, rate: &RateOf, queries: &[Query], values: &WindowValues, sides: Sides) -> u64 {
        let need = self.min_n.max(100);
        let (tb, ta) = (values.count(&rate.exposure, sides.before), values.count(&rate.exposure, sides.after));
        let (yb, ya) = (values.count(&rate.events, sides.before), values.count(&rate.events, sides.after));
        row.before_n = tb;
        row.after_n = ta;
        if tb >= need && ta >= need {
            let attainable = poisson::attainable_p(ya + yb, ta as f64, tb as f64);
            match poisson::exact_rate_ratio(ya, ta as f64, yb, tb as f64, self.alpha) {
                Some(r) if attainable < self.alpha => {
                    let before_rate = rate.per * yb as f64 / tb as f64;
                    row.delta = Some(rate.per * ya as f64 / ta as f64 - before_rate);
                    // The rate-ratio interval, expressed as after − before at the before rate.
                    row.ci = Some(((r.ci.0 - 1.0) * before_rate, (r.ci.1 - 1.0) * before_rate));
                    row.p_value = Some(r.p);
                    row.test = format!("exact conditional Poisson test (rate ratio {:.3})", r.ratio);
                }
                _ => row.caveats.push(format!(
                    "{} {} in both windows: too few for any split to be significant",
                    ya + yb,
                    metrics::metric(queries, &rate.events).map_or(rate.events.as_str(), |e| e.of.as_str())
                )),
            }
        }
        need
    }
}

/// Whether a row's estimate can decide a verdict: a counterfactual from processes to compare
/// with, calibrated by enough placebos. The plain before/after test never decides: an export's
/// warm-up, a trend or a season moves it as much as an SOP would.
fn decides(row: &Comparison) -> bool {
    row.trend.as_ref().is_some_and(|t| !t.controls.is_empty() && t.placebos >= trend::MIN_CALIBRATING_PLACEBOS)
}

/// Why a row with a test has no verdict.
fn undecided_reason(row: &Comparison) -> Option<String> {
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
/// A family per metric because a procedure moves some metrics and not others: the rows of the
/// metrics it left alone, in one family with the rest, made q of a real cut ten times its p.
fn adjust<'a>(rows: impl IntoIterator<Item = &'a mut Comparison>, alpha: f64) {
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
fn verdict(row: &Comparison, q: f64, alpha: f64) -> Verdict {
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

fn fmt_opt(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(crate::tables::format_float).unwrap_or_default()
}

fn fmt_time(ms: Option<i64>) -> String {
    ms.map(sop_impact_parse::time::format_utc).unwrap_or_default()
}

/// The columns of comparisons.csv (docs/outputs.md): the comparison, then `test` and `caveats`.
const COMPARISON_COLUMNS: [&str; 29] = [
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
struct ComparisonRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    stratum: Option<String>,
    sop_id: String,
    process: String,
    from_version: String,
    to_version: String,
    change_date: String,
    metric: String,
    before_n: u64,
    before_value: String,
    after_n: u64,
    after_value: String,
    delta: String,
    ci_low: String,
    ci_high: String,
    p_value: String,
    p_adjusted: String,
    verdict: &'static str,
    test: String,
    caveats: String,
    method: String,
    level_change: String,
    level_ci_low: String,
    level_ci_high: String,
    slope_change: String,
    counterfactual_after: String,
    placebo_p: String,
    controls: String,
    average_effect: String,
    average_ci_low: String,
    average_ci_high: String,
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
    fn of(c: &Comparisons, r: &Comparison, stratum: Option<String>) -> Self {
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
struct WindowRow {
    sop_id: String,
    process: String,
    from_version: String,
    to_version: String,
    change_date: String,
    before_start: String,
    before_end: String,
    after_start: String,
    after_end: String,
    before_tickets: u64,
    after_tickets: u64,
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

    /// A 2×3 table worked by hand: before [30, 60, 10], after [10, 60, 30]; expected counts
    /// 20/60/20 each side, χ² = 4·(10²/20) = 20 on 2 df, p = e^(−10) = 4.54e-5.
    #[test]
    fn priority_mix_chi_square() {
        let p = mix_p(&[0, 30, 60, 10, 0, 0], &[0, 10, 60, 30, 0, 0]).unwrap();
        assert!((p - (-10f64).exp()).abs() < 1e-12, "{p}");
        assert!(mix_p(&[0, 5, 0, 0, 0, 0], &[0, 7, 0, 0, 0, 0]).is_none(), "one priority: nothing to compare");
    }
}
