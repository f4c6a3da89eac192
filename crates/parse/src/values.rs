//! Parsers for single values of the canonical columns. Each returns the reason in words when the
//! value cannot be used, so that it can go to rejects.csv as it is.

/// `""`, `?` (ServiceNow's export of an empty reference) and `NULL` are missing values.
pub fn clean(v: Option<&str>) -> Option<&str> {
    let s = trim(v?);
    if s.is_empty() || s == "?" || (s.len() == 4 && s.eq_ignore_ascii_case("null")) {
        None
    } else {
        Some(s)
    }
}

/// `s` without white space around it. Most values have none: the check of their end bytes
/// skips the Unicode trim for them (several calls per row of a 10-million-row export).
pub fn trim(s: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !b.is_ascii_whitespace());
    if plain(s.as_bytes().first()) && plain(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// Priorities are normalised to 1 (most urgent) … 5. Accepts `3`, `P3`, `3 - Moderate` and the
/// words ServiceNow, Jira and Zendesk use.
pub fn parse_priority(s: &str) -> Result<i32, String> {
    let t = trim(s);
    let digits = t.strip_prefix(['p', 'P']).unwrap_or(t);
    let lead = digits.bytes().take_while(u8::is_ascii_digit).count();
    if lead > 0 {
        let (number, rest) = digits.split_at(lead);
        // `3.0`, as pandas writes an integer column with gaps
        let rest =
            rest.strip_prefix('.').filter(|r| !r.is_empty() && r.bytes().all(|b| b == b'0')).map_or(rest, |_| "");
        let rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('-') || rest.starts_with(':') || rest.starts_with('(') {
            return match number.parse::<i32>() {
                Ok(p @ 1..=5) => Ok(p),
                _ => Err(format!("unknown priority '{t}' (numbers must be 1-5)")),
            };
        }
    }
    // English, then the words of Jira, GLPI and Freshdesk in Spanish, Portuguese, French and German.
    let lower = t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let is = |words: &[&str]| words.contains(&lower.as_str());
    if is(&[
        "critical",
        "highest",
        "urgent",
        "blocker",
        "very high",
        "más alta",
        "mas alta",
        "muito alta",
        "très haute",
        "höchste",
        "sehr hoch",
        "urgente",
        "crítica",
        "critica",
    ]) {
        Ok(1)
    } else if is(&["high", "major", "alta", "haute", "hoch"]) {
        Ok(2)
    } else if is(&["moderate", "medium", "normal", "media", "média", "moyenne", "mittel"]) {
        Ok(3)
    } else if is(&["low", "minor", "baja", "baixa", "basse", "niedrig"]) {
        Ok(4)
    } else if is(&[
        "planning",
        "lowest",
        "trivial",
        "very low",
        "más baja",
        "mas baja",
        "muito baixa",
        "très basse",
        "niedrigste",
        "sehr niedrig",
    ]) {
        Ok(5)
    } else {
        Err(format!("unknown priority '{t}' (expected 1-5, P1-P5, '3 - Moderate', or Critical/High/Medium/Low/Lowest)"))
    }
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    let t = trim(s);
    let is = |words: &[&str]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(&["true", "t", "yes", "y", "1"]) {
        Ok(true)
    } else if is(&["false", "f", "no", "n", "0"]) {
        Ok(false)
    } else {
        Err(format!("not a yes/no value: '{s}' (expected true/false, yes/no or 1/0)"))
    }
}

/// A count of events (reopens, reassignments): a whole number ≥ 0. `2.0` is accepted because
/// spreadsheets write integers that way.
pub fn parse_count(s: &str) -> Result<i64, String> {
    let t = trim(s);
    // Plain digits (nearly every count) as an integer; the rest (`2.0`, `1e3`, signs) through
    // the float reading, which took a twentieth of the reading time at 10M tickets.
    if !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()) {
        let v = t.bytes().fold(0i64, |v, b| v * 10 + i64::from(b - b'0'));
        if v <= 1_000_000_000_000 {
            return Ok(v);
        }
    }
    let v: f64 = t.parse().map_err(|_| format!("not a whole number: '{t}'"))?;
    if !v.is_finite() || v.fract() != 0.0 || v.abs() > 1e12 {
        return Err(format!("not a whole number: '{t}'"));
    }
    if v < 0.0 {
        return Err(format!("negative count {t}: a count cannot be below 0"));
    }
    Ok(v as i64)
}

/// ServiceNow `escalation`: `Normal` (0) is not escalated; `Moderate`, `High`, `Overdue` (1-3) are.
pub fn parse_escalation_level(s: &str) -> Result<bool, String> {
    let t = trim(s);
    // `2 - High`: the word after the last " - " (most values have no dash to split at, and a
    // string pattern costs a searcher per value)
    let word = if t.contains('-') { t.rsplit(" - ").next().unwrap_or(t).trim() } else { t };
    let is = |words: &[&str]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
    if t == "0" || is(&["normal"]) {
        Ok(false)
    } else if matches!(t, "1" | "2" | "3") || is(&["moderate", "high", "overdue"]) {
        Ok(true)
    } else {
        Err(format!("unknown escalation '{s}' (expected Normal, Moderate, High or Overdue)"))
    }
}

/// An SLA outcome in words (Jira "Time to resolution", report exports): `Met`, `Within SLA`,
/// `Breached`, `Not met`, `SLA not achieved`. Judged by whole words, so that `Not met` and
/// `unmet` are not read as `met`.
pub fn parse_sla_text(s: &str) -> Result<bool, String> {
    const MISSED: &[&str] = &[
        "breach", "breached", "breaches", "missed", "miss", "fail", "failed", "failure", "exceeded", "violated",
        "overdue", "unmet", "late",
    ];
    const MET: &[&str] = &["met", "within", "success", "successful", "achieved", "compliant", "ok"];
    const NEGATIONS: &[&str] = &["not", "no", "non", "never"];
    let lower = s.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    // The first outcome word decides, turned round by a negation before it: "not met",
    // "no breach", "SLA not breached".
    if let Some((at, word)) = words.iter().enumerate().find(|(_, w)| MISSED.contains(w) || MET.contains(w)) {
        let met = MET.contains(word);
        let negated = words.iter().take(at).any(|w| NEGATIONS.contains(w));
        return Ok(met != negated);
    }
    parse_bool(s).map_err(|_| format!("unknown SLA outcome '{s}' (expected met or breached)"))
}

/// Does a label/tag cell hold the word `escalated`?
pub fn has_escalated_label(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == ';').any(|w| w.eq_ignore_ascii_case("escalated"))
}

/// Normalise text that identifies a process: trimmed, lower case, inner white space collapsed.
pub fn process_key(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// At most `max` characters of `text`, with `…` where it was cut: a rejected 1 MB field is
/// shown by its start, in the value and in the reason that quotes it.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", text.split_at(cut).0)),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Longest text (in bytes) an identifying cell keeps whole: a category, group, analyst, SOP id
/// or ticket id. Longer ones are exports gone wrong (a description pasted into the category) and
/// would make every table, chart and report line that names them that long.
pub const LONG_TEXT_BYTES: usize = 1024;

/// Characters a shortened text keeps from its start.
const SHORTENED_CHARS: usize = 100;

/// `text` when it is at most [`LONG_TEXT_BYTES`] long; else its first characters, its length
/// and a digest of the whole (`Start… [52428800 bytes #0123456789abcdef]`), so that two long
/// texts that differ stay two values, and the same text in two files stays one.
pub fn shorten_long_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= LONG_TEXT_BYTES {
        return std::borrow::Cow::Borrowed(text);
    }
    // FNV-1a: a fixed function (the same digest in every run and build), and a long text is rare
    let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let cut = text.char_indices().nth(SHORTENED_CHARS).map_or(text.len(), |(cut, _)| cut);
    std::borrow::Cow::Owned(format!("{}… [{} bytes #{digest:016x}]", text.split_at(cut).0, text.len()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    #[test]
    fn long_texts_are_shortened_apart() {
        use super::{shorten_long_text, LONG_TEXT_BYTES};
        let fits = "é".repeat(LONG_TEXT_BYTES / 2);
        assert_eq!(shorten_long_text(&fits), fits.as_str(), "at the limit: kept whole");
        let (a, b) = (format!("{fits}a"), format!("{fits}b"));
        let (sa, sb) = (shorten_long_text(&a), shorten_long_text(&b));
        assert_ne!(sa, sb, "texts that differ stay apart");
        assert_eq!(sa, shorten_long_text(&a.clone()), "the same text, the same value");
        assert!(sa.starts_with(&"é".repeat(100)) && sa.contains("… [1025 bytes #"), "{sa}");
        assert!(sa.len() < 250, "{}", sa.len());
    }

    #[test]
    fn trim_is_str_trim() {
        for s in ["", " ", "a", " a", "a ", "\ta b\n", "\u{a0}x\u{a0}", "x\u{2003}", "é", " é ", "\u{feff}y"] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn priority_words_in_other_languages() {
        for (word, p) in [("Más alta", 1), ("Alta", 2), ("Media", 3), ("Baja", 4), ("Más baja", 5), ("Muito alta", 1)]
        {
            assert_eq!(parse_priority(word), Ok(p), "{word}");
        }
        for (word, p) in
            [("Média", 3), ("Très haute", 1), ("moyenne", 3), ("Niedrig", 4), ("Very  high", 1), ("Urgent", 1)]
        {
            assert_eq!(parse_priority(word), Ok(p), "{word}");
        }
        assert!(parse_priority("Mediocre").is_err());
        assert_eq!(parse_priority("3.0"), Ok(3), "as pandas writes integers with gaps");
        assert!(parse_priority("3.5").is_err());
    }

    use super::*;

    #[test]
    fn sla_words_with_their_negations() {
        for (text, met) in [
            ("Met", true),
            ("Within SLA", true),
            ("SLA achieved", true),
            ("Breached", false),
            ("Not met", false),
            ("SLA not met", false),
            ("not within target", false),
            ("Unmet", false),
            ("non-compliant", false),
            ("Missed", false),
            ("No breach", true),
            ("SLA not breached", true),
            ("not late", true),
            ("yes", true),
            ("0", false),
        ] {
            assert_eq!(parse_sla_text(text), Ok(met), "{text}");
        }
        assert!(parse_sla_text("metropolis").is_err(), "a word that merely starts with met");
    }

    #[test]
    fn priorities_from_every_vendor() {
        for (s, p) in [
            ("1", 1),
            ("P2", 2),
            ("p4", 4),
            ("3 - Moderate", 3),
            ("5 - Planning", 5),
            ("Highest", 1),
            ("Urgent", 1),
            ("High", 2),
            ("Medium", 3),
            ("Normal", 3),
            ("low", 4),
            ("Lowest", 5),
        ] {
            assert_eq!(parse_priority(s), Ok(p), "{s}");
        }
        for s in ["0", "6", "P9", "Whenever", "3x", "-1"] {
            assert!(parse_priority(s).is_err(), "{s}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("0"), Ok(0));
        // plain digits read as the float reading reads them, up to its limit and past it
        for t in ["7", "007", " 42 ", "999999999999", "1000000000000", "1000000000001", "0000000000001"] {
            let general = trim(t).parse::<f64>().ok().filter(|v| *v <= 1e12).map(|v| v as i64);
            assert_eq!(parse_count(t).ok(), general, "{t}");
        }
        assert!(parse_count("1000000000001").is_err());
        assert!(parse_count("").is_err());
        assert_eq!(parse_count("2.0"), Ok(2));
        assert!(parse_count("-1").unwrap_err().contains("negative"));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("many").is_err());
        assert!(parse_count("NaN").is_err());
    }

    #[test]
    fn escalation_and_labels() {
        assert_eq!(parse_escalation_level("Normal"), Ok(false));
        assert_eq!(parse_escalation_level("Overdue"), Ok(true));
        assert_eq!(parse_escalation_level("2"), Ok(true));
        assert_eq!(parse_escalation_level("0 - Normal"), Ok(false));
        assert_eq!(parse_escalation_level("2 - High"), Ok(true));
        assert!(parse_escalation_level("Maybe").is_err());
        assert!(has_escalated_label("vpn escalated"));
        assert!(!has_escalated_label("not-escalated-yet"));
    }

    #[test]
    fn missing_markers() {
        assert_eq!(clean(Some(" ? ")), None);
        assert_eq!(clean(Some("")), None);
        assert_eq!(clean(Some(" x ")), Some("x"));
        assert_eq!(clean(None), None);
    }
}
