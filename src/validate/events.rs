//! The optional inputs: change requests and audit findings.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::columns::{datetime_column, free_text, required_text, settle_order, text, timestamps};
use super::{date_range, open, summarise, Counts, FileFacts, InputSummary, LoadOptions, Reject, RowProblems};
use crate::error::Result;
use crate::ingest::profile::{InputKind, Mapping};
use crate::ingest::RawTable;
use sop_impact_parse::time::format_utc;

/// Reject every repeat of an id after its first row.
fn reject_repeated_ids(ids: &StringChunked, name: &str, problems: &mut RowProblems) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let Some(id) = id else { continue };
        if problems.rejected[i] {
            continue;
        }
        match first.get(id) {
            Some(&j) => {
                let line = problems.line(j);
                problems.add(i, name, id, format!("duplicate {name} (first at line {line}, which is kept)"));
            }
            None => {
                first.insert(id, i);
            }
        }
    }
}

fn finish(
    kind: InputKind,
    table: &RawTable,
    mapping: &Mapping,
    mut problems: RowProblems,
    cols: Vec<Column>,
    time_col: &str,
    (inputs, rejects): (&mut Vec<InputSummary>, &mut Vec<Reject>),
) -> Result<DataFrame> {
    let n = table.height();
    let mut cols = cols;
    cols.push(
        UInt64Chunked::from_iter_values("source_line".into(), (0..n as u64).map(|i| table.lines.line(i))).into_column(),
    );
    let df = DataFrame::new(n, cols)?.filter(&problems.keep_mask())?;
    let df = df.sort([time_col], SortMultipleOptions::default().with_maintain_order(true))?;
    let rejected = problems.list.len() as u64 + table.rejects.len() as u64;
    rejects.extend(table.rejects.iter().cloned());
    rejects.append(&mut problems.list);
    let t = df.column(time_col)?.datetime()?.physical().clone();
    inputs.push(summarise(
        kind,
        &FileFacts::of(table),
        mapping,
        Counts { accepted: df.height() as u64, rejected, superseded: 0, shortened: problems.shortened },
        date_range(&t),
        rejects,
    ));
    Ok(df)
}

pub fn load_changes(
    path: &Path,
    opts: &LoadOptions,
    inputs: &mut Vec<InputSummary>,
    rejects: &mut Vec<Reject>,
) -> Result<DataFrame> {
    let (table, mapping) = open(path, InputKind::Changes, opts)?;
    let src = |c: &str| mapping.source(c).clone();
    let order = settle_order(&table, &[&src("opened_at"), &src("end_date")], opts, mapping.default_date_order())?;
    let mut problems = RowProblems::new(&table);
    let id = required_text(&table, &src("change_id"), "change_id", &mut problems);
    let opened = timestamps(&table, &src("opened_at"), "opened_at", order, opts, &mut problems, true);
    let ended = timestamps(&table, &src("end_date"), "end_date", order, opts, &mut problems, false);
    for (i, (o, e)) in opened.iter().zip(ended.iter()).enumerate() {
        if let (Some(o), Some(e)) = (o, e) {
            if e < o {
                problems.add(i, "end_date", &format_utc(e), format!("ends before it starts ({})", format_utc(o)));
            }
        }
    }
    reject_repeated_ids(&id, "change_id", &mut problems);
    let mut cols = vec![id.into_column(), datetime_column(opened), datetime_column(ended)];
    for name in ["type", "risk", "close_code", "category", "subcategory", "cmdb_ci"] {
        cols.push(text(&table, &src(name), name, &mut problems).into_column());
    }
    finish(InputKind::Changes, &table, &mapping, problems, cols, "opened_at", (inputs, rejects))
}

pub fn load_audits(
    path: &Path,
    opts: &LoadOptions,
    inputs: &mut Vec<InputSummary>,
    rejects: &mut Vec<Reject>,
) -> Result<DataFrame> {
    let (table, mapping) = open(path, InputKind::Audits, opts)?;
    let src = |c: &str| mapping.source(c).clone();
    let order = settle_order(&table, &[&src("raised_at")], opts, None)?;
    let mut problems = RowProblems::new(&table);
    let id = required_text(&table, &src("finding_id"), "finding_id", &mut problems);
    let raised = timestamps(&table, &src("raised_at"), "raised_at", order, opts, &mut problems, true);
    let process = text(&table, &src("process"), "process", &mut problems);
    let category = text(&table, &src("category"), "category", &mut problems);
    let sop_id = text(&table, &src("sop_id"), "sop_id", &mut problems);
    for i in 0..table.height() {
        if process.get(i).is_none() && category.get(i).is_none() && sop_id.get(i).is_none() {
            problems.add(i, "process", "", "no process, category or sop_id to attribute the finding to");
        }
    }
    reject_repeated_ids(&id, "finding_id", &mut problems);
    let mut cols = vec![id.into_column(), datetime_column(raised), process.into_column(), category.into_column()];
    cols.push(text(&table, &src("subcategory"), "subcategory", &mut problems).into_column());
    cols.push(sop_id.into_column());
    for name in ["control_id", "severity", "status"] {
        cols.push(text(&table, &src(name), name, &mut problems).into_column());
    }
    cols.push(free_text(&table, &src("description"), "description").into_column());
    finish(InputKind::Audits, &table, &mapping, problems, cols, "raised_at", (inputs, rejects))
}
