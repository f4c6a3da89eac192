//! What a file is, from its first bytes: CSV (with its delimiter, encoding and whether its
//! lines are wrapped), Parquet or Arrow IPC. The name of a file is never trusted.

use super::*;

/// Detect the format of `path` from its first bytes.
pub fn detect_format(path: &Path) -> Result<Format> {
    sniff(path, None).map(|sniffed| sniffed.format)
}

/// What the first bytes of a file say about it.
pub(super) struct Sniffed {
    pub(super) format: Format,
    /// the text encoding of a CSV file
    pub(super) encoding: &'static encoding_rs::Encoding,
    /// each record of a CSV file wrapped in one quoted field
    pub(super) wrapped: bool,
    /// a UTF-32 byte-order mark (`Some(true)`: little-endian), which encoding_rs does not decode
    pub(super) utf32: Option<bool>,
}

impl Sniffed {
    pub(super) fn csv(delimiter: u8, encoding: &'static encoding_rs::Encoding, wrapped: bool) -> Self {
        Sniffed { format: Format::Csv { delimiter }, encoding, wrapped, utf32: None }
    }

    pub(super) fn binary(format: Format) -> Self {
        Sniffed { format, encoding: encoding_rs::UTF_8, wrapped: false, utf32: None }
    }
}

/// The format of `path` and, for CSV, its text encoding, from its first bytes.
/// `told` is the encoding the configuration names, which detection does not second-guess.
pub(super) fn sniff(path: &Path, told: Option<&'static encoding_rs::Encoding>) -> Result<Sniffed> {
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

pub(super) fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
