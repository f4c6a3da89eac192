//! Realistic synthetic exports with planted, documented effects, for tests, demos and
//! benchmarks. The same seed gives byte-identical files whatever the machine: tickets are made
//! in fixed-size chunks, each with its own random stream derived from (seed, chunk), and the
//! chunks are written in order however many threads made them.
//!
//! What is planted is written to `truth.json`: per SOP change, the multipliers applied to the
//! resolution time and to the rates, and the direction a correct analysis should find.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::output::ensure_dir;

/// The layout of the generated ticket and change exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Canonical,
    Servicenow,
}

const CHUNK: u64 = 65_536;
const DAY: i64 = 86_400;

/// What one SOP version does to its process, as multipliers of the process's base behaviour.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Effect {
    pub mttr: f64,
    pub reopen: f64,
    pub escalation: f64,
    pub error: f64,
    pub audit: f64,
    pub change_failure: f64,
}

const NONE: Effect = Effect { mttr: 1.0, reopen: 1.0, escalation: 1.0, error: 1.0, audit: 1.0, change_failure: 1.0 };

struct VersionDef {
    version: &'static str,
    /// months after the start of the history (negative: before it)
    month: i32,
    /// day of that month the version takes effect
    day: u32,
    effect: Effect,
    summary: &'static str,
    approved_by: &'static str,
}

struct SopDef {
    id: &'static str,
    owner: Option<&'static str>,
    /// months the latest version's next review lies after its effective date (negative: overdue)
    review_after_months: i32,
    versions: &'static [VersionDef],
}

struct ProcessDef {
    name: &'static str,
    category: &'static str,
    subcategory: &'static str,
    weight: f64,
    /// median hours to resolve at priority 3 with an average analyst
    median_h: f64,
    reopen: f64,
    escalation: f64,
    reassign: f64,
    handling_error: f64,
    /// audit findings per 1,000 tickets
    audit_per_1k: f64,
    group: usize,
    /// how strongly (and which way) the desk's trend moves this process: 1 follows it, −1 goes
    /// the other way (a neglected service)
    trend: f64,
    sop: Option<SopDef>,
}

const GROUPS: [&str; 4] = ["Service Desk", "Network Operations", "Field Services", "Application Support"];

const PROCESSES: &[ProcessDef] = &[
    ProcessDef {
        name: "Password reset",
        category: "Access",
        subcategory: "Password reset",
        weight: 0.22,
        median_h: 1.5,
        reopen: 0.06,
        escalation: 0.03,
        reassign: 0.10,
        handling_error: 0.02,
        audit_per_1k: 2.0,
        group: 0,
        trend: 1.0,
        sop: Some(SopDef {
            id: "SOP-ACC-001",
            owner: Some("Dana Whitfield"),
            review_after_months: 12,
            versions: &[
                VersionDef {
                    version: "1.0",
                    month: 3,
                    day: 1,
                    effect: NONE,
                    summary: "First written procedure for self-service and desk password resets",
                    approved_by: "M. Okafor",
                },
                VersionDef {
                    version: "1.1",
                    month: 9,
                    day: 15,
                    effect: NONE,
                    summary: "Wording and screenshots updated; no change to the steps",
                    approved_by: "M. Okafor",
                },
                VersionDef {
                    version: "2.0",
                    month: 15,
                    day: 1,
                    effect: Effect {
                        mttr: 0.6,
                        reopen: 0.5,
                        escalation: 1.0,
                        error: 0.6,
                        audit: 0.5,
                        change_failure: 1.0,
                    },
                    summary: "Identity verification by callback; unlock and reset in one step",
                    approved_by: "M. Okafor",
                },
            ],
        }),
    },
    ProcessDef {
        name: "VPN access",
        category: "Network",
        subcategory: "VPN",
        weight: 0.14,
        median_h: 6.0,
        reopen: 0.08,
        escalation: 0.10,
        reassign: 0.18,
        handling_error: 0.03,
        audit_per_1k: 3.0,
        group: 1,
        trend: 0.8,
        sop: Some(SopDef {
            id: "SOP-NET-004",
            owner: Some("Ravi Menon"),
            review_after_months: 12,
            versions: &[
                VersionDef {
                    version: "1.0",
                    month: -4,
                    day: 10,
                    effect: NONE,
                    summary: "VPN profile provisioning and troubleshooting",
                    approved_by: "L. Brandt",
                },
                VersionDef {
                    version: "2.0",
                    month: 12,
                    day: 1,
                    effect: Effect {
                        mttr: 1.35,
                        reopen: 1.8,
                        escalation: 1.5,
                        error: 1.4,
                        audit: 1.0,
                        change_failure: 2.0,
                    },
                    summary: "Moved certificate renewal to the network team; desk no longer resolves on first call",
                    approved_by: "L. Brandt",
                },
            ],
        }),
    },
    ProcessDef {
        name: "Laptop replacement",
        category: "Hardware",
        subcategory: "Laptop",
        weight: 0.12,
        median_h: 30.0,
        reopen: 0.05,
        escalation: 0.12,
        reassign: 0.25,
        handling_error: 0.04,
        audit_per_1k: 4.0,
        group: 2,
        trend: 1.2,
        sop: Some(SopDef {
            id: "SOP-HW-002",
            owner: Some("Jo Lindqvist"),
            review_after_months: 18,
            versions: &[
                VersionDef {
                    version: "1.0",
                    month: -8,
                    day: 1,
                    effect: NONE,
                    summary: "Laptop swap and data transfer",
                    approved_by: "P. Sørensen",
                },
                VersionDef {
                    version: "1.1",
                    month: 6,
                    day: 1,
                    effect: NONE,
                    summary: "New asset-tag form",
                    approved_by: "P. Sørensen",
                },
                VersionDef {
                    version: "1.2",
                    month: 11,
                    day: 20,
                    effect: Effect {
                        mttr: 1.0,
                        reopen: 1.0,
                        escalation: 0.5,
                        error: 0.6,
                        audit: 1.0,
                        change_failure: 1.0,
                    },
                    summary: "Pre-imaged spares held at each site; courier step removed",
                    approved_by: "P. Sørensen",
                },
                VersionDef {
                    version: "2.0",
                    month: 18,
                    day: 1,
                    effect: Effect {
                        mttr: 1.0,
                        reopen: 1.0,
                        escalation: 0.5,
                        error: 0.6,
                        audit: 1.0,
                        change_failure: 1.0,
                    },
                    summary: "Restructured into a checklist; steps unchanged",
                    approved_by: "P. Sørensen",
                },
            ],
        }),
    },
    ProcessDef {
        name: "Software installation",
        category: "Software",
        subcategory: "Install",
        weight: 0.16,
        median_h: 8.0,
        reopen: 0.07,
        escalation: 0.05,
        reassign: 0.15,
        handling_error: 0.03,
        audit_per_1k: 3.0,
        group: 3,
        trend: 0.6,
        sop: Some(SopDef {
            id: "SOP-SW-010",
            owner: Some("Amara Osei"),
            review_after_months: 12,
            versions: &[
                VersionDef {
                    version: "1",
                    month: 2,
                    day: 1,
                    effect: NONE,
                    summary: "Packaged installs through the software centre",
                    approved_by: "R. Iqbal",
                },
                VersionDef {
                    version: "2",
                    month: 14,
                    day: 1,
                    effect: Effect {
                        mttr: 0.7,
                        reopen: 1.0,
                        escalation: 1.0,
                        error: 0.5,
                        audit: 1.0,
                        change_failure: 1.0,
                    },
                    summary: "Pre-approved catalogue; licence check before assignment",
                    approved_by: "R. Iqbal",
                },
            ],
        }),
    },
    ProcessDef {
        name: "Mailbox issues",
        category: "Email",
        subcategory: "Mailbox",
        weight: 0.10,
        median_h: 5.0,
        reopen: 0.09,
        escalation: 0.06,
        reassign: 0.20,
        handling_error: 0.04,
        audit_per_1k: 2.0,
        group: 0,
        trend: 1.4,
        sop: Some(SopDef {
            id: "SOP-EM-003",
            owner: None,
            review_after_months: 6,
            versions: &[VersionDef {
                version: "1.0",
                month: -12,
                day: 1,
                effect: NONE,
                summary: "Mailbox quota, delegation and recovery",
                approved_by: "",
            }],
        }),
    },
    ProcessDef {
        name: "Database / Access request",
        category: "Database",
        subcategory: "Access request",
        weight: 0.08,
        median_h: 20.0,
        reopen: 0.12,
        escalation: 0.15,
        reassign: 0.30,
        handling_error: 0.06,
        audit_per_1k: 8.0,
        group: 3,
        trend: 1.0,
        sop: None,
    },
    ProcessDef {
        name: "Printing / Printer",
        category: "Printing",
        subcategory: "Printer",
        weight: 0.10,
        median_h: 4.0,
        reopen: 0.10,
        escalation: 0.04,
        reassign: 0.12,
        handling_error: 0.03,
        audit_per_1k: 1.0,
        group: 0,
        trend: 0.7,
        sop: None,
    },
    ProcessDef {
        name: "Telephony / Voicemail",
        category: "Telephony",
        subcategory: "Voicemail",
        weight: 0.04,
        median_h: 10.0,
        reopen: 0.06,
        escalation: 0.05,
        reassign: 0.15,
        handling_error: 0.03,
        audit_per_1k: 1.0,
        group: 1,
        trend: -1.0,
        sop: None,
    },
    ProcessDef {
        name: "Hardware / Monitor",
        category: "Hardware",
        subcategory: "Monitor",
        weight: 0.04,
        median_h: 16.0,
        reopen: 0.04,
        escalation: 0.06,
        reassign: 0.20,
        handling_error: 0.03,
        audit_per_1k: 1.0,
        group: 2,
        trend: 1.3,
        sop: None,
    },
];

/// Share of tickets per priority 1..5, how each scales the time to resolve, and the resolution
/// target (hours) that `made_sla` is judged against.
const PRIORITY_SHARE: [f64; 5] = [0.02, 0.08, 0.45, 0.38, 0.07];
const PRIORITY_TIME: [f64; 5] = [0.3, 0.5, 1.0, 1.4, 2.0];
pub const SLA_TARGET_H: [f64; 5] = [4.0, 8.0, 24.0, 72.0, 168.0];
const SN_PRIORITY: [&str; 5] = ["1 - Critical", "2 - High", "3 - Moderate", "4 - Low", "5 - Planning"];
const ANALYSTS_PER_GROUP: usize = 12;

/// The parameters of one generated data set.
#[derive(Debug, Clone)]
pub struct Spec {
    pub tickets: u64,
    pub seed: u64,
    pub profile: Layout,
    pub event_log: bool,
    pub start: NaiveDate,
    pub months: u32,
    /// the desk's drift in resolution time and in the rates, percent per year (negative: improving)
    pub trend_pct_per_year: f64,
    /// the amplitude of a yearly swing in resolution time and the rates, percent
    pub seasonality_pct: f64,
    pub effects: Effects,
    /// exports as real ones are where it matters for cost: one process with half the tickets,
    /// resolution times in whole minutes (many ties), and a quarter of the last four weeks'
    /// tickets still open at the end
    pub realistic: bool,
    /// weeks over which a version's effect builds up after its date (0: at once), as a
    /// procedure that needs training does
    pub ramp_weeks: u32,
    /// a new version of every SOP every this many months (staggered between SOPs), each change
    /// with a drawn effect or none, in place of the scenario's few versions (0: the scenario's)
    pub sop_every_months: u32,
}

/// What the SOP versions do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effects {
    /// the scenario's effects (truth.json lists them)
    Planted,
    /// none at all: every difference is the desk's trend, season and chance
    None,
    /// a cut of this many percent in resolution time at three changes, nothing else
    MttrSteps(f64),
}

/// The versions that carry the step of `Effects::MttrSteps`.
const STEP_VERSIONS: [(&str, &str); 3] = [("SOP-ACC-001", "2.0"), ("SOP-HW-002", "1.2"), ("SOP-SW-010", "2")];

impl Spec {
    pub fn new(tickets: u64, seed: u64, profile: Layout, event_log: bool, start: &str, months: u32) -> Result<Self> {
        let start = NaiveDate::parse_from_str(start, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--start '{start}' is not a date: use YYYY-MM-DD")))?;
        if event_log && profile != Layout::Servicenow {
            return Err(Error::Usage("--event-log needs --profile servicenow".into()));
        }
        if !(1..=240).contains(&months) {
            return Err(Error::Usage("--months must be 1 to 240".into()));
        }
        if tickets == 0 {
            return Err(Error::Usage("--tickets must be at least 1".into()));
        }
        Ok(Spec {
            tickets,
            seed,
            profile,
            event_log,
            start,
            months,
            trend_pct_per_year: 0.0,
            seasonality_pct: 0.0,
            effects: Effects::Planted,
            realistic: false,
            ramp_weeks: 0,
            sop_every_months: 0,
        })
    }

    /// A desk that drifts (`trend` percent per year) and swings with the seasons (± `seasonality`
    /// percent), with the SOP versions doing what `effects` says.
    pub fn with_drift(mut self, trend: f64, seasonality: f64, effects: Effects) -> Result<Self> {
        if !(-90.0..=300.0).contains(&trend) {
            return Err(Error::Usage(format!("--trend {trend} is out of range: use -90 to 300 (percent per year)")));
        }
        if !(0.0..=90.0).contains(&seasonality) {
            return Err(Error::Usage(format!("--seasonality {seasonality} is out of range: use 0 to 90 (percent)")));
        }
        if let Effects::MttrSteps(step) = effects {
            if !(0.0..100.0).contains(&step) {
                return Err(Error::Usage(format!("--step {step} is out of range: use 0 to 99 (percent)")));
            }
        }
        self.trend_pct_per_year = trend;
        self.seasonality_pct = seasonality;
        self.effects = effects;
        Ok(self)
    }

    /// Effects that build up over `ramp_weeks` after their change, and SOPs revised every
    /// `sop_every_months` months (0: the scenario's own versions).
    pub fn with_schedule(mut self, ramp_weeks: u32, sop_every_months: u32) -> Result<Self> {
        if ramp_weeks > 520 {
            return Err(Error::Usage(format!("--ramp-weeks {ramp_weeks} is out of range: use 0 to 520")));
        }
        if sop_every_months > 60 {
            return Err(Error::Usage(format!(
                "--sop-every-months {sop_every_months} is out of range: use 1 to 60 (0: the scenario's versions)"
            )));
        }
        self.ramp_weeks = ramp_weeks;
        self.sop_every_months = sop_every_months;
        Ok(self)
    }

    /// How the desk's drift and season scale resolution time and the rates of `process` at `t`.
    fn drift(&self, process: &ProcessDef, t: i64) -> f64 {
        let years = (t - self.start_ts()) as f64 / (365.25 * DAY as f64);
        let trend = (1.0 + self.trend_pct_per_year / 100.0).powf(years * process.trend);
        let season = 1.0 + self.seasonality_pct / 100.0 * (2.0 * std::f64::consts::PI * years).sin();
        trend * season
    }

    /// What each version of `sop` does, relative to the process without it.
    fn version_effects(&self, sop: &SopDef) -> Vec<Effect> {
        let mut cut = 1.0;
        sop.versions
            .iter()
            .map(|v| match self.effects {
                Effects::Planted => v.effect,
                Effects::None => NONE,
                Effects::MttrSteps(step) => {
                    if STEP_VERSIONS.contains(&(sop.id, v.version)) {
                        cut *= 1.0 - step / 100.0;
                    }
                    Effect { mttr: cut, ..NONE }
                }
            })
            .collect()
    }

    fn ramp_seconds(&self) -> i64 {
        i64::from(self.ramp_weeks) * 7 * DAY
    }

    fn start_ts(&self) -> i64 {
        self.start.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0)
    }

    /// End of the history: the data's "as of" instant; tickets not resolved by then are open.
    pub fn end(&self) -> NaiveDate {
        self.start.checked_add_months(Months::new(self.months)).unwrap_or(self.start)
    }

    fn end_ts(&self) -> i64 {
        self.end().and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0)
    }
}

fn version_date(start: NaiveDate, v: &VersionDef) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(start);
    let month = if v.month >= 0 {
        first.checked_add_months(Months::new(v.month as u32))
    } else {
        first.checked_sub_months(Months::new((-v.month) as u32))
    }
    .unwrap_or(first);
    month.with_day(v.day).unwrap_or(month)
}

fn ts(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0)
}

/// One version of an SOP as generated: the scenario's, or one of a frequently revised SOP.
struct Version {
    version: String,
    date: NaiveDate,
    effect: Effect,
    summary: &'static str,
    approved_by: &'static str,
}

/// The versions of the SOP of `p`, in date order (none for a process without one).
fn versions(spec: &Spec, p: &ProcessDef) -> Vec<Version> {
    let Some(sop) = &p.sop else { return Vec::new() };
    if spec.sop_every_months > 0 {
        return frequent_versions(spec, p);
    }
    sop.versions
        .iter()
        .zip(spec.version_effects(sop))
        .map(|(v, effect)| Version {
            version: v.version.to_string(),
            date: version_date(spec.start, v),
            effect,
            summary: v.summary,
            approved_by: v.approved_by,
        })
        .collect()
}

/// A version every `sop_every_months` months from a month into the history (each SOP a month
/// later than the one before, so that others are unchanged around each change). Three changes
/// in five move one of MTTR, the reopen rate or the escalation rate by 20-40% (either way) from
/// the version before; the others change nothing (all of them with `Effects::None`).
fn frequent_versions(spec: &Spec, p: &ProcessDef) -> Vec<Version> {
    let index = PROCESSES.iter().position(|q| q.name == p.name).unwrap_or(0);
    let mut rng = Pcg64Mcg::seed_from_u64(spec.seed ^ 0x50F7_C4A6 ^ (index as u64) << 32);
    let every = spec.sop_every_months;
    let first = 1 + index as u32 % every;
    let mut effect = NONE;
    let mut out = Vec::new();
    for (k, month) in (first..spec.months).step_by(every as usize).enumerate() {
        let date = spec.start.checked_add_months(Months::new(month)).unwrap_or(spec.start);
        let mut summary = "Wording and links updated; no change to the procedure";
        if k > 0 && rng.random::<f64>() < 0.6 && spec.effects != Effects::None {
            let size = 0.2 + 0.2 * rng.random::<f64>();
            let factor = if rng.random::<bool>() { 1.0 - size } else { 1.0 + size };
            match rng.random_range(0..3) {
                0 => effect.mttr *= factor,
                1 => effect.reopen *= factor,
                _ => effect.escalation *= factor,
            }
            summary = "Procedure steps revised";
        }
        out.push(Version {
            version: format!("{}.0", k + 1),
            date,
            effect,
            summary,
            approved_by: "Change Advisory Board",
        });
    }
    out
}

/// Version schedule of one process: (effective timestamp, effect), in date order.
fn schedule(spec: &Spec, p: &ProcessDef) -> Vec<(i64, Effect)> {
    versions(spec, p).iter().map(|v| (ts(v.date), v.effect)).collect()
}

/// The effect in force at `t`; within `ramp` seconds of its version's date, the way from the
/// previous version's effect to it, in proportion to the time gone.
fn effect_at(schedule: &[(i64, Effect)], t: i64, ramp: i64) -> Effect {
    let Some(k) = schedule.iter().rposition(|(from, _)| *from <= t) else { return NONE };
    let (from, target) = schedule[k];
    if ramp <= 0 || t - from >= ramp {
        return target;
    }
    let before = k.checked_sub(1).map_or(NONE, |j| schedule[j].1);
    let share = (t - from) as f64 / ramp as f64;
    let between = |a: f64, b: f64| a + (b - a) * share;
    Effect {
        mttr: between(before.mttr, target.mttr),
        reopen: between(before.reopen, target.reopen),
        escalation: between(before.escalation, target.escalation),
        error: between(before.error, target.error),
        audit: between(before.audit, target.audit),
        change_failure: between(before.change_failure, target.change_failure),
    }
}

struct World {
    cumulative_weight: Vec<f64>,
    schedules: Vec<Vec<(i64, Effect)>>,
    /// analyst speed factors per group
    speed: Vec<Vec<f64>>,
}

impl World {
    fn new(spec: &Spec) -> Self {
        let mut acc = 0.0;
        let cumulative_weight = PROCESSES
            .iter()
            .map(|p| {
                acc += p.weight;
                acc
            })
            .collect();
        let mut rng = Pcg64Mcg::seed_from_u64(spec.seed ^ 0xA11A_1A57);
        // Analysts differ: some take twice as long as others for the same work.
        let spread = LogNormal::new(0.0, 0.35).unwrap_or_else(|_| unreachable!("constant parameters"));
        let speed =
            (0..GROUPS.len()).map(|_| (0..ANALYSTS_PER_GROUP).map(|_| spread.sample(&mut rng)).collect()).collect();
        World { cumulative_weight, schedules: PROCESSES.iter().map(|p| schedule(spec, p)).collect(), speed }
    }

    fn pick_process(&self, u: f64) -> usize {
        let total = *self.cumulative_weight.last().unwrap_or(&1.0);
        self.cumulative_weight.iter().position(|&c| u * total < c).unwrap_or(PROCESSES.len() - 1)
    }
}

/// One generated ticket.
struct Ticket {
    number: u64,
    opened: i64,
    resolved: Option<i64>,
    closed: Option<i64>,
    priority: usize,
    process: usize,
    group: usize,
    analyst: usize,
    reopen_count: u32,
    reassignment_count: u32,
    escalated: bool,
    made_sla: Option<bool>,
    handling_error: bool,
}

fn make_ticket(spec: &Spec, world: &World, i: u64, rng: &mut Pcg64Mcg, noise: &LogNormal<f64>) -> Ticket {
    let start = spec.start_ts();
    let end = spec.end_ts();
    let span_days = ((end - start) / DAY).max(1) as f64;
    // Tickets spread evenly over the history (ids follow time), busier in working hours and on
    // weekdays.
    let mut day = ((i as f64 + rng.random::<f64>()) / spec.tickets as f64 * span_days).floor() as i64;
    let weekday = (day + 3 + start.div_euclid(DAY)).rem_euclid(7); // 0 = Monday for 1970-01-01 + 3
    if weekday >= 5 && rng.random::<f64>() < 0.7 {
        day = (day - (weekday - 4)).max(0);
    }
    let minute_of_day =
        if rng.random::<f64>() < 0.85 { 8 * 60 + rng.random_range(0..600) } else { rng.random_range(0..1440) };
    let opened = start + day * DAY + minute_of_day as i64 * 60 + rng.random_range(0..60);

    // Realistic desks are lopsided: the first process takes half the tickets. (The extra draws
    // happen only then, so that the default data stay byte for byte what they were.)
    let process = if spec.realistic && rng.random::<f64>() < 0.5 { 0 } else { world.pick_process(rng.random::<f64>()) };
    let p = &PROCESSES[process];
    let effect = effect_at(&world.schedules[process], opened, spec.ramp_seconds());
    let drift = spec.drift(p, opened);
    let mut u = rng.random::<f64>();
    let mut priority = 4;
    for (k, share) in PRIORITY_SHARE.iter().enumerate() {
        if u < *share {
            priority = k;
            break;
        }
        u -= share;
    }
    let analyst = rng.random_range(0..ANALYSTS_PER_GROUP);
    let escalated = rng.random::<f64>() < (p.escalation * effect.escalation * drift).min(0.95);
    let hours = p.median_h
        * effect.mttr
        * drift
        * world.speed[p.group][analyst]
        * PRIORITY_TIME[priority]
        * noise.sample(rng)
        * if escalated { 1.5 } else { 1.0 };
    let mut secs = (hours * 3600.0).max(60.0) as i64;
    // A few tickets stall whatever their age; the rest are open only when still young.
    let mut stalled = rng.random::<f64>() < 0.004;
    if spec.realistic {
        // Tools record minutes; and the end of an export is a backlog: a quarter of the last
        // four weeks' tickets are still open.
        secs = secs / 60 * 60;
        stalled |= end - opened < 28 * DAY && rng.random::<f64>() < 0.25;
    }
    let resolved = if stalled || opened + secs > end { None } else { Some(opened + secs) };
    let closed = resolved.filter(|r| r + 3 * DAY <= end).map(|r| r + 3 * DAY);
    let reopened = resolved.is_some() && rng.random::<f64>() < (p.reopen * effect.reopen * drift).min(0.95);
    let reopen_count = if reopened {
        if rng.random::<f64>() < 0.8 {
            1
        } else {
            2
        }
    } else {
        0
    };
    let reassignment_count = if rng.random::<f64>() < (p.reassign * effect.error * drift).min(0.95) {
        1 + (rng.random::<f64>() < 0.3) as u32
    } else {
        0
    };
    let handling_error = rng.random::<f64>() < (p.handling_error * effect.error * drift).min(0.95);
    let target = (SLA_TARGET_H[priority] * 3600.0) as i64;
    let made_sla = match resolved {
        Some(r) => Some(r - opened <= target),
        None if end - opened > target => Some(false),
        None => None,
    };
    Ticket {
        number: i + 1,
        opened,
        resolved,
        closed,
        priority,
        process,
        group: p.group,
        analyst,
        reopen_count,
        reassignment_count,
        escalated,
        made_sla,
        handling_error,
    }
}

/// `YYYY-MM-DD HH:MM:SS` pieces from epoch seconds (proleptic Gregorian, UTC).
fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY) as u32;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

fn iso(out: &mut Vec<u8>, t: i64) {
    let (y, m, d, hh, mm, ss) = civil(t);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z");
}

/// ServiceNow's day-first display format.
fn day_first(out: &mut Vec<u8>, t: i64) {
    let (y, m, d, hh, mm, ss) = civil(t);
    let _ = write!(out, "{d:02}/{m:02}/{y:04} {hh:02}:{mm:02}:{ss:02}");
}

fn analyst_name(group: usize, analyst: usize) -> String {
    const FIRST: [&str; 12] =
        ["Alex", "Bea", "Chen", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena"];
    format!("{} {}", FIRST[analyst], ["North", "Vega", "Field", "Apps"][group])
}

/// The rows of a generated export, written by the csv crate so that a value that needs quoting
/// gets it; fields are built in one reused buffer (ten million rows).
struct Rows {
    writer: csv::Writer<Vec<u8>>,
    record: csv::ByteRecord,
    field: Vec<u8>,
}

impl Rows {
    fn with_capacity(bytes: usize) -> Self {
        Rows {
            writer: csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(bytes)),
            record: csv::ByteRecord::new(),
            field: Vec::new(),
        }
    }

    fn text(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.field.clear();
        let _ = write!(self.field, "{value}");
        self.record.push_field(&self.field);
        self
    }

    /// A field written by `write` (a timestamp format), or empty.
    fn with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.field.clear();
        write(&mut self.field);
        self.record.push_field(&self.field);
        self
    }

    fn end(&mut self) {
        let _ = self.writer.write_byte_record(&self.record);
        self.record.clear();
    }

    fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }
}

fn write_canonical(out: &mut Rows, t: &Ticket) {
    let p = &PROCESSES[t.process];
    let status = match (t.resolved, t.closed) {
        (None, _) => "In Progress",
        (Some(_), None) => "Resolved",
        _ => "Closed",
    };
    let sla = t.made_sla.map_or("", |b| if b { "true" } else { "false" });
    out.text(format_args!("INC{:08}", t.number))
        .with(|f| iso(f, t.opened))
        .with(|f| t.resolved.into_iter().for_each(|r| iso(f, r)))
        .with(|f| t.closed.into_iter().for_each(|c| iso(f, c)))
        .text(status)
        .text(t.priority + 1)
        .text(p.category)
        .text(p.subcategory)
        .text(GROUPS[t.group])
        .text(analyst_name(t.group, t.analyst))
        .text(t.reopen_count)
        .text(t.reassignment_count)
        .text(t.escalated)
        .text(sla)
        .text(t.handling_error)
        .end();
}

fn escalation_level(t: &Ticket) -> &'static str {
    if !t.escalated {
        "Normal"
    } else {
        match t.number % 3 {
            0 => "Moderate",
            1 => "High",
            _ => "Overdue",
        }
    }
}

/// One incident in ServiceNow's layout: one row, or in the event-log form one row per update.
/// Returns the rows written.
fn write_servicenow(out: &mut Rows, t: &Ticket, rng: &mut Pcg64Mcg, event_log: bool) -> u64 {
    let p = &PROCESSES[t.process];
    let missing = if event_log { "?" } else { "" };
    let close_code = match t.resolved {
        Some(_) if t.handling_error => "Workaround provided",
        Some(_) => "Solved (Permanently)",
        None => missing,
    };
    // The event-log form: earlier updates of the same incident, before it was resolved.
    let updates = if event_log { rng.random_range(0..3u32) } else { 0 };
    let last = t.closed.or(t.resolved).unwrap_or(t.opened + 3600);
    let work_done = t.resolved.unwrap_or(t.opened + 3600);
    for k in 0..=updates {
        let final_row = k == updates;
        let updated =
            if final_row { last } else { t.opened + (work_done - t.opened) * (k as i64 + 1) / (updates as i64 + 2) };
        let (resolved, closed) = if final_row { (t.resolved, t.closed) } else { (None, None) };
        let state = match (resolved, closed, k) {
            (None, _, 0) if !final_row => "New",
            (None, _, _) => "In Progress",
            (Some(_), None, _) => "Resolved",
            _ => "Closed",
        };
        let sla = if final_row { t.made_sla.map_or(missing, |b| if b { "true" } else { "false" }) } else { missing };
        let time_or_missing = |f: &mut Vec<u8>, v: Option<i64>| match v {
            Some(v) => day_first(f, v),
            None => f.extend_from_slice(missing.as_bytes()),
        };
        out.text(format_args!("INC{:08}", t.number))
            .with(|f| day_first(f, t.opened))
            .with(|f| time_or_missing(f, resolved))
            .with(|f| time_or_missing(f, closed))
            .text(state)
            .text(SN_PRIORITY[t.priority])
            .text(p.category)
            .text(p.subcategory)
            .text(GROUPS[t.group])
            .text(analyst_name(t.group, t.analyst))
            .text(if final_row { t.reassignment_count } else { 0 })
            .text(if final_row { t.reopen_count } else { 0 })
            .text(sla)
            .text(if final_row { escalation_level(t) } else { "Normal" })
            .text(if final_row { close_code } else { missing });
        if event_log {
            out.with(|f| day_first(f, updated)).text(k + 1);
        }
        out.end();
    }
    u64::from(updates) + 1
}

const CANONICAL_HEADER: &str = "ticket_id,opened_at,resolved_at,closed_at,status,priority,category,subcategory,assignment_group,assignee,reopen_count,reassignment_count,escalated,made_sla,handling_error\n";
const SERVICENOW_HEADER: &str = "number,opened_at,resolved_at,closed_at,state,priority,category,subcategory,assignment_group,assigned_to,reassignment_count,reopen_count,made_sla,escalation,close_code";

/// An audit finding raised against a ticket's process.
struct Finding {
    raised: i64,
    process: usize,
    severity: &'static str,
    control: &'static str,
}

/// Generate one chunk of tickets: its CSV bytes and the audit findings it gave rise to.
fn chunk(spec: &Spec, world: &World, k: u64) -> (Vec<u8>, Vec<Finding>, u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k);
    let noise = LogNormal::new(0.0, 0.9).unwrap_or_else(|_| unreachable!("constant parameters"));
    let from = k * CHUNK;
    let to = ((k + 1) * CHUNK).min(spec.tickets);
    let mut out = Rows::with_capacity(((to - from) * 200) as usize);
    let mut findings = Vec::new();
    let mut rows = 0;
    for i in from..to {
        let t = make_ticket(spec, world, i, &mut rng, &noise);
        match spec.profile {
            Layout::Canonical => {
                write_canonical(&mut out, &t);
                rows += 1;
            }
            Layout::Servicenow => rows += write_servicenow(&mut out, &t, &mut rng, spec.event_log),
        }
        let p = &PROCESSES[t.process];
        let effect = effect_at(&world.schedules[t.process], t.opened, spec.ramp_seconds());
        if rng.random::<f64>() * 1000.0 < p.audit_per_1k * effect.audit * spec.drift(p, t.opened) {
            let raised = t.opened + rng.random_range(2 * DAY..30 * DAY);
            if raised < spec.end_ts() {
                let severity = ["Low", "Medium", "High"][rng.random_range(0..3usize)];
                let control =
                    ["AC-2 account management", "CM-3 change control", "IR-5 incident monitoring", "AU-6 audit review"]
                        [rng.random_range(0..4usize)];
                findings.push(Finding { raised, process: t.process, severity, control });
            }
        }
    }
    (out.into_bytes(), findings, rows)
}

#[derive(Serialize)]
struct TruthChange {
    sop_id: &'static str,
    process: &'static str,
    from_version: String,
    to_version: String,
    change_date: String,
    /// multipliers of the new version relative to the previous one (1 = no planted effect)
    planted: BTreeMap<&'static str, f64>,
    /// the direction a correct analysis should find per metric, given enough tickets
    expected: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Truth {
    seed: u64,
    tickets: u64,
    profile: &'static str,
    event_log: bool,
    start: String,
    end: String,
    note: &'static str,
    /// the desk's drift, percent per year, and seasonal swing, percent (absent: none)
    #[serde(skip_serializing_if = "Option::is_none")]
    trend_pct_per_year: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seasonality_pct: Option<f64>,
    /// what the versions do when not the scenario's own effects
    #[serde(skip_serializing_if = "Option::is_none")]
    effects: Option<String>,
    /// one process with half the tickets, minutes, open tickets at the end (absent: no)
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    realistic: bool,
    /// weeks over which each version's effect builds up (absent: at once)
    #[serde(skip_serializing_if = "Option::is_none")]
    ramp_weeks: Option<u32>,
    /// months between an SOP's versions (absent: the scenario's versions)
    #[serde(skip_serializing_if = "Option::is_none")]
    sop_every_months: Option<u32>,
    changes: Vec<TruthChange>,
    processes_without_sop: Vec<&'static str>,
    sla_target_hours_by_priority: [f64; 5],
}

fn direction(ratio: f64) -> &'static str {
    if ratio < 0.95 {
        "improved"
    } else if ratio > 1.05 {
        "worsened"
    } else {
        "no_change"
    }
}

fn truth(spec: &Spec) -> Truth {
    let mut changes = Vec::new();
    for p in PROCESSES {
        let Some(sop) = &p.sop else { continue };
        let mut prev = NONE;
        let mut prev_label = "-".to_string();
        for v in versions(spec, p) {
            let e = v.effect;
            let ratio = |a: f64, b: f64| (a / b * 1e6).round() / 1e6;
            let planted = BTreeMap::from([
                ("mttr", ratio(e.mttr, prev.mttr)),
                ("reopen_rate", ratio(e.reopen, prev.reopen)),
                ("escalation_rate", ratio(e.escalation, prev.escalation)),
                ("error_rate", ratio(e.error, prev.error)),
                ("audit_exceptions_per_1k", ratio(e.audit, prev.audit)),
                ("change_failure_rate", ratio(e.change_failure, prev.change_failure)),
            ]);
            let expected = BTreeMap::from([
                ("mttr_median_h", direction(planted["mttr"])),
                ("reopen_rate", direction(planted["reopen_rate"])),
                ("escalation_rate", direction(planted["escalation_rate"])),
                ("error_rate", direction(planted["error_rate"])),
                ("sla_attainment", direction(planted["mttr"])),
                ("audit_exceptions_per_1k", direction(planted["audit_exceptions_per_1k"])),
            ]);
            changes.push(TruthChange {
                sop_id: sop.id,
                process: p.name,
                from_version: prev_label.clone(),
                to_version: v.version.clone(),
                change_date: v.date.to_string(),
                planted,
                expected,
            });
            prev = e;
            prev_label = v.version;
        }
    }
    Truth {
        seed: spec.seed,
        tickets: spec.tickets,
        profile: match spec.profile {
            Layout::Canonical => "canonical",
            Layout::Servicenow => "servicenow",
        },
        event_log: spec.event_log,
        start: spec.start.to_string(),
        end: spec.end().to_string(),
        note: "Versions effective before `start` have no tickets before them. Tickets not resolved by `end` are open. \
               The escalation rate also lengthens resolution (escalated tickets take 1.5× as long); the error rate drives reassignments and handling errors.",
        trend_pct_per_year: (spec.trend_pct_per_year != 0.0).then_some(spec.trend_pct_per_year),
        seasonality_pct: (spec.seasonality_pct != 0.0).then_some(spec.seasonality_pct),
        effects: match spec.effects {
            Effects::Planted => None,
            Effects::None => Some("none: no version has any effect".into()),
            Effects::MttrSteps(step) => Some(format!(
                "mttr steps: resolution time {step}% shorter from {}, nothing else",
                STEP_VERSIONS.map(|(sop, v)| format!("{sop} {v}")).join(", ")
            )),
        },
        realistic: spec.realistic,
        ramp_weeks: (spec.ramp_weeks > 0).then_some(spec.ramp_weeks),
        sop_every_months: (spec.sop_every_months > 0).then_some(spec.sop_every_months),
        changes,
        processes_without_sop: PROCESSES.iter().filter(|p| p.sop.is_none()).map(|p| p.name).collect(),
        sla_target_hours_by_priority: SLA_TARGET_H,
    }
}

fn sops_csv(spec: &Spec) -> (Vec<u8>, u64) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = 0;
    let _ = w.write_record([
        "sop_id",
        "version",
        "process",
        "category",
        "subcategory",
        "effective_from",
        "owner",
        "approved_by",
        "approved_at",
        "next_review",
        "change_summary",
        "retired_at",
    ]);
    for p in PROCESSES {
        let Some(sop) = &p.sop else { continue };
        let versions = versions(spec, p);
        for (k, v) in versions.iter().enumerate() {
            let eff = v.date;
            let next = versions.get(k + 1).map(|n| n.date);
            let review = match next {
                Some(n) => n.to_string(),
                None => eff
                    .checked_add_months(Months::new(sop.review_after_months.max(0) as u32))
                    .unwrap_or(eff)
                    .to_string(),
            };
            let approved = eff - chrono::Duration::days(7);
            let _ = w.write_record([
                sop.id,
                &v.version,
                p.name,
                p.category,
                p.subcategory,
                &eff.to_string(),
                sop.owner.unwrap_or(""),
                v.approved_by,
                &if v.approved_by.is_empty() { String::new() } else { approved.to_string() },
                &review,
                v.summary,
                "",
            ]);
            rows += 1;
        }
    }
    (w.into_inner().unwrap_or_default(), rows)
}

fn changes_csv(spec: &Spec, world: &World) -> (Vec<u8>, u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(spec.seed ^ 0xC4A6_6E55);
    let servicenow = spec.profile == Layout::Servicenow;
    let header: &[&str] = if servicenow {
        &["number", "type", "risk", "start_date", "end_date", "close_code", "category", "cmdb_ci"]
    } else {
        &["change_id", "opened_at", "end_date", "type", "risk", "close_code", "category", "subcategory", "cmdb_ci"]
    };
    let mut out = Rows::with_capacity(1 << 16);
    header.iter().fold(&mut out, |r, h| r.text(h)).end();
    let n = (spec.months as u64 * 12).max(1);
    let (start, end) = (spec.start_ts(), spec.end_ts());
    for i in 0..n {
        let opened = start + ((i as f64 + rng.random::<f64>()) / n as f64 * (end - start) as f64) as i64;
        let process = world.pick_process(rng.random::<f64>());
        let p = &PROCESSES[process];
        let effect = effect_at(&world.schedules[process], opened, spec.ramp_seconds());
        let failed = rng.random::<f64>() < (0.10 * effect.change_failure).min(0.95);
        let close = if failed {
            if rng.random::<f64>() < 0.5 {
                "Unsuccessful"
            } else {
                "Successful with issues"
            }
        } else {
            "Successful"
        };
        let ended = opened + rng.random_range(1800..8 * 3600);
        let ty = ["Normal", "Standard", "Emergency"][rng.random_range(0..3usize)];
        let risk = ["Low", "Moderate", "High"][rng.random_range(0..3usize)];
        let ci = format!("{}-{:02}", p.category.to_lowercase(), rng.random_range(1..20u32));
        out.text(format_args!("CHG{:07}", i + 1));
        if servicenow {
            out.text(ty).text(risk).with(|f| day_first(f, opened)).with(|f| day_first(f, ended));
            out.text(close).text(p.category).text(&ci).end();
        } else {
            out.with(|f| iso(f, opened)).with(|f| iso(f, ended)).text(ty).text(risk).text(close);
            out.text(p.category).text(p.subcategory).text(&ci).end();
        }
    }
    (out.into_bytes(), n)
}

fn audits_csv(findings: &[Finding]) -> (Vec<u8>, u64) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "finding_id",
        "raised_at",
        "process",
        "category",
        "subcategory",
        "sop_id",
        "control_id",
        "severity",
        "status",
        "description",
    ]);
    for (i, f) in findings.iter().enumerate() {
        let p = &PROCESSES[f.process];
        let mut raised = Vec::new();
        iso(&mut raised, f.raised);
        let _ = w.write_record([
            format!("AUD-{:05}", i + 1).as_str(),
            String::from_utf8_lossy(&raised).as_ref(),
            p.name,
            p.category,
            p.subcategory,
            "",
            f.control,
            f.severity,
            if i % 4 == 0 { "Open" } else { "Closed" },
            format!("Sampled {} ticket did not follow {}", p.name.to_lowercase(), f.control).as_str(),
        ]);
    }
    (w.into_inner().unwrap_or_default(), findings.len() as u64)
}

/// Write the data set into `dir`; returns each file written with its row count.
pub fn write(dir: &Path, spec: &Spec) -> Result<Vec<(PathBuf, Option<u64>)>> {
    ensure_dir(dir)?;
    let world = World::new(spec);
    let tickets_path = dir.join("tickets.csv");
    let header = match spec.profile {
        Layout::Canonical => CANONICAL_HEADER.to_string(),
        Layout::Servicenow if spec.event_log => format!("{SERVICENOW_HEADER},sys_updated_at,sys_mod_count\n"),
        Layout::Servicenow => format!("{SERVICENOW_HEADER}\n"),
    };
    // A file in `dir` is replaced only when the tool wrote it (its first line is the header this
    // run writes, see output::refuse_foreign): all five are checked before the first is touched,
    // so a refusal leaves the directory as it was. The audits' header is that of no finding.
    let (sops, n_sops) = sops_csv(spec);
    let (changes, n_changes) = changes_csv(spec, &world);
    let truth = serde_json::to_vec_pretty(&truth(spec)).map_err(|e| Error::Internal(e.to_string()))?;
    let audits_header = audits_csv(&[]).0;
    for (name, bytes) in [
        ("tickets.csv", header.as_bytes()),
        ("sops.csv", sops.as_slice()),
        ("changes.csv", changes.as_slice()),
        ("audits.csv", audits_header.as_slice()),
        ("truth.json", truth.as_slice()),
    ] {
        crate::output::refuse_foreign(&dir.join(name), bytes)?;
    }
    let file = File::create(&tickets_path).map_err(|e| Error::output(&tickets_path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| Error::output(&tickets_path, e);
    w.write_all(header.as_bytes()).map_err(io)?;
    let chunks = spec.tickets.div_ceil(CHUNK);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8) as u64;
    let mut findings = Vec::new();
    let mut ticket_rows = 0;
    let mut k = 0;
    while k < chunks {
        let batch: Vec<u64> = (k..(k + threads).min(chunks)).collect();
        let results: Vec<(Vec<u8>, Vec<Finding>, u64)> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&c| {
                    s.spawn({
                        let world = &world;
                        move || chunk(spec, world, c)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| (Vec::new(), Vec::new(), 0))).collect()
        });
        for (bytes, f, rows) in results {
            w.write_all(&bytes).map_err(io)?;
            findings.extend(f);
            ticket_rows += rows;
        }
        k += threads;
    }
    w.flush().map_err(io)?;
    findings.sort_by_key(|f| (f.raised, f.process));

    let mut written = vec![(tickets_path.clone(), Some(ticket_rows))];
    let (audits, n_audits) = audits_csv(&findings);
    for (name, bytes, rows) in [
        ("sops.csv", sops, Some(n_sops)),
        ("changes.csv", changes, Some(n_changes)),
        ("audits.csv", audits, Some(n_audits)),
        ("truth.json", truth, None),
    ] {
        let path = dir.join(name);
        crate::output::write_atomic(&path, &bytes)?;
        written.push((path, rows));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_456_708_560), (2016, 2, 29, 1, 16, 0));
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let spec = Spec::new(2000, 7, Layout::Canonical, false, "2024-01-01", 12).unwrap();
        let world = World::new(&spec);
        let a = chunk(&spec, &world, 0).0;
        let b = chunk(&spec, &world, 0).0;
        assert_eq!(a, b);
        let other = Spec { seed: 8, ..spec.clone() };
        assert_ne!(a, chunk(&other, &World::new(&other), 0).0);
    }

    #[test]
    fn an_effect_builds_up_over_its_ramp() {
        let half = Effect { mttr: 0.5, ..NONE };
        let schedule = [(100, NONE), (1_000, half)];
        assert_eq!(effect_at(&schedule, 50, 0).mttr, 1.0, "before the first version");
        assert_eq!(effect_at(&schedule, 1_000, 0).mttr, 0.5, "at once without a ramp");
        assert_eq!(effect_at(&schedule, 1_000, 400).mttr, 1.0, "a ramp starts where the last version was");
        assert_eq!(effect_at(&schedule, 1_100, 400).mttr, 0.875);
        assert_eq!(effect_at(&schedule, 1_400, 400).mttr, 0.5, "and ends at the new one");
        assert_eq!(effect_at(&schedule, 9_000, 400).mttr, 0.5);
    }

    #[test]
    fn frequently_revised_sops_change_one_rate_by_a_fifth_to_two_fifths() {
        let spec =
            Spec { sop_every_months: 3, ..Spec::new(1000, 7, Layout::Canonical, false, "2024-01-01", 24).unwrap() };
        let mut dates = BTreeSet::new();
        for p in PROCESSES.iter().filter(|p| p.sop.is_some()) {
            let v = versions(&spec, p);
            assert!(v.len() >= 7, "{}: {} versions", p.name, v.len());
            dates.insert(v[0].date);
            for pair in v.windows(2) {
                assert_eq!(pair[1].date, pair[0].date.checked_add_months(Months::new(3)).unwrap());
                let (a, b) = (pair[0].effect, pair[1].effect);
                let moved: Vec<f64> = [b.mttr / a.mttr, b.reopen / a.reopen, b.escalation / a.escalation]
                    .into_iter()
                    .filter(|r| *r != 1.0)
                    .collect();
                assert!(moved.len() <= 1 && moved.iter().all(|r| (0.2..=0.4).contains(&(r - 1.0).abs())), "{moved:?}");
                assert_eq!((b.error, b.audit), (a.error, a.audit));
            }
        }
        assert!(dates.len() >= 3, "the SOPs start in different months: {dates:?}");
        let none = Spec { effects: Effects::None, ..spec };
        assert!(PROCESSES
            .iter()
            .flat_map(|p| versions(&none, p))
            .all(|v| v.effect.mttr == 1.0 && v.effect.reopen == 1.0));
    }

    #[test]
    fn truth_lists_the_planted_worsening() {
        let spec = Spec::new(10, 1, Layout::Canonical, false, "2024-01-01", 24).unwrap();
        let t = truth(&spec);
        let net = t.changes.iter().find(|c| c.sop_id == "SOP-NET-004" && c.to_version == "2.0").unwrap();
        assert_eq!(net.expected["reopen_rate"], "worsened");
        assert_eq!(net.change_date, "2025-01-01");
        let acc = t.changes.iter().find(|c| c.sop_id == "SOP-ACC-001" && c.to_version == "1.1").unwrap();
        assert!(acc.expected.values().all(|d| *d == "no_change"));
    }

    #[test]
    fn realistic_desks_are_lopsided_tied_and_end_with_a_backlog() {
        let spec =
            Spec { realistic: true, ..Spec::new(20_000, 3, Layout::Canonical, false, "2024-01-01", 12).unwrap() };
        let world = World::new(&spec);
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        let noise = LogNormal::new(0.0, 0.8).unwrap();
        let tickets: Vec<Ticket> = (0..20_000).map(|i| make_ticket(&spec, &world, i, &mut rng, &noise)).collect();
        let first = tickets.iter().filter(|t| t.process == 0).count();
        assert!(first * 100 > 20_000 * 55, "the first process has over half: {first}");
        assert!(tickets.iter().filter_map(|t| Some(t.resolved? - t.opened)).all(|s| s % 60 == 0), "whole minutes");
        let end = spec.end_ts();
        let recent: Vec<&Ticket> = tickets.iter().filter(|t| end - t.opened < 28 * DAY).collect();
        let open = recent.iter().filter(|t| t.resolved.is_none()).count();
        assert!(open * 100 > recent.len() * 20, "{open} of {} recent tickets open", recent.len());
        let plain = Spec { realistic: false, ..spec.clone() };
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        let t = make_ticket(&plain, &World::new(&plain), 0, &mut rng, &noise);
        assert!(
            t.resolved.is_none_or(|r| (r - t.opened) % 60 != 0 || r - t.opened == 60),
            "seconds when not realistic"
        );
    }
}
