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

/// Whether the first lines of a text are each one quoted field that holds a whole delimited
/// line: what a reporting tool writes when it re-saves an export as a one-column table.
pub fn is_wrapped(head: &str) -> bool {
    let mut lines = head.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty());
    let Some(first) = lines.next().and_then(unwrapped_line) else { return false };
    // The last line of the window may be cut: the complete ones decide.
    let rest: Vec<&str> = lines.collect();
    let complete = rest.len().saturating_sub(1);
    first.contains([',', ';', '\t', '|']) && rest.iter().take(complete.min(50)).all(|l| unwrapped_line(l).is_some())
}

/// Decode `path` from `encoding` into a UTF-8 copy in the temporary directory, each line that
/// is one quoted field unwrapped when `unwrap` is set.
pub fn decode_copy(path: &Path, encoding: &'static Encoding, unwrap: bool) -> Result<Decoded> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bytes = std::fs::read(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let (text, _, replaced) = encoding.decode(&bytes);
    if replaced && encoding != WINDOWS_1252 {
        return Err(Error::invalid(
            path,
            format!("is not valid {} text", encoding.name()),
            "save the export as UTF-8 CSV (e.g. from Excel: CSV UTF-8), or as Parquet",
        ));
    }
    let name = format!(".sop-impact-{}-{}.csv", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let copy = Decoded { path: std::env::temp_dir().join(name) };
    let file = std::fs::File::create(&copy.path).map_err(|e| Error::output(&copy.path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let io = |e| Error::output(&copy.path, e);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if unwrap {
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\r', '\n']);
            let ending = line.get(body.len()..).unwrap_or("");
            match unwrapped_line(body) {
                Some(inner) => out.write_all(inner.as_bytes()).map_err(io)?,
                None => out.write_all(body.as_bytes()).map_err(io)?,
            }
            out.write_all(ending.as_bytes()).map_err(io)?;
        }
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
    fn lines_wrapped_in_one_quoted_field_are_recognised() {
        assert!(is_wrapped("\"id,opened\"\r\n\"1,2025-01-01\"\r\n\"2,\"\"x\"\"\"\r\n\"3,par"));
        assert!(!is_wrapped("id,opened\n1,2025-01-01\n"), "a plain CSV");
        assert!(!is_wrapped("\"id\"\n\"1\"\n"), "one column, no delimiter inside");
        assert!(!is_wrapped("\"id,opened\"\n\"1\",\"2\"\n\"3\"\n"), "quoted fields, not wrapped lines");
        assert_eq!(unwrapped_line("\"a,\"\"b\"\",c\"").as_deref(), Some("a,\"b\",c"));
    }
}
