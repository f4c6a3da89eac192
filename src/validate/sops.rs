//! SOP version history: row checks, then history checks (duplicate versions, versions taking
//! effect on the same day, two SOPs governing the same tickets at once, version labels out of
//! date order, versions that match no ticket).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use super::columns::{datetime_column, free_text, required_text, settle_order, text, timestamps};
use super::{
    date_range, no_rows_error, open, summarise, Counts, FileFacts, InputSummary, LoadOptions, Reject, RowProblems,
};
use crate::error::Result;
use crate::ingest::profile::InputKind;
use sop_impact_parse::time::{format_date, format_utc};
use sop_impact_parse::values::process_key;

const TEXT: &[&str] = &["owner", "approved_by", "change_summary"];

/// One accepted row, as the history checks see it.
struct Version {
    row: usize,
    sop_id: String,
    version: String,
    key: (String, String),
    effective_from: i64,
    retired_at: Option<i64>,
}

pub fn load(
    path: &Path,
    opts: &LoadOptions,
    tickets: &DataFrame,
    inputs: &mut Vec<InputSummary>,
    rejects: &mut Vec<Reject>,
) -> Result<(DataFrame, Vec<String>)> {
    let (table, mapping) = open(path, InputKind::Sops, opts)?;
    if table.rows_read == 0 {
        return Err(no_rows_error(path, InputKind::Sops));
    }
    let src = |c: &str| mapping.source(c).clone();
    let ts_sources = [src("effective_from"), src("approved_at"), src("next_review"), src("retired_at")];
    let order = settle_order(&table, &ts_sources.iter().collect::<Vec<_>>(), opts, None)?;
    let mut problems = RowProblems::new(&table);
    let sop_id = required_text(&table, &src("sop_id"), "sop_id", &mut problems);
    let version = required_text(&table, &src("version"), "version", &mut problems);
    let category = required_text(&table, &src("category"), "category", &mut problems);
    let subcategory = text(&table, &src("subcategory"), "subcategory", &mut problems);
    let effective = timestamps(&table, &src("effective_from"), "effective_from", order, opts, &mut problems, true);
    let approved_at = timestamps(&table, &src("approved_at"), "approved_at", order, opts, &mut problems, false);
    let next_review = timestamps(&table, &src("next_review"), "next_review", order, opts, &mut problems, false);
    let retired = timestamps(&table, &src("retired_at"), "retired_at", order, opts, &mut problems, false);
    let process_raw = text(&table, &src("process"), "process", &mut problems);

    let n = table.height();
    let columns = VersionColumns { sop_id: &sop_id, version: &version, category: &category, subcategory: &subcategory };
    let versions = accepted_versions(&columns, &effective, &retired, &mut problems);
    let mut warnings = history_checks(&versions, &mut problems);

    let process = display_names(&process_raw, &category, &subcategory);
    let cols = vec![
        sop_id.into_column(),
        version.into_column(),
        process.with_name("process".into()).into_column(),
        category.into_column(),
        subcategory.into_column(),
        datetime_column(effective),
        text(&table, &src(TEXT[0]), TEXT[0], &mut problems).into_column(),
        text(&table, &src(TEXT[1]), TEXT[1], &mut problems).into_column(),
        datetime_column(approved_at),
        datetime_column(next_review),
        free_text(&table, &src(TEXT[2]), TEXT[2]).into_column(),
        datetime_column(retired),
        UInt64Chunked::from_iter_values("source_line".into(), (0..n as u64).map(|i| table.lines.line(i))).into_column(),
    ];
    let df = DataFrame::new(n, cols)?.filter(&problems.keep_mask())?;
    let df = df.sort(["sop_id", "effective_from"], SortMultipleOptions::default().with_maintain_order(true))?;

    warnings.extend(unmatched_versions(&df, tickets)?);
    let rejected = problems.list.len() as u64 + table.rejects.len() as u64;
    rejects.extend(table.rejects.iter().cloned());
    rejects.append(&mut problems.list);
    let eff = df.column("effective_from")?.datetime()?.physical().clone();
    inputs.push(summarise(
        InputKind::Sops,
        &FileFacts::of(&table),
        &mapping,
        Counts { accepted: df.height() as u64, rejected, superseded: 0, shortened: problems.shortened },
        date_range(&eff),
        rejects,
    ));
    Ok((df, warnings))
}

/// The text columns that identify a version.
struct VersionColumns<'a> {
    sop_id: &'a StringChunked,
    version: &'a StringChunked,
    category: &'a StringChunked,
    subcategory: &'a StringChunked,
}

/// The rows that passed the value checks as versions; one retired before it took effect is
/// rejected.
fn accepted_versions(
    c: &VersionColumns,
    effective: &Int64Chunked,
    retired: &Int64Chunked,
    problems: &mut RowProblems,
) -> Vec<Version> {
    let mut versions = Vec::new();
    for i in 0..c.sop_id.len() {
        if problems.rejected[i] {
            continue;
        }
        let (Some(id), Some(v), Some(cat), Some(eff)) =
            (c.sop_id.get(i), c.version.get(i), c.category.get(i), effective.get(i))
        else {
            continue;
        };
        let retired_at = retired.get(i);
        if let Some(r) = retired_at.filter(|r| *r < eff) {
            problems.add(
                i,
                "retired_at",
                &format_date(r),
                format!("retired before it took effect ({})", format_date(eff)),
            );
            continue;
        }
        versions.push(Version {
            row: i,
            sop_id: id.to_string(),
            version: v.to_string(),
            key: (process_key(cat), c.subcategory.get(i).map(process_key).unwrap_or_default()),
            effective_from: eff,
            retired_at,
        });
    }
    versions
}

/// Each version's process name: as given, else the category (and subcategory) it governs.
fn display_names(given: &StringChunked, category: &StringChunked, subcategory: &StringChunked) -> StringChunked {
    (0..given.len())
        .map(|i| {
            given.get(i).map(str::to_string).or_else(|| {
                category.get(i).map(|c| match subcategory.get(i) {
                    Some(s) => format!("{c} / {s}"),
                    None => c.to_string(),
                })
            })
        })
        .collect()
}

fn history_checks(versions: &[Version], problems: &mut RowProblems) -> Vec<String> {
    let mut warnings = Vec::new();
    reject_repeated_versions(versions, problems);
    let alive: Vec<&Version> = versions.iter().filter(|v| !problems.rejected[v.row]).collect();

    // Per SOP: its span and whether its version labels follow date order.
    let mut by_sop: BTreeMap<&str, Vec<&Version>> = BTreeMap::new();
    for v in &alive {
        by_sop.entry(&v.sop_id).or_default().push(v);
    }
    let mut spans: Vec<Span> = Vec::new();
    for (id, vs) in by_sop.iter_mut() {
        vs.sort_by_key(|v| v.effective_from);
        let labels: Vec<&str> = vs.iter().map(|v| v.version.as_str()).collect();
        let mut natural = labels.clone();
        natural.sort_by(|a, b| natural_cmp(a, b));
        if labels != natural {
            warnings.push(format!(
                "sops: {id}: version labels are out of date order ({} by effective_from); versions are ordered by effective_from",
                labels.join(" → ")
            ));
        }
        let retired = vs.last().and_then(|v| v.retired_at);
        spans.push(Span { sop_id: id, key: vs[0].key.clone(), from: vs[0].effective_from, retired, row: vs[0].row });
        for w in vs.windows(2) {
            if w[1].key != w[0].key {
                warnings.push(format!(
                    "sops: {id}: version {} governs '{}' but version {} governed '{}'",
                    w[1].version,
                    show_key(&w[1].key),
                    w[0].version,
                    show_key(&w[0].key)
                ));
            }
        }
    }
    reject_overlapping_sops(spans, &alive, problems);
    warnings
}

/// A version repeated, or taking effect at the same time as another of its SOP: the first is
/// kept, the others are rejected.
fn reject_repeated_versions(versions: &[Version], problems: &mut RowProblems) {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    let mut same_day: HashMap<(&str, i64), usize> = HashMap::new();
    for v in versions {
        if let Some(&first) = seen.get(&(v.sop_id.as_str(), v.version.as_str())) {
            let line = problems.line(first);
            problems.add(
                v.row,
                "version",
                &v.version,
                format!("duplicate version {} of {} (first at line {line})", v.version, v.sop_id),
            );
            continue;
        }
        seen.insert((&v.sop_id, &v.version), v.row);
        if let Some(&first) = same_day.get(&(v.sop_id.as_str(), v.effective_from)) {
            let line = problems.line(first);
            problems.add(
                v.row,
                "effective_from",
                &format_utc(v.effective_from),
                format!(
                    "overlapping versions: {} takes effect at the same time as the version at line {line}",
                    v.version
                ),
            );
            continue;
        }
        same_day.insert((&v.sop_id, v.effective_from), v.row);
    }
}

/// Two SOPs governing the same tickets at the same time: the one that started later is rejected.
fn reject_overlapping_sops(mut spans: Vec<Span>, alive: &[&Version], problems: &mut RowProblems) {
    spans.sort_by(|a, b| a.from.cmp(&b.from).then(a.sop_id.cmp(b.sop_id)));
    let mut rejected_sops: HashSet<&str> = HashSet::new();
    for (k, later) in spans.iter().enumerate() {
        for earlier in &spans[..k] {
            if rejected_sops.contains(earlier.sop_id) || earlier.key != later.key {
                continue;
            }
            if earlier.retired.is_none_or(|retired| retired > later.from) {
                rejected_sops.insert(later.sop_id);
                let line = problems.line(earlier.row);
                for v in alive.iter().filter(|v| v.sop_id == later.sop_id) {
                    problems.add(
                        v.row,
                        "sop_id",
                        &v.sop_id,
                        format!(
                            "overlapping SOPs: {} governs '{}' while {} (line {line}) is in force; retire {} or give one of them another category",
                            later.sop_id,
                            show_key(&later.key),
                            earlier.sop_id,
                            earlier.sop_id
                        ),
                    );
                }
                break;
            }
        }
    }
}

/// The time an SOP governs its tickets.
struct Span<'a> {
    sop_id: &'a str,
    /// the (category, subcategory) it governs
    key: (String, String),
    /// its first version's effective_from
    from: i64,
    retired: Option<i64>,
    /// the row of its first version
    row: usize,
}

fn show_key(k: &(String, String)) -> String {
    if k.1.is_empty() {
        k.0.clone()
    } else {
        format!("{} / {}", k.0, k.1)
    }
}

/// Compare version labels the way people read them: `1.10` after `1.9`, `v2` after `v1`.
/// What the SOP history says about one version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionFacts {
    pub owner: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub next_review: Option<i64>,
    pub retired_at: Option<i64>,
    pub summary: Option<String>,
}

/// The facts of every accepted SOP version, by (sop_id, version): for the report, the backlog and
/// the evidence pack alike.
pub fn version_facts(sops: &DataFrame) -> Result<BTreeMap<(String, String), VersionFacts>> {
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        let c = sops.column(name)?.cast(&DataType::String)?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let millis =
        |name: &str| -> Result<Vec<Option<i64>>> { Ok(sops.column(name)?.datetime()?.physical().iter().collect()) };
    let (ids, versions) = (text("sop_id")?, text("version")?);
    let (owners, approvers, summaries) = (text("owner")?, text("approved_by")?, text("change_summary")?);
    let (approved, review, retired) = (millis("approved_at")?, millis("next_review")?, millis("retired_at")?);
    let mut out = BTreeMap::new();
    for i in 0..sops.height() {
        out.insert(
            (ids[i].clone().unwrap_or_default(), versions[i].clone().unwrap_or_default()),
            VersionFacts {
                owner: owners[i].clone(),
                approved_by: approvers[i].clone(),
                approved_at: approved[i],
                next_review: review[i],
                retired_at: retired[i],
                summary: summaries[i].clone(),
            },
        );
    }
    Ok(out)
}

pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut num = String::new();
        let mut txt = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                if !txt.is_empty() {
                    out.push((u64::MAX, std::mem::take(&mut txt)));
                }
                num.push(c);
            } else {
                if !num.is_empty() {
                    out.push((num.parse().unwrap_or(u64::MAX), String::new()));
                    num.clear();
                }
                if c.is_alphanumeric() {
                    txt.push(c.to_ascii_lowercase());
                }
            }
        }
        if !num.is_empty() {
            out.push((num.parse().unwrap_or(u64::MAX), String::new()));
        }
        if !txt.is_empty() {
            out.push((u64::MAX, txt));
        }
        out.retain(|p| !(p.0 == u64::MAX && p.1 == "v"));
        out
    }
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

/// Warn about SOP versions whose (category, subcategory) matches no accepted ticket.
fn unmatched_versions(sops: &DataFrame, tickets: &DataFrame) -> Result<Vec<String>> {
    // Found on the categorical codes: a polars `unique` of the two columns row-encodes and
    // hashes every ticket.
    let pairs = super::TicketPairs::of(tickets)?;
    let mut keys: HashSet<(String, String)> = HashSet::new();
    let mut categories: HashSet<String> = HashSet::new();
    for (c, s) in &pairs.text {
        let c = process_key(c);
        categories.insert(c.clone());
        keys.insert((c, process_key(s)));
    }
    let get = |name: &str| -> Result<StringChunked> { Ok(sops.column(name)?.str()?.clone()) };
    let (ids, vers, scat, ssub) = (get("sop_id")?, get("version")?, get("category")?, get("subcategory")?);
    let mut out = Vec::new();
    for i in 0..sops.height() {
        let c = scat.get(i).map(process_key).unwrap_or_default();
        let s = ssub.get(i).map(process_key).unwrap_or_default();
        let matched = if s.is_empty() { categories.contains(&c) } else { keys.contains(&(c.clone(), s.clone())) };
        if !matched {
            out.push(format!(
                "sops: {} version {} governs '{}' but no ticket has that category{}",
                ids.get(i).unwrap_or(""),
                vers.get(i).unwrap_or(""),
                show_key(&(c, s.clone())),
                if s.is_empty() { "" } else { " and subcategory" }
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn natural_version_order() {
        assert_eq!(natural_cmp("1.9", "1.10"), Less);
        assert_eq!(natural_cmp("v2", "v10"), Less);
        assert_eq!(natural_cmp("2.0", "1.5"), Greater);
        assert_eq!(natural_cmp("v1", "1"), Greater, "tie broken by text, deterministically");
    }
}
