//! An export no profile knows, read through the configuration's mapping with no edit to the
//! file: it gives the same metrics as the same tickets in the canonical layout, and a mapping
//! that does not fit the file is a usage error that names the configuration line and the
//! headers found.

mod common;

use common::{fixture, run, run_ok, text};

/// `validate` of one ticket export against the profile fixtures' SOPs, with a configuration.
fn validate(
    tickets: &std::path::Path,
    config: Option<&std::path::Path>,
    out: &std::path::Path,
) -> std::process::Output {
    let sops = fixture("profiles/sops.csv");
    let mut args = vec!["validate", "--tickets", tickets.to_str().unwrap(), "--sops", sops.to_str().unwrap()];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    run(&args)
}

fn metrics(tickets: &str, config: Option<&str>, out: &std::path::Path) {
    let (t, s) = (fixture(tickets), fixture("profiles/sops.csv"));
    let mut args = vec![
        "metrics".to_string(),
        "--quiet".into(),
        "--tickets".into(),
        t.display().to_string(),
        "--sops".into(),
        s.display().to_string(),
        "--as-of".into(),
        "2025-09-30".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(c) = config {
        args.extend(["--config".to_string(), fixture(c).display().to_string()]);
    }
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn a_warehouse_export_mapped_in_the_configuration_reads_as_its_canonical_twin() {
    let (mapped, canonical) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    metrics("profiles/warehouse/tickets.csv", Some("profiles/warehouse/sop-impact.toml"), mapped.path());
    metrics("profiles/warehouse/canonical_tickets.csv", None, canonical.path());
    for table in ["metrics/sop_version_metrics.csv", "metrics/process_period_metrics.csv", "comparisons.csv"] {
        let a = std::fs::read_to_string(mapped.path().join(table)).unwrap();
        let b = std::fs::read_to_string(canonical.path().join(table)).unwrap();
        assert_eq!(a, b, "{table}");
    }
    let rows = common::read_csv(&mapped.path().join("metrics/sop_version_metrics.csv"));
    let tickets: u64 = rows.iter().map(|r| r["tickets"].parse::<u64>().unwrap()).sum();
    assert_eq!(tickets, 60, "every ticket is attributed");
    assert!(rows.iter().any(|r| !r["reopen_rate"].is_empty() && r["reopen_rate"] != "0"), "the Y/N flag is read");
    assert!(common::rejects(mapped.path()).is_empty(), "no value is rejected");

    // The report reads it end to end too, and says the mapping came from the configuration.
    let out = tempfile::tempdir().unwrap();
    let o = validate(
        &fixture("profiles/warehouse/tickets.csv"),
        Some(&fixture("profiles/warehouse/sop-impact.toml")),
        out.path(),
    );
    let (stdout, _) = text(&o);
    assert!(o.status.success(), "{stdout}");
    assert!(stdout.contains("columns named in the configuration"), "{stdout}");
    assert!(stdout.contains("Logged On→opened_at") && stdout.contains("Prio→priority"), "{stdout}");
}

#[test]
fn a_mapping_that_does_not_fit_the_file_is_a_usage_error_naming_the_line_and_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[compare]\nalpha = 0.05\n\n[tickets]\ncolumns = { ticket_id = \"Incident Ref\", opened_at = \"Logged At\" }\n",
    )
    .unwrap();
    let args = |config: &std::path::Path| {
        vec![
            "validate".to_string(),
            "--tickets".into(),
            fixture("profiles/warehouse/tickets.csv").display().to_string(),
            "--sops".into(),
            fixture("profiles/sops.csv").display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--out".into(),
            dir.path().join("out").display().to_string(),
        ]
    };
    let a = args(&config);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("c.toml:5"), "the config line: {stderr}");
    assert!(stderr.contains("columns.opened_at = 'Logged At'"), "{stderr}");
    assert!(stderr.contains("'Incident Ref', 'Logged On', 'Fixed On'"), "the headers found: {stderr}");

    std::fs::write(&config, "[tickets]\ncolumns = { opened = \"Logged On\" }\n").unwrap();
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("columns.opened is not a column of tickets") && stderr.contains("opened_at"), "{stderr}");

    std::fs::write(&config, "[tickets]\nencodin = \"latin1\"\n").unwrap();
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, stderr) = text(&o);
    assert!(!o.status.success() && stderr.contains("encodin") && stderr.contains("c.toml:2"), "{stderr}");
}

/// The same Jira export saved as UTF-8, Windows-1252 and UTF-16 (with its byte-order mark), and
/// re-saved with each line wrapped in one quoted field: each is read as downloaded, the summary
/// names the encoding and the unwrapping, and the metrics are the same.
#[test]
fn windows_1252_utf16_and_wrapped_exports_read_as_their_utf8_twin() {
    let reference = tempfile::tempdir().unwrap();
    metrics("profiles/encodings/utf8_reference.csv", None, reference.path());
    for (file, name) in [
        ("encodings/win1252/tickets.csv", "windows-1252"),
        ("encodings/utf16/tickets.csv", "UTF-16LE"),
        // re-saved by a reporting tool: each whole line one quoted field
        ("wrapped/tickets.csv", "UTF-8, lines unwrapped"),
    ] {
        let out = tempfile::tempdir().unwrap();
        metrics(&format!("profiles/{file}"), None, out.path());
        for table in ["metrics/sop_version_metrics.csv", "comparisons.csv"] {
            let a = std::fs::read_to_string(out.path().join(table)).unwrap();
            let b = std::fs::read_to_string(reference.path().join(table)).unwrap();
            assert_eq!(a, b, "{file}: {table}");
        }
        let o = validate(&fixture(&format!("profiles/{file}")), None, out.path());
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{stderr}");
        assert!(stdout.contains(&format!("csv (,, {name})")), "the summary names the encoding: {stdout}");
        assert!(stdout.contains("60 rows read = 60 accepted"), "{stdout}");
    }
}

/// Exports of Freshdesk, GLPI (English and Portuguese: `;`, byte-order mark, every field quoted,
/// a trailing `;`, ids like `2 553`, `dd-mm-yyyy` dates, `Access > Password reset` categories,
/// `<br>`-joined technicians), OTRS/Znuny (`Ticket#`, `Close Time`, `3 normal` priorities, a
/// column repeated, `Access::Password reset` services) and Jira in Spanish (`Clave de
/// incidencia`, `04/mar/25 12:12 PM`, `Más alta`) are recognised and read as downloaded, through
/// the whole report, with nothing rejected; all hold the same tickets as the English Jira export
/// and give its attribution and resolution times.
#[test]
fn vendor_exports_are_read_as_downloaded() {
    let column = |dir: &std::path::Path, name: &str| -> Vec<String> {
        common::read_csv(&dir.join("metrics/sop_version_metrics.csv")).iter().map(|r| r[name].clone()).collect()
    };
    let reference = tempfile::tempdir().unwrap();
    metrics("profiles/encodings/utf8_reference.csv", None, reference.path());
    let hours = |dir: &std::path::Path| -> Vec<f64> {
        column(dir, "mttr_median_h").iter().map(|h| h.parse().unwrap()).collect()
    };
    for (dir, profile, delimiter) in [
        ("freshdesk", "freshdesk", ","),
        ("jira_es", "jira", ","),
        ("glpi_en", "glpi", ";"),
        ("glpi_pt", "glpi", ";"),
        ("otrs", "otrs", ","),
        ("otrs_pt", "otrs", ";"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let tickets = fixture(&format!("profiles/{dir}/tickets.csv"));
        let o = run(&[
            "report",
            "--tickets",
            tickets.to_str().unwrap(),
            "--sops",
            fixture("profiles/sops.csv").to_str().unwrap(),
            "--as-of",
            "2025-09-30",
            "--out",
            out.path().join("r").to_str().unwrap(),
        ]);
        let (_, stderr) = text(&o);
        assert!(o.status.success(), "{dir}: {stderr}");
        let md = std::fs::read_to_string(out.path().join("r/report.md")).unwrap();
        assert!(
            md.contains(&format!("| csv ({delimiter}) | {profile} | 60 | 60 | 0 |")),
            "{dir}: the data-quality table names the profile"
        );
        assert!(common::rejects(&out.path().join("r")).is_empty(), "{dir}: nothing rejected");
        let r = out.path().join("r");
        for name in ["process", "version", "tickets", "resolved"] {
            assert_eq!(column(&r, name), column(reference.path(), name), "{dir}: {name}");
        }
        // Freshdesk and OTRS keep seconds, Jira and GLPI minutes.
        for (a, b) in hours(&r).iter().zip(hours(reference.path())) {
            assert!((a - b).abs() <= 0.01 * b, "{dir}: MTTR {a} against {b}");
        }
    }
}

/// `init-config --from` on each export writes a configuration that reads that export unchanged:
/// every row accepted. For the warehouse export it finds the columns by their values and names
/// (timestamps in header order, a unique id, priority words, a Y/N reopen flag read as a count).
#[test]
fn init_config_from_an_export_writes_a_mapping_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    for (k, file) in [
        "warehouse/tickets.csv",
        "glpi_en/tickets.csv",
        "glpi_pt/tickets.csv",
        "otrs/tickets.csv",
        "otrs_pt/tickets.csv",
        "freshdesk/tickets.csv",
        "jira_es/tickets.csv",
        "encodings/win1252/tickets.csv",
        "encodings/utf16/tickets.csv",
        "jira/tickets.csv",
        "zendesk/tickets.csv",
        "servicenow/tickets.csv",
        "semicolon_bom/tickets.csv",
    ]
    .iter()
    .enumerate()
    {
        let config = dir.path().join(format!("{k}.toml"));
        let export = fixture(&format!("profiles/{file}"));
        let printed = run_ok(&["init-config", config.to_str().unwrap(), "--from", export.to_str().unwrap()]);
        assert!(printed.contains("check each line"), "{file}: {printed}");
        let out = dir.path().join(format!("out{k}"));
        let o = validate(&export, Some(&config), &out);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{file}: {stderr}");
        assert!(common::rejects(&out).is_empty(), "{file}: nothing rejected\n{stdout}");
    }
    let warehouse = std::fs::read_to_string(dir.path().join("0.toml")).unwrap();
    for line in [
        "ticket_id = \"Incident Ref\"",
        "opened_at = \"Logged On\"",
        "resolved_at = \"Fixed On\"",
        "priority = \"Prio\"",
        "date_format = \"%d/%m/%Y %H:%M\"",
        "reopen_count = { \"N\" = \"0\", \"Y\" = \"1\" }",
        "the opposite of made_sla",
    ] {
        assert!(warehouse.contains(line), "{line} in\n{warehouse}");
    }
    let glpi = std::fs::read_to_string(dir.path().join("1.toml")).unwrap();
    assert!(glpi.contains("# category: read by the glpi profile from \"Category\""), "{glpi}");
}

/// An event log from a tool without a profile: `updated_at` and `revision` in the mapping keep
/// the latest row of each ticket, as for ServiceNow's event log; the configured date format also
/// settles the day-first dates no value could.
#[test]
fn an_event_log_mapped_in_the_configuration_keeps_each_tickets_latest_row() {
    let out = tempfile::tempdir().unwrap();
    let o = validate(
        &fixture("profiles/eventlog/tickets.csv"),
        Some(&fixture("profiles/eventlog/sop-impact.toml")),
        out.path(),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("6 rows read = 3 accepted + 0 rejected + 3 superseded"), "{stdout}");
    assert!(stdout.contains("Changed→sys_updated_at, Rev→sys_mod_count"), "{stdout}");
    let m = tempfile::tempdir().unwrap();
    metrics("profiles/eventlog/tickets.csv", Some("profiles/eventlog/sop-impact.toml"), m.path());
    let rows = common::read_csv(&m.path().join("metrics/sop_version_metrics.csv"));
    let resolved: u64 = rows.iter().map(|r| r["resolved"].parse::<u64>().unwrap()).sum();
    assert_eq!(resolved, 2, "the latest rows: EV-1 and EV-3 resolved, EV-2 open");
}

/// Where detection could be wrong, an input's section says: its delimiter, encoding and profile.
#[test]
fn an_inputs_section_sets_its_delimiter_encoding_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let validate = |tickets: &str| {
        let out = dir.path().join("out");
        validate(&fixture(tickets), Some(&config), &out)
    };
    std::fs::write(&config, "[tickets]\nencoding = \"latin1\"\ndelimiter = \",\"\nprofile = \"jira\"\n").unwrap();
    let o = validate("profiles/encodings/win1252/tickets.csv");
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("csv (,, windows-1252)") && stdout.contains("60 rows read = 60 accepted"), "{stdout}");
    // Read as UTF-8 on the user's word, the Windows-1252 bytes are rejected row by row, not guessed.
    std::fs::write(&config, "[tickets]\nencoding = \"utf-8\"\n").unwrap();
    let o = validate("profiles/encodings/win1252/tickets.csv");
    let (stdout, _) = text(&o);
    assert!(stdout.contains("not valid UTF-8") || stdout.contains("rejected"), "{stdout}");
    // A delimiter that splits nothing leaves one column: the required columns are missing.
    std::fs::write(&config, "[tickets]\ndelimiter = \"|\"\n").unwrap();
    assert_eq!(validate("profiles/jira/tickets.csv").status.code(), Some(3));
    std::fs::write(&config, "[tickets]\nencoding = \"klingon\"\n").unwrap();
    let o = validate("profiles/jira/tickets.csv");
    let (_, stderr) = text(&o);
    assert!(!o.status.success() && stderr.contains("encoding = 'klingon'"), "{stderr}");
}
