//! Text parsing for sop-impact, with no table library so that it builds in seconds and can be
//! fuzzed on its own (`fuzz/`): where a CSV block may be cut and which line each record starts
//! on, which delimiter a header uses, which text encoding a file is in, timestamps in the forms
//! exports write them, single values (priorities, yes/no, counts, SLA outcomes), and `:name`
//! parameters in the metric queries.
//!
//! Nothing here may panic on any input: indexing and string slicing are denied, and the fuzz
//! targets check the rest.

#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod csv;
pub mod encoding;
pub mod params;
pub mod time;
pub mod values;
