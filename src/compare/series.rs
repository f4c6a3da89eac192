//! Weekly series of every compared metric per process: the input of the trend-aware verdicts.
//! The values come from the same SQL files as the metric tables, run once over all records with
//! one group per (process, week); durations are the week's Kaplan–Meier median, so that tickets
//! still open count as "at least this long" instead of dropping out.

use std::collections::HashMap;

use polars::prelude::*;

use crate::attribute::Attributed;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, derive_change_columns, run_queries, Kind, Metric, Query};
use crate::stats::survival;

pub const WEEK_MS: i64 = 7 * 86_400_000;
/// 1970-01-05, a Monday: weeks start on Mondays at 00:00 UTC.
pub(super) const A_MONDAY_MS: i64 = 4 * 86_400_000;
/// Durations are compared on the log scale; a median below a minute is taken as a minute.
const SHORTEST_HOURS: f64 = 1.0 / 60.0;

/// The value of every compared metric, per process and week.
pub struct Weekly {
    /// the start of week 0 (UTC ms, a Monday)
    pub origin_ms: i64,
    /// weeks from the first record's to the last one's
    pub weeks: i64,
    /// metric → grp (process_id · weeks + week) → value; durations on the log scale
    values: HashMap<String, HashMap<i64, f64>>,
    /// process_id → tickets in the whole data
    pub tickets_by_process: HashMap<u32, u64>,
}

impl Weekly {
    /// The week an instant falls in.
    pub fn week_of(&self, ms: i64) -> i64 {
        (ms - self.origin_ms).div_euclid(WEEK_MS)
    }

    pub fn week_start(&self, week: i64) -> i64 {
        self.origin_ms + week * WEEK_MS
    }

    fn grp(&self, process_id: u32, week: i64) -> Option<i64> {
        (0..self.weeks).contains(&week).then(|| i64::from(process_id) * self.weeks + week)
    }

    /// A metric's value in one week of one process, on the scale the trend is fitted on.
    pub fn value(&self, metric: &str, process_id: u32, week: i64) -> Option<f64> {
        let grp = self.grp(process_id, week)?;
        self.values.get(metric)?.get(&grp).copied().filter(|v| v.is_finite())
    }

    /// How much a week's value counts in the fit: the records it is over (its tickets, or the
    /// proportion's denominator, or the rate's exposure).
    pub fn weight(&self, metric: &Metric, process_id: u32, week: i64) -> f64 {
        let over = match (metric.kind, &metric.rate) {
            (Kind::Rate, Some(rate)) => rate.exposure.as_str(),
            (Kind::Proportion, _) => metric.n.as_str(),
            _ => "tickets",
        };
        let fallback = if over == "tickets" { None } else { self.value("tickets", process_id, week) };
        self.value(over, process_id, week).or(fallback).filter(|w| *w > 0.0).unwrap_or(1.0)
    }
}

/// Whether a metric is fitted on the log scale (durations) or as it is.
pub fn log_scale(metric: &Metric) -> bool {
    metric.kind == Kind::Duration
}

/// The weekly series of every compared metric (and the counts they are weighted by).
pub fn weekly(att: &Attributed, cfg: &Config, queries: &[Query], as_of_ms: i64) -> Result<Weekly> {
    let attributed = crate::attribute::attributed_ms(&att.tickets)?;
    let (Some(first), Some(last)) = (attributed.min(), attributed.max()) else {
        return Ok(Weekly { origin_ms: 0, weeks: 0, values: HashMap::new(), tickets_by_process: HashMap::new() });
    };
    let origin_ms = A_MONDAY_MS + (first - A_MONDAY_MS).div_euclid(WEEK_MS) * WEEK_MS;
    let weeks = (last - origin_ms).div_euclid(WEEK_MS) + 1;
    let week = (col("attributed_at").dt().timestamp(TimeUnit::Milliseconds) - lit(origin_ms)) / lit(WEEK_MS);
    let grp = (col("process_id").cast(DataType::Int64) * lit(weeks) + week).alias("grp");
    let with_grp = |lf: LazyFrame| {
        let t = col("attributed_at").dt().timestamp(TimeUnit::Milliseconds);
        lf.filter(t.clone().gt_eq(lit(origin_ms)).and(t.lt(lit(origin_ms + weeks * WEEK_MS)))).with_column(grp.clone())
    };
    // Only the files that hold a compared metric, and the ticket counts the weights use.
    let wanted = metrics::feeding_comparisons(queries);
    // The weeks span every ticket, so the tickets need no filter: the table gains its `grp`
    // column and is not copied (a filtered copy of 10 million tickets took 0.5 GB).
    let tickets =
        att.tickets.clone().lazy().select(super::columns_read(&att.tickets, &wanted)).with_column(grp.clone());
    let tickets = metrics::grouped_tickets(tickets, &wanted)?;
    crate::diag::trace("weekly groups placed");
    let changes = with_grp(derive_change_columns(&att.changes, cfg));
    let audits = with_grp(att.audits.clone().lazy());
    let mut values = metrics::values_by_grp(&run_queries(&wanted, cfg, tickets.clone(), changes, audits)?)?;
    let medians = censored_medians(tickets, as_of_ms)?;
    for m in metrics::compared(queries).into_iter().filter(|m| log_scale(m)) {
        values.insert(m.name.clone(), medians.clone());
    }
    let mut tickets_by_process: HashMap<u32, u64> = HashMap::new();
    for (grp, n) in values.get("tickets").into_iter().flatten() {
        *tickets_by_process.entry(grp.div_euclid(weeks) as u32).or_default() += n.round() as u64;
    }
    crate::diag::trace("weekly series computed");
    Ok(Weekly { origin_ms, weeks, values, tickets_by_process })
}

/// Per grp: the log of the Kaplan–Meier median hours to resolve, open tickets censored at
/// `as_of_ms`; no value where half the tickets or more are still open.
fn censored_medians(tickets: LazyFrame, as_of_ms: i64) -> Result<HashMap<i64, f64>> {
    let df = tickets.select([col("grp"), col("is_resolved"), col("resolution_hours"), col("opened_at")]).collect()?;
    let grp = df.column("grp")?.i64()?;
    let resolved = df.column("is_resolved")?.bool()?;
    let resolution = df.column("resolution_hours")?.f64()?;
    let opened = crate::attribute::timestamp_ms(&df, "opened_at")?;
    let records = || {
        grp.iter()
            .zip(resolved.iter())
            .zip(resolution.iter())
            .zip(opened.iter())
            .filter_map(|(((g, r), h), o)| Some((g?, super::hours_or_open_so_far(r, h, o, as_of_ms)?)))
    };
    let (samples, place) = match in_runs(records(), grp.len()) {
        Some(placed) => placed,
        None => counting_sort(records),
    };
    drop(df);
    // each group's median on one of the cores (a sort of its records each)
    let groups: Vec<(i64, &[super::Hours])> =
        place.into_iter().filter_map(|(g, start, end)| Some((g, samples.get(start..end)?))).collect();
    let medians = crate::cores::share(
        groups,
        |(_, records)| records.len(),
        // (the records straight to sort keys: no copy of them as 16-byte pairs)
        |(g, records)| Some((g, survival::km_median_of(records.iter().map(|h| h.pair()))?.max(SHORTEST_HOURS).ln())),
    );
    Ok(medians.into_iter().flatten().collect())
}

/// Each group's records side by side, and where each group's are (group, start, end).
type Placed = (Vec<super::Hours>, Vec<(i64, usize, usize)>);

/// The records as they come, when each group's come in one run (the tickets are in process and
/// time order, so a process's weeks follow each other); None as soon as a group comes back.
fn in_runs(records: impl Iterator<Item = (i64, super::Hours)>, at_most: usize) -> Option<Placed> {
    let mut samples = Vec::with_capacity(at_most);
    let mut place: Vec<(i64, usize, usize)> = Vec::new();
    for (g, record) in records {
        match place.last_mut() {
            Some((last, _, end)) if *last == g => *end += 1,
            Some((last, _, _)) if *last > g => return None,
            _ => place.push((g, samples.len(), samples.len() + 1)),
        }
        samples.push(record);
    }
    Some((samples, place))
}

/// Each group's records side by side, placed by a counting sort on the group: one array of the
/// samples, where sorting the table by group held it twice.
fn counting_sort<I: Iterator<Item = (i64, super::Hours)>>(records: impl Fn() -> I) -> Placed {
    // Per group: where its records start, and where the next one goes (after the placing,
    // where they end). Looked up twice per record: a fast hash, not the default's
    // DoS-resistant one.
    let mut place: PlHashMap<i64, (usize, usize)> = PlHashMap::new();
    for (g, _) in records() {
        place.entry(g).or_default().1 += 1;
    }
    let mut total = 0;
    for (start, next) in place.values_mut() {
        (*start, *next, total) = (total, total, total + *next);
    }
    let mut samples = vec![super::Hours::new(0.0, false); total];
    for (g, record) in records() {
        if let Some((_, next)) = place.get_mut(&g) {
            if let Some(slot) = samples.get_mut(*next) {
                *slot = record;
            }
            *next += 1;
        }
    }
    (samples, place.into_iter().map(|(g, (start, end))| (g, start, end)).collect())
}

#[cfg(test)]
impl Weekly {
    /// A made-up set of weekly series of one metric, each week over 100 tickets.
    pub fn of_series(metric: &str, weeks: i64, series: &[(u32, Vec<Option<f64>>)]) -> Weekly {
        let mut values: HashMap<String, HashMap<i64, f64>> = HashMap::new();
        let mut tickets_by_process = HashMap::new();
        for (process, s) in series {
            for (week, v) in s.iter().enumerate() {
                let grp = i64::from(*process) * weeks + week as i64;
                if let Some(v) = v {
                    values.entry(metric.to_string()).or_default().insert(grp, *v);
                }
                values.entry("tickets".into()).or_default().insert(grp, 100.0);
            }
            tickets_by_process.insert(*process, 100 * s.len() as u64);
        }
        Weekly { origin_ms: A_MONDAY_MS, weeks, values, tickets_by_process }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Hours;

    fn groups(placed: &Placed) -> Vec<(i64, Vec<f64>)> {
        let mut groups: Vec<(i64, Vec<f64>)> =
            placed.1.iter().map(|&(g, start, end)| (g, placed.0[start..end].iter().map(|h| h.0).collect())).collect();
        groups.sort_by_key(|(g, _)| *g);
        groups
    }

    /// Records in runs are taken as they come; a group that comes back makes it a counting sort,
    /// which places the same records in each group, in their order.
    #[test]
    fn groups_records_in_runs_or_by_counting() {
        let h = |x: f64| Hours::new(x, true);
        let runs = vec![(1, h(1.0)), (1, h(2.0)), (3, h(3.0)), (4, h(4.0)), (4, h(5.0))];
        let placed = in_runs(runs.clone().into_iter(), runs.len()).unwrap();
        assert_eq!(groups(&placed), vec![(1, vec![1.0, 2.0]), (3, vec![3.0]), (4, vec![4.0, 5.0])]);
        assert_eq!(groups(&counting_sort(|| runs.clone().into_iter())), groups(&placed));
        let back = vec![(1, h(1.0)), (3, h(3.0)), (1, h(2.0))];
        assert!(in_runs(back.clone().into_iter(), back.len()).is_none());
        assert_eq!(groups(&counting_sort(|| back.clone().into_iter())), vec![(1, vec![1.0, 2.0]), (3, vec![3.0])]);
    }
}
