//! The metrics engine: the SQL files in `queries/` run by polars SQL over the attributed
//! tables, once per SOP version and once per process and period (docs/outputs.md).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::arrays::{Bits, Dense, Nullable};
use crate::attribute::{Attributed, TimelineRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::period::{year4, Period};

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
    None,
}

/// What kind of quantity a metric is: it decides how the metric is shown, charted and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// a number of records (0, not empty, for a group without any)
    Count,
    /// a share of records, 0–1: shown as a percentage, compared as two proportions
    Proportion,
    /// hours per ticket: compared as two samples of tickets (Mann–Whitney, Hodges–Lehmann)
    Duration,
    /// events per exposure: compared with the exact conditional Poisson test
    Rate,
    /// any other number
    Value,
}

/// Events per exposure, for a metric of kind rate: `-- rate: audit_exceptions per 1000 tickets`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateOf {
    pub events: String,
    pub per: f64,
    pub exposure: String,
}

/// A panel of the trend chart: `-- chart: 1, % of resolved tickets, resolved` (position, axis
/// unit, the count column the control limits are computed over).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub position: u32,
    pub axis: String,
    pub over: String,
}

/// One metric column and everything the tool says or does about it, read from the header of
/// its query: a new metric is one new SQL file.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub label: String,
    pub kind: Kind,
    pub better: Better,
    /// compared before and after every SOP change
    pub compared: bool,
    /// proportion: the column counting what it is a share of (`<name>__n` unless `-- n:` says)
    pub n: String,
    /// what the counts of a comparison are of, for its caveats ("tickets")
    pub of: String,
    pub rate: Option<RateOf>,
    pub chart: Option<Panel>,
    /// position in the report's table of processes without an SOP (`-- overview: 2`)
    pub overview: Option<u32>,
}

impl Metric {
    /// The label inside a sentence or a column header: "reopen rate", but "MTTR (median)".
    pub fn label_in_text(&self) -> String {
        let mut chars = self.label.chars();
        match (chars.next(), chars.next()) {
            (Some(first), Some(second)) if second.is_lowercase() => {
                first.to_lowercase().chain(self.label.chars().skip(1)).collect()
            }
            _ => self.label.clone(),
        }
    }

    fn new(name: &str) -> Self {
        Metric {
            name: name.to_string(),
            label: name.to_string(),
            kind: Kind::Value,
            better: Better::None,
            compared: false,
            n: format!("{name}__n"),
            of: "tickets".into(),
            rate: None,
            chart: None,
            overview: None,
        }
    }
}

/// One query file with its header.
#[derive(Debug, Clone)]
pub struct Query {
    pub path: PathBuf,
    /// its columns, from `-- metric:`, with their facts
    pub metrics: Vec<Metric>,
    pub definition: String,
    pub unit: String,
    pub better: Better,
    /// where its columns go among all metric columns (`-- order:`; files without come last)
    pub order: Option<i64>,
    pub sql: String,
}

impl Query {
    /// The names of its columns.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.metrics.iter().map(|m| m.name.as_str())
    }
}

/// Every metric of `queries`, in table column order: by `-- order:`, then file, then position.
pub fn columns(queries: &[Query]) -> Vec<&Metric> {
    let mut files: Vec<&Query> = queries.iter().collect();
    files.sort_by_key(|q| q.order.unwrap_or(i64::MAX));
    files.into_iter().flat_map(|q| &q.metrics).collect()
}

/// The metric called `name`.
pub fn metric<'q>(queries: &'q [Query], name: &str) -> Option<&'q Metric> {
    queries.iter().flat_map(|q| &q.metrics).find(|m| m.name == name)
}

/// The metrics compared before and after each change, in column order.
pub fn compared(queries: &[Query]) -> Vec<&Metric> {
    columns(queries).into_iter().filter(|m| m.compared).collect()
}

/// The files the before/after comparisons read: those returning a compared metric, the count
/// it is over, its rate's columns, or the ticket counts (`tickets`). The others (analyst_cv)
/// need not run on the windows and weeks.
pub fn feeding_comparisons(queries: &[Query]) -> Vec<Query> {
    let mut needed: Vec<&str> = vec!["tickets"];
    for m in compared(queries) {
        // `n` may name another file's `<metric>__n`, which `names` does not list
        needed.extend([m.name.as_str(), m.n.as_str(), m.n.strip_suffix("__n").unwrap_or(&m.n)]);
        if let Some(rate) = &m.rate {
            needed.extend([rate.events.as_str(), rate.exposure.as_str()]);
        }
    }
    queries.iter().filter(|q| q.names().any(|n| needed.contains(&n))).cloned().collect()
}

/// The metrics drawn in the trend charts, in panel order.
pub fn chart_panels(queries: &[Query]) -> Vec<&Metric> {
    let mut panels: Vec<&Metric> = columns(queries).into_iter().filter(|m| m.chart.is_some()).collect();
    panels.sort_by_key(|m| m.chart.as_ref().map_or(u32::MAX, |c| c.position));
    panels
}

/// The metrics of the table of processes without an SOP, in its column order.
pub fn overview_columns(queries: &[Query]) -> Vec<&Metric> {
    let mut shown: Vec<&Metric> = columns(queries).into_iter().filter(|m| m.overview.is_some()).collect();
    shown.sort_by_key(|m| m.overview);
    shown
}

/// The bundled queries, for a binary run away from its source tree.
const BUNDLED: &[(&str, &str)] = &[
    ("volume.sql", include_str!("../queries/volume.sql")),
    ("reopen_rate.sql", include_str!("../queries/reopen_rate.sql")),
    ("error_rate.sql", include_str!("../queries/error_rate.sql")),
    ("escalation_rate.sql", include_str!("../queries/escalation_rate.sql")),
    ("sla_attainment.sql", include_str!("../queries/sla_attainment.sql")),
    ("mttr.sql", include_str!("../queries/mttr.sql")),
    ("audit_exceptions.sql", include_str!("../queries/audit_exceptions.sql")),
    ("change_failure_rate.sql", include_str!("../queries/change_failure_rate.sql")),
    ("analyst_cv.sql", include_str!("../queries/analyst_cv.sql")),
];

/// Where the queries are read from: `--queries DIR`, else `queries/` in the working directory or
/// the source tree, else the copies built into the binary.
pub fn query_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = explicit {
        return Some(d.to_path_buf());
    }
    let here = Path::new("queries");
    if here.join("volume.sql").is_file() {
        return Some(here.to_path_buf());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    src.join("volume.sql").is_file().then_some(src)
}

/// Load every `*.sql` file of `dir` (sorted by name), or the bundled ones.
pub fn load_queries(dir: Option<&Path>) -> Result<Vec<Query>> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    match dir {
        Some(dir) => {
            let entries =
                std::fs::read_dir(dir).map_err(|source| Error::Unreadable { path: dir.to_path_buf(), source })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            paths.sort();
            for p in paths {
                let text =
                    std::fs::read_to_string(&p).map_err(|source| Error::Unreadable { path: p.clone(), source })?;
                files.push((p, text));
            }
            if files.is_empty() {
                return Err(Error::invalid(
                    dir,
                    "holds no .sql files",
                    "point --queries at a directory of metric queries",
                ));
            }
        }
        None => files.extend(BUNDLED.iter().map(|(n, t)| (PathBuf::from("queries").join(n), t.to_string()))),
    }
    files.into_iter().map(|(p, t)| parse_query(&p, &t)).collect()
}

/// One `-- key[ column]: value` line of a query's header.
struct HeaderLine {
    key: String,
    /// the column it is about, when it names one
    column: Option<String>,
    value: String,
}

/// The header: the leading block of `--` lines (comments inside the query are not read).
fn header_lines(text: &str) -> Vec<HeaderLine> {
    text.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with("--"))
        .filter_map(|l| {
            let (key, value) = l.strip_prefix("--")?.split_once(':')?;
            let mut words = key.split_whitespace();
            let key = words.next()?.to_string();
            let column = words.next().map(str::to_string);
            Some(HeaderLine { key, column, value: value.trim().to_string() })
        })
        .collect()
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn parse_query(path: &Path, text: &str) -> Result<Query> {
    let bad = |problem: String, fix: &str| Error::invalid(path, problem, fix);
    let header = header_lines(text);
    let mut q = file_facts(path, text, &header)?;
    // Facts per metric: unqualified keys apply to every metric of the file, qualified ones
    // (`-- label mttr_median_h: MTTR (median)`) to that metric, and win.
    for qualified in [false, true] {
        for line in header.iter().filter(|l| l.column.is_some() == qualified) {
            metric_fact(&mut q, line).map_err(|(problem, fix)| bad(problem, fix))?;
        }
    }
    for m in &q.metrics {
        if m.compared && matches!(m.kind, Kind::Count | Kind::Value) {
            return Err(bad(
                format!("'{}' is compared but its kind is not proportion, duration or rate", m.name),
                "give it `-- kind:` or leave it out of `-- compare:`",
            ));
        }
        if m.kind == Kind::Rate && m.rate.is_none() {
            return Err(bad(
                format!("'{}' is a rate without `-- rate:`", m.name),
                "write e.g. `-- rate: audit_exceptions per 1000 tickets`",
            ));
        }
    }
    Ok(q)
}

/// The file's own keys: its columns, definition, unit, direction and order.
fn file_facts(path: &Path, text: &str, header: &[HeaderLine]) -> Result<Query> {
    let bad = |problem: String, fix: &str| Error::invalid(path, problem, fix);
    let mut q = Query {
        path: path.to_path_buf(),
        metrics: Vec::new(),
        definition: String::new(),
        unit: String::new(),
        better: Better::None,
        order: None,
        sql: text.to_string(),
    };
    let mut better = None;
    for line in header.iter().filter(|l| l.column.is_none()) {
        let value = &line.value;
        match line.key.as_str() {
            "metric" => q.metrics = list(value).iter().map(|m| Metric::new(m)).collect(),
            "definition" => q.definition = value.clone(),
            "unit" => q.unit = value.clone(),
            "better" => better = Some(parse_better(value).ok_or_else(|| better_error(path, Some(value)))?),
            "order" => {
                q.order = Some(value.parse().map_err(|_| {
                    bad(format!("`-- order:` '{value}' is not a whole number"), "write e.g. `-- order: 45`")
                })?)
            }
            _ => {}
        }
    }
    q.better = better.ok_or_else(|| better_error(path, None))?;
    if q.metrics.is_empty() {
        return Err(bad(
            "header has no `-- metric:` line".into(),
            "name the columns the query returns, e.g. `-- metric: reopen_rate`",
        ));
    }
    for m in &mut q.metrics {
        m.better = q.better;
    }
    Ok(q)
}

/// Apply one header line to the metrics it is about; Err((problem, fix)).
fn metric_fact(q: &mut Query, line: &HeaderLine) -> std::result::Result<(), (String, &'static str)> {
    let (key, value) = (line.key.as_str(), line.value.as_str());
    if key == "compare" {
        for name in list(value) {
            let m = q.metrics.iter_mut().find(|m| m.name == name).ok_or_else(|| {
                (
                    format!("`-- compare:` names '{name}', which is not on the `-- metric:` line"),
                    "compare columns of this query",
                )
            })?;
            m.compared = true;
        }
        return Ok(());
    }
    let per_metric = matches!(key, "kind" | "label" | "n" | "of" | "rate" | "chart" | "overview");
    if !(per_metric || key == "better" && line.column.is_some()) {
        return Ok(());
    }
    if let Some(name) = line.column.as_deref().filter(|n| !q.names().any(|m| m == *n)) {
        return Err((
            format!("`-- {key} {name}:` names a column that is not on the `-- metric:` line"),
            "qualify a key with one of the query's columns",
        ));
    }
    for m in q.metrics.iter_mut().filter(|m| line.column.as_ref().is_none_or(|n| *n == m.name)) {
        set_fact(m, key, value)
            .map_err(|why| (format!("`-- {key}:` {why}"), "see queries/README.md for the header keys"))?;
    }
    Ok(())
}

fn parse_better(value: &str) -> Option<Better> {
    match value {
        "lower" => Some(Better::Lower),
        "higher" => Some(Better::Higher),
        "none" => Some(Better::None),
        _ => None,
    }
}

fn better_error(path: &Path, value: Option<&str>) -> Error {
    Error::invalid(
        path,
        format!("header `-- better:` is {}", value.map(|o| format!("'{o}'")).unwrap_or("missing".into())),
        "write `-- better: lower`, `higher` or `none`",
    )
}

/// One header fact of a metric.
fn set_fact(m: &mut Metric, key: &str, value: &str) -> std::result::Result<(), String> {
    match key {
        "label" => m.label = value.to_string(),
        "overview" => m.overview = Some(value.parse().map_err(|_| format!("'{value}' is not a column position"))?),
        "n" => m.n = value.to_string(),
        "of" => m.of = value.to_string(),
        "better" => m.better = parse_better(value).ok_or("must be lower, higher or none")?,
        "kind" => {
            m.kind = match value {
                "count" => Kind::Count,
                "proportion" => Kind::Proportion,
                "duration" => Kind::Duration,
                "rate" => Kind::Rate,
                "value" => Kind::Value,
                _ => return Err(format!("'{value}' is not count, proportion, duration, rate or value")),
            }
        }
        "rate" => {
            let words: Vec<&str> = value.split_whitespace().collect();
            let [events, "per", per, exposure] = words.as_slice() else {
                return Err(format!("'{value}' is not `EVENTS per NUMBER EXPOSURE`"));
            };
            let per =
                per.parse::<f64>().ok().filter(|p| *p > 0.0).ok_or(format!("'{per}' is not a positive number"))?;
            m.rate = Some(RateOf { events: events.to_string(), per, exposure: exposure.to_string() });
        }
        "chart" => {
            let parts: Vec<&str> = value.split(',').map(str::trim).collect();
            let (Some(position), Some(over), true) = (parts.first(), parts.last(), parts.len() >= 3) else {
                return Err(format!("'{value}' is not `POSITION, AXIS UNIT, COUNT COLUMN`"));
            };
            let position = position.parse().map_err(|_| format!("'{position}' is not a panel position"))?;
            let axis = parts.get(1..parts.len() - 1).unwrap_or_default().join(", ");
            m.chart = Some(Panel { position, axis, over: over.to_string() });
        }
        _ => {}
    }
    Ok(())
}

/// Replace `:name` parameters with values from the config.
fn bind(query: &Query, cfg: &Config) -> Result<String> {
    let m = &cfg.metrics;
    let params: [(&str, String); 4] = [
        ("min_analyst_tickets", m.min_analyst_tickets.to_string()),
        ("error_includes_reopened", m.error_includes_reopened.to_string().to_uppercase()),
        ("error_includes_reassigned", m.error_includes_reassigned.to_string().to_uppercase()),
        ("error_includes_handling_error", m.error_includes_handling_error.to_string().to_uppercase()),
    ];
    sop_impact_parse::params::bind_parameters(&query.sql, &params).map_err(|name| {
        Error::invalid(
            &query.path,
            format!("unknown parameter :{name}"),
            format!("use one of {}", params.iter().map(|(k, _)| format!(":{k}")).collect::<Vec<_>>().join(", ")),
        )
    })
}

/// The columns every query may read besides the validated ones, added once per run to the
/// attributed tickets: `is_resolved` (a resolved_at, else a closed_at), `resolution_hours` (from
/// opened_at to that time) and `sla_met` (made_sla from the export, else for resolved tickets
/// resolution within the target hours of their priority). From the validated tickets alone, so
/// that they are worked out while the tickets are attributed. One pass over the tickets: as
/// column expressions, each step's intermediate column of 10M values stood at the peak together
/// (~0.4 GB).
pub fn derived_ticket_columns(tickets: &DataFrame, cfg: &Config) -> Result<[Column; 3]> {
    let ms = |name: &str| crate::attribute::timestamp_ms(tickets, name).map(|ca| ca.rechunk().into_owned());
    let (opened, resolved, closed) = (ms("opened_at")?, ms("resolved_at")?, ms("closed_at")?);
    let priority = tickets.column("priority").and_then(|c| c.cast(&DataType::Int32))?;
    let priority = priority.i32()?.rechunk();
    let made_sla = tickets.column("made_sla")?.bool()?.rechunk();
    let t = cfg.sla.target_hours;
    let n = tickets.height();
    // Each column as one slice of values and its validity, read row by row by index: taken as
    // options through iterators the pass took 0.35-0.38 s at 10M tickets, longer than the
    // attribution it runs beside.
    let in_one_chunk = || Error::Internal("a ticket column is not in one piece".into());
    let dense = |ca| Dense::of(ca).ok_or_else(in_one_chunk);
    let (opened, resolved, closed) = (dense(&opened)?, dense(&resolved)?, dense(&closed)?);
    let priority = Dense::of(&priority).ok_or_else(in_one_chunk)?;
    let made_sla = Bits::of(&made_sla).ok_or_else(in_one_chunk)?;
    let mut is_resolved = Vec::with_capacity(n);
    let mut hours = Nullable::<Float64Type>::with_capacity(n);
    let mut sla_met: Vec<Option<bool>> = Vec::with_capacity(n);
    for i in 0..n {
        let end = resolved.get(i).or_else(|| closed.get(i));
        let h = end.zip(opened.get(i)).map(|(end, opened)| (end - opened) as f64 / 3_600_000.0);
        let target = match priority.get(i) {
            Some(1) => t[0],
            Some(2) => t[1],
            Some(4) => t[3],
            Some(5) => t[4],
            _ => t[2],
        };
        is_resolved.push(end.is_some());
        hours.push(h);
        sla_met.push(made_sla.get(i).or(if end.is_some() { h.map(|h| h <= target) } else { None }));
    }
    Ok([
        BooleanChunked::from_slice("is_resolved".into(), &is_resolved).into_column(),
        hours.finish("resolution_hours").into_column(),
        BooleanChunked::from_iter_options("sla_met".into(), sla_met.into_iter()).into_column(),
    ])
}

pub(crate) fn derive_change_columns(changes: &DataFrame, cfg: &Config) -> LazyFrame {
    let code = col("close_code").str().to_lowercase();
    let mut failed = lit(false);
    for c in &cfg.metrics.change_failure_codes {
        failed = failed.or(code.clone().str().contains_literal(lit(c.to_lowercase())));
    }
    changes.clone().lazy().with_column(failed.fill_null(lit(false)).alias("failed"))
}

/// A time zone's calendar: the local date of a UTC instant. Zones of one offset (UTC, Etc/…)
/// by arithmetic; the others through the zone's rules, instant by instant.
#[derive(Debug, Clone, Copy)]
enum Calendar {
    /// the offset from UTC in ms
    Fixed(i64),
    Zone(chrono_tz::Tz),
}

impl Calendar {
    fn of(tz: chrono_tz::Tz) -> Calendar {
        use chrono::{Offset, TimeZone as _};
        let name = tz.name();
        if name == "UTC" || name.starts_with("Etc/") {
            let offset = tz.offset_from_utc_datetime(&chrono::NaiveDateTime::default()).fix().local_minus_utc();
            Calendar::Fixed(i64::from(offset) * 1000)
        } else {
            Calendar::Zone(tz)
        }
    }

    /// The wall-clock time at `ms` in this calendar, as ms since 1970-01-01 00:00 of that clock.
    fn local_ms(self, ms: i64) -> Option<i64> {
        match self {
            Calendar::Fixed(offset) => ms.checked_add(offset),
            Calendar::Zone(tz) => {
                use chrono::Offset;
                let utc = chrono::DateTime::from_timestamp_millis(ms)?;
                let offset = utc.with_timezone(&tz).offset().fix().local_minus_utc();
                ms.checked_add(i64::from(offset) * 1000)
            }
        }
    }
}

/// Period index of a wall-clock time (ms, see `Calendar::local_ms`): months, ISO weeks or
/// quarters since a fixed origin.
fn period_of_local(local_ms: i64, period: Period) -> Option<i32> {
    use chrono::Datelike;
    let date = chrono::DateTime::from_timestamp_millis(local_ms)?.date_naive();
    let (year, month0) = (date.year(), date.month0() as i32);
    Some(match period {
        Period::Month => year * 12 + month0,
        // 1970-01-01 (day 719,163 of the common era) was a Thursday; weeks start on Monday (ISO).
        Period::Week => (date.num_days_from_ce() - 719_163 + 3).div_euclid(7),
        Period::Quarter => year * 4 + month0.div_euclid(3),
    })
}

/// Period index of a UTC instant, on the calendar of the run's time zone (a Berlin team's March
/// is Berlin's March).
fn period_index(ms: i64, period: Period, calendar: Calendar) -> Option<i32> {
    period_of_local(calendar.local_ms(ms)?, period)
}

/// Instants are looked at an hour (UTC) at a time: when the clock runs evenly through the hour
/// (no change of offset within it) and both its ends fall in one period, so does every instant
/// in it.
const SLOT_MS: i64 = 3_600_000;

/// The period of every instant, worked out once per hour they fall in when that hour lies in one
/// period: the instants of a process come in time order, so that consecutive ones mostly share
/// their hour, and the calendar is consulted for a few hours instead of every record.
fn period_indices_into(
    times: impl Iterator<Item = Option<i64>>,
    period: Period,
    calendar: Calendar,
    out: &mut [Option<i32>],
) {
    // (hour, its period when the whole hour lies in one)
    let mut last: Option<(i64, Option<i32>)> = None;
    let whole_slot = |slot: i64| -> Option<i32> {
        let (start, end) = (slot.checked_mul(SLOT_MS)?, slot.checked_mul(SLOT_MS)?.checked_add(SLOT_MS - 1)?);
        let (local_start, local_end) = (calendar.local_ms(start)?, calendar.local_ms(end)?);
        let (first, last) = (period_of_local(local_start, period)?, period_of_local(local_end, period)?);
        (local_end - local_start == end - start && first == last).then_some(first)
    };
    for (t, index) in times.zip(out.iter_mut()) {
        *index = t.and_then(|t| {
            let slot = t.div_euclid(SLOT_MS);
            let whole = match last {
                Some((s, whole)) if s == slot => whole,
                _ => {
                    let whole = whole_slot(slot);
                    last = Some((slot, whole));
                    whole
                }
            };
            whole.or_else(|| period_index(t, period, calendar))
        });
    }
}

/// The period index of every record of `df` (its `attributed_at`), on every core.
fn period_indices(df: &DataFrame, period: Period, calendar: Calendar) -> Result<Vec<Option<i32>>> {
    let times = crate::attribute::attributed_ms(df)?;
    let per_core = times.len().div_ceil(crate::cores::count()).max(1);
    let mut indices: Vec<Option<i32>> = vec![None; times.len()];
    std::thread::scope(|scope| {
        // each core a slice of the column as it is (a copy of the times was 160 MB at 10M)
        for (k, out) in indices.chunks_mut(per_core).enumerate() {
            let part = times.slice((k * per_core) as i64, per_core);
            scope.spawn(move || period_indices_into(part.iter(), period, calendar, out));
        }
    });
    Ok(indices)
}

/// The label of a period index: `2024-03`, `2024-W09`, `2024-Q1`.
pub fn period_label(index: i64, period: Period) -> String {
    match period {
        Period::Month => format!("{}-{:02}", year4(index.div_euclid(12)), index.rem_euclid(12) + 1),
        Period::Quarter => format!("{}-Q{}", year4(index.div_euclid(4)), index.rem_euclid(4) + 1),
        Period::Week => {
            let monday = chrono::DateTime::from_timestamp((index * 7 - 3) * 86_400, 0).map(|d| d.date_naive());
            monday.map(|d| d.format("%G-W%V").to_string()).unwrap_or_default()
        }
    }
}

/// A process and a period as one `grp`: process_id × periods + (period − first), over the
/// periods the records span. Compact, so that it fits 32 bits and its `grp_X` keys pack into 32
/// bits (with a fixed stride of a million periods both took 64: 80 MB more at 10M tickets).
#[derive(Debug, Clone, Copy)]
struct PeriodGrp {
    first: i64,
    periods: i64,
    /// process_id × periods + period offset fits 32 bits
    narrow: bool,
}

impl PeriodGrp {
    /// The `grp` column of each frame (its `process_id` and `attributed_at`), over the span of
    /// the periods of all their records.
    fn columns(
        frames: &[&DataFrame],
        processes: usize,
        period: Period,
        calendar: Calendar,
    ) -> Result<(PeriodGrp, Vec<Column>)> {
        let indices = frames.iter().map(|df| period_indices(df, period, calendar)).collect::<Result<Vec<_>>>()?;
        let all = || indices.iter().flatten().flatten().copied();
        let (first, last) = (i64::from(all().min().unwrap_or(0)), i64::from(all().max().unwrap_or(0)));
        let periods = last - first + 1;
        let narrow = (processes as u64 + 1).saturating_mul(periods as u64) <= u64::from(u32::MAX);
        let g = PeriodGrp { first, periods, narrow };
        let columns = frames
            .iter()
            .zip(&indices)
            .map(|(df, index)| {
                let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
                let grp = process
                    .u32()?
                    .iter()
                    .zip(index)
                    .map(|(p, i)| Some(i64::from(p?) * g.periods + (i64::from((*i)?) - g.first)));
                Ok(if g.narrow {
                    UInt32Chunked::from_iter_options("grp".into(), grp.map(|v| v.map(|v| v as u32))).into_column()
                } else {
                    Int64Chunked::from_iter_options("grp".into(), grp).into_column()
                })
            })
            .collect::<Result<Vec<Column>>>()?;
        Ok((g, columns))
    }

    /// (process_id, period index) of a `grp`.
    fn split(self, grp: i64) -> (usize, i64) {
        (grp.div_euclid(self.periods) as usize, grp.rem_euclid(self.periods) + self.first)
    }
}

/// Parts of the groups the queries run on with `low_memory`.
const LOW_MEMORY_PARTS: u32 = 4;

/// Run every query with the given group column definitions; returns one frame keyed by `grp`
/// with every metric column.
pub(crate) fn run_queries(
    queries: &[Query],
    cfg: &Config,
    tickets: LazyFrame,
    changes: LazyFrame,
    audits: LazyFrame,
) -> Result<DataFrame> {
    run_queries_in(queries, cfg, &query_contexts(cfg, &tickets, &changes, &audits))
}

/// Run every query once per part of the groups, each part its (tickets, changes, audits), the
/// results stacked: for tables whose groups come in disjoint parts (the layers of comparison
/// windows), a query's working memory is then that of one part.
pub(crate) fn run_queries_in_parts(
    queries: &[Query],
    cfg: &Config,
    parts: Vec<(LazyFrame, LazyFrame, LazyFrame)>,
) -> Result<DataFrame> {
    // with low_memory, each part is split further as `query_contexts` splits a whole table
    let contexts: Vec<SQLContext> = parts
        .into_iter()
        .flat_map(|(tickets, changes, audits)| query_contexts(cfg, &tickets, &changes, &audits))
        .collect();
    run_queries_in(queries, cfg, &contexts)
}

fn run_queries_in(queries: &[Query], cfg: &Config, contexts: &[SQLContext]) -> Result<DataFrame> {
    let mut result: Option<LazyFrame> = None;
    for q in queries {
        let lf = run_query(q, cfg, contexts)?.lazy().with_column(col("grp").cast(DataType::Int64));
        result = Some(match result {
            None => lf,
            Some(acc) => acc.join(
                lf,
                [col("grp")],
                [col("grp")],
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            ),
        });
    }
    Ok(result.ok_or_else(|| Error::Internal("no queries".into()))?.collect()?)
}

/// The SQL contexts the queries run in: one, or with low_memory one per part of the groups
/// (`grp` modulo the parts). The parts' results stack to the whole, while a query's working
/// memory (a group-by with a median over 10M tickets needs ~0.7 GB) shrinks. Parts of the groups
/// rather than of the processes: one process often holds half the tickets (measured at 10M:
/// 1.68 GB peak by groups, 1.89 GB by processes).
fn query_contexts(cfg: &Config, tickets: &LazyFrame, changes: &LazyFrame, audits: &LazyFrame) -> Vec<SQLContext> {
    let parts: u32 = if cfg.metrics.low_memory { LOW_MEMORY_PARTS } else { 1 };
    (0..parts)
        .map(|part| {
            let of_part = |lf: &LazyFrame| {
                if parts == 1 {
                    lf.clone()
                } else {
                    lf.clone().filter((col("grp") % lit(i64::from(parts))).eq(lit(i64::from(part))))
                }
            };
            let ctx = SQLContext::new();
            ctx.register("tickets", of_part(tickets));
            ctx.register("changes", of_part(changes));
            ctx.register("audits", of_part(audits));
            ctx
        })
        .collect()
}

/// One query over every context, stacked: `grp`, its metric columns and their `__n` counts.
fn run_query(q: &Query, cfg: &Config, contexts: &[SQLContext]) -> Result<DataFrame> {
    let sql = bind(q, cfg)?;
    let sql_error = |e: PolarsError| {
        Error::invalid(
            &q.path,
            format!("SQL problem: {}", e.to_string().lines().next().unwrap_or("").trim()),
            "fix the query (see queries/README.md for the tables and columns)",
        )
    };
    let mut df: Option<DataFrame> = None;
    for ctx in contexts {
        let part = ctx.clone().execute(&sql).map_err(sql_error)?.collect().map_err(sql_error)?;
        df = Some(match df {
            None => part,
            Some(mut acc) => {
                acc.vstack_mut_owned(part).map_err(sql_error)?;
                acc
            }
        });
    }
    let df = df.ok_or_else(|| Error::Internal("no query context".into()))?;
    // A query's working memory (a filtered copy of the columns it reads, its group-by) is freed
    // when it ends; handed back now, the next query does not stack its own on top of it.
    crate::diag::release_freed_memory();
    crate::diag::trace(&format!("query {}", q.path.display()));
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let mut wanted = vec!["grp".to_string()];
    wanted.extend(q.names().map(str::to_string));
    if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
        return Err(Error::invalid(
            &q.path,
            format!("query returns no column '{missing}' (it returns {})", names.join(", ")),
            "return `grp` and every column of the `-- metric:` line",
        ));
    }
    // `<metric>__n`: how many records a proportion is over, for the comparisons
    wanted.extend(q.names().map(|m| format!("{m}__n")).filter(|n| names.contains(n)));
    Ok(df.select(wanted)?)
}

/// Whether a query names `name` as a whole word (not as part of a longer name), outside its
/// comments.
pub(crate) fn named(queries: &[Query], name: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    queries.iter().any(|q| {
        let sql = sop_impact_parse::params::without_comments(&q.sql);
        sql.match_indices(name)
            .any(|(at, _)| !word(sql[..at].chars().next_back()) && !word(sql[at + name.len()..].chars().next()))
    })
}

/// Whether a query reads the ticket column `name`: names it, or its `grp_name` pair key.
pub(crate) fn reads_column(queries: &[Query], name: &str) -> bool {
    named(queries, name) || named(queries, &format!("grp_{name}"))
}

/// The ticket columns `X` whose `grp_X` the queries name: grouping by `grp_X` is grouping by
/// `grp` and `X` together (text, whole-number and yes/no columns).
pub(crate) fn paired_columns(df: &DataFrame, queries: &[Query]) -> Vec<String> {
    df.columns()
        .iter()
        .filter(|c| {
            let d = c.dtype();
            d.is_categorical() || d.is_integer() || d.is_bool()
        })
        .map(|c| c.name().to_string())
        .filter(|n| named(queries, &format!("grp_{n}")))
        .collect()
}

/// A column's values as 64-bit integers, whatever their width.
type Ints<'a> = Box<dyn Iterator<Item = Option<i64>> + 'a>;

/// `grp_X`: one whole number per pair of `grp` and a value of `values`, empty where either is.
/// polars groups by two columns by encoding every row's pair as bytes and hashing those (at 10M
/// tickets, 0.5 GB more than one integer key), so the pair becomes one integer: the offsets of
/// both values in their ranges, packed; or, when the ranges are too wide to pack into 64 bits,
/// the pairs numbered in order of appearance. `grp_range`: the range of `grp` to pack against
/// when several tables' keys must not meet (the layers of windows); those must pack.
pub(crate) fn pair_key(grp: &Column, values: &Column, name: &str, grp_range: Option<(i64, i64)>) -> Result<Column> {
    let values = values.to_physical_repr().cast(&DataType::Int64)?;
    let values = values.i64()?;
    let range = |ca: &Int64Chunked| ca.min().zip(ca.max());
    // A 32-bit grp is read as it is: a 64-bit copy of it cost 80 MB at 10M tickets.
    let grp_as_i64;
    let (grp_min_max, grp): (Option<(i64, i64)>, Ints<'_>) = match grp.dtype() {
        DataType::UInt32 => {
            let ca = grp.u32()?;
            (ca.min().map(i64::from).zip(ca.max().map(i64::from)), Box::new(ca.iter().map(|g| g.map(i64::from))))
        }
        _ => {
            grp_as_i64 = grp.cast(&DataType::Int64)?;
            let ca = grp_as_i64.i64()?;
            (range(ca), Box::new(ca.iter()))
        }
    };
    let packing = match (grp_range.or(grp_min_max), range(values)) {
        (Some((g_min, g_max)), Some((v_min, v_max))) => {
            let width = i128::from(v_max) - i128::from(v_min) + 1;
            let span = (i128::from(g_max) - i128::from(g_min) + 1).checked_mul(width);
            span.filter(|s| *s <= i128::from(u64::MAX)).map(|_| (g_min, v_min, width as u64))
        }
        // one side is empty throughout: so is every key
        _ => Some((0, 0, 1)),
    };
    if packing.is_none() && grp_range.is_some() {
        return Err(Error::Internal(format!("{name}: the values span too wide a range to pack")));
    }
    let g_max = grp_range.or(grp_min_max).map(|(_, max)| max);
    let pairs = grp.zip(values.iter());
    let offset = |x: i64, min: i64| (x as u64).wrapping_sub(min as u64);
    let keys = match packing {
        // most often both ranges are narrow (versions × analysts): half the memory
        Some((g_min, v_min, width))
            if (g_max.map_or(0, |g| offset(g, g_min)) + 1).saturating_mul(width) <= u64::from(u32::MAX) =>
        {
            let packed: UInt32Chunked =
                pairs.map(|(g, v)| Some((offset(g?, g_min) * width + offset(v?, v_min)) as u32)).collect();
            packed.into_column()
        }
        Some((g_min, v_min, width)) => {
            let packed: UInt64Chunked =
                pairs.map(|(g, v)| Some(offset(g?, g_min) * width + offset(v?, v_min))).collect();
            packed.into_column()
        }
        None => {
            let mut ids: PlHashMap<(i64, i64), u64> = PlHashMap::new();
            let numbered: UInt64Chunked = pairs
                .map(|(g, v)| {
                    let next = ids.len() as u64;
                    Some(*ids.entry((g?, v?)).or_insert(next))
                })
                .collect();
            numbered.into_column()
        }
    };
    Ok(keys.with_name(name.into()))
}

/// The tickets of one grouping (with their `grp`) as the queries read them: computed once, not
/// once per query, with the `grp_X` pair keys the queries name. Every grouping's tickets go
/// through here, so that no grouping lacks a key a query uses.
pub(crate) fn grouped_tickets(tickets: LazyFrame, queries: &[Query]) -> Result<LazyFrame> {
    let mut grouped = with_pair_keys(tickets.collect()?, queries)?;
    mark_runs(&mut grouped)?;
    crate::diag::release_freed_memory();
    Ok(grouped.lazy())
}

/// Marks `grp` as sorted when its values rise run by run, as they do for groupings of the
/// tickets in process and time order (see `attribute::in_process_time_order`): polars' group-by
/// then takes each group as a slice of rows. Checked, never assumed: a grouping whose groups
/// interleave is grouped by hashing, as before.
fn mark_runs(df: &mut DataFrame) -> Result<()> {
    let Ok(grp) = df.column("grp") else { return Ok(()) };
    let rising = grp.null_count() == 0 && grp.as_materialized_series().is_sorted(SortOptions::default())?;
    if rising {
        let mut grp = grp.clone();
        grp.set_sorted_flag(polars::series::IsSorted::Ascending);
        df.with_column(grp)?;
    }
    Ok(())
}

/// The table with `grp_X` for every paired column (see `paired_columns`).
fn with_pair_keys(mut df: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let paired = paired_columns(&df, queries);
    if paired.is_empty() {
        return Ok(df);
    }
    let grp = df.column("grp")?.clone();
    for x in paired {
        let key = pair_key(&grp, df.column(&x)?, &format!("grp_{x}"), None)?;
        df.with_column(key)?;
    }
    Ok(df)
}

/// A query result by column: metric → grp → value (empty values left out). The comparisons
/// and the backlog look values up by group this way.
pub fn values_by_grp(df: &DataFrame) -> Result<std::collections::HashMap<String, std::collections::HashMap<i64, f64>>> {
    let grp: Vec<Option<i64>> = df.column("grp")?.i64()?.iter().collect();
    let mut values = std::collections::HashMap::new();
    for c in df.columns().iter().filter(|c| c.name() != "grp") {
        let f = c.cast(&DataType::Float64)?;
        let by_grp = grp.iter().zip(f.f64()?.iter()).filter_map(|(g, v)| Some(((*g)?, v?))).collect();
        values.insert(c.name().to_string(), by_grp);
    }
    Ok(values)
}

/// The two metric tables (their columns are in docs/outputs.md).
pub struct MetricTables {
    pub sop_versions: DataFrame,
    pub process_periods: DataFrame,
}

/// Every metric column present (empty where no query row reached it); counts 0, not empty.
fn ensure_metric_columns(df: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let mut lf = df.lazy();
    let have: Vec<String> = lf.clone().collect_schema()?.iter_names().map(|s| s.to_string()).collect();
    let metrics = columns(queries);
    for m in &metrics {
        if !have.contains(&m.name) {
            let dtype = if m.kind == Kind::Count { DataType::UInt32 } else { DataType::Float64 };
            lf = lf.with_column(lit(NULL).cast(dtype).alias(m.name.as_str()));
        }
    }
    let counts: Vec<Expr> = metrics
        .iter()
        .filter(|m| m.kind == Kind::Count)
        .map(|m| col(m.name.as_str()).cast(DataType::UInt64).fill_null(lit(0u64)))
        .collect();
    Ok(lf.with_columns(counts).collect()?)
}

/// Compute both tables.
pub fn compute(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    period: Period,
    tz: chrono_tz::Tz,
) -> Result<MetricTables> {
    // The tickets carry the derived columns (see `derived_ticket_columns`); each grouping's `grp`
    // is computed once, not once per query.
    let tickets = att.tickets.clone().lazy();
    let change_records = derive_change_columns(&att.changes, cfg).collect()?;
    let changes = change_records.clone().lazy();
    let audits = att.audits.clone().lazy();
    let once = |lf: LazyFrame| -> Result<LazyFrame> {
        let grouped = grouped_tickets(lf, queries)?;
        crate::diag::trace("metric groups placed");
        Ok(grouped)
    };

    // Per SOP version: grp = timeline id (the column itself, not a 64-bit copy of it).
    let by_version = |lf: LazyFrame| lf.with_column(col("version_id").alias("grp"));
    let version_metrics = run_queries(
        queries,
        cfg,
        once(by_version(tickets.clone()))?,
        by_version(changes.clone()),
        by_version(audits.clone()),
    )?;
    let sop_versions = assemble_versions(&att.timeline, version_metrics, queries)?;

    // Per process and period: grp = process_id × periods + (period − first period).
    let frames = [&att.tickets, &change_records, &att.audits];
    let (periods, grps) = PeriodGrp::columns(&frames, att.processes.len(), period, Calendar::of(tz))?;
    let [tickets_grp, changes_grp, audits_grp]: [Column; 3] =
        grps.try_into().map_err(|_| Error::Internal("a period grouping is missing".into()))?;
    let with_grp = |df: &DataFrame, grp: Column| -> Result<LazyFrame> {
        let mut df = df.clone();
        df.with_column(grp)?;
        Ok(df.lazy())
    };
    let tickets = once(with_grp(&att.tickets, tickets_grp)?)?;
    let changes = with_grp(&change_records, changes_grp)?;
    let period_metrics = run_queries(queries, cfg, tickets.clone(), changes, with_grp(&att.audits, audits_grp)?)?;
    // The versions in force during each period: the first and last version with tickets in it.
    let spans = tickets
        .group_by([col("grp")])
        .agg([col("version_id").min().alias("first_version"), col("version_id").max().alias("last_version")])
        .with_column(col("grp").cast(DataType::Int64))
        .collect()?;
    let process_periods = assemble_periods(att, period_metrics, spans, periods, period, queries)?;
    Ok(MetricTables { sop_versions, process_periods })
}

fn ms_to_datetime(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

fn assemble_versions(timeline: &[TimelineRow], metrics: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let n = timeline.len();
    let base = DataFrame::new(
        n,
        vec![
            Column::new("grp".into(), timeline.iter().map(|r| r.id as i64).collect::<Vec<_>>()),
            Column::new("sop_id".into(), timeline.iter().map(|r| r.sop_id.as_str()).collect::<Vec<_>>()),
            Column::new("version".into(), timeline.iter().map(|r| r.version.as_str()).collect::<Vec<_>>()),
            Column::new("process".into(), timeline.iter().map(|r| r.process.as_str()).collect::<Vec<_>>()),
            ms_to_datetime("effective_from", timeline.iter().map(|r| r.effective_from).collect()),
            ms_to_datetime("effective_to", timeline.iter().map(|r| r.effective_to).collect()),
            Column::new("order".into(), (0..n as u32).collect::<Vec<_>>()),
        ],
    )?;
    let joined =
        base.lazy().join(metrics.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left)).collect()?;
    let joined = ensure_metric_columns(joined, queries)?;
    // "-" rows of SOPs whose first version predates every ticket are noise; versions themselves
    // stay even with no tickets.
    let keep = joined
        .clone()
        .lazy()
        .filter(col("version").neq(lit(crate::attribute::NO_SOP)).or(col("tickets").gt(lit(0u64))))
        .sort(["order"], SortMultipleOptions::default());
    let mut cols = vec![col("sop_id"), col("version"), col("process"), col("effective_from"), col("effective_to")];
    cols.extend(columns(queries).iter().map(|m| col(m.name.as_str())));
    Ok(keep.select(cols).collect()?)
}

fn assemble_periods(
    att: &Attributed,
    metrics: DataFrame,
    spans: DataFrame,
    periods: PeriodGrp,
    period: Period,
    queries: &[Query],
) -> Result<DataFrame> {
    let grp: Vec<i64> = metrics.column("grp")?.i64()?.into_no_null_iter().collect();
    let joined =
        metrics.lazy().join(spans.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left)).collect()?;
    let grp_joined: Vec<i64> = joined.column("grp")?.i64()?.into_no_null_iter().collect();
    debug_assert_eq!(grp.len(), grp_joined.len());
    let first = joined.column("first_version")?.u32()?.clone();
    let last = joined.column("last_version")?.u32()?.clone();
    let label = |id: Option<u32>| id.and_then(|i| att.timeline.get(i as usize)).map(|r| r.version.clone());
    let mut process = Vec::new();
    let mut sop = Vec::new();
    let mut period_text = Vec::new();
    let mut in_force = Vec::new();
    for (k, g) in grp_joined.iter().enumerate() {
        let (pid, index) = periods.split(*g);
        process.push(att.processes.get(pid).cloned().unwrap_or_default());
        period_text.push(period_label(index, period));
        let (f, l) = (first.get(k), last.get(k));
        sop.push(f.and_then(|i| att.timeline.get(i as usize)).map(|r| r.sop_id.clone()).unwrap_or_default());
        in_force.push(match (label(f), label(l)) {
            (Some(a), Some(b)) if a != b => format!("{a}→{b}"),
            (Some(a), _) => a,
            _ => String::new(),
        });
    }
    let mut df = joined;
    for (name, values) in
        [("process", process), ("sop_id", sop), ("period", period_text), ("version_in_force", in_force)]
    {
        df.with_column(Column::new(name.into(), values))?;
    }
    let df = ensure_metric_columns(df, queries)?;
    let mut cols = vec![col("process"), col("period"), col("sop_id"), col("version_in_force")];
    cols.extend(columns(queries).iter().map(|m| col(m.name.as_str())));
    Ok(df.lazy().sort(["process", "grp"], SortMultipleOptions::default()).select(cols).collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows share a key exactly when they share (grp, value); a row with either empty has none.
    fn assert_keys_pair_up(grp: &[Option<i64>], values: &[Option<i64>], dtype: DataType) {
        let grp_ca = Int64Chunked::from_iter_options("grp".into(), grp.iter().copied());
        let values_col = Int64Chunked::from_iter_options("x".into(), values.iter().copied()).into_column();
        let keys = pair_key(&grp_ca.into_column(), &values_col, "grp_x", None).unwrap();
        assert_eq!(keys.name().as_str(), "grp_x");
        assert_eq!(keys.dtype(), &dtype);
        let keys: Vec<Option<u64>> = keys.cast(&DataType::UInt64).unwrap().u64().unwrap().iter().collect();
        for i in 0..grp.len() {
            let pair = grp[i].zip(values[i]);
            assert_eq!(keys[i].is_some(), pair.is_some(), "row {i}");
            for j in 0..grp.len() {
                if pair.is_some() && grp[j].zip(values[j]).is_some() {
                    assert_eq!(keys[i] == keys[j], pair == grp[j].zip(values[j]), "rows {i} and {j}");
                }
            }
        }
    }

    #[test]
    fn derived_columns_by_priority_and_state() {
        let ms = |name: &str, v: &[Option<i64>]| {
            Int64Chunked::from_iter_options(name.into(), v.iter().copied())
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column()
        };
        let h = 3_600_000;
        let mut df = DataFrame::new(
            4,
            vec![
                ms("opened_at", &[Some(0), Some(0), Some(0), Some(0)]),
                // 1 h 40.5 min: 1.675 h exactly; closed_at stands in for a missing resolved_at
                ms("resolved_at", &[Some(6_030_000), None, Some(30 * h), None]),
                ms("closed_at", &[None, Some(5 * h), Some(31 * h), None]),
                Int32Chunked::from_iter_options("priority".into(), [Some(1), Some(1), None, Some(2)].into_iter())
                    .into_column(),
                BooleanChunked::from_iter_options("made_sla".into(), [None, None, Some(true), None].into_iter())
                    .into_column(),
            ],
        )
        .unwrap();
        for c in derived_ticket_columns(&df, &Config::default()).unwrap() {
            df.with_column(c).unwrap();
        }
        let bools = |name: &str| df.column(name).unwrap().bool().unwrap().iter().collect::<Vec<_>>();
        let hours: Vec<Option<f64>> = df.column("resolution_hours").unwrap().f64().unwrap().iter().collect();
        assert_eq!(bools("is_resolved"), [Some(true), Some(true), Some(true), Some(false)]);
        // the quotient rounded once (times the reciprocal of 3,600,000 it is 1.6749999999999998)
        assert_eq!(hours, [Some(1.675), Some(5.0), Some(30.0), None]);
        // priority 1: 4 h target; the export's made_sla wins over 30 h against the 24 h default;
        // an open ticket has no outcome yet
        assert_eq!(bools("sla_met"), [Some(true), Some(false), Some(true), None]);
    }

    #[test]
    fn period_groups_span_the_records_periods() {
        // months: March 2024 to May 2024 across the tickets and the audits
        let at = |rows: &[(u32, i64)]| {
            let t = Int64Chunked::from_iter_values("attributed_at".into(), rows.iter().map(|r| r.1))
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column();
            let p = UInt32Chunked::from_iter_values("process_id".into(), rows.iter().map(|r| r.0)).into_column();
            DataFrame::new(rows.len(), vec![p, t]).unwrap()
        };
        let march = 1_709_251_200_000; // 2024-03-01
        let may = 1_714_521_600_000; // 2024-05-01
        let (tickets, changes, audits) = (at(&[(0, march + 1), (2, march + 2)]), at(&[]), at(&[(2, may + 5)]));
        let (g, grps) =
            PeriodGrp::columns(&[&tickets, &changes, &audits], 3, Period::Month, Calendar::of(chrono_tz::UTC)).unwrap();
        assert_eq!((g.first, g.periods, g.narrow), (2024 * 12 + 2, 3, true));
        let values = |c: &Column| c.u32().unwrap().iter().collect::<Vec<_>>();
        // process 0 and 2 in March (0 × 3 + 0, 2 × 3 + 0); process 2 in May: 2 × 3 + 2
        assert_eq!(values(&grps[0]), [Some(0), Some(6)]);
        assert_eq!(values(&grps[2]), [Some(8)]);
        assert_eq!(g.split(8), (2, 2024 * 12 + 4));
        assert_eq!(period_label(g.split(8).1, Period::Month), "2024-05");
    }

    #[test]
    fn periods_on_the_local_calendar() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let berlin = Calendar::of("Europe/Berlin".parse().unwrap());
        let month =
            |t: &str, c: Calendar| period_index(ms(t), Period::Month, c).map(|i| period_label(i.into(), Period::Month));
        // 22:30 UTC on 31 March 2024 is 00:30 on 1 April in Berlin (summer time, +2), and
        // 23:30 UTC on 31 January is 00:30 on 1 February (winter time, +1)
        assert_eq!(month("2024-03-31T22:30:00Z", berlin).as_deref(), Some("2024-04"));
        assert_eq!(month("2024-03-31T21:30:00Z", berlin).as_deref(), Some("2024-03"));
        assert_eq!(month("2024-01-31T23:30:00Z", berlin).as_deref(), Some("2024-02"));
        assert_eq!(month("2024-01-31T23:30:00Z", Calendar::of(chrono_tz::UTC)).as_deref(), Some("2024-01"));
        // Etc/GMT+5 is five hours behind UTC (the sign is POSIX's)
        let gmt_plus_5 = Calendar::of("Etc/GMT+5".parse().unwrap());
        assert!(matches!(gmt_plus_5, Calendar::Fixed(-18_000_000)));
        assert_eq!(month("2024-04-01T04:59:00Z", gmt_plus_5).as_deref(), Some("2024-03"));
        // ISO weeks start on Monday: Sunday 31 March 2024 is 2024-W13, Monday 1 April 2024-W14;
        // 29 December 2025 (a Monday) starts 2026-W01; quarters
        let week = |t: &str| period_index(ms(t), Period::Week, berlin).map(|i| period_label(i.into(), Period::Week));
        assert_eq!(week("2024-03-31T12:00:00Z").as_deref(), Some("2024-W13"));
        assert_eq!(week("2024-03-31T22:30:00Z").as_deref(), Some("2024-W14"));
        assert_eq!(week("2025-12-29T00:00:00Z").as_deref(), Some("2026-W01"));
        let quarter = period_index(ms("2024-06-30T22:30:00Z"), Period::Quarter, berlin);
        assert_eq!(quarter.map(|i| period_label(i.into(), Period::Quarter)).as_deref(), Some("2024-Q3"));
    }

    /// Worked out an hour at a time, the periods are those of every instant on its own: across
    /// month ends, DST changes (Berlin, and Lord Howe's half-hour one) and a zone half an hour
    /// off the hour, for instants in time order and out of it, with gaps.
    #[test]
    fn periods_an_hour_at_a_time_are_those_of_each_instant() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let zones = ["Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "UTC"];
        let starts = ["2024-03-30T20:00:00Z", "2024-10-26T20:00:00Z", "2024-04-06T12:00:00Z", "2023-12-31T10:00:00Z"];
        for zone in zones {
            let calendar = Calendar::of(zone.parse().unwrap());
            for start in starts {
                // every 7 minutes for two days, then the same instants shuffled, with gaps
                let mut times: Vec<Option<i64>> =
                    (0..2 * 24 * 60 / 7).map(|k| Some(ms(start) + k * 7 * 60_000)).collect();
                let shuffled: Vec<Option<i64>> = (0..times.len()).map(|k| times[(k * 37) % times.len()]).collect();
                times.extend(shuffled);
                times[5] = None;
                for period in [Period::Month, Period::Week, Period::Quarter] {
                    let mut got = vec![Some(-1); times.len()];
                    period_indices_into(times.iter().copied(), period, calendar, &mut got);
                    let expected: Vec<Option<i32>> =
                        times.iter().map(|t| t.and_then(|t| period_index(t, period, calendar))).collect();
                    assert_eq!(got, expected, "{zone} from {start}");
                }
            }
        }
    }

    #[test]
    fn pair_keys_group_by_both_columns() {
        // narrow ranges pack into 32 bits
        let grp = [Some(1), Some(1), Some(2), Some(2), None, Some(1), Some(-3)];
        let values = [Some(5), Some(6), Some(5), Some(5), Some(5), None, Some(6)];
        assert_keys_pair_up(&grp, &values, DataType::UInt32);
        // wider ranges pack into 64 bits
        let grp = [Some(0), Some(1 << 40), Some(0), Some(1 << 40)];
        let values = [Some(0), Some(0), Some(1 << 20), Some(0)];
        assert_keys_pair_up(&grp, &values, DataType::UInt64);
        // ranges too wide to pack: the pairs are numbered
        let grp = [Some(i64::MIN), Some(i64::MAX), Some(i64::MIN), Some(0), None];
        let values = [Some(0), Some(1), Some(0), Some(i64::MAX), Some(1)];
        assert_keys_pair_up(&grp, &values, DataType::UInt64);
        // a 32-bit grp is read as it is
        let grp = UInt32Chunked::from_slice("grp".into(), &[1, 1, 2]).into_column();
        let values = Int64Chunked::from_slice("x".into(), &[5, 6, 5]).into_column();
        let keys = pair_key(&grp, &values, "grp_x", None).unwrap();
        let keys: Vec<Option<u32>> = keys.u32().unwrap().iter().collect();
        assert!(keys[0] != keys[1] && keys[0] != keys[2] && keys[1] != keys[2]);
        // a side empty throughout: no key at all
        assert_keys_pair_up(&[None, None], &[Some(1), Some(2)], DataType::UInt32);
    }

    #[test]
    fn pair_keys_of_separate_tables_meet_only_with_a_shared_range() {
        let key = |g: i64, range: Option<(i64, i64)>| {
            let grp = Int64Chunked::from_slice("grp".into(), &[g]).into_column();
            let values = Int64Chunked::from_slice("x".into(), &[7]).into_column();
            pair_key(&grp, &values, "grp_x", range).unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().get(0)
        };
        // each table alone starts from its own smallest grp: window 0 and window 2 meet
        assert_eq!(key(0, None), key(2, None));
        assert_ne!(key(0, Some((0, 4))), key(2, Some((0, 4))));
        // a shared range too wide to pack is an error, not a silent meeting
        let grp = Int64Chunked::from_slice("grp".into(), &[0]).into_column();
        let values = Int64Chunked::from_slice("x".into(), &[i64::MIN, i64::MAX]).into_column();
        assert!(pair_key(&grp, &values, "grp_x", Some((0, 4))).is_err());
    }

    #[test]
    fn groups_in_rising_runs_are_marked_sorted_and_interleaved_ones_not() {
        let flag = |grp: &[i64]| {
            let mut df = df!("grp" => grp).unwrap();
            mark_runs(&mut df).unwrap();
            df.column("grp").unwrap().is_sorted_flag()
        };
        assert_eq!(flag(&[1, 1, 2, 5, 5]), polars::series::IsSorted::Ascending);
        assert_eq!(flag(&[1, 2, 1]), polars::series::IsSorted::Not);
        let mut with_null = DataFrame::new(2, vec![Column::new("grp".into(), [Some(1i64), None])]).unwrap();
        mark_runs(&mut with_null).unwrap();
        assert_eq!(with_null.column("grp").unwrap().is_sorted_flag(), polars::series::IsSorted::Not);
    }

    #[test]
    fn pair_keys_only_for_the_columns_named_with_grp() {
        let q = parse_query(
            Path::new("q.sql"),
            "-- metric: m\n-- better: lower\nSELECT MIN(grp) AS grp, 1 AS m FROM tickets GROUP BY grp_assignee",
        )
        .unwrap();
        let df = df!("assignee" => ["a", "b"], "grp" => [1i64, 2], "hours" => [1.0, 2.0]).unwrap();
        let df = df
            .lazy()
            .with_column(col("assignee").cast(DataType::from_categories(Categories::global())))
            .collect()
            .unwrap();
        assert_eq!(paired_columns(&df, std::slice::from_ref(&q)), vec!["assignee".to_string()]);
        let with_keys = with_pair_keys(df, &[q]).unwrap();
        assert_eq!(with_keys.column("grp_assignee").unwrap().null_count(), 0);
    }

    #[test]
    fn parameters_are_bound_outside_comments_and_strings() {
        let q = Query {
            path: "x.sql".into(),
            metrics: vec![Metric::new("m")],
            definition: String::new(),
            unit: String::new(),
            better: Better::Lower,
            order: None,
            sql: "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= :min_analyst_tickets AND :error_includes_reopened".into(),
        };
        let out = bind(&q, &Config::default()).unwrap();
        assert_eq!(out, "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= 5 AND TRUE");
        let bad = Query { sql: "SELECT :nope".into(), ..q };
        assert!(bind(&bad, &Config::default()).unwrap_err().to_string().contains("unknown parameter :nope"));
    }

    #[test]
    fn period_labels() {
        assert_eq!(period_label(2024 * 12 + 2, Period::Month), "2024-03");
        assert_eq!(period_label(2024 * 4, Period::Quarter), "2024-Q1");
        // year 1 (and any year before 1000) in four digits, as weeks have it
        assert_eq!(period_label(12, Period::Month), "0001-01");
        assert_eq!(period_label(4, Period::Quarter), "0001-Q1");
        assert_eq!(period_label(999 * 12 + 11, Period::Month), "0999-12");
        // 2024-01-01 is a Monday: days since epoch 19723, week index (19723 + 3) / 7 = 2818
        assert_eq!(period_label(2818, Period::Week), "2024-W01");
    }

    #[test]
    fn bundled_queries_give_the_documented_columns_and_facts() {
        let qs = load_queries(None).unwrap();
        let names: Vec<&str> = columns(&qs).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tickets",
                "resolved",
                "open",
                "reopen_rate",
                "error_rate",
                "escalation_rate",
                "sla_attainment",
                "mttr_mean_h",
                "mttr_median_h",
                "mttr_p90_h",
                "audit_exceptions",
                "audit_exceptions_per_1k",
                "changes",
                "change_failure_rate",
                "analyst_cv"
            ],
            "the order of the metric tables"
        );
        let compared: Vec<&str> = compared(&qs).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            compared,
            [
                "reopen_rate",
                "error_rate",
                "escalation_rate",
                "sla_attainment",
                "mttr_median_h",
                "audit_exceptions_per_1k",
                "change_failure_rate"
            ]
        );
        let panels: Vec<&str> = chart_panels(&qs).iter().map(|m| m.label.as_str()).collect();
        assert_eq!(panels, ["Reopen rate", "Error rate", "MTTR (median)", "SLA attainment"]);
        let sla = metric(&qs, "sla_attainment").unwrap();
        assert_eq!((sla.better, sla.kind), (Better::Higher, Kind::Proportion));
        let cfr = metric(&qs, "change_failure_rate").unwrap();
        assert_eq!((cfr.n.as_str(), cfr.of.as_str()), ("changes", "change requests"));
        let audit = metric(&qs, "audit_exceptions_per_1k").unwrap().rate.clone().unwrap();
        assert_eq!(
            (audit.events.as_str(), audit.per, audit.exposure.as_str()),
            ("audit_exceptions", 1000.0, "tickets")
        );
    }

    #[test]
    fn header_keys_are_checked() {
        let parse = |text: &str| parse_query(Path::new("q.sql"), text);
        assert!(parse("-- metric: a\n-- better: lower\nSELECT 1").is_ok(), "a minimal header");
        let e = parse("-- metric: a\n-- better: lower\n-- label b: B\nSELECT 1").unwrap_err().to_string();
        assert!(e.contains("`-- label b:`"), "{e}");
        let e = parse("-- metric: a\n-- better: lower\n-- compare: a\nSELECT 1").unwrap_err().to_string();
        assert!(e.contains("is compared but its kind"), "{e}");
        let q = parse("-- metric: a, b\n-- better: lower\n-- kind: proportion\n-- kind b: count\nSELECT 1\n-- label a: not read\n").unwrap();
        assert_eq!((q.metrics[0].kind, q.metrics[1].kind), (Kind::Proportion, Kind::Count));
        assert_eq!(q.metrics[0].label, "a", "comments inside the query are not header");
    }
}
