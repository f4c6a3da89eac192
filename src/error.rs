//! One error type for the whole tool, and the one place that maps errors to exit codes
//! (documented in docs/validation.md).

use std::path::{Path, PathBuf};

/// Exit codes, as docs/validation.md documents them.
pub mod exit {
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INVALID_INPUT: u8 = 3;
    pub const OUTPUT: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something impossible or not built yet.
    #[error("{0}")]
    Usage(String),

    /// A whole input file cannot be used. `fix` tells the user what to do about it.
    #[error("{}: {problem}{}", path.display(), fix.as_ref().map(|f| format!("; {f}")).unwrap_or_default())]
    InvalidFile { path: PathBuf, problem: String, fix: Option<String> },

    /// A file cannot be used, at a known line.
    #[error("{}:{line}: {problem}{}", path.display(), fix.as_ref().map(|f| format!("; {f}")).unwrap_or_default())]
    InvalidAt { path: PathBuf, line: u64, problem: String, fix: Option<String> },

    /// An input cannot be read at all (missing, permissions).
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },

    /// An output cannot be written.
    #[error("{}: cannot write: {source}", path.display())]
    Output { path: PathBuf, source: std::io::Error },

    /// An output path the tool will not write to, because doing so would destroy something.
    #[error("{}: {problem}; {fix}", path.display())]
    OutputRefused { path: PathBuf, problem: String, fix: String },

    /// A bug or an environment failure we did not anticipate.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The same error about `path` (an error found in a decoded copy is about the input).
    pub fn with_path(self, path: &Path) -> Error {
        match self {
            Error::InvalidFile { problem, fix, .. } => Error::InvalidFile { path: path.to_path_buf(), problem, fix },
            Error::InvalidAt { line, problem, fix, .. } => {
                Error::InvalidAt { path: path.to_path_buf(), line, problem, fix }
            }
            Error::Unreadable { source, .. } => Error::Unreadable { path: path.to_path_buf(), source },
            other => other,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::InvalidFile { .. } | Error::InvalidAt { .. } | Error::Unreadable { .. } => exit::INVALID_INPUT,
            Error::Output { .. } | Error::OutputRefused { .. } => exit::OUTPUT,
            Error::Internal(_) => exit::INTERNAL,
        }
    }

    pub fn invalid(path: &Path, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::InvalidFile { path: path.to_path_buf(), problem: problem.into(), fix: Some(fix.into()) }
    }

    pub fn output(path: &Path, source: std::io::Error) -> Self {
        Error::Output { path: path.to_path_buf(), source }
    }
}

/// Polars errors never reach the user raw: they are wrapped with the file they concern.
pub fn polars_in<'a>(path: &'a Path, what: &str) -> impl FnOnce(polars::prelude::PolarsError) -> Error + 'a {
    let what = what.to_string();
    move |e| Error::InvalidFile {
        path: path.to_path_buf(),
        problem: format!("{what}: {}", first_line(&e.to_string())),
        fix: None,
    }
}

/// A polars failure that `?` meets is on a frame the tool built itself: a bug, not the user's
/// input (reading a user's file maps its errors with [`polars_in`], naming the file).
impl From<polars::prelude::PolarsError> for Error {
    fn from(e: polars::prelude::PolarsError) -> Self {
        polars_internal(e)
    }
}

/// Internal polars failures (on frames we built ourselves) are bugs, not user errors.
pub fn polars_internal(e: polars::prelude::PolarsError) -> Error {
    Error::Internal(first_line(&e.to_string()).to_string())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
