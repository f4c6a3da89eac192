//! Statistics for before/after comparisons (spec §8): pure functions, no I/O. Each formula
//! names its source; the tests compare with published values (R, statsmodels, scipy) written
//! into them with where they come from (../shared/stats-reference.md for most).

pub mod multiple;
pub mod poisson;
pub mod proportions;
pub mod ranks;
pub mod survival;

use statrs::distribution::{ContinuousCDF, Normal};

/// Φ⁻¹(1 − α/2): the two-sided normal quantile, 1.959963984540054 for α = 0.05.
pub fn z_two_sided(alpha: f64) -> f64 {
    standard_normal().inverse_cdf(1.0 - alpha / 2.0)
}

/// Two-sided p-value of a standard normal statistic, from the survival function so that it
/// does not underflow to 0 (1 − Φ(10) is 0 in floating point; the survival function is 7.6e-24).
pub fn two_sided_p(z: f64) -> f64 {
    (2.0 * standard_normal().sf(z.abs())).min(1.0)
}

fn standard_normal() -> Normal {
    Normal::standard()
}
