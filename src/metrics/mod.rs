//! The metrics engine: the SQL files in `queries/` run by polars SQL over the attributed
//! tables, once per SOP version and once per process and period (docs/outputs.md).
//!
//! Here: what a metric is and [`compute`]. `query_file` reads the SQL files and their headers,
//! `derive` adds the columns they read that exports lack, `groups` makes the process × period
//! keys, `run` binds and runs the queries, `assemble` puts the two tables together. The period
//! calendar is in `crate::period`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::arrays::{Bits, Dense, Nullable};
use crate::attribute::{Attributed, TimelineRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::period::*;

mod assemble;
mod derive;
mod groups;
mod query_file;
mod run;

pub(crate) use derive::derive_change_columns;
pub use derive::derived_ticket_columns;
pub(crate) use groups::{grouped_tickets, pair_key, paired_columns};
pub use query_file::{load_queries, query_dir};
pub(crate) use run::{named, reads_column, run_queries, run_queries_in_parts};

use assemble::*;
use groups::*;
use run::*;
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
