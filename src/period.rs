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

/// A time zone's calendar: the local date of a UTC instant. Zones of one offset (UTC, Etc/…)
/// by arithmetic; the others through the zone's rules, instant by instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Calendar {
    /// the offset from UTC in ms
    Fixed(i64),
    Zone(chrono_tz::Tz),
}

impl Calendar {
    pub(crate) fn of(tz: chrono_tz::Tz) -> Calendar {
        use chrono::{Offset, TimeZone as _};
        let name = tz.name();
        if name == "UTC" || name.starts_with("Etc/") {
            let offset = tz.offset_from_utc_datetime(&chrono::NaiveDateTime::default()).fix().local_minus_utc();
            Calendar::Fixed(i64::from(offset) * 1000)
        } else {
            Calendar::Zone(tz)
        }
    }

    /// The wall-clock time at `ms` in this calendar, as ms since 1970-01-01 00:00 of that clock.
    pub(crate) fn local_ms(self, ms: i64) -> Option<i64> {
        match self {
            Calendar::Fixed(offset) => ms.checked_add(offset),
            Calendar::Zone(tz) => {
                use chrono::Offset;
                let utc = chrono::DateTime::from_timestamp_millis(ms)?;
                let offset = utc.with_timezone(&tz).offset().fix().local_minus_utc();
                ms.checked_add(i64::from(offset) * 1000)
            }
        }
    }
}

/// Period index of a wall-clock time (ms, see `Calendar::local_ms`): months, ISO weeks or
/// quarters since a fixed origin.
pub(crate) fn period_of_local(local_ms: i64, period: Period) -> Option<i32> {
    use chrono::Datelike;
    let date = chrono::DateTime::from_timestamp_millis(local_ms)?.date_naive();
    let (year, month0) = (date.year(), date.month0() as i32);
    Some(match period {
        Period::Month => year * 12 + month0,
        // 1970-01-01 (day 719,163 of the common era) was a Thursday; weeks start on Monday (ISO).
        Period::Week => (date.num_days_from_ce() - 719_163 + 3).div_euclid(7),
        Period::Quarter => year * 4 + month0.div_euclid(3),
    })
}

/// Period index of a UTC instant, on the calendar of the run's time zone (a Berlin team's March
/// is Berlin's March).
pub(crate) fn period_index(ms: i64, period: Period, calendar: Calendar) -> Option<i32> {
    period_of_local(calendar.local_ms(ms)?, period)
}

/// Instants are looked at an hour (UTC) at a time: when the clock runs evenly through the hour
/// (no change of offset within it) and both its ends fall in one period, so does every instant
/// in it.
pub(crate) const SLOT_MS: i64 = 3_600_000;

/// The period of every instant, worked out once per hour they fall in when that hour lies in one
/// period: the instants of a process come in time order, so that consecutive ones mostly share
/// their hour, and the calendar is consulted for a few hours instead of every record.
pub(crate) fn period_indices_into(
    times: impl Iterator<Item = Option<i64>>,
    period: Period,
    calendar: Calendar,
    out: &mut [Option<i32>],
) {
    // (hour, its period when the whole hour lies in one)
    let mut last: Option<(i64, Option<i32>)> = None;
    let whole_slot = |slot: i64| -> Option<i32> {
        let (start, end) = (slot.checked_mul(SLOT_MS)?, slot.checked_mul(SLOT_MS)?.checked_add(SLOT_MS - 1)?);
        let (local_start, local_end) = (calendar.local_ms(start)?, calendar.local_ms(end)?);
        let (first, last) = (period_of_local(local_start, period)?, period_of_local(local_end, period)?);
        (local_end - local_start == end - start && first == last).then_some(first)
    };
    for (t, index) in times.zip(out.iter_mut()) {
        *index = t.and_then(|t| {
            let slot = t.div_euclid(SLOT_MS);
            let whole = match last {
                Some((s, whole)) if s == slot => whole,
                _ => {
                    let whole = whole_slot(slot);
                    last = Some((slot, whole));
                    whole
                }
            };
            whole.or_else(|| period_index(t, period, calendar))
        });
    }
}

/// The label of a period index: `2024-03`, `2024-W09`, `2024-Q1`.
pub fn period_label(index: i64, period: Period) -> String {
    match period {
        Period::Month => format!("{}-{:02}", year4(index.div_euclid(12)), index.rem_euclid(12) + 1),
        Period::Quarter => format!("{}-Q{}", year4(index.div_euclid(4)), index.rem_euclid(4) + 1),
        Period::Week => {
            let monday = chrono::DateTime::from_timestamp((index * 7 - 3) * 86_400, 0).map(|d| d.date_naive());
            monday.map(|d| d.format("%G-W%V").to_string()).unwrap_or_default()
        }
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

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn periods_on_the_local_calendar() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let berlin = Calendar::of("Europe/Berlin".parse().unwrap());
        let month =
            |t: &str, c: Calendar| period_index(ms(t), Period::Month, c).map(|i| period_label(i.into(), Period::Month));
        // 22:30 UTC on 31 March 2024 is 00:30 on 1 April in Berlin (summer time, +2), and
        // 23:30 UTC on 31 January is 00:30 on 1 February (winter time, +1)
        assert_eq!(month("2024-03-31T22:30:00Z", berlin).as_deref(), Some("2024-04"));
        assert_eq!(month("2024-03-31T21:30:00Z", berlin).as_deref(), Some("2024-03"));
        assert_eq!(month("2024-01-31T23:30:00Z", berlin).as_deref(), Some("2024-02"));
        assert_eq!(month("2024-01-31T23:30:00Z", Calendar::of(chrono_tz::UTC)).as_deref(), Some("2024-01"));
        // Etc/GMT+5 is five hours behind UTC (the sign is POSIX's)
        let gmt_plus_5 = Calendar::of("Etc/GMT+5".parse().unwrap());
        assert!(matches!(gmt_plus_5, Calendar::Fixed(-18_000_000)));
        assert_eq!(month("2024-04-01T04:59:00Z", gmt_plus_5).as_deref(), Some("2024-03"));
        // ISO weeks start on Monday: Sunday 31 March 2024 is 2024-W13, Monday 1 April 2024-W14;
        // 29 December 2025 (a Monday) starts 2026-W01; quarters
        let week = |t: &str| period_index(ms(t), Period::Week, berlin).map(|i| period_label(i.into(), Period::Week));
        assert_eq!(week("2024-03-31T12:00:00Z").as_deref(), Some("2024-W13"));
        assert_eq!(week("2024-03-31T22:30:00Z").as_deref(), Some("2024-W14"));
        assert_eq!(week("2025-12-29T00:00:00Z").as_deref(), Some("2026-W01"));
        let quarter = period_index(ms("2024-06-30T22:30:00Z"), Period::Quarter, berlin);
        assert_eq!(quarter.map(|i| period_label(i.into(), Period::Quarter)).as_deref(), Some("2024-Q3"));
    }

    /// Worked out an hour at a time, the periods are those of every instant on its own: across
    /// month ends, DST changes (Berlin, and Lord Howe's half-hour one) and a zone half an hour
    /// off the hour, for instants in time order and out of it, with gaps.
    #[test]
    fn periods_an_hour_at_a_time_are_those_of_each_instant() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let zones = ["Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "UTC"];
        let starts = ["2024-03-30T20:00:00Z", "2024-10-26T20:00:00Z", "2024-04-06T12:00:00Z", "2023-12-31T10:00:00Z"];
        for zone in zones {
            let calendar = Calendar::of(zone.parse().unwrap());
            for start in starts {
                // every 7 minutes for two days, then the same instants shuffled, with gaps
                let mut times: Vec<Option<i64>> =
                    (0..2 * 24 * 60 / 7).map(|k| Some(ms(start) + k * 7 * 60_000)).collect();
                let shuffled: Vec<Option<i64>> = (0..times.len()).map(|k| times[(k * 37) % times.len()]).collect();
                times.extend(shuffled);
                times[5] = None;
                for period in [Period::Month, Period::Week, Period::Quarter] {
                    let mut got = vec![Some(-1); times.len()];
                    period_indices_into(times.iter().copied(), period, calendar, &mut got);
                    let expected: Vec<Option<i32>> =
                        times.iter().map(|t| t.and_then(|t| period_index(t, period, calendar))).collect();
                    assert_eq!(got, expected, "{zone} from {start}");
                }
            }
        }
    }

    #[test]
    fn period_labels() {
        assert_eq!(period_label(2024 * 12 + 2, Period::Month), "2024-03");
        assert_eq!(period_label(2024 * 4, Period::Quarter), "2024-Q1");
        // year 1 (and any year before 1000) in four digits, as weeks have it
        assert_eq!(period_label(12, Period::Month), "0001-01");
        assert_eq!(period_label(4, Period::Quarter), "0001-Q1");
        assert_eq!(period_label(999 * 12 + 11, Period::Month), "0999-12");
        // 2024-01-01 is a Monday: days since epoch 19723, week index (19723 + 3) / 7 = 2818
        assert_eq!(period_label(2818, Period::Week), "2024-W01");
    }
}
