//! Verdicts on a real export: the UCI ServiceNow incident event log (CC BY 4.0, in
//! ../shared/data), with SOP histories made up for it. An SOP history invented afterwards cannot
//! have caused anything in the data, so an `improved`/`worsened` verdict is a false alarm; and
//! the export's first weeks (left truncation: mostly long-running tickets) are found and named.
//! Skipped, saying so, where the log is not beside the project.

mod common;

use std::path::{Path, PathBuf};

use common::{read_csv, root, run_in, text};

fn log() -> Option<PathBuf> {
    let gz = root().join("../shared/data/uci_incident_event_log.csv.gz");
    gz.exists().then_some(gz)
}

/// The log decompressed into `dir`.
fn decompressed(gz: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("incidents.csv");
    let o = std::process::Command::new("gzip").arg("-dc").arg(gz).output().expect("gzip runs");
    assert!(o.status.success(), "gzip -dc {}", gz.display());
    std::fs::write(&out, o.stdout).unwrap();
    out
}

/// Reproducible draws in [0, 1).
fn draw(state: &mut u64) -> f64 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// Frequent (category, subcategory) pairs of the log.
const PAIRS: [(&str, &str); 10] = [
    ("Category 42", "Subcategory 223"),
    ("Category 26", "Subcategory 175"),
    ("Category 53", "Subcategory 174"),
    ("Category 32", "Subcategory 9"),
    ("Category 46", "Subcategory 223"),
    ("Category 26", "Subcategory 275"),
    ("Category 37", "Subcategory 135"),
    ("Category 23", "Subcategory 174"),
    ("Category 28", "Subcategory 174"),
    ("Category 9", "Subcategory 164"),
];

/// Six SOPs of two versions each on frequent pairs, at dates drawn over the weeks of the log's
/// activity (2016-03-07 to 2016-06-05).
fn made_up_history(seed: u64) -> String {
    let mut state = seed;
    let mut pairs: Vec<(&str, &str)> = PAIRS.to_vec();
    let mut csv = String::from("sop_id,version,process,category,subcategory,effective_from,owner\n");
    for k in 0..6 {
        let pick = (draw(&mut state) * pairs.len() as f64) as usize;
        let (cat, sub) = pairs.remove(pick);
        let day = |x: f64| {
            let d = chrono::NaiveDate::from_ymd_opt(2016, 3, 7).unwrap() + chrono::Days::new((x * 90.0) as u64);
            d.format("%Y-%m-%d").to_string()
        };
        let (a, b) = (draw(&mut state), draw(&mut state));
        let (first, second) = (a.min(b), a.max(b).max(a.min(b) + 0.16));
        for (v, at) in [("1.0", first), ("2.0", second.min(1.0))] {
            csv.push_str(&format!("SOP-{k},{v},{cat} / {sub},{cat},{sub},{},Owner\n", day(at)));
        }
    }
    csv
}

#[test]
fn made_up_sop_histories_on_a_real_log_get_almost_no_verdicts() {
    let Some(gz) = log() else {
        eprintln!("skipped: ../shared/data/uci_incident_event_log.csv.gz is not beside the project");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tickets = decompressed(&gz, dir.path());
    let (mut testable, mut called, mut by_plain_test) = (0, 0, 0);
    for seed in 1..=5u64 {
        let sops = dir.path().join(format!("sops-{seed}.csv"));
        std::fs::write(&sops, made_up_history(seed)).unwrap();
        let out = format!("out-{seed}");
        let args = [
            "metrics",
            "--quiet",
            "--tickets",
            tickets.to_str().unwrap(),
            "--sops",
            sops.to_str().unwrap(),
            "--date-order",
            "dmy",
            "--as-of",
            "2017-02-17",
            "--out",
            &out,
        ];
        let o = run_in(dir.path(), &args, &[]);
        assert!(o.status.success(), "{:?}", text(&o));
        for r in read_csv(&dir.path().join(&out).join("comparisons.csv")) {
            if r["p_value"].is_empty() {
                continue;
            }
            testable += 1;
            if r["verdict"] == "improved" || r["verdict"] == "worsened" {
                eprintln!(
                    "seed {seed}: {} {} {} {} by {}",
                    r["sop_id"], r["to_version"], r["metric"], r["verdict"], r["method"]
                );
                called += 1;
                by_plain_test += usize::from(r["method"] == "before_after");
            }
            if r["method"] == "before_after" {
                assert_eq!(r["verdict"], "insufficient_data", "the plain test never decides: {r:?}");
                assert!(r["caveats"].contains("no verdict"), "and says why: {r:?}");
            }
        }
    }
    assert!(testable >= 50, "{testable} testable comparisons");
    assert_eq!(by_plain_test, 0);
    assert!(called * 20 <= testable, "{called} of {testable} made-up changes called");
}

#[test]
fn the_warm_up_of_a_real_export_is_found_and_named() {
    let Some(gz) = log() else {
        eprintln!("skipped: ../shared/data/uci_incident_event_log.csv.gz is not beside the project");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tickets = decompressed(&gz, dir.path());
    let sops = dir.path().join("sops.csv");
    std::fs::write(&sops, made_up_history(1)).unwrap();
    let args = [
        "report",
        "--quiet",
        "--tickets",
        tickets.to_str().unwrap(),
        "--sops",
        sops.to_str().unwrap(),
        "--date-order",
        "dmy",
        "--as-of",
        "2017-02-17",
        "--out",
        "r",
    ];
    let o = run_in(dir.path(), &args, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let report = std::fs::read_to_string(dir.path().join("r/report.md")).unwrap();
    // weeks 0-4 of the log stand at 72-122 h against 2-19 h after; after June 2016 a thin tail
    assert!(
        report.contains("Export start: in the first 5 weeks from 2016-02-29 to 2016-04-03, the desk's median time to resolve was 72.0–122.3 h"),
        "{report}"
    );
    assert!(report.contains("Export end: the last 37 weeks from 2016-06-06"), "{report}");
    // no window holds a ticket of the weeks left out
    for w in read_csv(&dir.path().join("r/windows.csv")) {
        let empty = w["before_tickets"] == "0";
        assert!(empty || w["before_start"].as_str() >= "2016-04-04", "{w:?}");
        assert!(w["after_end"].is_empty() || w["after_end"].as_str() <= "2016-06-06T00:00:00Z", "{w:?}");
    }
}
