//! Column-at-a-time parsing of raw string columns into typed canonical columns. A value that
//! cannot be parsed rejects its row (first problem wins) and becomes null.

use polars::prelude::*;

use super::{LoadOptions, RowProblems};
use crate::arrays::Nullable;
use crate::error::{Error, Result};
use crate::ingest::profile::Source;
use crate::ingest::{ColumnValues, RawTable};
use sop_impact_parse::time::{local_to_utc_millis, parse_timestamp, DateOrder, OrderEvidence};
use sop_impact_parse::values::{
    clean, has_escalated_label, parse_bool, parse_count, parse_escalation_level, parse_priority, parse_sla_text,
    shorten_long_text, LONG_TEXT_BYTES,
};

fn raw<'t>(table: &'t RawTable, src: &'t Source) -> Option<ColumnValues<'t>> {
    match src {
        Source::Column(i)
        | Source::EscalationLevel(i)
        | Source::StationsMinusOne(i)
        | Source::SlaText(i)
        | Source::Dated(i, _) => table.values(*i),
        // One part of a value split once at a separator; a value without it is its first part.
        Source::Part(i, separator, level) => Some(ColumnValues::Other(Box::new(table.values(*i)?.map(move |v| {
            v.and_then(|s| match *level {
                0 => s.split(*separator).next(),
                _ => s.split_once(*separator).map(|(_, rest)| rest),
            })
        })))),
        // The configuration's value map: a value in it becomes its canonical value; any other
        // is read as it is (and rejected by the column's own rules if it does not parse).
        Source::Mapped(i, map) => Some(ColumnValues::Other(Box::new(
            table.values(*i)?.map(move |v| v.map(|s| map.get(s.trim()).map_or(s, String::as_str))),
        ))),
        _ => None,
    }
}

/// The column of a mapping that reads a column's values as they are, when the file stored it as
/// text (Parquet/IPC).
fn stored_text<'t>(table: &'t RawTable, src: &Source) -> Option<&'t StringChunked> {
    match src {
        Source::Column(i) | Source::EscalationLevel(i) | Source::StationsMinusOne(i) | Source::SlaText(i) => {
            table.stored_text(*i)
        }
        _ => None,
    }
}

/// Distinct values worked on before a column is given up on as too varied for it.
const DISTINCT_LIMIT: usize = 1 << 12;

/// `work` on each value of a stored text column, but once per distinct value as far as
/// possible: a Parquet file stores a column of few values (priorities, states, groups) as a
/// dictionary and its pages as indices into it, and polars reads every repeat of a dictionary
/// value as the same 16-byte view, so a repeat is found by its view without reading its text.
/// (Two views of one text are two entries; no wrong value can come of it.) Each row's result
/// goes to `each` in row order, None for a missing value. Columns of more than a few thousand
/// distinct views are worked on value by value.
fn per_distinct<V: Clone>(ca: &StringChunked, mut work: impl FnMut(&str) -> V, mut each: impl FnMut(Option<V>)) {
    for arr in ca.downcast_iter() {
        // a view's buffer index and offset mean something within its own array only
        let mut seen: PlHashMap<u128, V> = PlHashMap::new();
        for (view, value) in arr.views().iter().zip(arr.iter()) {
            let Some(value) = value else {
                each(None);
                continue;
            };
            let key = view.as_u128();
            if let Some(v) = seen.get(&key) {
                each(Some(v.clone()));
                continue;
            }
            let v = work(value);
            if seen.len() < DISTINCT_LIMIT {
                seen.insert(key, v.clone());
            }
            each(Some(v));
        }
    }
}

/// A text column that names something (a ticket, SOP, group, analyst…), trimmed, with missing
/// markers as nulls; a value too long to be a name is kept shortened and noted.
pub fn text(table: &RawTable, src: &Source, name: &str, problems: &mut RowProblems) -> StringChunked {
    // A stored text column whose values need no trimming is taken as it is (ticket ids).
    if let Some(ca) = stored_text(table, src) {
        if ca
            .iter()
            .all(|v| v.is_none_or(|s| s.len() <= LONG_TEXT_BYTES && clean(Some(s)).is_some_and(|c| std::ptr::eq(c, s))))
        {
            let mut out = ca.clone();
            out.rename(name.into());
            return out;
        }
    }
    match raw(table, src) {
        Some(values) => {
            let mut out: StringChunked = values
                .enumerate()
                .map(|(i, v)| {
                    clean(v).map(|c| {
                        let kept = shorten_long_text(c);
                        if matches!(kept, std::borrow::Cow::Owned(_)) {
                            problems.shortened(i, name);
                        }
                        kept
                    })
                })
                .collect();
            out.rename(name.into());
            out
        }
        None => StringChunked::full_null(name.into(), table.height()),
    }
}

/// A free-text column (a change summary, a finding's description): trimmed, missing markers as
/// nulls, kept whole however long.
pub fn free_text(table: &RawTable, src: &Source, name: &str) -> StringChunked {
    match raw(table, src) {
        Some(values) => {
            let mut out: StringChunked = values.map(clean).collect();
            out.rename(name.into());
            out
        }
        None => StringChunked::full_null(name.into(), table.height()),
    }
}

/// A text column straight to categorical codes (trimmed, missing markers as nulls): no string
/// column is built on the way.
pub fn categorical_text(
    table: &RawTable,
    src: &Source,
    name: &str,
    dtype: &DataType,
    problems: &mut RowProblems,
) -> Result<Column> {
    let mut failed = None;
    let DataType::Categorical(_, mapping) = dtype else {
        return Err(Error::Internal(format!("categorical column {name}: not a categorical type")));
    };
    // a text's code, and whether the text was kept shortened
    let mut code_of = |text: &str| {
        let kept = shorten_long_text(text);
        let long = matches!(kept, std::borrow::Cow::Owned(_));
        mapping.insert_cat(&kept).map_err(|e| failed = Some(e)).ok().map(|code| (code, long))
    };
    if let Some(ca) = stored_text(table, src) {
        let mut codes = Nullable::<UInt32Type>::with_capacity(ca.len());
        let mut row = 0;
        per_distinct(
            ca,
            |s| clean(Some(s)).and_then(&mut code_of),
            |code| {
                let code = code.flatten();
                if code.is_some_and(|(_, long)| long) {
                    problems.shortened(row, name);
                }
                codes.push(code.map(|(c, _)| c));
                row += 1;
            },
        );
        return categorical_column(codes, failed, name, dtype);
    }
    let Some(values) = raw(table, src) else {
        let ca = Categorical32Chunked::full_null_with_dtype(name.into(), table.height(), dtype.clone());
        return Ok(ca.into_series().into_column());
    };
    // Each distinct text of the block looked up once in the categories all threads share (a
    // block repeats a few hundred texts thousands of times; the shared lookup was 7% of
    // reading a 10M-ticket export).
    let mut codes: PlHashMap<&str, (u32, bool)> = PlHashMap::new();
    let mut cats = Nullable::<UInt32Type>::with_capacity(table.height());
    for (row, value) in values.enumerate() {
        let code = clean(value).and_then(|text| match codes.get(text) {
            Some(&code) => Some(code),
            None => {
                let code = code_of(text)?;
                codes.insert(text, code);
                Some(code)
            }
        });
        if code.is_some_and(|(_, long)| long) {
            problems.shortened(row, name);
        }
        cats.push(code.map(|(c, _)| c));
    }
    categorical_column(cats, failed, name, dtype)
}

/// The categorical column of `codes`, each handed out by `dtype`'s mapping; the mapping's
/// refusal (`failed`) as an error.
fn categorical_column(
    codes: Nullable<UInt32Type>,
    failed: Option<PolarsError>,
    name: &str,
    dtype: &DataType,
) -> Result<Column> {
    if let Some(e) = failed {
        return Err(Error::Internal(format!("categorical column {name}: {e}")));
    }
    // SAFETY: every code was handed out by this very mapping for its text.
    let ca = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(codes.finish(name), dtype.clone()) };
    Ok(ca.into_series().into_column())
}

/// Decide how `a/b/yyyy` dates of a file are read: `--date-order` first, then what the values
/// settle (a day above 12), then the profile's default; otherwise the file is ambiguous.
pub fn settle_order(
    table: &RawTable,
    sources: &[&Source],
    opts: &LoadOptions,
    profile_default: Option<DateOrder>,
) -> Result<Option<DateOrder>> {
    if opts.date_order.is_some() {
        return Ok(opts.date_order);
    }
    let seen = order_evidence(table, sources);
    if seen.settled.is_some() {
        return Ok(seen.settled);
    }
    decide_order(&table.path, seen, profile_default)
}

/// What one table (or block) says about the order of its `a/b/yyyy` dates.
#[derive(Debug, Clone, Default)]
pub struct OrderSeen {
    /// the order the first decisive value settles
    pub settled: Option<DateOrder>,
    /// the first `a/b/yyyy` value, for the error message
    pub example: Option<String>,
}

pub fn order_evidence(table: &RawTable, sources: &[&Source]) -> OrderSeen {
    let mut evidence = OrderEvidence::default();
    let mut seen = OrderSeen::default();
    // A value the configuration's date format reads needs no order (those it does not fit go
    // to the built-in rules), nor does a column stored as timestamps.
    for src in sources.iter().filter(|s| typed(table, s).is_none()) {
        let format = match src {
            Source::Dated(_, f) => Some(&**f),
            _ => None,
        };
        if let Some(values) = raw(table, src) {
            for v in values.flatten().filter(|v| !format.is_some_and(|f| fits_format(v.trim(), f))) {
                let before = evidence.slash_dates;
                evidence.observe(v);
                if !before && evidence.slash_dates {
                    seen.example = Some(v.trim().to_string());
                }
                if evidence.settled().is_some() {
                    seen.settled = evidence.settled();
                    return seen;
                }
            }
        }
    }
    seen
}

/// Whether a value is a date and time, or a date, in the chrono `format`.
fn fits_format(s: &str, format: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, format).is_ok() || chrono::NaiveDate::parse_from_str(s, format).is_ok()
}

/// Without a settling value: the profile's default, else (when `a/b/yyyy` dates were seen) an
/// error asking for --date-order.
pub fn decide_order(
    path: &std::path::Path,
    seen: OrderSeen,
    profile_default: Option<DateOrder>,
) -> Result<Option<DateOrder>> {
    let Some(example) = seen.example else { return Ok(profile_default) };
    if profile_default.is_some() {
        return Ok(profile_default);
    }
    Err(Error::invalid(
        path,
        format!("dates such as '{example}' can be day-first or month-first and no value settles which"),
        "pass --date-order dmy or --date-order mdy",
    ))
}

/// Parse a timestamp column to UTC epoch milliseconds.
pub fn timestamps(
    table: &RawTable,
    src: &Source,
    name: &str,
    order: Option<DateOrder>,
    opts: &LoadOptions,
    problems: &mut RowProblems,
    required: bool,
) -> Int64Chunked {
    let n = table.height();
    if let Some(ca) = typed(table, src).and_then(|s| typed_timestamps(s, name, opts, problems, required)) {
        return ca;
    }
    let Some(values) = raw(table, src) else {
        return Int64Chunked::full_null(name.into(), n);
    };
    let format = match src {
        Source::Dated(_, f) => Some(&**f),
        _ => None,
    };
    let mut out = Nullable::<Int64Type>::with_capacity(n);
    for (i, v) in values.enumerate() {
        match clean(v) {
            None => {
                if required {
                    problems.add(i, name, v.unwrap_or(""), format!("{name} is empty"));
                }
                out.push(None);
            }
            Some(s) => match parse_with(s, format, opts).map_or_else(|| parse_timestamp(s, order, opts.tz), Ok) {
                Ok(ms) => out.push(Some(ms)),
                Err(reason) => {
                    problems.add(i, name, s, reason);
                    out.push(None);
                }
            },
        }
    }
    out.finish(name)
}

/// The column of a plain mapping, when the file stored it typed (Parquet/IPC): its values are
/// checked as they are, without a round trip through text.
fn typed<'t>(table: &'t RawTable, src: &Source) -> Option<&'t Series> {
    match src {
        Source::Column(i) | Source::Dated(i, _) | Source::StationsMinusOne(i) => table.typed(*i),
        _ => None,
    }
}

/// A stored timestamp or date as UTC epoch milliseconds: one with a time zone is an instant;
/// one without is a wall-clock time in the run's time zone, as the same text in a CSV would be.
/// None for other types (they are read as text).
fn typed_timestamps(
    s: &Series,
    name: &str,
    opts: &LoadOptions,
    problems: &mut RowProblems,
    required: bool,
) -> Option<Int64Chunked> {
    const DAY_MS: i64 = 86_400_000;
    let (per_ms, wall_clock): (i64, bool) = match s.dtype() {
        DataType::Datetime(TimeUnit::Nanoseconds, tz) => (1_000_000, tz.is_none()),
        DataType::Datetime(TimeUnit::Microseconds, tz) => (1_000, tz.is_none()),
        DataType::Datetime(TimeUnit::Milliseconds, tz) => (1, tz.is_none()),
        DataType::Date => (1, true),
        _ => return None,
    };
    let physical = s.to_physical_repr().cast(&DataType::Int64).ok()?;
    let days = matches!(s.dtype(), DataType::Date);
    let mut out = Nullable::<Int64Type>::with_capacity(s.len());
    for (i, v) in physical.i64().ok()?.iter().enumerate() {
        let Some(v) = v else {
            if required {
                problems.add(i, name, "", format!("{name} is empty"));
            }
            out.push(None);
            continue;
        };
        let ms = if days { v.saturating_mul(DAY_MS) } else { v.div_euclid(per_ms) };
        // Beyond the calendar (about ±262,000 years from 1970; a `timestamp[s]` past ±2^63 ms
        // arrives saturated, see ingest::seconds_as_millis): the row is rejected, as the text
        // would be, instead of reaching the periods as a date no one meant.
        if chrono::DateTime::from_timestamp_millis(ms).is_none() {
            let unit = match (days, per_ms) {
                (true, _) => "days",
                (false, 1) => "ms",
                (false, 1_000) => "µs",
                (false, _) => "ns",
            };
            let reason = if unit == "ms" && (v == i64::MAX || v == i64::MIN) {
                format!("{name} is out of range: more than 2^63 milliseconds from 1970-01-01")
            } else {
                format!("{name} is out of range: {v} {unit} from 1970-01-01 is beyond any calendar date")
            };
            problems.add(i, name, &v.to_string(), reason);
            out.push(None);
            continue;
        }
        if !wall_clock {
            out.push(Some(ms));
            continue;
        }
        match local_to_utc_millis(ms, opts.tz) {
            Ok(utc) => out.push(Some(utc)),
            Err(reason) => {
                let shown =
                    chrono::DateTime::from_timestamp_millis(ms).map_or(ms.to_string(), |t| t.naive_utc().to_string());
                problems.add(i, name, &shown, format!("invalid timestamp '{shown}': {reason}"));
                out.push(None);
            }
        }
    }
    Some(out.finish(name))
}

/// Stored integers checked as the text parser checks them (`check` gives the value or the
/// reason); None when the column is not an integer column.
fn typed_integers<T: PolarsNumericType>(
    s: &Series,
    name: &str,
    problems: &mut RowProblems,
    check: impl Fn(i64) -> std::result::Result<T::Native, String>,
) -> Option<ChunkedArray<T>> {
    if !s.dtype().is_integer() {
        return None;
    }
    let ints = s.cast(&DataType::Int64).ok()?;
    let mut out = Nullable::<T>::with_capacity(s.len());
    for (i, v) in ints.i64().ok()?.iter().enumerate() {
        out.push(v.and_then(|v| match check(v) {
            Ok(x) => Some(x),
            Err(reason) => {
                problems.add(i, name, &v.to_string(), reason);
                None
            }
        }));
    }
    Some(out.finish(name))
}

/// A timestamp in the configuration's format (a date and time, or a date alone at midnight), in
/// the run's time zone; `None` when it is not in that format.
fn parse_with(s: &str, format: Option<&str>, opts: &LoadOptions) -> Option<i64> {
    use chrono::TimeZone;
    let format = format?;
    let naive = chrono::NaiveDateTime::parse_from_str(s, format)
        .ok()
        .or_else(|| chrono::NaiveDate::parse_from_str(s, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    opts.tz.from_local_datetime(&naive).earliest().map(|t| t.timestamp_millis())
}

/// A required text column: an empty value rejects the row.
pub fn required_text(table: &RawTable, src: &Source, name: &str, problems: &mut RowProblems) -> StringChunked {
    let ca = text(table, src, name, problems);
    for (i, v) in ca.iter().enumerate() {
        if v.is_none() {
            problems.add(i, name, "", format!("{name} is empty"));
        }
    }
    ca
}

pub fn priorities(table: &RawTable, src: &Source, name: &str, problems: &mut RowProblems) -> Int32Chunked {
    let stored = typed(table, src).and_then(|s| {
        typed_integers(s, name, problems, |v| match v {
            1..=5 => Ok(v as i32),
            _ => parse_priority(&v.to_string()),
        })
    });
    stored.unwrap_or_else(|| {
        let mut out = Nullable::with_capacity(table.height());
        parse_each(table, src, name, problems, parse_priority, |v| out.push(v));
        out.finish(name)
    })
}

pub fn counts(table: &RawTable, src: &Source, name: &str, problems: &mut RowProblems) -> Int64Chunked {
    let stations = matches!(src, Source::StationsMinusOne(_));
    let stored = typed(table, src).and_then(|s| {
        typed_integers(s, name, problems, |v| match v {
            0..=1_000_000_000_000 if stations => Ok((v - 1).max(0)),
            0..=1_000_000_000_000 => Ok(v),
            _ => parse_count(&v.to_string()),
        })
    });
    if let Some(ca) = stored {
        return ca;
    }
    let mut out = Nullable::with_capacity(table.height());
    match src {
        // Zendesk counts the groups that held a ticket; one group means no reassignment.
        Source::StationsMinusOne(_) => {
            parse_each(table, src, name, problems, |s| parse_count(s).map(|v| (v - 1).max(0)), |v| out.push(v))
        }
        _ => parse_each(table, src, name, problems, parse_count, |v| out.push(v)),
    };
    out.finish(name)
}

pub fn bools(table: &RawTable, src: &Source, name: &str, problems: &mut RowProblems) -> BooleanChunked {
    if let Some(stored) = typed(table, src).and_then(|s| s.bool().ok()) {
        let mut out = stored.clone();
        out.rename(name.into());
        return out;
    }
    let mut vals = Vec::with_capacity(table.height());
    let mut push = |v| vals.push(v);
    match src {
        Source::HasLabel(cols) => {
            vals = vec![Some(false); table.height()];
            for &c in cols {
                for (i, v) in table.values(c).into_iter().flatten().enumerate() {
                    if v.is_some_and(has_escalated_label) {
                        vals[i] = Some(true);
                    }
                }
            }
        }
        Source::EscalationLevel(_) => parse_each(table, src, name, problems, parse_escalation_level, &mut push),
        Source::SlaText(_) => parse_each(table, src, name, problems, parse_sla_text, &mut push),
        _ => parse_each(table, src, name, problems, parse_bool, &mut push),
    }
    BooleanChunked::from_iter_options(name.into(), vals.into_iter())
}

/// Parse every value of a column; a missing column gives all nulls.
fn parse_each<V: Clone, F>(
    table: &RawTable,
    src: &Source,
    name: &str,
    problems: &mut RowProblems,
    parse: F,
    mut each: impl FnMut(Option<V>),
) where
    F: Fn(&str) -> std::result::Result<V, String>,
{
    if let Some(ca) = stored_text(table, src) {
        let mut i = 0;
        per_distinct(
            ca,
            |s| clean(Some(s)).map(&parse),
            |v| {
                each(match v.flatten() {
                    None => None,
                    Some(Ok(x)) => Some(x),
                    Some(Err(reason)) => {
                        let s = ca.get(i).and_then(|s| clean(Some(s))).unwrap_or_default();
                        problems.add(i, name, s, reason);
                        None
                    }
                });
                i += 1;
            },
        );
        return;
    }
    let Some(values) = raw(table, src) else {
        (0..table.height()).for_each(|_| each(None));
        return;
    };
    for (i, v) in values.enumerate() {
        each(match clean(v) {
            None => None,
            Some(s) => match parse(s) {
                Ok(x) => Some(x),
                Err(reason) => {
                    problems.add(i, name, s, reason);
                    None
                }
            },
        });
    }
}

/// A UTC timestamp column as polars Datetime(ms, UTC).
pub fn datetime_column(ca: Int64Chunked) -> Column {
    ca.into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)).into_column()
}
