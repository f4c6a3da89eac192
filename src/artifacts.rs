//! What a run leaves for someone to check it by: each input's provenance and manifest entry,
//! the checksums of every output, and the JSON of the manifests (the report's and an evidence
//! pack's).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output;
use crate::pipeline::Analysis;
use crate::render::markdown::escape;
use crate::tables::{self, TableFormat};
use sop_impact_parse::time::format_utc;

/// An input as a manifest lists it. Fields in name order: the manifests' keys are sorted.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct InputEntry {
    accepted: u64,
    format: String,
    kind: &'static str,
    path: String,
    profile: String,
    rejected: u64,
    rows_read: u64,
    sha256: String,
    superseded: u64,
}

/// An output file and its checksum.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OutputEntry {
    path: String,
    sha256: String,
}

/// The report's manifest.json (fields in name order).
#[derive(serde::Serialize)]
struct ReportManifest<'a> {
    as_of: &'a str,
    generated_at: String,
    inputs: Vec<InputEntry>,
    options: &'a [String],
    outputs: Vec<OutputEntry>,
    time_zone: String,
    tool: &'static str,
    version: &'static str,
}

/// Per input: a provenance table row (kind, path, SHA-256) and its manifest entry.
pub(crate) fn input_provenance(a: &Analysis) -> Result<(Vec<Vec<String>>, Vec<InputEntry>)> {
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for s in &a.data.inputs {
        let sha = output::sha256_file(&s.path)?;
        rows.push(vec![
            s.kind.name().to_string(),
            format!("`{}`", escape(&s.path.display().to_string())),
            format!("`{sha}`"),
        ]);
        entries.push(InputEntry {
            accepted: s.accepted,
            format: s.format.clone(),
            kind: s.kind.name(),
            path: s.path.display().to_string(),
            profile: s.profile.clone(),
            rejected: s.rejected,
            rows_read: s.rows_read,
            sha256: sha,
            superseded: s.superseded,
        });
    }
    Ok((rows, entries))
}

/// Every file under `dir` with its SHA-256, for a manifest.
pub(crate) fn output_checksums(dir: &Path) -> Result<Vec<OutputEntry>> {
    let mut outputs = Vec::new();
    for rel in output::list_files(dir)? {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|e| Error::output(&dir.join(&rel), e))?;
        outputs.push(OutputEntry { sha256: output::sha256_bytes(&bytes), path: rel });
    }
    Ok(outputs)
}

/// `value` as pretty JSON with a final newline, at `path`.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    output::write_atomic(path, &bytes)
}

/// The manifest, last: it lists every other output with its checksum.
pub(crate) fn write_manifest(
    a: &Analysis,
    dir: &Path,
    options: &[String],
    inputs: Vec<InputEntry>,
    as_of: &str,
) -> Result<()> {
    let tz = a.opts.tz;
    let outputs = output_checksums(dir)?;
    let generated_at = if a.as_of_given {
        format_utc(a.as_of_ms - 1)
    } else {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    };
    let manifest = ReportManifest {
        as_of,
        generated_at,
        inputs,
        options,
        outputs,
        time_zone: tz.to_string(),
        tool: "sop-impact",
        version: env!("CARGO_PKG_VERSION"),
    };
    write_json(&dir.join("manifest.json"), &manifest)
}

/// Metric tables, comparisons, windows and rejects under `out` (the `metrics` command, and the report).
pub(crate) fn write_tables(a: &Analysis, out: &Path, format: TableFormat) -> Result<Vec<(PathBuf, usize)>> {
    let dir = out.join("metrics");
    output::ensure_dir(&dir)?;
    let ext = tables::extension(format);
    let mut written = Vec::new();
    for (name, df) in
        [("sop_version_metrics", &a.tables.sop_versions), ("process_period_metrics", &a.tables.process_periods)]
    {
        let path = dir.join(format!("{name}.{ext}"));
        output::write_atomic(&path, &tables::to_bytes(df, format)?)?;
        written.push((path, df.height()));
    }
    for (name, bytes, rows) in [
        ("comparisons.csv", crate::compare::comparisons_csv(&a.comparisons)?, a.comparisons.rows.len()),
        ("windows.csv", crate::compare::windows_csv(&a.comparisons)?, a.comparisons.changes.len()),
        ("rejects.csv", crate::validate::rejects_csv(&a.data.rejects)?, a.data.rejects.len()),
    ] {
        let path = out.join(name);
        output::write_atomic(&path, &bytes)?;
        written.push((path, rows));
    }
    if let Some(crate::pipeline::Strata { column, within: strata }) = &a.strata {
        let path = out.join(format!("comparisons_by_{column}.csv"));
        output::write_atomic(&path, &crate::compare::comparisons_by_csv(column, strata)?)?;
        written.push((path, strata.iter().map(|(_, c)| c.rows.len()).sum()));
    }
    Ok(written)
}
