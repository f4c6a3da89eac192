//! Columns whose names repeat. polars keys a schema by name, so a file (Arrow IPC or Parquet)
//! in which two columns share one is refused or loses a column. The readers rename every repeat
//! in a copy of the file's schema bytes to a placeholder of the same length, so that every offset
//! stays where it was, and keep the file's own names as the headers: a repeated name that the
//! mapping would read is refused there, naming its positions, and one never read costs nothing.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result};

/// Every second and later occurrence of a name overwritten, in place, by a placeholder of the
/// same length that no column has.
pub(super) fn rename_repeats(path: &Path, buffer: &mut [u8], fields: &[(String, Range<usize>)]) -> Result<()> {
    let mut taken: BTreeSet<String> = fields.iter().map(|(n, _)| n.clone()).collect();
    let mut seen = BTreeSet::new();
    for (name, range) in fields {
        if seen.insert(name.as_str()) {
            continue;
        }
        let Some(placeholder) = (0..).map(|k| placeholder(name.len(), k)).take(10_000).find(|p| !taken.contains(p))
        else {
            return Err(Error::invalid(
                path,
                format!("repeats the column name '{name}', which cannot be told apart here"),
                "write the file with unique column names (in pandas: df.columns = [...]; in pyarrow: table.rename_columns([...]))",
            ));
        };
        if let Some(bytes) = buffer.get_mut(range.clone()) {
            bytes.copy_from_slice(placeholder.as_bytes());
        }
        taken.insert(placeholder);
    }
    Ok(())
}

/// The `k`-th string of `len` characters from a set no header synonym uses.
fn placeholder(len: usize, mut k: usize) -> String {
    const MARKS: &[u8] = b"~^!*+=";
    (0..len)
        .map(|_| {
            let c = MARKS.get(k % MARKS.len()).copied().unwrap_or(b'~');
            k /= MARKS.len();
            char::from(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_have_the_length_and_differ() {
        let some: BTreeSet<String> = (0..30).map(|k| placeholder(3, k)).collect();
        assert_eq!(some.len(), 30);
        assert!(some.iter().all(|p| p.len() == 3));
        assert_eq!(placeholder(0, 0), "");
    }
}
