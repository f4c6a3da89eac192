//! Rendering: charts (plotters) and Markdown, as pure functions of the analysis results.

pub mod charts;
pub mod markdown;

use std::collections::HashMap;

/// The longest slug kept whole; longer text is cut and keeps a hash of the whole.
const SLUG_CHARS: usize = 50;

/// A file-name part for user text: lower-case ASCII letters and digits, other runs as one `-`.
/// Text whose slug would be longer than 50 characters is cut there and gets 8 hex digits of its
/// hash, so that file names stay short and two long names that start alike stay apart.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.len() <= SLUG_CHARS {
        return out.to_string();
    }
    format!("{}-{}", out[..SLUG_CHARS].trim_end_matches('-'), short_hash(s))
}

fn short_hash(s: &str) -> String {
    crate::output::sha256_bytes(s.as_bytes())[..8].to_string()
}

/// File stems for several things, each given as (what it is, stem): where different things
/// share a stem (`A/B` and `A-B`), each gets a hash of what it is, so no file overwrites another
/// and every name is the same whatever the order.
pub fn distinct_stems(items: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    let items: Vec<(String, String)> = items.into_iter().collect();
    let mut owners: HashMap<&str, std::collections::BTreeSet<&str>> = HashMap::new();
    for (key, stem) in &items {
        owners.entry(stem.as_str()).or_default().insert(key.as_str());
    }
    items
        .iter()
        .map(|(key, stem)| {
            let shared = owners.get(stem.as_str()).is_some_and(|o| o.len() > 1);
            let stem = if shared { format!("{stem}-{}", short_hash(key)) } else { stem.clone() };
            (key.clone(), stem)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_long_names_stay_apart() {
        assert_eq!(slug("Database / Access request"), "database-access-request");
        assert_eq!(slug("<script>|x"), "script-x");
        let long_a = format!("{} A", "x".repeat(300));
        let long_b = format!("{} B", "x".repeat(300));
        assert!(slug(&long_a).len() <= SLUG_CHARS + 9);
        assert_ne!(slug(&long_a), slug(&long_b));
    }

    #[test]
    fn colliding_stems_are_told_apart_whatever_the_order() {
        let items = [
            ("A/B".to_string(), "trend-a-b".to_string()),
            ("A-B".into(), "trend-a-b".into()),
            ("C".into(), "trend-c".into()),
        ];
        let forward = distinct_stems(items.clone());
        let backward = distinct_stems(items.into_iter().rev());
        assert_eq!(forward, backward);
        assert_ne!(forward["A/B"], forward["A-B"]);
        assert_eq!(forward["C"], "trend-c");
    }
}
