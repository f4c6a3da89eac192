//! Trend-aware verdicts through the real binary, on desks from `generate` with a steady trend
//! and a seasonal swing: with no SOP effect at all, changes are not called improved or worsened;
//! with 35% cuts in resolution time planted on top of the trend, the cuts are found; and the
//! planted effects of the default scenario (no trend) are still found. Each claim holds over
//! several seeds, not one draw.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{read_csv, Row};

/// Generate a desk of 40,000 tickets and compare its changes; the comparisons and truth.json.
fn desk(seed: u32, extra: &[&str]) -> (Vec<Row>, serde_json::Value) {
    desk_of(40_000, seed, extra)
}

/// As [`desk`], with `tickets` tickets.
fn desk_of(tickets: u64, seed: u32, extra: &[&str]) -> (Vec<Row>, serde_json::Value) {
    let (tickets, seed) = (tickets.to_string(), seed.to_string());
    let mut args = vec!["--tickets", &tickets, "--seed", &seed];
    args.extend(extra);
    let (data, out) = common::generate_and_measure(&args, &[]);
    let truth = serde_json::from_slice(&std::fs::read(data.path().join("truth.json")).unwrap()).unwrap();
    (read_csv(&out.path().join("comparisons.csv")), truth)
}

/// (sop_id, to_version) → metric → the direction truth.json expects.
fn expected(truth: &serde_json::Value) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    truth["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let key = (c["sop_id"].as_str().unwrap().to_string(), c["to_version"].as_str().unwrap().to_string());
            let dirs = c["expected"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(m, d)| (m.clone(), d.as_str().unwrap().to_string()))
                .collect();
            (key, dirs)
        })
        .collect()
}

fn key(r: &Row) -> (String, String) {
    (r["sop_id"].clone(), r["to_version"].clone())
}

fn called(r: &Row) -> bool {
    r["verdict"] == "improved" || r["verdict"] == "worsened"
}

const TRENDING: [&str; 4] = ["--trend", "-25", "--seasonality", "15"];

#[test]
fn a_trending_desk_without_sop_effects_gets_no_verdicts() {
    let mut changes = 0;
    let mut flagged = BTreeSet::new();
    for seed in [1, 2, 3] {
        let mut args = TRENDING.to_vec();
        args.extend(["--effects", "none"]);
        let (rows, _) = desk(seed, &args);
        let compared: BTreeSet<_> = rows.iter().map(key).collect();
        changes += compared.len();
        for r in rows.iter().filter(|r| called(r)) {
            eprintln!("seed {seed}: {} {} {} called {}", r["sop_id"], r["to_version"], r["metric"], r["verdict"]);
            flagged.insert((seed, key(r)));
        }
        // The trend-aware design is what decided: trend-aware rows carry their controls and placebos.
        let trend_rows: Vec<&Row> = rows.iter().filter(|r| r["method"].starts_with("its")).collect();
        assert!(
            trend_rows.len() * 2 >= rows.len(),
            "most rows have a trend model ({} of {})",
            trend_rows.len(),
            rows.len()
        );
        for r in trend_rows {
            assert!(!r["placebo_p"].is_empty(), "{r:?}");
            assert!(r["test"].contains("placebo"), "{r:?}");
        }
    }
    assert!(changes >= 24, "changes compared: {changes}");
    // At most 1 change in 12 on any metric.
    assert!(flagged.len() * 12 <= changes, "{} of {changes} no-effect changes called: {flagged:?}", flagged.len());
}

#[test]
fn steps_on_top_of_a_trend_are_found() {
    let mut planted = 0;
    let mut found = 0;
    // calibration: (covered, rows) and the standardised errors of the average effect
    let (mut covered, mut estimated, mut errors) = (0, 0, Vec::new());
    for seed in [1, 2, 3] {
        let mut args = TRENDING.to_vec();
        args.extend(["--effects", "mttr-steps"]);
        let (rows, truth) = desk(seed, &args);
        let expected = expected(&truth);
        for r in rows.iter().filter(|r| r["metric"] == "mttr_median_h" && !r["average_effect"].is_empty()) {
            // the planted multiplier of resolution time, on the log scale (35% cuts: ln 0.65)
            let truth_log = if expected[&key(r)]["mttr_median_h"] == "improved" { 0.65f64.ln() } else { 0.0 };
            let log = |k: &str| r[k].parse::<f64>().unwrap().ln_1p();
            let (lo, hi, e) = (log("average_ci_low"), log("average_ci_high"), log("average_effect"));
            estimated += 1;
            covered += usize::from(lo <= truth_log && truth_log <= hi);
            errors.push((e - truth_log) / ((hi - lo) / (2.0 * 1.96)));
        }
        for r in rows.iter().filter(|r| r["metric"] == "mttr_median_h") {
            match expected[&key(r)]["mttr_median_h"].as_str() {
                "improved" => {
                    planted += 1;
                    found += usize::from(r["verdict"] == "improved");
                    let level: f64 = r["level_change"].parse().unwrap();
                    assert!(level < -0.15, "a 35% cut is estimated as a clear cut: {r:?}");
                }
                _ => assert!(!called(r), "only the planted steps: {r:?}"),
            }
        }
    }
    assert_eq!(planted, 9, "three steps per desk");
    assert_eq!(found, planted, "every planted step is found");
    // The 95% interval of the average effect covers what was planted in at least 90% of the
    // changes, and the estimate is unbiased within its standard error (measured over seeds 1-6
    // with 40% cuts: 52 of 54 covered, mean standardised error 0.03).
    assert!(estimated >= 20 && covered * 10 >= estimated * 9, "{covered} of {estimated} intervals cover the truth");
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    assert!(mean.abs() < 2.0 / (errors.len() as f64).sqrt(), "mean standardised error {mean} over {}", errors.len());
}

#[test]
fn planted_effects_without_a_trend_are_still_found() {
    let strong = ["mttr_median_h", "reopen_rate", "error_rate", "escalation_rate"];
    let (mut planted, mut found) = (0, 0);
    for seed in [1, 2] {
        let (rows, truth) = desk(seed, &[]);
        let expected = expected(&truth);
        for r in rows.iter().filter(|r| strong.contains(&r["metric"].as_str())) {
            let want = expected[&key(r)][&r["metric"]].as_str();
            if want == "no_change" {
                continue;
            }
            planted += 1;
            assert!(!called(r) || r["verdict"] == want, "never the wrong direction: {r:?}");
            if r["verdict"] == want {
                found += 1;
            } else {
                eprintln!("seed {seed}: not found: {r:?}");
            }
        }
    }
    assert!(planted >= 20, "{planted}");
    // As many as the before/after test found on these desks (22 of 24, 11 per seed) but one.
    assert!(found + 3 >= planted, "found {found} of {planted}");
}

/// A procedure that needs training: each of the three planted 40% cuts in resolution time builds
/// up over the 12 weeks after its change, on a trending, seasonal desk. The verdict tests the
/// average effect after the change, so an effect that builds up is found as what it is.
#[test]
fn gradual_effects_are_found() {
    let mut per_seed = Vec::new();
    for seed in [1, 2, 3] {
        let mut args = TRENDING.to_vec();
        args.extend(["--effects", "mttr-steps", "--step", "40", "--ramp-weeks", "12"]);
        let (rows, truth) = desk(seed, &args);
        let expected = expected(&truth);
        let (mut planted, mut found) = (0, 0);
        for r in rows.iter().filter(|r| r["metric"] == "mttr_median_h") {
            match expected[&key(r)]["mttr_median_h"].as_str() {
                "improved" => {
                    planted += 1;
                    found += usize::from(r["verdict"] == "improved");
                    let average: f64 = r["average_effect"].parse().unwrap();
                    assert!(average < -0.15, "the average effect is a clear cut: {r:?}");
                }
                _ => assert!(!called(r), "only the planted cuts: {r:?}"),
            }
        }
        assert_eq!(planted, 3);
        per_seed.push(found);
    }
    // Measured: 2, 2 and 3 of 3 (the misses are SOP-HW-002 1.2, a small process: average
    // effect −43% and −37% with p 0.004 and 0.014, q 0.052 and 0.135 among the run's rows).
    assert!(per_seed.iter().all(|f| *f >= 2) && per_seed.iter().sum::<usize>() >= 7, "found per seed: {per_seed:?}");
}

/// A realistic desk: a million tickets over two years, five SOPs with a new version every three
/// months, three changes in five moving MTTR, the reopen or the escalation rate by 20–40%, at
/// the default windows. Over three seeds at least 80% of the planted effects are found in their
/// direction and at most 5% of the rows without an effect are called (measured: 55 of 60 and 6
/// of 291).
#[test]
fn effects_of_frequent_sop_changes_are_found_on_a_large_desk() {
    let metrics = ["mttr_median_h", "reopen_rate", "escalation_rate"];
    let (mut planted, mut found, mut without, mut false_calls) = (0, 0, 0, 0);
    for seed in [1, 2, 3] {
        let (rows, truth) = desk_of(1_000_000, seed, &["--sop-every-months", "3", "--months", "24"]);
        let expected = expected(&truth);
        for r in rows.iter().filter(|r| metrics.contains(&r["metric"].as_str())) {
            let Some(want) = expected.get(&key(r)).and_then(|e| e.get(&r["metric"])) else { continue };
            if want == "no_change" {
                without += 1;
                false_calls += usize::from(called(r));
            } else {
                planted += 1;
                found += usize::from(&r["verdict"] == want);
                assert!(!called(r) || &r["verdict"] == want, "never the wrong direction: {r:?}");
            }
        }
    }
    assert!(planted >= 45, "{planted}");
    assert!(found * 10 >= planted * 8, "found {found} of {planted}");
    assert!(false_calls * 20 <= without, "{false_calls} of {without} rows without an effect called");
}
