//! The only place that writes files: every file is written to a temporary name beside its
//! target and renamed into place, so a reader never sees half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::validate::Reject;

/// Create `dir` (and parents), as an output error if it cannot be.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
/// spreadsheet; a leading apostrophe neutralises it (spec §5).
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

/// rejects.csv: `input, line, column, value, reason`, sorted by input order then line.
pub fn rejects_csv(rejects: &[Reject]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Error::Internal(format!("writing rejects.csv: {e}"));
    w.write_record(["input", "line", "column", "value", "reason"]).map_err(internal)?;
    for r in rejects {
        let line = r.line.to_string();
        w.write_record([
            neutralise_cell(&r.input).as_ref(),
            line.as_str(),
            neutralise_cell(&r.column).as_ref(),
            neutralise_cell(&r.value).as_ref(),
            neutralise_cell(&r.reason).as_ref(),
        ])
        .map_err(internal)?;
    }
    w.into_inner().map_err(|e| Error::Internal(format!("writing rejects.csv: {e}")))
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
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    }
}
