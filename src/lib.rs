//! sop-impact: did changing this standard operating procedure make the work better or worse?
//!
//! The pipeline, one module per step:
//! ingest (read exports) → validate (canonical frames + rejects) → attribute → metrics →
//! compare → render. `run` wires the subcommands onto it.

pub mod attribute;
pub mod backlog;
pub mod cli;
pub mod compare;
pub mod config;
pub mod error;
pub mod evidence;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod report;
pub mod stats;
pub mod summary;
pub mod tables;
pub mod validate;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;

use cli::{Cli, Command, InputArgs};
use error::{Error, Result};
use validate::{InputPaths, LoadOptions};

/// Run one command line.
pub fn run(cli: Cli) -> Result<()> {
    if std::env::var_os(publish::FAULT_ENV).is_some_and(|v| v == "panic") {
        panic!("a panic injected with {}=panic", publish::FAULT_ENV);
    }
    let quiet = cli.quiet;
    match cli.command {
        Command::Validate { inputs, out } => {
            let (paths, opts) = resolve_inputs(&inputs)?;
            let data = validate::load(&paths, &opts)?;
            let out = out.unwrap_or_else(|| PathBuf::from("reports/validate"));
            output::ensure_dir(&out)?;
            let rejects_path = out.join("rejects.csv");
            output::write_atomic(&rejects_path, &output::rejects_csv(&data.rejects)?)?;
            if !quiet {
                print!("{}", summary::data_quality(&data.inputs, &data.warnings));
                println!("rejects: {} ({} rows)", rejects_path.display(), data.rejects.len());
            } else {
                for w in &data.warnings {
                    eprintln!("sop-impact: warning: {w}");
                }
            }
            Ok(())
        }
        Command::Generate { out, tickets, seed, profile, event_log, start, months } => {
            let spec = generate::Spec::new(tickets, seed, profile, event_log, &start, months)?;
            let written = generate::write(&out, &spec)?;
            if !quiet {
                for (path, rows) in written {
                    match rows {
                        Some(n) => println!("wrote {} ({n} rows)", path.display()),
                        None => println!("wrote {}", path.display()),
                    }
                }
            }
            Ok(())
        }
        Command::Metrics { inputs, analysis, format, out } => {
            let progress = pipeline::Progress::new(quiet);
            let a = pipeline::analyse(&inputs, &analysis, &progress)?;
            progress.step("writing the tables");
            let out = out.unwrap_or_else(|| PathBuf::from("reports/latest"));
            let written = report::write_tables(&a, &out, format)?;
            progress.finish();
            if !quiet {
                report::print_warnings(&a);
                for s in &a.data.inputs {
                    println!("{}", summary::accounting_line(s));
                }
                for (path, rows) in written {
                    println!("wrote {} ({rows} rows)", path.display());
                }
            }
            Ok(())
        }
        Command::Report { inputs, analysis, out } => {
            let demo = inputs.tickets.is_empty() && inputs.sops.is_none();
            let inputs = if demo { demo_inputs(inputs) } else { inputs };
            let out = out.unwrap_or_else(|| PathBuf::from(if demo { "reports/demo" } else { "reports/latest" }));
            publish::precheck(&out)?;
            let progress = pipeline::Progress::new(quiet);
            let a = pipeline::analyse(&inputs, &analysis, &progress)?;
            progress.step("drawing charts and writing the report");
            let args = command_line();
            report::write_report(&a, &out, &args)?;
            progress.finish();
            if !quiet {
                report::print_warnings(&a);
                println!("report written to {}", out.join("report.md").display());
            }
            Ok(())
        }
        Command::Backlog { inputs, analysis, out } => {
            let progress = pipeline::Progress::new(quiet);
            let a = pipeline::analyse(&inputs, &analysis, &progress)?;
            let b = backlog::backlog(&a)?;
            progress.finish();
            let out = out.unwrap_or_else(|| PathBuf::from("reports/latest"));
            output::ensure_dir(&out)?;
            output::write_atomic(&out.join("backlog.csv"), &backlog::backlog_csv(&b)?)?;
            output::write_atomic(&out.join("review_calendar.csv"), &backlog::calendar_csv(&b)?)?;
            if !quiet {
                report::print_warnings(&a);
                for r in b.rows.iter().take(10) {
                    println!(
                        "{:>3}. {} [{}] score {:.3}: {}",
                        r.rank,
                        r.process,
                        r.state.name(),
                        r.score,
                        r.reasons.join("; ")
                    );
                }
                println!(
                    "wrote {} ({} processes) and {}",
                    out.join("backlog.csv").display(),
                    b.rows.len(),
                    out.join("review_calendar.csv").display()
                );
            }
            Ok(())
        }
        Command::Evidence { inputs, analysis, sop, sop_version, out } => {
            if let Some(out) = &out {
                publish::precheck(out)?;
            }
            let progress = pipeline::Progress::new(quiet);
            let a = pipeline::analyse(&inputs, &analysis, &progress)?;
            progress.step("writing the evidence pack");
            let args = command_line();
            let dir = evidence::write_evidence(&a, &sop, sop_version.as_deref(), out, &args)?;
            progress.finish();
            if !quiet {
                report::print_warnings(&a);
                println!("evidence pack written to {}", dir.display());
            }
            Ok(())
        }
        Command::InitConfig { path } => {
            if path.exists() {
                return Err(Error::Usage(format!("{} exists already; remove it or name another path", path.display())));
            }
            output::write_atomic(&path, config::DEFAULT_TOML.as_bytes())?;
            if !quiet {
                println!("wrote {} (the documented defaults; edit and pass it with --config)", path.display());
            }
            Ok(())
        }
    }
}

/// The arguments as given, for the manifest and the re-run command (not UTF-8 parts replaced).
fn command_line() -> Vec<String> {
    std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect()
}

/// Turn the INPUT options into paths and reading options, checking what a parser cannot.
pub fn resolve_inputs(args: &InputArgs) -> Result<(InputPaths, LoadOptions)> {
    let tz: Tz = args.timezone.parse().map_err(|_| {
        Error::Usage(format!(
            "unknown time zone '{}': use an IANA name such as UTC, Europe/Berlin or America/New_York",
            args.timezone
        ))
    })?;
    if args.tickets.is_empty() || args.sops.is_none() {
        return Err(Error::Usage(
            "--tickets and --sops are required (run `sop-impact report` with no inputs to see the bundled demo)".into(),
        ));
    }
    refuse_repeated_files(&args.tickets)?;
    if let Some(d) = &args.as_of {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--as-of '{d}' is not a date: use YYYY-MM-DD")))?;
    }
    let paths = InputPaths {
        tickets: args.tickets.clone(),
        sops: args.sops.clone().unwrap_or_default(),
        changes: args.changes.clone(),
        audits: args.audits.clone(),
    };
    Ok((paths, LoadOptions { profile: args.profile, tz, date_order: args.date_order.map(Into::into) }))
}

/// The same ticket file twice would count every ticket twice: refuse it, however it is named.
fn refuse_repeated_files(tickets: &[PathBuf]) -> Result<()> {
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for path in tickets {
        let Ok(real) = std::fs::canonicalize(path) else { continue };
        if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
            return Err(Error::Usage(format!(
                "--tickets names the same file twice ({} and {}); pass each file once",
                first.display(),
                path.display()
            )));
        }
        seen.push((real, path));
    }
    Ok(())
}

/// The demo run: the bundled data with a fixed "today" (the day after its history ends), so
/// that the committed demo report is what any later run produces.
fn demo_inputs(mut inputs: InputArgs) -> InputArgs {
    let dir = demo_dir();
    inputs.tickets = vec![dir.join("tickets.csv")];
    inputs.sops = Some(dir.join("sops.csv"));
    inputs.changes = Some(dir.join("changes.csv"));
    inputs.audits = Some(dir.join("audits.csv"));
    if inputs.as_of.is_none() {
        inputs.as_of = Some(DEMO_AS_OF.to_string());
    }
    inputs
}

/// "Today" for the demo report.
pub const DEMO_AS_OF: &str = "2025-12-31";

/// Where the bundled demo data lives: `fixtures/demo` under the working directory, else under
/// the source tree the binary was built from.
pub fn demo_dir() -> PathBuf {
    let here = Path::new("fixtures/demo");
    if here.is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo")
    }
}
