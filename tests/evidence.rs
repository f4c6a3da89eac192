//! `sop-impact evidence`: an auditor with only the pack and the input files re-derives the
//! before/after numbers. This test does exactly that from before.csv, after.csv and the raw
//! tickets.csv, and compares with the pack's comparison.csv and evidence.md.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use common::{bin, fixture, read_csv, Row};

/// `evidence` on the demo data into `out`, with the extra arguments.
fn evidence(extra: &[&str], out: &Path) -> std::process::Output {
    let demo = fixture("demo");
    Command::new(bin())
        .args([
            "evidence",
            "--quiet",
            "--as-of",
            "2025-12-31",
            "--window",
            "all",
            "--out",
            out.to_str().unwrap(),
            "--tickets",
        ])
        .arg(demo.join("tickets.csv"))
        .arg("--sops")
        .arg(demo.join("sops.csv"))
        .arg("--audits")
        .arg(demo.join("audits.csv"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn an_auditor_re_derives_the_counts_from_the_pack_and_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pack");
    let o = evidence(&["--sop", "SOP-NET-004"], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "evidence.md",
        "before.csv",
        "after.csv",
        "comparison.csv",
        "manifest.json",
        "rejects.csv",
        "queries/reopen_rate.sql",
        "charts/change-sop-net-004-1-0-to-2-0.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let tickets = read_csv(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/tickets.csv"));
    let comparison = read_csv(&out.join("comparison.csv"));
    let md = std::fs::read_to_string(out.join("evidence.md")).unwrap();
    assert!(
        md.contains("| 2.0 | 2025-01-01 | in force | Ravi Menon | L. Brandt | 2024-12-25 |"),
        "version history with approver and dates"
    );
    for (side, file) in [("before", "before.csv"), ("after", "after.csv")] {
        let records = read_csv(&out.join(file));
        let ids: HashSet<&str> = records.iter().filter(|r| r["record"] == "ticket").map(|r| r["id"].as_str()).collect();
        let rows: Vec<&Row> = tickets.iter().filter(|t| ids.contains(t["ticket_id"].as_str())).collect();
        assert_eq!(rows.len(), ids.len(), "every id in {file} is a ticket of the input");
        assert!(
            rows.iter().all(|t| t["category"] == "Network" && t["subcategory"] == "VPN"),
            "only the process's tickets"
        );
        // source lines point at the ticket's line in the input file
        for r in records.iter().filter(|r| r["record"] == "ticket").take(20) {
            let line: usize = r["source_line"].parse().unwrap();
            assert_eq!(tickets[line - 2]["ticket_id"], r["id"], "line {line}");
        }
        let resolved: Vec<&&Row> =
            rows.iter().filter(|t| !t["resolved_at"].is_empty() || !t["closed_at"].is_empty()).collect();
        let reopened = resolved.iter().filter(|t| t["reopen_count"] != "0").count();
        let escalated = rows.iter().filter(|t| t["escalated"] == "true").count();
        let get = |metric: &str| comparison.iter().find(|r| r["metric"] == metric).unwrap();
        let reopen = get("reopen_rate");
        assert_eq!(reopen[&format!("{side}_n")].parse::<usize>().unwrap(), resolved.len(), "{side} resolved tickets");
        assert_eq!(
            reopen[&format!("{side}_value")].parse::<f64>().unwrap(),
            reopened as f64 / resolved.len() as f64,
            "{side} reopen rate"
        );
        let esc = get("escalation_rate");
        assert_eq!(esc[&format!("{side}_n")].parse::<usize>().unwrap(), rows.len());
        assert_eq!(
            esc[&format!("{side}_value")].parse::<f64>().unwrap(),
            escalated as f64 / rows.len() as f64,
            "{side} escalation rate"
        );
        // and evidence.md shows the same numbers
        let shown = format!("{:.1}% (n={})", 100.0 * reopened as f64 / resolved.len() as f64, resolved.len());
        assert!(
            md.lines().any(|l| l.starts_with("| Reopen rate |") && l.contains(&shown)),
            "evidence.md shows {shown}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["command"].as_str().unwrap().contains("evidence")
            && manifest["command"].as_str().unwrap().contains("--sop SOP-NET-004")
    );
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 3);
}

#[test]
fn unknown_sop_or_version_lists_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let o = evidence(&["--sop", "SOP-NOPE"], &dir.path().join("x"));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown SOP 'SOP-NOPE'")
            && err.contains("SOP-ACC-001, SOP-EM-003, SOP-HW-002, SOP-NET-004, SOP-SW-010"),
        "{err}"
    );
    let o = evidence(&["--sop", "SOP-ACC-001", "--version", "3.0"], &dir.path().join("x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("its versions are: 1.0, 1.1, 2.0"));
    assert!(!dir.path().join("x").exists(), "nothing written on an error");
}
