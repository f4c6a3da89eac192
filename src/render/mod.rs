//! Rendering: charts (plotters) and Markdown, as pure functions of the analysis results.

pub mod charts;
pub mod markdown;
