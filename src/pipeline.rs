//! The whole analysis in order — validate → attribute → metrics → compare — shared by the
//! `metrics` and `report` commands, with progress on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use chrono_tz::Tz;
use polars::prelude::ChunkAgg;

use crate::attribute::{self, Attributed};
use crate::cli::{AnalysisArgs, AttributeBy, InputArgs, Period};
use crate::compare::{self, Comparisons, Window};
use crate::config::Config;
use crate::error::{polars_internal, Error, Result};
use crate::metrics::{self, MetricTables, Query};
use crate::validate::{self, Dataset, InputPaths, LoadOptions};
use sop_impact_parse::time as timeparse;

/// Everything one analysis produced.
pub struct Analysis {
    pub paths: InputPaths,
    pub opts: LoadOptions,
    pub config: Config,
    pub queries: Vec<Query>,
    pub period: Period,
    pub window: Window,
    /// which timestamp places a ticket in an SOP version
    pub attribute_by: AttributeBy,
    /// "today" in UTC ms
    pub as_of_ms: i64,
    /// whether --as-of fixed it
    pub as_of_given: bool,
    pub data: Dataset,
    pub attributed: Attributed,
    pub tables: MetricTables,
    pub comparisons: Comparisons,
    /// with --by: the column and the comparisons within each of its values
    pub strata: Option<(&'static str, Vec<(String, Comparisons)>)>,
}

/// Steps of a long run, shown as a spinner on a terminal (never when piped or --quiet).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// `SOP_IMPACT_TIMINGS=1`: the wall time of every step on stderr (for bench/ and profiling)
    timings: Option<std::cell::RefCell<(String, std::time::Instant)>>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let show = !quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let timings =
            timings_enabled().then(|| std::cell::RefCell::new((String::from("start-up"), std::time::Instant::now())));
        Progress { bar, timings }
    }

    pub fn step(&self, what: &str) {
        self.lap(what);
        if let Some(b) = &self.bar {
            b.set_message(what.to_string());
        }
    }

    /// Print how long the previous step took and start timing `next`.
    fn lap(&self, next: &str) {
        release_freed_memory();
        if let Some(t) = &self.timings {
            let mut t = t.borrow_mut();
            eprintln!("timing: {:>8.3} s  {:<50} {}", t.1.elapsed().as_secs_f64(), t.0, memory());
            *t = (next.to_string(), std::time::Instant::now());
        }
    }

    pub fn finish(&self) {
        self.lap("");
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Hand memory freed by the last step back to the operating system. The allocator keeps freed
/// pages for reuse, which is right within a step but holds a large run's intermediate tables
/// (blocks of the ticket table, query results) as resident memory long after they are gone.
pub fn release_freed_memory() {
    // SAFETY: mi_collect only returns pages that hold no live allocation.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// `SOP_IMPACT_TIMINGS=1`: wall time and memory of the steps on stderr (bench/ and profiling).
fn timings_enabled() -> bool {
    std::env::var_os("SOP_IMPACT_TIMINGS").is_some_and(|v| v == "1")
}

/// With `SOP_IMPACT_TIMINGS=1`: the memory at a point within a step.
pub fn trace(what: &str) {
    if timings_enabled() {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let t = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64();
        eprintln!("memory: {t:>8.3} s {what}: {}", memory());
    }
}

/// Resident and peak memory of this process (Linux), for the timings.
pub fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => format!("RSS {} MB, peak {} MB", rss / 1024, peak / 1024),
        _ => String::new(),
    }
}

pub fn analyse(inputs: &InputArgs, analysis: &AnalysisArgs, progress: &Progress) -> Result<Analysis> {
    let (paths, opts) = crate::resolve_inputs(inputs)?;
    let mut config = Config::load(analysis.config.as_deref())?;
    config.metrics.low_memory |= analysis.low_memory;
    let period = resolve_period(analysis, &config);
    let window = resolve_window(analysis, &config)?;
    let queries = metrics::load_queries(metrics::query_dir(analysis.queries.as_deref()).as_deref())?;
    progress.step("reading and validating inputs");
    let data = validate::load(&paths, &opts)?;
    let as_of_ms = as_of_ms(inputs, opts.tz, &data)?;
    progress.step("attributing records to SOP versions");
    let mut attributed = attribute::attribute(&data, analysis.attribute_by)?;
    attributed.tickets =
        metrics::derive_ticket_columns(&attributed.tickets, &config).collect().map_err(polars_internal)?;
    if timings_enabled() {
        for c in attributed.tickets.columns() {
            let mb = c.as_materialized_series().estimated_size() / (1 << 20);
            eprintln!("column: {:<20} {:>6} MB  {}", c.name(), mb, c.dtype());
        }
    }
    progress.step("computing metrics");
    let tables = metrics::compute(&attributed, &config, &queries, period, opts.tz)?;
    progress.step("comparing before and after each SOP change");
    let comparisons = compare::compare(&attributed, &config, &queries, window, as_of_ms)?;
    let strata = match analysis.by {
        Some(by) => {
            progress.step("comparing within each stratum");
            let column = by.column();
            Some((column, compare::compare_by(&attributed, &config, &queries, window, as_of_ms, column)?))
        }
        None => None,
    };
    Ok(Analysis {
        paths,
        opts,
        config,
        queries,
        period,
        window,
        attribute_by: analysis.attribute_by,
        as_of_ms,
        as_of_given: inputs.as_of.is_some(),
        data,
        attributed,
        tables,
        comparisons,
        strata,
    })
}

/// The command line's --window, else the config's window_days.
fn resolve_window(analysis: &AnalysisArgs, config: &Config) -> Result<Window> {
    match &analysis.window {
        Some(w) => Window::parse(w).map_err(Error::Usage),
        None => Ok(Window::Days(config.compare.window_days.max(1))),
    }
}

/// The command line's --period wins over the config's.
fn resolve_period(analysis: &AnalysisArgs, config: &Config) -> Period {
    match (analysis.period, config.metrics.period.as_str()) {
        (Some(p), _) => p,
        (None, "week") => Period::Week,
        (None, "quarter") => Period::Quarter,
        _ => Period::Month,
    }
}

/// "Today" in UTC ms: the start of the day after --as-of in the run's time zone, else the
/// latest timestamp in the tickets (so that runs on the same data agree).
fn as_of_ms(inputs: &InputArgs, tz: Tz, data: &Dataset) -> Result<i64> {
    if let Some(d) = &inputs.as_of {
        let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--as-of '{d}' is not a date: use YYYY-MM-DD")))?;
        let next = date.succ_opt().unwrap_or(date);
        return timeparse::parse_timestamp(&next.to_string(), None, tz).map_err(Error::Usage);
    }
    let mut latest = i64::MIN;
    for c in ["opened_at", "resolved_at", "closed_at"] {
        let ca =
            data.tickets.column(c).map_err(polars_internal)?.datetime().map_err(polars_internal)?.physical().clone();
        if let Some(m) = ca.max() {
            latest = latest.max(m);
        }
    }
    Ok(latest)
}
