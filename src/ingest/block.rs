//! CSV blocks: cutting the file after complete records, and parsing a block into a
//! [`RawTable`] — a quote-free block by a plain byte scan, any other through the `csv` crate —
//! with every record keeping its source line.

use super::*;

/// Reads a file in blocks that end after a complete record (a newline outside quotes).
pub(super) struct BlockReader<'f> {
    pub(super) file: &'f mut File,
    pub(super) delimiter: u8,
    pub(super) carry: Vec<u8>,
    pub(super) eof: bool,
    pub(super) started: bool,
    /// buffers of blocks the workers are done with
    pub(super) spare: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'f> BlockReader<'f> {
    pub(super) fn new(file: &'f mut File, delimiter: u8, spare: std::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        BlockReader { file, delimiter, carry: Vec::new(), eof: false, started: false, spare }
    }

    pub(super) fn at_end(&self) -> bool {
        self.eof && self.carry.is_empty()
    }

    pub(super) fn buffer(&self) -> Vec<u8> {
        let mut b = self.spare.try_recv().unwrap_or_default();
        b.clear();
        b
    }

    pub(super) fn next_block(&mut self) -> std::io::Result<Option<Vec<u8>>> {
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

/// Buffers a worker reuses from block to block.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) arena: String,
    pub(super) spare_spans: Vec<Vec<(u32, u32)>>,
}

impl RawTable {
    /// The buffers of a parsed block, for the next block.
    pub(super) fn into_scratch(self) -> Scratch {
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

pub(super) struct Block {
    pub(super) table: RawTable,
    /// records of `table.rows_read` with the wrong number of fields
    pub(super) ragged: u64,
}

/// Parse one block of records (starting at `first_line` of the file): a block without quotes
/// by [`parse_plain_block`], any other by [`parse_block`]. Returns the result and a buffer for
/// the reader's next block (the block, or the arena the plain block took the place of).
pub(super) fn parse_any_block(
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
pub(super) fn span_columns(
    keep: &[bool],
    width: usize,
    spare_spans: &mut Vec<Vec<(u32, u32)>>,
) -> Vec<Option<Vec<(u32, u32)>>> {
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
pub(super) fn ragged_reject(opened: &Opened, delimiter: u8, line: u64, fields: &[std::borrow::Cow<str>]) -> Reject {
    let reason = format!("row has {} fields but the header has {}", fields.len(), opened.headers.len());
    Reject::new(opened.path.display().to_string(), line, "", &fields.join(delimiter_name(delimiter)), &reason)
}

/// Parse a block of UTF-8 text without quotes, as [`parse_block`] would: every record is one
/// line (a carriage return only ends one before its newline) and every field the text between
/// delimiters, so the block is the arena as it is. One scan for delimiters and newlines, where
/// the CSV reader's state machine took a sixth of the reading time at 10M tickets.
pub(super) fn parse_plain_block(
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
pub(super) fn spans_block(
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
pub(super) struct Hits<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) a: u8,
    pub(super) b: u8,
    /// where the next word starts
    pub(super) next: usize,
    /// where the current word starts, and a bit for each of its bytes that matched (the lowest
    /// of `1 << shift` bits per byte)
    pub(super) base: usize,
    pub(super) mask: u64,
    pub(super) shift: u32,
}

impl<'a> Hits<'a> {
    pub(super) fn new(bytes: &'a [u8], a: u8, b: u8) -> Self {
        Hits { bytes, a, b, next: 0, base: 0, mask: 0, shift: 0 }
    }

    /// The high bit of every zero byte of `v`, exactly (no carry between bytes).
    pub(super) fn zero_bytes(v: u64) -> u64 {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        !(((v & LOW7) + LOW7) | v | LOW7)
    }

    /// The matches in the (up to) eight bytes of `rest`: the high bit of each matching byte.
    pub(super) fn word_mask(&self, rest: &[u8]) -> u64 {
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
    pub(super) fn sixteen_mask(&self, chunk: &[u8; 16]) -> u64 {
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
pub(super) fn parse_block(
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
                if let Some((reject, next)) = runaway_quote(&display, &record, taken, line, delimiter, width) {
                    if record.len() != width {
                        ragged += 1;
                    }
                    rejects.push(reject);
                    segment += start + next;
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
            let Some(text) = utf8_text(&record) else {
                rejects.push(not_utf8_reject(opened, &display, line, &record));
                continue;
            };
            lines.record(kept, line);
            kept += 1;
            keep_record(&mut arena, &mut spans, &record, text).ok_or_else(|| Error::InvalidAt {
                path: path.to_path_buf(),
                line,
                problem: "a block of records is larger than 4 GiB".into(),
                fix: Some("check that the file's quotes are balanced".into()),
            })?;
        }
        break;
    }
    Ok(spans_block(opened, spans, arena, lines, (rows_read, kept as usize, ragged), rejects))
}

/// The text of a record taken from `taken` (at `line`) when it is a quote run away: several
/// lines, and the wrong number of fields or a first line that holds a whole record. The reject
/// of its first line alone, and where in `taken` the reading goes on.
fn runaway_quote(
    display: &str,
    record: &csv::ByteRecord,
    taken: &[u8],
    line: u64,
    delimiter: u8,
    width: usize,
) -> Option<(Reject, usize)> {
    let first = first_line_of_several(taken)
        .filter(|first| record.len() != width || holds_whole_records(first.record, delimiter, width))?;
    let last = line + count_line_ends(first.record);
    let value = String::from_utf8_lossy(taken.get(..first.content).unwrap_or_default());
    let reason = format!(
        "a quote opened on this line does not close where a record of {width} fields would end (the record would \
         run on to line {last}); this line alone is rejected and reading goes on at line {}",
        line + 1
    );
    Some((Reject::new(display.to_string(), line, "", &value, &reason), first.next))
}

/// A record's text into the arena and its kept fields' spans into their columns; None when the
/// arena would outgrow the 32-bit spans.
fn keep_record(
    arena: &mut String,
    spans: &mut [Option<Vec<(u32, u32)>>],
    record: &csv::ByteRecord,
    text: &str,
) -> Option<()> {
    let base = arena.len();
    if base + text.len() > u32::MAX as usize {
        return None;
    }
    arena.push_str(text);
    for (i, column) in spans.iter_mut().enumerate() {
        if let (Some(column), Some(r)) = (column, record.range(i)) {
            column.push(((base + r.start) as u32, (base + r.end) as u32));
        }
    }
    Some(())
}

/// The reject of a record that is not UTF-8, naming its first field that is not.
fn not_utf8_reject(opened: &Opened, display: &str, line: u64, record: &csv::ByteRecord) -> Reject {
    let bad = record.iter().position(|f| std::str::from_utf8(f).is_err()).unwrap_or(0);
    let column = opened.headers.get(bad).map_or("", String::as_str);
    let value = String::from_utf8_lossy(record.get(bad).unwrap_or_default());
    Reject::new(display.to_string(), line, column, &value, "value is not valid UTF-8")
}

/// The record as UTF-8 text, in one check for the whole record; a field boundary inside a
/// character would make a field invalid on its own, so those are checked too.
fn utf8_text(record: &csv::ByteRecord) -> Option<&str> {
    std::str::from_utf8(record.as_slice())
        .ok()
        .filter(|t| (0..record.len()).all(|i| record.range(i).is_some_and(|r| t.is_char_boundary(r.start))))
}

/// The first line of a record's text that has more lines than one (a line end before its
/// own): `content` is where the line's text ends, `next` where the line after it starts and
/// `record` the record's text without its line end.
pub(super) struct FirstLine<'t> {
    pub(super) content: usize,
    pub(super) next: usize,
    pub(super) record: &'t [u8],
}

/// Whether a line strictly inside a record's text (neither its first nor its last) has the
/// delimiters of a whole record: a quoted text of several lines rarely does, the records a
/// stray quote took in always do.
pub(super) fn holds_whole_records(record: &[u8], delimiter: u8, width: usize) -> bool {
    let mut lines = record.split(|&b| b == b'\n' || b == b'\r').filter(|l| !l.is_empty());
    lines.next();
    let inner: Vec<&[u8]> = lines.collect();
    let Some((_, middle)) = inner.split_last() else { return false };
    width > 1 && middle.iter().any(|l| memchr::memchr_iter(delimiter, l).count() + 1 >= width)
}

pub(super) fn first_line_of_several(taken: &[u8]) -> Option<FirstLine<'_>> {
    let record = taken.strip_suffix(b"\n").unwrap_or(taken);
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    let at = memchr::memchr2(b'\n', b'\r', record)?;
    let next = if record.get(at) == Some(&b'\r') && record.get(at + 1) == Some(&b'\n') { at + 2 } else { at + 1 };
    Some(FirstLine { content: at, next, record })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

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
}
