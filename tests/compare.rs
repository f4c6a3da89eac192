//! Before/after comparisons through the real binary: the planted effects of `generate` are
//! found in the right direction, planted no-effect changes are not called significant, and the
//! columns and windows are what docs/outputs.md and docs/statistics.md say.

mod common;

use std::path::Path;

use common::{run_ok, Row};

/// The header and the records of a CSV file.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Row>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows =
        rdr.records().map(|r| headers.iter().cloned().zip(r.unwrap().iter().map(str::to_string)).collect()).collect();
    (headers, rows)
}

fn generate_and_compare(tickets: &str, seed: &str, window: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    common::generate_and_measure(&["--tickets", tickets, "--seed", seed], &["--window", window])
}

#[test]
fn planted_effects_are_found_in_their_direction() {
    let (data, out) = generate_and_compare("80000", "23", "all");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.path().join("truth.json")).unwrap()).unwrap();
    let (headers, rows) = read_csv(&out.path().join("comparisons.csv"));
    assert_eq!(
        headers[..16],
        [
            "sop_id",
            "process",
            "from_version",
            "to_version",
            "change_date",
            "metric",
            "before_n",
            "before_value",
            "after_n",
            "after_value",
            "delta",
            "ci_low",
            "ci_high",
            "p_value",
            "p_adjusted",
            "verdict"
        ],
        "the columns documented in docs/outputs.md first"
    );
    let mut checked_strong = 0;
    let mut found_strong = 0;
    let mut quiet_total = 0;
    let mut quiet_significant = 0;
    for change in truth["changes"].as_array().unwrap() {
        let (sop, from, to) = (
            change["sop_id"].as_str().unwrap(),
            change["from_version"].as_str().unwrap(),
            change["to_version"].as_str().unwrap(),
        );
        let of_change: Vec<&Row> =
            rows.iter().filter(|r| r["sop_id"] == sop && r["from_version"] == from && r["to_version"] == to).collect();
        if of_change.is_empty() {
            // changes before the first ticket have nothing to compare
            assert!(change["change_date"].as_str().unwrap() <= "2024-01-01", "{sop} {to} missing");
            continue;
        }
        let big = of_change.iter().all(|r| {
            r["metric"] == "change_failure_rate"
                || r["metric"] == "audit_exceptions_per_1k"
                || (r["before_n"].parse::<u64>().unwrap() >= 500 && r["after_n"].parse::<u64>().unwrap() >= 500)
        });
        let expected = change["expected"].as_object().unwrap();
        let all_quiet = expected.values().all(|v| v == "no_change");
        for r in &of_change {
            let want = expected.get(r["metric"].as_str()).and_then(|v| v.as_str());
            let verdict = r["verdict"].as_str();
            // Never the opposite of what was planted.
            match want {
                Some("improved") => assert_ne!(verdict, "worsened", "{sop} {to} {}", r["metric"]),
                Some("worsened") => assert_ne!(verdict, "improved", "{sop} {to} {}", r["metric"]),
                _ => {}
            }
            // Strong planted effects on frequent outcomes are found whenever both sides have 500+.
            let strong =
                ["mttr_median_h", "reopen_rate", "error_rate", "escalation_rate"].contains(&r["metric"].as_str());
            if big && strong && matches!(want, Some("improved") | Some("worsened")) {
                checked_strong += 1;
                if verdict == want.unwrap() {
                    found_strong += 1;
                } else {
                    eprintln!("not found: {sop} {from}→{to} {}: {r:?}", r["metric"]);
                }
            }
            if all_quiet && verdict != "insufficient_data" {
                quiet_total += 1;
                quiet_significant += (verdict != "no_significant_change") as u32;
            }
        }
    }
    assert!(checked_strong >= 8, "the planted effects were checked ({checked_strong})");
    // The trend-aware verdict pays for its honesty with some power (a trend costs degrees of
    // freedom; the placebos widen the model's errors): at most one strong effect is missed.
    assert!(found_strong + 1 >= checked_strong, "strong planted effects found: {found_strong} of {checked_strong}");
    assert!(quiet_total >= 10, "no-effect changes were compared ({quiet_total})");
    assert!(
        quiet_significant * 10 <= quiet_total,
        "planted no-effect changes are mostly no_significant_change: {quiet_significant} of {quiet_total}"
    );
}

#[test]
fn windows_are_clipped_and_small_samples_are_insufficient() {
    let (_data, out) = generate_and_compare("3000", "4", "60");
    let (_, windows) = read_csv(&out.path().join("windows.csv"));
    let (_, rows) = read_csv(&out.path().join("comparisons.csv"));
    assert!(!windows.is_empty());
    for w in &windows {
        // 60 days either side at most
        let start = chrono::DateTime::parse_from_rfc3339(&w["before_start"]).unwrap();
        let change = chrono::NaiveDate::parse_from_str(&w["change_date"], "%Y-%m-%d").unwrap();
        let days = (change.and_hms_opt(0, 0, 0).unwrap().and_utc() - start.to_utc()).num_days();
        assert!(days <= 60, "{w:?}");
        let end = chrono::DateTime::parse_from_rfc3339(&w["after_end"]).unwrap();
        assert!((end.to_utc() - change.and_hms_opt(0, 0, 0).unwrap().and_utc()).num_days() <= 60, "{w:?}");
    }
    // SOP-ACC-001: 1.0 on 2024-04-01, 1.1 on 2024-10-15; the window of 1.0→1.1 starts no
    // earlier than 1.0 took effect.
    let acc = windows.iter().find(|w| w["sop_id"] == "SOP-ACC-001" && w["to_version"] == "1.1").unwrap();
    assert!(acc["before_start"].as_str() >= "2024-08-16", "{acc:?}");
    for r in &rows {
        let (b, a): (u64, u64) = (r["before_n"].parse().unwrap(), r["after_n"].parse().unwrap());
        let need = if r["metric"] == "audit_exceptions_per_1k" { 100 } else { 30 };
        if b < need || a < need {
            assert_eq!(r["verdict"], "insufficient_data", "{r:?}");
            assert!(r["caveats"].contains("at least"), "the unmet requirement is named: {r:?}");
            assert!(r["p_value"].is_empty() && r["p_adjusted"].is_empty());
        }
        if r["verdict"] == "improved" || r["verdict"] == "worsened" {
            assert!(r["p_adjusted"].parse::<f64>().unwrap() < 0.05);
        }
        if !r["p_adjusted"].is_empty() {
            assert!(
                r["p_adjusted"].parse::<f64>().unwrap() >= r["p_value"].parse::<f64>().unwrap(),
                "BH never lowers a p-value"
            );
        }
    }
}

#[test]
fn stratified_comparisons_by_priority() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    run_ok(&["generate", "--out", d.to_str().unwrap(), "--tickets", "20000", "--seed", "8", "--quiet"]);
    let out = tempfile::tempdir().unwrap();
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    run_ok(&[
        "metrics",
        "--quiet",
        "--tickets",
        &p("tickets.csv"),
        "--sops",
        &p("sops.csv"),
        "--by",
        "priority",
        "--window",
        "all",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let (headers, rows) = read_csv(&out.path().join("comparisons_by_priority.csv"));
    assert_eq!(headers[0], "priority");
    assert_eq!(
        headers[1..17],
        [
            "sop_id",
            "process",
            "from_version",
            "to_version",
            "change_date",
            "metric",
            "before_n",
            "before_value",
            "after_n",
            "after_value",
            "delta",
            "ci_low",
            "ci_high",
            "p_value",
            "p_adjusted",
            "verdict"
        ]
    );
    let strata: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["priority"].as_str()).collect();
    assert_eq!(strata.into_iter().collect::<Vec<_>>(), vec!["1", "2", "3", "4", "5"]);
    // the strata of one change add up to the overall before_n of its escalation rate
    let (_, overall) = read_csv(&out.path().join("comparisons.csv"));
    let esc = overall.iter().find(|r| r["sop_id"] == "SOP-NET-004" && r["metric"] == "escalation_rate").unwrap();
    let sum: u64 = rows
        .iter()
        .filter(|r| r["sop_id"] == "SOP-NET-004" && r["metric"] == "escalation_rate")
        .map(|r| r["before_n"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, esc["before_n"].parse::<u64>().unwrap());
    // P1 tickets are 2%: small strata are insufficient, not falsely significant
    assert!(rows
        .iter()
        .filter(|r| r["priority"] == "1")
        .all(|r| r["verdict"] == "insufficient_data" || r["verdict"] == "no_significant_change"));
}
