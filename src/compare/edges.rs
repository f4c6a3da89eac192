//! The edges of an export: the weeks at its start and end that no comparison can trust, found by
//! a stated rule on the whole desk's weekly figures.
//!
//! An export is a window of activity. In its first weeks the tickets it holds are mostly the
//! ones that were opened long before and are still running (left truncation): the desk's median
//! time to resolve stands far above the rest. In its last weeks most tickets are still open. Either
//! makes every SOP change near an edge look like a large effect. The rule, on the desk-wide weekly
//! log Kaplan–Meier median time to resolve `m` (open tickets censored at the run's date):
//!
//! 1. *Thin* edges: leading and trailing weeks with fewer than a quarter of a typical week's
//!    tickets (the ticket-weighted median weekly count) are left out; so is a week where half
//!    the tickets or more are still open at the end.
//! 2. The week-to-week noise σ = 1.4826 · median |m_w − m_{w−1}| / √2 over the remaining weeks
//!    (from differences, so a level shift or a trend does not inflate it), at least 0.1.
//! 3. *Warm-up*: the leading weeks whose `m` lies more than 3σ above the median of the first 13
//!    weeks (a quarter), at most 6 of them (fewer than half, so that the median stays on the
//!    body of the export).
//! 4. *Cool-down*: likewise the trailing weeks more than 3σ from the median of the last 13.
//!
//! The band (reference ± 3σ) can be drawn on the weekly medians: what falls outside at an edge
//! is left out of every window and weekly series, and named in the data-quality section.

use super::series::{A_MONDAY_MS, WEEK_MS};
use super::{Hours, Interval};
use crate::attribute::{attributed_ms, timestamp_ms, Attributed};
use crate::error::{Error, Result};
use crate::stats::survival;
use polars::prelude::ChunkAgg;

/// Weeks a reference median is taken over (a quarter of a year).
const REFERENCE_WEEKS: usize = 13;
/// At most this many weeks at either edge are told apart by their durations: fewer than half
/// the reference, which then stays on the body of the export.
const MOST_EDGE_WEEKS: usize = REFERENCE_WEEKS / 2;
/// How far outside the band a week must lie, in robust standard deviations.
const BAND_SDS: f64 = 3.0;
/// The least noise assumed (log scale: about ±10%), so that a very even desk does not flag
/// ordinary weeks.
const LEAST_SIGMA: f64 = 0.1;
/// A week with fewer than this share of a typical week's tickets is thin.
const THIN_SHARE: f64 = 0.25;

/// The whole desk in one week (weeks start on Mondays, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct DeskWeek {
    pub start_ms: i64,
    pub tickets: u64,
    /// still open at the run's date
    pub open: u64,
    /// log of the Kaplan–Meier median hours to resolve; None where half or more are open
    pub log_median: Option<f64>,
}

impl DeskWeek {
    fn open_share(&self) -> f64 {
        if self.tickets == 0 {
            0.0
        } else {
            self.open as f64 / self.tickets as f64
        }
    }
}

/// Why an edge week was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// fewer than a quarter of a typical week's tickets
    Thin,
    /// half or more of its tickets still open
    MostlyOpen,
    /// its median time to resolve outside the band
    Durations,
}

/// What the rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEdges {
    /// the weeks kept: [start of the first, end of the last)
    pub keep: Interval,
    /// the weeks left out at the start and at the end, with why
    pub warm_up: Vec<(DeskWeek, Why)>,
    pub cool_down: Vec<(DeskWeek, Why)>,
    /// the reference medians (hours) at the start and at the end, and σ (log scale)
    pub reference_hours: (f64, f64),
    pub sigma: f64,
    /// the ticket-weighted median weekly count
    pub typical_week: u64,
}

impl ExportEdges {
    /// Nothing left out: every window as it is.
    pub fn none() -> ExportEdges {
        ExportEdges {
            keep: Interval { start: None, end: None },
            warm_up: Vec::new(),
            cool_down: Vec::new(),
            reference_hours: (f64::NAN, f64::NAN),
            sigma: f64::NAN,
            typical_week: 0,
        }
    }
}

/// The desk-wide weekly figures of the attributed tickets.
pub fn desk_weeks(att: &Attributed, as_of_ms: i64) -> Result<Vec<DeskWeek>> {
    let attributed = attributed_ms(&att.tickets)?;
    let (Some(first), Some(last)) = (attributed.min(), attributed.max()) else { return Ok(Vec::new()) };
    let origin = A_MONDAY_MS + (first - A_MONDAY_MS).div_euclid(WEEK_MS) * WEEK_MS;
    let weeks = ((last - origin).div_euclid(WEEK_MS) + 1) as usize;
    let column = |name: &str| att.tickets.column(name).map_err(Error::from);
    let resolved = column("is_resolved")?.bool()?.clone();
    let hours = column("resolution_hours")?.f64()?.clone();
    let opened = timestamp_ms(&att.tickets, "opened_at")?;
    let mut by_week: Vec<Vec<Hours>> = vec![Vec::new(); weeks];
    let mut tickets = vec![0u64; weeks];
    for (((a, r), h), o) in attributed.iter().zip(resolved.iter()).zip(hours.iter()).zip(opened.iter()) {
        let Some(a) = a else { continue };
        let w = (a - origin).div_euclid(WEEK_MS) as usize;
        if let Some(t) = tickets.get_mut(w) {
            *t += 1;
        }
        if let (Some(record), Some(list)) = (super::hours_or_open_so_far(r, h, o, as_of_ms), by_week.get_mut(w)) {
            list.push(record);
        }
    }
    let medians = crate::cores::share(
        by_week.into_iter().enumerate().collect(),
        |(_, r)| r.len(),
        |(w, records)| {
            let open = records.iter().filter(|h| !h.resolved()).count() as u64;
            let median = survival::km_median_of(records.iter().map(|h| h.pair())).map(|m| m.max(1.0 / 60.0).ln());
            (w, open, median)
        },
    );
    // (the cores hand the weeks back in the order they finished them)
    let mut medians = medians;
    medians.sort_by_key(|m| m.0);
    Ok(medians
        .into_iter()
        .map(|(w, open, log_median)| DeskWeek {
            start_ms: origin + w as i64 * WEEK_MS,
            tickets: tickets.get(w).copied().unwrap_or(0),
            open,
            log_median,
        })
        .collect())
}

/// Find the edges of the export in its desk-wide weeks.
pub fn detect(weeks: &[DeskWeek]) -> ExportEdges {
    let (lead, trail, found) = edge_rule(weeks);
    if weeks.is_empty() || lead + trail >= weeks.len() {
        return ExportEdges::none();
    }
    let Some((first, last)) = weeks.get(lead).zip(weeks.get(weeks.len() - 1 - trail)) else {
        return ExportEdges::none();
    };
    let keep =
        Interval { start: (lead > 0).then_some(first.start_ms), end: (trail > 0).then_some(last.start_ms + WEEK_MS) };
    let tagged = |range: std::ops::Range<usize>| -> Vec<(DeskWeek, Why)> {
        range.filter_map(|i| Some((weeks.get(i)?.clone(), *found.why.get(i)?))).collect()
    };
    ExportEdges {
        keep,
        warm_up: tagged(0..lead),
        cool_down: tagged(weeks.len() - trail..weeks.len()),
        reference_hours: (found.reference.0.exp(), found.reference.1.exp()),
        sigma: found.sigma,
        typical_week: found.typical_week,
    }
}

/// What the rule worked with, week by week.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// why each week at an edge was left out (`Durations` for the rest, unused)
    pub why: Vec<Why>,
    pub reference: (f64, f64),
    pub sigma: f64,
    pub typical_week: u64,
}

/// The rule of the module docs: how many weeks to leave out at the start and at the end.
pub fn edge_rule(weeks: &[DeskWeek]) -> (usize, usize, Found) {
    let mut why = vec![Why::Durations; weeks.len()];
    let typical_week = weighted_median_count(weeks);
    let thin = |w: &DeskWeek| (w.tickets as f64) < THIN_SHARE * typical_week as f64;
    let unusable = |w: &DeskWeek| thin(w) || w.open_share() >= 0.5 || w.log_median.is_none();
    let reason = |w: &DeskWeek| if thin(w) { Why::Thin } else { Why::MostlyOpen };
    let mut lead = 0;
    while lead < weeks.len() && weeks.get(lead).is_some_and(unusable) {
        if let (Some(slot), Some(w)) = (why.get_mut(lead), weeks.get(lead)) {
            *slot = reason(w);
        }
        lead += 1;
    }
    let mut trail = 0;
    while lead + trail < weeks.len() && weeks.get(weeks.len() - 1 - trail).is_some_and(unusable) {
        let i = weeks.len() - 1 - trail;
        if let (Some(slot), Some(w)) = (why.get_mut(i), weeks.get(i)) {
            *slot = reason(w);
        }
        trail += 1;
    }
    let body: Vec<f64> = weeks
        .get(lead..weeks.len() - trail)
        .unwrap_or_default()
        .iter()
        .map(|w| w.log_median.unwrap_or(f64::NAN))
        .collect();
    let differences: Vec<f64> =
        body.windows(2).filter_map(|p| Some((p.get(1)? - p.first()?).abs())).filter(|d| d.is_finite()).collect();
    let sigma = (1.4826 * median(differences) / std::f64::consts::SQRT_2).max(LEAST_SIGMA);
    let finite = |v: &[f64]| v.iter().copied().filter(|x| x.is_finite()).collect::<Vec<f64>>();
    let start_ref = median(finite(body.get(..REFERENCE_WEEKS.min(body.len())).unwrap_or_default()));
    let end_ref = median(finite(body.get(body.len().saturating_sub(REFERENCE_WEEKS)..).unwrap_or_default()));
    let found = |why| Found { why, reference: (start_ref, end_ref), sigma, typical_week };
    // Too short for a reference on its own body: only the unusable weeks go.
    if body.len() < REFERENCE_WEEKS {
        return (lead, trail, found(why));
    }
    let outside_start = |m: f64| m > start_ref + BAND_SDS * sigma;
    let outside_end = |m: f64| (m - end_ref).abs() > BAND_SDS * sigma;
    let mut warm = 0;
    while warm < MOST_EDGE_WEEKS && body.get(warm).is_some_and(|m| outside_start(*m)) {
        warm += 1;
    }
    // A warm-up longer than the rule can tell apart is no warm-up it can find.
    if body.get(warm).is_some_and(|m| outside_start(*m)) {
        warm = 0;
    }
    let mut cool = 0;
    while cool < MOST_EDGE_WEEKS
        && body.len() > warm + cool
        && body.get(body.len() - 1 - cool).is_some_and(|m| outside_end(*m))
    {
        cool += 1;
    }
    if body.len() > warm + cool && body.get(body.len() - 1 - cool).is_some_and(|m| outside_end(*m)) {
        cool = 0;
    }
    (lead + warm, trail + cool, found(why))
}

/// The weekly count of the week that holds the middle ticket, weeks sorted by count.
fn weighted_median_count(weeks: &[DeskWeek]) -> u64 {
    let mut counts: Vec<u64> = weeks.iter().map(|w| w.tickets).collect();
    counts.sort_unstable();
    let total: u64 = counts.iter().sum();
    let mut seen = 0;
    for c in counts {
        seen += c;
        if 2 * seen >= total {
            return c;
        }
    }
    0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let (a, b) = (v.get((n - 1) / 2).copied().unwrap_or(f64::NAN), v.get(n / 2).copied().unwrap_or(f64::NAN));
    (a + b) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weeks(tickets: &[u64], hours: &[f64]) -> Vec<DeskWeek> {
        tickets
            .iter()
            .zip(hours)
            .enumerate()
            .map(|(i, (&n, &h))| DeskWeek {
                start_ms: i as i64 * WEEK_MS,
                tickets: n,
                open: 0,
                log_median: h.is_finite().then(|| h.ln()),
            })
            .collect()
    }

    /// The desk-wide weekly medians of the UCI ServiceNow log (resolved, else closed): weeks 0-4
    /// stand at 72-122 h, the rest of its active weeks at 2-19 h; after week 13 a thin tail.
    #[test]
    fn the_warm_up_and_thin_tail_of_a_real_export_are_found() {
        let hours = [96.0, 122.0, 75.0, 96.0, 72.0, 18.9, 8.7, 5.3, 2.1, 4.4, 6.4, 3.2, 3.0, 3.2, 3.1, 2.9, 3.3, 3.0];
        let mut tickets = vec![1500u64; 14];
        tickets.extend([31, 12, 5, 1]);
        let w = weeks(&tickets, &hours);
        let (lead, trail, found) = edge_rule(&w);
        assert_eq!((lead, trail), (5, 4), "{found:?}");
        assert_eq!(found.why[15], Why::Thin);
        let edges = detect(&w);
        assert_eq!(edges.keep, Interval { start: Some(5 * WEEK_MS), end: Some(14 * WEEK_MS) });
        assert_eq!(edges.warm_up.len(), 5);
    }

    /// A desk improving 25% a year with a ±15% season, some noise: nothing stands out.
    #[test]
    fn a_trend_and_a_season_are_no_edge() {
        let hours: Vec<f64> = (0..104)
            .map(|w| {
                let t = w as f64 / 52.0;
                let noise = [0.04, -0.03, 0.05, -0.06, 0.02][w % 5];
                20.0 * (0.75f64).powf(t) * (1.0 + 0.15 * (std::f64::consts::TAU * t).sin()) * (1.0 + noise)
            })
            .collect();
        let w = weeks(&vec![400; 104], &hours);
        let (lead, trail, _) = edge_rule(&w);
        assert_eq!((lead, trail), (0, 0));
        assert_eq!(detect(&w).keep, Interval { start: None, end: None });
    }

    #[test]
    fn mostly_open_last_weeks_are_left_out() {
        let mut w = weeks(&[300; 30], &[10.0; 30]);
        for week in w.iter_mut().skip(28) {
            week.open = 200;
        }
        w[29].log_median = None;
        let (lead, trail, found) = edge_rule(&w);
        assert_eq!((lead, trail), (0, 2));
        assert_eq!(found.why[28], Why::MostlyOpen);
    }
}
