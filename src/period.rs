//! The period of the per-process tables and trend charts.

/// Calendar months, ISO weeks or quarters, in the run's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    #[default]
    Month,
    Week,
    Quarter,
}
