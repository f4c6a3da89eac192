//! The auditor's evidence pack (docs/evidence.md): one SOP change, self-contained — the version history,
//! the change's comparison with intervals and caveats, the exact records in each window, the SQL
//! of every metric, the chart, and checksums with the command line to re-run it.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::json;

use crate::attribute::NO_SOP;
use crate::error::{polars_internal, Error, Result};
use crate::output::{self, cell, csv_bytes};
use crate::pipeline::Analysis;
use crate::render::markdown::{escape, table, thousands};
use crate::render::slug;
use sop_impact_parse::time::{format_date, format_utc};

/// Records of one window: (record type, id, attributed time, source line).
fn window_records(
    a: &Analysis,
    process_id: u32,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<Vec<(String, String, i64, u64)>> {
    let mut out = Vec::new();
    for (kind, df, id_col) in
        [("ticket", &a.attributed.tickets, "ticket_id"), ("audit_finding", &a.attributed.audits, "finding_id")]
    {
        if df.height() == 0 || df.column(id_col).is_err() {
            continue;
        }
        let t = col("attributed_at").dt().timestamp(TimeUnit::Milliseconds);
        let mut pred = col("process_id").eq(lit(process_id));
        if let Some(s) = start {
            pred = pred.and(t.clone().gt_eq(lit(s)));
        }
        if let Some(e) = end {
            pred = pred.and(t.clone().lt(lit(e)));
        }
        let sel = df
            .clone()
            .lazy()
            .filter(pred)
            .select([col(id_col).alias("id"), t.alias("t"), col("source_line")])
            .sort(["t", "id"], SortMultipleOptions::default())
            .collect()
            .map_err(polars_internal)?;
        let ids = sel.column("id").map_err(polars_internal)?.str().map_err(polars_internal)?.clone();
        let ts = sel.column("t").map_err(polars_internal)?.i64().map_err(polars_internal)?.clone();
        let lines = sel.column("source_line").map_err(polars_internal)?.u64().map_err(polars_internal)?.clone();
        for i in 0..sel.height() {
            out.push((
                kind.to_string(),
                ids.get(i).unwrap_or_default().to_string(),
                ts.get(i).unwrap_or(0),
                lines.get(i).unwrap_or(0),
            ));
        }
    }
    Ok(out)
}

fn records_csv(records: &[(String, String, i64, u64)]) -> Result<Vec<u8>> {
    csv_bytes(
        "a window file",
        &["record", "id", "attributed_at", "source_line"],
        records.iter().map(|(kind, id, t, line)| vec![kind.clone(), cell(id), format_utc(*t), line.to_string()]),
    )
}

/// Write the pack for `sop` (and `version`, default the latest) under `out`; returns its path.
pub fn write_evidence(
    a: &Analysis,
    sop: &str,
    version: Option<&str>,
    out: Option<PathBuf>,
    args: &[String],
) -> Result<PathBuf> {
    let versions: Vec<&crate::attribute::TimelineRow> =
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
    let out = out.unwrap_or_else(|| PathBuf::from(format!("reports/evidence-{}-{}", slug(sop), slug(&target.version))));
    let publication = crate::publish::Publication::begin(&out)?;
    build(a, target, publication.stage(), args)?;
    publication.commit()?;
    Ok(out)
}

fn build(a: &Analysis, target: &crate::attribute::TimelineRow, dir: &Path, args: &[String]) -> Result<()> {
    let sop = target.sop_id.as_str();
    let infos = crate::report::version_infos(a)?;
    let mut md = String::new();
    let _ =
        writeln!(md, "# Evidence: {} version {} ({})\n", escape(sop), escape(&target.version), escape(&target.process));
    let _ = writeln!(
        md,
        "This directory is self-contained: with it and the input files named below (checked by their SHA-256) every number here can be \
         re-derived. `before.csv` and `after.csv` list every record in each window; `queries/` holds the SQL that defines each metric.\n"
    );

    let _ = writeln!(md, "## Version history\n");
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
    let _ = writeln!(
        md,
        "{}",
        table(
            &["version", "effective from", "until", "owner", "approved by", "approved", "next review", "what changed"],
            &rows,
            &[]
        )
    );

    let charts_dir = dir.join("charts");
    output::ensure_dir(&charts_dir)?;
    let as_of = format_date(a.as_of_ms - 1);
    let change = a.comparisons.changes.iter().position(|c| c.sop_id == sop && c.to_version == target.version);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    match change {
        Some(c) => {
            let ch = &a.comparisons.changes[c];
            let _ = writeln!(md, "## The change\n");
            md.push_str(&crate::report::change_section(a, c, &infos, &charts_dir, &as_of, "###")?);
            before = window_records(a, ch.process_id, ch.before.0, Some(ch.before.1))?;
            after = window_records(a, ch.process_id, Some(ch.after.0), ch.after.1)?;
            let rows: Vec<&crate::compare::Comparison> = a.comparisons.rows.iter().filter(|r| r.change == c).collect();
            let sub = crate::compare::Comparisons {
                changes: a.comparisons.changes.clone(),
                rows: rows.into_iter().cloned().collect(),
            };
            output::write_atomic(&dir.join("comparison.csv"), &crate::compare::comparisons_csv(&sub)?)?;
        }
        None => {
            let _ = writeln!(
                md,
                "## The change\n\nVersion {} took effect on {}, before the first ticket of the data, so there is nothing before it to compare.\n",
                escape(&target.version),
                target.effective_from.map(format_date).unwrap_or_default()
            );
        }
    }
    output::write_atomic(&dir.join("before.csv"), &records_csv(&before)?)?;
    output::write_atomic(&dir.join("after.csv"), &records_csv(&after)?)?;
    let count = |v: &[(String, String, i64, u64)], k: &str| v.iter().filter(|r| r.0 == k).count() as u64;
    let _ = writeln!(md, "## Records used\n");
    let _ = writeln!(
        md,
        "{}",
        table(
            &["window", "tickets", "audit findings", "file"],
            &[
                vec![
                    "before".into(),
                    thousands(count(&before, "ticket")),
                    thousands(count(&before, "audit_finding")),
                    "[before.csv](before.csv)".into()
                ],
                vec![
                    "after".into(),
                    thousands(count(&after, "ticket")),
                    thousands(count(&after, "audit_finding")),
                    "[after.csv](after.csv)".into()
                ],
            ],
            &[1, 2]
        )
    );
    let _ = writeln!(md, "Data quality of the inputs (every rejected row is in [rejects.csv](rejects.csv)):\n");
    let dq: Vec<Vec<String>> = a
        .data
        .inputs
        .iter()
        .map(|s| {
            vec![
                s.kind.name().into(),
                format!("`{}`", escape(&s.path.display().to_string())),
                thousands(s.rows_read),
                thousands(s.accepted),
                thousands(s.rejected),
                thousands(s.superseded),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "{}",
        table(&["input", "file", "rows read", "accepted", "rejected", "superseded"], &dq, &[2, 3, 4, 5])
    );
    output::write_atomic(&dir.join("rejects.csv"), &crate::validate::rejects_csv(&a.data.rejects)?)?;

    // The SQL of every metric, as run.
    let qdir = dir.join("queries");
    output::ensure_dir(&qdir)?;
    for q in &a.queries {
        let name = q.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "query.sql".into());
        output::write_atomic(&qdir.join(name), q.sql.as_bytes())?;
    }
    let (prov, inputs) = crate::report::input_provenance(a)?;
    let command = format!("sop-impact {}", args.join(" "));
    let _ = writeln!(md, "## Provenance\n");
    let _ =
        writeln!(md, "Re-run with `{}` (sop-impact {}, as of {as_of}).\n", escape(&command), env!("CARGO_PKG_VERSION"));
    let _ = writeln!(md, "{}", table(&["input", "file", "SHA-256"], &prov, &[]));
    output::write_atomic(&dir.join("evidence.md"), md.as_bytes())?;

    let outputs = crate::report::output_checksums(dir)?;
    let manifest = json!({
        "tool": "sop-impact",
        "version": env!("CARGO_PKG_VERSION"),
        "sop_id": sop,
        "sop_version": target.version,
        "as_of": as_of,
        "command": command,
        "inputs": inputs,
        "outputs": outputs,
    });
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    output::write_atomic(&dir.join("manifest.json"), &bytes)
}
