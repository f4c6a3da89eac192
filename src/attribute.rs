//! Attribution (docs/inputs.md): which process and SOP version every ticket, change and audit finding
//! belongs to.
//!
//! The SOP table is small, so the process match (most specific first, case- and
//! white-space-insensitive) is decided once per distinct (category, subcategory) pair, found on
//! the categorical codes. The version in force is then, per ticket, a binary search of its time
//! in the few versions of its pair's SOP key: one pass, no join and no sort of the ticket table.
//! Changes and audit findings (small tables) go through an as-of join.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::validate::{Dataset, TicketPairs};
use sop_impact_parse::values::process_key;

/// Which timestamp places a ticket in the SOP version in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeBy {
    OpenedAt,
    /// resolved, else closed, else (still open) opened
    ResolvedAt,
}

/// Name of the version before an SOP's first version, and of processes without an SOP.
pub const NO_SOP: &str = "-";

/// One row of the timeline: an SOP version, the "no SOP yet" interval before an SOP's first
/// version, or a process that has no SOP at all.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub id: u32,
    pub process_id: u32,
    pub sop_id: String,
    pub version: String,
    pub process: String,
    /// UTC ms; None for "no SOP" rows
    pub effective_from: Option<i64>,
    /// UTC ms; None while in force
    pub effective_to: Option<i64>,
}

/// The attributed inputs of one run.
pub struct Attributed {
    /// rows in a fixed order: per SOP (by sop_id) "-" then versions by effective_from; then
    /// processes without an SOP by name
    pub timeline: Vec<TimelineRow>,
    /// process names by process_id
    pub processes: Vec<String>,
    /// tickets with `version_id`, `process_id` and `attributed_at` added
    pub tickets: DataFrame,
    pub changes: DataFrame,
    pub audits: DataFrame,
    /// changes and findings that match no process, by input
    pub unattributed: Vec<(String, u64)>,
}

/// The `attributed_at` of an attributed table (tickets, change requests or audit findings) as
/// UTC epoch milliseconds.
pub fn attributed_ms(df: &DataFrame) -> Result<Int64Chunked> {
    timestamp_ms(df, "attributed_at")
}

/// A timestamp column as UTC epoch milliseconds (the column itself when it is stored so).
pub fn timestamp_ms(df: &DataFrame, name: &str) -> Result<Int64Chunked> {
    let ms = DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    let column = df.column(name).and_then(|c| c.cast(&ms))?;
    Ok(column.datetime()?.physical().clone())
}

const SEP: char = '\u{1f}';

/// (match key, effective_from in UTC ms, timeline id): one row of the as-of table.
type AsofRow = (String, i64, u32);

struct SopIndex {
    /// SOP key → sop_id (the first SOP of that key in date order)
    by_key: BTreeMap<String, String>,
    /// sop_id → timeline id of its "-" row, and its process id
    pre_row: HashMap<String, (u32, u32)>,
    /// category → the SOP keys in it (for records that name only a category)
    keys_in_category: HashMap<String, Vec<String>>,
    /// process names (normalised) → sop_id
    by_process_name: HashMap<String, String>,
}

fn sop_key(cat: &str, sub: &str) -> String {
    format!("{}{SEP}{}", process_key(cat), process_key(sub))
}

fn str_col(df: &DataFrame, name: &str) -> Result<StringChunked> {
    Ok(df.column(name)?.str()?.clone())
}

fn ms_col(df: &DataFrame, name: &str) -> Result<Int64Chunked> {
    Ok(df.column(name)?.datetime()?.physical().clone())
}

/// What governs one (category, subcategory) pair of the tickets.
struct PairGovernor {
    /// (effective_from, timeline id) of the versions of its SOP key, in date order
    versions: Vec<(i64, u32)>,
    /// timeline id before the first version (or of the process without an SOP)
    fallback_id: u32,
    process_id: u32,
}

/// Build the timeline from the validated SOP table.
/// The SOP table turned into a timeline, process names, a match index and the as-of rows.
struct Built {
    timeline: Vec<TimelineRow>,
    processes: Vec<String>,
    index: SopIndex,
    asof_rows: Vec<AsofRow>,
}

fn build_timeline(sops: &DataFrame) -> Result<Built> {
    let (ids, versions, processes, cats, subs) = (
        str_col(sops, "sop_id")?,
        str_col(sops, "version")?,
        str_col(sops, "process")?,
        str_col(sops, "category")?,
        str_col(sops, "subcategory")?,
    );
    let eff = ms_col(sops, "effective_from")?;
    let retired = ms_col(sops, "retired_at")?;
    // sop_id → its versions in date order (the frame is sorted by sop_id, effective_from)
    let mut by_sop: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..sops.height() {
        by_sop.entry(ids.get(i).unwrap_or_default().to_string()).or_default().push(i);
    }
    let mut timeline = Vec::new();
    let mut process_names = Vec::new();
    let mut index = SopIndex {
        by_key: BTreeMap::new(),
        pre_row: HashMap::new(),
        keys_in_category: HashMap::new(),
        by_process_name: HashMap::new(),
    };
    // (match key, effective_from, timeline id) for the as-of join
    let mut asof_rows = Vec::new();
    let mut first_use: Vec<(i64, String, String)> = Vec::new();
    for (sop_id, rows) in &by_sop {
        let last = *rows.last().unwrap_or(&rows[0]);
        let process = processes.get(last).unwrap_or_default().to_string();
        let process_id = process_names.len() as u32;
        process_names.push(process.clone());
        index.by_process_name.insert(process_key(&process), sop_id.clone());
        let first_eff = eff.get(rows[0]);
        let pre_id = timeline.len() as u32;
        timeline.push(TimelineRow {
            id: pre_id,
            process_id,
            sop_id: sop_id.clone(),
            version: NO_SOP.into(),
            process: process.clone(),
            effective_from: None,
            effective_to: first_eff,
        });
        index.pre_row.insert(sop_id.clone(), (pre_id, process_id));
        for (k, &i) in rows.iter().enumerate() {
            let id = timeline.len() as u32;
            let next = rows.get(k + 1).and_then(|&j| eff.get(j)).or(retired.get(i));
            timeline.push(TimelineRow {
                id,
                process_id,
                sop_id: sop_id.clone(),
                version: versions.get(i).unwrap_or_default().to_string(),
                process: process.clone(),
                effective_from: eff.get(i),
                effective_to: next,
            });
            let key = sop_key(cats.get(i).unwrap_or_default(), subs.get(i).unwrap_or_default());
            asof_rows.push((key.clone(), eff.get(i).unwrap_or(i64::MIN), id));
            first_use.push((eff.get(i).unwrap_or(i64::MIN), key, sop_id.clone()));
        }
    }
    // A key governed by several SOPs over time (one retired, another later) falls back to the
    // first of them before any is in force.
    first_use.sort();
    for (_, key, sop_id) in first_use {
        let cat = key.split(SEP).next().unwrap_or_default().to_string();
        let keys = index.keys_in_category.entry(cat).or_default();
        if !keys.contains(&key) {
            keys.push(key.clone());
        }
        index.by_key.entry(key).or_insert(sop_id);
    }
    Ok(Built { timeline, processes: process_names, index, asof_rows })
}

impl SopIndex {
    /// The most specific SOP key governing (category, subcategory): the exact pair, else the
    /// whole category (an SOP with an empty subcategory). With `category_only`, a record that
    /// names no subcategory also matches the single SOP of its category.
    fn governing_key(&self, cat: &str, sub: &str, category_only: bool) -> Option<String> {
        let exact = sop_key(cat, sub);
        if self.by_key.contains_key(&exact) {
            return Some(exact);
        }
        let whole = sop_key(cat, "");
        if self.by_key.contains_key(&whole) {
            return Some(whole);
        }
        if category_only && process_key(sub).is_empty() {
            if let Some(keys) = self.keys_in_category.get(&process_key(cat)) {
                if keys.len() == 1 {
                    return Some(keys[0].clone());
                }
            }
        }
        None
    }
}

/// Display name of a process without an SOP: `category / subcategory`.
fn unsop_name(cat: &str, sub: &str) -> String {
    let (c, s) = (cat.trim(), sub.trim());
    match (c.is_empty(), s.is_empty()) {
        (true, true) => "(no category)".into(),
        (false, true) => c.to_string(),
        (true, false) => format!("(no category) / {s}"),
        (false, false) => format!("{c} / {s}"),
    }
}

/// Attribute all records of a run.
pub fn attribute(data: &Dataset, by: AttributeBy) -> Result<Attributed> {
    let Built { mut timeline, mut processes, index, asof_rows } = build_timeline(&data.sops)?;
    // Distinct (category, subcategory) pairs of the tickets, decided once each, in text order.
    let pairs = TicketPairs::of(&data.tickets)?;
    let governed: Vec<Option<String>> = pairs.text.iter().map(|(c, s)| index.governing_key(c, s, false)).collect();
    let unsop_ids = add_processes_without_sop(&pairs, &governed, &mut timeline, &mut processes);
    let governors = pair_governors(&pairs, governed, &index, &unsop_ids, &asof_rows)?;
    let tickets = attribute_tickets(data, by, &pairs, &governors)?;

    let asof = asof_table(&asof_rows)?;
    let (changes, lost_changes) =
        attribute_records(data.changes.as_ref(), "opened_at", &index, &unsop_ids, &asof, false)?;
    let (audits, lost_audits) = attribute_records(data.audits.as_ref(), "raised_at", &index, &unsop_ids, &asof, true)?;
    let mut unattributed = Vec::new();
    if lost_changes > 0 {
        unattributed.push(("changes".to_string(), lost_changes));
    }
    if lost_audits > 0 {
        unattributed.push(("audits".to_string(), lost_audits));
    }
    Ok(Attributed { timeline, processes, tickets, changes, audits, unattributed })
}

/// Processes without an SOP, one per normalised pair no SOP governs, named by the first
/// spelling in sort order (so "access" and "Access " are one process), each with a "-" row in
/// the timeline. Returns normalised pair → (timeline id, process id).
fn add_processes_without_sop(
    pairs: &TicketPairs,
    governed: &[Option<String>],
    timeline: &mut Vec<TimelineRow>,
    processes: &mut Vec<String>,
) -> HashMap<String, (u32, u32)> {
    let mut unsop: BTreeMap<String, String> = BTreeMap::new();
    for ((c, s), key) in pairs.text.iter().zip(governed) {
        if key.is_none() {
            unsop.entry(sop_key(c, s)).or_insert_with(|| unsop_name(c, s));
        }
    }
    let mut unsop_ids: HashMap<String, (u32, u32)> = HashMap::new();
    let mut names: Vec<(&String, &String)> = unsop.iter().collect();
    names.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    for (key, name) in names {
        let process_id = processes.len() as u32;
        processes.push(name.clone());
        let id = timeline.len() as u32;
        timeline.push(TimelineRow {
            id,
            process_id,
            sop_id: String::new(),
            version: NO_SOP.into(),
            process: name.clone(),
            effective_from: None,
            effective_to: None,
        });
        unsop_ids.insert(key.clone(), (id, process_id));
    }
    unsop_ids
}

/// Per ticket pair: the versions of its SOP key in date order, and what applies before them.
fn pair_governors(
    pairs: &TicketPairs,
    governed: Vec<Option<String>>,
    index: &SopIndex,
    unsop_ids: &HashMap<String, (u32, u32)>,
    asof_rows: &[AsofRow],
) -> Result<Vec<PairGovernor>> {
    let mut by_key: HashMap<&str, Vec<(i64, u32)>> = HashMap::new();
    for (key, from, id) in asof_rows {
        by_key.entry(key.as_str()).or_default().push((*from, *id));
    }
    for versions in by_key.values_mut() {
        versions.sort();
    }
    let mut governors = Vec::with_capacity(pairs.text.len());
    for ((c, s), key) in pairs.text.iter().zip(governed) {
        let (fallback_id, process_id) = match &key {
            Some(k) => index.by_key.get(k).and_then(|sop| index.pre_row.get(sop)).copied(),
            None => unsop_ids.get(&sop_key(c, s)).copied(),
        }
        .ok_or_else(|| Error::Internal(format!("no process for the ticket category '{c}' / '{s}'")))?;
        let versions = key.as_deref().and_then(|k| by_key.get(k)).cloned().unwrap_or_default();
        governors.push(PairGovernor { versions, fallback_id, process_id });
    }
    Ok(governors)
}

/// The tickets with `attributed_at`, `process_id` and `version_id`: the version in force at
/// each ticket's time is the latest effective_from at or before it (a ticket exactly at
/// effective_from belongs to the new version). One pass, a binary search per ticket.
fn attribute_tickets(
    data: &Dataset,
    by: AttributeBy,
    pairs: &TicketPairs,
    governors: &[PairGovernor],
) -> Result<DataFrame> {
    let time = match by {
        AttributeBy::OpenedAt => col("opened_at"),
        // Tickets not resolved yet are attributed by when they were opened.
        AttributeBy::ResolvedAt => coalesce(&[col("resolved_at"), col("closed_at"), col("opened_at")]),
    };
    let attributed_at =
        data.tickets.clone().lazy().select([time.alias("attributed_at")]).collect()?.column("attributed_at")?.clone();
    let times = attributed_at.datetime()?.physical().rechunk();
    let times = times.cont_slice()?;
    let n = data.tickets.height();
    let (mut version_id, mut process_id) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, &t) in times.iter().enumerate() {
        let g = &governors[pairs.slot_of_row[i] as usize];
        let k = g.versions.partition_point(|v| v.0 <= t);
        version_id.push(if k == 0 { g.fallback_id } else { g.versions[k - 1].1 });
        process_id.push(g.process_id);
    }
    let mut tickets = data.tickets.clone();
    for c in [
        attributed_at,
        UInt32Chunked::from_vec("process_id".into(), process_id).into_column(),
        UInt32Chunked::from_vec("version_id".into(), version_id).into_column(),
    ] {
        tickets.with_column(c)?;
    }
    Ok(tickets)
}

fn asof_table(rows: &[AsofRow]) -> Result<DataFrame> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let eff = Int64Chunked::from_iter_values("effective_from".into(), rows.iter().map(|r| r.1))
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column();
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("match_key".into(), rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()),
            eff,
            Column::new("asof_id".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        ],
    )?)
}

/// The tickets in process order, then by `attributed_at`, ties in file order. Each grouping
/// of the tickets the queries run on (SOP version, process and period, process and week) then
/// holds every group in one run of rows, and their group-bys take the runs instead of hashing
/// every ticket's key. Reordered a column at a time, so that one column is held twice, not the
/// table.
pub fn in_process_time_order(mut tickets: DataFrame) -> Result<DataFrame> {
    let process = tickets.column("process_id").and_then(|c| c.u32())?.rechunk().into_owned();
    let times = attributed_ms(&tickets)?.rechunk().into_owned();
    let (Ok(process), Ok(times)) = (process.cont_slice(), times.cont_slice()) else {
        return Err(Error::Internal("a ticket without a process or an attribution time".into()));
    };
    let rows = IdxCa::from_vec("row".into(), process_time_order(process, times));
    // A column that holds the very values of one before it (the attribution time when it is
    // the opening time) is put in order once: 80 MB less at 10M tickets.
    let names = tickets.get_column_names_owned();
    let column = |name: &PlSmallStr| tickets.column(name).map_err(Error::from);
    let mut twin_of: Vec<Option<usize>> = Vec::with_capacity(names.len());
    for (k, name) in names.iter().enumerate() {
        let c = column(name)?;
        twin_of.push(names[..k].iter().position(|other| column(other).is_ok_and(|o| same_times(c, o))));
    }
    let firsts: Vec<usize> = (0..names.len()).filter(|&k| twin_of[k].is_none()).collect();
    // a few columns at a time, each on a core
    for group in firsts.chunks(crate::cores::count()) {
        // (text read in pieces is put in one piece first: a gather from many pieces looks up
        // each row's piece)
        let ordered =
            tickets.select(group.iter().map(|&k| names[k].clone())).and_then(|mut df| df.rechunk_mut().take(&rows))?;
        for (&k, column) in group.iter().zip(ordered.into_columns()) {
            for twin in (0..names.len()).filter(|&t| twin_of[t] == Some(k)) {
                tickets.with_column(column.clone().with_name(names[twin].clone()))?;
            }
            tickets.with_column(column)?;
        }
    }
    crate::diag::trace("tickets in process and time order");
    Ok(tickets)
}

/// Whether two timestamp columns hold the same values in the same memory (one made from the
/// other by a rename).
fn same_times(a: &Column, b: &Column) -> bool {
    let (DataType::Datetime(..), true) = (a.dtype(), a.dtype() == b.dtype() && a.len() == b.len()) else {
        return false;
    };
    let (a, b) = (a.to_physical_repr(), b.to_physical_repr());
    let (Ok(a), Ok(b)) = (a.i64(), b.i64()) else { return false };
    let same = a.chunks().len() == b.chunks().len()
        && a.downcast_iter().zip(b.downcast_iter()).all(|(x, y)| {
            x.len() == y.len() && x.values().as_ptr() == y.values().as_ptr() && x.validity() == y.validity()
        });
    same
}

/// Row numbers in (process, time) order, ties in row order: the rows dealt out by process in
/// row order (linear), then each process's rows sorted by time, the processes shared among the
/// cores.
fn process_time_order(process: &[u32], times: &[i64]) -> Vec<IdxSize> {
    let processes = process.iter().max().map_or(0, |&p| p as usize + 1);
    let mut ends = vec![0usize; processes];
    for &p in process {
        ends[p as usize] += 1;
    }
    let mut next = Vec::with_capacity(processes);
    let mut total = 0;
    for end in ends.iter_mut() {
        next.push(total);
        total += *end;
        *end = total;
    }
    let mut rows: Vec<IdxSize> = vec![0; process.len()];
    for (i, &p) in process.iter().enumerate() {
        rows[next[p as usize]] = i as IdxSize;
        next[p as usize] += 1;
    }
    // one slice per process, the slices shared among the cores
    let mut segments: Vec<&mut [IdxSize]> = Vec::with_capacity(processes);
    let mut rest = rows.as_mut_slice();
    let mut start = 0;
    for &end in &ends {
        let (segment, tail) = rest.split_at_mut(end - start);
        segments.push(segment);
        rest = tail;
        start = end;
    }
    crate::cores::share(
        segments,
        |s| s.len(),
        |segment| {
            // (time, row) pairs are distinct: sorted unstably, ties stay in row order
            let mut by_time: Vec<(i64, IdxSize)> = segment.iter().map(|&i| (times[i as usize], i)).collect();
            by_time.sort_unstable();
            for (slot, (_, i)) in segment.iter_mut().zip(by_time) {
                *slot = i;
            }
        },
    );
    rows
}

/// As-of join on `attributed_at` within each match key: the version whose effective_from is
/// the latest at or before the record's time (a record exactly at effective_from belongs to the
/// new version). Records before the first version, or of processes without an SOP, take their
/// fallback row. Expects `df` sorted by `attributed_at`.
fn version_in_force(df: DataFrame, asof: &DataFrame) -> Result<DataFrame> {
    let joined = df.join_asof_by(
        asof,
        "attributed_at",
        "effective_from",
        ["match_key"],
        ["match_key"],
        AsofStrategy::Backward,
        None,
        true,
        // Both sides are sorted here; polars cannot verify it within groups and would warn.
        false,
    )?;
    let joined = joined.drop_many(["effective_from", "match_key_right"]);
    Ok(joined
        .lazy()
        .with_column(coalesce(&[col("asof_id"), col("fallback_id")]).alias("version_id"))
        .drop(by_name(["asof_id"], true, false))
        .collect()?)
}

/// Changes and audit findings: small tables, so the match is decided row by row in Rust, then
/// the version by the same as-of join. Audit findings may name an sop_id or a process instead of
/// a category. Returns the frame (rows that match no process dropped) and how many were dropped.
fn attribute_records(
    df: Option<&DataFrame>,
    time_col: &str,
    index: &SopIndex,
    unsop_ids: &HashMap<String, (u32, u32)>,
    asof: &DataFrame,
    is_audit: bool,
) -> Result<(DataFrame, u64)> {
    let Some(df) = df else {
        let empty = DataFrame::new(
            0,
            vec![
                Column::new("version_id".into(), Vec::<u32>::new()),
                Column::new("process_id".into(), Vec::<u32>::new()),
                Int64Chunked::from_vec("attributed_at".into(), vec![])
                    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                    .into_column(),
                Column::new("close_code".into(), Vec::<String>::new()),
            ],
        )?;
        return Ok((empty, 0));
    };
    let n = df.height();
    let cats = str_col(df, "category")?;
    let subs = str_col(df, "subcategory")?;
    let sop_ids = if is_audit { Some(str_col(df, "sop_id")?) } else { None };
    let procs = if is_audit { Some(str_col(df, "process")?) } else { None };
    let mut keys = Vec::with_capacity(n);
    let mut fallback: Vec<Option<u32>> = Vec::with_capacity(n);
    let mut process: Vec<Option<u32>> = Vec::with_capacity(n);
    for i in 0..n {
        let (c, s) = (cats.get(i).unwrap_or_default(), subs.get(i).unwrap_or_default());
        let mut key = None;
        if let Some(sop) = sop_ids.as_ref().and_then(|x| x.get(i)) {
            key = index.by_key.iter().find(|(_, v)| v.as_str() == sop).map(|(k, _)| k.clone());
        }
        if key.is_none() && !c.is_empty() {
            key = index.governing_key(c, s, true);
        }
        if key.is_none() {
            if let Some(name) = procs.as_ref().and_then(|x| x.get(i)) {
                if let Some(sop) = index.by_process_name.get(&process_key(name)) {
                    key = index.by_key.iter().find(|(_, v)| *v == sop).map(|(k, _)| k.clone());
                }
            }
        }
        let found = match &key {
            Some(k) => index.by_key.get(k).and_then(|sop| index.pre_row.get(sop)).copied(),
            None => unsop_ids.get(&sop_key(c, s)).copied().or_else(|| {
                // a finding that names a process without an SOP by its display name
                procs.as_ref().and_then(|x| x.get(i)).and_then(|name| {
                    let (cat, sub) = name.split_once(" / ").unwrap_or((name, ""));
                    unsop_ids.get(&sop_key(cat, sub)).copied()
                })
            }),
        };
        keys.push(key.unwrap_or_default());
        fallback.push(found.map(|f| f.0));
        process.push(found.map(|f| f.1));
    }
    let with_keys = df
        .clone()
        .lazy()
        .with_columns([
            col(time_col).alias("attributed_at"),
            lit(Series::new("match_key".into(), keys)).alias("match_key"),
            lit(Series::new("fallback_id".into(), fallback)).alias("fallback_id"),
            lit(Series::new("process_id".into(), process)).alias("process_id"),
        ])
        .filter(col("process_id").is_not_null())
        .sort(["attributed_at"], SortMultipleOptions::default().with_maintain_order(true))
        .collect()?;
    let lost = (n - with_keys.height()) as u64;
    let out = version_in_force(with_keys, asof)?.drop_many(["match_key", "fallback_id"]);
    Ok((out, lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order is that of (process, time, row) triples, for a process of most rows, many ties
    /// and times across the whole range of i64.
    #[test]
    fn process_time_order_is_that_of_the_triples() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        for case in 0..60 {
            let n = rng.random_range(0..3000usize);
            let process: Vec<u32> =
                (0..n).map(|_| if rng.random_bool(0.8) { 0 } else { rng.random_range(1..6) }).collect();
            let times: Vec<i64> = (0..n)
                .map(|_| match case % 3 {
                    0 => rng.random_range(0..50),
                    1 => rng.random_range(-1_000_000_000_000..1_000_000_000_000),
                    _ => [i64::MIN, i64::MAX, 0, 7][rng.random_range(0..4usize)],
                })
                .collect();
            let mut expected: Vec<IdxSize> = (0..n as IdxSize).collect();
            expected.sort_by_key(|&i| (process[i as usize], times[i as usize], i));
            assert_eq!(process_time_order(&process, &times), expected, "case {case}");
        }
    }

    #[test]
    fn tickets_go_in_process_then_time_order_ties_in_row_order() {
        // rows:        0   1   2   3   4   5   6
        let process = [2, 0, 2, 0, 1, 0, 2];
        let times = [50, 30, 10, 30, 99, 20, 50];
        // process 0: rows 5 (20), 1 and 3 (30, in row order); process 1: row 4; process 2: rows
        // 2 (10), 0 and 6 (50, in row order)
        assert_eq!(process_time_order(&process, &times), [5, 1, 3, 4, 2, 0, 6]);
        assert!(process_time_order(&[], &[]).is_empty());

        let df = df!(
            "ticket_id" => ["a", "b", "c", "d", "e", "f", "g"],
            "process_id" => process,
            "attributed_at" => times.map(i64::from),
        )
        .unwrap();
        let df = df
            .lazy()
            .with_column(col("attributed_at").cast(DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))))
            // opened_at the very column attributed_at is (attribution by opening time); closed_at
            // the same values in other memory
            .with_columns([
                col("attributed_at").alias("opened_at"),
                (col("attributed_at").cast(DataType::Int64) + lit(0))
                    .cast(DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
                    .alias("closed_at"),
            ])
            .collect()
            .unwrap();
        assert!(same_times(df.column("opened_at").unwrap(), df.column("attributed_at").unwrap()));
        assert!(!same_times(df.column("closed_at").unwrap(), df.column("attributed_at").unwrap()));
        // the ids in pieces, as the ticket files' blocks leave them
        let mut df = df;
        let ids = df.column("ticket_id").unwrap().clone();
        let mut pieces = ids.slice(0, 3);
        pieces.append(&ids.slice(3, 4)).unwrap();
        df.with_column(pieces).unwrap();
        assert_eq!(df.column("ticket_id").unwrap().n_chunks(), 2);
        let ordered = in_process_time_order(df).unwrap();
        let ids: Vec<&str> = ordered.column("ticket_id").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(ids, ["f", "b", "d", "e", "c", "a", "g"]);
        let ms = |name: &str| {
            attributed_ms(&ordered.clone().lazy().select([col(name).alias("attributed_at")]).collect().unwrap())
                .unwrap()
        };
        let expected: Vec<Option<i64>> = [20, 30, 30, 99, 10, 50, 50].into_iter().map(Some).collect();
        for name in ["attributed_at", "opened_at", "closed_at"] {
            assert_eq!(ms(name).iter().collect::<Vec<_>>(), expected, "{name}");
        }
        assert_eq!(ordered.get_column_names(), ["ticket_id", "process_id", "attributed_at", "opened_at", "closed_at"]);
        assert!(same_times(ordered.column("opened_at").unwrap(), ordered.column("attributed_at").unwrap()));
    }

    #[test]
    fn names_of_processes_without_sop() {
        assert_eq!(unsop_name("Database", "Access request"), "Database / Access request");
        assert_eq!(unsop_name("Printing", ""), "Printing");
        assert_eq!(unsop_name("", ""), "(no category)");
    }
}
