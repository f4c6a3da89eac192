//! What to document next: every process scored by volume, risk, pain, inconsistency
//! and the state of its SOP, with the reasons in words; and the review calendar implied by each
//! SOP's risk.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use crate::attribute::{attributed_ms, TimelineRow, NO_SOP};
use crate::compare::Verdict;
use crate::error::Result;
use crate::metrics::{derive_change_columns, run_queries};
use crate::output::{cell, serialize_csv};
use crate::pipeline::Analysis;
use crate::render::markdown::thousands;
use crate::validate::VersionFacts;
use sop_impact_parse::time::format_date;

const MONTH_MS: f64 = 30.4375 * 86_400_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Missing,
    Stale,
    Current,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Missing => "missing",
            State::Stale => "stale",
            State::Current => "current",
        }
    }

    fn score(self) -> f64 {
        match self {
            State::Missing => 1.0,
            State::Stale => 0.6,
            State::Current => 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BacklogRow {
    pub rank: usize,
    pub process: String,
    pub sop_id: String,
    pub state: State,
    pub tickets_per_month: f64,
    pub volume: f64,
    pub risk: f64,
    pub pain: f64,
    pub inconsistency: f64,
    pub score: f64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ReviewRow {
    pub sop_id: String,
    pub process: String,
    pub version: String,
    pub effective_from: Option<i64>,
    pub risk_tier: &'static str,
    pub implied_next_review: Option<i64>,
    pub recorded_next_review: Option<i64>,
    pub flag: String,
}

pub struct Backlog {
    pub rows: Vec<BacklogRow>,
    pub calendar: Vec<ReviewRow>,
}

/// Per process_id: metric → value, over the whole history, from the same SQL files.
fn process_metrics(a: &Analysis) -> Result<HashMap<String, HashMap<i64, f64>>> {
    let cfg = &a.config;
    let by_process = |lf: LazyFrame| lf.with_column(col("process_id").cast(DataType::Int64).alias("grp"));
    let df = run_queries(
        &a.queries,
        cfg,
        crate::metrics::grouped_tickets(by_process(a.attributed.tickets.clone().lazy()), &a.queries)?,
        by_process(derive_change_columns(&a.attributed.changes, cfg)),
        by_process(a.attributed.audits.clone().lazy()),
    )?;
    let mut out = crate::metrics::values_by_grp(&df)?;
    // share of priority 1-2 tickets
    let urgent = a
        .attributed
        .tickets
        .clone()
        .lazy()
        .group_by([col("process_id")])
        .agg([col("priority").lt_eq(lit(2)).cast(DataType::Float64).mean().alias("urgent_share")])
        .collect()?;
    let ids: Vec<Option<u32>> = urgent.column("process_id")?.u32()?.iter().collect();
    let share: Vec<Option<f64>> = urgent.column("urgent_share")?.f64()?.iter().collect();
    let m = out.entry("urgent_share".into()).or_default();
    for (i, s) in ids.iter().zip(share) {
        if let (Some(i), Some(s)) = (i, s) {
            m.insert(*i as i64, s);
        }
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    crate::stats::ranks::quantile_sorted(&v, 0.5)
}

/// Each value divided by the largest (0 when there is none): components on a 0-1 scale.
fn scaled(values: &[Option<f64>]) -> Vec<f64> {
    let max = values.iter().flatten().copied().fold(0.0f64, f64::max);
    values.iter().map(|v| if max > 0.0 { v.unwrap_or(0.0) / max } else { 0.0 }).collect()
}

/// Rank every process: gather its facts, score its components, say its SOP state and the
/// reasons, rank; and the review calendar.
pub fn backlog(a: &Analysis) -> Result<Backlog> {
    let facts = Facts::gather(a)?;
    let components = Components::score(&facts);
    let mut rows: Vec<BacklogRow> = (0..facts.processes).filter_map(|pid| row(a, &facts, &components, pid)).collect();
    // Highest score first; ties by process name, so the order never depends on hashing.
    rows.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.process.cmp(&y.process)));
    for (k, r) in rows.iter_mut().enumerate() {
        r.rank = k + 1;
    }
    let calendar = review_calendar(a, &facts, &components);
    Ok(Backlog { rows, calendar })
}

/// What the ranking is computed from, per process id; every lookup is by index, so the ranking
/// is linear in the processes.
struct Facts<'a> {
    processes: usize,
    /// metric → process id → value, over the whole history
    metrics: HashMap<String, HashMap<i64, f64>>,
    /// months between the first and the last ticket (at least 1)
    span_months: f64,
    sops: BTreeMap<(String, String), VersionFacts>,
    /// the latest version of each process's SOP (None without an SOP)
    latest: Vec<Option<&'a TimelineRow>>,
    /// the times of the change requests on each process
    change_times: Vec<Vec<i64>>,
    /// (metric label, version) of every significant worsening, per SOP id
    worsened: HashMap<&'a str, Vec<(&'a str, &'a str)>>,
}

impl<'a> Facts<'a> {
    fn gather(a: &'a Analysis) -> Result<Self> {
        let processes = a.attributed.processes.len();
        let times = attributed_ms(&a.attributed.tickets)?;
        let span_months = match (times.min(), times.max()) {
            (Some(lo), Some(hi)) => ((hi - lo) as f64 / MONTH_MS).max(1.0),
            _ => 1.0,
        };
        let mut latest: Vec<Option<&TimelineRow>> = vec![None; processes];
        for r in a.attributed.timeline.iter().filter(|r| r.version != NO_SOP) {
            if let Some(slot) = latest.get_mut(r.process_id as usize) {
                *slot = Some(r);
            }
        }
        let mut change_times = vec![Vec::new(); processes];
        let c = &a.attributed.changes;
        let pids = c.column("process_id")?.u32()?.clone();
        let at = attributed_ms(c)?;
        for (p, t) in pids.iter().zip(at.iter()) {
            if let (Some(p), Some(t)) = (p, t) {
                if let Some(times) = change_times.get_mut(p as usize) {
                    times.push(t);
                }
            }
        }
        let mut worsened: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for r in a.comparisons.rows.iter().filter(|r| r.verdict == Verdict::Worsened) {
            let ch = &a.comparisons.changes[r.change];
            worsened.entry(ch.sop_id.as_str()).or_default().push((r.metric.label.as_str(), ch.to_version.as_str()));
        }
        Ok(Facts {
            processes,
            metrics: process_metrics(a)?,
            span_months,
            sops: crate::validate::version_facts(&a.data.sops)?,
            latest,
            change_times,
            worsened,
        })
    }

    fn get(&self, metric: &str, pid: usize) -> Option<f64> {
        self.metrics.get(metric).and_then(|x| x.get(&(pid as i64))).copied()
    }
}

/// The components of the score, each scaled 0–1 across the processes.
struct Components {
    per_month: Vec<Option<f64>>,
    volume: Vec<f64>,
    /// urgent share, audit exceptions per 1k, change failure rate
    risk_parts: [Vec<f64>; 3],
    /// reopen, escalation, error rate and MTTR, each relative to the median process
    pain_parts: [Vec<f64>; 4],
    inconsistency: Vec<f64>,
    /// the medians the pain is relative to, in the order of PAIN
    medians: [Option<f64>; 4],
}

/// The pain metrics and how a reason names them.
const PAIN: [(&str, &str); 4] = [
    ("reopen_rate", "reopen rate"),
    ("escalation_rate", "escalation rate"),
    ("error_rate", "error rate"),
    ("mttr_median_h", "MTTR"),
];

fn ratio(v: Option<f64>, med: Option<f64>) -> Option<f64> {
    match (v, med) {
        (Some(v), Some(m)) if m > 0.0 => Some(v / m),
        _ => None,
    }
}

impl Components {
    fn score(f: &Facts) -> Self {
        let n = f.processes;
        let column = |metric: &str| (0..n).map(|p| f.get(metric, p)).collect::<Vec<_>>();
        let medians = PAIN.map(|(metric, _)| median((0..n).filter_map(|p| f.get(metric, p)).collect()));
        let per_month: Vec<Option<f64>> = (0..n).map(|p| f.get("tickets", p).map(|t| t / f.span_months)).collect();
        let pain_parts: [Vec<f64>; 4] = std::array::from_fn(|k| {
            let (metric, _) = PAIN[k];
            scaled(&(0..n).map(|p| ratio(f.get(metric, p), medians[k])).collect::<Vec<_>>())
        });
        Components {
            volume: scaled(&per_month),
            per_month,
            risk_parts: [
                scaled(&column("urgent_share")),
                scaled(&column("audit_exceptions_per_1k")),
                scaled(&column("change_failure_rate")),
            ],
            pain_parts,
            inconsistency: scaled(&column("analyst_cv")),
            medians,
        }
    }

    fn risk(&self, pid: usize) -> f64 {
        self.risk_parts.iter().map(|p| p[pid]).sum::<f64>() / self.risk_parts.len() as f64
    }

    fn pain(&self, pid: usize) -> f64 {
        self.pain_parts.iter().map(|p| p[pid]).sum::<f64>() / self.pain_parts.len() as f64
    }
}

/// The backlog row of one process: its SOP state, reasons and score (None for a process
/// without tickets and without an SOP).
fn row(a: &Analysis, f: &Facts, c: &Components, pid: usize) -> Option<BacklogRow> {
    let tickets = f.get("tickets", pid).unwrap_or(0.0);
    if tickets == 0.0 && f.latest[pid].is_none() {
        return None;
    }
    let (state, sop_id, mut reasons) = sop_state(a, f, pid);
    if let Some(pm) = c.per_month[pid] {
        reasons.push(format!("{} tickets/month", thousands(pm.round() as u64)));
    }
    for (k, (metric, label)) in PAIN.iter().enumerate() {
        if let Some(r) = ratio(f.get(metric, pid), c.medians[k]) {
            if r >= 1.5 {
                reasons.push(format!("{label} {r:.1}× the median"));
            }
        }
    }
    if let Some(cv) = f.get("analyst_cv", pid).filter(|cv| *cv >= 0.5) {
        reasons.push(format!("analysts differ widely (CV {cv:.2})"));
    }
    let (risk, pain) = (c.risk(pid), c.pain(pid));
    let w = &a.config.backlog;
    let score = w.volume * c.volume[pid]
        + w.risk * risk
        + w.pain * pain
        + w.inconsistency * c.inconsistency[pid]
        + w.state * state.score();
    Some(BacklogRow {
        rank: 0,
        process: a.attributed.processes[pid].clone(),
        sop_id,
        state,
        tickets_per_month: c.per_month[pid].unwrap_or(0.0),
        volume: c.volume[pid],
        risk,
        pain,
        inconsistency: c.inconsistency[pid],
        score,
        reasons,
    })
}

/// Missing (no SOP), stale (review overdue, no owner, retired, change requests since the
/// version, or a metric that worsened after it) or current; with the reasons.
fn sop_state(a: &Analysis, f: &Facts, pid: usize) -> (State, String, Vec<String>) {
    let Some(v) = f.latest[pid] else { return (State::Missing, String::new(), vec!["no SOP".to_string()]) };
    let facts = f.sops.get(&(v.sop_id.clone(), v.version.clone()));
    let mut stale = Vec::new();
    if let Some(r) = facts.and_then(|f| f.next_review).filter(|r| *r < a.as_of_ms) {
        stale.push(format!("review overdue since {}", format_date(r)));
    }
    if facts.and_then(|f| f.owner.as_ref()).is_none() {
        stale.push("no owner".into());
    }
    if let Some(r) = facts.and_then(|f| f.retired_at).filter(|r| *r <= a.as_of_ms) {
        stale.push(format!("retired on {}", format_date(r)));
    }
    let since = v.effective_from.unwrap_or(i64::MIN);
    let changes = f.change_times[pid].iter().filter(|t| **t >= since).count();
    if changes > 0 {
        stale.push(format!("{changes} change request(s) on the process since version {} took effect", v.version));
    }
    for (label, version) in f.worsened.get(v.sop_id.as_str()).into_iter().flatten() {
        if *version == v.version {
            stale.push(format!("{label} worsened significantly after version {}", v.version));
        }
    }
    let state = if stale.is_empty() { State::Current } else { State::Stale };
    (state, v.sop_id.clone(), stale)
}

/// The review date each SOP's risk implies: risk tiers by thirds of the SOP-governed
/// processes, flagged where the recorded date is far from it.
fn review_calendar(a: &Analysis, f: &Facts, c: &Components) -> Vec<ReviewRow> {
    let mut governed: Vec<(usize, f64)> =
        (0..f.processes).filter(|p| f.latest[*p].is_some()).map(|p| (p, c.risk(p))).collect();
    governed.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    let third = governed.len().div_ceil(3).max(1);
    let mut calendar = Vec::new();
    for (k, (pid, _)) in governed.iter().enumerate() {
        let Some(v) = f.latest[*pid] else { continue };
        let (tier, months) = match k / third {
            0 => ("high", a.config.review.high_risk_months),
            1 => ("medium", a.config.review.medium_risk_months),
            _ => ("low", a.config.review.low_risk_months),
        };
        let implied = v.effective_from.and_then(|e| {
            chrono::DateTime::from_timestamp_millis(e)
                .and_then(|d| d.date_naive().checked_add_months(chrono::Months::new(months)))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
        });
        let recorded = f.sops.get(&(v.sop_id.clone(), v.version.clone())).and_then(|f| f.next_review);
        calendar.push(ReviewRow {
            sop_id: v.sop_id.clone(),
            process: v.process.clone(),
            version: v.version.clone(),
            effective_from: v.effective_from,
            risk_tier: tier,
            implied_next_review: implied,
            recorded_next_review: recorded,
            flag: review_flag(implied, recorded, tier, months),
        });
    }
    calendar.sort_by(|x, y| x.sop_id.cmp(&y.sop_id));
    calendar
}

fn review_flag(implied: Option<i64>, recorded: Option<i64>, tier: &str, months: u32) -> String {
    match (implied, recorded) {
        (Some(i), Some(r)) if r > i + 31 * 86_400_000 => {
            format!("recorded review is later than a {tier}-risk SOP should wait ({months} months)")
        }
        (Some(i), Some(r)) if r + 31 * 86_400_000 < i => {
            "recorded review is earlier than the risk tier needs".to_string()
        }
        (_, None) => "no review date recorded".to_string(),
        _ => String::new(),
    }
}

fn num(v: f64) -> String {
    crate::tables::format_float((v * 1e6).round() / 1e6)
}

/// A line of backlog.csv.
#[derive(serde::Serialize)]
struct BacklogLine {
    rank: usize,
    process: String,
    sop_id: String,
    state: &'static str,
    tickets_per_month: String,
    volume_score: String,
    risk_score: String,
    pain_score: String,
    inconsistency_score: String,
    score: String,
    reasons: String,
}

/// backlog.csv
pub fn backlog_csv(b: &Backlog) -> Result<Vec<u8>> {
    let header = [
        "rank",
        "process",
        "sop_id",
        "state",
        "tickets_per_month",
        "volume_score",
        "risk_score",
        "pain_score",
        "inconsistency_score",
        "score",
        "reasons",
    ];
    let rows: Vec<BacklogLine> = b
        .rows
        .iter()
        .map(|r| BacklogLine {
            rank: r.rank,
            process: cell(&r.process),
            sop_id: cell(&r.sop_id),
            state: r.state.name(),
            tickets_per_month: num(r.tickets_per_month),
            volume_score: num(r.volume),
            risk_score: num(r.risk),
            pain_score: num(r.pain),
            inconsistency_score: num(r.inconsistency),
            score: num(r.score),
            reasons: r.reasons.join("; "),
        })
        .collect();
    serialize_csv("backlog.csv", &header, &rows)
}

/// A line of review_calendar.csv.
#[derive(serde::Serialize)]
struct CalendarLine {
    sop_id: String,
    process: String,
    version: String,
    effective_from: String,
    risk_tier: &'static str,
    implied_next_review: String,
    recorded_next_review: String,
    flag: String,
}

/// review_calendar.csv
pub fn calendar_csv(b: &Backlog) -> Result<Vec<u8>> {
    let header = [
        "sop_id",
        "process",
        "version",
        "effective_from",
        "risk_tier",
        "implied_next_review",
        "recorded_next_review",
        "flag",
    ];
    let date = |t: Option<i64>| t.map(format_date).unwrap_or_default();
    let rows: Vec<CalendarLine> = b
        .calendar
        .iter()
        .map(|r| CalendarLine {
            sop_id: cell(&r.sop_id),
            process: cell(&r.process),
            version: cell(&r.version),
            effective_from: date(r.effective_from),
            risk_tier: r.risk_tier,
            implied_next_review: date(r.implied_next_review),
            recorded_next_review: date(r.recorded_next_review),
            flag: r.flag.clone(),
        })
        .collect();
    serialize_csv("review_calendar.csv", &header, &rows)
}
