//! `sop-impact`: parse the arguments, run, map the outcome to an exit code. Nothing else.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// See Cargo.toml: the system allocator's page churn cost more than the parsing itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sop_impact::diag::tune_allocator();
    // A bug must not show a user a backtrace: one line saying where, and the internal-error code.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let first = message.lines().next().unwrap_or("");
        eprintln!("sop-impact: internal error: {first}{place} (a bug: please report it with the command line)");
        std::process::exit(i32::from(sop_impact::error::exit::INTERNAL));
    }));
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sop-impact: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
