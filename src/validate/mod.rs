//! Validation (docs/validation.md): raw tables in, canonical frames and rejects out. Row-level problems
//! become [`Reject`]s and the run goes on; file-level problems are errors. For every input,
//! rows read = accepted + rejected (+ superseded for event-log exports), always.

mod columns;
mod events;
mod pairs;
mod sops;
mod stack;
mod tickets;

pub(crate) use pairs::TicketPairs;
pub use sops::{version_facts, VersionFacts};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::profile::Profile;
use crate::ingest::profile::{map_header, InputKind, MapError, Mapping};
pub use crate::ingest::Reject;
use crate::ingest::{open_table, read_table, LineMap, Opened, RawTable};
use sop_impact_parse::time::DateOrder;

/// How values are read.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub profile: Profile,
    pub tz: Tz,
    pub date_order: Option<DateOrder>,
    /// per input, the configuration's mapping of its export
    pub mappings: std::sync::Arc<crate::config::InputMappings>,
}

impl LoadOptions {
    fn overrides(&self, kind: InputKind) -> crate::ingest::TextOverrides {
        let m = self.mapping(kind);
        crate::ingest::TextOverrides { delimiter: m.delimiter_byte(), encoding: m.text_encoding() }
    }

    /// The profile of an input: its section's `profile`, else `--profile`.
    fn profile_of(&self, kind: InputKind) -> Profile {
        match self.mapping(kind).profile.as_deref() {
            Some("canonical") => Profile::Canonical,
            Some("servicenow") => Profile::Servicenow,
            Some("jira") => Profile::Jira,
            Some("zendesk") => Profile::Zendesk,
            Some("freshdesk") => Profile::Freshdesk,
            Some("glpi") => Profile::Glpi,
            Some("otrs") => Profile::Otrs,
            Some(_) => Profile::Auto,
            None => self.profile,
        }
    }

    fn mapping(&self, kind: InputKind) -> &crate::config::InputMapping {
        match kind {
            InputKind::Tickets => &self.mappings.tickets,
            InputKind::Sops => &self.mappings.sops,
            InputKind::Changes => &self.mappings.changes,
            InputKind::Audits => &self.mappings.audits,
        }
    }
}

/// What happened to one input file: the data-quality summary and the accounting.
#[derive(Debug, Clone)]
pub struct InputSummary {
    pub kind: InputKind,
    pub path: PathBuf,
    pub format: String,
    pub profile: String,
    pub profile_reason: String,
    pub mapping: String,
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// earlier events of an event-log export whose latest event was kept
    pub superseded: u64,
    /// the lines of a CSV file, header included
    pub file_lines: Option<u64>,
    /// earliest and latest record timestamp (UTC ms) among accepted rows
    pub date_range: Option<(i64, i64)>,
    /// reject reasons (first words, without the value) and their counts, most frequent first
    pub top_reasons: Vec<(String, u64)>,
    /// per column: the cells too long to keep whole, kept shortened
    pub shortened: BTreeMap<String, ShortenedCells>,
}

/// The cells of one column kept shortened (`shorten_long_text`): how many, and the first one's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortenedCells {
    pub count: u64,
    pub first_line: u64,
}

impl ShortenedCells {
    /// These cells and `more` of the same column.
    fn add(&mut self, more: ShortenedCells) {
        self.count += more.count;
        self.first_line = self.first_line.min(more.first_line);
    }
}

/// Adds `more` (another block's cells of the same file) to `into`.
pub(crate) fn merge_shortened(into: &mut BTreeMap<String, ShortenedCells>, more: BTreeMap<String, ShortenedCells>) {
    for (column, cells) in more {
        into.entry(column).and_modify(|c| c.add(cells)).or_insert(cells);
    }
}

/// The warning a user reads about one file's shortened cells.
fn shortened_warning(path: &Path, column: &str, cells: &ShortenedCells) -> String {
    let (n, plural) = (cells.count, if cells.count == 1 { "" } else { "s" });
    format!(
        "{}: {n} {column} value{plural} longer than {} bytes kept as {} first 100 characters, length and digest \
         (first at line {}); values that differ stay apart",
        path.display(),
        sop_impact_parse::values::LONG_TEXT_BYTES,
        if n == 1 { "its" } else { "their" },
        cells.first_line
    )
}

impl InputSummary {
    pub fn balanced(&self) -> bool {
        self.rows_read == self.accepted + self.rejected + self.superseded
    }
}

/// The canonical inputs of one run.
pub struct Dataset {
    pub tickets: DataFrame,
    pub sops: DataFrame,
    pub changes: Option<DataFrame>,
    pub audits: Option<DataFrame>,
    pub inputs: Vec<InputSummary>,
    pub rejects: Vec<Reject>,
    pub warnings: Vec<String>,
}

/// The paths of one run's inputs.
#[derive(Debug, Clone, Default)]
pub struct InputPaths {
    pub tickets: Vec<PathBuf>,
    pub sops: PathBuf,
    pub changes: Option<PathBuf>,
    pub audits: Option<PathBuf>,
}

/// Row problems of one file: which rows are rejected (first problem wins) and why.
pub(crate) struct RowProblems<'a> {
    input: String,
    lines: &'a LineMap,
    pub rejected: Vec<bool>,
    pub list: Vec<Reject>,
    pub shortened: BTreeMap<String, ShortenedCells>,
}

impl<'a> RowProblems<'a> {
    fn new(table: &'a RawTable) -> Self {
        RowProblems {
            input: table.path.display().to_string(),
            lines: &table.lines,
            rejected: vec![false; table.height()],
            list: Vec::new(),
            shortened: BTreeMap::new(),
        }
    }

    /// The cell of `row` in `column` was too long and is kept shortened.
    pub fn shortened(&mut self, row: usize, column: &str) {
        let cell = ShortenedCells { count: 1, first_line: self.lines.line(row as u64) };
        match self.shortened.get_mut(column) {
            Some(cells) => cells.add(cell),
            None => {
                self.shortened.insert(column.to_string(), cell);
            }
        }
    }

    pub fn add(&mut self, row: usize, column: &str, value: &str, reason: impl Into<String>) {
        if !self.rejected[row] {
            self.rejected[row] = true;
            self.list.push(Reject::new(self.input.clone(), self.lines.line(row as u64), column, value, &reason.into()));
        }
    }

    pub fn line(&self, row: usize) -> u64 {
        self.lines.line(row as u64)
    }

    fn keep_mask(&self) -> BooleanChunked {
        BooleanChunked::from_iter_values("keep".into(), self.rejected.iter().map(|r| !r))
    }
}

/// Maps the header of `path` and chooses the columns the mapping reads; a missing required
/// column is a file-level error.
fn mapping_select<'a>(
    path: &'a Path,
    kind: InputKind,
    opts: &'a LoadOptions,
    mapping: &'a mut Option<Mapping>,
) -> impl FnMut(&[String], crate::ingest::Format) -> Result<Vec<bool>> + 'a {
    move |headers: &[String], format| {
        let m = map_header(kind, opts.profile_of(kind), headers, opts.mapping(kind)).map_err(|e| match e {
            MapError::Config(problem) => Error::Usage(format!("{}: {problem}", path.display())),
            MapError::Missing(problem) => Error::InvalidFile {
            path: path.to_path_buf(),
            problem,
            fix: Some(if headers.len() == 1 && !matches!(format, crate::ingest::Format::Csv { .. }) {
                "export the canonical columns listed in docs/inputs.md".into()
            } else if headers.len() == 1 {
                "the header was not split into columns: save the export comma-, semicolon-, tab- or |-separated".into()
            } else {
                "name the file's columns in the configuration ([tickets] columns = { opened_at = \"Logged On\" }), or choose the right --profile (see docs/inputs.md)".into()
            }),
            },
        })?;
        // Only the columns the mapping reads are kept.
        let mut keep = vec![false; headers.len()];
        for (_, src) in &m.columns {
            for i in src.columns() {
                keep[i] = true;
            }
        }
        *mapping = Some(m);
        Ok(keep)
    }
}

/// Read and map one (small) file whole.
fn open(path: &Path, kind: InputKind, opts: &LoadOptions) -> Result<(RawTable, Mapping)> {
    let mut mapping = None;
    let table = read_table(path, &mut mapping_select(path, kind, opts, &mut mapping), opts.overrides(kind))?;
    let mapping = mapping.ok_or_else(|| Error::Internal("the header was never mapped".into()))?;
    Ok((table, mapping))
}

/// Open and map one file to be read in blocks.
fn open_input(path: &Path, kind: InputKind, opts: &LoadOptions) -> Result<(Opened, Mapping)> {
    let mut mapping = None;
    let opened = open_table(path, &mut mapping_select(path, kind, opts, &mut mapping), opts.overrides(kind))?;
    let mapping = mapping.ok_or_else(|| Error::Internal("the header was never mapped".into()))?;
    Ok((opened, mapping))
}

/// What the data-quality summary says about a file besides its counts.
pub(crate) struct FileFacts<'a> {
    pub path: &'a Path,
    pub format: crate::ingest::Format,
    pub encoding: &'static str,
    pub headers: &'a [String],
    pub rows_read: u64,
    pub file_lines: Option<u64>,
}

impl<'a> FileFacts<'a> {
    fn of(table: &'a RawTable) -> Self {
        FileFacts {
            path: &table.path,
            format: table.format,
            encoding: table.encoding,
            headers: &table.headers,
            rows_read: table.rows_read,
            file_lines: table.file_lines,
        }
    }
}

fn no_rows_error(path: &Path, kind: InputKind) -> Error {
    Error::invalid(
        path,
        format!("has a header but no data rows; {} cannot be empty", kind.name()),
        "export it again with its data",
    )
}

/// Rows of one file after validation.
pub(crate) struct Counts {
    pub accepted: u64,
    pub rejected: u64,
    pub superseded: u64,
    pub shortened: BTreeMap<String, ShortenedCells>,
}

fn summarise(
    kind: InputKind,
    table: &FileFacts,
    mapping: &Mapping,
    counts: Counts,
    date_range: Option<(i64, i64)>,
    rejects: &[Reject],
) -> InputSummary {
    let Counts { accepted, rejected, superseded, shortened } = counts;
    let input = table.path.display().to_string();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for r in rejects.iter().filter(|r| r.input == input) {
        *reasons.entry(reason_kind(&r.reason)).or_default() += 1;
    }
    let mut top: Vec<(String, u64)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    InputSummary {
        kind,
        path: table.path.to_path_buf(),
        format: match table.format {
            crate::ingest::Format::Csv { delimiter } if table.encoding == "UTF-8" => {
                format!("csv ({})", crate::ingest::delimiter_name(delimiter))
            }
            crate::ingest::Format::Csv { delimiter } => {
                format!("csv ({}, {})", crate::ingest::delimiter_name(delimiter), table.encoding)
            }
            f => f.name().to_string(),
        },
        profile: mapping.profile.name().to_string(),
        profile_reason: mapping.reason.clone(),
        mapping: mapping.describe(table.headers),
        rows_read: table.rows_read,
        file_lines: table.file_lines,
        accepted,
        rejected,
        superseded,
        date_range,
        top_reasons: top,
        shortened,
    }
}

/// The kind of a reason, without the offending value: "unknown priority", "row has N fields but
/// the header has N".
fn reason_kind(reason: &str) -> String {
    let cut = reason.find(['\'', '(', ':', '"']).unwrap_or(reason.len());
    let mut k = String::new();
    let mut in_number = false;
    for c in reason[..cut].trim().chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                k.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            k.push(c);
        }
    }
    let k = k.trim_end_matches(" -N").trim().to_string();
    if k.is_empty() {
        reason.to_string()
    } else {
        k
    }
}

fn date_range(ca: &Int64Chunked) -> Option<(i64, i64)> {
    Some((ca.min()?, ca.max()?))
}

/// Read, map and validate every input of a run.
pub fn load(paths: &InputPaths, opts: &LoadOptions) -> Result<Dataset> {
    let mut inputs = Vec::new();
    let mut rejects = Vec::new();
    let mut warnings = Vec::new();

    let tickets = tickets::load(&paths.tickets, opts, &mut inputs, &mut rejects)?;
    let (sops, sop_warnings) = sops::load(&paths.sops, opts, &tickets, &mut inputs, &mut rejects)?;
    warnings.extend(sop_warnings);
    let changes = match &paths.changes {
        Some(p) => Some(events::load_changes(p, opts, &mut inputs, &mut rejects)?),
        None => None,
    };
    let audits = match &paths.audits {
        Some(p) => Some(events::load_audits(p, opts, &mut inputs, &mut rejects)?),
        None => None,
    };
    let order: Vec<String> = inputs.iter().map(|s| s.path.display().to_string()).collect();
    rejects.sort_by_key(|r| (order.iter().position(|p| *p == r.input).unwrap_or(usize::MAX), r.line));
    for s in &inputs {
        warnings.extend(s.shortened.iter().map(|(column, cells)| shortened_warning(&s.path, column, cells)));
    }
    for s in &inputs {
        if !s.balanced() {
            return Err(Error::Internal(format!(
                "accounting does not balance for {}: read {} ≠ accepted {} + rejected {} + superseded {}",
                s.path.display(),
                s.rows_read,
                s.accepted,
                s.rejected,
                s.superseded
            )));
        }
    }
    Ok(Dataset { tickets, sops, changes, audits, inputs, rejects, warnings })
}

/// rejects.csv: `input, line, column, value, reason`, in input order then line.
pub fn rejects_csv(rejects: &[Reject]) -> Result<Vec<u8>> {
    crate::output::csv_bytes(
        "rejects.csv",
        &["input", "line", "column", "value", "reason"],
        rejects.iter().map(|r| {
            let cell = crate::output::cell;
            vec![cell(&r.input), r.line.to_string(), cell(&r.column), cell(&r.value), cell(&r.reason)]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_kinds_group_values_away() {
        assert_eq!(reason_kind("unknown priority 'Whenever' (expected …)"), "unknown priority");
        assert_eq!(reason_kind("not a recognised timestamp: 'x'"), "not a recognised timestamp");
        assert_eq!(reason_kind("negative count -1: a count cannot be below 0"), "negative count");
        assert_eq!(reason_kind("row has 6 fields but the header has 11"), "row has N fields but the header has N");
    }
}
