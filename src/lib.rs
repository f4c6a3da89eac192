//! sop-impact: did changing this standard operating procedure make the work better or worse?
//!
//! The pipeline, one module per step:
//! ingest (read exports) → validate (canonical frames + rejects) → attribute → metrics →
//! compare → render. `commands` holds one function per subcommand, over plain request
//! structs; the binary's `cli` turns the command line into them.

pub mod arrays;
pub mod artifacts;
pub mod attribute;
pub mod backlog;
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
