//! Turns a [`PreflightResult`] into what the operator reads, and decides the
//! exit code. The only module that prints.
//!
//! Both formats go to stdout so that `--format json | jq` works and tracing
//! (stderr) never corrupts the document. Text is plain unless stdout is a
//! terminal and `NO_COLOR` is unset: pod logs are not terminals.

pub(crate) mod json;
pub(crate) mod text;

use std::io::{self, Write};
use std::process::ExitCode;

use crate::diagnostics::Blame;
use crate::pipeline::PreflightResult;

/// Output format, chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

/// The documented exit codes.
pub(crate) mod exit {
    /// Every provider validated.
    pub(crate) const SUCCESS: u8 = 0;
    /// The configuration or environment would not start the server.
    pub(crate) const VALIDATION_FAILED: u8 = 1;
    /// The command line is wrong (also what clap uses for usage errors).
    pub(crate) const INVALID_INVOCATION: u8 = 2;
}

/// The exit code for a result.
pub(crate) fn exit_code(result: &PreflightResult) -> u8 {
    match result.failure.as_ref().map(|failure| failure.error.blame()) {
        None => exit::SUCCESS,
        Some(Blame::Configuration) => exit::VALIDATION_FAILED,
        Some(Blame::Invocation) => exit::INVALID_INVOCATION,
    }
}

/// Writes the report to stdout and returns the exit code.
pub(crate) fn emit(result: &PreflightResult, format: Format, color: bool) -> ExitCode {
    let rendered = match format {
        Format::Text => text::render(result, color),
        Format::Json => json::render(result),
    };
    let mut stdout = io::stdout().lock();
    // A closed stdout (preflight | head) must not turn a verdict into a panic.
    let _ = stdout.write_all(rendered.as_bytes());
    let _ = stdout.flush();
    ExitCode::from(exit_code(result))
}
