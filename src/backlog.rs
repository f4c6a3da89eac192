//! What to document next (spec §6): every process scored by volume, risk, pain, inconsistency
//! and the state of its SOP, with the reasons in words; and the review calendar implied by each
//! SOP's risk.

use std::collections::HashMap;

use polars::prelude::*;

use crate::attribute::NO_SOP;
use crate::compare::Verdict;
use crate::error::{polars_internal, Result};
use crate::metrics::{derive_change_columns, run_queries};
use crate::output::{cell, csv_bytes};
use crate::pipeline::Analysis;
use crate::render::markdown::thousands;
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

struct SopFacts {
    owner: Option<String>,
    next_review: Option<i64>,
    retired_at: Option<i64>,
}

fn sop_facts(sops: &DataFrame) -> Result<HashMap<(String, String), SopFacts>> {
    let s = |n: &str| -> Result<StringChunked> {
        Ok(sops.column(n).map_err(polars_internal)?.str().map_err(polars_internal)?.clone())
    };
    let t = |n: &str| -> Result<Int64Chunked> {
        Ok(sops.column(n).map_err(polars_internal)?.datetime().map_err(polars_internal)?.physical().clone())
    };
    let (ids, vers, owners) = (s("sop_id")?, s("version")?, s("owner")?);
    let (review, retired) = (t("next_review")?, t("retired_at")?);
    let mut out = HashMap::new();
    for i in 0..sops.height() {
        out.insert(
            (ids.get(i).unwrap_or_default().to_string(), vers.get(i).unwrap_or_default().to_string()),
            SopFacts {
                owner: owners.get(i).map(str::to_string),
                next_review: review.get(i),
                retired_at: retired.get(i),
            },
        );
    }
    Ok(out)
}

/// Per process_id: metric → value, over the whole history, from the same SQL files.
fn process_metrics(a: &Analysis) -> Result<HashMap<String, HashMap<i64, f64>>> {
    let cfg = &a.config;
    let by_process = |lf: LazyFrame| lf.with_column(col("process_id").cast(DataType::Int64).alias("grp"));
    let df = run_queries(
        &a.queries,
        cfg,
        by_process(a.attributed.tickets.clone().lazy()).collect().map_err(polars_internal)?.lazy(),
        by_process(derive_change_columns(&a.attributed.changes, cfg)),
        by_process(a.attributed.audits.clone().lazy()),
    )?;
    let grp: Vec<Option<i64>> =
        df.column("grp").map_err(polars_internal)?.i64().map_err(polars_internal)?.iter().collect();
    let mut out: HashMap<String, HashMap<i64, f64>> = HashMap::new();
    for c in df.columns() {
        let f = c.cast(&DataType::Float64).map_err(polars_internal)?;
        let m = out.entry(c.name().to_string()).or_default();
        for (g, v) in grp.iter().zip(f.f64().map_err(polars_internal)?.iter()) {
            if let (Some(g), Some(v)) = (g, v) {
                m.insert(*g, v);
            }
        }
    }
    // share of priority 1-2 tickets
    let urgent = a
        .attributed
        .tickets
        .clone()
        .lazy()
        .group_by([col("process_id")])
        .agg([col("priority").lt_eq(lit(2)).cast(DataType::Float64).mean().alias("urgent_share")])
        .collect()
        .map_err(polars_internal)?;
    let ids: Vec<Option<u32>> =
        urgent.column("process_id").map_err(polars_internal)?.u32().map_err(polars_internal)?.iter().collect();
    let share: Vec<Option<f64>> =
        urgent.column("urgent_share").map_err(polars_internal)?.f64().map_err(polars_internal)?.iter().collect();
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

pub fn backlog(a: &Analysis) -> Result<Backlog> {
    let m = process_metrics(a)?;
    let get = |metric: &str, pid: usize| m.get(metric).and_then(|x| x.get(&(pid as i64))).copied();
    let times = a
        .attributed
        .tickets
        .column("attributed_at")
        .map_err(polars_internal)?
        .datetime()
        .map_err(polars_internal)?
        .physical()
        .clone();
    let span_months = match (times.min(), times.max()) {
        (Some(lo), Some(hi)) => ((hi - lo) as f64 / MONTH_MS).max(1.0),
        _ => 1.0,
    };
    let facts = sop_facts(&a.data.sops)?;
    let n = a.attributed.processes.len();
    // latest version row per process (None without an SOP)
    let latest: Vec<Option<&crate::attribute::TimelineRow>> = (0..n)
        .map(|pid| a.attributed.timeline.iter().rfind(|r| r.process_id as usize == pid && r.version != NO_SOP))
        .collect();
    let change_times: Vec<(u32, i64)> = {
        let c = &a.attributed.changes;
        let pids: Vec<Option<u32>> =
            c.column("process_id").map_err(polars_internal)?.u32().map_err(polars_internal)?.iter().collect();
        let t: Vec<Option<i64>> = c
            .column("attributed_at")
            .map_err(polars_internal)?
            .datetime()
            .map_err(polars_internal)?
            .physical()
            .iter()
            .collect();
        pids.into_iter().zip(t).filter_map(|(p, t)| Some((p?, t?))).collect()
    };

    let medians = |metric: &str| median((0..n).filter_map(|p| get(metric, p)).collect());
    let (med_reopen, med_esc, med_err, med_mttr) =
        (medians("reopen_rate"), medians("escalation_rate"), medians("error_rate"), medians("mttr_median_h"));
    let ratio = |v: Option<f64>, med: Option<f64>| match (v, med) {
        (Some(v), Some(m)) if m > 0.0 => Some(v / m),
        _ => None,
    };
    let per_month: Vec<Option<f64>> = (0..n).map(|p| get("tickets", p).map(|t| t / span_months)).collect();
    let volume = scaled(&per_month);
    let risk_parts = [
        scaled(&(0..n).map(|p| get("urgent_share", p)).collect::<Vec<_>>()),
        scaled(&(0..n).map(|p| get("audit_exceptions_per_1k", p)).collect::<Vec<_>>()),
        scaled(&(0..n).map(|p| get("change_failure_rate", p)).collect::<Vec<_>>()),
    ];
    let pain_parts = [
        scaled(&(0..n).map(|p| ratio(get("reopen_rate", p), med_reopen)).collect::<Vec<_>>()),
        scaled(&(0..n).map(|p| ratio(get("escalation_rate", p), med_esc)).collect::<Vec<_>>()),
        scaled(&(0..n).map(|p| ratio(get("error_rate", p), med_err)).collect::<Vec<_>>()),
        scaled(&(0..n).map(|p| ratio(get("mttr_median_h", p), med_mttr)).collect::<Vec<_>>()),
    ];
    let inconsistency = scaled(&(0..n).map(|p| get("analyst_cv", p)).collect::<Vec<_>>());
    let w = &a.config.backlog;

    let mut rows = Vec::new();
    for pid in 0..n {
        let tickets = get("tickets", pid).unwrap_or(0.0);
        if tickets == 0.0 && latest[pid].is_none() {
            continue;
        }
        let mut reasons = Vec::new();
        let (state, sop_id) = match latest[pid] {
            None => {
                reasons.push("no SOP".to_string());
                (State::Missing, String::new())
            }
            Some(v) => {
                let f = facts.get(&(v.sop_id.clone(), v.version.clone()));
                let mut stale = Vec::new();
                if let Some(r) = f.and_then(|f| f.next_review).filter(|r| *r < a.as_of_ms) {
                    stale.push(format!("review overdue since {}", format_date(r)));
                }
                if f.and_then(|f| f.owner.as_ref()).is_none() {
                    stale.push("no owner".into());
                }
                if let Some(r) = f.and_then(|f| f.retired_at).filter(|r| *r <= a.as_of_ms) {
                    stale.push(format!("retired on {}", format_date(r)));
                }
                let since = v.effective_from.unwrap_or(i64::MIN);
                let changes = change_times.iter().filter(|(p, t)| *p as usize == pid && *t >= since).count();
                if changes > 0 {
                    stale.push(format!(
                        "{changes} change request(s) on the process since version {} took effect",
                        v.version
                    ));
                }
                for r in a.comparisons.rows.iter().filter(|r| r.verdict == Verdict::Worsened) {
                    let ch = &a.comparisons.changes[r.change];
                    if ch.sop_id == v.sop_id && ch.to_version == v.version {
                        stale.push(format!("{} worsened significantly after version {}", r.metric.label, v.version));
                    }
                }
                let state = if stale.is_empty() { State::Current } else { State::Stale };
                reasons.extend(stale);
                (state, v.sop_id.clone())
            }
        };
        if let Some(pm) = per_month[pid] {
            reasons.push(format!("{} tickets/month", thousands(pm.round() as u64)));
        }
        for (metric, label, med) in [
            ("reopen_rate", "reopen rate", med_reopen),
            ("escalation_rate", "escalation rate", med_esc),
            ("error_rate", "error rate", med_err),
            ("mttr_median_h", "MTTR", med_mttr),
        ] {
            if let Some(r) = ratio(get(metric, pid), med) {
                if r >= 1.5 {
                    reasons.push(format!("{label} {r:.1}× the median"));
                }
            }
        }
        if let Some(cv) = get("analyst_cv", pid).filter(|cv| *cv >= 0.5) {
            reasons.push(format!("analysts differ widely (CV {cv:.2})"));
        }
        let risk = risk_parts.iter().map(|p| p[pid]).sum::<f64>() / risk_parts.len() as f64;
        let pain = pain_parts.iter().map(|p| p[pid]).sum::<f64>() / pain_parts.len() as f64;
        let score = w.volume * volume[pid]
            + w.risk * risk
            + w.pain * pain
            + w.inconsistency * inconsistency[pid]
            + w.state * state.score();
        rows.push(BacklogRow {
            rank: 0,
            process: a.attributed.processes[pid].clone(),
            sop_id,
            state,
            tickets_per_month: per_month[pid].unwrap_or(0.0),
            volume: volume[pid],
            risk,
            pain,
            inconsistency: inconsistency[pid],
            score,
            reasons,
        });
    }
    // Highest score first; ties by process name, so the order never depends on hashing.
    rows.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.process.cmp(&y.process)));
    for (k, r) in rows.iter_mut().enumerate() {
        r.rank = k + 1;
    }

    // Review calendar: risk tier by the risk score in thirds of the SOP-governed processes.
    let mut governed: Vec<(usize, f64)> = (0..n)
        .filter(|p| latest[*p].is_some())
        .map(|p| (p, risk_parts.iter().map(|x| x[p]).sum::<f64>() / 3.0))
        .collect();
    governed.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    let third = governed.len().div_ceil(3).max(1);
    let mut calendar = Vec::new();
    for (k, (pid, _)) in governed.iter().enumerate() {
        let Some(v) = latest[*pid] else { continue };
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
        let recorded = facts.get(&(v.sop_id.clone(), v.version.clone())).and_then(|f| f.next_review);
        let flag = match (implied, recorded) {
            (Some(i), Some(r)) if r > i + 31 * 86_400_000 => {
                format!("recorded review is later than a {tier}-risk SOP should wait ({months} months)")
            }
            (Some(i), Some(r)) if r + 31 * 86_400_000 < i => {
                "recorded review is earlier than the risk tier needs".to_string()
            }
            (_, None) => "no review date recorded".to_string(),
            _ => String::new(),
        };
        calendar.push(ReviewRow {
            sop_id: v.sop_id.clone(),
            process: v.process.clone(),
            version: v.version.clone(),
            effective_from: v.effective_from,
            risk_tier: tier,
            implied_next_review: implied,
            recorded_next_review: recorded,
            flag,
        });
    }
    calendar.sort_by(|x, y| x.sop_id.cmp(&y.sop_id));
    Ok(Backlog { rows, calendar })
}

fn num(v: f64) -> String {
    crate::tables::format_float((v * 1e6).round() / 1e6)
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
    let rows = b.rows.iter().map(|r| {
        vec![
            r.rank.to_string(),
            cell(&r.process),
            cell(&r.sop_id),
            r.state.name().to_string(),
            num(r.tickets_per_month),
            num(r.volume),
            num(r.risk),
            num(r.pain),
            num(r.inconsistency),
            num(r.score),
            r.reasons.join("; "),
        ]
    });
    csv_bytes("backlog.csv", &header, rows)
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
    let rows = b.calendar.iter().map(|r| {
        vec![
            cell(&r.sop_id),
            cell(&r.process),
            cell(&r.version),
            r.effective_from.map(format_date).unwrap_or_default(),
            r.risk_tier.to_string(),
            r.implied_next_review.map(format_date).unwrap_or_default(),
            r.recorded_next_review.map(format_date).unwrap_or_default(),
            r.flag.clone(),
        ]
    });
    csv_bytes("review_calendar.csv", &header, rows)
}
