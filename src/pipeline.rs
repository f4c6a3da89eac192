//! The whole analysis in order — validate → attribute → metrics → compare — shared by every
//! analysing command, with progress on a terminal. Its inputs are plain structs: the command
//! line (or any other caller) resolves into [`InputRequest`] and [`AnalysisOptions`].

use std::io::IsTerminal;
use std::time::Duration;

use chrono_tz::Tz;
use polars::prelude::{ChunkAgg, DataFrame, PlSmallStr};

use std::path::PathBuf;

use chrono::NaiveDate;
use sop_impact_parse::time::DateOrder;

use crate::attribute::{self, AttributeBy, Attributed};
use crate::compare::{self, Comparisons, Stratify, Window};
use crate::config::Config;
use crate::diag;
use crate::error::{Error, Result};
use crate::ingest::profile::Profile;
use crate::metrics::{self, MetricTables, Query};
use crate::period::Period;
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
    /// with --by: the comparisons within each value of a ticket column
    pub strata: Option<Strata>,
}

/// Comparisons within each value of a ticket column.
pub struct Strata {
    pub column: &'static str,
    /// (value, its comparisons), in value order
    pub within: Vec<(String, Comparisons)>,
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct InputRequest {
    pub tickets: Vec<PathBuf>,
    pub sops: Option<PathBuf>,
    pub changes: Option<PathBuf>,
    pub audits: Option<PathBuf>,
    pub profile: Profile,
    /// IANA name of the zone of timestamps without an offset
    pub timezone: String,
    pub date_order: Option<DateOrder>,
    /// "today", YYYY-MM-DD
    pub as_of: Option<String>,
    /// the configuration file
    pub config: Option<PathBuf>,
}

/// How to analyse; `None` leaves the choice to the configuration.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    pub period: Option<Period>,
    /// days either side of a change, or `all`
    pub window: Option<String>,
    pub attribute_by: AttributeBy,
    pub by: Option<Stratify>,
    pub queries: Option<PathBuf>,
    pub low_memory: bool,
    /// keep each ticket's id and source line after attribution (the evidence pack lists them)
    pub record_ids: bool,
}

/// An [`InputRequest`] checked: the paths, how to read them, and "today" if it was given.
pub struct ResolvedInputs {
    pub paths: InputPaths,
    pub load: LoadOptions,
    pub as_of: Option<NaiveDate>,
    pub config: Config,
}

/// Check what a parser cannot: the time zone, the required inputs, a file named twice, the date.
pub fn resolve_inputs(request: &InputRequest) -> Result<ResolvedInputs> {
    let tz: Tz = request.timezone.parse().map_err(|_| {
        Error::Usage(format!(
            "unknown time zone '{}': use an IANA name such as UTC, Europe/Berlin or America/New_York",
            request.timezone
        ))
    })?;
    let Some(sops) = request.sops.clone().filter(|_| !request.tickets.is_empty()) else {
        return Err(Error::Usage(
            "--tickets and --sops are required (run `sop-impact report` with no inputs to see the bundled demo)".into(),
        ));
    };
    refuse_repeated_files(&request.tickets)?;
    let as_of = match &request.as_of {
        Some(d) => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| Error::Usage(format!("--as-of '{d}' is not a date: use YYYY-MM-DD")))?,
        ),
        None => None,
    };
    let paths = InputPaths {
        tickets: request.tickets.clone(),
        sops,
        changes: request.changes.clone(),
        audits: request.audits.clone(),
    };
    let config = Config::load(request.config.as_deref())?;
    crate::output::protect_inputs(
        paths
            .tickets
            .iter()
            .chain([&paths.sops])
            .chain(&paths.changes)
            .chain(&paths.audits)
            .chain(&request.config)
            .map(PathBuf::as_path),
    );
    let mappings = std::sync::Arc::new(config.mappings());
    Ok(ResolvedInputs {
        paths,
        load: LoadOptions { profile: request.profile, tz, date_order: request.date_order, mappings },
        as_of,
        config,
    })
}

/// The same ticket file twice would count every ticket twice: refuse it, however it is named.
fn refuse_repeated_files(tickets: &[PathBuf]) -> Result<()> {
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for path in tickets {
        let Ok(real) = std::fs::canonicalize(path) else { continue };
        if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
            return Err(Error::Usage(format!(
                "--tickets names the same file twice ({} and {}); pass each file once",
                first.display(),
                path.display()
            )));
        }
        seen.push((real, path));
    }
    Ok(())
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
        let timings = diag::timings_enabled()
            .then(|| std::cell::RefCell::new((String::from("start-up"), std::time::Instant::now())));
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
        diag::release_freed_memory();
        if let Some(t) = &self.timings {
            let mut t = t.borrow_mut();
            eprintln!("timing: {:>8.3} s  {:<50} {}", t.1.elapsed().as_secs_f64(), t.0, diag::memory());
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

pub fn analyse(inputs: &InputRequest, analysis: &AnalysisOptions, progress: &Progress) -> Result<Analysis> {
    let ResolvedInputs { paths, load: opts, as_of, mut config } = resolve_inputs(inputs)?;
    config.metrics.low_memory |= analysis.low_memory;
    let period = resolve_period(analysis, &config);
    let window = resolve_window(analysis, &config)?;
    let queries = metrics::load_queries(metrics::query_dir(analysis.queries.as_deref()).as_deref())?;
    progress.step("reading and validating inputs");
    let mut data = validate::load(&paths, &opts)?;
    if data.tickets.height() == 0 {
        let first = paths.tickets.first().cloned().unwrap_or_default();
        return Err(Error::invalid(
            &first,
            "no ticket was accepted, so there is nothing to analyse",
            "run `sop-impact validate` with the same inputs and read rejects.csv for why each row was refused",
        ));
    }
    let as_of_ms = as_of_ms(as_of, opts.tz, &data)?;
    progress.step("attributing records to SOP versions");
    // Both one pass over every ticket on one core: side by side.
    let (attributed, derived) = std::thread::scope(|scope| {
        let derived = scope.spawn(|| metrics::derived_ticket_columns(&data.tickets, &config));
        let attributed = attribute::attribute(&data, analysis.attribute_by);
        (attributed, derived.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let mut attributed = attributed?;
    for c in derived? {
        attributed.tickets.with_column(c)?;
    }
    diag::trace("ticket columns derived");
    let read = columns_read_later(&attributed.tickets, &queries, analysis);
    let validated: Vec<PlSmallStr> = read.iter().filter(|c| data.tickets.column(c).is_ok()).cloned().collect();
    // The validated table shares its columns with the attributed one: it lets go of them while
    // they are put in order, and takes the ordered ones.
    data.tickets = DataFrame::empty();
    let read = std::mem::take(&mut attributed.tickets).select(read)?;
    attributed.tickets = attribute::in_process_time_order(read)?;
    data.tickets = attributed.tickets.select(validated)?;
    if diag::timings_enabled() {
        for c in attributed.tickets.columns() {
            let mb = c.as_materialized_series().estimated_size() / (1 << 20);
            eprintln!("column: {:<20} {:>6} MB  {}", c.name(), mb, c.dtype());
        }
    }
    progress.step("computing metrics and comparing before and after each SOP change");
    // Side by side: neither reads the other's results, and each keeps a core busy with its
    // one-core parts while the other's queries run.
    let (tables, comparisons) = std::thread::scope(|scope| {
        let comparisons = scope.spawn(|| compare::compare(&attributed, &config, &queries, window, as_of_ms));
        let tables = metrics::compute(&attributed, &config, &queries, period, opts.tz);
        (tables, comparisons.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let (tables, comparisons) = (tables?, comparisons?);
    let strata = match analysis.by {
        Some(by) => {
            progress.step("comparing within each stratum");
            let column = by.column();
            Some(Strata {
                column,
                within: compare::compare_by(&attributed, &config, &queries, window, as_of_ms, column)?,
            })
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
        as_of_given: as_of.is_some(),
        data,
        attributed,
        tables,
        comparisons,
        strata,
    })
}

/// The ticket columns some later step reads: the ones the comparisons read themselves, the
/// ones a query names, the `--by` column, and with `record_ids` each ticket's id and line. The
/// rest (at 10M tickets: ids, states, groups, the resolved and closed times, where they came
/// from; ~0.4 GB) are dropped once the derived columns exist.
fn columns_read_later(tickets: &DataFrame, queries: &[Query], analysis: &AnalysisOptions) -> Vec<PlSmallStr> {
    let mut always: Vec<&str> = compare::READ_BY_COMPARISONS.to_vec();
    always.push("version_id");
    always.extend(analysis.by.map(Stratify::column));
    if analysis.record_ids {
        always.extend(["ticket_id", "source_line"]);
    }
    tickets
        .get_column_names()
        .into_iter()
        .filter(|n| always.contains(&n.as_str()) || metrics::reads_column(queries, n.as_str()))
        .cloned()
        .collect()
}

/// The command line's --window, else the config's window_days.
fn resolve_window(analysis: &AnalysisOptions, config: &Config) -> Result<Window> {
    match &analysis.window {
        Some(w) => Window::parse(w).map_err(Error::Usage),
        None => Ok(Window::Days(config.compare.window_days.max(1))),
    }
}

/// The command line's --period wins over the config's.
fn resolve_period(analysis: &AnalysisOptions, config: &Config) -> Period {
    analysis.period.unwrap_or(config.metrics.period)
}

/// "Today" in UTC ms: the start of the day after --as-of in the run's time zone, else the
/// latest timestamp in the tickets (so that runs on the same data agree).
fn as_of_ms(as_of: Option<NaiveDate>, tz: Tz, data: &Dataset) -> Result<i64> {
    if let Some(date) = as_of {
        let next = date.succ_opt().unwrap_or(date);
        return timeparse::parse_timestamp(&next.to_string(), None, tz).map_err(Error::Usage);
    }
    let mut latest = i64::MIN;
    for c in ["opened_at", "resolved_at", "closed_at"] {
        let ca = data.tickets.column(c)?.datetime()?.physical().clone();
        if let Some(m) = ca.max() {
            latest = latest.max(m);
        }
    }
    Ok(latest)
}
