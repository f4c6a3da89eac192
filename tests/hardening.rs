//! Regressions of a bad-input campaign: nothing outside `--out` is ever removed, an interrupted
//! publication is recovered, nothing panics or hangs, and line numbers are the editor's. Each
//! test is named after what it protects.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, names, run_in, text};

/// `report` over the demo data into `out`, run in `cwd`, with `extra` options and `env`.
fn report(cwd: &Path, out: &str, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let (t, s) = (fixture("demo/tickets.csv"), fixture("demo/sops.csv"));
    let mut args = vec!["report", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap()];
    args.extend(["--as-of", "2025-12-31", "--out", out]);
    args.extend(extra);
    run_in(cwd, &args, env)
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{:?}", text(o));
}

#[test]
fn report_never_replaces_a_file_or_a_device_at_out() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let o = report(dir.path(), "notes.txt", &[], &[]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert!(text(&o).1.contains("notes.txt") && text(&o).1.contains("not a directory"), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let o = report(dir.path(), "/dev/null", &[], &[]);
        assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
    assert_eq!(names(dir.path()), vec!["notes.txt"], "nothing staged is left behind");
}

#[test]
fn report_into_the_directory_of_its_inputs_keeps_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for f in ["tickets.csv", "sops.csv"] {
        std::fs::copy(fixture("demo").join(f), data.join(f)).unwrap();
    }
    let args = ["report", "--quiet", "--tickets", "data/tickets.csv", "--sops", "data/sops.csv", "--out", "data"];
    let o = run_in(dir.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert!(text(&o).1.contains("which no report wrote"), "{:?}", text(&o));
    assert_eq!(names(&data), vec!["sops.csv", "tickets.csv"]);
    assert_eq!(std::fs::read(data.join("tickets.csv")).unwrap(), std::fs::read(fixture("demo/tickets.csv")).unwrap());
    assert_eq!(names(dir.path()), vec!["data"], "nothing staged is left behind");
}

#[test]
fn a_report_killed_between_the_renames_is_put_back_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    ok(&report(dir.path(), "r", &[], &[]));
    let first = std::fs::read(dir.path().join("r/report.md")).unwrap();
    // Killed after moving the previous report aside, before moving the new one in.
    let o = report(dir.path(), "r", &[], &[("SOP_IMPACT_FAULT", "publish-target-moved-aside")]);
    assert_eq!(o.status.code(), Some(86), "the injected fault stopped the run: {:?}", text(&o));
    assert!(!dir.path().join("r").exists(), "the window the next run must repair");
    let aside: Vec<String> = names(dir.path()).into_iter().filter(|n| n.starts_with(".r.old-")).collect();
    assert_eq!(aside.len(), 1, "{:?}", names(dir.path()));
    // The next run puts the previous report back before it stages, then publishes its own.
    ok(&report(dir.path(), "r", &[], &[]));
    assert_eq!(std::fs::read(dir.path().join("r/report.md")).unwrap(), first);
    assert_eq!(names(dir.path()), vec!["r"], "nothing left beside the report");
    // Killed after the new report is in place, before the old one is removed: it is removed.
    let o = report(dir.path(), "r", &[], &[("SOP_IMPACT_FAULT", "publish-new-report-in-place")]);
    assert_eq!(o.status.code(), Some(86));
    assert!(dir.path().join("r/manifest.json").exists());
    ok(&report(dir.path(), "r", &[], &[]));
    assert_eq!(names(dir.path()), vec!["r"]);
}

#[test]
fn report_with_out_dot_writes_into_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    ok(&report(dir.path(), ".", &[], &[]));
    assert!(dir.path().join("report.md").exists() && dir.path().join("manifest.json").exists());
    // Killed while moving the new report in: the next run finishes the move.
    let o = report(dir.path(), ".", &[], &[("SOP_IMPACT_FAULT", "publish-inside-moving-in")]);
    assert_eq!(o.status.code(), Some(86));
    ok(&report(dir.path(), ".", &[], &[]));
    let listed = names(dir.path());
    assert!(listed.iter().all(|n| !n.starts_with('.')), "no staging left: {listed:?}");
    assert!(listed.contains(&"report.md".to_string()) && listed.contains(&"charts".to_string()));
    // A file the user put there makes it a directory that is not only a report's.
    std::fs::write(dir.path().join("mine.txt"), "keep").unwrap();
    let o = report(dir.path(), ".", &[], &[]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.path().join("mine.txt")).unwrap(), "keep");
    assert!(dir.path().join("report.md").exists(), "the previous report is still there");
}

#[cfg(unix)]
#[test]
fn report_into_a_directory_whose_parent_is_read_only_stages_inside_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("ro");
    let target = parent.join("r");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
    let root_ignores_permissions = std::fs::write(parent.join("probe"), "").is_ok();
    if !root_ignores_permissions {
        ok(&report(dir.path(), "ro/r", &[], &[]));
        assert!(target.join("report.md").exists());
        assert_eq!(names(&parent), vec!["r"]);
    }
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_panic_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["validate"], &[("SOP_IMPACT_FAULT", "panic"), ("RUST_BACKTRACE", "1")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("internal error") && !err.contains("stack backtrace"), "{err}");
}

/// A small export written to `dir`: (tickets.csv, sops.csv).
fn write_inputs(dir: &Path, tickets: &str, sops: &str) -> (PathBuf, PathBuf) {
    let (t, s) = (dir.join("tickets.csv"), dir.join("sops.csv"));
    std::fs::write(&t, tickets).unwrap();
    std::fs::write(&s, sops).unwrap();
    (t, s)
}

#[test]
fn long_and_colliding_process_names_get_short_distinct_chart_names() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("Very {} long process", "very ".repeat(60));
    let mut tickets = String::from("ticket_id,opened_at,resolved_at,category\n");
    for (c, cat) in ["C1", "C2", "C3"].iter().enumerate() {
        for i in 0..40 {
            let day = 1 + i % 28;
            tickets.push_str(&format!(
                "T{c}-{i},2025-0{m}-{day:02} 09:00,2025-0{m}-{day:02} 11:00,{cat}\n",
                m = 1 + i % 6
            ));
        }
    }
    let sops = format!(
        "sop_id,version,process,category,effective_from\nS-1,1,{long},C1,2025-01-01\nS-1,2,{long},C1,2025-03-15\n\
         S-2,1,Net/Work,C2,2025-01-01\nS-3,1,Net-Work,C3,2025-01-01\n"
    );
    let (t, s) = write_inputs(dir.path(), &tickets, &sops);
    let args = ["report", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    ok(&run_in(dir.path(), &args, &[]));
    let charts = names(&dir.path().join("out/charts"));
    assert!(charts.iter().all(|n| n.len() <= 120), "{charts:?}");
    let trends: Vec<&String> = charts.iter().filter(|n| n.starts_with("trend-") && n.ends_with(".svg")).collect();
    assert_eq!(trends.len(), 3, "one trend chart per SOP, none overwritten: {charts:?}");
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    for t in trends {
        assert!(md.contains(&t.replace(".svg", ".png")), "the report links {t}");
    }
}

#[test]
fn a_category_too_long_to_be_a_name_is_shortened_alike_in_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (long, other) = (format!("Pasted {}", "x".repeat(5000)), format!("Pasted {}y", "x".repeat(5000)));
    let mut tickets = String::from("ticket_id,opened_at,resolved_at,category\n");
    for (c, cat) in [&long, &other].iter().enumerate() {
        for i in 0..30 {
            let (m, day) = (1 + i % 6, 1 + i % 28);
            tickets.push_str(&format!("T{c}-{i},2025-0{m}-{day:02} 09:00,2025-0{m}-{day:02} 11:00,{cat}\n"));
        }
    }
    let sops = format!("sop_id,version,category,effective_from\nS-1,1,{long},2025-01-01\nS-1,2,{long},2025-04-01\n");
    let (t, s) = write_inputs(dir.path(), &tickets, &sops);
    let args = ["report", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    let o = run_in(dir.path(), &args, &[]);
    ok(&o);
    let (stdout, stderr) = text(&o);
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("tickets.csv: 60 category values longer than 1024 bytes kept as their first 100 characters"),
        "{said}"
    );
    assert!(
        said.contains("sops.csv: 2 category values longer than 1024 bytes") && said.contains("(first at line 2)"),
        "{said}"
    );
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(!md.contains(&"x".repeat(200)), "no table or heading repeats the whole text");
    assert!(md.contains("… \\[5007 bytes \\#"), "the shortened name says how long the text was");
    assert!(!md.contains("match no process"), "the SOP's category, shortened alike, still governs its tickets");
    let backlog = std::fs::read_to_string(dir.path().join("out/backlog.csv")).unwrap();
    assert_eq!(backlog.lines().count(), 3, "the two long categories that differ stay two processes: {backlog}");
}

#[test]
fn a_backlog_of_thousands_of_processes_is_drawn_as_its_top() {
    let dir = tempfile::tempdir().unwrap();
    let mut tickets = String::from("ticket_id,opened_at,resolved_at,category\n");
    for i in 0..3000 {
        tickets.push_str(&format!(
            "T{i},2025-02-{:02} 09:00,2025-02-{:02} 10:00,Category {i}\n",
            1 + i % 28,
            1 + i % 28
        ));
    }
    let (t, s) = write_inputs(
        dir.path(),
        &tickets,
        "sop_id,version,process,category,effective_from\nS-1,1,First,Category 0,2025-01-01\n",
    );
    let args = ["report", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    ok(&run_in(dir.path(), &args, &[]));
    let out = dir.path().join("out");
    assert_eq!(std::fs::read_to_string(out.join("backlog.csv")).unwrap().lines().count(), 3001, "every process ranked");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("The 2,970 processes ranked 31 and below are left out"), "the report says what it left out");
    let png = std::fs::read(out.join("charts/backlog.png")).unwrap();
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(height < 2000, "the chart has the top 30 bars, not 3,000: {height} px");
}

#[test]
fn an_arrow_timestamp_with_a_fixed_offset_zone_is_refused_by_name() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let opened = Series::new("opened_at".into(), [1_735_722_000_000i64, 1_735_808_400_000])
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(unsafe { TimeZone::from_static("Israel") })))
        .unwrap();
    let mut df = DataFrame::new(2, vec![Series::new("ticket_id".into(), ["A", "B"]).into(), opened.into()]).unwrap();
    let path = dir.path().join("tickets.arrow");
    IpcWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
    // The same file with the zone as a fixed offset, as pyarrow writes one: same length, so
    // the flatbuffers stay valid.
    let bytes = std::fs::read(&path).unwrap();
    let patched = String::from_utf8_lossy(&bytes).contains("Israel");
    assert!(patched, "the zone name is in the schema");
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"Israel") {
            out.extend_from_slice(b"+05:45");
            i += 6;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    std::fs::write(&path, out).unwrap();
    let sops = fixture("profiles/sops.csv");
    let args = ["validate", "--tickets", path.to_str().unwrap(), "--sops", sops.to_str().unwrap(), "--out", "out"];
    let o = run_in(dir.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
    assert!(text(&o).1.contains("'+05:45'") && text(&o).1.contains("opened_at"), "{:?}", text(&o));
}

#[test]
fn a_query_file_with_non_ascii_text_binds_its_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    common::copy_bundled_queries(&queries);
    let cv = queries.join("analyst_cv.sql");
    let sql = std::fs::read_to_string(&cv).unwrap();
    let sql = sql
        .replacen("SELECT", "-- Analystes: médiane – écart (ü)\nSELECT", 1)
        .replace("FROM tickets", "FROM tickets -- déjà vu:\n");
    assert!(sql.contains(":min_analyst_tickets"), "the query has a parameter after the non-ASCII text");
    std::fs::write(&cv, sql).unwrap();
    let (t, s) = (fixture("demo/tickets.csv"), fixture("demo/sops.csv"));
    let args = ["metrics", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap()];
    let o = run_in(dir.path(), &[&args[..], &["--queries", "queries", "--out", "out"]].concat(), &[]);
    ok(&o);
    assert!(dir.path().join("out/metrics/sop_version_metrics.csv").exists());
}

#[cfg(unix)]
#[test]
fn a_non_utf8_out_path_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let out = std::ffi::OsStr::from_bytes(b"out-\xff");
    let (t, s) = (fixture("demo/tickets.csv"), fixture("demo/sops.csv"));
    let mut args: Vec<&std::ffi::OsStr> = ["report", "--quiet", "--tickets"].iter().map(std::ffi::OsStr::new).collect();
    args.extend([t.as_os_str(), "--sops".as_ref(), s.as_os_str(), "--out".as_ref(), out]);
    ok(&run_in(dir.path(), &args, &[]));
    assert!(dir.path().join(out).join("report.md").exists());
}

#[test]
fn the_same_ticket_file_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture("demo/tickets.csv");
    let same = fixture("demo/../demo/tickets.csv");
    let s = fixture("demo/sops.csv");
    let args = ["validate", "--tickets", t.to_str().unwrap(), same.to_str().unwrap(), "--sops", s.to_str().unwrap()];
    let o = run_in(dir.path(), &[&args[..], &["--out", "out"]].concat(), &[]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("same file twice"), "{:?}", text(&o));
}

#[cfg(unix)]
#[test]
fn a_fifo_input_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("tickets.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let s = fixture("demo/sops.csv");
    let mut child = std::process::Command::new(common::bin())
        .args(["validate", "--tickets", fifo.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("validate waited on the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
    assert!(text(&o).1.contains("not a regular file"), "{:?}", text(&o));
}

#[test]
fn lines_after_blank_lines_are_the_editors_for_lf_crlf_and_cr() {
    let dir = tempfile::tempdir().unwrap();
    let s = fixture("profiles/sops.csv");
    for end in ["\n", "\r\n", "\r"] {
        let csv =
            format!("ticket_id,opened_at{end}A,2024-01-01{end}{end}{end}B,bad{end}C,2024-01-02{end}{end}D,worse{end}");
        std::fs::write(dir.path().join("tickets.csv"), csv).unwrap();
        for block in ["64", "100000"] {
            let args =
                ["validate", "--quiet", "--tickets", "tickets.csv", "--sops", s.to_str().unwrap(), "--out", "out"];
            let o = run_in(dir.path(), &args, &[("SOP_IMPACT_BLOCK_BYTES", block)]);
            ok(&o);
            let rejects: Vec<(String, String)> = csv::Reader::from_path(dir.path().join("out/rejects.csv"))
                .unwrap()
                .records()
                .map(|r| r.unwrap())
                .map(|r| (r[1].to_string(), r[3].to_string()))
                .collect();
            let want = vec![("5".to_string(), "bad".to_string()), ("8".to_string(), "worse".to_string())];
            assert_eq!(rejects, want, "line ends {end:?}, blocks of {block} bytes");
        }
    }
}

#[test]
fn a_megabyte_field_is_cut_in_the_value_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(1 << 20);
    let csv = format!("ticket_id,opened_at\nA,2024-01-01\nB,{huge}\n");
    let (t, s) = write_inputs(dir.path(), &csv, "sop_id,version,process,category,effective_from\nS,1,P,C,2024-01-01\n");
    let args = ["validate", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    ok(&run_in(dir.path(), &args, &[]));
    let rejects = std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap();
    assert!(rejects.len() < 2_000, "{} bytes", rejects.len());
    let r = csv::Reader::from_reader(rejects.as_bytes()).records().next().unwrap().unwrap();
    assert_eq!(&r[2], "opened_at");
    assert!(r[4].chars().count() <= 301 && r[4].ends_with('…'), "{}", &r[4]);
}

#[test]
fn report_wording_follows_alpha_and_the_attribution_option() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[compare]\nalpha = 0.1\n").unwrap();
    ok(&report(dir.path(), "out", &["--config", "c.toml", "--attribute-by", "resolved-at"], &[]));
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(md.contains("90% CI") && !md.contains("95% CI"), "intervals are labelled with 1 − α");
    assert!(md.contains("in force when it was resolved"), "the methodology names the attribution timestamp");
    let svg = names(&dir.path().join("out/charts"))
        .into_iter()
        .find(|n| n.starts_with("change-") && n.ends_with(".svg") && !n.ends_with("-trend.svg"));
    let svg = std::fs::read_to_string(dir.path().join("out/charts").join(svg.unwrap())).unwrap();
    assert!(svg.contains("90% CI"), "the before/after chart too");
}

#[test]
fn a_second_export_appended_with_its_byte_order_mark_reads_the_same_in_any_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("\u{feff}ticket_id,opened_at\n");
    for i in 0..6 {
        csv.push_str(&format!("A{i},2024-01-{:02} 10:00\n", 1 + i));
    }
    // `cat a.csv b.csv` of exports without headers: the second file's mark starts a line. Read
    // whole, it belongs to B0's id; a block starting there must not lose it (the CSV reader drops
    // a mark at the start of its input), or B0 would clash with the other B0 below.
    csv.push_str("\u{feff}B0,2024-02-01 10:00\n");
    for i in 1..6 {
        csv.push_str(&format!("B{i},2024-02-{:02} 10:00\n", 1 + i));
    }
    csv.push_str("B0,2024-03-01 10:00\n");
    std::fs::write(dir.path().join("tickets.csv"), &csv).unwrap();
    let s = fixture("profiles/sops.csv");
    let read = |block: usize| {
        let args = ["validate", "--tickets", "tickets.csv", "--sops", s.to_str().unwrap(), "--out", "out"];
        let o = run_in(dir.path(), &args, &[("SOP_IMPACT_BLOCK_BYTES", &block.to_string())]);
        ok(&o);
        let summary = text(&o).0.lines().filter(|l| l.contains("rows read")).collect::<Vec<_>>().join("\n");
        (summary, std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap())
    };
    let whole = read(1 << 20);
    assert!(whole.0.contains("13 rows read = 13 accepted + 0 rejected"), "{whole:?}");
    for block in 64..=170 {
        assert_eq!(read(block), whole, "blocks of {block} bytes");
    }
}

#[test]
fn metrics_then_report_into_the_same_directory_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (t, s) = (fixture("demo/tickets.csv"), fixture("demo/sops.csv"));
    let inputs = ["--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    ok(&run_in(dir.path(), &[&["metrics", "--format", "parquet"][..], &inputs].concat(), &[]));
    ok(&run_in(dir.path(), &[&["report"][..], &inputs].concat(), &[]));
    assert!(
        dir.path().join("out/report.md").exists()
            && !dir.path().join("out/metrics/sop_version_metrics.parquet").exists()
    );
    // a file of the user's is refused before any analysis
    std::fs::write(dir.path().join("out/notes.txt"), "mine").unwrap();
    let o = run_in(dir.path(), &[&["report"][..], &inputs].concat(), &[]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert!(text(&o).1.contains("notes.txt"));
}

#[test]
fn an_export_whose_every_row_is_rejected_is_refused_with_the_way_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (t, s) = write_inputs(
        dir.path(),
        "ticket_id,opened_at\nA,never\nB,soon\n",
        "sop_id,version,process,category,effective_from\nS,1,P,C,2024-01-01\n",
    );
    let args = ["report", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--out", "out"];
    let o = run_in(dir.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
    assert!(text(&o).1.contains("no ticket was accepted") && text(&o).1.contains("rejects.csv"), "{:?}", text(&o));
}

#[test]
fn evidence_packs_of_sops_whose_ids_differ_in_punctuation_go_to_different_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut tickets = String::from("ticket_id,opened_at,resolved_at,category\n");
    for i in 0..10 {
        tickets.push_str(&format!("T{i},2025-02-{:02} 09:00,2025-02-{:02} 10:00,C{}\n", 1 + i, 1 + i, i % 2));
    }
    let (t, s) = write_inputs(
        dir.path(),
        &tickets,
        "sop_id,version,process,category,effective_from\nA/B,1,One,C0,2025-01-01\nA-B,1,Two,C1,2025-01-01\n",
    );
    for sop in ["A/B", "A-B"] {
        let args =
            ["evidence", "--quiet", "--tickets", t.to_str().unwrap(), "--sops", s.to_str().unwrap(), "--sop", sop];
        ok(&run_in(dir.path(), &args, &[]));
    }
    let packs: Vec<String> =
        names(&dir.path().join("reports")).into_iter().filter(|n| n.starts_with("evidence-a-b-1")).collect();
    assert_eq!(packs.len(), 2, "{packs:?}");
}
