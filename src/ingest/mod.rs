//! Reading exports: format detection from content, CSV (delimiter sniffing, BOM, quoted
//! newlines) through the `csv` crate so that every record keeps its source line, Parquet and
//! Arrow IPC through polars. The result is a [`RawTable`]: the header as found, and the text of
//! the columns the profile maps, ready for validation to check value by value.
//!
//! A large CSV file is never held whole: [`Opened::read_parts`] cuts it into blocks that end
//! after a complete record and hands them to every core, each block becoming a `RawTable` whose
//! fields stay in one arena (ranges, not strings); the caller turns each block into typed columns
//! and drops it.

#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod encoding;
pub mod guess;
mod ipc_names;
mod parquet_names;
pub mod profile;
mod reject;
mod repeats;

pub use reject::Reject;

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

/// Detect the format of `path` from its first bytes.
pub fn detect_format(path: &Path) -> Result<Format> {
    sniff(path, None).map(|sniffed| sniffed.format)
}

/// What the first bytes of a file say about it.
struct Sniffed {
    format: Format,
    /// the text encoding of a CSV file
    encoding: &'static encoding_rs::Encoding,
    /// each record of a CSV file wrapped in one quoted field
    wrapped: bool,
    /// a UTF-32 byte-order mark (`Some(true)`: little-endian), which encoding_rs does not decode
    utf32: Option<bool>,
}

impl Sniffed {
    fn csv(delimiter: u8, encoding: &'static encoding_rs::Encoding, wrapped: bool) -> Self {
        Sniffed { format: Format::Csv { delimiter }, encoding, wrapped, utf32: None }
    }

    fn binary(format: Format) -> Self {
        Sniffed { format, encoding: encoding_rs::UTF_8, wrapped: false, utf32: None }
    }
}

/// The format of `path` and, for CSV, its text encoding, from its first bytes.
/// `told` is the encoding the configuration names, which detection does not second-guess.
fn sniff(path: &Path, told: Option<&'static encoding_rs::Encoding>) -> Result<Sniffed> {
    // Judged before opening: opening a pipe waits for a writer, and a pipe could be read once only.
    let meta = std::fs::metadata(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Err(Error::invalid(path, "is a directory, not a file", "name the export file itself"));
    }
    if !meta.is_file() {
        return Err(Error::invalid(
            path,
            "is not a regular file (a pipe, socket or device); an input is read more than once",
            "save the export to a file and pass that file",
        ));
    }
    let mut f = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut f, &mut head).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let head = head.get(..n).unwrap_or_default();
    if n == 0 {
        return Err(Error::invalid(path, "is empty (0 bytes)", "export it again with a header row and data"));
    }
    if head.starts_with(b"PAR1") {
        return Ok(Sniffed::binary(Format::Parquet));
    }
    if head.starts_with(b"ARROW1") {
        return Ok(Sniffed::binary(Format::Ipc));
    }
    if head.len() >= 8 && head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
        return Ok(Sniffed::binary(Format::IpcStream));
    }
    if let Some(little_endian) = encoding::utf32_mark(head) {
        // (the rest is judged on its UTF-8 copy: read as it is, it would look like UTF-16)
        return Ok(Sniffed { utf32: Some(little_endian), ..Sniffed::csv(b',', encoding_rs::UTF_8, false) });
    }
    let encoding = told.unwrap_or_else(|| encoding::detect(head));
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if encoding == encoding_rs::UTF_8 && text.contains(&0) {
        return Err(Error::invalid(
            path,
            "is not CSV, Parquet or Arrow IPC (binary content)",
            "export the table as CSV (UTF-8), Parquet or Arrow IPC/Feather v2",
        ));
    }
    let decoded = encoding::decode_head(head, encoding);
    if encoding::is_wrapped(&decoded) {
        let inner: String = decoded.lines().take(50).map(|l| encoding::unwrap_or_keep(l) + "\n").collect();
        return Ok(Sniffed::csv(sniff_delimiter(inner.as_bytes()), encoding, true));
    }
    if encoding == encoding_rs::UTF_8 {
        return Ok(Sniffed::csv(sniff_delimiter(text), encoding, false));
    }
    if decoded.contains('\0') {
        return Err(Error::invalid(
            path,
            "is not CSV, Parquet or Arrow IPC (binary content)",
            "export the table as CSV (UTF-8), Parquet or Arrow IPC/Feather v2",
        ));
    }
    Ok(Sniffed::csv(sniff_delimiter(decoded.as_bytes()), encoding, false))
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

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

/// Detect the format of `path`, read its header and choose the columns to read with `select`
/// (real exports carry dozens of columns the analysis never reads).
/// What the user says about a CSV file where detection could be wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOverrides {
    pub delimiter: Option<u8>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

pub fn open_table(path: &Path, select: &mut Select, overrides: TextOverrides) -> Result<Opened> {
    let Sniffed { mut format, encoding: mut text_encoding, wrapped, utf32 } = sniff(path, overrides.encoding)?;
    if let Some(little_endian) = utf32 {
        let copy = encoding::decode_utf32_copy(path, little_endian)?;
        let mut opened = open_table(&copy.path, select, overrides).map_err(|e| e.with_path(path))?;
        opened.path = path.to_path_buf();
        opened.encoding = if little_endian { "UTF-32LE" } else { "UTF-32BE" };
        // (a wrapped export was copied again, unwrapped: that copy is the one read)
        if opened.decoded.is_none() {
            opened.decoded = Some(copy);
        }
        return Ok(opened);
    }
    if let Format::Csv { delimiter } = &mut format {
        *delimiter = overrides.delimiter.unwrap_or(*delimiter);
        text_encoding = overrides.encoding.unwrap_or(text_encoding);
    }
    let open = || File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source });
    // Parquet and IPC: the header from the schema, then only the mapped columns are read.
    let columnar = |headers: Vec<String>, body: Body| Opened {
        path: path.to_path_buf(),
        format,
        encoding: "UTF-8",
        headers,
        body,
        decoded: None,
    };
    let projection_of = |keep: &[bool]| (0..keep.len()).filter(|&i| keep.get(i).copied().unwrap_or(false)).collect();
    let names = |schema: &ArrowSchema| schema.iter_names().map(|n| n.to_string()).collect::<Vec<_>>();
    match format {
        Format::Csv { delimiter } => {
            let decoded = (text_encoding != encoding_rs::UTF_8 || wrapped)
                .then(|| encoding::decode_copy(path, text_encoding, wrapped))
                .transpose()?;
            let headers = read_csv_header(decoded.as_ref().map_or(path, |d| &d.path), delimiter)
                .map_err(|e| e.with_path(path))?;
            let keep = select(&headers, format)?;
            Ok(Opened {
                path: path.to_path_buf(),
                format,
                encoding: match (text_encoding.name(), wrapped) {
                    (name, false) => name,
                    ("UTF-8", true) => "UTF-8, lines unwrapped",
                    ("UTF-16LE", true) => "UTF-16LE, lines unwrapped",
                    ("UTF-16BE", true) => "UTF-16BE, lines unwrapped",
                    (_, true) => "windows-1252, lines unwrapped",
                },
                headers,
                body: Body::Csv { delimiter, keep },
                decoded,
            })
        }
        Format::Parquet => {
            let mut reader = ParquetReader::new(open()?);
            let mut headers = None;
            let schema = match reader.schema() {
                Err(PolarsError::Duplicate(_)) => {
                    let file = parquet_names::file_schema(path)?;
                    headers = Some(file.names);
                    reader.set_metadata(Arc::new(file.metadata));
                    reader.schema()
                }
                read => read,
            }
            .map_err(polars_in(path, "cannot read Parquet"))?;
            let metadata = reader.get_metadata().map_err(polars_in(path, "cannot read Parquet"))?.clone();
            let headers = headers.unwrap_or_else(|| names(&schema));
            let keep = select(&headers, format)?;
            let projection: Vec<usize> = projection_of(&keep);
            check_time_zones(path, &schema, &projection)?;
            Ok(columnar(headers, Body::Parquet { projection, keep, metadata }))
        }
        Format::Ipc => {
            let file = ipc_names::file_schema(path)?;
            let headers = file.names.clone();
            let keep = select(&headers, format)?;
            let projection: Vec<usize> = projection_of(&keep);
            check_time_zones(path, &file.metadata.schema, &projection)?;
            // (polars' IpcReader would read the schema again, repeated names and all)
            let projected: ArrowSchema = projection
                .iter()
                .filter_map(|&i| file.metadata.schema.get_at_index(i))
                .map(|(_, f)| f.clone())
                .collect();
            let batches =
                polars_arrow::io::ipc::read::FileReader::new(open()?, file.metadata, Some(projection.clone()), None);
            let df = frame_of_batches(path, batches, &headers, &projection, "cannot read Arrow IPC")?
                .unwrap_or_else(|| DataFrame::empty_with_schema(&Schema::from_arrow_schema(&projected)));
            Ok(columnar(headers, Body::Frame { df, keep }))
        }
        Format::IpcStream => {
            use polars_arrow::io::ipc::read::{StreamReader, StreamState};
            let mut input = BufReader::new(open()?);
            let stream = ipc_names::stream_schema(path, &mut input)?;
            let headers = stream.names.clone();
            let keep = select(&headers, format)?;
            let projection: Vec<usize> = projection_of(&keep);
            check_time_zones(path, &stream.metadata.schema, &projection)?;
            let batches =
                StreamReader::new(input, stream.metadata, Some(projection.clone())).map_while(|state| match state {
                    Ok(StreamState::Some(batch)) => Some(Ok(batch)),
                    Ok(StreamState::Waiting) => None,
                    Err(e) => Some(Err(e)),
                });
            let df = frame_of_batches(path, batches, &headers, &projection, "cannot read the Arrow IPC stream")?
                .ok_or_else(|| {
                    Error::invalid(
                        path,
                        "is an Arrow IPC stream without any record batch",
                        "export it again with its data",
                    )
                })?;
            Ok(columnar(headers, Body::Frame { df, keep }))
        }
    }
}

/// One frame of the record batches polars-arrow reads (the columns of `projection`, named by
/// `headers`), `timestamp[s]` columns converted with [`seconds_as_millis`]; None without any.
fn frame_of_batches(
    path: &Path,
    batches: impl Iterator<
        Item = PolarsResult<polars_arrow::record_batch::RecordBatchT<Box<dyn polars_arrow::array::Array>>>,
    >,
    headers: &[String],
    projection: &[usize],
    what: &str,
) -> Result<Option<DataFrame>> {
    let cannot = || polars_in(path, what);
    let mut df: Option<DataFrame> = None;
    for batch in batches {
        let batch = batch.map_err(cannot())?;
        let height = batch.len();
        let columns = batch
            .into_arrays()
            .into_iter()
            .zip(projection)
            .map(|(array, &i)| {
                let name = headers.get(i).map_or("", String::as_str);
                let array = seconds_as_millis(&*array).unwrap_or(array);
                Series::try_from((PlSmallStr::from(name), array)).map(Column::from)
            })
            .collect::<PolarsResult<Vec<Column>>>()
            .map_err(cannot())?;
        let batch = DataFrame::new(height, columns).map_err(cannot())?;
        match &mut df {
            Some(df) => {
                df.vstack_mut_owned(batch).map_err(cannot())?;
            }
            None => df = Some(batch),
        }
    }
    Ok(df.map(|mut df| {
        df.rechunk_mut();
        df
    }))
}

/// An Arrow `timestamp[s]` array as `timestamp[ms]` in the same zone, each value multiplied by
/// 1000 saturating; None for any other array. Polars multiplies wrapping: ±2^62 seconds came
/// out as a time near 1970-01-01. Saturated, such a value is the farthest millisecond, which
/// validation rejects for its row as out of range (validate::columns::typed_timestamps), as it
/// rejects a stored time beyond the calendar in any other unit.
fn seconds_as_millis(array: &dyn polars_arrow::array::Array) -> Option<Box<dyn polars_arrow::array::Array>> {
    use polars_arrow::array::PrimitiveArray;
    let ArrowDataType::Timestamp(polars_arrow::datatypes::TimeUnit::Second, zone) = array.dtype() else {
        return None;
    };
    let seconds = array.as_any().downcast_ref::<PrimitiveArray<i64>>()?;
    let millis: Vec<i64> = seconds.values().iter().map(|s| s.saturating_mul(1000)).collect();
    let dtype = ArrowDataType::Timestamp(polars_arrow::datatypes::TimeUnit::Millisecond, zone.clone());
    Some(Box::new(PrimitiveArray::<i64>::new(dtype, millis.into(), seconds.validity().cloned())))
}

/// Timestamp columns must have no zone, UTC or an IANA zone name: polars cannot read a fixed
/// offset such as `+05:45` (reading an Arrow IPC file with one stops the process), so such a
/// column is refused by name before it is read.
fn check_time_zones(path: &Path, schema: &ArrowSchema, projection: &[usize]) -> Result<()> {
    for &i in projection {
        let Some((name, field)) = schema.get_at_index(i) else { continue };
        if let ArrowDataType::Timestamp(_, Some(tz)) = &field.dtype {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(Error::invalid(
                    path,
                    format!("column '{name}' holds timestamps in the time zone '{tz}', which cannot be read (UTC and IANA names such as Asia/Kathmandu can)"),
                    "write the timestamps in UTC or with an IANA zone name, or as text with their offsets (CSV)",
                ));
            }
        }
    }
    Ok(())
}

/// Read a (small) input file into one [`RawTable`].
pub fn read_table(path: &Path, select: &mut Select, overrides: TextOverrides) -> Result<RawTable> {
    let opened = open_table(path, select, overrides)?;
    match opened.body {
        Body::Frame { ref df, ref keep } => frame_table(&opened, df, keep, 0),
        Body::Parquet { ref projection, ref keep, ref metadata } => {
            let df = opened.read_parquet_rows(projection, metadata, None)?;
            frame_table(&opened, &df, keep, 0)
        }
        Body::Csv { delimiter, ref keep } => {
            let mut data = std::fs::read(opened.data_path())
                .map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
            if data.starts_with(b"\xEF\xBB\xBF") {
                data.drain(..3);
            }
            let lines = lines_of(&data);
            let block = parse_any_block(&opened, delimiter, keep, data, 1, true, Scratch::default()).0?;
            check_not_all_ragged(&opened, delimiter, block.table.rows_read, block.ragged)?;
            Ok(RawTable { file_lines: Some(lines), ..block.table })
        }
    }
}

/// Lines as an editor counts them, a last line without a line end included.
fn lines_of(text: &[u8]) -> u64 {
    count_line_ends(text) + u64::from(text.last().is_some_and(|b| !matches!(b, b'\r' | b'\n')))
}

impl Opened {
    /// Read the records in blocks, handing each block to `process` on every core; the results
    /// come back in file order. With `limit`, reading stops after about that many bytes.
    pub fn read_parts<T: Send>(
        &self,
        limit: Option<usize>,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
    ) -> Result<Parts<T>> {
        let mut parts = Vec::new();
        let tally = self.read_parts_into(limit, process, &mut |part| {
            parts.push(part);
            Ok(())
        })?;
        Ok(Parts { parts, rows_read: tally.rows_read, complete: tally.complete })
    }

    /// As [`Opened::read_parts`], but each result is handed to `consume` in file order as soon
    /// as it and every result before it are done, so that a large file's results need not all
    /// be held at once.
    pub fn read_parts_into<T: Send>(
        &self,
        limit: Option<usize>,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
        consume: &mut (dyn FnMut(T) -> Result<()> + Send),
    ) -> Result<ReadTally> {
        let keep = match &self.body {
            Body::Frame { df, keep } => return self.read_whole(df, keep, process, consume),
            Body::Parquet { projection, keep, metadata } if metadata.row_groups.is_empty() => {
                let df = self.read_parquet_rows(projection, metadata, None)?;
                return self.read_whole(&df, keep, process, consume);
            }
            Body::Parquet { keep, .. } | Body::Csv { keep, .. } => keep,
        };
        let workers = crate::cores::count();
        type Done<T> = (usize, Result<(T, u64, u64)>);
        let mut in_order = InOrder { next: 0, waiting: BTreeMap::new(), rows_read: 0, ragged: 0 };
        let stop = std::sync::atomic::AtomicBool::new(false);
        // At most a slice per worker waits: with the slices the workers hold and a Parquet run
        // being read, no more than three runs of row groups are in memory.
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(usize, Work)>(workers);
        // Held by the workers alone: when the last of them has stopped (at a panic too), the
        // reading's next send fails instead of waiting for ever.
        let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
        // Block buffers go back to the reader, and each worker keeps its parsing buffers: fresh
        // buffers for every block cost more in page faults than the parsing.
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut lines = None;
        let complete = std::thread::scope(|scope| -> Result<bool> {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<Done<T>>();
            // The same workers for the whole file: a Parquet file's runs of row groups were
            // each checked on threads of their own, and every new thread's allocations took
            // fresh pages from the system.
            let mut checking = Vec::with_capacity(workers);
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                let spare_tx = spare_tx.clone();
                let work_rx = Arc::clone(&work_rx);
                checking.push(scope.spawn(move || {
                    let mut scratch = Scratch::default();
                    loop {
                        let next = work_rx.lock().map_err(|_| ()).and_then(|rx| rx.recv().map_err(|_| ()));
                        let Ok((index, work)) = next else { break };
                        let result = match work {
                            Work::Block { bytes, first_line, delimiter } => {
                                let (parsed, spare) =
                                    parse_any_block(self, delimiter, keep, bytes, first_line, index == 0, scratch);
                                let _ = spare_tx.send(spare);
                                match parsed {
                                    Ok(b) => {
                                        let result = process(&b.table).map(|v| (v, b.table.rows_read, b.ragged));
                                        scratch = b.table.into_scratch();
                                        result
                                    }
                                    Err(e) => {
                                        scratch = Scratch::default();
                                        Err(e)
                                    }
                                }
                            }
                            Work::Rows { frame, first_row } => frame_table(self, &frame, keep, first_row)
                                .and_then(|table| process(&table).map(|v| (v, table.rows_read, 0))),
                        };
                        if done_tx.send((index, result)).is_err() {
                            break;
                        }
                    }
                }));
            }
            drop((done_tx, spare_tx, work_rx));
            // The results are handed on in file order on a thread of their own, so that reading
            // never waits for them: handing a block on (copying it into the ticket table) took
            // longer than reading it, and the workers waited for blocks meanwhile. Measured at
            // 10M tickets (`metrics`, 7 alternating runs, twice): median 6.84 -> 6.16 s and
            // 7.38 -> 6.60 s; at 1M no change.
            let stop = &stop;
            let in_order = &mut in_order;
            let handing_on = scope.spawn(move || {
                let mut outcome = Ok(());
                for done in done_rx {
                    if outcome.is_ok() {
                        outcome = in_order.arrive(done, consume);
                        if outcome.is_err() {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                outcome
            });
            // This thread reads while the workers check what it read.
            let reading = match &self.body {
                Body::Csv { delimiter, .. } => {
                    self.feed_csv_blocks(*delimiter, limit, &work_tx, stop, spare_rx, &mut lines)
                }
                Body::Parquet { projection, metadata, .. } => {
                    self.feed_parquet_runs(projection, metadata, limit, &work_tx, stop)
                }
                // (read whole above)
                Body::Frame { .. } => Ok(true),
            };
            // The workers finish what they hold, then the handing on ends.
            drop(work_tx);
            // A worker that panicked left its rows unread: an internal error, not a partial table.
            // (every worker joined, none left for the scope to raise its panic again)
            let mut panicked = false;
            for worker in checking {
                panicked |= worker.join().is_err();
            }
            let handed_on = handing_on.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if panicked {
                return Err(Error::Internal(format!("checking {} failed", self.path.display())));
            }
            // a problem in the rows handed on comes before one in reading further
            handed_on.and(reading)
        })?;
        if !in_order.waiting.is_empty() {
            return Err(Error::Internal(format!("a block of {} was never read", self.path.display())));
        }
        if let (true, Body::Csv { delimiter, .. }) = (complete, &self.body) {
            check_not_all_ragged(self, *delimiter, in_order.rows_read, in_order.ragged)?;
        }
        Ok(ReadTally { rows_read: in_order.rows_read, complete, lines: lines.filter(|_| complete) })
    }

    /// CSV: blocks cut after a record, in order, to the workers. Returns whether the whole file
    /// was read.
    fn feed_csv_blocks(
        &self,
        delimiter: u8,
        limit: Option<usize>,
        work: &std::sync::mpsc::SyncSender<(usize, Work)>,
        stop: &std::sync::atomic::AtomicBool,
        spare: std::sync::mpsc::Receiver<Vec<u8>>,
        lines: &mut Option<u64>,
    ) -> Result<bool> {
        let unreadable = |source| Error::Unreadable { path: self.path.to_path_buf(), source };
        let mut file = File::open(self.data_path()).map_err(unreadable)?;
        let mut reader = BlockReader::new(&mut file, delimiter, spare);
        let (mut line, mut read, mut index) = (1u64, 0usize, 0usize);
        let mut unended = false;
        loop {
            // a problem in a block handed on stops the reading
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(true);
            }
            if limit.is_some_and(|l| read >= l) {
                return Ok(reader.at_end());
            }
            match reader.next_block() {
                Ok(Some(bytes)) => {
                    read += bytes.len();
                    let ends = count_line_ends(&bytes);
                    unended = bytes.last().is_some_and(|b| !matches!(b, b'\r' | b'\n'));
                    if work.send((index, Work::Block { bytes, first_line: line, delimiter })).is_err() {
                        return Ok(true);
                    }
                    line += ends;
                    index += 1;
                }
                Ok(None) => {
                    // (a last line without a line end is a line too)
                    *lines = Some(line - 1 + u64::from(unended));
                    return Ok(true);
                }
                Err(e) => return Err(unreadable(e)),
            }
        }
    }

    /// Parquet: runs of whole row groups of at least a slice per core, each read (decoded on
    /// every core) and handed to the workers in slices that stay within one row group (a slice
    /// across two was copied into one piece first), while the next run is read. Returns whether
    /// the whole file was read.
    fn feed_parquet_runs(
        &self,
        projection: &[usize],
        metadata: &Arc<FileMetadata>,
        limit: Option<usize>,
        work: &std::sync::mpsc::SyncSender<(usize, Work)>,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<bool> {
        let run_rows = frame_rows() * crate::cores::count();
        // A byte limit (the first blocks of a CSV file) as rows.
        let row_limit = limit.map(|bytes| (bytes / BYTES_PER_TICKET).max(1));
        let (mut start, mut len, mut index) = (0usize, 0usize, 0usize);
        let groups = metadata.row_groups.len();
        for (i, group) in metadata.row_groups.iter().enumerate() {
            len += group.num_rows();
            if len < run_rows && i + 1 < groups {
                continue;
            }
            // a problem in the rows handed on stops the reading
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let df = self.read_parquet_rows(projection, metadata, Some((start, len)))?;
            for (offset, rows) in slices_within_pieces(&df, frame_rows()) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let frame = df.slice(offset as i64, rows);
                if work.send((index, Work::Rows { frame, first_row: start + offset })).is_err() {
                    return Ok(false);
                }
                index += 1;
            }
            start += len;
            len = 0;
            if row_limit.is_some_and(|l| start >= l) {
                break;
            }
        }
        Ok(start >= metadata.num_rows)
    }
}

/// What the reading hands a worker.
enum Work {
    /// CSV: a block of complete records, the line it starts on, the file's delimiter
    Block { bytes: Vec<u8>, first_line: u64, delimiter: u8 },
    /// Parquet: a slice of a run of row groups, and the row of the file it starts at
    Rows { frame: DataFrame, first_row: usize },
}

/// (offset, length) of slices of `df` of at most `most` rows where its pieces (the row groups
/// it was read from: the pieces of its first column) allow: a piece larger than `most` is cut
/// into even slices of its own, so that no slice of a large row group is copied together from
/// two; smaller pieces side by side go into one slice up to `most` rows (a file of small row
/// groups would otherwise be checked in thousands of tiny slices).
fn slices_within_pieces(df: &DataFrame, most: usize) -> Vec<(usize, usize)> {
    let most = most.max(1);
    let pieces: Vec<usize> = match df.columns().first() {
        Some(column) => column.as_materialized_series().chunk_lengths().collect(),
        None => vec![df.height()],
    };
    let mut slices = Vec::new();
    // small pieces gathered so far: (offset, rows)
    let mut gathered = (0usize, 0usize);
    let mut offset = 0;
    for piece in pieces {
        if gathered.1 + piece > most && gathered.1 > 0 {
            slices.push(gathered);
            gathered = (offset, 0);
        }
        if piece > most {
            let rows = piece.div_ceil(piece.div_ceil(most));
            let mut done = 0;
            while done < piece {
                let len = rows.min(piece - done);
                slices.push((offset + done, len));
                done += len;
            }
            gathered = (offset + piece, 0);
        } else {
            if gathered.1 == 0 {
                gathered.0 = offset;
            }
            gathered.1 += piece;
        }
        offset += piece;
    }
    if gathered.1 > 0 {
        slices.push(gathered);
    }
    slices
}

/// Results of blocks that came back out of order, kept until the ones before them are in.
struct InOrder<T> {
    next: usize,
    waiting: BTreeMap<usize, Result<(T, u64, u64)>>,
    rows_read: u64,
    ragged: u64,
}

impl<T> InOrder<T> {
    /// Take one block's result, and hand on every result that is now next in file order; the
    /// first problem in file order stops it.
    fn arrive(
        &mut self,
        (index, result): (usize, Result<(T, u64, u64)>),
        consume: &mut dyn FnMut(T) -> Result<()>,
    ) -> Result<()> {
        self.waiting.insert(index, result);
        while let Some(result) = self.waiting.remove(&self.next) {
            let (part, rows, ragged) = result?;
            self.rows_read += rows;
            self.ragged += ragged;
            self.next += 1;
            consume(part)?;
        }
        Ok(())
    }
}

fn check_not_all_ragged(opened: &Opened, delimiter: u8, rows_read: u64, ragged: u64) -> Result<()> {
    if rows_read > 0 && ragged == rows_read {
        return Err(Error::invalid(
            &opened.path,
            format!(
                "every data row has a different number of fields than the header ({} fields split by '{}')",
                opened.headers.len(),
                delimiter_name(delimiter)
            ),
            "the delimiter of the header and of the rows differ, or the export is broken; export it again",
        ));
    }
    Ok(())
}

/// Reads a file in blocks that end after a complete record (a newline outside quotes).
struct BlockReader<'f> {
    file: &'f mut File,
    delimiter: u8,
    carry: Vec<u8>,
    eof: bool,
    started: bool,
    /// buffers of blocks the workers are done with
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'f> BlockReader<'f> {
    fn new(file: &'f mut File, delimiter: u8, spare: std::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        BlockReader { file, delimiter, carry: Vec::new(), eof: false, started: false, spare }
    }

    fn at_end(&self) -> bool {
        self.eof && self.carry.is_empty()
    }

    fn buffer(&self) -> Vec<u8> {
        let mut b = self.spare.try_recv().unwrap_or_default();
        b.clear();
        b
    }

    fn next_block(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.carry);
        if buf.capacity() == 0 {
            buf = self.buffer();
        }
        let mut want = block_bytes();
        loop {
            while buf.len() < want && !self.eof {
                let missing = want - buf.len();
                buf.reserve(missing);
                let n = (&mut *self.file).take(missing as u64).read_to_end(&mut buf)?;
                self.eof = n < missing;
            }
            if !self.started {
                self.started = true;
                if buf.starts_with(b"\xEF\xBB\xBF") {
                    buf.drain(..3);
                }
            }
            if self.eof {
                return Ok((!buf.is_empty()).then_some(buf));
            }
            if let Some(end) = block_end(&buf, self.delimiter) {
                let mut rest = self.buffer();
                rest.extend_from_slice(buf.get(end..).unwrap_or_default());
                buf.truncate(end);
                self.carry = rest;
                return Ok(Some(buf));
            }
            // One record longer than a block: read more.
            want = buf.len() * 2;
        }
    }
}

fn read_csv_header(path: &Path, delimiter: u8) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let head = input.fill_buf().map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let mut record = csv::ByteRecord::new();
    let found = rdr.read_byte_record(&mut record).map_err(|e| csv_error(path, e, 0))?;
    if !found {
        return Err(Error::invalid(path, "is empty", "export it again with a header row and data"));
    }
    Ok(record.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect())
}

fn csv_error(path: &Path, e: csv::Error, line_offset: u64) -> Error {
    let line = e.position().map(|p| p.line() + line_offset).unwrap_or(0);
    Error::InvalidAt { path: path.to_path_buf(), line, problem: format!("cannot read CSV: {e}"), fix: None }
}

/// Buffers a worker reuses from block to block.
#[derive(Default)]
struct Scratch {
    arena: String,
    spare_spans: Vec<Vec<(u32, u32)>>,
}

impl RawTable {
    /// The buffers of a parsed block, for the next block.
    fn into_scratch(self) -> Scratch {
        let spare_spans = self
            .columns
            .into_iter()
            .filter_map(|c| match c {
                RawColumn::Spans(v) => Some(v),
                _ => None,
            })
            .collect();
        Scratch { arena: self.arena, spare_spans }
    }
}

struct Block {
    table: RawTable,
    /// records of `table.rows_read` with the wrong number of fields
    ragged: u64,
}

/// Parse one block of records (starting at `first_line` of the file): a block without quotes
/// by [`parse_plain_block`], any other by [`parse_block`]. Returns the result and a buffer for
/// the reader's next block (the block, or the arena the plain block took the place of).
fn parse_any_block(
    opened: &Opened,
    delimiter: u8,
    keep: &[bool],
    block: Vec<u8>,
    first_line: u64,
    has_header: bool,
    scratch: Scratch,
) -> (Result<Block>, Vec<u8>) {
    // (the csv reader also drops a byte-order mark at the start of a block: such a block, rare
    // after the one the block reader drops, takes the csv reader)
    let plain = memchr::memchr(b'"', &block).is_none()
        && memchr::memchr_iter(b'\r', &block).all(|i| block.get(i + 1) == Some(&b'\n'))
        && !block.starts_with(b"\xEF\xBB\xBF");
    let block = if plain {
        match String::from_utf8(block) {
            Ok(text) => {
                let Scratch { arena, spare_spans } = scratch;
                let parsed = parse_plain_block(opened, delimiter, keep, text, first_line, has_header, spare_spans);
                return (parsed, arena.into_bytes());
            }
            Err(not_utf8) => not_utf8.into_bytes(),
        }
    } else {
        block
    };
    (parse_block(opened, delimiter, keep, &block, first_line, has_header, scratch), block)
}

/// The spans of the kept columns, each in a spare buffer of the worker's.
fn span_columns(keep: &[bool], width: usize, spare_spans: &mut Vec<Vec<(u32, u32)>>) -> Vec<Option<Vec<(u32, u32)>>> {
    (0..width)
        .map(|i| {
            keep.get(i).copied().unwrap_or(false).then(|| {
                let mut v = spare_spans.pop().unwrap_or_default();
                v.clear();
                v
            })
        })
        .collect()
}

/// A ragged record as a reject: its fields as read, and how many there were.
fn ragged_reject(opened: &Opened, delimiter: u8, line: u64, fields: &[std::borrow::Cow<str>]) -> Reject {
    let reason = format!("row has {} fields but the header has {}", fields.len(), opened.headers.len());
    Reject::new(opened.path.display().to_string(), line, "", &fields.join(delimiter_name(delimiter)), &reason)
}

/// Parse a block of UTF-8 text without quotes, as [`parse_block`] would: every record is one
/// line (a carriage return only ends one before its newline) and every field the text between
/// delimiters, so the block is the arena as it is. One scan for delimiters and newlines, where
/// the CSV reader's state machine took a sixth of the reading time at 10M tickets.
fn parse_plain_block(
    opened: &Opened,
    delimiter: u8,
    keep: &[bool],
    text: String,
    first_line: u64,
    has_header: bool,
    mut spare_spans: Vec<Vec<(u32, u32)>>,
) -> Result<Block> {
    let path = &opened.path;
    let width = opened.headers.len();
    if text.len() > u32::MAX as usize {
        return Err(Error::InvalidAt {
            path: path.to_path_buf(),
            line: first_line,
            problem: "a block of records is larger than 4 GiB".into(),
            fix: Some("check that the file's lines end in newlines".into()),
        });
    }
    let mut spans = span_columns(keep, width, &mut spare_spans);
    let mut lines = LineMap::new(first_line + u64::from(has_header));
    let mut rejects = Vec::new();
    let (mut rows_read, mut kept, mut ragged) = (0u64, 0u64, 0u64);
    let bytes = text.as_bytes();
    let (mut line, mut header) = (first_line, has_header);
    let mut fields: Vec<(u32, u32)> = Vec::with_capacity(width);
    let mut start = 0usize;
    for at in Hits::new(bytes, delimiter, b'\n').chain(std::iter::once(bytes.len())) {
        if bytes.get(at) == Some(&delimiter) {
            fields.push((start as u32, at as u32));
            start = at + 1;
            continue;
        }
        // the end of a line, or of the block (where nothing is left after a last newline)
        if at == bytes.len() && start == at && fields.is_empty() {
            break;
        }
        let end = if at > start && bytes.get(at - 1) == Some(&b'\r') { at - 1 } else { at };
        fields.push((start as u32, end as u32));
        start = at + 1;
        let record_line = line;
        line += 1;
        // blank lines are no records (the header is the first line that is not blank)
        let blank = fields.len() == 1 && fields.first().is_some_and(|f| f.0 == f.1);
        if blank || std::mem::take(&mut header) {
            fields.clear();
            continue;
        }
        rows_read += 1;
        if fields.len() != width {
            ragged += 1;
            let values: Vec<std::borrow::Cow<str>> =
                fields.iter().map(|&(s, e)| text.get(s as usize..e as usize).unwrap_or_default().into()).collect();
            rejects.push(ragged_reject(opened, delimiter, record_line, &values));
            fields.clear();
            continue;
        }
        lines.record(kept, record_line);
        kept += 1;
        for (column, field) in spans.iter_mut().zip(&fields) {
            if let Some(column) = column {
                column.push(*field);
            }
        }
        fields.clear();
    }
    Ok(spans_block(opened, spans, text, lines, (rows_read, kept as usize, ragged), rejects))
}

/// A parsed block: its kept columns as spans of `arena`; `counts` are the records read, the
/// rows kept and the ragged records.
fn spans_block(
    opened: &Opened,
    spans: Vec<Option<Vec<(u32, u32)>>>,
    arena: String,
    lines: LineMap,
    (rows_read, rows, ragged): (u64, usize, u64),
    rejects: Vec<Reject>,
) -> Block {
    let columns = spans.into_iter().map(|s| s.map_or(RawColumn::Skipped, RawColumn::Spans)).collect::<Vec<RawColumn>>();
    Block {
        table: RawTable {
            path: opened.path.clone(),
            format: opened.format,
            encoding: opened.encoding,
            headers: opened.headers.clone(),
            columns,
            arena,
            rows,
            lines,
            rows_read,
            file_lines: None,
            rejects,
        },
        ragged,
    }
}

/// The positions of two bytes in a text, in order, found sixteen bytes at a time (SSE2, which
/// every x86_64 processor has), else eight at a time. Delimiters come every few bytes in an
/// export: `memchr2` restarts its vector loop at each and took more time than the CSV reader it
/// replaced.
struct Hits<'a> {
    bytes: &'a [u8],
    a: u8,
    b: u8,
    /// where the next word starts
    next: usize,
    /// where the current word starts, and a bit for each of its bytes that matched (the lowest
    /// of `1 << shift` bits per byte)
    base: usize,
    mask: u64,
    shift: u32,
}

impl<'a> Hits<'a> {
    fn new(bytes: &'a [u8], a: u8, b: u8) -> Self {
        Hits { bytes, a, b, next: 0, base: 0, mask: 0, shift: 0 }
    }

    /// The high bit of every zero byte of `v`, exactly (no carry between bytes).
    fn zero_bytes(v: u64) -> u64 {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        !(((v & LOW7) + LOW7) | v | LOW7)
    }

    /// The matches in the (up to) eight bytes of `rest`: the high bit of each matching byte.
    fn word_mask(&self, rest: &[u8]) -> u64 {
        let mut word = [0u8; 8];
        let n = rest.len().min(8);
        for (w, b) in word.iter_mut().zip(rest) {
            *w = *b;
        }
        let word = u64::from_le_bytes(word);
        let valid = if n == 8 { u64::MAX } else { (1u64 << (n * 8)) - 1 };
        let splat = |x: u8| u64::from_ne_bytes([x; 8]);
        (Self::zero_bytes(word ^ splat(self.a)) | Self::zero_bytes(word ^ splat(self.b))) & valid
    }

    /// The matches in sixteen bytes: one bit per byte.
    #[cfg(target_arch = "x86_64")]
    fn sixteen_mask(&self, chunk: &[u8; 16]) -> u64 {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
        // SAFETY: SSE2 is part of x86_64; the unaligned load reads exactly the 16 bytes of `chunk`.
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let a = _mm_cmpeq_epi8(v, _mm_set1_epi8(self.a as i8));
            let b = _mm_cmpeq_epi8(v, _mm_set1_epi8(self.b as i8));
            _mm_movemask_epi8(_mm_or_si128(a, b))
        };
        u64::from(bits as u32 & 0xffff)
    }
}

impl Iterator for Hits<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let start = self.next;
            let rest = self.bytes.get(start..).filter(|r| !r.is_empty())?;
            self.base = start;
            #[cfg(target_arch = "x86_64")]
            if let Some(chunk) = rest.first_chunk::<16>() {
                self.mask = self.sixteen_mask(chunk);
                self.shift = 0;
                self.next = start + 16;
                continue;
            }
            self.mask = self.word_mask(rest);
            self.shift = 3;
            self.next = start + 8;
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + (bit >> self.shift))
    }
}

/// Parse one block of records (starting at `first_line` of the file) into a [`RawTable`]: the
/// kept fields go into one arena, the others are skipped; ragged and non-UTF-8 records become
/// rejects with their line.
fn parse_block(
    opened: &Opened,
    delimiter: u8,
    keep: &[bool],
    block: &[u8],
    first_line: u64,
    has_header: bool,
    scratch: Scratch,
) -> Result<Block> {
    let path = &opened.path;
    let width = opened.headers.len();
    let Scratch { mut arena, mut spare_spans } = scratch;
    arena.clear();
    let mut spans = span_columns(keep, width, &mut spare_spans);
    let mut lines = LineMap::new(first_line + u64::from(has_header));
    let mut rejects = Vec::new();
    let (mut rows_read, mut kept, mut ragged) = (0u64, 0u64, 0u64);
    let display = path.display().to_string();
    let mut record = csv::ByteRecord::new();
    // A quote that opens a field and never closes where it should makes the CSV reader take
    // in every line after it (to the next quote, or the end of the file) as one record. Such
    // a record has the wrong number of fields and more than one line: its first line alone is
    // rejected and the reader starts again at the line after it, in a new segment.
    let (mut segment, mut segment_line, mut header) = (0usize, first_line, has_header);
    'segments: loop {
        let text_of_segment = block.get(segment..).unwrap_or_default();
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text_of_segment);
        let offset = segment_line - 1;
        if std::mem::take(&mut header) {
            rdr.read_byte_record(&mut record).map_err(|e| csv_error(path, e, offset))?;
        }
        let mut counter = LineCounter::new(text_of_segment, segment_line);
        while rdr.read_byte_record(&mut record).map_err(|e| csv_error(path, e, offset))? {
            let line = counter.record_line(&record);
            // A blank line between records is not a row.
            if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                continue;
            }
            rows_read += 1;
            // A record of several lines is a quote run away when it has the wrong number of
            // fields, or when a line inside it has as many delimiters as a whole record.
            let several_lines = memchr::memchr2(b'\n', b'\r', record.as_slice()).is_some();
            if several_lines || record.len() != width {
                let start = counter.at();
                let end = (rdr.position().byte() as usize).clamp(start, text_of_segment.len());
                let taken = text_of_segment.get(start..end).unwrap_or_default();
                let runaway = first_line_of_several(taken)
                    .filter(|first| record.len() != width || holds_whole_records(first.record, delimiter, width));
                if let Some(first) = runaway {
                    if record.len() != width {
                        ragged += 1;
                    }
                    let last = line + count_line_ends(first.record);
                    let value = String::from_utf8_lossy(taken.get(..first.content).unwrap_or_default());
                    let reason = format!(
                        "a quote opened on this line does not close where a record of {width} fields would end (the \
                         record would run on to line {last}); this line alone is rejected and reading goes on at line {}",
                        line + 1
                    );
                    rejects.push(Reject::new(display.clone(), line, "", &value, &reason));
                    segment += start + first.next;
                    segment_line = line + 1;
                    continue 'segments;
                }
            }
            if record.len() != width {
                ragged += 1;
                let fields: Vec<std::borrow::Cow<str>> = record.iter().map(String::from_utf8_lossy).collect();
                rejects.push(ragged_reject(opened, delimiter, line, &fields));
                continue;
            }
            // One UTF-8 check for the whole record; a field boundary inside a character would
            // make a field invalid on its own, so those are checked too.
            let text = std::str::from_utf8(record.as_slice())
                .ok()
                .filter(|t| (0..record.len()).all(|i| record.range(i).is_some_and(|r| t.is_char_boundary(r.start))));
            let Some(text) = text else {
                let bad = record.iter().position(|f| std::str::from_utf8(f).is_err()).unwrap_or(0);
                let column = opened.headers.get(bad).map_or("", String::as_str);
                let value = String::from_utf8_lossy(record.get(bad).unwrap_or_default());
                rejects.push(Reject::new(display.clone(), line, column, &value, "value is not valid UTF-8"));
                continue;
            };
            lines.record(kept, line);
            kept += 1;
            let base = arena.len();
            if base + text.len() > u32::MAX as usize {
                return Err(Error::InvalidAt {
                    path: path.to_path_buf(),
                    line,
                    problem: "a block of records is larger than 4 GiB".into(),
                    fix: Some("check that the file's quotes are balanced".into()),
                });
            }
            arena.push_str(text);
            for (i, column) in spans.iter_mut().enumerate() {
                if let (Some(column), Some(r)) = (column, record.range(i)) {
                    column.push(((base + r.start) as u32, (base + r.end) as u32));
                }
            }
        }
        break;
    }
    Ok(spans_block(opened, spans, arena, lines, (rows_read, kept as usize, ragged), rejects))
}

/// The first line of a record's text that has more lines than one (a line end before its
/// own): `content` is where the line's text ends, `next` where the line after it starts and
/// `record` the record's text without its line end.
struct FirstLine<'t> {
    content: usize,
    next: usize,
    record: &'t [u8],
}

/// Whether a line strictly inside a record's text (neither its first nor its last) has the
/// delimiters of a whole record: a quoted text of several lines rarely does, the records a
/// stray quote took in always do.
fn holds_whole_records(record: &[u8], delimiter: u8, width: usize) -> bool {
    let mut lines = record.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty());
    lines.next();
    let inner: Vec<&[u8]> = lines.collect();
    let Some((_, middle)) = inner.split_last() else { return false };
    width > 1 && middle.iter().any(|l| memchr::memchr_iter(delimiter, l).count() + 1 >= width)
}

fn first_line_of_several(taken: &[u8]) -> Option<FirstLine<'_>> {
    let record = taken.strip_suffix(b"\n").unwrap_or(taken);
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    let at = memchr::memchr2(b'\n', b'\r', record)?;
    let next = if record.get(at) == Some(&b'\r') && record.get(at + 1) == Some(&b'\n') { at + 2 } else { at + 1 };
    Some(FirstLine { content: at, next, record })
}

/// Rows of a Parquet/IPC input per part: typed columns hold no text to keep in cache, and
/// fewer parts are cheaper to put together than a CSV file's blocks.
fn frame_rows() -> usize {
    block_bytes_set().map_or(100_000, |b| (b / BYTES_PER_TICKET).max(1))
}

impl Opened {
    /// Rows `rows` (offset, length; all when None) of the mapped columns of a Parquet file.
    fn read_parquet_rows(
        &self,
        projection: &[usize],
        metadata: &Arc<FileMetadata>,
        rows: Option<(usize, usize)>,
    ) -> Result<DataFrame> {
        let file = File::open(&self.path).map_err(|source| Error::Unreadable { path: self.path.clone(), source })?;
        let mut reader = ParquetReader::new(file).with_projection(Some(projection.to_vec())).with_slice(rows);
        reader.set_metadata(metadata.clone());
        reader.finish().map_err(polars_in(&self.path, "cannot read Parquet"))
    }

    /// A frame held whole (Arrow IPC, a Parquet file without row groups): processed as
    /// [`Opened::process_frame`] does, each result handed to `consume` in row order.
    fn read_whole<T: Send>(
        &self,
        df: &DataFrame,
        keep: &[bool],
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
        consume: &mut (dyn FnMut(T) -> Result<()> + Send),
    ) -> Result<ReadTally> {
        for part in self.process_frame(df, keep, 0, process)? {
            consume(part)?;
        }
        Ok(ReadTally { rows_read: df.height() as u64, complete: true, lines: None })
    }

    /// A Parquet/IPC frame (whose first row is row `first_row` of the file) in slices, each
    /// processed on every core; the results in row order.
    fn process_frame<T: Send>(
        &self,
        df: &DataFrame,
        keep: &[bool],
        first_row: usize,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
    ) -> Result<Vec<T>> {
        let path = &self.path;
        // Slices of at most `frame_rows`, as many as a multiple of the cores: a run of two row
        // groups of 122,880 rows was cut into 100,000 + 100,000 + 45,760 rows, and one core
        // checked 145,760 of them while the other checked 100,000.
        let cores = crate::cores::count();
        let slices = df.height().div_ceil(frame_rows()).max(1).next_multiple_of(cores);
        let rows = df.height().div_ceil(slices).max(1);
        let slices = df.height().div_ceil(rows).max(1);
        let workers = cores.min(slices);
        let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    scope.spawn(move || {
                        (w..slices)
                            .step_by(workers)
                            .map(|k| {
                                let part = df.slice((k * rows) as i64, rows);
                                (k, frame_table(self, &part, keep, first_row + k * rows).and_then(|t| process(&t)))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut done = Vec::with_capacity(slices);
            for h in handles {
                // A part that never came back would be rows lost without a word.
                done.extend(h.join().map_err(|_| Error::Internal(format!("reading {} failed", path.display())))?);
            }
            Ok::<_, Error>(done)
        })?;
        done.sort_by_key(|d| d.0);
        done.into_iter().map(|(_, r)| r).collect::<Result<Vec<T>>>()
    }
}

/// A slice of a Parquet/IPC frame (the mapped columns, in header order) as a [`RawTable`]
/// whose rows are numbered from `first_row` + 1.
fn frame_table(opened: &Opened, df: &DataFrame, keep: &[bool], first_row: usize) -> Result<RawTable> {
    let path = &opened.path;
    let mut read = df.columns().iter();
    let mut columns = Vec::with_capacity(opened.headers.len());
    for (i, header) in opened.headers.iter().enumerate() {
        if !keep.get(i).copied().unwrap_or(false) {
            columns.push(RawColumn::Skipped);
            continue;
        }
        let col = read.next().ok_or_else(|| Error::Internal(format!("column '{header}' was not read")))?;
        if keeps_its_type(col.dtype()) {
            let column = col.as_materialized_series().rechunk();
            columns.push(RawColumn::Typed { column, text: std::sync::OnceLock::new() });
            continue;
        }
        let s = col
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(polars_in(path, &format!("column '{header}' cannot be read as text")))?;
        let ca = s.str().map_err(polars_in(path, "column is not text"))?.rechunk().into_owned();
        columns.push(RawColumn::Text(ca));
    }
    let rows = df.height();
    Ok(RawTable {
        path: path.to_path_buf(),
        format: opened.format,
        encoding: opened.encoding,
        headers: opened.headers.clone(),
        columns,
        arena: String::new(),
        lines: LineMap::new(first_row as u64 + 1),
        rows,
        rows_read: rows as u64,
        file_lines: None,
        rejects: Vec::new(),
    })
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
    fn parquet_slices_stay_within_row_groups_and_cover_every_row() {
        // a frame read from row groups of 7, 3 and 12 rows
        let piece = |range: std::ops::Range<i64>| {
            let values: Vec<i64> = range.collect();
            DataFrame::new(values.len(), vec![Column::new("x".into(), values)]).unwrap()
        };
        let mut df = piece(0..7);
        df.vstack_mut(&piece(7..10)).unwrap();
        df.vstack_mut(&piece(10..22)).unwrap();
        assert_eq!(df.first_col_n_chunks(), 3);
        let slices = slices_within_pieces(&df, 5);
        // 7 → 4 + 3, 3 → 3, 12 → 4 + 4 + 4: none across a row group, none above 5 rows
        assert_eq!(slices, vec![(0, 4), (4, 3), (7, 3), (10, 4), (14, 4), (18, 4)]);
        for (offset, len) in slices {
            assert_eq!(df.slice(offset as i64, len).first_col_n_chunks(), 1);
        }
        assert_eq!(slices_within_pieces(&piece(0..0), 5), vec![]);
        // small row groups side by side go together up to the most rows, a large one alone
        let mut small = piece(0..2);
        for range in [2..4, 4..5, 5..7, 7..19, 19..21] {
            small.vstack_mut(&piece(range)).unwrap();
        }
        assert_eq!(slices_within_pieces(&small, 5), vec![(0, 5), (5, 2), (7, 4), (11, 4), (15, 4), (19, 2)]);
    }

    /// Quote-free text read by the plain scan and by the CSV reader gives the same table:
    /// values, lines, ragged rows and their rejects, blank lines, CRLF, a last line without a
    /// newline, text that is not ASCII.
    #[test]
    fn plain_blocks_read_as_the_csv_reader_reads_them() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let texts = ["a", "b c", "", " ", "é", "1", "x-y", "Ünïcode", "12:30"];
        for case in 0..400 {
            let delimiter = [b',', b';', b'\t'][case % 3];
            let width = rng.random_range(1..5usize);
            let crlf = rng.random_bool(0.3);
            let mut text = String::new();
            let lines = rng.random_range(0..12);
            for l in 0..=lines {
                let fields = match rng.random_range(0..10) {
                    0 => 0,
                    1 => width + 1,
                    2 => width.saturating_sub(1).max(1),
                    _ => width,
                };
                let record: Vec<&str> = (0..fields).map(|_| texts[rng.random_range(0..texts.len())]).collect();
                text.push_str(&record.join(&char::from(delimiter).to_string()));
                if l < lines || rng.random_bool(0.5) {
                    text.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            let keep: Vec<bool> = (0..width).map(|_| rng.random_bool(0.8)).collect();
            let opened = Opened {
                path: PathBuf::from("t.csv"),
                format: Format::Csv { delimiter },
                encoding: "UTF-8",
                headers: (0..width).map(|i| format!("c{i}")).collect(),
                body: Body::Csv { delimiter, keep: keep.clone() },
                decoded: None,
            };
            let has_header = case % 2 == 0;
            let by_reader = parse_block(&opened, delimiter, &keep, text.as_bytes(), 3, has_header, Scratch::default());
            let plain = parse_plain_block(&opened, delimiter, &keep, text.clone(), 3, has_header, Vec::new());
            let (a, b) = (by_reader.unwrap(), plain.unwrap());
            let summary = |b: &Block| {
                let t = &b.table;
                let values: Vec<Option<Vec<Option<String>>>> =
                    (0..width).map(|c| t.values(c).map(|v| v.map(|x| x.map(str::to_string)).collect())).collect();
                let lines: Vec<u64> = (0..t.rows as u64).map(|i| t.lines.line(i)).collect();
                let rejects: Vec<(u64, String, String)> =
                    t.rejects.iter().map(|r| (r.line, r.value.clone(), r.reason.clone())).collect();
                (t.rows, t.rows_read, b.ragged, values, lines, rejects)
            };
            assert_eq!(summary(&a), summary(&b), "case {case}: {text:?}");
        }
        // a block that starts with a byte-order mark (then a blank line, then the header): the
        // csv reader drops the mark, so such a block is not read as plain text
        let opened = Opened {
            path: PathBuf::from("t.csv"),
            format: Format::Csv { delimiter: b',' },
            encoding: "UTF-8",
            headers: vec!["c0".into()],
            body: Body::Csv { delimiter: b',', keep: vec![true] },
            decoded: None,
        };
        let text = "\u{feff}\nc0\nv\n";
        let any = parse_any_block(&opened, b',', &[true], text.as_bytes().to_vec(), 1, true, Scratch::default());
        let table = any.0.unwrap().table;
        assert_eq!((table.rows, table.values(0).unwrap().collect::<Vec<_>>()), (1, vec![Some("v")]));
    }

    proptest::proptest! {
        /// Whatever the bytes of a block (fields, quotes that close and quotes that never do,
        /// escaped quotes, CRLF, blank lines, bytes that are not UTF-8), through either reader
        /// (parse_block, and parse_any_block, which takes the plain scan when it can): every
        /// record read is kept or rejected, never both, never lost; each starts on a line of its
        /// own within the block, in order; and without quotes every line that is neither blank
        /// nor the header is a record.
        #[test]
        fn every_line_of_a_block_is_accounted_for(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"a"[..], &b"bc"[..], &b","[..], &b"\""[..], &b"\"\""[..], &b"\n"[..], &b"\r\n"[..],
                    &b" "[..], "é".as_bytes(), &b"\xff"[..],
                ]),
                0..200,
            ),
            width in 1usize..5,
            has_header in proptest::bool::ANY,
        ) {
            let data: Vec<u8> = pieces.concat();
            let keep = vec![true; width];
            let opened = Opened {
                path: PathBuf::from("t.csv"),
                format: Format::Csv { delimiter: b',' },
                encoding: "UTF-8",
                headers: (0..width).map(|i| format!("c{i}")).collect(),
                body: Body::Csv { delimiter: b',', keep: keep.clone() },
                decoded: None,
            };
            // an editor's count: every line end, and a last line without one
            let lines_in_block = count_line_ends(&data) + u64::from(!data.is_empty() && !data.ends_with(b"\n"));
            let by_reader = parse_block(&opened, b',', &keep, &data, 1, has_header, Scratch::default());
            let any = parse_any_block(&opened, b',', &keep, data.clone(), 1, has_header, Scratch::default()).0;
            for (reader, block) in [("parse_block", by_reader), ("parse_any_block", any)] {
                let t = block.unwrap().table;
                proptest::prop_assert_eq!(t.rows_read, t.rows as u64 + t.rejects.len() as u64, "{}", reader);
                let kept: Vec<u64> = (0..t.rows as u64).map(|i| t.lines.line(i)).collect();
                let rejected: Vec<u64> = t.rejects.iter().map(|r| r.line).collect();
                let increasing = |v: &[u64]| v.windows(2).all(|w| w[0] < w[1]);
                proptest::prop_assert!(increasing(kept.as_slice()) && increasing(rejected.as_slice()), "{}: {:?} {:?}", reader, kept, rejected);
                let mut all: Vec<u64> = kept.iter().chain(&rejected).copied().collect();
                all.sort_unstable();
                proptest::prop_assert!(increasing(all.as_slice()), "{}: a line twice: {:?} {:?}", reader, kept, rejected);
                proptest::prop_assert!(
                    all.iter().all(|&l| (1..=lines_in_block).contains(&l)),
                    "{}: a line outside the block's {}: {:?}", reader, lines_in_block, all
                );
                if !data.contains(&b'"') {
                    let text = String::from_utf8_lossy(&data);
                    let mut header = has_header;
                    let mut expected = Vec::new();
                    for (i, line) in text.split('\n').enumerate() {
                        let line = line.strip_suffix('\r').unwrap_or(line);
                        if line.is_empty() || std::mem::take(&mut header) {
                            continue;
                        }
                        expected.push(i as u64 + 1);
                    }
                    proptest::prop_assert_eq!(&all, &expected, "{}: every line a record", reader);
                }
            }
        }
    }

    #[test]
    fn hits_are_every_position_of_either_byte() {
        let text = "a,b\n,,x\u{e9}y;z\n\n0123456789,".as_bytes();
        for len in 0..=text.len() {
            let bytes = &text[..len];
            let expected: Vec<usize> = memchr::memchr2_iter(b',', b'\n', bytes).collect();
            assert_eq!(Hits::new(bytes, b',', b'\n').collect::<Vec<_>>(), expected, "{len}");
        }
        assert_eq!(Hits::new(&[0x80, 0xff, 0x2c, 0x00], b',', b'\n').collect::<Vec<_>>(), [2]);
        // longer texts: matches at every offset of the sixteen-byte and eight-byte words, at
        // the ends and in the tail, bytes of every value between
        let long: Vec<u8> =
            (0..300u32).map(|i| if i % 7 == 0 || i % 11 == 3 { b',' } else { (i * 37 % 256) as u8 }).collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 40, 299, 300] {
            let bytes = &long[..len];
            let expected: Vec<usize> = memchr::memchr2_iter(b',', b'\n', bytes).collect();
            assert_eq!(Hits::new(bytes, b',', b'\n').collect::<Vec<_>>(), expected, "{len}");
        }
    }

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
