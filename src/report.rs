//! Turns a [`PreflightResult`] into what the operator reads, and decides the
//! exit code. The only module that prints (the progress line included).
//!
//! Both formats go to stdout so that `--format json | jq` works and tracing
//! (stderr) never corrupts the document. Text is plain unless stdout is a
//! terminal and `NO_COLOR` is unset: pod logs are not terminals.

pub(crate) mod github;
pub(crate) mod json;
pub(crate) mod progress;
pub(crate) mod text;

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

use crate::diagnostics::{Blame, inline};
use crate::environment::ServerEnvironment;
use crate::results::PreflightResult;

/// Output format, chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    // GitHub Actions workflow commands (annotations).
    Github,
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

/// The exit code for a result: the worst of its failures.
pub(crate) fn exit_code(result: &PreflightResult) -> u8 {
    result
        .failures
        .iter()
        .map(|failure| match failure.error.blame() {
            Blame::Configuration => exit::VALIDATION_FAILED,
            Blame::Invocation => exit::INVALID_INVOCATION,
        })
        .max()
        .unwrap_or(exit::SUCCESS)
}

/// Writes the report to stdout and returns the exit code. The effective
/// configuration, when there is one, is part of the JSON document; in text it
/// takes stdout, as YAML, and the report goes to stderr.
pub(crate) fn emit(result: &PreflightResult, format: Format, color: bool) -> u8 {
    match (format, &result.effective_config) {
        (Format::Text, Some(config)) => {
            let yaml = serde_yaml_ng::to_string(config).unwrap_or_default();
            write_stdout(text::terminal_safe(&yaml).as_bytes());
            write_to(io::stderr().lock(), text::render(result, color).as_bytes());
        }
        (Format::Text, None) => write_stdout(text::render(result, color).as_bytes()),
        (Format::Json, _) => write_stdout(json::render(result).as_bytes()),
        (Format::Github, _) => write_stdout(github::render(result).as_bytes()),
    }
    exit_code(result)
}

/// Writes `bytes` to stdout.
pub(crate) fn write_stdout(bytes: &[u8]) {
    write_to(io::stdout().lock(), bytes);
}

fn write_to(mut stream: impl Write, bytes: &[u8]) {
    // A closed stream (preflight | head) must not turn a verdict into a panic.
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
}

/// The line that introduces one file's report when several are checked
/// (`tail`'s convention), with a blank line before all but the first. The
/// name is shown inert: a file name may hold escape sequences or newlines.
pub(crate) fn heading(run_yaml: &Path, first: bool) -> String {
    let gap = if first { "" } else { "\n" };
    format!(
        "{gap}==> {} <==\n",
        text::one_line(&run_yaml.display().to_string())
    )
}

/// Kubernetes shows at most 4096 bytes of a termination message.
const TERMINATION_LOG_LIMIT: usize = 4000;

/// Writes a short failure summary where Kubernetes reads the termination
/// message; the one write preflight makes, and only when asked. The file is
/// opened without blocking: a FIFO nobody reads is refused at once (and one
/// that is read takes the few kilobytes without waiting).
pub(crate) fn write_termination_log(path: &Path, result: &PreflightResult) {
    let Some(failure) = result.failures.first() else {
        return;
    };
    let mut summary = format!(
        "llama-stack preflight: {}\n",
        inline(&failure.error.to_string())
    );
    if let Some(provider) = &failure.provider {
        summary.push_str(&format!(
            "Provider: {} ({})\n",
            text::one_line(&provider.provider_id),
            text::one_line(&provider.module)
        ));
    }
    summary.push_str(&format!(
        "Resolution: {}\nCode: {}\n",
        inline(&failure.resolution()),
        failure.code()
    ));
    if result.failures.len() > 1 {
        summary.push_str(&format!(
            "And {} more failure(s): see the report.\n",
            result.failures.len() - 1
        ));
    }
    let summary = text::terminal_safe(&summary);
    let mut end = summary.len().min(TERMINATION_LOG_LIMIT);
    while !summary.is_char_boundary(end) {
        end -= 1;
    }
    #[allow(clippy::disallowed_methods)] // asked for with --termination-log
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|mut file| file.write_all(&summary.as_bytes()[..end]));
    if let Err(err) = written {
        let _ = writeln!(
            io::stderr(),
            "llama-stack preflight: cannot write --termination-log {}: {err}",
            text::one_line(&path.display().to_string())
        );
    }
}

/// Replaces this process with `command` (`--exec`), in `environment`, the
/// one the checks ran with; returns only if that fails.
pub(crate) fn exec(command: &[OsString], environment: &ServerEnvironment) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        return ExitCode::from(exit::INVALID_INVOCATION);
    };
    // The server reaps its own children; it did not ask to inherit orphans.
    crate::subprocess::set_subreaper(false);
    let err = Command::new(program)
        .args(args)
        .env_clear()
        .envs(environment.vars().iter().cloned())
        .exec();
    let _ = writeln!(
        io::stderr(),
        "llama-stack preflight: the checks passed, but --exec could not start {}: {err}",
        program.to_string_lossy()
    );
    ExitCode::from(exit::INVALID_INVOCATION)
}
