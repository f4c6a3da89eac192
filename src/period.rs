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

/// A year as the period labels write it: four digits at least (`0001-01`, `0999-Q4`), as
/// chrono's `%G` writes the year of an ISO week, so that labels sort as their periods do.
pub fn year4(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", year.unsigned_abs())
    } else {
        format!("{year:04}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn years_are_four_digits_at_least() {
        assert_eq!(super::year4(1), "0001");
        assert_eq!(super::year4(999), "0999");
        assert_eq!(super::year4(2024), "2024");
        assert_eq!(super::year4(12_345), "12345");
        assert_eq!(super::year4(-1), "-0001");
    }
}
