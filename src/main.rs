//! `sop-impact`: parse the arguments, run, map the outcome to an exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

/// See Cargo.toml: the system allocator's page churn cost more than the parsing itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
