//! Reading exports: format detection from content, CSV (delimiter sniffing, BOM, quoted
//! newlines) through the `csv` crate so that every record keeps its source line, Parquet and
//! Arrow IPC through polars. The result is a [`RawTable`]: the header as found, and the text of
//! the columns the profile maps, ready for validation to check value by value.
//!
//! A large CSV file is never held whole: [`Opened::read_parts`] cuts it into blocks that end
//! after a complete record and hands them to every core, each block becoming a `RawTable` whose
//! fields stay in one arena (ranges, not strings); the caller turns each block into typed columns
//! and drops it.
//!
//! Here: the formats, the raw table and its line map, the opened input. `sniff` tells the format
//! from the first bytes, `open` reads the header and picks the columns, `pool` spreads the work
//! over the cores and puts the results back in order, `block` parses CSV blocks, `frames` cuts
//! Parquet and IPC frames into slices; `ipc_names`, `parquet_names` and `repeats` read schemas
//! whose column names repeat.

#![deny(clippy::indexing_slicing, clippy::string_slice)]

mod block;
pub mod encoding;
mod frames;
pub mod guess;
mod ipc_names;
mod open;
mod parquet_names;
mod pool;
pub mod profile;
mod reject;
mod repeats;
mod sniff;

pub use open::{open_table, read_table, TextOverrides};
pub use reject::Reject;
pub use sniff::detect_format;

use block::*;
use frames::*;
use open::*;
use pool::*;
use sniff::*;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::io::parquet::read::FileMetadata;
use polars::prelude::*;

use sop_impact_parse::csv::{block_end, count_line_ends, sniff_delimiter, LineCounter};

use crate::error::{polars_in, Error, Result};
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv { delimiter: u8 },
    Parquet,
    Ipc,
    IpcStream,
}

impl Format {
    pub fn name(&self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::Parquet => "parquet",
            Format::Ipc => "ipc",
            Format::IpcStream => "ipc-stream",
        }
    }
}

/// Maps a record index to the line of the source file it starts on. Stored sparsely: only where
/// a record does not start on the line after the previous one (quoted newlines, skipped rows).
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    /// (record index, line) where the simple "one line per record" rule breaks
    breaks: Vec<(u64, u64)>,
    /// line of record 0
    first: u64,
}

impl LineMap {
    fn new(first: u64) -> Self {
        LineMap { breaks: Vec::new(), first }
    }

    fn record(&mut self, index: u64, line: u64) {
        if self.line(index) != line {
            self.breaks.push((index, line));
        }
    }

    /// The 1-based source line (CSV) or row number (Parquet/IPC) of record `index`.
    pub fn line(&self, index: u64) -> u64 {
        match self.breaks.partition_point(|(i, _)| *i <= index) {
            0 => self.first + index,
            k => {
                let (i, l) = self.breaks.get(k - 1).copied().unwrap_or((0, self.first));
                l + (index - i)
            }
        }
    }
}

/// The values of one column of a [`RawTable`].
pub enum RawColumn {
    /// not read: the mapping does not use it
    Skipped,
    /// a Parquet/IPC text column
    Text(StringChunked),
    /// a Parquet/IPC column typed as stored (timestamps, dates, integers, booleans): its values
    /// are checked as they are; the text form is made only when a parser asks for text (a
    /// column mapped through a value map, say)
    Typed { column: Series, text: std::sync::OnceLock<StringChunked> },
    /// CSV fields: byte ranges of the table's arena
    Spans(Vec<(u32, u32)>),
}

/// One input file (or one block of a large CSV file) as read: its header and its columns as
/// text. CSV fields are not copied into string columns: they stay in one arena of the block's
/// (unescaped, UTF-8-checked) records and columns are ranges into it.
pub struct RawTable {
    pub path: PathBuf,
    pub format: Format,
    /// the text encoding a CSV file was decoded from (`UTF-8` when read as it is)
    pub encoding: &'static str,
    /// column names exactly as in the file (may repeat, e.g. Jira's several `Labels` columns)
    pub headers: Vec<String>,
    /// one entry per header, in header order
    pub columns: Vec<RawColumn>,
    arena: String,
    pub lines: LineMap,
    /// data records found, including the ones rejected while reading
    pub rows_read: u64,
    /// the lines of a whole CSV file (header included), as an editor counts them
    pub file_lines: Option<u64>,
    /// records that could not be read as a row at all (ragged, not UTF-8)
    pub rejects: Vec<Reject>,
    /// rows kept (read minus the records rejected while reading)
    pub rows: usize,
}

impl RawTable {
    pub fn height(&self) -> usize {
        self.rows
    }

    /// The values of column `i` in row order, or None when the column was not read.
    pub fn values(&self, i: usize) -> Option<ColumnValues<'_>> {
        match self.columns.get(i)? {
            RawColumn::Skipped => None,
            RawColumn::Text(ca) => Some(ColumnValues::Other(Box::new(ca.iter()))),
            RawColumn::Typed { column, text } => {
                Some(ColumnValues::Other(Box::new(text.get_or_init(|| as_text(column)).iter())))
            }
            RawColumn::Spans(spans) => Some(ColumnValues::Spans { spans: spans.iter(), arena: &self.arena }),
        }
    }

    /// Column `i` when the file stored it as text (Parquet/IPC): one array of string views.
    pub fn stored_text(&self, i: usize) -> Option<&StringChunked> {
        match self.columns.get(i)? {
            RawColumn::Text(ca) if ca.chunks().len() == 1 => Some(ca),
            _ => None,
        }
    }

    /// Column `i` typed as stored, when the file stored it typed (Parquet/IPC timestamps, dates,
    /// integers and booleans).
    pub fn typed(&self, i: usize) -> Option<&Series> {
        match self.columns.get(i)? {
            RawColumn::Typed { column, .. } => Some(column),
            _ => None,
        }
    }
}

/// A column's values in row order, missing ones as None. A CSV block's spans are read in place
/// (and inlined into the loops that check them: behind a boxed iterator every value of a
/// 10M-row file went through a call it could not see into); other columns through polars.
pub enum ColumnValues<'a> {
    Spans { spans: std::slice::Iter<'a, (u32, u32)>, arena: &'a str },
    Other(Box<dyn Iterator<Item = Option<&'a str>> + 'a>),
}

impl<'a> Iterator for ColumnValues<'a> {
    type Item = Option<&'a str>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ColumnValues::Spans { spans, arena } => spans.next().map(|&(s, e)| arena.get(s as usize..e as usize)),
            ColumnValues::Other(values) => values.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ColumnValues::Spans { spans, .. } => spans.size_hint(),
            ColumnValues::Other(values) => values.size_hint(),
        }
    }
}

/// The text form of a typed column (what a CSV export of it would hold).
fn as_text(column: &Series) -> StringChunked {
    match column.cast(&DataType::String) {
        Ok(s) => s
            .str()
            .map(|ca| ca.rechunk().into_owned())
            .unwrap_or_else(|_| StringChunked::full_null(column.name().clone(), column.len())),
        Err(_) => StringChunked::full_null(column.name().clone(), column.len()),
    }
}

/// Typed columns read as they are; any other type (decimals, floats, nested) goes through text.
fn keeps_its_type(dtype: &DataType) -> bool {
    matches!(dtype, DataType::Datetime(..) | DataType::Date | DataType::Boolean) || dtype.is_integer()
}

/// Chooses, from the header and format, which columns to read (the others stay empty).
pub type Select<'a> = dyn FnMut(&[String], Format) -> Result<Vec<bool>> + 'a;

/// An input whose format and header are known: what is left is to read its records.
pub struct Opened {
    pub path: PathBuf,
    pub format: Format,
    /// the text encoding of a CSV file (`UTF-8` when read as it is)
    pub encoding: &'static str,
    pub headers: Vec<String>,
    body: Body,
    /// the UTF-8 copy read instead of a file in another encoding
    decoded: Option<encoding::Decoded>,
}

impl Opened {
    /// The file whose bytes are read: the input, or its UTF-8 copy.
    fn data_path(&self) -> &Path {
        self.decoded.as_ref().map_or(&self.path, |d| &d.path)
    }

    /// About how many records the file holds, to size the table they go into: exact for
    /// Parquet and IPC; for CSV the file's size over the length of its first lines, with a
    /// fifth more for lines longer than those.
    pub fn estimated_rows(&self) -> usize {
        match &self.body {
            Body::Frame { df, .. } => df.height(),
            Body::Parquet { metadata, .. } => metadata.num_rows,
            Body::Csv { .. } => {
                let estimate = || -> std::io::Result<usize> {
                    let mut file = File::open(self.data_path())?;
                    let size = file.metadata()?.len() as usize;
                    let mut head = vec![0u8; 1 << 16];
                    let n = read_up_to(&mut file, &mut head)?;
                    let lines = count_line_ends(head.get(..n).unwrap_or_default()) as usize;
                    Ok(n.checked_div(lines).map_or(1, |line_bytes| size / line_bytes.max(1) / 5 * 6 + 1024))
                };
                estimate().unwrap_or(0)
            }
        }
    }
}

enum Body {
    /// Arrow IPC: the mapped columns (in header order), typed as stored
    Frame {
        df: DataFrame,
        keep: Vec<bool>,
    },
    /// Parquet: read a run of row groups at a time (the mapped columns only) while the last
    /// ones are checked, so that a large file is never held whole
    Parquet {
        projection: Vec<usize>,
        keep: Vec<bool>,
        metadata: Arc<FileMetadata>,
    },
    Csv {
        delimiter: u8,
        keep: Vec<bool>,
    },
}

/// How far reading a file in blocks went.
pub struct ReadTally {
    /// data records read, including rejected ones
    pub rows_read: u64,
    /// false when a byte limit stopped the reading before the end of the file
    pub complete: bool,
    /// the lines of a CSV file read to its end (header included), as an editor counts them
    pub lines: Option<u64>,
}

/// The results of reading a file in blocks, in file order.
pub struct Parts<T> {
    pub parts: Vec<T>,
    /// data records read, including rejected ones
    pub rows_read: u64,
    /// false when a byte limit stopped the reading before the end of the file
    pub complete: bool,
}

/// Blocks of about this size are parsed and validated in parallel. Each column of a block is
/// checked in its own pass over the block's text, so a block should stay in the cores' caches:
/// measured on a 170 MB export (release, 2 cores), 16 MB blocks took 1.5-1.7 s to parse and
/// check, 1 MB blocks 1.05-1.2 s and 512 KB 0.85-0.9 s; at 10M tickets the many small blocks cost
/// more to put together again (2 s at 512 KB), so 1 MB.
const BLOCK_BYTES: usize = 1 << 20;

/// `SOP_IMPACT_BLOCK_BYTES`: lets the tests cut small files into many blocks (and parts).
fn block_bytes_set() -> Option<usize> {
    std::env::var("SOP_IMPACT_BLOCK_BYTES").ok().and_then(|v| v.parse().ok())
}

/// The block size of a CSV file.
pub fn block_bytes() -> usize {
    block_bytes_set().unwrap_or(BLOCK_BYTES).max(64)
}

/// About what one ticket takes in a CSV export, to turn byte sizes into rows of a Parquet/IPC
/// file.
const BYTES_PER_TICKET: usize = 160;

/// Rows of a Parquet/IPC input per part: typed columns hold no text to keep in cache, and
/// fewer parts are cheaper to put together than a CSV file's blocks.
fn frame_rows() -> usize {
    block_bytes_set().map_or(100_000, |b| (b / BYTES_PER_TICKET).max(1))
}

pub fn delimiter_name(d: u8) -> &'static str {
    match d {
        b',' => ",",
        b';' => ";",
        b'\t' => "tab",
        b'|' => "|",
        _ => "?",
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn line_map_is_sparse_and_exact() {
        let mut m = LineMap::new(2);
        m.record(0, 2);
        m.record(1, 3);
        m.record(2, 5); // record 1 spans two lines
        m.record(3, 6);
        m.record(4, 9); // a rejected record in between
        assert_eq!(m.breaks.len(), 2);
        assert_eq!([m.line(0), m.line(1), m.line(2), m.line(3), m.line(4), m.line(5)], [2, 3, 5, 6, 9, 10]);
    }
}
