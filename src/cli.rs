//! The command line, part of the binary: the library never sees clap. Its choices mirror the
//! library's enums, its argument groups turn into the library's plain request and option
//! structs, and [`run`] hands each subcommand to one function of `sop_impact::commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use sop_impact_parse::time::DateOrder;

use sop_impact::attribute::AttributeBy;
use sop_impact::compare::Stratify;
use sop_impact::error::Result;
use sop_impact::generate::Layout;
use sop_impact::ingest::profile::Profile;
use sop_impact::period::Period;
use sop_impact::pipeline::{AnalysisOptions, InputRequest};
use sop_impact::tables::TableFormat;
use sop_impact::{commands, generate, publish};

#[derive(Debug, Parser)]
#[command(
    name = "sop-impact",
    version,
    about = "Did changing this standard operating procedure make the work better or worse?",
    long_about = "Reads ticket, change-request and audit-finding exports (ServiceNow, Jira Service Management, \
Zendesk or a canonical CSV/Parquet/Arrow layout), attributes every record to the SOP version in force, \
and compares metrics before and after every SOP change.",
    after_help = "Examples:\n  sop-impact validate --tickets incidents.csv --sops sops.csv\n  sop-impact generate --out /tmp/demo --tickets 100000 --seed 7 --profile servicenow\n  sop-impact report            # the bundled demo data, written to reports/demo/"
)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the full report (Markdown, charts, tables, manifest). With no inputs, runs on the demo data.
    #[command(
        after_help = "Examples:\n  sop-impact report\n  sop-impact report --tickets incidents.csv --sops sops.csv --out reports/2026-11 --as-of 2026-11-30"
    )]
    Report {
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// Output directory (default: reports/demo for the demo data, reports/latest otherwise).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace an earlier report's files even where they changed since it wrote them (an
        /// annotated report.md); inputs of the run are never replaced.
        #[arg(long)]
        force: bool,
    },
    /// Check the inputs, print a data-quality summary and write DIR/rejects.csv.
    #[command(
        after_help = "Examples:\n  sop-impact validate --tickets incidents.csv --sops sops.csv\n  sop-impact validate --tickets jira.csv --sops sops.csv --profile jira --timezone Europe/Berlin --out /tmp/check"
    )]
    Validate {
        #[command(flatten)]
        inputs: InputArgs,
        /// Output directory for rejects.csv (default: reports/validate).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the metric tables per SOP version and per process and period.
    #[command(
        after_help = "Examples:\n  sop-impact metrics --tickets incidents.csv --sops sops.csv --format parquet --out /tmp/metrics"
    )]
    Metrics {
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// Table format.
        #[arg(long, value_enum, default_value_t = TableFormatArg::Csv)]
        format: TableFormatArg,
        /// Output directory (default: reports/latest).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Rank processes by their need for a new or revised SOP; writes DIR/backlog.csv.
    #[command(
        after_help = "Examples:\n  sop-impact backlog --tickets incidents.csv --sops sops.csv --as-of 2026-11-30"
    )]
    Backlog {
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// Output directory (default: reports/latest).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the auditor's evidence pack for one SOP change.
    #[command(
        after_help = "Examples:\n  sop-impact evidence --tickets incidents.csv --sops sops.csv --sop SOP-NET-004 --version 2.0"
    )]
    Evidence {
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// The SOP whose change is examined.
        #[arg(long, value_name = "ID")]
        sop: String,
        /// The version that introduced the change (default: the latest).
        #[arg(long = "version", value_name = "V")]
        sop_version: Option<String>,
        /// Output directory (default: reports/evidence-<ID>-<V>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace an earlier report's files even where they changed since it wrote them (an
        /// annotated report.md); inputs of the run are never replaced.
        #[arg(long)]
        force: bool,
    },
    /// Write realistic synthetic exports with planted, documented effects (and truth.json).
    #[command(
        after_help = "Examples:\n  sop-impact generate --out /tmp/gen --tickets 1000000 --seed 42 --profile servicenow\n  sop-impact generate --out /tmp/gen --profile servicenow --event-log"
    )]
    Generate {
        /// Directory to write tickets.csv, sops.csv, changes.csv, audits.csv and truth.json into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of tickets (incidents) to generate.
        #[arg(long, default_value_t = 20_000)]
        tickets: u64,
        /// Random seed: the same seed gives byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Layout of the ticket and change exports.
        #[arg(long, value_enum, default_value_t = LayoutArg::Canonical)]
        profile: LayoutArg,
        /// ServiceNow only: write the event-log form (several rows per incident, `?` for missing).
        #[arg(long)]
        event_log: bool,
        /// First day of the generated history (YYYY-MM-DD).
        #[arg(long, default_value = "2024-01-01")]
        start: String,
        /// Length of the generated history in months.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// The desk's drift in resolution time and rates, percent per year (negative: improving;
        /// one process goes the other way).
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_name = "PCT_PER_YEAR")]
        trend: f64,
        /// A yearly swing of ± this many percent in resolution time and rates.
        #[arg(long, default_value_t = 0.0, value_name = "PCT")]
        seasonality: f64,
        /// What the SOP versions do: the scenario's planted effects, none at all, or a cut of
        /// `--step` percent in resolution time at three changes.
        #[arg(long, value_enum, default_value_t = EffectsArg::Planted)]
        effects: EffectsArg,
        /// The cut in resolution time of `--effects mttr-steps`, percent.
        #[arg(long, default_value_t = 35.0, value_name = "PCT")]
        step: f64,
        /// Each version's effect builds up evenly over this many weeks after its date, as a
        /// procedure that needs training does (0: in full from its date).
        #[arg(long, default_value_t = 0, value_name = "WEEKS")]
        ramp_weeks: u32,
        /// A new version of every SOP every this many months (staggered between SOPs), three
        /// changes in five moving MTTR, the reopen or the escalation rate by 20-40% either way,
        /// in place of the scenario's versions (with --effects none: no change does anything).
        #[arg(long, default_value_t = 0, value_name = "MONTHS")]
        sop_every_months: u32,
        /// Realistic where it matters for cost (benchmarks): one process with half the tickets,
        /// resolution times in whole minutes (ties), a quarter of the last four weeks' tickets
        /// still open at the end.
        #[arg(long)]
        realistic: bool,
    },
    /// Write the documented default configuration file.
    #[command(
        after_help = "Examples:\n  sop-impact init-config\n  sop-impact init-config warehouse.toml --from export.csv   # a first [tickets] mapping of the export, to edit"
    )]
    InitConfig {
        /// Where to write it.
        #[arg(default_value = "sop-impact.toml")]
        path: PathBuf,
        /// A ticket export whose header and first rows are read to write a first [tickets]
        /// mapping (columns guessed from their names and values, a sample value beside each).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
}

/// The inputs, shared by every analysing subcommand.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Inputs")]
pub struct InputArgs {
    /// Ticket exports (CSV, Parquet or Arrow IPC); several files are read as one table.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub tickets: Vec<PathBuf>,
    /// SOP version history.
    #[arg(long, value_name = "PATH")]
    pub sops: Option<PathBuf>,
    /// Change requests (optional).
    #[arg(long, value_name = "PATH")]
    pub changes: Option<PathBuf>,
    /// Audit findings (optional).
    #[arg(long, value_name = "PATH")]
    pub audits: Option<PathBuf>,
    /// Source profile of the ticket and change exports; `auto` detects it from the header.
    #[arg(long, value_enum, default_value_t = ProfileArg::Auto)]
    pub profile: ProfileArg,
    /// Time zone of timestamps that carry no offset (IANA name, e.g. Europe/Berlin).
    #[arg(long, default_value = "UTC", value_name = "TZ")]
    pub timezone: String,
    /// How to read a/b/yyyy dates; without it the data must settle the order (ServiceNow: day-first).
    #[arg(long, value_enum, value_name = "ORDER")]
    pub date_order: Option<DateOrderArg>,
    /// Fix "today" (YYYY-MM-DD) so that runs are reproducible.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Configuration file (TOML): the analysis settings and, per input, how its export maps
    /// onto the canonical columns; see `sop-impact init-config`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Options of the analysis steps (metrics, comparisons).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Analysis")]
pub struct AnalysisArgs {
    /// Period of the per-process tables and trend charts [default: the config's, else month].
    #[arg(long, value_enum)]
    pub period: Option<PeriodArg>,
    /// Days compared either side of each SOP change, or `all` for the full version intervals
    /// [default: the config's window_days, else 90].
    #[arg(long, value_name = "DAYS|all")]
    pub window: Option<String>,
    /// Attribute tickets by this timestamp.
    #[arg(long, value_enum, default_value_t = AttributeByArg::OpenedAt)]
    pub attribute_by: AttributeByArg,
    /// Also compare within each value of this ticket column (writes comparisons_by_<column>.csv).
    #[arg(long, value_enum, value_name = "COLUMN")]
    pub by: Option<StratifyArg>,
    /// Directory of metric SQL files to use instead of the bundled queries/.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Run each metric query per part of the groups: a lower memory peak on exports of
    /// millions of tickets, a little slower [default: the config's low_memory].
    #[arg(long)]
    pub low_memory: bool,
}

/// A command-line choice that mirrors a library enum variant for variant, so that the library
/// has no clap in it: `arg => domain { variants }`.
macro_rules! choice {
    ($(#[$meta:meta])* $arg:ident => $domain:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
        pub enum $arg {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$arg> for $domain {
            fn from(choice: $arg) -> Self {
                match choice {
                    $($arg::$variant => <$domain>::$variant),+
                }
            }
        }
    };
}

choice!(
    /// `--profile`
    ProfileArg => Profile { Auto, Canonical, Servicenow, Jira, Zendesk, Freshdesk, Glpi, Otrs }
);
choice!(
    /// `generate --profile`
    LayoutArg => Layout { Canonical, Servicenow }
);
/// `generate --effects`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EffectsArg {
    Planted,
    None,
    MttrSteps,
}

choice!(
    /// `metrics --format`
    TableFormatArg => TableFormat { Csv, Parquet, Ipc, Json }
);
choice!(
    /// `--period`
    PeriodArg => Period { Month, Week, Quarter }
);
choice!(
    /// `--by`
    StratifyArg => Stratify { Priority, AssignmentGroup }
);
choice!(
    /// `--attribute-by`
    AttributeByArg => AttributeBy { OpenedAt, ResolvedAt }
);
choice!(
    /// `--date-order`: how to read a/b/yyyy dates.
    DateOrderArg => DateOrder {
        /// day/month/year, e.g. 29/2/2016
        Dmy,
        /// month/day/year, e.g. 2/29/2016
        Mdy,
    }
);

impl InputArgs {
    /// What to read, for the library.
    pub fn request(&self) -> InputRequest {
        InputRequest {
            tickets: self.tickets.clone(),
            sops: self.sops.clone(),
            changes: self.changes.clone(),
            audits: self.audits.clone(),
            profile: self.profile.into(),
            timezone: self.timezone.clone(),
            date_order: self.date_order.map(Into::into),
            as_of: self.as_of.clone(),
            config: self.config.clone(),
        }
    }
}

impl AnalysisArgs {
    /// How to analyse, for the library.
    pub fn options(&self) -> AnalysisOptions {
        AnalysisOptions {
            period: self.period.map(Into::into),
            window: self.window.clone(),
            attribute_by: self.attribute_by.into(),
            by: self.by.map(Into::into),
            queries: self.queries.clone(),
            low_memory: self.low_memory,
            record_ids: false,
        }
    }
}

/// Run one command line.
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
                EffectsArg::Planted => generate::Effects::Planted,
                EffectsArg::None => generate::Effects::None,
                EffectsArg::MttrSteps => generate::Effects::MttrSteps(step),
            };
            let spec = generate::Spec::new(tickets, seed, profile.into(), event_log, &start, months)?
                .with_drift(trend, seasonality, effects)?
                .with_schedule(ramp_weeks, sop_every_months)?;
            commands::generate(&out, &generate::Spec { realistic, ..spec }, quiet)
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
        Command::Evidence { inputs, analysis, sop, sop_version, out, force } => commands::evidence(
            &inputs.request(),
            &analysis.options(),
            &sop,
            sop_version.as_deref(),
            out,
            replace(force),
            quiet,
        ),
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
