//! Writing output files: each is written to a temporary name beside its target and renamed into
//! place, so a reader never sees half a file; CSV cells are neutralised; checksums. (Charts are
//! written by plotters, the generator streams its large ticket file, and src/publish.rs puts a
//! whole report directory in place.)

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Create `dir` (and parents), as an output error if it cannot be.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))
}

/// The files a run reads, as (device, inode) where the system has them, else their canonical
/// path: no output may take the place of one of them, whatever name it is reached by.
/// (An input that has gone from its path since is no longer one: its inode may be reused.)
static INPUTS: std::sync::Mutex<Vec<(PathBuf, FileIdentity)>> = std::sync::Mutex::new(Vec::new());

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileIdentity {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<FileIdentity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| FileIdentity::Inode(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        fs::canonicalize(path).ok().map(FileIdentity::Path)
    }
}

/// Remember the files of this run's inputs (those that exist), so that [`refuse_input`] knows them.
pub fn protect_inputs<'a>(paths: impl IntoIterator<Item = &'a Path>) {
    let found: Vec<(PathBuf, FileIdentity)> =
        paths.into_iter().filter_map(|p| identity(p).map(|id| (p.to_path_buf(), id))).collect();
    if let Ok(mut inputs) = INPUTS.lock() {
        for f in found {
            if !inputs.contains(&f) {
                inputs.push(f);
            }
        }
    }
}

/// Whether `path` is one of the files this run reads.
pub fn is_input(path: &Path) -> bool {
    let Some(id) = identity(path) else { return false };
    INPUTS
        .lock()
        .is_ok_and(|inputs| inputs.iter().any(|(input, known)| *known == id && identity(input).as_ref() == Some(known)))
}

/// Refuse to write over a file this run reads (an input placed in the output directory under
/// an output's name, or reached through a link).
pub fn refuse_input(path: &Path) -> Result<()> {
    if is_input(path) {
        return Err(Error::OutputRefused {
            path: path.to_path_buf(),
            problem: "is an input of this run; writing the output there would destroy it".into(),
            fix: "choose another --out, or move the input out of the output directory".into(),
        });
    }
    Ok(())
}

/// Refuse to replace a file at `path` that the tool did not write: what is there must start as
/// `bytes` does — for a binary table (Parquet, Arrow IPC) its first 4 bytes (the format's magic),
/// for text (CSV, Markdown, JSON, SQL) its first line (the header the tool writes). A user's file
/// that merely carries an output's name (`--out` holding their own `rejects.csv`) is kept.
/// Nothing at `path` is fine; something that cannot be read is refused (it cannot be checked).
pub fn refuse_foreign(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Read;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let binary = matches!(ext.as_str(), "parquet" | "arrow" | "ipc" | "feather");
    let refused = |problem: String| Error::OutputRefused {
        path: path.to_path_buf(),
        problem,
        fix: "move it away or choose another --out".into(),
    };
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refused(format!("exists and cannot be read to check that sop-impact wrote it ({e})"))),
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        // a directory is never replaced by a file: the rename fails and says so
        return Ok(());
    }
    let ours = signature(bytes, binary);
    // The signature and a little more: a longer first line differs, and a 1 GB file is not read.
    let mut head = Vec::with_capacity(ours.len() + 2);
    if let Err(e) = (&mut file).take(ours.len() as u64 + 2).read_to_end(&mut head) {
        return Err(refused(format!("exists and cannot be read to check that sop-impact wrote it ({e})")));
    }
    if signature(&head, binary) == ours {
        return Ok(());
    }
    Err(refused(if binary {
        format!("exists and was not written by sop-impact (it does not start as a .{ext} file does)")
    } else {
        format!("exists and was not written by sop-impact (its first line is not the header of {name})")
    }))
}

/// What identifies a file the tool wrote: the first 4 bytes of a binary table; the first line of
/// text (without its line break; an empty JSON array `[]` opens as one with rows, `[`).
fn signature(bytes: &[u8], binary: bool) -> &[u8] {
    if binary {
        return bytes.get(..4).unwrap_or(bytes);
    }
    let end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let line = bytes.get(..end).unwrap_or(bytes);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line == b"[]" || line == b"{}" {
        return line.get(..1).unwrap_or(line);
    }
    line
}

/// Write `bytes` to `path` atomically, never over an input of the run nor over a file the tool
/// did not write ([`refuse_foreign`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    refuse_input(path)?;
    refuse_foreign(path, bytes)?;
    let tmp = temp_name(path);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::output(path, e)
    })
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Text that reaches a CSV cell and starts with `= + - @` would be run as a formula by a
/// spreadsheet; a leading apostrophe neutralises it (docs/outputs.md).
pub fn neutralise_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s == "-" {
        // a lone dash (the "no SOP" version) is no formula
        return std::borrow::Cow::Borrowed(s);
    }
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{s}")),
        _ => std::borrow::Cow::Borrowed(s),
    }
}

/// A CSV table as bytes from rows of cells: the header, then one record per row (rejects.csv;
/// the other tables are serde rows through [`serialize_csv`]). Text cells are neutralised by
/// the caller with [`cell`].
pub fn csv_bytes<I>(what: &str, header: &[&str], rows: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let internal = |e: csv::Error| Error::Internal(format!("writing {what}: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(internal)?;
    for row in rows {
        w.write_record(&row).map_err(internal)?;
    }
    w.into_inner().map_err(|e| Error::Internal(format!("writing {what}: {e}")))
}

/// A CSV table from serde rows: the header given (written even when there are no rows, which
/// `csv::Writer::serialize` would not), then one record per row in the struct's field order.
pub fn serialize_csv<T: serde::Serialize>(what: &str, header: &[&str], rows: &[T]) -> Result<Vec<u8>> {
    let internal = |e: csv::Error| Error::Internal(format!("writing {what}: {e}"));
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(header).map_err(internal)?;
    for row in rows {
        w.serialize(row).map_err(internal)?;
    }
    w.into_inner().map_err(|e| Error::Internal(format!("writing {what}: {e}")))
}

/// A text cell, neutralised (see [`neutralise_cell`]).
pub fn cell(s: &str) -> String {
    neutralise_cell(s).into_owned()
}

/// SHA-256 of a file, hex, read in blocks (inputs can be gigabytes).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = fs::File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for e in fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(
                    rel.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect::<Vec<_>>().join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out).map_err(|e| Error::output(dir, e))?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise_cell("-1"), "'-1");
        assert_eq!(neutralise_cell("plain"), "plain");
    }

    #[test]
    fn an_input_is_never_written_over_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("tickets.csv");
        fs::write(&input, b"id\n1\n").unwrap();
        let other = dir.path().join("rejects.csv");
        std::os::unix::fs::symlink(&input, &other).unwrap();
        protect_inputs([input.as_path()]);
        let refused = write_atomic(&other, b"x").unwrap_err();
        assert_eq!(refused.exit_code(), crate::error::exit::OUTPUT);
        assert!(refused.to_string().contains("is an input of this run"), "{refused}");
        assert!(write_atomic(&input, b"x").is_err());
        assert_eq!(fs::read(&input).unwrap(), b"id\n1\n");
        write_atomic(&dir.path().join("new.csv"), b"x").unwrap();
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        write_atomic(&p, b"id,n\n1,one\n").unwrap();
        write_atomic(&p, b"id,n\n2,two\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"id,n\n2,two\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_file_the_tool_did_not_write_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        // text: the first line must be the header the tool writes
        let p = dir.path().join("rejects.csv");
        fs::write(&p, b"my own notes\nline two\n").unwrap();
        let e = write_atomic(&p, b"input,line,column,value,reason\n").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::OUTPUT);
        assert!(e.to_string().contains("rejects.csv") && e.to_string().contains("not written by sop-impact"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"my own notes\nline two\n");
        // a longer first line that starts as the header is not the header; an empty file neither
        fs::write(&p, b"input,line,column,value,reason,mine\n").unwrap();
        assert!(write_atomic(&p, b"input,line,column,value,reason\n").is_err());
        fs::write(&p, b"").unwrap();
        assert!(write_atomic(&p, b"input,line,column,value,reason\n").is_err());
        // the tool's own file (CRLF or not) is replaced, whatever its rows
        fs::write(&p, b"input,line,column,value,reason\r\nt.csv,3,x,y,z\r\n").unwrap();
        write_atomic(&p, b"input,line,column,value,reason\n").unwrap();
        // JSON: an empty array opens as one with rows
        let j = dir.path().join("m.json");
        write_atomic(&j, b"[\n  {}\n]\n").unwrap();
        write_atomic(&j, b"[]\n").unwrap();
        write_atomic(&j, b"[\n  {}\n]\n").unwrap();
        // binary: the first 4 bytes (the format's magic)
        let b = dir.path().join("t.parquet");
        fs::write(&b, b"not parquet at all").unwrap();
        let e = write_atomic(&b, b"PAR1....PAR1").unwrap_err();
        assert!(e.to_string().contains(".parquet"), "{e}");
        fs::write(&b, b"PAR1 an older table PAR1").unwrap();
        write_atomic(&b, b"PAR1....PAR1").unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"PAR1....PAR1");
    }
}
