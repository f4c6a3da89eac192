//! One row that could not be used, as it goes to rejects.csv: made where the problem is found
//! (reading a record, checking a value, resolving duplicates).

use sop_impact_parse::values::clip;

/// The longest value kept for a reject.
pub const VALUE_CHARS: usize = 200;
/// The longest reason kept (reasons quote the value, which may be a megabyte).
pub const REASON_CHARS: usize = 300;

/// One row that could not be used: a line of rejects.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// the input file, as given on the command line
    pub input: String,
    /// line in the source file (CSV) or row number (Parquet/IPC)
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl Reject {
    /// A reject with its value and reason cut to their lengths.
    pub fn new(input: String, line: u64, column: &str, value: &str, reason: &str) -> Self {
        Reject {
            input,
            line,
            column: column.to_string(),
            value: value.chars().take(VALUE_CHARS).collect(),
            reason: clip(reason, REASON_CHARS).into_owned(),
        }
    }
}
