//! Markdown building blocks: escaping of user text (pipes, line breaks, HTML, emphasis) and the
//! number formats of the report.

/// Escape text from the data for a Markdown table cell or line: `|` and Markdown punctuation are
/// backslash-escaped, `<`, `>` and `&` become entities (no HTML reaches the reader), and line
/// breaks (U+2028 and U+2029 too) become spaces so that a cell stays one cell. Control
/// characters, bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069)
/// and zero-width characters (U+200B-U+200F, U+FEFF) are dropped: invisible, they would make
/// a name read as another one (`abc` shown as `cba`) or two names look alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A command line as a POSIX shell reads it back: every argument that is not plainly safe in
/// single quotes (so `$(…)`, spaces and quotes stay text when the line is pasted), control
/// characters left out.
pub fn shell_command(args: &[String]) -> String {
    args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")
}

fn shell_word(arg: &str) -> String {
    let arg: String = arg.chars().filter(|c| !c.is_control()).collect();
    let plain = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if plain {
        arg
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// A command as a fenced block of shell, to copy: the fence is longer than any run of
/// backticks in it.
pub fn shell_block(command: &str) -> String {
    let mut longest = 0usize;
    let mut run = 0usize;
    for c in command.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}sh\n{command}\n{fence}\n")
}

/// A Markdown table from a header and rows of already escaped cells.
pub fn table(header: &[&str], rows: &[Vec<String>], right_aligned: &[usize]) -> String {
    let mut s = format!("| {} |\n|", header.join(" | "));
    for k in 0..header.len() {
        s.push_str(if right_aligned.contains(&k) { "---:|" } else { "---|" });
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// 0.0612 → "6.1%"
pub fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// A difference of rates in percentage points, signed: "+2.7 pts"
pub fn points(v: f64) -> String {
    format!("{} pts", signed(v * 100.0, 1))
}

pub fn signed(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("−{s}")
    } else if v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("+{s}")
    } else {
        s
    }
}

/// Hours with two decimals: "1.66 h"
pub fn hours(v: f64) -> String {
    format!("{v:.2} h")
}

/// p-values: "< 0.001" or three decimals.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// 1234567 → "1,234,567"
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The confidence of intervals computed at significance `alpha`: `95%` for 0.05, `90%` for 0.1.
pub fn ci_confidence(alpha: f64) -> String {
    let level = format!("{:.2}", (1.0 - alpha) * 100.0);
    format!("{}%", level.trim_end_matches('0').trim_end_matches('.'))
}

/// `95% CI` for α = 0.05.
pub fn ci_label(alpha: f64) -> String {
    format!("{} CI", ci_confidence(alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_break_tables_or_inject_html() {
        assert_eq!(escape("Access | VPN"), "Access \\| VPN");
        assert_eq!(escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(escape("*bold* _it_ [link](x)"), "\\*bold\\* \\_it\\_ \\[link\\](x)");
        // bidirectional overrides and isolates, zero-width characters: dropped; line separators: spaces
        assert_eq!(escape("Pass\u{202E}word\u{202C} reset"), "Password reset");
        assert_eq!(escape("\u{2066}Access\u{2069}\u{200B}\u{200D}\u{200F}\u{FEFF}"), "Access");
        assert_eq!(escape("\u{202A}a\u{202B}b\u{202D}c\u{2067}d\u{2068}e\u{200C}f\u{200E}"), "abcdef");
        assert_eq!(escape("one\u{2028}two\u{2029}three"), "one two three");
        assert_eq!(escape("café → ✓"), "café → ✓", "other text is kept");
    }

    #[test]
    fn commands_are_quoted_for_the_shell() {
        let args: Vec<String> =
            ["sop-impact", "report", "--sops", "my sops.csv", "--sop", "$(touch x)", "it's", "a\u{7}b", ""]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(shell_command(&args), "sop-impact report --sops 'my sops.csv' --sop '$(touch x)' 'it'\\''s' ab ''");
        assert_eq!(shell_block("a ``` b"), "````sh\na ``` b\n````\n");
    }

    #[test]
    fn number_formats() {
        assert_eq!(percent(0.0612), "6.1%");
        assert_eq!(points(-0.027), "−2.7 pts");
        assert_eq!(points(0.0004), "0.0 pts");
        assert_eq!(p_value(0.0004), "< 0.001");
        assert_eq!(p_value(0.0456), "0.046");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
