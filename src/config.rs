//! The configuration file (TOML). Every setting has a documented default; `init-config` writes
//! [`DEFAULT_TOML`], which a test keeps equal to `Config::default()`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::period::Period;

/// The documented default configuration, as `sop-impact init-config` writes it.
pub const DEFAULT_TOML: &str = r#"# sop-impact configuration. Every key is optional; these are the defaults.

[sla]
# Resolution targets in hours for priorities 1..5. Used for SLA attainment when an export has no
# SLA outcome (made_sla) for a ticket: a resolved ticket met its SLA when it was resolved within
# the target of its priority. Tickets without a priority use the priority-3 target.
target_hours = [4.0, 8.0, 24.0, 72.0, 168.0]

[metrics]
# Period of the per-process tables and trend charts: "month", "week" (ISO) or "quarter".
period = "month"
# Analysts with fewer resolved tickets than this in a group are left out of analyst consistency.
min_analyst_tickets = 5
# What counts as "not right first time" in the error rate.
error_includes_reopened = true
error_includes_reassigned = true
error_includes_handling_error = true
# Change close codes (case-insensitive substrings) that mark a failed change.
change_failure_codes = ["unsuccessful", "with issues", "fail", "backed out", "rolled back"]
# Run each query once per part of the groups instead of over all tickets at once: a lower
# memory peak on exports of millions of tickets, a little slower. Needs every query to compute
# each group from its own rows, as the bundled ones do. Also `--low-memory`.
low_memory = false

[compare]
# Significance level for verdicts (after Benjamini-Hochberg).
alpha = 0.05
# Fewer tickets than this on either side of a change: insufficient_data.
min_n = 30
# Days compared either side of each change (the command line's --window overrides it).
window_days = 90

[backlog]
# Weights of the component scores (each scaled 0-1 across processes) in the backlog score.
volume = 0.25
risk = 0.20
pain = 0.25
inconsistency = 0.10
state = 0.20

[review]
# Months between reviews an SOP's risk tier implies (tiers: the backlog's risk score, in thirds).
high_risk_months = 6
medium_risk_months = 12
low_risk_months = 24

# Exports no profile knows: per input ([tickets], [sops], [changes], [audits]), which header
# holds each canonical column, how values map onto canonical ones, and a date format tried
# before the built-in ones. Nothing is mapped by default. For example:
#
# [tickets]
# columns = { ticket_id = "Incident Ref", opened_at = "Logged On", resolved_at = "Fixed On", priority = "Prio" }
# date_format = "%d/%m/%Y %H:%M"
# delimiter = ";"           # when detection picks the wrong one: , ; | tab
# encoding = "windows-1252" # when detection picks the wrong one: utf-8, utf-16le, windows-1252, latin1
# profile = "glpi"          # this input's profile, overriding --profile
# [tickets.values]
# priority = { "Critical" = "1", "High" = "2", "Medium" = "3", "Low" = "4" }
# made_sla = { "Yes" = "false", "No" = "true" }
"#;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub sla: Sla,
    pub metrics: Metrics,
    pub compare: Compare,
    pub backlog: BacklogWeights,
    pub review: Review,
    pub tickets: InputMapping,
    pub sops: InputMapping,
    pub changes: InputMapping,
    pub audits: InputMapping,
}

/// Per input, how its export maps onto the canonical columns (`[tickets]`, `[sops]`,
/// `[changes]`, `[audits]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputMappings {
    pub tickets: InputMapping,
    pub sops: InputMapping,
    pub changes: InputMapping,
    pub audits: InputMapping,
}

/// How one export maps onto the canonical columns, for a layout no profile knows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputMapping {
    /// canonical column = the header of the file's column that holds it
    pub columns: BTreeMap<String, String>,
    /// per canonical column: value in the file = canonical value (`"Critical" = "1"`)
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// a chrono format (`%d/%m/%Y %H:%M`) tried before the built-in timestamp formats
    pub date_format: Option<String>,
    /// the field delimiter, when detection picks the wrong one: `,` `;` `|` or `tab`
    pub delimiter: Option<String>,
    /// the text encoding, when detection picks the wrong one: `utf-8`, `utf-16le`, `utf-16be`,
    /// `windows-1252` (or `latin1`)
    pub encoding: Option<String>,
    /// the profile of this input (as `--profile`, which it overrides for this input)
    pub profile: Option<String>,
    /// the config file and the line of each `columns` and `values` entry (under `columns.<name>`
    /// and `values.<name>`), for messages
    #[serde(skip)]
    pub lines: BTreeMap<String, (PathBuf, u64)>,
}

impl InputMapping {
    /// The configured delimiter as a byte.
    pub fn delimiter_byte(&self) -> Option<u8> {
        match self.delimiter.as_deref()? {
            "," => Some(b','),
            ";" => Some(b';'),
            "|" => Some(b'|'),
            "tab" | "\t" | "\\t" => Some(b'\t'),
            _ => None,
        }
    }

    /// The configured encoding.
    pub fn text_encoding(&self) -> Option<&'static encoding_rs::Encoding> {
        encoding_rs::Encoding::for_label(self.encoding.as_deref()?.as_bytes())
    }

    /// Where each `columns` and `values` entry of `[section]` is in the config text, as the TOML
    /// parser places its key: whatever the quoting of the header (basic, literal or escaped
    /// strings), dotted keys or inline tables.
    fn locate(&mut self, section: &str, path: &Path, lines: &Lines<'_>) {
        let entries = self.columns.keys().map(|c| ("columns", c)).chain(self.values.keys().map(|c| ("values", c)));
        for (key, canonical) in entries {
            let line = lines.of(&[section, key, canonical.as_str()]);
            self.lines.insert(format!("{key}.{canonical}"), (path.to_path_buf(), line));
        }
    }

    /// "config.toml:4" for the entry `key.canonical` (`key` is `columns` or `values`), or "the
    /// configuration".
    pub fn where_is(&self, key: &str, canonical: &str) -> String {
        match self.lines.get(&format!("{key}.{canonical}")) {
            Some((path, line)) if *line > 0 => format!("{}:{line}", path.display()),
            Some((path, _)) => path.display().to_string(),
            None => "the configuration".into(),
        }
    }
}

/// The config text as the TOML parser reads it, to tell the line of a key in messages.
struct Lines<'t> {
    text: &'t str,
    root: Option<toml::de::DeTable<'t>>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Lines { text, root: toml::de::DeTable::parse(text).ok().map(toml::Spanned::into_inner) }
    }

    /// The line (from 1) of the key at `keys` (`["tickets", "values", "priority"]`); the line of
    /// the deepest key found when the path goes on past it, 0 when not even the first is there.
    fn of(&self, keys: &[&str]) -> u64 {
        let Some(mut table) = self.root.as_ref() else { return 0 };
        let mut start = None;
        for key in keys {
            let Some((k, v)) = table.iter().find(|(k, _)| {
                let name: &str = k.get_ref();
                name == *key
            }) else {
                break;
            };
            start = Some(k.span().start);
            match v.get_ref().as_table() {
                Some(t) => table = t,
                None => break,
            }
        }
        let Some(start) = start else { return 0 };
        self.text.as_bytes().get(..start).map_or(0, |before| before.iter().filter(|&&b| b == b'\n').count() as u64 + 1)
    }
}

/// An error about the key at `keys` of the config file: at its line when found.
fn at_key(path: &Path, lines: &Lines<'_>, keys: &[&str], problem: String) -> Error {
    let fix = "see `sop-impact init-config` for the allowed values";
    match lines.of(keys) {
        0 => Error::invalid(path, problem, fix),
        line => Error::InvalidAt { path: path.to_path_buf(), line, problem, fix: Some(fix.into()) },
    }
}

/// A value of the config file as a message quotes it: cut, so that a 100 KB value does not
/// print whole.
fn quote(value: &str) -> std::borrow::Cow<'_, str> {
    sop_impact_parse::values::clip(value, 60)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BacklogWeights {
    pub volume: f64,
    pub risk: f64,
    pub pain: f64,
    pub inconsistency: f64,
    pub state: f64,
}

impl Default for BacklogWeights {
    fn default() -> Self {
        BacklogWeights { volume: 0.25, risk: 0.20, pain: 0.25, inconsistency: 0.10, state: 0.20 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Review {
    pub high_risk_months: u32,
    pub medium_risk_months: u32,
    pub low_risk_months: u32,
}

impl Default for Review {
    fn default() -> Self {
        Review { high_risk_months: 6, medium_risk_months: 12, low_risk_months: 24 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    pub target_hours: [f64; 5],
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    pub period: Period,
    pub min_analyst_tickets: u32,
    pub error_includes_reopened: bool,
    pub error_includes_reassigned: bool,
    pub error_includes_handling_error: bool,
    pub change_failure_codes: Vec<String>,
    pub low_memory: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Compare {
    pub alpha: f64,
    pub min_n: u32,
    pub window_days: u32,
}

impl Default for Sla {
    fn default() -> Self {
        Sla { target_hours: [4.0, 8.0, 24.0, 72.0, 168.0] }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            period: Period::Month,
            min_analyst_tickets: 5,
            error_includes_reopened: true,
            error_includes_reassigned: true,
            error_includes_handling_error: true,
            change_failure_codes: ["unsuccessful", "with issues", "fail", "backed out", "rolled back"]
                .map(String::from)
                .to_vec(),
            low_memory: false,
        }
    }
}

impl Default for Compare {
    fn default() -> Self {
        Compare { alpha: 0.05, min_n: 30, window_days: 90 }
    }
}

impl Config {
    /// Read a config file; no file means the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
        let config: Config = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() as u64 + 1).unwrap_or(0);
            Error::InvalidAt {
                path: path.to_path_buf(),
                line,
                // toml's message quotes the value it could not read (`unknown variant `…``): cut
                problem: sop_impact_parse::values::clip(e.message().trim(), 400).into_owned(),
                fix: Some("see `sop-impact init-config` for every key and its default".into()),
            }
        })?;
        let lines = Lines::new(&text);
        let mut config = config;
        config.check(path, &lines)?;
        config.check_date_formats(path, &lines)?;
        for (section, mapping) in [
            ("tickets", &mut config.tickets),
            ("sops", &mut config.sops),
            ("changes", &mut config.changes),
            ("audits", &mut config.audits),
        ] {
            mapping.locate(section, path, &lines);
        }
        Ok(config)
    }

    /// The mappings of the four inputs.
    pub fn mappings(&self) -> InputMappings {
        InputMappings {
            tickets: self.tickets.clone(),
            sops: self.sops.clone(),
            changes: self.changes.clone(),
            audits: self.audits.clone(),
        }
    }

    /// A `date_format` chrono cannot read would silently fit no value: a usage error at its line.
    fn check_date_formats(&self, path: &Path, lines: &Lines<'_>) -> Result<()> {
        use chrono::format::{Item, StrftimeItems};
        for (section, m) in
            [("tickets", &self.tickets), ("sops", &self.sops), ("changes", &self.changes), ("audits", &self.audits)]
        {
            let Some(f) = &m.date_format else { continue };
            if !StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                continue;
            }
            let line = lines.of(&[section, "date_format"]);
            return Err(Error::Usage(format!(
                "{}:{line}: [{section}] date_format = '{}' is not a date format (chrono's strftime specifiers: %Y %m %d %H %M %S, %b for a month name, %p for AM/PM …); \
                 correct it or remove the line to use the built-in formats",
                path.display(),
                quote(f)
            )));
        }
        Ok(())
    }

    /// Values no run could use, each refused at its line (`config.toml:7`), the value cut.
    fn check(&self, path: &Path, lines: &Lines<'_>) -> Result<()> {
        if self.sla.target_hours.iter().any(|h| !(h.is_finite() && *h > 0.0)) {
            return Err(at_key(
                path,
                lines,
                &["sla", "target_hours"],
                "sla.target_hours must be five positive numbers of hours".into(),
            ));
        }
        let w = &self.backlog;
        for (key, x) in [
            ("volume", w.volume),
            ("risk", w.risk),
            ("pain", w.pain),
            ("inconsistency", w.inconsistency),
            ("state", w.state),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(at_key(
                    path,
                    lines,
                    &["backlog", key],
                    format!("backlog.{key} = {x}: backlog weights must be numbers of 0 or more"),
                ));
            }
        }
        if !(self.compare.alpha > 0.0 && self.compare.alpha < 1.0) {
            return Err(at_key(path, lines, &["compare", "alpha"], "compare.alpha must be between 0 and 1".into()));
        }
        for (section, m) in
            [("tickets", &self.tickets), ("sops", &self.sops), ("changes", &self.changes), ("audits", &self.audits)]
        {
            if let Some(d) = &m.delimiter {
                if m.delimiter_byte().is_none() {
                    return Err(at_key(
                        path,
                        lines,
                        &[section, "delimiter"],
                        format!("[{section}] delimiter = '{}' is not one of , ; | tab", quote(d)),
                    ));
                }
            }
            if let Some(e) = &m.encoding {
                if encoding_rs::Encoding::for_label(e.as_bytes()).is_none() {
                    return Err(at_key(
                        path,
                        lines,
                        &[section, "encoding"],
                        format!(
                            "[{section}] encoding = '{}' is not an encoding name (utf-8, utf-16le, windows-1252, latin1)",
                            quote(e)
                        ),
                    ));
                }
            }
            if let Some(p) = &m.profile {
                if !["auto", "canonical", "servicenow", "jira", "zendesk", "freshdesk", "glpi", "otrs"]
                    .contains(&p.as_str())
                {
                    return Err(at_key(
                        path,
                        lines,
                        &[section, "profile"],
                        format!(
                            "[{section}] profile = '{}' is not a profile (auto, canonical, servicenow, jira, zendesk, freshdesk, glpi, otrs)",
                            quote(p)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_default_is_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[metrics]\nperiod = \"month\"\nmin_analyst = 3\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("c.toml:3:") && e.contains("min_analyst"), "{e}");
        std::fs::write(&p, "[metrics]\nperiod = \"fortnight\"\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("fortnight") && e.contains("`month`, `week`, `quarter`"), "{e}");
        std::fs::write(&p, "[tickets]\nprofile = \"auto\"\ndate_format = \"%d.%Q.%Y\"\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        assert!(e.to_string().contains("c.toml:3:") && e.to_string().contains("%d.%Q.%Y"), "{e}");
    }

    #[test]
    fn every_check_and_mapping_entry_names_its_line_and_cuts_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Config::load(Some(&p))
        };
        for (text, line) in [
            ("[compare]\n\nalpha = 2.0\n", 3),
            ("[tickets]\nprofile = \"auto\"\ndelimiter = \"::\"\n", 3),
            ("[sops]\n# x\nencoding = 'klingon'\n", 3),
            ("[changes]\nprofile = \"remedy\"\n", 2),
            ("[sla]\ntarget_hours = [4.0, 8.0, 0.0, 72.0, 168.0]\n", 2),
            ("[backlog]\nvolume = 0.2\nrisk = -1.0\n", 3),
            ("audits.delimiter = \"::\"\n", 1),
            ("[tickets]\ndate_format = '%Q'\n", 2),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(&format!("c.toml:{line}:")), "{text:?}: {e}");
        }
        let huge = "x".repeat(100_000);
        for text in [format!("[tickets]\ndelimiter = \"{huge}\"\n"), format!("[metrics]\nperiod = \"{huge}\"\n")] {
            let e = load(text.as_str()).unwrap_err().to_string();
            assert!(
                e.contains("c.toml:2:") && e.len() < 1_000,
                "{} bytes: {}",
                e.len(),
                sop_impact_parse::values::clip(&e, 200)
            );
        }
        // Literal and escaped strings, a value map under its own header, a blank line between.
        let c = load(
            "[tickets]\ncolumns = { ticket_id = 'No Such Column' }\n[tickets.values]\n\nprio = { \"High\" = \"2\" }\n\
             [sops]\ncolumns = { sop_id = \"No\\u0020Such\\tColumn\" }\n",
        )
        .unwrap();
        assert_eq!(c.sops.columns["sop_id"], "No Such\tColumn");
        assert!(c.tickets.where_is("columns", "ticket_id").ends_with("c.toml:2"), "{:?}", c.tickets.lines);
        assert!(c.tickets.where_is("values", "prio").ends_with("c.toml:5"), "{:?}", c.tickets.lines);
        assert!(c.sops.where_is("columns", "sop_id").ends_with("c.toml:7"), "{:?}", c.sops.lines);
        assert_eq!(c.sops.where_is("values", "sop_id"), "the configuration");
    }
}
