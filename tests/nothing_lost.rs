//! Regressions of the third bad-input campaign: a stray quote costs one line, not the rest of
//! the file; no command writes over an input or over a report file the user changed; IPC and
//! Parquet with small integers and repeated names; a UTF-8 file with a stray byte stays UTF-8;
//! date formats; shell-quoted re-run commands; control characters in charts.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, read_csv, rejects, run_in, text};

fn demo(name: &str) -> PathBuf {
    fixture("demo").join(name)
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The demo tickets with line `line` (1-based) changed by `edit`.
fn demo_tickets_with(dir: &Path, line: usize, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(demo("tickets.csv")).unwrap();
    let out: Vec<String> =
        text.lines().enumerate().map(|(i, l)| if i + 1 == line { edit(l) } else { l.to_string() }).collect();
    let path = dir.join("tickets.csv");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path
}

fn validate(cwd: &Path, tickets: &Path, sops: &Path, out: &str) -> std::process::Output {
    let args = ["validate", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap(), "--out", out];
    run_in(cwd, &args, &[])
}

#[test]
fn a_stray_quote_costs_its_line_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // a quote opening the category field of line 100, never closed
    let tickets = demo_tickets_with(dir.path(), 100, |l| {
        let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
        f[6] = format!("\"{}", f[6]);
        f.join(",")
    });
    let o = validate(dir.path(), &tickets, &demo("sops.csv"), "out");
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("4000 rows read = 3999 accepted + 1 rejected"), "{}", text(&o).0);
    assert!(text(&o).0.contains("4001 lines: the header and one per row read"), "{}", text(&o).0);
    let r = rejects(&dir.path().join("out"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(&r[0][1], "100", "the line the quote opens on");
    assert!(r[0][4].contains("a quote opened on this line") && r[0][4].contains("line 4001"), "{:?}", &r[0]);

    // two stray quotes 50 lines apart: each costs its own line
    let tickets = demo_tickets_with(dir.path(), 100, |l| l.replacen(",Closed,", ",\"Closed,", 1));
    let text2 = std::fs::read_to_string(&tickets).unwrap();
    let mut lines: Vec<String> = text2.lines().map(str::to_string).collect();
    lines[149] = lines[149].replacen(",Closed,", ",\"Closed,", 1);
    std::fs::write(&tickets, lines.join("\n") + "\n").unwrap();
    let o = validate(dir.path(), &tickets, &demo("sops.csv"), "out2");
    assert!(text(&o).0.contains("4000 rows read = 3998 accepted + 2 rejected"), "{}", text(&o).0);
    let lines: Vec<String> = rejects(&dir.path().join("out2")).iter().map(|r| r[1].to_string()).collect();
    assert_eq!(lines, vec!["100", "150"]);
}

#[test]
fn a_quoted_field_across_lines_is_still_one_field() {
    let dir = tempfile::tempdir().unwrap();
    let tickets = demo_tickets_with(dir.path(), 5, |l| l.replacen(",Eli Field,", ",\"Eli\nField\",", 1));
    let o = validate(dir.path(), &tickets, &demo("sops.csv"), "out");
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("4000 rows read = 4000 accepted + 0 rejected"), "{}", text(&o).0);
}

#[test]
fn no_command_writes_over_an_input_in_its_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let sops = demo("sops.csv");
    for (command, name) in [
        ("validate", "rejects.csv"),
        ("metrics", "windows.csv"),
        ("metrics", "comparisons.csv"),
        ("backlog", "backlog.csv"),
        ("report", "rejects.csv"),
    ] {
        let tickets = out.join(name);
        std::fs::copy(demo("tickets.csv"), &tickets).unwrap();
        let mut args =
            vec![command, "--quiet", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap()];
        args.extend(["--out", out.to_str().unwrap()]);
        if command != "validate" {
            args.extend(["--as-of", "2025-12-31"]);
        }
        let o = run_in(dir.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(4), "{command} over {name}: {:?}", text(&o));
        assert!(text(&o).1.contains(name) && text(&o).1.contains("input of this run"), "{:?}", text(&o));
        assert_eq!(sha(&tickets), sha(&demo("tickets.csv")), "{command} kept {name}");
        std::fs::remove_file(&tickets).unwrap();
        for e in std::fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                std::fs::remove_dir_all(p).unwrap();
            } else {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
}

#[test]
fn no_command_writes_over_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (tickets, sops) = (demo("tickets.csv"), demo("sops.csv"));
    let mine = "my own notes, not a table of sop-impact\n";
    for (command, name) in [
        ("validate", "rejects.csv"),
        ("metrics", "windows.csv"),
        ("metrics", "metrics/sop_version_metrics.csv"),
        ("backlog", "review_calendar.csv"),
    ] {
        let user_file = out.join(name);
        std::fs::create_dir_all(user_file.parent().unwrap()).unwrap();
        std::fs::write(&user_file, mine).unwrap();
        let mut args =
            vec![command, "--quiet", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap()];
        args.extend(["--out", out.to_str().unwrap()]);
        if command != "validate" {
            args.extend(["--as-of", "2025-12-31"]);
        }
        let o = run_in(dir.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(4), "{command} over {name}: {:?}", text(&o));
        let file_name = name.rsplit('/').next().unwrap();
        assert!(text(&o).1.contains(file_name) && text(&o).1.contains("not written by sop-impact"), "{:?}", text(&o));
        assert_eq!(std::fs::read_to_string(&user_file).unwrap(), mine, "{command} kept {name}");
        // once it is moved away, the command writes there, and replaces its own file again
        std::fs::remove_file(&user_file).unwrap();
        for _ in 0..2 {
            let o = run_in(dir.path(), &args, &[]);
            assert!(o.status.success(), "{command}: {:?}", text(&o));
        }
    }
    // generate: its own files are replaced; a file of the user's stops it before any is touched
    let gen = |seed: &str| {
        run_in(dir.path(), &["generate", "--quiet", "--out", "data", "--tickets", "300", "--seed", seed], &[])
    };
    for seed in ["9", "10"] {
        let o = gen(seed);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let data = dir.path().join("data");
    std::fs::write(data.join("changes.csv"), mine).unwrap();
    let before = std::fs::read(data.join("tickets.csv")).unwrap();
    let o = gen("11");
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert!(text(&o).1.contains("changes.csv"), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(data.join("changes.csv")).unwrap(), mine);
    assert_eq!(std::fs::read(data.join("tickets.csv")).unwrap(), before, "tickets.csv untouched");
}

#[test]
fn a_report_file_the_user_changed_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["report", "--quiet", "--tickets"].iter().map(|s| s.to_string()).collect();
        a.push(demo("tickets.csv").display().to_string());
        a.extend(["--sops".into(), demo("sops.csv").display().to_string(), "--as-of".into(), "2025-12-31".into()]);
        a.extend(["--out".into(), "r".into()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let o = run_in(dir.path(), &args(&[]), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let report = dir.path().join("r/report.md");
    let annotated = format!("{}\nMy notes for the review.\n", std::fs::read_to_string(&report).unwrap());
    std::fs::write(&report, &annotated).unwrap();
    let o = run_in(dir.path(), &args(&[]), &[]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert!(text(&o).1.contains("report.md") && text(&o).1.contains("--force"), "{:?}", text(&o));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), annotated);
    let o = run_in(dir.path(), &args(&["--force"]), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(!std::fs::read_to_string(&report).unwrap().contains("My notes"));
    // an unchanged earlier report is replaced as before
    let o = run_in(dir.path(), &args(&[]), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
}

#[test]
fn one_stray_byte_leaves_a_utf8_file_utf8() {
    let dir = tempfile::tempdir().unwrap();
    // every Hardware category written Café… in UTF-8; one byte of line 3 made invalid
    let text0 = std::fs::read_to_string(demo("tickets.csv")).unwrap().replace(",Hardware,", ",Hardwäre,");
    let mut bytes = text0.into_bytes();
    let line3 = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1;
    bytes[line3 + 3] = 0xE9;
    let tickets = dir.path().join("tickets.csv");
    std::fs::write(&tickets, &bytes).unwrap();
    let sops = dir.path().join("sops.csv");
    std::fs::write(&sops, std::fs::read_to_string(demo("sops.csv")).unwrap().replace(",Hardware,", ",Hardwäre,"))
        .unwrap();
    let o = validate(dir.path(), &tickets, &sops, "out");
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(!text(&o).0.contains("windows-1252"), "{}", text(&o).0);
    assert!(text(&o).0.contains("4000 rows read = 3999 accepted + 1 rejected"), "{}", text(&o).0);
    let r = rejects(&dir.path().join("out"));
    assert_eq!((&r[0][1], r[0][4].contains("not valid UTF-8")), ("3", true), "{r:?}");
}

#[test]
fn a_repeated_header_is_read_by_position_only() {
    let dir = tempfile::tempdir().unwrap();
    let tickets = dir.path().join("t.csv");
    std::fs::write(
        &tickets,
        "Id,Date,Category,Date\nT1,2025-01-02 10:00,Hardware,2025-01-03 10:00\nT2,2025-01-04 10:00,Hardware,2025-01-04 12:00\n",
    )
    .unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[tickets.columns]\nticket_id = \"Id\"\nopened_at = \"Date\"\nresolved_at = \"Date\"\ncategory = \"Category\"\n")
        .unwrap();
    let sops = demo("sops.csv");
    let args = |c: &Path| {
        vec![
            "validate".to_string(),
            "--tickets".into(),
            tickets.display().to_string(),
            "--sops".into(),
            sops.display().to_string(),
            "--config".into(),
            c.display().to_string(),
            "--out".into(),
            "out".into(),
        ]
    };
    let o = run_in(dir.path(), &args(&config), &[]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("columns 2 and 4") && text(&o).1.contains("\"#4\""), "{:?}", text(&o));
    std::fs::write(
        &config,
        "[tickets.columns]\nticket_id = \"Id\"\nopened_at = \"#2\"\nresolved_at = \"#4\"\ncategory = \"Category\"\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &args(&config), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("2 rows read = 2 accepted"), "{}", text(&o).0);
    // init-config writes the positions
    let o = run_in(dir.path(), &["init-config", "g.toml", "--from", tickets.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let written = std::fs::read_to_string(dir.path().join("g.toml")).unwrap();
    assert!(!written.contains("_at = \"Date\""), "{written}");
}

#[test]
fn a_date_format_that_fits_no_value_leaves_them_to_the_built_in_rules() {
    let dir = tempfile::tempdir().unwrap();
    let tickets = dir.path().join("t.csv");
    std::fs::write(
        &tickets,
        "ticket_id,opened_at,category\nT1,13/03/2025 10:00,Hardware\nT2,02/03/2025 10:00,Hardware\n",
    )
    .unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[tickets]\ndate_format = \"%Y.%m.%d\"\n").unwrap();
    let sops = demo("sops.csv");
    let args = [
        "validate",
        "--tickets",
        tickets.to_str().unwrap(),
        "--sops",
        sops.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        "out",
    ];
    let o = run_in(dir.path(), &args, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("2 rows read = 2 accepted"), "{}", text(&o).0);
    std::fs::write(&config, "[tickets]\nprofile = \"auto\"\ndate_format = \"%d/%Q/%Y\"\n").unwrap();
    let o = run_in(dir.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("c.toml:3:") && text(&o).1.contains("%d/%Q/%Y"), "{:?}", text(&o));
}

#[test]
fn rerun_commands_are_shell_quoted_and_charts_stay_xml() {
    let dir = tempfile::tempdir().unwrap();
    let sops_text = std::fs::read_to_string(demo("sops.csv")).unwrap();
    let sops = dir.path().join("my sops.csv");
    std::fs::write(
        &sops,
        sops_text
            .replace("SOP-ACC-001", "SOP-$(touch pwned)")
            .replace("Password reset,Access", "Pass\u{7}word reset,Access"),
    )
    .unwrap();
    let tickets = demo("tickets.csv");
    let args = [
        "evidence",
        "--quiet",
        "--tickets",
        tickets.to_str().unwrap(),
        "--sops",
        sops.to_str().unwrap(),
        "--sop",
        "SOP-$(touch pwned)",
        "--as-of",
        "2025-12-31",
        "--out",
        "ev",
    ];
    let o = run_in(dir.path(), &args, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let md = std::fs::read_to_string(dir.path().join("ev/evidence.md")).unwrap();
    assert!(md.contains("'SOP-$(touch pwned)'") && md.contains("'") && md.contains("```sh"), "{md}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ev/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["argv"][8], "SOP-$(touch pwned)");
    assert!(manifest["argv"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().ends_with("my sops.csv")));

    let args = ["report", "--quiet", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap()];
    let o = run_in(dir.path(), &[&args[..], &["--as-of", "2025-12-31", "--out", "r"]].concat(), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let report = std::fs::read_to_string(dir.path().join("r/report.md")).unwrap();
    assert!(report.contains("'") && report.contains("my sops.csv'"), "the re-run command quotes the path");
    for e in std::fs::read_dir(dir.path().join("r/charts")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let svg = std::fs::read_to_string(&p).unwrap();
            assert!(!svg.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')), "{}", p.display());
        }
    }
    assert!(!dir.path().join("pwned").exists());
    let _ = read_csv;
}

#[test]
fn typed_inputs_with_small_integers_streams_and_repeated_names() {
    let dir = tempfile::tempdir().unwrap();
    let sops = demo("sops.csv");
    let csv_metrics = |tickets: &Path, out: &str| {
        let args = ["metrics", "--quiet", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap()];
        let o = run_in(dir.path(), &[&args[..], &["--as-of", "2025-12-31", "--out", out]].concat(), &[]);
        assert!(o.status.success(), "{}: {:?}", tickets.display(), text(&o));
        read_csv(&dir.path().join(out).join("metrics/sop_version_metrics.csv"))
    };
    // the same 60 tickets as CSV: every typed file must give the same tables
    let text0 = std::fs::read_to_string(demo("tickets.csv")).unwrap();
    let first: Vec<&str> = text0.lines().take(61).collect();
    let plain = dir.path().join("t.csv");
    std::fs::write(&plain, first.join("\n") + "\n").unwrap();
    let expected = csv_metrics(&plain, "csv");
    for (k, f) in ["small_ints.arrow", "small_ints.parquet", "stream.arrows"].iter().enumerate() {
        assert_eq!(csv_metrics(&fixture("typed").join(f), &format!("o{k}")), expected, "{f}");
    }
    // a repeated name never read costs nothing; a repeated column that would be read is refused
    let repeated =
        ["repeated_name.arrow", "repeated_name.arrows", "repeated_name.parquet", "repeated_name_plain.parquet"];
    for (k, f) in repeated.iter().enumerate() {
        assert_eq!(csv_metrics(&fixture("typed").join(f), &format!("r{k}")), expected, "{f}");
    }
    for f in ["repeated_priority.arrow", "repeated_priority.parquet"] {
        let o = validate(dir.path(), &fixture("typed").join(f), &sops, &format!("out-{f}"));
        assert_eq!(o.status.code(), Some(2), "{f}: {:?}", text(&o));
        assert!(text(&o).1.contains("'priority', the header of columns 6 and 16"), "{f}: {:?}", text(&o));
    }
}

/// Arrow IPC timestamps stored in seconds, two of them ±2^62 s (beyond what milliseconds hold,
/// which polars wrapped to 1970-01-01): those two rows are rejected as out of range, in the file
/// format (UTC) and the stream (no zone) alike; the other 58 are read.
#[test]
fn timestamps_in_seconds_beyond_milliseconds_reject_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let sops = demo("sops.csv");
    for (k, f) in ["seconds_range.arrow", "seconds_range.arrows"].iter().enumerate() {
        let out = format!("o{k}");
        let o = validate(dir.path(), &fixture("typed").join(f), &sops, &out);
        assert!(o.status.success(), "{f}: {:?}", text(&o));
        assert!(text(&o).0.contains("60 rows read = 58 accepted + 2 rejected"), "{f}: {}", text(&o).0);
        let r = rejects(&dir.path().join(&out));
        let lines: Vec<&str> = r.iter().map(|r| &r[1]).collect();
        assert_eq!(lines, ["2", "3"], "{f}: {r:?}");
        assert!(r.iter().all(|r| &r[2] == "opened_at" && r[4].contains("out of range")), "{f}: {r:?}");
    }
}

#[test]
fn utf32_exports_read_as_their_utf8_twin() {
    let dir = tempfile::tempdir().unwrap();
    let text0 = std::fs::read_to_string(demo("tickets.csv")).unwrap().replace(",Hardware,", ",Hardwäre,");
    let first: String = text0.lines().take(61).map(|l| format!("{l}\r\n")).collect();
    let plain = dir.path().join("utf8.csv");
    std::fs::write(&plain, &first).unwrap();
    let sops = dir.path().join("sops.csv");
    std::fs::write(&sops, std::fs::read_to_string(demo("sops.csv")).unwrap().replace(",Hardware,", ",Hardwäre,"))
        .unwrap();
    let summary = |tickets: &Path, out: &str| {
        let o = validate(dir.path(), tickets, &sops, out);
        assert!(o.status.success(), "{:?}", text(&o));
        (text(&o).0, std::fs::read_to_string(dir.path().join(out).join("rejects.csv")).unwrap())
    };
    let (want, want_rejects) = summary(&plain, "o8");
    for (name, little) in [("le.csv", true), ("be.csv", false)] {
        let mut bytes: Vec<u8> = if little { vec![0xFF, 0xFE, 0, 0] } else { vec![0, 0, 0xFE, 0xFF] };
        for c in first.chars() {
            let v = c as u32;
            bytes.extend(if little { v.to_le_bytes() } else { v.to_be_bytes() });
        }
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let (got, rejects) = summary(&path, &format!("out-{name}"));
        assert!(got.contains("60 rows read = 60 accepted") && got.contains("UTF-32"), "{got}");
        assert_eq!(
            got.lines().filter(|l| l.contains("Hardwäre")).count(),
            want.lines().filter(|l| l.contains("Hardwäre")).count()
        );
        assert_eq!(rejects.lines().count(), want_rejects.lines().count());
    }
}

#[test]
fn wrapped_exports_with_line_breaks_inside_a_record_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text0 = std::fs::read_to_string(demo("tickets.csv")).unwrap();
    // every fifth ticket's assignee written over two lines, as a free-text field would be
    let records: Vec<String> = text0
        .lines()
        .take(61)
        .enumerate()
        .map(|(k, l)| {
            if k > 0 && k % 5 == 0 {
                let mut fields: Vec<String> = l.split(',').map(str::to_string).collect();
                fields[9] = format!("\"{}\"", fields[9].replacen(' ', "\n", 1));
                fields.join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    let wrapped: String = records.iter().map(|r| format!("\"{}\"\r\n", r.replace('"', "\"\""))).collect();
    let path = dir.path().join("wrapped.csv");
    std::fs::write(&path, &wrapped).unwrap();
    let o = validate(dir.path(), &path, &demo("sops.csv"), "out");
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("60 rows read = 60 accepted + 0 rejected") && stdout.contains("lines unwrapped"),
        "{stdout}"
    );
}
