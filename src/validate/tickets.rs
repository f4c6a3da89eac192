//! Tickets: row checks, then de-duplication across all ticket files (event-log exports keep the
//! latest event per ticket; otherwise a repeated id is an exact duplicate or a conflict).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use polars::prelude::*;

use super::columns::{
    bools, categorical_text, counts, datetime_column, decide_order, order_evidence, priorities, required_text,
    timestamps, OrderSeen,
};
use super::stack::FrameStack;
use super::{
    merge_shortened, no_rows_error, open_input, summarise, Counts, FileFacts, InputSummary, LoadOptions, Reject,
    RowProblems, ShortenedCells,
};
use crate::arrays::Dense;
use crate::error::{Error, Result};
use crate::ingest::profile::{InputKind, Mapping, Source};
use crate::ingest::{Opened, RawTable};
use sop_impact_parse::time::{format_utc, DateOrder};

/// Canonical text columns of the tickets table.
const TEXT: &[&str] = &["status", "category", "subcategory", "assignment_group", "assignee"];

/// Columns compared to tell an exact duplicate from a conflicting one.
const CONTENT: &[&str] = &[
    "opened_at",
    "resolved_at",
    "closed_at",
    "status",
    "priority",
    "category",
    "subcategory",
    "assignment_group",
    "assignee",
    "reopen_count",
    "reassignment_count",
    "escalated",
    "made_sla",
    "handling_error",
];

/// The text columns are categorical: a 10-million-ticket export repeats a few hundred
/// categories, groups and analysts, and a code per row is a fraction of the text.
pub fn categorical() -> DataType {
    DataType::from_categories(Categories::global())
}

/// Check one block of a ticket file: its typed rows (rejected ones dropped) and its rejects.
fn check_block(
    table: &RawTable,
    mapping: &Mapping,
    order: Option<DateOrder>,
    opts: &LoadOptions,
    file_idx: u32,
    event_log: bool,
) -> Result<CheckedBlock> {
    let src = |c: &str| mapping.source(c).clone();
    let mut problems = RowProblems::new(table);
    let ticket_id = required_text(table, &src("ticket_id"), "ticket_id", &mut problems);
    let opened = timestamps(table, &src("opened_at"), "opened_at", order, opts, &mut problems, true);
    let resolved = timestamps(table, &src("resolved_at"), "resolved_at", order, opts, &mut problems, false);
    let closed = timestamps(table, &src("closed_at"), "closed_at", order, opts, &mut problems, false);
    for (later, column, what) in [(&resolved, "resolved_at", "resolved"), (&closed, "closed_at", "closed")] {
        for (i, o, t) in earlier_rows(later, &opened)? {
            problems.add(i, column, &format_utc(t), format!("{what} before it was opened ({})", format_utc(o)));
        }
    }
    let priority = priorities(table, &src("priority"), "priority", &mut problems);
    let reopen = counts(table, &src("reopen_count"), "reopen_count", &mut problems);
    let reassign = counts(table, &src("reassignment_count"), "reassignment_count", &mut problems);
    let escalated = bools(table, &src("escalated"), "escalated", &mut problems);
    let made_sla = bools(table, &src("made_sla"), "made_sla", &mut problems);
    let handling_error = bools(table, &src("handling_error"), "handling_error", &mut problems);
    let event_columns = event_log.then(|| {
        (
            timestamps(table, &src("sys_updated_at"), "sys_updated_at", order, opts, &mut problems, false),
            counts(table, &src("sys_mod_count"), "sys_mod_count", &mut problems),
        )
    });

    let n = table.height();
    let mut cols: Vec<Column> =
        vec![ticket_id.into_column(), datetime_column(opened), datetime_column(resolved), datetime_column(closed)];
    let cat = categorical();
    for name in TEXT {
        cols.push(categorical_text(table, &src(name), name, &cat, &mut problems)?);
    }
    cols.push(priority.into_column());
    cols.push(reopen.into_column());
    cols.push(reassign.into_column());
    cols.push(escalated.into_column());
    cols.push(made_sla.into_column());
    cols.push(handling_error.into_column());
    if let Some((updated, mod_count)) = event_columns {
        cols.push(datetime_column(updated));
        cols.push(mod_count.into_column());
    }
    cols.push(UInt32Chunked::full("source_file".into(), file_idx, n).into_column());
    // 32 bits, half the memory of 64 (40 MB at 10M tickets): a file of over 4 billion lines
    // (hundreds of GB) is refused rather than numbered wrong
    let last_line = n.checked_sub(1).map_or(0, |last| table.lines.line(last as u64));
    if u32::try_from(last_line).is_err() {
        return Err(Error::invalid(
            &table.path,
            format!("has more than {} lines", u32::MAX),
            "split the export into files of fewer lines and pass them all",
        ));
    }
    cols.push(
        UInt32Chunked::from_iter_values("source_line".into(), (0..n as u64).map(|i| table.lines.line(i) as u32))
            .into_column(),
    );
    let mut frame = DataFrame::new(n, cols)?;
    if !problems.list.is_empty() {
        frame = frame.filter(&problems.keep_mask())?;
    }
    let mut rejects = table.rejects.clone();
    rejects.append(&mut problems.list);
    Ok(CheckedBlock { frame, rejects, shortened: problems.shortened })
}

/// One block of a ticket file, checked: its accepted rows, its rejects and its shortened cells.
struct CheckedBlock {
    frame: DataFrame,
    rejects: Vec<Reject>,
    shortened: BTreeMap<String, ShortenedCells>,
}

/// The rows whose `later` time is before their `opened` one: (row, opened, later). Read by row
/// from the columns' slices: the rows' values taken one by one as options were 4% of checking a
/// typed Parquet file.
fn earlier_rows(later: &Int64Chunked, opened: &Int64Chunked) -> Result<Vec<(usize, i64, i64)>> {
    let (later, opened) = (later.rechunk(), opened.rechunk());
    let (Some(t), Some(o)) = (Dense::of(&later), Dense::of(&opened)) else {
        return Err(Error::Internal("a block's timestamps are not in one piece".into()));
    };
    Ok((0..later.len())
        .filter_map(|i| {
            let (t, o) = (t.get(i)?, o.get(i)?);
            (t < o).then_some((i, o, t))
        })
        .collect())
}

/// Where the date order is looked for first: about the first hundred thousand tickets. The same
/// bytes whatever the block size, so that the outcome never depends on how a file is cut.
const SETTLE_BYTES: usize = 16 << 20;

/// How `a/b/yyyy` dates of a ticket file are read: --date-order, else the first value in file
/// order that settles it (looked for in the first 16 MB, then in the whole file), else the
/// profile's default. A file whose first 16 MB hold no `a/b/yyyy` date at all (ISO timestamps,
/// epochs) is not read to the end for it: a slash date after that is read with the profile's
/// order, or rejected as ambiguous with the fix (`--date-order`) in its reason.
fn file_date_order(opened: &Opened, mapping: &Mapping, opts: &LoadOptions) -> Result<Option<DateOrder>> {
    if opts.date_order.is_some() {
        return Ok(opts.date_order);
    }
    let src = |c: &str| mapping.source(c).clone();
    let sources = [src("opened_at"), src("resolved_at"), src("closed_at"), src("sys_updated_at")];
    let sources: Vec<&Source> = sources.iter().collect();
    let evidence = |t: &RawTable| Ok(order_evidence(t, &sources));
    let mut seen = OrderSeen::default();
    for limit in [Some(SETTLE_BYTES), None] {
        let parts = opened.read_parts(limit, &evidence)?;
        seen = OrderSeen::default();
        for part in parts.parts {
            seen.example = seen.example.or(part.example);
            if part.settled.is_some() {
                return Ok(part.settled);
            }
        }
        if parts.complete || seen.example.is_none() {
            break;
        }
    }
    decide_order(&opened.path, seen, mapping.default_date_order())
}

/// Load every ticket file into one canonical frame, recording summaries and rejects. Large
/// files are read and checked block by block on every core; only the typed columns of the
/// accepted rows are kept.
pub fn load(
    paths: &[PathBuf],
    opts: &LoadOptions,
    inputs: &mut Vec<InputSummary>,
    rejects: &mut Vec<Reject>,
) -> Result<DataFrame> {
    let mut opened = Vec::new();
    for path in paths {
        opened.push(open_input(path, InputKind::Tickets, opts)?);
    }
    let event_log = opened
        .iter()
        .any(|(_, m)| *m.source("sys_updated_at") != Source::Missing || *m.source("sys_mod_count") != Source::Missing);
    let mut files = Vec::new();
    crate::diag::trace("ticket files opened");
    // The checked blocks go straight into one table sized for every file.
    let mut table = FrameStack::with_capacity(opened.iter().map(|(file, _)| file.estimated_rows()).sum());
    let kept = crate::diag::KeepFreedMemory::now();
    for (k, (file, mapping)) in opened.iter().enumerate() {
        let order = file_date_order(file, mapping, opts)?;
        crate::diag::trace("date order settled");
        let mut rejected = 0u64;
        let mut shortened = BTreeMap::new();
        let tally = file.read_parts_into(
            None,
            &|t| check_block(t, mapping, order, opts, k as u32, event_log),
            &mut |mut block: CheckedBlock| {
                rejected += block.rejects.len() as u64;
                rejects.append(&mut block.rejects);
                merge_shortened(&mut shortened, block.shortened);
                table.push(&block.frame)
            },
        )?;
        if tally.rows_read == 0 {
            return Err(no_rows_error(&file.path, InputKind::Tickets));
        }
        files.push((rejected, tally, shortened));
    }
    drop(kept);
    let all = table.finish()?.ok_or_else(|| Error::Internal("no ticket file was read".into()))?;
    crate::diag::trace("ticket table assembled");
    let kept_before_dedupe = per_file_counts(&all, opened.len())?;
    let (mut deduped, dup_rejects) =
        if event_log { (keep_latest_events(all)?, Vec::new()) } else { resolve_duplicates(&all, paths)? };
    crate::diag::trace("duplicates resolved");
    let dup_by_file = count_by_file(&dup_rejects, paths);
    rejects.extend(dup_rejects);
    if event_log {
        deduped = deduped.drop_many(["sys_updated_at", "sys_mod_count"]);
    }

    // Per-file accounting, from what each file contributed.
    let accepted_by_file = per_file_counts(&deduped, opened.len())?;
    let date_ranges = file_date_ranges(&deduped, opened.len())?;
    for (k, ((file, mapping), (rejected, tally, shortened))) in opened.iter().zip(files).enumerate() {
        let accepted = accepted_by_file.get(&(k as u32)).copied().unwrap_or(0);
        let before = kept_before_dedupe.get(&(k as u32)).copied().unwrap_or(0);
        let dup_rejected = dup_by_file.get(&k).copied().unwrap_or(0);
        let superseded = before.checked_sub(accepted + dup_rejected).ok_or_else(|| {
            Error::Internal(format!(
                "accounting for {}: {before} rows kept but {accepted} accepted and {dup_rejected} rejected as duplicates",
                file.path.display()
            ))
        })?;
        let range = date_ranges.get(&(k as u32)).copied();
        let s = summarise(
            InputKind::Tickets,
            &FileFacts {
                path: &file.path,
                format: file.format,
                encoding: file.encoding,
                headers: &file.headers,
                rows_read: tally.rows_read,
                file_lines: tally.lines,
            },
            mapping,
            Counts { accepted, rejected: rejected + dup_rejected, superseded, shortened },
            range,
            rejects,
        );
        inputs.push(s);
    }
    Ok(deduped)
}

/// Rows per file index. The indices are the few files of a run: a count per index, not a hash
/// per row (two passes over every ticket).
fn per_file_counts(df: &DataFrame, files: usize) -> Result<HashMap<u32, u64>> {
    // one file: every row is its (10M rows were two passes)
    if files == 1 {
        return Ok([(0, df.height() as u64)].into_iter().filter(|(_, n)| *n > 0).collect());
    }
    let mut counts: Vec<u64> = Vec::new();
    for f in df.column("source_file")?.u32()?.iter().flatten() {
        let f = f as usize;
        if f >= counts.len() {
            counts.resize(f + 1, 0);
        }
        if let Some(n) = counts.get_mut(f) {
            *n += 1;
        }
    }
    Ok(counts.into_iter().enumerate().filter(|(_, n)| *n > 0).map(|(f, n)| (f as u32, n)).collect())
}

/// The earliest and latest `opened_at` of each file's rows, in one pass (no filtered copy per
/// file).
fn file_date_ranges(df: &DataFrame, file_count: usize) -> Result<HashMap<u32, (i64, i64)>> {
    let opened = df.column("opened_at")?.datetime()?.physical();
    if file_count == 1 {
        return Ok(opened.min().zip(opened.max()).map(|range| (0, range)).into_iter().collect());
    }
    let files = df.column("source_file")?.u32()?;
    // by file index (the few files of a run), not hashed per row
    let mut ranges: Vec<Option<(i64, i64)>> = Vec::new();
    for (file, t) in files.iter().zip(opened.iter()) {
        if let (Some(file), Some(t)) = (file, t) {
            let file = file as usize;
            if file >= ranges.len() {
                ranges.resize(file + 1, None);
            }
            if let Some(range) = ranges.get_mut(file) {
                *range = Some(range.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
            }
        }
    }
    Ok(ranges.into_iter().enumerate().filter_map(|(f, r)| Some((f as u32, r?))).collect())
}

fn count_by_file(rejects: &[Reject], paths: &[PathBuf]) -> HashMap<usize, u64> {
    let mut m = HashMap::new();
    for r in rejects {
        if let Some(k) = paths.iter().position(|p| p.display().to_string() == r.input) {
            *m.entry(k).or_default() += 1;
        }
    }
    m
}

/// Event-log exports: one incident on many rows. Keep the latest row per ticket by
/// (sys_updated_at, sys_mod_count), a missing value counting as the earliest, then by file and
/// line; earlier rows are superseded, not rejected. The kept rows stay in file order. One pass
/// with a map from ticket to its latest row, then one filter: sorting the whole table by ticket
/// held it three times (10M events: 3.3 s and a 2.8 GB peak for a 1.1 GB table).
fn keep_latest_events(mut df: DataFrame) -> Result<DataFrame> {
    let physical = |name: &str| -> Result<Int64Chunked> {
        let c = df.column(name)?.to_physical_repr();
        Ok(c.cast(&DataType::Int64)?.i64()?.clone())
    };
    let ids = df.column("ticket_id")?.str()?;
    let (updated, mod_count) = (physical("sys_updated_at")?, physical("sys_mod_count")?);
    let (file, line) = (physical("source_file")?, physical("source_line")?);
    let order = |row: usize| (updated.get(row), mod_count.get(row), file.get(row), line.get(row));
    // Event logs hold a few events per ticket.
    let mut latest: PlHashMap<&str, usize> = PlHashMap::with_capacity(df.height() / 2);
    for (row, id) in ids.iter().enumerate() {
        let latest_row = latest.entry(id.unwrap_or_default()).or_insert(row);
        if order(row) > order(*latest_row) {
            *latest_row = row;
        }
    }
    let mut keep = vec![false; df.height()];
    for &row in latest.values() {
        if let Some(k) = keep.get_mut(row) {
            *k = true;
        }
    }
    drop(latest);
    let kept = keep.iter().filter(|k| **k).count();
    let keep = BooleanChunked::from_iter_values("keep".into(), keep.into_iter());
    drop((updated, mod_count, file, line));
    // A column at a time, each dropped once filtered: the table and its filtered copy are never
    // both whole.
    let names: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
    let mut filtered = Vec::with_capacity(names.len());
    for name in &names {
        let column = df.drop_in_place(name)?;
        filtered.push(column.filter(&keep)?);
    }
    Ok(DataFrame::new(kept, filtered)?)
}

/// Rows whose ticket_id occurs more than once. Sorting 8-byte hashes of the ids takes a fraction
/// of the memory of a hash table of 10 million strings; only rows whose hash repeats are then
/// compared by their text. The ids are hashed on every core, each part's hashes dealt into
/// buckets by their top byte (a repeated hash lands in one bucket), and the buckets sorted on
/// every core: each fits in a core's cache, where one sort of all the hashes did not (10M
/// tickets: 0.5 s on one core before).
fn repeated_ids(ids: &StringChunked) -> BooleanChunked {
    use std::hash::BuildHasher;
    // Fixed, so that a run never depends on a random seed; a collision only costs a comparison.
    let hasher = PlFixedStateQuality::default();
    let hash = |id: Option<&str>| hasher.hash_one(id.unwrap_or_default());
    let per_core = ids.len().div_ceil(crate::cores::count()).max(1);
    let parts: Vec<StringChunked> =
        (0..ids.len()).step_by(per_core).map(|start| ids.slice(start as i64, per_core)).collect();
    let bucketed: Vec<Vec<Vec<u64>>> = crate::cores::share(
        parts,
        |p| p.len(),
        |part| {
            // hashes spread evenly: a bucket's share and some room, so that few grow
            let room = part.len() / HASH_BUCKETS + part.len() / HASH_BUCKETS / 16 + 64;
            let mut buckets: Vec<Vec<u64>> = (0..HASH_BUCKETS).map(|_| Vec::with_capacity(room)).collect();
            for id in part.iter() {
                let h = hash(id);
                if let Some(bucket) = buckets.get_mut((h >> 56) as usize) {
                    bucket.push(h);
                }
            }
            buckets
        },
    );
    let repeated: HashSet<u64> = crate::cores::share(
        (0..HASH_BUCKETS).collect(),
        |_| 1,
        |b| {
            let mut hashes: Vec<u64> = bucketed.iter().filter_map(|part| part.get(b)).flatten().copied().collect();
            hashes.sort_unstable();
            hashes.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect::<Vec<u64>>()
        },
    )
    .into_iter()
    .flatten()
    .collect();
    drop(bucketed);
    let mut flags = vec![false; ids.len()];
    if !repeated.is_empty() {
        let mut by_text: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            if repeated.contains(&hash(id)) {
                by_text.entry(id.unwrap_or_default()).or_default().push(i);
            }
        }
        for rows in by_text.values().filter(|rows| rows.len() > 1) {
            for &i in rows {
                flags[i] = true;
            }
        }
    }
    BooleanChunked::from_iter_values("repeated".into(), flags.into_iter())
}

/// Buckets of ticket-id hashes, by their top byte.
const HASH_BUCKETS: usize = 256;

/// A repeated ticket id outside an event log: rows identical in content are duplicates (the
/// first is kept, the others rejected); rows that differ conflict, and all of them are rejected,
/// as there is no telling which is right.
fn resolve_duplicates(df: &DataFrame, paths: &[PathBuf]) -> Result<(DataFrame, Vec<Reject>)> {
    let dup_mask = repeated_ids(df.column("ticket_id")?.str()?);
    if !dup_mask.any() {
        return Ok((df.clone(), Vec::new()));
    }
    let dups = df.filter(&dup_mask)?;
    let row_index: Vec<u64> =
        (0..df.height() as u64).zip(dup_mask.iter()).filter(|(_, d)| d.unwrap_or(false)).map(|(i, _)| i).collect();
    // Every compared column as text, so that rows can be compared value by value.
    let mut content: Vec<Vec<Option<String>>> = Vec::new();
    for name in CONTENT {
        let s = dups.column(name)?.cast(&DataType::String)?;
        content.push(s.str()?.iter().map(|v| v.map(str::to_string)).collect());
    }
    let id_ca = dups.column("ticket_id")?.str()?.clone();
    let files = dups.column("source_file")?.u32()?.clone();
    let lines = dups.column("source_line").and_then(|c| c.cast(&DataType::UInt64))?;
    let lines = lines.u64()?.clone();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (j, id) in id_ca.iter().enumerate() {
        groups.entry(id.unwrap_or_default().to_string()).or_default().push(j);
    }
    let place = |j: usize| -> (String, u64) {
        let f = files.get(j).unwrap_or(0) as usize;
        (paths.get(f).map(|p| p.display().to_string()).unwrap_or_default(), lines.get(j).unwrap_or(0))
    };
    let mut drop = vec![false; df.height()];
    let mut rejects = Vec::new();
    for (id, rows) in &groups {
        let first = rows[0];
        let differing: Vec<&str> = CONTENT
            .iter()
            .enumerate()
            .filter(|(c, _)| rows.iter().any(|&j| content[*c][j] != content[*c][first]))
            .map(|(_, n)| *n)
            .collect();
        let where_list: Vec<String> = rows.iter().map(|&j| place(j).1.to_string()).collect();
        for (pos, &j) in rows.iter().enumerate() {
            let (input, line) = place(j);
            if differing.is_empty() {
                if pos == 0 {
                    continue;
                }
                let (first_input, first_line) = place(first);
                let reason = format!("duplicate ticket_id: identical to {first_input}:{first_line}, which is kept");
                rejects.push(Reject::new(input, line, "ticket_id", id, &reason));
            } else {
                let reason = format!(
                    "duplicate ticket_id with conflicting content on lines {} ({} differ); all its rows rejected",
                    where_list.join(", "),
                    differing.join(", ")
                );
                rejects.push(Reject::new(input, line, "ticket_id", id, &reason));
            }
            drop[row_index[j] as usize] = true;
        }
    }
    let keep = BooleanChunked::from_iter_values("keep".into(), drop.iter().map(|d| !d));
    Ok((df.filter(&keep)?, rejects))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repeats are found wherever they are, across the parts the cores hash and across buckets.
    #[test]
    fn repeated_ids_are_flagged_wherever_they_are() {
        let ids: Vec<String> = (0..5000).map(|i| format!("INC{:07}", i % 4000)).collect();
        let flags = repeated_ids(&StringChunked::from_iter_values("id".into(), ids.iter().map(String::as_str)));
        let flags: Vec<bool> = flags.iter().map(|f| f == Some(true)).collect();
        // ids 0..1000 occur at rows i and 4000 + i; the others once
        let expected: Vec<bool> = (0..5000).map(|i| i % 4000 < 1000).collect();
        assert_eq!(flags, expected);
        let none = repeated_ids(&StringChunked::from_iter_values("id".into(), ["a", "b", "c"].into_iter()));
        assert!(!none.any());
    }

    /// The latest event of each ticket: by sys_updated_at (a missing one is the earliest), then
    /// sys_mod_count, then the later line; the kept rows in file order.
    #[test]
    fn keeps_each_tickets_latest_event_in_file_order() {
        let rows: [(&str, Option<i64>, Option<i64>, u64); 8] = [
            ("B", Some(5), Some(1), 2),
            ("A", Some(9), Some(1), 3),
            ("A", Some(9), Some(2), 4), // A: same time, higher revision: kept
            ("B", None, Some(7), 5),    // B: no time is the earliest, whatever its revision
            ("C", Some(1), None, 6),
            ("C", Some(1), None, 7), // C: a full tie: the later line
            ("A", Some(3), Some(5), 8),
            ("D", None, None, 9), // D: its only row
        ];
        let df = DataFrame::new(
            rows.len(),
            vec![
                Column::new("ticket_id".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                Int64Chunked::from_iter_options("sys_updated_at".into(), rows.iter().map(|r| r.1))
                    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                    .into_column(),
                Column::new("sys_mod_count".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
                Column::new("source_file".into(), vec![0u32; rows.len()]),
                Column::new("source_line".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let kept = keep_latest_events(df).unwrap();
        let lines: Vec<u64> = kept.column("source_line").unwrap().u64().unwrap().into_no_null_iter().collect();
        assert_eq!(lines, vec![2, 4, 7, 9]);
        let ids: Vec<&str> = kept.column("ticket_id").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(ids, vec!["B", "A", "C", "D"]);
    }
}
