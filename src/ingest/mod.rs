//! Reading exports: format detection from content, CSV (delimiter sniffing, BOM, quoted
//! newlines) through the `csv` crate so that every record keeps its source line, Parquet and
//! Arrow IPC through polars. The result is a [`RawTable`]: the header as found, and the columns
//! as strings, ready for a profile to map and for validation to check value by value.

pub mod profile;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{polars_in, Error, Result};
use crate::validate::Reject;

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
                let (i, l) = self.breaks[k - 1];
                l + (index - i)
            }
        }
    }
}

/// One input file as read: its header and its columns as strings.
pub struct RawTable {
    pub path: PathBuf,
    pub format: Format,
    /// column names exactly as in the file (may repeat, e.g. Jira's several `Labels` columns)
    pub headers: Vec<String>,
    /// one String column per header, in header order (names are positional: `c0`, `c1`, …)
    pub columns: Vec<StringChunked>,
    pub lines: LineMap,
    /// data records found in the file, including the ones rejected while reading
    pub rows_read: u64,
    /// records that could not be read as a row at all (ragged, not UTF-8)
    pub rejects: Vec<Reject>,
    /// rows kept (read minus the records rejected while reading)
    pub rows: usize,
}

impl RawTable {
    pub fn height(&self) -> usize {
        self.rows
    }
}

/// Chooses, from the header and format, which columns to read (the others stay empty).
pub type Select<'a> = dyn FnMut(&[String], Format) -> Result<Vec<bool>> + 'a;

/// Detect the format of `path` from its first bytes.
pub fn detect_format(path: &Path) -> Result<Format> {
    let mut f = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::invalid(path, "is a directory, not a file", "name the export file itself"));
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut f, &mut head).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let head = &head[..n];
    if n == 0 {
        return Err(Error::invalid(path, "is empty (0 bytes)", "export it again with a header row and data"));
    }
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.starts_with(b"ARROW1") {
        return Ok(Format::Ipc);
    }
    if head.len() >= 8 && head[..4] == [0xFF, 0xFF, 0xFF, 0xFF] {
        return Ok(Format::IpcStream);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if text.contains(&0) {
        return Err(Error::invalid(
            path,
            "is not CSV, Parquet or Arrow IPC (binary content)",
            "export the table as CSV (UTF-8), Parquet or Arrow IPC/Feather v2",
        ));
    }
    if let Err(e) = std::str::from_utf8(text) {
        // A multi-byte character cut by the 64 KiB window is fine; anything else is not UTF-8.
        if e.error_len().is_some() {
            if text.starts_with(b"\xFF\xFE") || text.starts_with(b"\xFE\xFF") {
                return Err(Error::invalid(path, "is UTF-16 text", "save the export as UTF-8 CSV"));
            }
            return Err(Error::invalid(
                path,
                format!("is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
                "save the export as UTF-8 CSV (e.g. from Excel: CSV UTF-8), or as Parquet",
            ));
        }
    }
    Ok(Format::Csv { delimiter: sniff_delimiter(text) })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Pick the delimiter that splits the header line into the most fields, counting only outside
/// quotes. Comma wins ties, as it is what most exports use.
pub fn sniff_delimiter(text: &[u8]) -> u8 {
    let candidates = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &c in text {
        if c == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if c == b'\n' {
                break;
            }
            if let Some(k) = candidates.iter().position(|d| *d == c) {
                counts[k] += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&k| (counts[k], usize::MAX - k)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    }
}

/// Read an input file into a [`RawTable`], keeping only the columns `select` asks for: real
/// exports carry dozens of columns the analysis never reads.
pub fn read_table(path: &Path, select: &mut Select) -> Result<RawTable> {
    let format = detect_format(path)?;
    match format {
        Format::Csv { delimiter } => read_csv(path, delimiter, select),
        Format::Parquet => {
            let f = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
            let df = ParquetReader::new(f).finish().map_err(polars_in(path, "cannot read Parquet"))?;
            from_frame(path, format, df, select)
        }
        Format::Ipc => {
            let f = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
            let df = IpcReader::new(f).finish().map_err(polars_in(path, "cannot read Arrow IPC"))?;
            from_frame(path, format, df, select)
        }
        Format::IpcStream => Err(Error::invalid(
            path,
            "is an Arrow IPC stream, which is not read",
            "write the Arrow IPC file format (Feather v2), e.g. pyarrow.feather.write_feather",
        )),
    }
}

fn from_frame(path: &Path, format: Format, df: DataFrame, select: &mut Select) -> Result<RawTable> {
    let headers: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let keep = select(&headers, format)?;
    let mut columns = Vec::with_capacity(headers.len());
    for (i, col) in df.columns().iter().enumerate() {
        if !keep.get(i).copied().unwrap_or(false) {
            columns.push(StringChunked::full_null(format!("c{i}").into(), 0));
            continue;
        }
        // Typed columns (timestamps, integers, booleans) are validated through the same string
        // path as CSV; their text forms are all ones the parsers accept.
        let s = col
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(polars_in(path, &format!("column '{}' cannot be read as text", headers[i])))?;
        let ca = s.str().map_err(polars_in(path, "column is not text"))?.rechunk().into_owned();
        columns.push(ca.with_name(format!("c{i}").into()));
    }
    let rows = df.height() as u64;
    Ok(RawTable {
        path: path.to_path_buf(),
        format,
        headers,
        columns,
        lines: LineMap::new(1),
        rows: rows as usize,
        rows_read: rows,
        rejects: Vec::new(),
    })
}

fn read_csv(path: &Path, delimiter: u8, select: &mut Select) -> Result<RawTable> {
    let file = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let head = input.fill_buf().map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let mut record = csv::ByteRecord::new();
    let read_err = |e: csv::Error| -> Error {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        Error::InvalidAt { path: path.to_path_buf(), line, problem: format!("cannot read CSV: {e}"), fix: None }
    };
    // Header: the first record.
    if !rdr.read_byte_record(&mut record).map_err(read_err)? {
        return Err(Error::invalid(path, "is empty", "export it again with a header row and data"));
    }
    let headers: Vec<String> = record.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect();
    let width = headers.len();
    let keep = select(&headers, Format::Csv { delimiter })?;
    let mut builders: Vec<Option<StringChunkedBuilder>> = (0..width)
        .map(|i| keep.get(i).copied().unwrap_or(false).then(|| StringChunkedBuilder::new(format!("c{i}").into(), 1024)))
        .collect();
    let mut lines = LineMap::new(2);
    let mut rejects = Vec::new();
    let mut rows_read = 0u64;
    let mut kept = 0u64;
    let mut ragged = 0u64;
    let display = path.display().to_string();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(read_err(e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // A blank line between records is not a row.
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        rows_read += 1;
        if record.len() != width {
            ragged += 1;
            rejects.push(Reject {
                input: display.clone(),
                line,
                column: String::new(),
                value: record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
                    .join(delimiter_name(delimiter))
                    .chars()
                    .take(200)
                    .collect(),
                reason: format!("row has {} fields but the header has {width}", record.len()),
            });
            continue;
        }
        if let Some(bad) = record.iter().position(|f| std::str::from_utf8(f).is_err()) {
            rejects.push(Reject {
                input: display.clone(),
                line,
                column: headers[bad].clone(),
                value: String::from_utf8_lossy(&record[bad]).into_owned(),
                reason: "value is not valid UTF-8".into(),
            });
            continue;
        }
        lines.record(kept, line);
        kept += 1;
        for (b, field) in builders.iter_mut().zip(record.iter()) {
            if let Some(b) = b {
                // checked above that every field is UTF-8
                b.append_value(std::str::from_utf8(field).unwrap_or_default());
            }
        }
    }
    if rows_read > 0 && ragged == rows_read {
        return Err(Error::invalid(
            path,
            format!(
                "every data row has a different number of fields than the header ({width} fields split by '{}')",
                delimiter_name(delimiter)
            ),
            "the delimiter of the header and of the rows differ, or the export is broken; export it again",
        ));
    }
    let columns = builders
        .into_iter()
        .enumerate()
        .map(|(i, b)| b.map_or_else(|| StringChunked::full_null(format!("c{i}").into(), 0), |b| b.finish()))
        .collect();
    Ok(RawTable {
        path: path.to_path_buf(),
        format: Format::Csv { delimiter },
        headers,
        columns,
        lines,
        rows: kept as usize,
        rows_read,
        rejects,
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

    #[test]
    fn sniffs_delimiters_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2;3"), b';');
        assert_eq!(sniff_delimiter(b"\"a,b\";c;d\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"abc"), b',');
    }
}
