//! `sop-impact metrics` checked against computations that do not trust the engine: hand-computed
//! values on a small edge-case fixture, and a straightforward loop over generated data.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use chrono::{DateTime, NaiveDate};

use common::{bin, fixture, queries_with, read_csv, run_ok, Row};

fn num(row: &Row, col: &str) -> Option<f64> {
    let v = &row[col];
    (!v.is_empty()).then(|| v.parse().unwrap_or_else(|_| panic!("{col}={v} is not a number")))
}

fn find<'a>(rows: &'a [Row], sop: &str, version: &str, process: &str) -> &'a Row {
    rows.iter()
        .find(|r| r["sop_id"] == sop && r["version"] == version && r["process"] == process)
        .unwrap_or_else(|| panic!("no row {sop} {version} {process}"))
}

fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}: got {g}, want {w}"),
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn edge_cases_match_hand_computed_values() {
    let out = tempfile::tempdir().unwrap();
    let edge = fixture("metrics_edge");
    run_ok(&[
        "metrics",
        "--tickets",
        edge.join("tickets.csv").to_str().unwrap(),
        "--sops",
        edge.join("sops.csv").to_str().unwrap(),
        "--timezone",
        "Europe/Berlin",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let rows = read_csv(&out.path().join("metrics/sop_version_metrics.csv"));
    let total: f64 = rows.iter().map(|r| num(r, "tickets").unwrap()).sum();
    assert_eq!(total, 12.0, "every ticket counted once");

    // E-01 at 23:00 on 31 Dec (Berlin) is before v1 takes effect at midnight: "no SOP yet".
    let pre = find(&rows, "SOP-E-1", "-", "Edge process");
    assert_eq!((num(pre, "tickets"), num(pre, "mttr_median_h")), (Some(1.0), Some(3.0)));
    assert_eq!(pre["effective_to"], "2023-12-31T23:00:00Z", "midnight in Berlin is 23:00 UTC in winter");

    // v1: E-02 (1 h, reopened), E-03 (4 h, reassigned, escalated, missed SLA), E-04 open.
    let v1 = find(&rows, "SOP-E-1", "v1", "Edge process");
    assert_eq!((num(v1, "tickets"), num(v1, "resolved"), num(v1, "open")), (Some(3.0), Some(2.0), Some(1.0)));
    assert_eq!(num(v1, "reopen_rate"), Some(0.5));
    assert_eq!(num(v1, "error_rate"), Some(1.0), "reopened or reassigned: both resolved tickets");
    assert_eq!(num(v1, "escalation_rate"), Some(1.0 / 3.0));
    assert_eq!(num(v1, "sla_attainment"), Some(0.5), "the open ticket has no SLA outcome yet");
    assert_close(num(v1, "mttr_mean_h"), Some(2.5), "v1 mean");
    assert_close(num(v1, "mttr_median_h"), Some(2.5), "v1 median");
    // type 7: h = (2-1)*0.9 = 0.9 → 1 + 0.9*(4-1)
    assert_close(num(v1, "mttr_p90_h"), Some(3.7), "v1 p90");
    assert_eq!(num(v1, "analyst_cv"), None, "no analyst has 5 resolved tickets");

    // v2 had no tickets at all: the row is there, with zero counts and no rates.
    let v2 = find(&rows, "SOP-E-1", "v2", "Edge process");
    assert_eq!((num(v2, "tickets"), num(v2, "resolved"), num(v2, "open")), (Some(0.0), Some(0.0), Some(0.0)));
    for c in ["reopen_rate", "error_rate", "escalation_rate", "sla_attainment", "mttr_mean_h", "mttr_median_h"] {
        assert_eq!(num(v2, c), None, "{c} of an empty version");
    }

    // v3: E-05 opened exactly at v3's effective_from belongs to v3; E-06 one minute before v4.
    let v3 = find(&rows, "SOP-E-1", "v3", "Edge process");
    assert_eq!(num(v3, "tickets"), Some(2.0));
    assert_close(num(v3, "mttr_mean_h"), Some(3.5), "v3 mean (6 h and 1 h)");
    assert_close(num(v3, "mttr_p90_h"), Some(5.5), "v3 p90 = 1 + 0.9*5");

    // v4 starts on the day clocks go forward: 00:30→04:30 is 3 h, 01:00→04:00 is 2 h.
    let v4 = find(&rows, "SOP-E-1", "v4", "Edge process");
    assert_eq!(num(v4, "tickets"), Some(2.0));
    assert_close(num(v4, "mttr_mean_h"), Some(2.5), "v4 mean across the DST change");
    assert_close(num(v4, "mttr_p90_h"), Some(2.9), "v4 p90 = 2 + 0.9*1");

    // v5: every ticket still open.
    let v5 = find(&rows, "SOP-E-1", "v5", "Edge process");
    assert_eq!((num(v5, "tickets"), num(v5, "resolved"), num(v5, "open")), (Some(2.0), Some(0.0), Some(2.0)));
    assert_eq!(num(v5, "escalation_rate"), Some(0.5));
    assert_eq!((num(v5, "reopen_rate"), num(v5, "mttr_median_h"), num(v5, "sla_attainment")), (None, None, None));

    // A process without an SOP, spelled two ways, is one row; SLA comes from the priority targets
    // (P4 2.5 h ≤ 72 h, P1 1 h ≤ 4 h).
    let none = find(&rows, "", "-", "Facilities / Keys");
    assert_eq!(num(none, "tickets"), Some(2.0));
    assert_eq!(num(none, "sla_attainment"), Some(1.0));
    assert_eq!(num(none, "error_rate"), Some(0.5));
    assert_close(num(none, "mttr_p90_h"), Some(2.35), "1 + 0.9*1.5");

    let periods = read_csv(&out.path().join("metrics/process_period_metrics.csv"));
    let march = periods.iter().find(|r| r["process"] == "Edge process" && r["period"] == "2024-03").unwrap();
    // Periods follow the calendar of --timezone: E-05 opened at midnight on 1 March in Berlin
    // (23:00 UTC on 29 February) is a March ticket, with E-06 (v3), E-07 and E-08 (v4).
    assert_eq!(num(march, "tickets"), Some(4.0));
    let feb = periods.iter().find(|r| r["process"] == "Edge process" && r["period"] == "2024-02");
    assert!(feb.is_none(), "no Berlin-February tickets: v2 had none");
    assert_eq!(march["version_in_force"], "v3→v4");
}

/// Type-7 quantile, written out.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

fn ts(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis())
}

#[derive(Default)]
struct Expect {
    tickets: u64,
    resolved: u64,
    reopened: u64,
    errors: u64,
    escalated: u64,
    sla_known: u64,
    sla_met: u64,
    hours: Vec<f64>,
    by_analyst: HashMap<String, Vec<f64>>,
    audits: u64,
    changes: u64,
    failed: u64,
}

#[test]
fn generated_metrics_match_a_straightforward_loop() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    run_ok(&["generate", "--out", d.to_str().unwrap(), "--tickets", "20000", "--seed", "17", "--quiet"]);
    let out = tempfile::tempdir().unwrap();
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    run_ok(&[
        "metrics",
        "--tickets",
        &p("tickets.csv"),
        "--sops",
        &p("sops.csv"),
        "--changes",
        &p("changes.csv"),
        "--audits",
        &p("audits.csv"),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let got = read_csv(&out.path().join("metrics/sop_version_metrics.csv"));

    // SOP versions by exact (category, subcategory): the generator spells them consistently.
    let sops = read_csv(&d.join("sops.csv"));
    // (category, subcategory) → [(effective_from, sop_id, version, process)]
    #[allow(clippy::type_complexity)]
    let mut versions: HashMap<(String, String), Vec<(i64, String, String, String)>> = HashMap::new();
    for s in &sops {
        versions.entry((s["category"].clone(), s["subcategory"].clone())).or_default().push((
            ts(&s["effective_from"]).unwrap(),
            s["sop_id"].clone(),
            s["version"].clone(),
            s["process"].clone(),
        ));
    }
    for v in versions.values_mut() {
        v.sort();
    }
    // (sop_id, version, process) of a record of (category, subcategory) at time t
    let attribute = |cat: &str, sub: &str, t: i64| -> (String, String, String) {
        match versions.get(&(cat.to_string(), sub.to_string())) {
            Some(vs) => match vs.iter().rev().find(|v| v.0 <= t) {
                Some(v) => (v.1.clone(), v.2.clone(), v.3.clone()),
                None => (vs[0].1.clone(), "-".into(), vs.last().unwrap().3.clone()),
            },
            None => (String::new(), "-".into(), format!("{cat} / {sub}")),
        }
    };
    let mut expect: BTreeMap<(String, String, String), Expect> = BTreeMap::new();
    let tickets = read_csv(&d.join("tickets.csv"));
    for t in &tickets {
        let opened = ts(&t["opened_at"]).unwrap();
        let e = expect.entry(attribute(&t["category"], &t["subcategory"], opened)).or_default();
        e.tickets += 1;
        e.escalated += (t["escalated"] == "true") as u64;
        if !t["made_sla"].is_empty() {
            e.sla_known += 1;
            e.sla_met += (t["made_sla"] == "true") as u64;
        }
        if let Some(r) = ts(&t["resolved_at"]).or(ts(&t["closed_at"])) {
            e.resolved += 1;
            let reopened = t["reopen_count"] != "0";
            e.reopened += reopened as u64;
            e.errors += (reopened || t["reassignment_count"] != "0" || t["handling_error"] == "true") as u64;
            let h = (r - opened) as f64 / 3_600_000.0;
            e.hours.push(h);
            e.by_analyst.entry(t["assignee"].clone()).or_default().push(h);
        }
    }
    for a in read_csv(&d.join("audits.csv")) {
        let key = attribute(&a["category"], &a["subcategory"], ts(&a["raised_at"]).unwrap());
        expect.entry(key).or_default().audits += 1;
    }
    for c in read_csv(&d.join("changes.csv")) {
        let key = attribute(&c["category"], &c["subcategory"], ts(&c["opened_at"]).unwrap());
        let e = expect.entry(key).or_default();
        e.changes += 1;
        e.failed += (c["close_code"] != "Successful") as u64;
    }

    let total: u64 = got.iter().map(|r| r["tickets"].parse::<u64>().unwrap()).sum();
    assert_eq!(total, 20_000, "tickets add up to the accepted tickets, none counted twice");
    for ((sop, version, process), mut e) in expect {
        let row = find(&got, &sop, &version, &process);
        let what = format!("{sop} {version} {process}");
        assert_eq!(num(row, "tickets"), Some(e.tickets as f64), "{what} tickets");
        assert_eq!(num(row, "resolved"), Some(e.resolved as f64), "{what} resolved");
        assert_eq!(num(row, "open"), Some((e.tickets - e.resolved) as f64), "{what} open");
        let rate = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
        // Rates are exact: a sum of ones divided by a count rounds the same way anywhere.
        assert_eq!(num(row, "reopen_rate"), rate(e.reopened, e.resolved), "{what} reopen_rate");
        assert_eq!(num(row, "error_rate"), rate(e.errors, e.resolved), "{what} error_rate");
        assert_eq!(num(row, "escalation_rate"), rate(e.escalated, e.tickets), "{what} escalation_rate");
        assert_eq!(num(row, "sla_attainment"), rate(e.sla_met, e.sla_known), "{what} sla_attainment");
        assert_eq!(num(row, "audit_exceptions"), Some(e.audits as f64), "{what} audit_exceptions");
        assert_eq!(num(row, "changes"), Some(e.changes as f64), "{what} changes");
        assert_eq!(num(row, "change_failure_rate"), rate(e.failed, e.changes), "{what} change_failure_rate");
        assert_close(num(row, "audit_exceptions_per_1k"), rate(e.audits * 1000, e.tickets), &format!("{what} per 1k"));
        e.hours.sort_by(f64::total_cmp);
        let mean = (!e.hours.is_empty()).then(|| e.hours.iter().sum::<f64>() / e.hours.len() as f64);
        assert_close(num(row, "mttr_mean_h"), mean, &format!("{what} mean"));
        assert_close(num(row, "mttr_median_h"), quantile(&e.hours, 0.5), &format!("{what} median"));
        assert_close(num(row, "mttr_p90_h"), quantile(&e.hours, 0.9), &format!("{what} p90"));
        let medians: Vec<f64> = e
            .by_analyst
            .values_mut()
            .filter(|h| h.len() >= 5)
            .map(|h| {
                h.sort_by(f64::total_cmp);
                quantile(h, 0.5).unwrap()
            })
            .collect();
        let cv = (medians.len() >= 2).then(|| {
            let m = medians.iter().sum::<f64>() / medians.len() as f64;
            let var = medians.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (medians.len() - 1) as f64;
            var.sqrt() / m
        });
        assert_close(num(row, "analyst_cv"), cv, &format!("{what} analyst_cv"));
    }
}

#[test]
fn every_format_loads_and_agrees_with_csv() {
    use polars::prelude::*;
    let edge = fixture("metrics_edge");
    let t = edge.join("tickets.csv");
    let s = edge.join("sops.csv");
    let mut heights = Vec::new();
    for format in ["csv", "parquet", "ipc", "json"] {
        let out = tempfile::tempdir().unwrap();
        run_ok(&[
            "metrics",
            "--tickets",
            t.to_str().unwrap(),
            "--sops",
            s.to_str().unwrap(),
            "--format",
            format,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let ext = if format == "ipc" { "arrow" } else { format };
        let path = out.path().join(format!("metrics/sop_version_metrics.{ext}"));
        let height = match format {
            "parquet" => ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap().height(),
            "ipc" => IpcReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap().height(),
            "json" => serde_json::from_slice::<Vec<serde_json::Value>>(&std::fs::read(&path).unwrap()).unwrap().len(),
            _ => read_csv(&path).len(),
        };
        heights.push(height);
    }
    assert!(heights.iter().all(|h| *h == heights[0] && *h == 7), "{heights:?}");
}

#[test]
fn edited_queries_change_the_tables_and_broken_ones_name_the_file() {
    let edge = fixture("metrics_edge");
    let t = edge.join("tickets.csv");
    let s = edge.join("sops.csv");
    let queries = queries_with(&[]);
    // Count escalations as a share of resolved tickets only.
    let esc = queries.path().join("escalation_rate.sql");
    let text_before = std::fs::read_to_string(&esc).unwrap();
    let text = std::fs::read_to_string(&esc)
        .unwrap()
        .replace("    FROM tickets\n) AS per_ticket", "    FROM tickets\n    WHERE is_resolved\n) AS per_ticket");
    assert_ne!(text, text_before, "the edit applies to the bundled query");
    std::fs::write(&esc, text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let q = queries.path().to_str().unwrap();
    run_ok(&[
        "metrics",
        "--tickets",
        t.to_str().unwrap(),
        "--sops",
        s.to_str().unwrap(),
        "--queries",
        q,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let rows = read_csv(&out.path().join("metrics/sop_version_metrics.csv"));
    assert_eq!(num(find(&rows, "SOP-E-1", "v1", "Edge process"), "escalation_rate"), Some(0.5), "1 of 2 resolved");

    std::fs::write(queries.path().join("mttr.sql"), "-- metric: mttr_mean_h\n-- better: lower\nSELECT grp, AVG(no_such_column) AS mttr_mean_h FROM tickets GROUP BY grp\n").unwrap();
    let o = Command::new(bin())
        .args([
            "metrics",
            "--tickets",
            t.to_str().unwrap(),
            "--sops",
            s.to_str().unwrap(),
            "--queries",
            q,
            "--out",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mttr.sql: SQL problem") && err.contains("no_such_column"), "{err}");
}

#[test]
fn weeks_and_quarters_are_labelled_on_the_local_calendar() {
    let edge = fixture("metrics_edge");
    let out = tempfile::tempdir().unwrap();
    // The edge fixture in Berlin time, by `period`; returns process_period_metrics rows.
    let periods = |period: &str| {
        run_ok(&[
            "metrics",
            "--tickets",
            edge.join("tickets.csv").to_str().unwrap(),
            "--sops",
            edge.join("sops.csv").to_str().unwrap(),
            "--timezone",
            "Europe/Berlin",
            "--period",
            period,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        read_csv(&out.path().join("metrics/process_period_metrics.csv"))
    };
    let rows = periods("week");
    // E-06 (Sat 30 March, 23:59 Berlin) and E-07, E-08 (Sun 31 March) are ISO week 13; E-05
    // (Fri 1 March, 00:00 Berlin) is week 9.
    let w13 = rows.iter().find(|r| r["process"] == "Edge process" && r["period"] == "2024-W13").unwrap();
    assert_eq!(num(w13, "tickets"), Some(3.0));
    assert!(rows.iter().any(|r| r["process"] == "Edge process" && r["period"] == "2024-W09"));
    let rows = periods("quarter");
    let q1 = rows.iter().find(|r| r["process"] == "Edge process" && r["period"] == "2024-Q1").unwrap();
    assert_eq!(num(q1, "tickets"), Some(7.0), "E-02..E-08; E-01 is 2023-Q4 in Berlin; E-09, E-10 are Q2");
}

/// `--low-memory` runs every query per part of the groups; the tables and comparisons must be
/// the same bytes as one run over everything (the demo data has groups in every part).
#[test]
fn low_memory_gives_the_same_tables_and_comparisons() {
    let demo = fixture("demo");
    let run = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec!["metrics", "--quiet", "--out", out.path().to_str().unwrap()];
        let inputs = [
            "--tickets".to_string(),
            demo.join("tickets.csv").display().to_string(),
            "--sops".to_string(),
            demo.join("sops.csv").display().to_string(),
            "--changes".to_string(),
            demo.join("changes.csv").display().to_string(),
            "--audits".to_string(),
            demo.join("audits.csv").display().to_string(),
        ];
        args.extend(inputs.iter().map(String::as_str));
        args.extend_from_slice(extra);
        run_ok(&args);
        ["metrics/sop_version_metrics.csv", "metrics/process_period_metrics.csv", "comparisons.csv", "windows.csv"]
            .map(|f| std::fs::read_to_string(out.path().join(f)).unwrap())
    };
    let whole = run(&[]);
    let parts = run(&["--low-memory"]);
    assert!(whole[0].lines().count() > 5 && whole[2].lines().count() > 5, "{}", whole[2]);
    assert_eq!(whole, parts);
}

/// A metric is one SQL file: its header alone carries it into the tables, the comparisons, the
/// trend charts and the report.
#[test]
fn a_new_metric_is_one_sql_file() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    common::copy_bundled_queries(&queries);
    std::fs::write(
        queries.join("first_touch.sql"),
        "-- metric: first_touch_rate\n\
         -- definition: share of resolved tickets never reassigned\n\
         -- unit: fraction (0-1)\n\
         -- better: higher\n\
         -- order: 55\n\
         -- kind: proportion\n\
         -- label: First-touch resolution\n\
         -- compare: first_touch_rate\n\
         -- chart: 5, % of resolved tickets, resolved\n\
         -- overview: 5\n\
         SELECT grp, AVG(v) AS first_touch_rate, COUNT(v) AS first_touch_rate__n\n\
         FROM (SELECT grp, CASE WHEN reassignment_count IS NULL THEN NULL WHEN reassignment_count = 0 THEN 1.0 ELSE 0.0 END AS v\n\
               FROM tickets WHERE is_resolved) AS per_ticket\n\
         GROUP BY grp\n",
    )
    .unwrap();
    let demo = fixture("demo");
    let out = dir.path().join("out");
    run_ok(&[
        "report",
        "--quiet",
        "--tickets",
        demo.join("tickets.csv").to_str().unwrap(),
        "--sops",
        demo.join("sops.csv").to_str().unwrap(),
        "--as-of",
        "2025-12-31",
        "--queries",
        queries.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // tables: a column after sla_attainment (order 55), with values
    let header = std::fs::read_to_string(out.join("metrics/sop_version_metrics.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.contains("sla_attainment,first_touch_rate,mttr_mean_h"), "{header}");
    let versions = read_csv(&out.join("metrics/sop_version_metrics.csv"));
    assert!(versions.iter().any(|r| num(r, "first_touch_rate").is_some_and(|v| (0.0..=1.0).contains(&v))));
    // comparisons: a row per change
    let comparisons = read_csv(&out.join("comparisons.csv"));
    let changes = comparisons.iter().filter(|r| r["metric"] == "reopen_rate").count();
    assert!(changes > 0);
    assert_eq!(comparisons.iter().filter(|r| r["metric"] == "first_touch_rate").count(), changes);
    // report: its label in the change tables and in the table of processes without an SOP
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| First-touch resolution |"), "a change table row");
    assert!(md.contains("| first-touch resolution |"), "a column of the processes without an SOP");
    // charts: a fifth panel in every trend chart
    let trend = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("trend-") && p.extension().unwrap() == "svg")
        .unwrap();
    assert!(std::fs::read_to_string(trend).unwrap().contains("First-touch resolution"));
}

/// Columns no bundled query reads are let go after attribution, but never one a query reads:
/// a query over the ticket id and the status (and mentioning another column only in a comment)
/// still finds them.
#[test]
fn a_query_reads_columns_the_bundled_queries_do_not() {
    let edge = fixture("metrics_edge");
    let queries = queries_with(&[(
        "ids.sql",
        "-- metric: distinct_ids, closed_status\n\
         -- better: none\n\
         -- kind: count\n\
         -- (closed_at is not read here)\n\
         SELECT grp, COUNT(DISTINCT ticket_id) AS distinct_ids, SUM(CASE WHEN status = 'Closed' THEN 1 ELSE 0 END) AS closed_status\n\
         FROM tickets GROUP BY grp\n",
    )]);
    let out = tempfile::tempdir().unwrap();
    run_ok(&[
        "metrics",
        "--tickets",
        edge.join("tickets.csv").to_str().unwrap(),
        "--sops",
        edge.join("sops.csv").to_str().unwrap(),
        "--queries",
        queries.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let rows = read_csv(&out.path().join("metrics/sop_version_metrics.csv"));
    let tickets_csv = std::fs::read_to_string(edge.join("tickets.csv")).unwrap();
    let closed_in_file = tickets_csv.lines().filter(|l| l.contains(",Closed,")).count() as f64;
    let sum = |name: &str| rows.iter().map(|r| num(r, name).unwrap_or(0.0)).sum::<f64>();
    assert_eq!(sum("distinct_ids"), sum("tickets"), "every ticket's id, once");
    assert!(sum("tickets") > 0.0);
    assert_eq!(sum("closed_status"), closed_in_file, "the status of every ticket");
}
