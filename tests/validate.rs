//! Happy paths of `validate` and `generate` through the real binary: every vendor profile,
//! Parquet and Arrow IPC inputs, event-log exports, determinism, and the accounting identity.

mod common;

use std::path::Path;
use std::process::Command;

use polars::prelude::*;

use common::{bin, fixture, queries_with, rejects, run, text};

fn validate(tickets: &Path, sops: &Path, extra: &[&str]) -> (i32, String, String, tempfile::TempDir) {
    validate_with(tickets, sops, extra, None, None)
}

/// `validate`, run in `cwd` and with files cut into blocks of `block_bytes` when given.
fn validate_with(
    tickets: &Path,
    sops: &Path,
    extra: &[&str],
    cwd: Option<&Path>,
    block_bytes: Option<&str>,
) -> (i32, String, String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["validate", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap(), "--out"])
        .arg(out.path())
        .args(extra);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(bytes) = block_bytes {
        cmd.env("SOP_IMPACT_BLOCK_BYTES", bytes);
    }
    let o = cmd.output().unwrap();
    let (so, se) = text(&o);
    (o.status.code().unwrap_or(-1), so, se, out)
}

#[test]
fn jira_export_is_detected_and_read() {
    let (code, out, err, dir) = validate(&fixture("profiles/jira/tickets.csv"), &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile jira (header has 'Issue key' and 'Created')"), "{out}");
    assert!(out.contains("Labels+Labels→escalated"), "both Labels columns feed escalated: {out}");
    assert!(out.contains("3 rows read = 3 accepted + 0 rejected"), "{out}");
    // 24/Nov/25 3:14 PM is the first ticket; 26/Nov/25 12:05 AM the last
    assert!(out.contains("2025-11-24  2025-11-26"), "{out}");
    assert!(rejects(dir.path()).is_empty());
}

#[test]
fn zendesk_export_is_detected_and_offsets_respected() {
    let (code, out, err, _dir) = validate(&fixture("profiles/zendesk/tickets.csv"), &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile zendesk"), "{out}");
    assert!(out.contains("Group stations→reassignment_count"), "{out}");
    assert!(out.contains("3 rows read = 3 accepted + 0 rejected"), "{out}");
}

#[test]
fn servicenow_list_export_with_question_marks_and_day_first_dates() {
    let (code, out, err, dir) =
        validate(&fixture("profiles/servicenow/tickets.csv"), &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile servicenow"), "{out}");
    assert!(out.contains("escalation→escalated"), "{out}");
    assert!(out.contains("3 rows read = 3 accepted + 0 rejected"), "{out}");
    assert!(out.contains("2024-02-29  2024-03-13"), "29/2/2024 read day-first: {out}");
    assert!(rejects(dir.path()).is_empty());
}

#[test]
fn semicolons_bom_crlf_and_quoted_newlines() {
    let (code, out, err, _dir) =
        validate(&fixture("profiles/semicolon_bom/tickets.csv"), &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("csv (;)"), "{out}");
    assert!(out.contains("2 rows read = 2 accepted + 0 rejected"), "{out}");
}

#[test]
fn a_bad_row_after_a_quoted_newline_is_reported_at_its_real_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, "ticket_id,opened_at,status\nA,2025-01-01 10:00,\"two\nlines\"\nB,someday,Open\n").unwrap();
    let (code, out, err, outdir) = validate(&p, &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 rows read = 1 accepted + 1 rejected"), "{out}");
    let r = rejects(outdir.path());
    assert_eq!(&r[0][1], "4", "record B starts on line 4 because A spans lines 2-3");
}

#[test]
fn timezone_and_date_order_options() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, "ticket_id,opened_at\nA,03/04/2025 10:00\n").unwrap();
    let (code, _, err, _) = validate(&p, &fixture("profiles/sops.csv"), &[]);
    assert_eq!(code, 3, "ambiguous without --date-order: {err}");
    let (code, out, err, _) =
        validate(&p, &fixture("profiles/sops.csv"), &["--date-order", "mdy", "--timezone", "America/New_York"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2025-03-04"), "month-first: {out}");
    let (code, _, err, _) = validate(&p, &fixture("profiles/sops.csv"), &["--timezone", "Mars/Olympus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown time zone 'Mars/Olympus'"), "{err}");
}

fn typed_frame() -> DataFrame {
    let opened =
        Int64Chunked::from_vec("opened_at".into(), vec![1_735_725_600_000, 1_735_812_000_000, 1_735_898_400_000])
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
            .into_column();
    DataFrame::new(
        3,
        vec![
            Column::new("ticket_id".into(), ["P-1", "P-2", "P-3"]),
            opened,
            Column::new("priority".into(), [Some(2i32), Some(3), None]),
            Column::new("category".into(), ["Access", "Network", "Access"]),
            Column::new("escalated".into(), [true, false, false]),
            Column::new("reopen_count".into(), [0i64, 1, -3]),
        ],
    )
    .unwrap()
}

#[test]
fn parquet_and_arrow_ipc_inputs_are_detected_by_content() {
    let dir = tempfile::tempdir().unwrap();
    // Names without the usual extensions: the format must come from the bytes.
    let pq = dir.path().join("tickets.export");
    let ipc = dir.path().join("tickets.bin");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap()).finish(&mut typed_frame()).unwrap();
    IpcWriter::new(std::fs::File::create(&ipc).unwrap()).finish(&mut typed_frame()).unwrap();
    for (path, format) in [(&pq, "parquet"), (&ipc, "ipc")] {
        let (code, out, err, outdir) = validate(path, &fixture("profiles/sops.csv"), &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("  {format}  ")), "{out}");
        assert!(out.contains("3 rows read = 2 accepted + 1 rejected"), "{out}");
        let r = rejects(outdir.path());
        assert_eq!((&r[0][1], &r[0][2], &r[0][3]), ("3", "reopen_count", "'-3"), "row 3 of the table");
        assert!(out.contains("2025-01-01  2025-01-02"), "{out}");
        // Read in slices of one row (on every core): the same result, rows numbered the same.
        let (_, sliced_out, _, sliced) = validate_with(path, &fixture("profiles/sops.csv"), &[], None, Some("64"));
        assert_eq!(
            sliced_out.replace(sliced.path().to_str().unwrap(), "OUT"),
            out.replace(outdir.path().to_str().unwrap(), "OUT")
        );
        assert_eq!(rejects(sliced.path()), r);
    }
}

#[test]
fn generated_servicenow_event_log_keeps_the_latest_event_per_incident() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o =
        run(&["generate", "--out", d, "--tickets", "3000", "--seed", "11", "--profile", "servicenow", "--event-log"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let (code, out, err, _) = validate(
        &dir.path().join("tickets.csv"),
        &dir.path().join("sops.csv"),
        &["--changes", &format!("{d}/changes.csv"), "--audits", &format!("{d}/audits.csv")],
    );
    assert_eq!(code, 0, "{err}");
    let line =
        out.lines().find(|l| l.contains("rows read") && l.contains("superseded")).unwrap_or_else(|| panic!("{out}"));
    // "N rows read = 3000 accepted + 0 rejected + M superseded", and N = 3000 + M.
    let nums: Vec<u64> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    assert_eq!(nums[1], 3000, "one ticket per incident: {line}");
    assert_eq!(nums[0], nums[1] + nums[2] + nums[3], "{line}");
    assert!(nums[3] > 0, "the event log has superseded rows: {line}");
}

#[test]
fn generate_is_deterministic_per_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    for (dir, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let o =
            run(&["generate", "--out", dir.path().to_str().unwrap(), "--tickets", "200000", "--seed", seed, "--quiet"]);
        assert!(o.status.success());
    }
    for f in ["tickets.csv", "sops.csv", "changes.csv", "audits.csv", "truth.json"] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f} differs for the same seed");
    }
    assert_ne!(
        std::fs::read(a.path().join("tickets.csv")).unwrap(),
        std::fs::read(c.path().join("tickets.csv")).unwrap()
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("truth.json")).unwrap()).unwrap();
    let worsened =
        truth["changes"].as_array().unwrap().iter().filter(|c| c["expected"]["reopen_rate"] == "worsened").count();
    assert_eq!(worsened, 1, "exactly one change is planted to make things worse");
    // 200,000 tickets plus the header; some of them still open at the end of the history.
    let tickets = std::fs::read_to_string(a.path().join("tickets.csv")).unwrap();
    assert_eq!(tickets.lines().count(), 200_001);
    assert!(tickets.lines().any(|l| l.contains(",In Progress,")), "still-open tickets exist");
}

#[test]
fn generated_data_validates_without_rejects_and_sop_warnings_name_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(run(&["generate", "--out", d, "--tickets", "5000", "--seed", "1", "--quiet"]).status.success());
    let (code, out, err, outdir) = validate(&dir.path().join("tickets.csv"), &dir.path().join("sops.csv"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5000 rows read = 5000 accepted + 0 rejected"), "{out}");
    assert!(out.contains("12 rows read = 12 accepted + 0 rejected"), "{out}");
    assert!(rejects(outdir.path()).is_empty());
}

#[test]
fn help_has_examples_and_version_prints() {
    for cmd in ["report", "validate", "metrics", "backlog", "evidence", "generate"] {
        let o = run(&[cmd, "--help"]);
        assert!(o.status.success());
        assert!(text(&o).0.contains("Examples:"), "{cmd} --help has examples");
    }
    let o = run(&["--version"]);
    assert_eq!(text(&o).0.trim(), format!("sop-impact {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn missing_inputs_and_unwritable_output_have_their_exit_codes() {
    let o = run(&["validate", "--tickets", "x.csv"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["validate", "--tickets", "/nonexistent/t.csv", "--sops", "/nonexistent/s.csv"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).1.contains("/nonexistent/t.csv: cannot read"), "{:?}", text(&o));
    // --out below a regular file cannot be created
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let t = fixture("profiles/jira/tickets.csv");
    let s = fixture("profiles/sops.csv");
    let o = run(&[
        "validate",
        "--tickets",
        t.to_str().unwrap(),
        "--sops",
        s.to_str().unwrap(),
        "--out",
        file.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
}

const ALPHABET: &[u8] = b"ab,;\"\n\r 0123456789:-/TZ?";

#[test]
fn garbage_and_truncated_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(run(&["generate", "--out", d, "--tickets", "300", "--seed", "9", "--quiet"]).status.success());
    let good = std::fs::read(dir.path().join("tickets.csv")).unwrap();
    let sops = dir.path().join("sops.csv");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for k in 0..24 {
        let p = dir.path().join(format!("case{k}.csv"));
        let bytes: Vec<u8> = match k % 4 {
            // truncated anywhere, even inside a multi-byte character or a quoted field
            0 => good[..(next() as usize % good.len())].to_vec(),
            // random bytes
            1 => (0..(next() % 4000)).map(|_| next() as u8).collect(),
            // random printable text with delimiters and quotes
            2 => (0..(next() % 4000)).map(|_| ALPHABET[next() as usize % ALPHABET.len()]).collect(),
            // the good header, then random printable rows
            _ => {
                let mut v = good[..good.iter().position(|&b| b == b'\n').unwrap() + 1].to_vec();
                v.extend((0..(next() % 4000)).map(|_| ALPHABET[next() as usize % ALPHABET.len()]));
                v
            }
        };
        std::fs::write(&p, &bytes).unwrap();
        let o = run(&["validate", "--tickets", p.to_str().unwrap(), "--sops", sops.to_str().unwrap(), "--out", d]);
        let code = o.status.code().unwrap_or(-1);
        let (_, err) = text(&o);
        assert!(code == 0 || code == 3, "case {k}: exit {code}: {err}");
        assert!(!err.contains("panicked"), "case {k}: {err}");
    }
}

/// Large files are read in blocks on every core; cutting files into tiny blocks must change
/// nothing: the same accounting, the same rejects on the same lines, the same errors.
#[test]
fn reading_in_small_blocks_changes_nothing() {
    let run_with = |dir: &Path, tickets: &Path, sops: &Path, block: Option<&str>| {
        let (code, out, err, outdir) = validate_with(tickets, sops, &[], Some(dir), block);
        let rejects = std::fs::read_to_string(outdir.path().join("rejects.csv")).unwrap_or_default();
        (code, out.replace(outdir.path().to_str().unwrap(), "OUT"), err, rejects)
    };
    // A file with a BOM, CRLF line ends, quoted delimiters, quoted newlines, escaped quotes, a
    // blank line, a ragged row and bad values spread over many blocks.
    let dir = tempfile::tempdir().unwrap();
    let mut csv =
        String::from("\u{feff}ticket_id,opened_at,resolved_at,priority,category,subcategory,reopen_count\r\n");
    for i in 0..400 {
        let note = match i % 7 {
            0 => "\"Access, VPN\"".to_string(),
            1 => "\"Access\nwith a newline\"".to_string(),
            2 => "\"say \"\"hi\"\"\"".to_string(),
            _ => "Access".to_string(),
        };
        let priority = if i % 53 == 0 { "Whenever" } else { "3" };
        if i % 97 == 0 {
            csv.push_str(&format!("INC{i:05},2024-03-05 10:00\r\n"));
        } else if i % 101 == 0 {
            csv.push_str("\r\n");
        } else {
            csv.push_str(&format!(
                "INC{i:05},2024-03-{:02} 10:00,2024-03-{:02} 12:00,{priority},{note},VPN,{}\r\n",
                1 + i % 28,
                1 + i % 28,
                i % 3
            ));
        }
    }
    std::fs::write(dir.path().join("tickets.csv"), csv).unwrap();
    let sops = fixture("profiles/sops.csv");
    let mut cases = vec![(dir.path().to_path_buf(), dir.path().join("tickets.csv"), sops.clone())];
    for profile in ["jira", "servicenow", "semicolon_bom", "zendesk"] {
        let d = fixture(&format!("profiles/{profile}"));
        cases.push((d.clone(), d.join("tickets.csv"), sops.clone()));
    }
    for entry in std::fs::read_dir(fixture("invalid")).unwrap() {
        let d = entry.unwrap().path();
        if d.join("tickets.csv").exists() && d.join("sops.csv").exists() {
            cases.push((d.clone(), d.join("tickets.csv"), d.join("sops.csv")));
        }
    }
    for (dir, tickets, sops) in cases {
        let whole = run_with(&dir, &tickets, &sops, None);
        for block in ["64", "300"] {
            let small = run_with(&dir, &tickets, &sops, Some(block));
            assert_eq!(whole, small, "{} in blocks of {block} bytes", tickets.display());
        }
    }
    let generated = run_with(dir.path(), &dir.path().join("tickets.csv"), &sops, None);
    assert!(generated.1.contains("accepted"), "{generated:?}");
    assert_eq!(generated.3.lines().count(), 13, "the planted problems are rejected: {}", generated.3);
    // Counted by hand: the header is line 1, every 7th row from the second spans two lines.
    assert!(generated.3.contains("tickets.csv,2,,\"INC00000,"), "CRLF lines are counted right: {}", generated.3);
    assert!(generated.3.contains("tickets.csv,63,priority,Whenever"), "{}", generated.3);
}

/// Tickets in both forms: CSV text, and the typed Parquet a warehouse writes (timestamps without
/// a zone in microseconds, integers, booleans, a date) in row groups of 500.
fn tickets_as_csv_and_typed_parquet(dir: &Path, n: i64) -> (std::path::PathBuf, std::path::PathBuf) {
    const HOUR_US: i64 = 3_600_000_000;
    let start = 1_735_689_600_000_000i64; // 2025-01-01 00:00
    let opened: Vec<i64> = (0..n).map(|i| start + i * (2 * HOUR_US + 17 * 60_000_000)).collect();
    let resolved: Vec<Option<i64>> =
        (0..n).map(|i| (i % 13 != 0).then(|| opened[i as usize] + (i % 50 + 1) * 37 * 60_000_000)).collect();
    let priority: Vec<i64> = (0..n).map(|i| if i == 7 { 9 } else { i % 5 + 1 }).collect();
    let reopens: Vec<Option<i64>> =
        (0..n).map(|i| if i == 11 { Some(-1) } else { (i % 17 != 0).then_some(i % 3) }).collect();
    let escalated: Vec<bool> = (0..n).map(|i| i % 4 == 0).collect();
    let made_sla: Vec<Option<bool>> = (0..n).map(|i| (i % 9 != 0).then_some(i % 5 != 0)).collect();
    let category: Vec<&str> = (0..n).map(|i| ["Access", "Network"][(i % 2) as usize]).collect();
    let subcategory: Vec<&str> = (0..n).map(|i| ["", "VPN"][(i % 2) as usize]).collect();
    let assignee: Vec<String> = (0..n).map(|i| format!("Analyst {}", i % 6)).collect();
    // One id with spaces around it (trimmed); the others taken as they are.
    let ids: Vec<String> = (0..n).map(|i| if i == 3 { " T-3 ".to_string() } else { format!("T-{i}") }).collect();
    // Text that is trimmed, a missing marker, and a yes/no column with one value that is neither.
    let status: Vec<&str> = (0..n)
        .map(|i| match i {
            _ if i % 7 == 0 => " Closed ",
            _ if i % 11 == 0 => "NULL",
            _ => ["Resolved", "Closed", "In Progress"][(i % 3) as usize],
        })
        .collect();
    let handling_error: Vec<&str> =
        (0..n).map(|i| if i == 23 { "maybe" } else { ["no", "yes"][(i % 5 == 0) as usize] }).collect();
    let day = |us: i64| us.div_euclid(86_400_000_000) as i32;
    let us_text = |us: i64| chrono::DateTime::from_timestamp_micros(us).unwrap().naive_utc().to_string();

    let csv = dir.join("tickets.csv");
    let mut w = csv::Writer::from_path(&csv).unwrap();
    w.write_record([
        "ticket_id",
        "opened_at",
        "resolved_at",
        "closed_at",
        "priority",
        "category",
        "subcategory",
        "assignee",
        "reopen_count",
        "escalated",
        "made_sla",
        "status",
        "handling_error",
    ])
    .unwrap();
    for i in 0..n as usize {
        let opt = |v: Option<String>| v.unwrap_or_default();
        w.write_record([
            ids[i].clone(),
            us_text(opened[i]),
            opt(resolved[i].map(us_text)),
            opt(resolved[i].map(|r| {
                (chrono::DateTime::from_timestamp_micros(r).unwrap().date_naive() + chrono::Days::new(2)).to_string()
            })),
            priority[i].to_string(),
            category[i].to_string(),
            subcategory[i].to_string(),
            assignee[i].clone(),
            opt(reopens[i].map(|v| v.to_string())),
            escalated[i].to_string(),
            opt(made_sla[i].map(|v| v.to_string())),
            status[i].to_string(),
            handling_error[i].to_string(),
        ])
        .unwrap();
    }
    w.flush().unwrap();

    let datetime = |name: &str, v: Vec<Option<i64>>| {
        Int64Chunked::from_iter_options(name.into(), v.into_iter())
            .into_datetime(TimeUnit::Microseconds, None)
            .into_column()
    };
    let closed: Vec<Option<i32>> = resolved.iter().map(|r| r.map(|r| day(r) + 2)).collect();
    let mut df = DataFrame::new(
        n as usize,
        vec![
            Column::new("ticket_id".into(), ids),
            datetime("opened_at", opened.iter().copied().map(Some).collect()),
            datetime("resolved_at", resolved),
            Int32Chunked::from_iter_options("closed_at".into(), closed.into_iter()).into_date().into_column(),
            Column::new("priority".into(), priority),
            Column::new("category".into(), category),
            Column::new("subcategory".into(), subcategory),
            Column::new("assignee".into(), assignee),
            Column::new("reopen_count".into(), reopens),
            Column::new("escalated".into(), escalated),
            Column::new("made_sla".into(), made_sla),
            Column::new("status".into(), status),
            Column::new("handling_error".into(), handling_error),
        ],
    )
    .unwrap();
    let pq = dir.join("tickets.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap()).with_row_group_size(Some(500)).finish(&mut df).unwrap();
    (csv, pq)
}

/// The same typed Parquet written again in row groups of uneven sizes, from a single row to more
/// than a slice.
fn in_uneven_row_groups(pq: &Path, sizes: &[usize]) -> std::path::PathBuf {
    let df = ParquetReader::new(std::fs::File::open(pq).unwrap()).finish().unwrap();
    let out = pq.with_file_name("uneven.parquet");
    let mut writer = ParquetWriter::new(std::fs::File::create(&out).unwrap())
        .with_row_group_size(Some(df.height()))
        .batched(df.schema())
        .unwrap();
    let mut offset = 0;
    for &size in sizes.iter().cycle() {
        if offset >= df.height() {
            break;
        }
        writer.write_batch(&df.slice(offset as i64, size)).unwrap();
        offset += size;
    }
    writer.finish().unwrap();
    out
}

/// `validate` of a CSV file and of its typed Parquet twin (the Parquet in slices of at most 100
/// rows: 16,000-byte blocks), in Europe/Berlin: both succeed, read as many rows, and reject the
/// same values for the same reasons, each at the Parquet row that is the CSV line less the
/// header.
fn validate_twins(csv: &Path, pq: &Path) -> Twins {
    let sops = fixture("profiles/sops.csv");
    // A zone with daylight saving: a wall-clock time inside the spring gap is rejected in both.
    let zone = ["--timezone", "Europe/Berlin"];
    let (code, csv_out, err, csv_dir) = validate(csv, &sops, &zone);
    assert_eq!(code, 0, "{err}");
    let (code, pq_out, err, pq_dir) = validate_with(pq, &sops, &zone, None, Some("16000"));
    assert_eq!(code, 0, "{err}");
    let counts = |out: &str| out.lines().find(|l| l.contains("rows read")).map(str::to_string);
    assert_eq!(counts(&pq_out), counts(&csv_out));
    let (r_csv, r_pq) = (rejects(csv_dir.path()), rejects(pq_dir.path()));
    assert_eq!(r_csv.len(), r_pq.len(), "{r_csv:?} {r_pq:?}");
    for (c, p) in r_csv.iter().zip(&r_pq) {
        assert_eq!(p[1].parse::<u64>().unwrap() + 1, c[1].parse::<u64>().unwrap(), "{c:?} {p:?}");
        assert_eq!((&p[2], &p[3], &p[4]), (&c[2], &c[3], &c[4]), "column, value and reason");
    }
    Twins { csv_out, pq_out, csv_rejects: r_csv, pq_rejects: r_pq }
}

/// What `validate` said of a CSV file and of its Parquet twin: summaries and rejects.
struct Twins {
    csv_out: String,
    pq_out: String,
    csv_rejects: Vec<csv::StringRecord>,
    pq_rejects: Vec<csv::StringRecord>,
}

#[test]
fn typed_parquet_in_uneven_row_groups_reads_as_its_csv_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, pq) = tickets_as_csv_and_typed_parquet(dir.path(), 3000);
    // 1, 7, 3 and 2 rows side by side go into one slice, 260 and 431 rows are cut in slices of
    // at most 100 (16,000-byte blocks)
    let uneven = in_uneven_row_groups(&pq, &[1, 7, 260, 3, 2, 431, 96]);
    let groups = ParquetReader::new(std::fs::File::open(&uneven).unwrap()).get_metadata().unwrap().row_groups.len();
    assert!(groups > 20, "{groups} row groups");
    let twins = validate_twins(&csv, &uneven);
    assert!(twins.csv_rejects.len() >= 4, "{:?}", twins.csv_rejects);
}

#[test]
fn typed_parquet_reads_as_its_csv_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, pq) = tickets_as_csv_and_typed_parquet(dir.path(), 3000);
    // Small slices (on both cores) over row groups of 500: each row group cut into slices.
    let Twins { csv_out, pq_out, csv_rejects: r_csv, pq_rejects: r_pq } = validate_twins(&csv, &pq);
    assert!(csv_out.contains("3000 rows read"), "{csv_out}");
    fn dates(out: &str) -> Vec<Vec<&str>> {
        out.lines()
            .filter(|l| l.contains("2025-"))
            .map(|l| l.split_whitespace().filter(|w| w.starts_with("2025-")).collect())
            .collect()
    }
    assert_eq!(dates(&pq_out), dates(&csv_out));
    // priority 9, a count of -1, a handling error of 'maybe' and opened at 02:22 on the day
    // clocks went forward (at least)
    assert!(r_csv.len() >= 4, "{r_csv:?}");
    assert!(r_pq.iter().any(|r| &r[1] == "24" && &r[2] == "handling_error"), "{r_pq:?}");
    assert!(
        r_csv.iter().any(|r| &r[4] == "invalid timestamp '2025-03-30 02:22:00': 2025-03-30 02:22:00 does not exist in Europe/Berlin (clocks went forward)"),
        "{r_csv:?}"
    );
    let sops = fixture("profiles/sops.csv");
    // And the same metric tables, with a query over the text columns (trimmed, missing markers
    // empty) and the ids.
    let queries = queries_with(&[(
        "text.sql",
        "-- metric: closed_status, with_status, distinct_ids\n\
         -- better: none\n\
         -- kind: count\n\
         SELECT grp, SUM(CASE WHEN status = 'Closed' THEN 1 ELSE 0 END) AS closed_status,\n\
         COUNT(status) AS with_status, COUNT(DISTINCT ticket_id) AS distinct_ids FROM tickets GROUP BY grp\n",
    )]);
    let tables = |tickets: &Path| {
        let out = tempfile::tempdir().unwrap();
        let o = run(&[
            "metrics",
            "--tickets",
            tickets.to_str().unwrap(),
            "--sops",
            sops.to_str().unwrap(),
            "--timezone",
            "Europe/Berlin",
            "--queries",
            queries.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{:?}", text(&o));
        ["sop_version_metrics.csv", "process_period_metrics.csv"]
            .map(|f| std::fs::read_to_string(out.path().join("metrics").join(f)).unwrap())
    };
    let (from_csv, from_pq) = (tables(&csv), tables(&pq));
    assert_eq!(from_pq, from_csv);
    assert!(from_pq[0].lines().next().unwrap().contains("closed_status"), "{}", from_pq[0]);
}
