//! The auditor's evidence pack (docs/evidence.md): one SOP change, self-contained — the version history,
//! the change's comparison with intervals and caveats, the exact records in each window, the SQL
//! of every metric, the chart, and checksums with the command line to re-run it.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use std::collections::BTreeMap;

use crate::artifacts::InputEntry;
use crate::attribute::{TimelineRow, NO_SOP};
use crate::compare::Interval;
use crate::error::{Error, Result};
use crate::output::{self, cell};
use crate::pipeline::Analysis;
use crate::render::markdown::{escape, table, thousands};
use crate::render::slug;
use crate::validate::VersionFacts;
use sop_impact_parse::time::{format_date, format_utc};

/// One record of a window, as the auditor gets it in before.csv / after.csv.
#[derive(Debug, Clone, serde::Serialize)]
struct WindowRecord {
    record: &'static str,
    id: String,
    attributed_at: String,
    source_line: u64,
}

/// The tickets and audit findings of one window, by time then id.
fn window_records(a: &Analysis, process_id: u32, window: Interval) -> Result<Vec<WindowRecord>> {
    let mut out = Vec::new();
    for (record, df, id_col) in
        [("ticket", &a.attributed.tickets, "ticket_id"), ("audit_finding", &a.attributed.audits, "finding_id")]
    {
        if df.height() == 0 || df.column(id_col).is_err() {
            continue;
        }
        let t = col("attributed_at").dt().timestamp(TimeUnit::Milliseconds);
        let sel = df
            .clone()
            .lazy()
            .filter(crate::compare::in_window(process_id, window))
            .select([col(id_col).alias("id"), t.alias("t"), col("source_line").cast(DataType::UInt64)])
            .sort(["t", "id"], SortMultipleOptions::default())
            .collect()?;
        let ids = sel.column("id")?.str()?.clone();
        let ts = sel.column("t")?.i64()?.clone();
        let lines = sel.column("source_line")?.u64()?.clone();
        for i in 0..sel.height() {
            out.push(WindowRecord {
                record,
                id: cell(ids.get(i).unwrap_or_default()),
                attributed_at: format_utc(ts.get(i).unwrap_or(0)),
                source_line: lines.get(i).unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// `reports/evidence-<sop>-<version>`, told apart by a hash where two SOP versions would share it
/// (ids that differ only in punctuation or case).
fn default_dir(a: &Analysis, target: &TimelineRow) -> PathBuf {
    let key = |r: &TimelineRow| format!("{}\u{0}{}", r.sop_id, r.version);
    let names = crate::render::distinct_stems(
        a.attributed
            .timeline
            .iter()
            .filter(|r| r.version != NO_SOP)
            .map(|r| (key(r), format!("evidence-{}-{}", slug(&r.sop_id), slug(&r.version)))),
    );
    let name = names.get(&key(target)).cloned().unwrap_or_else(|| format!("evidence-{}", slug(&target.sop_id)));
    PathBuf::from("reports").join(name)
}

fn records_csv(records: &[WindowRecord]) -> Result<Vec<u8>> {
    output::serialize_csv("a window file", &["record", "id", "attributed_at", "source_line"], records)
}

/// Write the pack for `sop` (and `version`, default the latest) under `out`; returns its path.
pub fn write_evidence(
    a: &Analysis,
    sop: &str,
    version: Option<&str>,
    out: Option<PathBuf>,
    args: &[String],
    replace: crate::publish::Replace,
) -> Result<PathBuf> {
    let versions: Vec<&TimelineRow> =
        a.attributed.timeline.iter().filter(|r| r.sop_id == sop && r.version != NO_SOP).collect();
    if versions.is_empty() {
        let mut ids: Vec<&str> =
            a.attributed.timeline.iter().map(|r| r.sop_id.as_str()).filter(|s| !s.is_empty()).collect();
        ids.dedup();
        if ids.is_empty() {
            return Err(Error::Usage(format!("unknown SOP '{sop}': the SOP history has no accepted versions (see rejects.csv from `sop-impact validate`)")));
        }
        return Err(Error::Usage(format!("unknown SOP '{sop}'; the SOP history has: {}", ids.join(", "))));
    }
    let target = match version {
        Some(v) => *versions.iter().find(|r| r.version == v).ok_or_else(|| {
            Error::Usage(format!(
                "{sop} has no version '{v}'; its versions are: {}",
                versions.iter().map(|r| r.version.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?,
        None => versions[versions.len() - 1],
    };
    let out = out.unwrap_or_else(|| default_dir(a, target));
    let publication = crate::publish::Publication::begin(&out, replace)?;
    // an error names the file under --out, not its staging copy
    build(a, target, publication.stage(), args).map_err(|e| publication.at_target(e))?;
    publication.commit()?;
    Ok(out)
}

/// The pack's files: the change's comparison and windows, rejects, queries, evidence.md and the
/// manifest, last.
fn build(a: &Analysis, target: &TimelineRow, dir: &Path, args: &[String]) -> Result<()> {
    let infos = crate::report::version_infos(a)?;
    let charts_dir = dir.join("charts");
    output::ensure_dir(&charts_dir)?;
    let as_of = format_date(a.as_of_ms - 1);
    let (change, before, after) = the_change(a, target, &infos, dir, &as_of)?;
    output::write_atomic(&dir.join("before.csv"), &records_csv(&before)?)?;
    output::write_atomic(&dir.join("after.csv"), &records_csv(&after)?)?;
    output::write_atomic(&dir.join("rejects.csv"), &crate::validate::rejects_csv(&a.data.rejects)?)?;
    write_queries(a, dir)?;
    let (prov, inputs) = crate::artifacts::input_provenance(a)?;
    let argv: Vec<String> = std::iter::once("sop-impact".to_string()).chain(args.iter().cloned()).collect();
    let command = crate::render::markdown::shell_command(&argv);
    let md = [
        heading(target),
        version_history(a, &target.sop_id, &infos),
        change,
        records_used(&before, &after),
        data_quality(a),
        provenance(&command, &prov, &as_of),
    ]
    .concat();
    output::write_atomic(&dir.join("evidence.md"), md.as_bytes())?;
    write_manifest(dir, target, &as_of, (&command, &argv), inputs)
}

fn heading(target: &TimelineRow) -> String {
    format!(
        "# Evidence: {} version {} ({})\n\nThis directory is self-contained: with it and the input files named below (checked by their SHA-256) every number here can be \
         re-derived. `before.csv` and `after.csv` list every record in each window; `queries/` holds the SQL that defines each metric.\n\n",
        escape(&target.sop_id),
        escape(&target.version),
        escape(&target.process)
    )
}

/// Every version of the SOP with its dates, owner, approval and summary.
fn version_history(a: &Analysis, sop: &str, infos: &BTreeMap<(String, String), VersionFacts>) -> String {
    let rows: Vec<Vec<String>> = a
        .attributed
        .timeline
        .iter()
        .filter(|r| r.sop_id == sop && r.version != NO_SOP)
        .map(|r| {
            let i = infos.get(&(r.sop_id.clone(), r.version.clone()));
            vec![
                escape(&r.version),
                r.effective_from.map(format_date).unwrap_or_default(),
                r.effective_to.map(|t| format_date(t - 1)).unwrap_or_else(|| "in force".into()),
                i.and_then(|i| i.owner.clone()).map(|o| escape(&o)).unwrap_or_else(|| "–".into()),
                i.and_then(|i| i.approved_by.clone()).map(|o| escape(&o)).unwrap_or_else(|| "–".into()),
                i.and_then(|i| i.approved_at).map(format_date).unwrap_or_else(|| "–".into()),
                i.and_then(|i| i.next_review).map(format_date).unwrap_or_else(|| "–".into()),
                i.and_then(|i| i.summary.clone()).map(|o| escape(&o)).unwrap_or_default(),
            ]
        })
        .collect();
    let header =
        ["version", "effective from", "until", "owner", "approved by", "approved", "next review", "what changed"];
    format!("## Version history\n\n{}\n", table(&header, &rows, &[]))
}

/// The change's section (as in the report) and comparison.csv, with the records of its
/// windows; or why there is nothing to compare.
fn the_change(
    a: &Analysis,
    target: &TimelineRow,
    infos: &BTreeMap<(String, String), VersionFacts>,
    dir: &Path,
    as_of: &str,
) -> Result<(String, Vec<WindowRecord>, Vec<WindowRecord>)> {
    let change = a.comparisons.changes.iter().position(|c| c.sop_id == target.sop_id && c.to_version == target.version);
    let Some(c) = change else {
        let md = format!(
            "## The change\n\nVersion {} took effect on {}, before the first ticket of the data, so there is nothing before it to compare.\n\n",
            escape(&target.version),
            target.effective_from.map(format_date).unwrap_or_default()
        );
        return Ok((md, Vec::new(), Vec::new()));
    };
    let ch = &a.comparisons.changes[c];
    let md = format!(
        "## The change\n\n{}",
        crate::report::change_section(
            a,
            c,
            &a.comparisons.rows_by_change()[c],
            &crate::report::ChartsOf {
                stem: &crate::report::change_stems(a)[c],
                charts_dir: Some(&dir.join("charts"))
            },
            infos,
            as_of,
            "###"
        )?
    );
    let before = window_records(a, ch.process_id, ch.before)?;
    let after = window_records(a, ch.process_id, ch.after)?;
    let sub = crate::compare::Comparisons {
        changes: a.comparisons.changes.clone(),
        rows: a.comparisons.rows.iter().filter(|r| r.change == c).cloned().collect(),
        edges: a.comparisons.edges.clone(),
    };
    output::write_atomic(&dir.join("comparison.csv"), &crate::compare::comparisons_csv(&sub)?)?;
    Ok((md, before, after))
}

/// How many records of each kind each window has, and where they are listed.
fn records_used(before: &[WindowRecord], after: &[WindowRecord]) -> String {
    let count = |v: &[WindowRecord], k: &str| thousands(v.iter().filter(|r| r.record == k).count() as u64);
    let rows = [
        vec![
            "before".into(),
            count(before, "ticket"),
            count(before, "audit_finding"),
            "[before.csv](before.csv)".into(),
        ],
        vec!["after".into(), count(after, "ticket"), count(after, "audit_finding"), "[after.csv](after.csv)".into()],
    ];
    format!("## Records used\n\n{}\n", table(&["window", "tickets", "audit findings", "file"], &rows, &[1, 2]))
}

/// Per input: rows read, accepted, rejected, superseded.
fn data_quality(a: &Analysis) -> String {
    let rows: Vec<Vec<String>> = a
        .data
        .inputs
        .iter()
        .map(|s| {
            let q = crate::summary::QualityRow::of(s);
            let mut row = vec![q.input.to_string(), format!("`{}`", escape(&q.file))];
            row.extend(q.counts.map(thousands));
            row
        })
        .collect();
    format!(
        "Data quality of the inputs (every rejected row is in [rejects.csv](rejects.csv)):\n\n{}\n",
        table(&["input", "file", "rows read", "accepted", "rejected", "superseded"], &rows, &[2, 3, 4, 5])
    )
}

/// The SQL of every metric, as run.
fn write_queries(a: &Analysis, dir: &Path) -> Result<()> {
    let qdir = dir.join("queries");
    output::ensure_dir(&qdir)?;
    for q in &a.queries {
        let name = q.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "query.sql".into());
        output::write_atomic(&qdir.join(name), q.sql.as_bytes())?;
    }
    Ok(())
}

fn provenance(command: &str, prov: &[Vec<String>], as_of: &str) -> String {
    format!(
        "## Provenance\n\nsop-impact {}, as of {as_of}; to run it again:\n\n{}\n{}\n",
        env!("CARGO_PKG_VERSION"),
        crate::render::markdown::shell_block(command),
        table(&["input", "file", "SHA-256"], prov, &[])
    )
}

/// manifest.json, last: it lists every other file of the pack with its checksum.
fn write_manifest(
    dir: &Path,
    target: &TimelineRow,
    as_of: &str,
    (command, argv): (&str, &[String]),
    inputs: Vec<InputEntry>,
) -> Result<()> {
    let outputs = crate::artifacts::output_checksums(dir)?;
    let manifest = EvidenceManifest {
        argv,
        as_of,
        command,
        inputs,
        outputs,
        sop_id: &target.sop_id,
        sop_version: &target.version,
        tool: "sop-impact",
        version: env!("CARGO_PKG_VERSION"),
    };
    crate::artifacts::write_json(&dir.join("manifest.json"), &manifest)
}

/// The pack's manifest.json (fields in name order).
#[derive(serde::Serialize)]
struct EvidenceManifest<'a> {
    /// the command line, one argument each (`command` is it quoted for a shell)
    argv: &'a [String],
    as_of: &'a str,
    command: &'a str,
    inputs: Vec<InputEntry>,
    outputs: Vec<crate::artifacts::OutputEntry>,
    sop_id: &'a str,
    sop_version: &'a str,
    tool: &'static str,
    version: &'static str,
}
