//! A first mapping of a ticket export no profile fully knows, for `init-config --from`: the
//! header names the profiles know, then the shapes of the values (the columns whose values read
//! as timestamps, as priorities, as yes/no, a column whose values are all different). The result
//! is a `[tickets]` section to edit rather than write, with a sample value beside every entry.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use super::profile::{map_header, InputKind, Profile, Source, TICKET_COLUMNS};
use super::{open_table, RawTable};
use crate::config::InputMapping;
use crate::error::{Error, Result};
use sop_impact_parse::time::{parse_timestamp, DateOrder};
use sop_impact_parse::values::{clean, parse_bool, parse_priority};

/// Rows looked at: enough to see the shapes, few enough for any file.
const SAMPLE_ROWS: usize = 200;
/// Formats tried when the built-in timestamp rules cannot read a column's values.
const DATE_FORMATS: [&str; 8] = [
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y/%m/%d %H:%M",
];

/// What `init-config --from` found in an export.
pub struct Guess {
    /// the `[tickets]` section, ready to be appended to the default configuration
    pub section: String,
    /// canonical columns it could not place
    pub not_found: Vec<&'static str>,
    /// the profile the header matches, if any
    pub profile: Profile,
}

/// Up to SAMPLE_ROWS values of every column of the file's first block.
fn sample(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut every = |headers: &[String], _| Ok(vec![true; headers.len()]);
    let opened = open_table(path, &mut every, super::TextOverrides::default())?;
    let take = |t: &RawTable| -> Result<Vec<Vec<String>>> {
        Ok((0..t.headers.len())
            .map(|i| {
                t.values(i)
                    .map(|v| v.take(SAMPLE_ROWS).map(|s| s.unwrap_or("").trim().to_string()).collect())
                    .unwrap_or_default()
            })
            .collect())
    };
    let parts = opened.read_parts(Some(1 << 20), &take)?;
    let columns = parts.parts.into_iter().next().unwrap_or_default();
    Ok((opened.headers.clone(), columns))
}

fn filled(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).filter(|v| clean(Some(v)).is_some()).collect()
}

/// Whether most filled values of a column pass `test` (and there is at least one).
fn mostly(values: &[String], test: impl Fn(&str) -> bool) -> bool {
    let f = filled(values);
    !f.is_empty() && f.iter().filter(|v| test(v)).count() * 10 >= f.len() * 9
}

/// A format that reads every filled value, where the built-in rules (without a date order) do not.
fn date_format_for(values: &[String]) -> Option<&'static str> {
    let f = filled(values);
    if f.iter().all(|v| parse_timestamp(v, None, chrono_tz::Tz::UTC).is_ok()) {
        return None;
    }
    DATE_FORMATS.into_iter().find(|fmt| f.iter().all(|v| chrono::NaiveDateTime::parse_from_str(v, fmt).is_ok()))
}

fn is_timestamp(values: &[String]) -> bool {
    let read = |v: &str| {
        parse_timestamp(v, Some(DateOrder::Dmy), chrono_tz::Tz::UTC).is_ok()
            || parse_timestamp(v, Some(DateOrder::Mdy), chrono_tz::Tz::UTC).is_ok()
    };
    mostly(values, read) || date_format_for(values).is_some()
}

/// Guess the mapping of the ticket export at `path`.
pub fn guess_tickets(path: &Path) -> Result<Guess> {
    let (headers, columns) = sample(path)?;
    if headers.is_empty() {
        return Err(Error::invalid(path, "has no header", "export it with its header row"));
    }
    let none = InputMapping::default();
    // What the profile's header names place stays the profile's (it may split or translate the
    // values); the guesses fill in the rest.
    let (profile, known) = match map_header(InputKind::Tickets, Profile::Auto, &headers, &none) {
        Ok(m) => (m.profile, placed(&m.columns)),
        Err(_) => (Profile::Canonical, Vec::new()),
    };
    let mut chosen: Vec<(&'static str, usize)> = Vec::new();
    let empty = Vec::new();
    let values = |i: usize| columns.get(i).unwrap_or(&empty);
    let free = |chosen: &[(&str, usize)], i: usize| !chosen.iter().chain(&known).any(|(_, j)| *j == i);
    let has = |chosen: &[(&str, usize)], c: &str| chosen.iter().chain(&known).any(|(d, _)| *d == c);
    // Timestamps in header order: opened, then resolved, then closed.
    let stamps: Vec<usize> = (0..headers.len()).filter(|&i| free(&chosen, i) && is_timestamp(values(i))).collect();
    let mut stamps = stamps.into_iter();
    for c in ["opened_at", "resolved_at", "closed_at"] {
        if !has(&chosen, c) {
            if let Some(i) = stamps.next() {
                chosen.push((c, i));
            }
        }
    }
    if !has(&chosen, "ticket_id") {
        let unique = (0..headers.len()).find(|&i| {
            let f = filled(values(i));
            free(&chosen, i) && !f.is_empty() && f.iter().collect::<BTreeSet<_>>().len() == f.len()
        });
        if let Some(i) = unique {
            chosen.push(("ticket_id", i));
        }
    }
    if !has(&chosen, "priority") {
        let p = (0..headers.len()).find(|&i| free(&chosen, i) && mostly(values(i), |v| parse_priority(v).is_ok()));
        if let Some(i) = p {
            chosen.push(("priority", i));
        }
    }
    // Then words in the remaining headers.
    for (c, words) in HEADER_WORDS {
        if has(&chosen, c) {
            continue;
        }
        let found = (0..headers.len()).find(|&i| {
            let h = super::profile::normalise_header(headers.get(i).map_or("", String::as_str));
            free(&chosen, i) && words.iter().any(|w| h.contains(w))
        });
        if let Some(i) = found {
            chosen.push((c, i));
        }
    }
    chosen.sort_by_key(|(c, _)| TICKET_COLUMNS.iter().position(|t| t == c));
    let not_found: Vec<&'static str> =
        TICKET_COLUMNS.iter().copied().filter(|c| !has(&chosen, c) && !c.starts_with("sys_")).collect();
    let section = render(&headers, &columns, &chosen, &known, profile, &not_found);
    Ok(Guess { section, not_found, profile })
}

/// Words in a header (normalised) that suggest a canonical column.
const HEADER_WORDS: [(&str, &[&str]); 8] = [
    ("status", &["status", "state", "estado"]),
    ("category", &["categor", "service"]),
    ("assignment_group", &["team", "group", "queue"]),
    ("assignee", &["engineer", "agent", "technician", "owner", "assignee", "analyst"]),
    ("reopen_count", &["reopen"]),
    ("escalated", &["escalat"]),
    ("made_sla", &["sla", "breach"]),
    ("handling_error", &["error"]),
];

/// The canonical columns a mapping places, with the column each is read from.
fn placed(columns: &[(&'static str, Source)]) -> Vec<(&'static str, usize)> {
    columns.iter().filter_map(|(c, s)| Some((*c, *s.columns().first()?))).collect()
}

/// Whether the rules of canonical column `c` read most of these values.
fn readable(c: &str, values: &[String]) -> bool {
    use sop_impact_parse::values::{parse_count, parse_sla_text};
    match c {
        "priority" => mostly(values, |v| parse_priority(v).is_ok()),
        "made_sla" => mostly(values, |v| parse_sla_text(v).is_ok()),
        "escalated" | "handling_error" => mostly(values, |v| parse_bool(v).is_ok()),
        "reopen_count" | "reassignment_count" => mostly(values, |v| parse_count(v).is_ok()),
        c if c.ends_with("_at") => is_timestamp(values),
        _ => true,
    }
}

/// A yes/no column that stands for a count (a reopen flag): each value's count, 1 or 0.
fn flag_as_count(c: &str, values: &[String]) -> Option<BTreeSet<(String, &'static str)>> {
    if !matches!(c, "reopen_count" | "reassignment_count") || !mostly(values, |v| parse_bool(v).is_ok()) {
        return None;
    }
    Some(
        filled(values)
            .into_iter()
            .filter_map(|v| Some((v.to_string(), if parse_bool(v).ok()? { "1" } else { "0" })))
            .collect(),
    )
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn render(
    headers: &[String],
    columns: &[Vec<String>],
    chosen: &[(&str, usize)],
    known: &[(&str, usize)],
    profile: Profile,
    not_found: &[&str],
) -> String {
    let empty = Vec::new();
    let values = |i: usize| columns.get(i).unwrap_or(&empty);
    // A sample value on one comment line: line breaks inside a quoted field become spaces.
    let example = |i: usize| {
        let first = filled(values(i)).first().map(|v| sop_impact_parse::values::clip(v, 40)).unwrap_or_default();
        first.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>()
    };
    // A header the file repeats is written as its position (`"#5"`), which the reader takes.
    let repeated = |i: usize| {
        let name = headers.get(i).map(|h| crate::ingest::profile::normalise_header(h));
        headers.iter().filter(|h| Some(crate::ingest::profile::normalise_header(h)) == name).count() > 1
    };
    let position = |i: usize| format!("#{}", i + 1);
    let header_or_position =
        |i: usize| if repeated(i) { position(i) } else { headers.get(i).cloned().unwrap_or_default() };
    let header = |i: usize| headers.get(i).map_or("", String::as_str);
    let mut out = String::from(
        "\n# Written by `sop-impact init-config --from`: check each line against the export.\n[tickets.columns]\n",
    );
    let mut flags = String::new();
    let mut maps = String::new();
    for (c, i) in chosen {
        let warn = if *c == "made_sla" && header(*i).to_lowercase().contains("breach") {
            " (a breach column says the opposite of made_sla: map its values in [tickets.values])"
        } else {
            ""
        };
        let line = format!("{c} = {}  # e.g. {}{warn}", toml_string(&header_or_position(*i)), example(*i));
        if let Some(pairs) = flag_as_count(c, values(*i)) {
            let pairs: Vec<String> = pairs.iter().map(|(v, n)| format!("{} = \"{n}\"", toml_string(v))).collect();
            let _ = writeln!(flags, "{c} = {{ {} }}", pairs.join(", "));
            let _ = writeln!(out, "{line}");
        } else if readable(c, values(*i)) {
            let _ = writeln!(out, "{line}");
        } else {
            // Its values need a map before the column can be read: left for the user.
            let unread: BTreeSet<&str> = filled(values(*i)).into_iter().take(SAMPLE_ROWS).collect();
            let pairs: Vec<String> = unread.iter().take(12).map(|v| format!("{} = \"?\"", toml_string(v))).collect();
            let _ = writeln!(out, "# {line} — its values need a map first (below)");
            let _ = writeln!(maps, "# {c} = {{ {} }}", pairs.join(", "));
        }
    }
    for (c, i) in known {
        let _ = writeln!(
            out,
            "# {c}: read by the {} profile from {} (e.g. {})",
            profile.name(),
            toml_string(header(*i)),
            example(*i)
        );
    }
    for c in not_found {
        let _ = writeln!(out, "# {c} = \"…\"  # not found: name the column that holds it, if any");
    }
    let _ = writeln!(
        out,
        "# The file's columns: {}",
        headers.iter().map(|h| toml_string(h)).collect::<Vec<_>>().join(", ")
    );
    let stamp_format = chosen.iter().filter(|(c, _)| c.ends_with("_at")).find_map(|(_, i)| date_format_for(values(*i)));
    if let Some(format) = stamp_format {
        let _ = writeln!(out, "\n[tickets]\ndate_format = {}", toml_string(format));
    }
    if !flags.is_empty() {
        let _ = writeln!(out, "\n# Yes/no flags read as counts (1 for yes, 0 for no).\n[tickets.values]\n{flags}");
    }
    if !maps.is_empty() {
        let _ = writeln!(
            out,
            "\n# Values these columns' rules do not read: give each its canonical value, then name the column above.\n# [tickets.values]\n{maps}"
        );
    }
    out
}
