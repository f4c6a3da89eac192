//! `sop-impact backlog` on the demo data: processes without an SOP and stale SOPs rank with the
//! right reasons, ranks are deterministic, and the review calendar flags disagreements.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, fixture, read_csv, Row};

/// `backlog` on the demo data into `out`; the rows of its backlog.csv.
fn run(out: &Path) -> Vec<Row> {
    let demo = fixture("demo");
    let o = Command::new(bin())
        .args(["backlog", "--quiet", "--as-of", "2025-12-31", "--out", out.to_str().unwrap(), "--tickets"])
        .arg(demo.join("tickets.csv"))
        .arg("--sops")
        .arg(demo.join("sops.csv"))
        .arg("--changes")
        .arg(demo.join("changes.csv"))
        .arg("--audits")
        .arg(demo.join("audits.csv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_csv(&out.join("backlog.csv"))
}

#[test]
fn missing_and_stale_processes_rank_with_their_reasons() {
    let out = tempfile::tempdir().unwrap();
    let rows = run(out.path());
    assert_eq!(rows.len(), 9, "every process of the demo, with or without SOP");
    let by = |p: &str| rows.iter().find(|r| r["process"] == p).unwrap_or_else(|| panic!("{p}"));
    for p in ["Database / Access request", "Printing / Printer", "Telephony / Voicemail", "Hardware / Monitor"] {
        assert_eq!(by(p)["state"], "missing", "{p}");
        assert!(by(p)["reasons"].starts_with("no SOP; "), "{p}: {}", by(p)["reasons"]);
    }
    let mailbox = by("Mailbox issues");
    assert_eq!(mailbox["state"], "stale");
    assert!(
        mailbox["reasons"].contains("review overdue since 2023-07-01") && mailbox["reasons"].contains("no owner"),
        "{mailbox:?}"
    );
    let vpn = by("VPN access");
    assert_eq!(vpn["state"], "stale");
    assert!(
        vpn["reasons"].contains("worsened significantly after version 2.0"),
        "the planted worsening triggers a review: {vpn:?}"
    );
    // ranks 1..n by score, highest first
    let scores: Vec<f64> = rows.iter().map(|r| r["score"].parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(
        rows.iter().map(|r| r["rank"].parse::<usize>().unwrap()).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    assert_eq!(rows[0]["state"], "missing", "the highest need is a process with no SOP");

    let again = tempfile::tempdir().unwrap();
    run(again.path());
    assert_eq!(
        std::fs::read(out.path().join("backlog.csv")).unwrap(),
        std::fs::read(again.path().join("backlog.csv")).unwrap()
    );
    let calendar = std::fs::read_to_string(out.path().join("review_calendar.csv")).unwrap();
    assert!(calendar.lines().count() == 6, "one row per SOP: {calendar}");
    assert!(calendar.contains("SOP-EM-003,Mailbox issues,1.0,2023-01-01"), "{calendar}");
}
