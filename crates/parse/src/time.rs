//! Timestamp parsing for exports.
//!
//! Exports mix ISO 8601, `YYYY-MM-DD HH:MM[:SS]`, day-first and month-first slash dates,
//! Jira's `24/Nov/25 3:14 PM` and epoch seconds/milliseconds. Every value is parsed on its own
//! so that a bad one can be rejected with its line and reason; the hand-written tokenizer keeps
//! this at tens of nanoseconds per value, which matters at ten million tickets. Naive values are
//! interpreted in the run's time zone; everything comes out as UTC epoch milliseconds.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// How to read `a/b/yyyy` dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// day/month/year, e.g. 29/2/2016
    Dmy,
    /// month/day/year, e.g. 2/29/2016
    Mdy,
}

/// Evidence a column's slash dates give about their order.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderEvidence {
    /// a value whose first field is > 12, so it must be day-first
    pub day_first: bool,
    /// a value whose second field is > 12, so it must be month-first
    pub month_first: bool,
    /// a numeric slash/dot date was seen at all
    pub slash_dates: bool,
}

impl OrderEvidence {
    pub fn observe(&mut self, s: &str) {
        let b = crate::values::trim(s).as_bytes();
        let (first, rest) = take_digits(b);
        let Some((&sep, after)) = rest.split_first() else { return };
        if first.is_empty() || first.len() > 2 || !matches!(sep, b'/' | b'.' | b'-') {
            return;
        }
        let (second, rest2) = take_digits(after);
        if second.is_empty() || second.len() > 2 || rest2.first() != Some(&sep) {
            return;
        }
        self.slash_dates = true;
        if to_num(first) > 12 {
            self.day_first = true;
        }
        if to_num(second) > 12 {
            self.month_first = true;
        }
    }

    /// The order the data itself settles, if any.
    pub fn settled(&self) -> Option<DateOrder> {
        match (self.day_first, self.month_first) {
            (true, false) => Some(DateOrder::Dmy),
            (false, true) => Some(DateOrder::Mdy),
            _ => None,
        }
    }
}

/// Parse one timestamp into UTC epoch milliseconds. `order` decides `a/b/yyyy` dates; when it is
/// `None`, such dates are an error (the caller settles the order per column beforehand).
pub fn parse_timestamp(s: &str, order: Option<DateOrder>, tz: Tz) -> Result<i64, String> {
    let s = crate::values::trim(s);
    match fixed_layout_local_ms(s.as_bytes(), order) {
        Some(local_ms) => local_to_utc_millis(local_ms, tz).map_err(|why| format!("invalid timestamp '{s}': {why}")),
        None => parse_any_form(s, order, tz),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`) and `DD/MM/YYYY HH:MM:SS` or `MM/DD/YYYY HH:MM:SS` as
/// `order` says (with `/`, `.` or `-`): the forms most exports write, read at fixed positions as
/// milliseconds on the wall clock. None for any other form, for a slash date without an order,
/// and for a date or time that does not exist: the general parser then reads the value or
/// rejects it with its reason. A tenth of the read's processor time at 10M tickets went to the
/// general parser and chrono's date checks.
fn fixed_layout_local_ms(b: &[u8], order: Option<DateOrder>) -> Option<i64> {
    let head: [u8; 11] = b.get(..11)?.try_into().ok()?;
    let days = match LAST_DATE.with(std::cell::Cell::get) {
        Some((last, last_order, days)) if last == head && last_order == order => days,
        _ => {
            let days = date_days(&head, order)?;
            LAST_DATE.with(|last| last.set(Some((head, order, days))));
            days
        }
    };
    let &[h0, h1, b':', i0, i1, b':', s0, s1] = b.get(11..)? else {
        return None;
    };
    let (hour, minute, second) = (two_digits(h0, h1)?, two_digits(i0, i1)?, two_digits(s0, s1)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

thread_local! {
    /// The date part (and the separator after it) of the last fixed-layout value read on this
    /// thread, with its order and day number: exports list tickets in time order, so that most
    /// values share their date with the one before, and its checks are done once.
    static LAST_DATE: std::cell::Cell<Option<LastDate>> = const { std::cell::Cell::new(None) };
}

/// A date part with its order and day number.
type LastDate = ([u8; 11], Option<DateOrder>, i64);

fn two_digits(a: u8, b: u8) -> Option<i64> {
    let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
    Some(digit(a)? * 10 + digit(b)?)
}

/// The day number (since 1970-01-01) of the date that starts a fixed-layout value, with the
/// separator after it; None when it is not one of the layouts or the date does not exist.
fn date_days(head: &[u8; 11], order: Option<DateOrder>) -> Option<i64> {
    let two = two_digits;
    let (year, month, day) = match *head {
        [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b' ' | b'T'] => {
            (two(y0, y1)? * 100 + two(y2, y3)?, two(m0, m1)?, two(d0, d1)?)
        }
        [a0, a1, sep @ (b'/' | b'.' | b'-'), b0, b1, sep2, y0, y1, y2, y3, b' '] if sep == sep2 => {
            let (a, b) = (two(a0, a1)?, two(b0, b1)?);
            let (month, day) = match order? {
                DateOrder::Dmy => (b, a),
                DateOrder::Mdy => (a, b),
            };
            (two(y0, y1)? * 100 + two(y2, y3)?, month, day)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`: years counted from March, in eras of 400 years).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Every form `parse_timestamp` reads, value by value.
fn parse_any_form(s: &str, order: Option<DateOrder>, tz: Tz) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    let b = s.as_bytes();
    if b.iter().all(|c| c.is_ascii_digit()) {
        return parse_epoch(s);
    }
    let (first, rest) = take_digits(b);
    let mut p = Parts::default();
    let after_date: &[u8];
    let separator = rest.split_first().filter(|(sep, _)| matches!(sep, b'-' | b'/' | b'.'));
    if let (4, Some((&sep, after))) = (first.len(), separator) {
        // Y-M-D
        let (m, r) = take_digits(after);
        if m.is_empty() || m.len() > 2 || r.first() != Some(&sep) {
            return Err(format!("not a recognised timestamp: '{s}'"));
        }
        let (d, r) = take_digits(after_first(r));
        if d.is_empty() || d.len() > 2 {
            return Err(format!("not a recognised timestamp: '{s}'"));
        }
        p.year = to_num(first) as i32;
        p.month = to_num(m);
        p.day = to_num(d);
        after_date = r;
    } else if let (1..=2, Some((&sep, r))) = (first.len(), separator) {
        let (second, r2) = take_digits(r);
        let (month_name, r2) = if second.is_empty() {
            let (alpha, r3) = take_alpha(r);
            (month_from_name(alpha), r3)
        } else {
            (None, r2)
        };
        if second.is_empty() && month_name.is_none() {
            return Err(format!("not a recognised timestamp: '{s}'"));
        }
        if r2.first() != Some(&sep) {
            return Err(format!("not a recognised timestamp: '{s}'"));
        }
        let (y, r3) = take_digits(after_first(r2));
        p.year = match y.len() {
            4 => to_num(y) as i32,
            // Two-digit years (Jira's default `24/Nov/25`): 2000-2099; ITSM exports are recent.
            2 => 2000 + to_num(y) as i32,
            _ => return Err(format!("not a recognised timestamp: '{s}' (year must have 2 or 4 digits)")),
        };
        if let Some(month) = month_name {
            p.day = to_num(first);
            p.month = month;
        } else {
            let (a, c) = (to_num(first), to_num(second));
            match order {
                Some(DateOrder::Dmy) => (p.day, p.month) = (a, c),
                Some(DateOrder::Mdy) => (p.month, p.day) = (a, c),
                None => {
                    return Err(format!("ambiguous date '{s}': day-first or month-first? pass --date-order dmy or mdy"))
                }
            }
        }
        after_date = r3;
    } else {
        return rfc_fallback(s);
    }
    let rest = parse_time(after_date, &mut p).map_err(|why| format!("not a recognised timestamp: '{s}' ({why})"))?;
    if !rest.is_empty() {
        return Err(format!("not a recognised timestamp: '{s}' (unexpected '{}')", String::from_utf8_lossy(rest)));
    }
    p.to_utc_millis(tz).map_err(|why| format!("invalid timestamp '{s}': {why}"))
}

#[derive(Default, Debug)]
struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
    /// offset east of UTC in seconds, when the value carries one
    offset: Option<i32>,
}

impl Parts {
    fn to_utc_millis(&self, tz: Tz) -> Result<i64, String> {
        let date = NaiveDate::from_ymd_opt(self.year, self.month, self.day)
            .ok_or_else(|| format!("no such date {}-{:02}-{:02}", self.year, self.month, self.day))?;
        let naive: NaiveDateTime = date
            .and_hms_milli_opt(self.hour, self.minute, self.second, self.millis)
            .ok_or_else(|| format!("no such time {:02}:{:02}:{:02}", self.hour, self.minute, self.second))?;
        let local_ms = naive.and_utc().timestamp_millis();
        if let Some(off) = self.offset {
            return Ok(local_ms - off as i64 * 1000);
        }
        local_to_utc_millis(local_ms, tz)
    }
}

/// A wall-clock time (milliseconds since 1970-01-01 00:00 as read on a clock in `tz`) as UTC
/// epoch milliseconds.
pub fn local_to_utc_millis(local_ms: i64, tz: Tz) -> Result<i64, String> {
    if tz == Tz::UTC {
        return Ok(local_ms);
    }
    let naive = chrono::DateTime::from_timestamp_millis(local_ms)
        .ok_or_else(|| format!("timestamp {local_ms} ms is out of range"))?
        .naive_utc();
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.timestamp_millis()),
        // The repeated hour when clocks go back: take the first occurrence, as most ITSM
        // tools store the earlier instant.
        LocalResult::Ambiguous(earliest, _) => Ok(earliest.timestamp_millis()),
        LocalResult::None => Err(format!("{naive} does not exist in {tz} (clocks went forward)")),
    }
}

fn parse_time<'a>(mut r: &'a [u8], p: &mut Parts) -> Result<&'a [u8], &'static str> {
    if r.is_empty() {
        return Ok(r);
    }
    if matches!(r.first(), Some(b'T' | b' ')) {
        r = skip_spaces(after_first(r));
    } else {
        return parse_offset(r, p);
    }
    if r.is_empty() {
        return Ok(r);
    }
    let (h, r1) = take_digits(r);
    if h.is_empty() || h.len() > 2 || r1.first() != Some(&b':') {
        return Err("time must be HH:MM[:SS]");
    }
    let (m, mut r2) = take_digits(after_first(r1));
    if m.len() != 2 {
        return Err("minutes must have two digits");
    }
    p.hour = to_num(h);
    p.minute = to_num(m);
    if r2.first() == Some(&b':') {
        let (sec, r3) = take_digits(after_first(r2));
        if sec.len() != 2 {
            return Err("seconds must have two digits");
        }
        p.second = to_num(sec);
        r2 = r3;
        if matches!(r2.first(), Some(b'.') | Some(b',')) {
            let (frac, r4) = take_digits(after_first(r2));
            if frac.is_empty() {
                return Err("empty fraction of a second");
            }
            let mut ms = 0u32;
            for i in 0..3 {
                ms = ms * 10 + frac.get(i).map_or(0, |d| (d - b'0') as u32);
            }
            p.millis = ms;
            r2 = r4;
        }
    }
    let r2 = skip_spaces(r2);
    let (ampm, r3) = take_alpha(r2);
    let r2 = if ampm.eq_ignore_ascii_case(b"AM") || ampm.eq_ignore_ascii_case(b"PM") {
        if p.hour == 0 || p.hour > 12 {
            return Err("12-hour clock hour must be 1-12");
        }
        let pm = ampm.eq_ignore_ascii_case(b"PM");
        p.hour = match (pm, p.hour) {
            (false, 12) => 0,
            (false, h) => h,
            (true, 12) => 12,
            (true, h) => h + 12,
        };
        skip_spaces(r3)
    } else {
        r2
    };
    parse_offset(r2, p)
}

fn parse_offset<'a>(r: &'a [u8], p: &mut Parts) -> Result<&'a [u8], &'static str> {
    if r.is_empty() {
        return Ok(r);
    }
    if r == b"Z" || r == b"z" || r.eq_ignore_ascii_case(b"UTC") || r.eq_ignore_ascii_case(b"GMT") {
        p.offset = Some(0);
        return Ok(&[]);
    }
    let sign = match r.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Ok(r),
    };
    let (hh, r1) = take_digits(after_first(r));
    let (h, m, rest) = match hh.len() {
        2 if r1.first() == Some(&b':') => {
            let (mm, r2) = take_digits(after_first(r1));
            if mm.len() != 2 {
                return Err("offset must be ±HH:MM");
            }
            (to_num(hh), to_num(mm), r2)
        }
        2 => (to_num(hh), 0, r1),
        4 => {
            let (hours, minutes) = hh.split_at(2);
            (to_num(hours), to_num(minutes), r1)
        }
        _ => return Err("offset must be ±HH:MM"),
    };
    if h > 23 || m > 59 {
        return Err("offset out of range");
    }
    p.offset = Some(sign * (h as i32 * 3600 + m as i32 * 60));
    Ok(rest)
}

fn parse_epoch(s: &str) -> Result<i64, String> {
    let v: i64 = s.parse().map_err(|_| format!("not a recognised timestamp: '{s}'"))?;
    match s.len() {
        // epoch seconds from 1973 to 2286
        9 | 10 => Ok(v * 1000),
        // epoch milliseconds
        12 | 13 => Ok(v),
        _ => Err(format!("not a recognised timestamp: '{s}' (digits only, but not epoch seconds or milliseconds)")),
    }
}

fn rfc_fallback(s: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(s) {
        return Ok(t.timestamp_millis());
    }
    Err(format!("not a recognised timestamp: '{s}'"))
}

/// What follows the first byte (a separator already matched).
fn after_first(b: &[u8]) -> &[u8] {
    b.get(1..).unwrap_or_default()
}

fn take_digits(b: &[u8]) -> (&[u8], &[u8]) {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    b.split_at(n)
}

/// Letters, including the bytes of non-ASCII ones (`mär`, `déc`), and one `.` after them
/// (`janv.`): a month name as Jira writes it in any locale.
fn take_alpha(b: &[u8]) -> (&[u8], &[u8]) {
    let n = b.iter().take_while(|c| c.is_ascii_alphabetic() || **c >= 0x80).count();
    let (alpha, rest) = b.split_at(n);
    (alpha, rest.strip_prefix(b".").unwrap_or(rest))
}

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    b.split_at(n).1
}

fn to_num(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |acc, c| acc.saturating_mul(10).saturating_add((c - b'0') as u32))
}

/// A month from its name or abbreviation: English (any word starting with `jan` … `dec`), and the
/// abbreviations Jira writes in Spanish, Portuguese, French and German (`ene`, `fev`, `avr.`,
/// `mär`, `dez`, …), case-insensitively.
fn month_from_name(a: &[u8]) -> Option<u32> {
    const ENGLISH: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const OTHERS: [&[&str]; 12] = [
        &["ene", "janv", "jän"],
        &["fev", "fév", "févr", "fevr"],
        &["mär", "mrz", "mars", "märz"],
        &["abr", "avr"],
        &["mai"],
        &["juin", "juni"],
        &["juil", "juli"],
        &["ago", "août", "aout"],
        &["sept", "set"],
        &["out", "okt"],
        &[],
        &["dic", "dez", "déc"],
    ];
    let word = std::str::from_utf8(a).ok()?.to_lowercase();
    if let Some(i) = OTHERS.iter().position(|names| names.contains(&word.as_str())) {
        return Some(i as u32 + 1);
    }
    let first3 = word.get(..3)?;
    ENGLISH.iter().position(|n| *n == first3).map(|i| i as u32 + 1)
}

/// Format UTC epoch millis as ISO 8601 `YYYY-MM-DDTHH:MM:SSZ` (for messages and reports).
pub fn format_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Format UTC epoch millis as a date `YYYY-MM-DD`.
pub fn format_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(4096))]
        /// The fixed-layout reading gives what the general parser gives, for every date and
        /// time in the layout, those that do not exist included (the general parser rejects
        /// them with its reason), in UTC and in a zone with summer time.
        #[test]
        fn fixed_layout_reads_as_the_general_parser(
            year in 0u32..=9999, month in 0u32..=13, day in 0u32..=32, hour in 0u32..=25,
            minute in 0u32..=61, second in 0u32..=61, form in 0usize..6, order in 0usize..3,
            berlin in proptest::bool::ANY,
        ) {
            let time = format!("{hour:02}:{minute:02}:{second:02}");
            let s = match form {
                0 => format!("{year:04}-{month:02}-{day:02} {time}"),
                1 => format!("{year:04}-{month:02}-{day:02}T{time}"),
                2 => format!("{day:02}/{month:02}/{year:04} {time}"),
                3 => format!("{month:02}/{day:02}/{year:04} {time}"),
                4 => format!("{day:02}.{month:02}.{year:04} {time}"),
                _ => format!("{day:02}-{month:02}/{year:04} {time}"),
            };
            let order = [None, Some(DateOrder::Dmy), Some(DateOrder::Mdy)][order];
            let tz = if berlin { chrono_tz::Europe::Berlin } else { Tz::UTC };
            proptest::prop_assert_eq!(parse_timestamp(&s, order, tz), parse_any_form(&s, order, tz));
        }
    }

    #[test]
    fn fixed_layout_edges() {
        for (s, expected) in [
            ("2024-02-29 23:59:59", Some(utc("2024-02-29T23:59:59Z"))),
            ("2000-02-29T00:00:00", Some(utc("2000-02-29T00:00:00Z"))),
            ("1969-12-31 23:59:59", Some(-1000)),
            ("0000-03-01 00:00:00", Some(utc("0000-03-01T00:00:00Z"))),
            ("1900-02-29 00:00:00", None),
            ("2023-02-29 00:00:00", None),
            ("2024-04-31 00:00:00", None),
            ("2024-01-01 24:00:00", None),
            ("2024-01-01 00:00:60", None),
            ("2024-01-01 00:00", None),
            ("2024/01/01 00:00:00", None),
            ("2024-01-01 00:00:0x", None),
            ("29/02/2024 23:59:59", Some(utc("2024-02-29T23:59:59Z"))),
            ("31.12.2023 00:00:00", Some(utc("2023-12-31T00:00:00Z"))),
            ("13/01/2024 00:00:00", Some(utc("2024-01-13T00:00:00Z"))),
            ("01/13/2024 00:00:00", None),
            ("01/02-2024 00:00:00", None),
        ] {
            assert_eq!(fixed_layout_local_ms(s.as_bytes(), Some(DateOrder::Dmy)), expected, "{s}");
        }
        assert_eq!(
            fixed_layout_local_ms(b"02/01/2024 10:00:00", Some(DateOrder::Mdy)),
            Some(utc("2024-02-01T10:00:00Z"))
        );
        assert_eq!(fixed_layout_local_ms(b"02/01/2024 10:00:00", None), None);
        // the date of the value before is taken again only with its order and separator
        for (s, order, expected) in [
            ("02/01/2024 10:00:00", Some(DateOrder::Dmy), Some(utc("2024-01-02T10:00:00Z"))),
            ("02/01/2024 11:30:00", Some(DateOrder::Dmy), Some(utc("2024-01-02T11:30:00Z"))),
            ("02/01/2024 11:30:00", Some(DateOrder::Mdy), Some(utc("2024-02-01T11:30:00Z"))),
            ("02/01/2024 11:30:00", None, None),
            ("2024-01-02T10:00:00", None, Some(utc("2024-01-02T10:00:00Z"))),
            ("2024-01-02 10:00:00", None, Some(utc("2024-01-02T10:00:00Z"))),
            ("2024-01-02 10:00:61", None, None),
            ("2024-01-02x10:00:00", None, None),
            // twice: a date that does not exist is not kept as the last date
            ("2024-02-30 10:00:00", None, None),
            ("2024-02-30 10:00:00", None, None),
        ] {
            assert_eq!(fixed_layout_local_ms(s.as_bytes(), order), expected, "{s} {order:?}");
        }
    }

    #[test]
    fn iso_forms() {
        let tz = Tz::UTC;
        assert_eq!(parse_timestamp("2024-03-05T10:20:30Z", None, tz), Ok(utc("2024-03-05T10:20:30Z")));
        assert_eq!(parse_timestamp("2024-03-05 10:20", None, tz), Ok(utc("2024-03-05T10:20:00Z")));
        assert_eq!(parse_timestamp("2024-03-05", None, tz), Ok(utc("2024-03-05T00:00:00Z")));
        assert_eq!(parse_timestamp("2024-03-05T10:20:30.250+02:00", None, tz), Ok(utc("2024-03-05T08:20:30.250Z")));
        assert_eq!(parse_timestamp("2024-03-05T10:20:30-0500", None, tz), Ok(utc("2024-03-05T15:20:30Z")));
    }

    #[test]
    fn servicenow_day_first_leap_day() {
        assert_eq!(parse_timestamp("29/2/2016 01:16", Some(DateOrder::Dmy), Tz::UTC), Ok(utc("2016-02-29T01:16:00Z")));
        assert!(parse_timestamp("29/2/2015 01:16", Some(DateOrder::Dmy), Tz::UTC)
            .unwrap_err()
            .contains("no such date"));
    }

    #[test]
    fn month_first_and_ambiguity() {
        assert_eq!(
            parse_timestamp("2/29/2016 01:16:05", Some(DateOrder::Mdy), Tz::UTC),
            Ok(utc("2016-02-29T01:16:05Z"))
        );
        assert!(parse_timestamp("3/4/2016", None, Tz::UTC).unwrap_err().contains("--date-order"));
    }

    #[test]
    fn jira_default_format() {
        assert_eq!(parse_timestamp("24/Nov/25 3:14 PM", None, Tz::UTC), Ok(utc("2025-11-24T15:14:00Z")));
        assert_eq!(parse_timestamp("01/Jan/25 12:05 AM", None, Tz::UTC), Ok(utc("2025-01-01T00:05:00Z")));
        // Jira in other languages: Spanish, Portuguese, French (with its dot), German.
        assert_eq!(parse_timestamp("10/nov/25 4:51 PM", None, Tz::UTC), Ok(utc("2025-11-10T16:51:00Z")));
        assert_eq!(parse_timestamp("03/dic/24 9:05 AM", None, Tz::UTC), Ok(utc("2024-12-03T09:05:00Z")));
        assert_eq!(parse_timestamp("15/ene/25 11:00 AM", None, Tz::UTC), Ok(utc("2025-01-15T11:00:00Z")));
        assert_eq!(parse_timestamp("02/fev/25 1:00 PM", None, Tz::UTC), Ok(utc("2025-02-02T13:00:00Z")));
        assert_eq!(parse_timestamp("04/avr./25 8:00 AM", None, Tz::UTC), Ok(utc("2025-04-04T08:00:00Z")));
        assert_eq!(parse_timestamp("07/Mär/25 8:00 AM", None, Tz::UTC), Ok(utc("2025-03-07T08:00:00Z")));
        assert_eq!(parse_timestamp("09/sept/25 8:00 AM", None, Tz::UTC), Ok(utc("2025-09-09T08:00:00Z")));
        assert!(parse_timestamp("09/xyz/25 8:00 AM", None, Tz::UTC).is_err());
    }

    #[test]
    fn epochs() {
        assert_eq!(parse_timestamp("1700000000", None, Tz::UTC), Ok(1_700_000_000_000));
        assert_eq!(parse_timestamp("1700000000123", None, Tz::UTC), Ok(1_700_000_000_123));
        assert!(parse_timestamp("12345", None, Tz::UTC).is_err());
    }

    #[test]
    fn naive_values_use_the_time_zone_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // CET (+1) before 2024-03-31 02:00, CEST (+2) after.
        assert_eq!(parse_timestamp("2024-03-30 12:00", None, berlin), Ok(utc("2024-03-30T11:00:00Z")));
        assert_eq!(parse_timestamp("2024-03-31 12:00", None, berlin), Ok(utc("2024-03-31T10:00:00Z")));
        assert!(parse_timestamp("2024-03-31 02:30", None, berlin).unwrap_err().contains("does not exist"));
        // the repeated hour in October resolves to the earlier (CEST) instant
        assert_eq!(parse_timestamp("2024-10-27 02:30", None, berlin), Ok(utc("2024-10-27T00:30:00Z")));
        // an explicit offset wins over the zone
        assert_eq!(parse_timestamp("2024-03-31 12:00+00:00", None, berlin), Ok(utc("2024-03-31T12:00:00Z")));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "31/31/2024",
            "2024-01-01 25:00",
            "99999999999999999999",
            "2024-01-01T10:00:00+99:00",
            "1/",
            "2024-",
            "12:00",
            "\u{0}\u{ff}",
        ] {
            assert!(parse_timestamp(s, Some(DateOrder::Dmy), Tz::UTC).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn order_evidence() {
        let mut e = OrderEvidence::default();
        e.observe("03/04/2024 10:00");
        assert_eq!(e.settled(), None);
        e.observe("13/04/2024 10:00");
        assert_eq!(e.settled(), Some(DateOrder::Dmy));
        e.observe("04/13/2024");
        assert_eq!(e.settled(), None, "contradictory evidence settles nothing");
    }
}
