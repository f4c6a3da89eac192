//! Text encodings of CSV exports: UTF-8 (with or without a byte-order mark) is read as it is;
//! UTF-16 (with its byte-order mark, as Excel's "Unicode text" writes it) and Windows-1252
//! (Latin-1 as Windows writes it: what is not UTF-8 usually is) are decoded to a UTF-8 copy,
//! which is read instead. Lines stay lines, so every line number still names the original file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{Encoding, WINDOWS_1252};

use crate::error::{Error, Result};

// Detection is in the parse crate (no table library), where the fuzz target `encodings`
// reaches it.
pub use sop_impact_parse::encoding::{detect, utf8_evidence};

/// The first bytes decoded to UTF-8, for sniffing the delimiter and the header.
pub fn decode_head(head: &[u8], encoding: &'static Encoding) -> String {
    encoding.decode_with_bom_removal(head).0.into_owned()
}

/// A UTF-8 copy of a file in another encoding; removed when dropped.
#[derive(Debug)]
pub struct Decoded {
    pub path: PathBuf,
}

impl Drop for Decoded {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The text inside a line that is one quoted field (`"a,b,""c"""` → `a,b,"c"`), or `None`.
fn unwrapped_line(line: &str) -> Option<String> {
    let inner = line.strip_prefix('"')?.strip_suffix('"')?;
    // Inside, a quote only ever comes doubled.
    let mut chars = inner.chars().peekable();
    let mut out = String::with_capacity(inner.len());
    while let Some(c) = chars.next() {
        if c == '"' && chars.next() != Some('"') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// A line's text without its wrapping quotes, or the line as it is.
pub fn unwrap_or_keep(line: &str) -> String {
    let body = line.trim_end_matches('\r');
    unwrapped_line(body).unwrap_or_else(|| body.to_string())
}

/// Whether the first records of a text are each one quoted field that holds a whole delimited
/// record: what a reporting tool writes when it re-saves an export as a one-column table. Read
/// as CSV, so that a wrapped record whose text has a line break in it is still one record.
pub fn is_wrapped(head: &str) -> bool {
    if !head.trim_start_matches('\u{feff}').starts_with('"') {
        return false;
    }
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(head.as_bytes());
    let records: Vec<csv::ByteRecord> = rdr.byte_records().take(52).map_while(|r| r.ok()).collect();
    let Some((first, rest)) = records.split_first() else { return false };
    // The last record of the window may be cut: the complete ones decide.
    let complete = rest.len().saturating_sub(1);
    let holds_a_record =
        |r: &csv::ByteRecord| r.len() == 1 && r.get(0).is_some_and(|f| f.iter().any(|b| b",;\t|".contains(b)));
    holds_a_record(first) && rest.iter().take(complete.min(50)).all(|r| r.len() == 1)
}

/// The text with each record that is one quoted field replaced by that field's text, the line
/// ends kept where they were (so every line number still names the original file's line). A
/// line that is not one whole quoted field is copied as it is.
fn unwrap_records(text: &str, out: &mut impl Write) -> std::io::Result<()> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if let Some((inner, end)) = one_quoted_field(bytes, at) {
            out.write_all(&inner)?;
            at = end;
            continue;
        }
        let line = bytes.get(at..).unwrap_or_default();
        let len = line.iter().position(|&b| b == b'\n').map_or(line.len(), |k| k + 1);
        out.write_all(line.get(..len).unwrap_or_default())?;
        at += len;
    }
    Ok(())
}

/// The unquoted text of the quoted field that starts at `start` and is the whole record (a line
/// end or the end of the text follows it), and where that field ends.
fn one_quoted_field(bytes: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut inner = Vec::new();
    let mut at = start + 1;
    while let Some(&b) = bytes.get(at) {
        if b == b'"' {
            if bytes.get(at + 1) == Some(&b'"') {
                inner.push(b'"');
                at += 2;
                continue;
            }
            let end = at + 1;
            return matches!(bytes.get(end), None | Some(b'\r' | b'\n')).then_some((inner, end));
        }
        inner.push(b);
        at += 1;
    }
    None
}

/// Whether a file starts with a UTF-32 byte-order mark: `Some(true)` little-endian, `Some(false)`
/// big-endian (encoding_rs does not decode UTF-32, which some tools still write).
pub fn utf32_mark(head: &[u8]) -> Option<bool> {
    if head.starts_with(&[0xFF, 0xFE, 0, 0]) {
        Some(true)
    } else if head.starts_with(&[0, 0, 0xFE, 0xFF]) {
        Some(false)
    } else {
        None
    }
}

/// A UTF-8 copy of a UTF-32 file (its mark left out). A unit that is no character stops it,
/// naming its byte offset.
pub fn decode_utf32_copy(path: &Path, little_endian: bool) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let body = bytes.get(4..).unwrap_or_default();
    if body.len() % 4 != 0 {
        return Err(Error::invalid(
            path,
            format!("is UTF-32 text but ends {} bytes into a character (the file is cut short)", body.len() % 4),
            "export it again",
        ));
    }
    let mut text = String::with_capacity(body.len() / 4);
    for (k, unit) in body.chunks_exact(4).enumerate() {
        let word: [u8; 4] = unit.try_into().unwrap_or_default();
        let value = if little_endian { u32::from_le_bytes(word) } else { u32::from_be_bytes(word) };
        let Some(c) = char::from_u32(value) else {
            return Err(Error::invalid(
                path,
                format!("is UTF-32 text but holds {value:#x} at byte {}, which is no character", 4 + 4 * k),
                "export it again as UTF-8 (or UTF-16) CSV",
            ));
        };
        text.push(c);
    }
    let copy = new_copy();
    std::fs::write(&copy.path, text.as_bytes()).map_err(|e| Error::output(&copy.path, e))?;
    Ok(copy)
}

/// A new, not yet written, UTF-8 copy in the temporary directory (removed when dropped).
fn new_copy() -> Decoded {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(".sop-impact-{}-{}.csv", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    Decoded { path: std::env::temp_dir().join(name) }
}

/// Decode `path` from `encoding` into a UTF-8 copy in the temporary directory, each line that
/// is one quoted field unwrapped when `unwrap` is set.
pub fn decode_copy(path: &Path, encoding: &'static Encoding, unwrap: bool) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let (text, _, replaced) = encoding.decode(&bytes);
    if replaced && encoding != WINDOWS_1252 {
        return Err(Error::invalid(
            path,
            format!("is not valid {} text", encoding.name()),
            "save the export as UTF-8 CSV (e.g. from Excel: CSV UTF-8), or as Parquet",
        ));
    }
    let copy = new_copy();
    let file = std::fs::File::create(&copy.path).map_err(|e| Error::output(&copy.path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let io = |e| Error::output(&copy.path, e);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if unwrap {
        unwrap_records(text, &mut out).map_err(io)?;
    } else {
        out.write_all(text.as_bytes()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    drop(out);
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::UTF_16LE;

    #[test]
    fn detects_and_decodes_each_encoding() {
        assert_eq!(detect(b"ticket_id,opened_at\n"), encoding_rs::UTF_8);
        assert_eq!(detect("caf\u{e9}".as_bytes()), encoding_rs::UTF_8);
        assert_eq!(
            detect("caf\u{e9}".as_bytes().get(..4).unwrap()),
            encoding_rs::UTF_8,
            "a character cut by the window"
        );
        assert_eq!(detect(b"caf\xe9 \x93quoted\x94"), WINDOWS_1252);
        let bytes = b"id,name\n1,Caf\xc3\xa9\n2,Caf\xc3\xa9\n4,Caf\xe9\n";
        assert_eq!(utf8_evidence(bytes), (2, 1));
        assert_eq!(detect(bytes), encoding_rs::UTF_8, "one stray byte in a UTF-8 file");
        assert_eq!(detect(b"1,Caf\xe9\n2,Caf\xe9\n3,Caf\xc3\xa9\n"), WINDOWS_1252, "mostly not UTF-8");
        assert_eq!(decode_head(b"caf\xe9 \x93q\x94 \x80", WINDOWS_1252), "caf\u{e9} \u{201c}q\u{201d} \u{20ac}");
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("a;\u{e9}\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(detect(&utf16), UTF_16LE);
        assert_eq!(decode_head(&utf16, UTF_16LE), "a;\u{e9}\n");
    }

    #[test]
    fn wrapped_records_are_unwrapped_line_for_line() {
        let text = "\"id,name,note\"\r\n\"1,a,\"\"two\nlines\"\"\"\r\n\r\n\"2,b,plain\"\r\nnot,wrapped,row\n\"3,c,x\"";
        let mut out = Vec::new();
        unwrap_records(text, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "id,name,note\r\n1,a,\"two\nlines\"\r\n\r\n2,b,plain\r\nnot,wrapped,row\n3,c,x");
        assert_eq!(out.matches('\n').count(), text.matches('\n').count(), "every line stays on its line");
        assert!(is_wrapped("\"id,name,note\"\r\n\"1,a,\"\"two\nlines\"\"\"\r\n\"2,b,plain\"\r\n\"3,c"));
        assert!(!is_wrapped(text), "a line that is not wrapped means the file is not");
    }

    #[test]
    fn lines_wrapped_in_one_quoted_field_are_recognised() {
        assert!(is_wrapped("\"id,opened\"\r\n\"1,2025-01-01\"\r\n\"2,\"\"x\"\"\"\r\n\"3,par"));
        assert!(!is_wrapped("id,opened\n1,2025-01-01\n"), "a plain CSV");
        assert!(!is_wrapped("\"id\"\n\"1\"\n"), "one column, no delimiter inside");
        assert!(!is_wrapped("\"id,opened\"\n\"1\",\"2\"\n\"3\"\n"), "quoted fields, not wrapped lines");
        assert_eq!(unwrapped_line("\"a,\"\"b\"\",c\"").as_deref(), Some("a,\"b\",c"));
    }
}
