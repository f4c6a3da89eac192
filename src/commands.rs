//! One function per subcommand: what it reads, what it writes, what it prints.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::generate::Spec;
use crate::pipeline::{self, Analysis, AnalysisOptions, InputRequest, Progress};
use crate::tables::TableFormat;
use crate::{config, output, publish, summary};

/// `validate`: check the inputs, print the data-quality summary, write rejects.csv.
pub fn validate(inputs: &InputRequest, out: Option<PathBuf>, quiet: bool) -> Result<()> {
    let resolved = pipeline::resolve_inputs(inputs)?;
    let data = crate::validate::load(&resolved.paths, &resolved.load)?;
    let out = out.unwrap_or_else(|| PathBuf::from("reports/validate"));
    output::ensure_dir(&out)?;
    let rejects_path = out.join("rejects.csv");
    output::write_atomic(&rejects_path, &crate::validate::rejects_csv(&data.rejects)?)?;
    // --quiet prints nothing but errors: the warnings are in the summary it leaves out.
    if !quiet {
        print!("{}", summary::data_quality(&data.inputs, &data.warnings));
        println!("rejects: {} ({} rows)", rejects_path.display(), data.rejects.len());
    }
    Ok(())
}

/// `generate`: synthetic exports with planted effects.
pub fn generate(out: &Path, spec: &Spec, quiet: bool) -> Result<()> {
    let written = crate::generate::write(out, spec)?;
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

/// `metrics`: the metric tables (and comparisons) in one format.
pub fn metrics(
    inputs: &InputRequest,
    options: &AnalysisOptions,
    format: TableFormat,
    out: Option<PathBuf>,
    quiet: bool,
) -> Result<()> {
    let progress = Progress::new(quiet);
    let a = pipeline::analyse(inputs, options, &progress)?;
    progress.step("writing the tables");
    let out = out.unwrap_or_else(|| PathBuf::from("reports/latest"));
    let written = crate::artifacts::write_tables(&a, &out, format)?;
    progress.finish();
    if !quiet {
        print_warnings(&a);
        for s in &a.data.inputs {
            println!("{}", summary::accounting_line(s));
        }
        for (path, rows) in written {
            println!("wrote {} ({rows} rows)", path.display());
        }
    }
    Ok(())
}

/// `report`: the full report; with no inputs, over the bundled demo data.
pub fn report(
    inputs: InputRequest,
    options: &AnalysisOptions,
    out: Option<PathBuf>,
    replace: publish::Replace,
    quiet: bool,
) -> Result<()> {
    let demo = inputs.tickets.is_empty() && inputs.sops.is_none();
    let inputs = if demo { demo_inputs(inputs) } else { inputs };
    let out = out.unwrap_or_else(|| PathBuf::from(if demo { "reports/demo" } else { "reports/latest" }));
    publish::precheck(&out, replace)?;
    let progress = Progress::new(quiet);
    let a = pipeline::analyse(&inputs, options, &progress)?;
    progress.step("drawing charts and writing the report");
    crate::report::write_report(&a, &out, &command_line(), replace)?;
    progress.finish();
    if !quiet {
        print_warnings(&a);
        println!("report written to {}", out.join("report.md").display());
    }
    Ok(())
}

/// `backlog`: the documentation backlog and the review calendar.
pub fn backlog(inputs: &InputRequest, options: &AnalysisOptions, out: Option<PathBuf>, quiet: bool) -> Result<()> {
    let progress = Progress::new(quiet);
    let a = pipeline::analyse(inputs, options, &progress)?;
    let b = crate::backlog::backlog(&a)?;
    progress.finish();
    let out = out.unwrap_or_else(|| PathBuf::from("reports/latest"));
    output::ensure_dir(&out)?;
    output::write_atomic(&out.join("backlog.csv"), &crate::backlog::backlog_csv(&b)?)?;
    output::write_atomic(&out.join("review_calendar.csv"), &crate::backlog::calendar_csv(&b)?)?;
    if !quiet {
        print_warnings(&a);
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

/// `evidence`: the auditor's pack for one SOP change.
pub fn evidence(
    inputs: &InputRequest,
    options: &AnalysisOptions,
    sop: &str,
    version: Option<&str>,
    out: Option<PathBuf>,
    replace: publish::Replace,
    quiet: bool,
) -> Result<()> {
    if let Some(out) = &out {
        publish::precheck(out, replace)?;
    }
    let progress = Progress::new(quiet);
    let options = AnalysisOptions { record_ids: true, ..options.clone() };
    let a = pipeline::analyse(inputs, &options, &progress)?;
    progress.step("writing the evidence pack");
    let dir = crate::evidence::write_evidence(&a, sop, version, out, &command_line(), replace)?;
    progress.finish();
    if !quiet {
        print_warnings(&a);
        println!("evidence pack written to {}", dir.display());
    }
    Ok(())
}

/// `init-config`: the documented default configuration, never over an existing file.
pub fn init_config(path: &Path, from: Option<&Path>, quiet: bool) -> Result<()> {
    if path.exists() {
        return Err(Error::Usage(format!("{} exists already; remove it or name another path", path.display())));
    }
    let guess = from.map(crate::ingest::guess::guess_tickets).transpose()?;
    let text = format!("{}{}", config::DEFAULT_TOML, guess.as_ref().map_or("", |g| g.section.as_str()));
    output::write_atomic(path, text.as_bytes())?;
    if quiet {
        return Ok(());
    }
    match (&guess, from) {
        (Some(g), Some(from)) => {
            println!(
                "wrote {} with a [tickets] mapping of {} (its header looks {}); check each line, then pass it with --config",
                path.display(),
                from.display(),
                if g.profile == crate::ingest::profile::Profile::Canonical {
                    "like no known tool".to_string()
                } else {
                    format!("like {}", g.profile.name())
                }
            );
            if !g.not_found.is_empty() {
                println!("not found (left as comments): {}", g.not_found.join(", "));
            }
        }
        _ => println!("wrote {} (the documented defaults; edit and pass it with --config)", path.display()),
    }
    Ok(())
}

/// The arguments as given, for the manifest and the re-run command (not UTF-8 parts replaced).
fn command_line() -> Vec<String> {
    std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect()
}

/// The demo run: the bundled data with a fixed "today" (the day after its history ends), so
/// that the committed demo report is what any later run produces.
fn demo_inputs(mut inputs: InputRequest) -> InputRequest {
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

/// Warnings a user must see: SOP history problems and records that match no process.
fn print_warnings(a: &Analysis) {
    for w in &a.data.warnings {
        eprintln!("sop-impact: warning: {w}");
    }
    for (input, n) in &a.attributed.unattributed {
        eprintln!("sop-impact: warning: {n} {input} match no process (no category, subcategory, sop_id or process of an SOP or a ticket)");
    }
}
