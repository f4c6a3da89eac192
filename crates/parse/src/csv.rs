//! CSV text as the block reader needs it: where a block of records may be cut, which line each
//! record starts on, and which delimiter a header uses. The `csv` crate parses the records;
//! these functions decide what it is given and where its records are in the file.

/// Pick the delimiter that splits the header line into the most fields, counting only outside
/// quotes. Comma wins ties, as it is what most exports use.
pub fn sniff_delimiter(text: &[u8]) -> u8 {
    // (delimiter, fields it separates on the header line); the first wins ties
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0), (b'|', 0)];
    let mut in_quotes = false;
    for &c in text {
        if c == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if c == b'\n' {
                break;
            }
            if let Some(count) = counts.iter_mut().find(|(d, _)| *d == c) {
                count.1 += 1;
            }
        }
    }
    let best = counts.iter().rev().max_by_key(|(_, n)| *n).filter(|(_, n)| *n > 0);
    best.map_or(b',', |(d, _)| *d)
}

/// The end of the last complete record in `buf` (just after a newline outside quotes), given
/// that `buf` starts at the start of a record. Quotes open a field only at its start (after the
/// file's `delimiter` or a line end) and `""` inside a quoted field is a quote, as the CSV reader
/// has it.
pub fn record_boundary(buf: &[u8], delimiter: u8) -> Option<usize> {
    // Stretches of `buf` outside quoted fields, as (start, end).
    let mut outside = Vec::new();
    let mut start = 0usize;
    let mut in_quotes = false;
    let mut quotes = memchr::memchr_iter(b'"', buf).peekable();
    while let Some(q) = quotes.next() {
        if in_quotes {
            if buf.get(q + 1) == Some(&b'"') {
                quotes.next(); // an escaped quote
            } else {
                in_quotes = false;
                start = q + 1;
            }
        } else if q
            .checked_sub(1)
            .and_then(|p| buf.get(p))
            .is_none_or(|&b| b == delimiter || matches!(b, b'\n' | b'\r'))
        {
            in_quotes = true;
            outside.push((start, q));
        }
    }
    if !in_quotes {
        outside.push((start, buf.len()));
    }
    outside.iter().rev().find_map(|&(s, e)| memchr::memrchr(b'\n', buf.get(s..e)?).map(|i| s + i + 1))
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a block of records may end: after the last complete record (see [`record_boundary`])
/// that is not followed by a byte-order mark. The CSV reader drops a mark at the start of its
/// input, so a block starting with one (a second export appended to the first) would lose it
/// where the whole file keeps it; such a cut moves to an earlier record.
pub fn block_end(buf: &[u8], delimiter: u8) -> Option<usize> {
    let mut limit = buf.len();
    loop {
        let end = record_boundary(buf.get(..limit)?, delimiter)?;
        let rest = buf.get(end..).unwrap_or_default();
        let may_be_bom = if rest.len() >= BOM.len() { rest.starts_with(BOM) } else { BOM.starts_with(rest) };
        // Nothing after the cut (the buffer ends there) may be a mark not read yet.
        if !may_be_bom {
            return Some(end);
        }
        limit = end.checked_sub(1)?;
    }
}

/// Line ends as an editor counts them: `\n`, `\r\n` and a lone `\r` each end one line.
pub fn count_line_ends(bytes: &[u8]) -> u64 {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&i| bytes.get(i) == Some(&b'\n') || bytes.get(i + 1) != Some(&b'\n'))
        .count() as u64
}

/// The editor's line of each record in a block, counted from the bytes rather than taken from
/// the CSV reader: the reader skips blank lines without counting them, and its position for a
/// record is where the previous one ended (before the `\n` of a CRLF, before blank lines). The
/// offsets asked for only grow, so a block is scanned once.
pub struct LineCounter<'b> {
    block: &'b [u8],
    at: usize,
    line: u64,
}

impl<'b> LineCounter<'b> {
    pub fn new(block: &'b [u8], first_line: u64) -> Self {
        LineCounter { block, at: 0, line: first_line }
    }

    /// The line of the record the reader placed at `byte`: the first byte after it that does
    /// not end a line (a record never starts with a line end).
    pub fn record_line(&mut self, record: &csv::ByteRecord) -> u64 {
        let mut start = record.position().map_or(self.at, |p| p.byte() as usize).clamp(self.at, self.block.len());
        // The reader drops a byte-order mark at the start of its input without moving the
        // position of the first record.
        if start == 0 && self.block.starts_with(BOM) {
            start = BOM.len();
        }
        while matches!(self.block.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        self.line += count_line_ends(self.block.get(self.at..start).unwrap_or_default());
        self.at = start;
        self.line
    }

    /// Where the last record asked for starts in the block.
    pub fn at(&self) -> usize {
        self.at
    }
}

/// Cuts `data` into blocks as the block reader does: about `size` bytes each, ending after the
/// last complete record (a block grows until it holds one), the rest in the last block. For
/// tests and fuzzing, which check that no cut changes a record or its line.
pub fn split_blocks(data: &[u8], delimiter: u8, size: usize) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let mut want = size.max(1);
        let block = loop {
            if want >= rest.len() {
                break rest;
            }
            let (head, _) = rest.split_at(want);
            if let Some(end) = block_end(head, delimiter) {
                break head.split_at(end).0;
            }
            want = want.saturating_mul(2);
        };
        blocks.push(block);
        rest = rest.split_at(block.len()).1;
    }
    blocks
}

/// A record's fields and the line it starts on.
pub type LinedRecord = (Vec<Vec<u8>>, u64);

/// The records of `data` read in `blocks`, with the line each starts on, blank lines left out,
/// as the block reader gives them.
pub fn records_with_lines(blocks: &[&[u8]], delimiter: u8) -> Result<Vec<LinedRecord>, csv::Error> {
    let mut out = Vec::new();
    let mut first_line = 1u64;
    for block in blocks {
        let mut rdr =
            csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(*block);
        let mut counter = LineCounter::new(block, first_line);
        let mut record = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut record)? {
            let line = counter.record_line(&record);
            if !(record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty)) {
                out.push((record.iter().map(<[u8]>::to_vec).collect(), line));
            }
        }
        first_line += count_line_ends(block);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn records_in_blocks(data: &[u8], size: usize) -> Vec<LinedRecord> {
        records_with_lines(&split_blocks(data, b',', size), b',').unwrap()
    }

    proptest::proptest! {
        /// Cutting a file into blocks changes neither its records nor their lines, whatever the
        /// quotes, line ends (LF, CRLF, CR) and blank lines.
        #[test]
        fn blocks_keep_every_record_and_its_line(
            pieces in proptest::collection::vec(proptest::sample::select(vec!["a", "bc", ",", "\"", "\"\"", "\n", "\r\n", "\r", " "]), 0..200),
            size in 1usize..64,
        ) {
            let data = pieces.concat().into_bytes();
            let whole = records_in_blocks(&data, data.len().max(1));
            proptest::prop_assert_eq!(records_in_blocks(&data, size), whole);
        }
    }

    /// Found by the csv_blocks fuzz target: a byte-order mark, a blank line, then records.
    #[test]
    fn a_byte_order_mark_before_blank_lines_keeps_the_lines() {
        let data = b"\xEF\xBB\xBF\nT-1,x,\"a\r\nb\"\r\nT-2,y\r\n";
        let lines: Vec<u64> = records_in_blocks(data, data.len()).iter().map(|r| r.1).collect();
        assert_eq!(lines, vec![2, 4]);
        for size in 1..data.len() {
            assert_eq!(records_in_blocks(data, size), records_in_blocks(data, data.len()), "blocks of {size}");
        }
    }

    #[test]
    fn blocks_never_start_with_a_byte_order_mark() {
        let data = b"a,b\n1,2\n\xEF\xBB\xBFa,b\n3,4\n";
        assert_eq!(block_end(&data[..12], b','), Some(4), "not before the mark at 8");
        assert_eq!(block_end(&data[..10], b','), Some(4), "nor before a mark cut short");
        assert_eq!(block_end(&data[..8], b','), Some(4), "nor where the buffer ends, before bytes not read yet");
        assert_eq!(block_end(&data[..4], b','), None);
        for size in 1..data.len() {
            assert!(split_blocks(data, b',', size).iter().skip(1).all(|b| !b.starts_with(BOM)), "blocks of {size}");
            assert_eq!(records_in_blocks(data, size), records_in_blocks(data, data.len()), "blocks of {size}");
        }
    }

    #[test]
    fn record_lines_count_blank_lines_for_lf_crlf_and_cr() {
        for end in ["\n", "\r\n", "\r"] {
            let text = format!("h{end}A{end}{end}{end}B{end}\"x{end}y\"{end}{end}C{end}");
            let lines: Vec<u64> = records_in_blocks(text.as_bytes(), 1 << 20).iter().map(|r| r.1).collect();
            assert_eq!(lines, vec![1, 2, 5, 6, 9], "{end:?}");
        }
    }

    #[test]
    fn blocks_end_after_a_record_outside_quotes() {
        assert_eq!(record_boundary(b"a,b\n1,2\n3,", b','), Some(8));
        assert_eq!(record_boundary(b"a,b\n1,\"x\ny\"\n3", b','), Some(12), "a quoted newline is not a boundary");
        assert_eq!(record_boundary(b"1,\"x\ny", b','), None, "inside an open quote: none");
        assert_eq!(record_boundary(b"1,\"say \"\"hi\"\"\n\"\n2", b','), Some(16), "escaped quotes stay inside");
        assert_eq!(record_boundary(b"1,ab\"c\n2,d", b','), Some(7), "a quote inside a field is a character");
        assert_eq!(record_boundary(b"\"a\"\r\n\"b\nc\"", b','), Some(5), "CRLF, then a quoted newline");
        assert_eq!(record_boundary(b"no newline", b','), None);
        // A quote after another delimiter's character is inside a field of this file.
        assert_eq!(record_boundary(b"1;\"x\n2", b','), Some(5));
        assert_eq!(record_boundary(b"1;\"x\n2", b';'), None);
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
