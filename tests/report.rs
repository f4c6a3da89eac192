//! `sop-impact report`: the committed demo report is exactly what the code produces, reruns
//! with --as-of are byte-identical (charts included) and user text is escaped. Interrupted
//! publications are tested step by step in hardening.rs.

mod common;

use std::path::Path;

use common::{root, run_in, run_ok};

fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa, fb, "the same files in {} and {}", a.display(), b.display());
    for f in fa {
        let (x, y) = (std::fs::read(a.join(&f)).unwrap(), std::fs::read(b.join(&f)).unwrap());
        assert!(x == y, "{f} differs between {} and {}", a.display(), b.display());
    }
}

/// Run the binary in `cwd`, assert that it succeeded, and return its stdout.
fn report(args: &[&str], cwd: &Path) -> String {
    let o = run_in(cwd, args, &[]);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn committed_demo_report_is_what_the_code_produces() {
    let out = tempfile::tempdir().unwrap();
    let stdout = report(&["report", "--out", out.path().to_str().unwrap()], &root());
    assert!(stdout.contains("report written to"), "{stdout}");
    // If this fails after an intended change, regenerate with `cargo run --release -- report`
    // and commit reports/demo.
    assert_same_tree(&root().join("reports/demo"), out.path());
}

#[test]
fn demo_report_has_its_sections_charts_and_manifest() {
    let demo = root().join("reports/demo");
    let md = std::fs::read_to_string(demo.join("report.md")).unwrap();
    for section in [
        "## Summary",
        "## Processes with an SOP",
        "## Processes without an SOP",
        "## Data quality",
        "## Methodology",
        "## Provenance",
    ] {
        assert!(md.contains(section), "{section}");
    }
    let summary = md.split("## Summary").nth(1).unwrap().split("\n## ").next().unwrap();
    assert!(
        summary.trim().lines().filter(|l| l.starts_with("- ")).count() <= 10,
        "an executive summary of at most ten lines"
    );
    // every chart the report links exists, as PNG and SVG, and shows text
    for link in md.split("](charts/").skip(1) {
        let name = link.split(')').next().unwrap();
        let bytes = std::fs::read(demo.join("charts").join(name)).unwrap_or_else(|_| panic!("{name}"));
        if name.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
            let svg = std::fs::read_to_string(demo.join("charts").join(name.replace(".png", ".svg"))).unwrap();
            assert!(svg.contains("<text"), "{name}: the SVG has text");
        }
    }
    let trend = std::fs::read_to_string(demo.join("charts/trend-vpn-access.svg")).unwrap();
    assert!(trend.contains("VPN access") && trend.contains("v2.0"), "title and the SOP change marker are drawn");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["generated_at"], "2025-12-31T23:59:59Z", "--as-of fixes generated_at");
    let inputs = manifest["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 4);
    for i in inputs {
        assert_eq!(
            i["rows_read"].as_u64().unwrap(),
            i["accepted"].as_u64().unwrap() + i["rejected"].as_u64().unwrap() + i["superseded"].as_u64().unwrap()
        );
        assert_eq!(i["sha256"].as_str().unwrap().len(), 64);
    }
    // each output's checksum is right
    for o in manifest["outputs"].as_array().unwrap() {
        let bytes = std::fs::read(demo.join(o["path"].as_str().unwrap())).unwrap();
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(o["sha256"].as_str().unwrap(), hex, "{}", o["path"]);
    }
}

fn small_data(dir: &Path, tickets: &str) {
    run_ok(&["generate", "--out", dir.to_str().unwrap(), "--tickets", tickets, "--seed", "3", "--quiet"]);
}

#[test]
fn reruns_with_as_of_are_byte_identical() {
    let data = tempfile::tempdir().unwrap();
    small_data(data.path(), "3000");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let d = data.path();
    for out in [&a, &b] {
        report(
            &[
                "report",
                "--tickets",
                d.join("tickets.csv").to_str().unwrap(),
                "--sops",
                d.join("sops.csv").to_str().unwrap(),
                "--audits",
                d.join("audits.csv").to_str().unwrap(),
                "--as-of",
                "2026-01-31",
                "--out",
                out.path().to_str().unwrap(),
            ],
            d,
        );
    }
    assert_same_tree(a.path(), b.path());
    assert!(files(a.path()).iter().any(|f| f.ends_with(".png")) && files(a.path()).iter().any(|f| f.ends_with(".svg")));
}

#[test]
fn user_text_is_escaped_in_the_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tickets.csv"),
        "ticket_id,opened_at,resolved_at,category,subcategory\n\
         A1,2025-01-02 10:00,2025-01-02 12:00,Net|work,<script>alert(1)</script>\n\
         A2,2025-01-03 10:00,2025-01-03 11:00,Net|work,<script>alert(1)</script>\n\
         B1,2025-01-03 10:00,2025-01-03 11:00,Access,Password\n",
    )
    .unwrap();
    std::fs::write(d.join("sops.csv"), "sop_id,version,process,category,subcategory,effective_from,change_summary\nS-1,1,Pass | word <b>reset</b>,Access,Password,2025-01-01,\"Line one\nline two | <img src=x>\"\n").unwrap();
    let out = d.join("out");
    report(&["report", "--tickets", "tickets.csv", "--sops", "sops.csv", "--out", out.to_str().unwrap()], d);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        !md.contains("<script>") && !md.contains("<b>") && !md.contains("<img"),
        "no HTML from the data reaches the report"
    );
    assert!(md.contains("Net\\|work / &lt;script&gt;alert(1)&lt;/script&gt;"), "{md}");
    assert!(md.contains("### Pass \\| word &lt;b&gt;reset&lt;/b&gt;"), "{md}");
}
