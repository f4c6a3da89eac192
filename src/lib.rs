//! sop-impact: did changing this standard operating procedure make the work better or worse?
//!
//! The pipeline, one module per step:
//! ingest (read exports) → validate (canonical frames + rejects) → attribute → metrics →
//! compare → render. `run` wires the subcommands onto it.

pub mod arrays;
pub mod attribute;
pub mod backlog;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod cores;
pub mod diag;
pub mod error;
pub mod evidence;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod output;
pub mod period;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod report;
pub mod stats;
pub mod summary;
pub mod tables;
pub mod validate;

use cli::{Cli, Command};
use error::Result;

/// Run one command line: the arguments become the library's requests here, and each
/// subcommand is one function of [`commands`].
pub fn run(cli: Cli) -> Result<()> {
    if std::env::var_os(publish::FAULT_ENV).is_some_and(|v| v == "panic") {
        panic!("a panic injected with {}=panic", publish::FAULT_ENV);
    }
    let quiet = cli.quiet;
    match cli.command {
        Command::Validate { inputs, out } => commands::validate(&inputs.request(), out, quiet),
        Command::Generate {
            out,
            tickets,
            seed,
            profile,
            event_log,
            start,
            months,
            trend,
            seasonality,
            effects,
            step,
            ramp_weeks,
            sop_every_months,
            realistic,
        } => {
            let effects = match effects {
                cli::EffectsArg::Planted => generate::Effects::Planted,
                cli::EffectsArg::None => generate::Effects::None,
                cli::EffectsArg::MttrSteps => generate::Effects::MttrSteps(step),
            };
            let spec = generate::Spec::new(tickets, seed, profile.into(), event_log, &start, months)?.with_drift(
                trend,
                seasonality,
                effects,
            )?;
            if ramp_weeks > 520 {
                return Err(error::Error::Usage(format!("--ramp-weeks {ramp_weeks} is out of range: use 0 to 520")));
            }
            if sop_every_months > 60 {
                return Err(error::Error::Usage(format!(
                    "--sop-every-months {sop_every_months} is out of range: use 1 to 60 (0: the scenario's versions)"
                )));
            }
            let spec = generate::Spec { realistic, ramp_weeks, sop_every_months, ..spec };
            commands::generate(&out, &spec, quiet)
        }
        Command::Metrics { inputs, analysis, format, out } => {
            commands::metrics(&inputs.request(), &analysis.options(), format.into(), out, quiet)
        }
        Command::Report { inputs, analysis, out, force } => {
            commands::report(inputs.request(), &analysis.options(), out, replace(force), quiet)
        }
        Command::Backlog { inputs, analysis, out } => {
            commands::backlog(&inputs.request(), &analysis.options(), out, quiet)
        }
        Command::Evidence { inputs, analysis, sop, sop_version, out, force } => {
            let replace = replace(force);
            commands::evidence(
                &inputs.request(),
                &analysis.options(),
                &sop,
                sop_version.as_deref(),
                out,
                replace,
                quiet,
            )
        }
        Command::InitConfig { path, from } => commands::init_config(&path, from.as_deref(), quiet),
    }
}

fn replace(force: bool) -> publish::Replace {
    if force {
        publish::Replace::Changed
    } else {
        publish::Replace::OwnFiles
    }
}
