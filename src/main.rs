//! `sop-impact`: parse the arguments, run, map the outcome to an exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sop_impact::cli::Cli::parse();
    match sop_impact::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sop-impact: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
