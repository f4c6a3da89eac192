//! sop-impact: did changing this standard operating procedure make the work better or worse?
//!
//! The pipeline, one module per step:
//! ingest (read exports) → validate (canonical frames + rejects) → attribute → metrics →
//! compare → render. `run` wires the subcommands onto it.

pub mod attribute;
pub mod cli;
pub mod compare;
pub mod config;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod output;
pub mod stats;
pub mod summary;
pub mod tables;
pub mod timeparse;
pub mod validate;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use polars::prelude::ChunkAgg;

use cli::{Cli, Command, InputArgs};
use error::{Error, Result};
use validate::{InputPaths, LoadOptions};

/// Run one command line.
pub fn run(cli: Cli) -> Result<()> {
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
        Command::Report { .. } => not_built("report", "the Markdown report, charts and manifest", 6),
        Command::Metrics { inputs, analysis, format, out } => {
            let (paths, opts) = resolve_inputs(&inputs)?;
            let config = config::Config::load(analysis.config.as_deref())?;
            let period = resolve_period(&analysis, &config);
            let queries = metrics::load_queries(metrics::query_dir(analysis.queries.as_deref()).as_deref())?;
            let data = validate::load(&paths, &opts)?;
            let att = attribute::attribute(&data, analysis.attribute_by)?;
            let tables = metrics::compute(&att, &config, &queries, period, opts.tz)?;
            let window = resolve_window(&analysis, &config)?;
            let as_of = as_of_ms(&inputs, &opts, &data)?;
            let comparisons = compare::compare(&att, &config, &queries, window, as_of)?;
            let out = out.unwrap_or_else(|| PathBuf::from("reports/latest"));
            let dir = out.join("metrics");
            output::ensure_dir(&dir)?;
            let ext = tables::extension(format);
            let mut written = Vec::new();
            for (name, df) in
                [("sop_version_metrics", &tables.sop_versions), ("process_period_metrics", &tables.process_periods)]
            {
                let path = dir.join(format!("{name}.{ext}"));
                output::write_atomic(&path, &tables::to_bytes(df, format)?)?;
                written.push((path, df.height()));
            }
            output::write_atomic(&out.join("rejects.csv"), &output::rejects_csv(&data.rejects)?)?;
            for (name, bytes, rows) in [
                ("comparisons.csv", compare::comparisons_csv(&comparisons)?, comparisons.rows.len()),
                ("windows.csv", compare::windows_csv(&comparisons)?, comparisons.changes.len()),
            ] {
                let path = out.join(name);
                output::write_atomic(&path, &bytes)?;
                written.push((path, rows));
            }
            if !quiet {
                for w in data.warnings.iter() {
                    eprintln!("sop-impact: warning: {w}");
                }
                for (input, n) in &att.unattributed {
                    eprintln!("sop-impact: warning: {n} {input} match no process (no category, subcategory, sop_id or process that an SOP or a ticket has)");
                }
                for s in &data.inputs {
                    let sup = if s.superseded > 0 { format!(" + {} superseded", s.superseded) } else { String::new() };
                    println!(
                        "{} {}: {} rows read = {} accepted + {} rejected{sup}",
                        s.kind.name(),
                        s.path.display(),
                        s.rows_read,
                        s.accepted,
                        s.rejected
                    );
                }
                for (path, rows) in written {
                    println!("wrote {} ({rows} rows)", path.display());
                }
            }
            Ok(())
        }
        Command::Backlog { .. } => not_built("backlog", "the documentation backlog", 7),
        Command::Evidence { .. } => not_built("evidence", "the auditor's evidence pack", 7),
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

/// The command line's --window, else the config's window_days.
fn resolve_window(analysis: &cli::AnalysisArgs, config: &config::Config) -> Result<compare::Window> {
    match &analysis.window {
        Some(w) => compare::Window::parse(w).map_err(Error::Usage),
        None => Ok(compare::Window::Days(config.compare.window_days.max(1))),
    }
}

/// "Today" in UTC ms: the start of the day after --as-of in the run's time zone, else the
/// latest timestamp in the tickets (so that runs on the same data agree).
pub fn as_of_ms(inputs: &InputArgs, opts: &LoadOptions, data: &validate::Dataset) -> Result<i64> {
    if let Some(d) = &inputs.as_of {
        let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--as-of '{d}' is not a date: use YYYY-MM-DD")))?;
        let next = date.succ_opt().unwrap_or(date);
        return timeparse::parse_timestamp(&next.to_string(), None, opts.tz).map_err(Error::Usage);
    }
    let mut latest = i64::MIN;
    for c in ["opened_at", "resolved_at", "closed_at"] {
        let ca = data
            .tickets
            .column(c)
            .map_err(error::polars_internal)?
            .datetime()
            .map_err(error::polars_internal)?
            .physical()
            .clone();
        if let Some(m) = ca.max() {
            latest = latest.max(m);
        }
    }
    Ok(latest)
}

/// The command line's --period wins over the config's.
fn resolve_period(analysis: &cli::AnalysisArgs, config: &config::Config) -> cli::Period {
    match (analysis.period, config.metrics.period.as_str()) {
        (Some(p), _) => p,
        (None, "week") => cli::Period::Week,
        (None, "quarter") => cli::Period::Quarter,
        _ => cli::Period::Month,
    }
}

fn not_built(cmd: &str, what: &str, issue: u32) -> Result<()> {
    Err(Error::Usage(format!("`sop-impact {cmd}` is not available yet: {what} is still being built (issue #{issue}); `sop-impact validate` checks inputs today")))
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
    Ok((paths, LoadOptions { profile: args.profile, tz, date_order: args.date_order }))
}

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
