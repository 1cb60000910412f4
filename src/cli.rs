//! The command line: `llama-stack preflight --run-yaml <PATH> [options]`.
//!
//! The doc comments below are the `--help` text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::import::DEFAULT_TIMEOUT_SECS;
use crate::report::Format;

const EXAMPLES: &str = "\
Examples:
  llama-stack preflight --run-yaml=/opt/llama-stack/config/run.yaml
  llama-stack preflight --run-yaml run.yaml --python .venv/bin/python
  llama-stack preflight --run-yaml run.yaml --format json | jq .errors
  llama-stack preflight --run-yaml=run.yaml --exec -- llama stack run run.yaml

Exit codes: 0 all providers valid, 1 validation failed, 2 invalid invocation.";

/// Checks a llama-stack run.yaml before the server starts.
#[derive(Debug, Parser)]
#[command(name = "llama-stack", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate that every provider in run.yaml will load, without starting the server.
    #[command(after_help = EXAMPLES)]
    Preflight(PreflightArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PreflightArgs {
    /// The run.yaml the server will be started with.
    #[arg(long = "run-yaml", value_name = "PATH")]
    pub(crate) run_yaml: PathBuf,

    /// The Python interpreter the server runs with (a path, or a name looked up on PATH).
    /// Default: $VIRTUAL_ENV/bin/python, else python3 on PATH.
    #[arg(long, value_name = "PATH|NAME")]
    pub(crate) python: Option<PathBuf>,

    /// Directory of provider metadata (<DIR>/<provider_id>/lls-provider-spec.yaml) to compare
    /// with each provider's runtime spec; mismatches are warnings.
    /// Default: /opt/llama-stack/external-providers/metadata when it exists.
    #[arg(long, value_name = "DIR")]
    pub(crate) metadata_dir: Option<PathBuf>,

    /// Let provider code write files while it is imported (some libraries create caches at
    /// import). Network access stays denied.
    #[arg(long)]
    pub(crate) allow_writes: bool,

    /// Also build each provider's config class from its run.yaml config, as the server does
    /// when it creates the provider, and report the settings it refuses. Off by default:
    /// deep config validation is outside preflight's contract.
    #[arg(long)]
    pub(crate) check_config: bool,

    /// Start a fresh interpreter for every provider instead of forking one that has imported
    /// llama-stack once. Slower; isolation is the same. Preflight already falls back to this
    /// when forking is unsafe (threads running after llama-stack's imports).
    #[arg(long)]
    pub(crate) no_fork: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Time limit for each provider's check, in seconds (the interpreter query gets at least 15).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,

    /// After a successful check, replace preflight with COMMAND (given after `--`): same PID,
    /// signals go straight to the server, the exit code is the server's. Never run on failure.
    #[arg(long, requires = "command")]
    pub(crate) exec: bool,

    /// The command --exec runs, e.g. `-- llama stack run /opt/llama-stack/config/run.yaml`.
    #[arg(last = true, value_name = "COMMAND", requires = "exec")]
    pub(crate) command: Vec<OsString>,

    /// On failure, also write a short summary to PATH, where Kubernetes reads a container's
    /// termination message (/dev/termination-log). The only file preflight ever writes.
    #[arg(long, value_name = "PATH")]
    pub(crate) termination_log: Option<PathBuf>,

    /// Log what preflight does to stderr (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn both_spellings_of_run_yaml_are_accepted() {
        for args in [
            ["llama-stack", "preflight", "--run-yaml=a.yaml"].as_slice(),
            ["llama-stack", "preflight", "--run-yaml", "a.yaml"].as_slice(),
        ] {
            let Command::Preflight(parsed) = Cli::try_parse_from(args).unwrap().command;
            assert_eq!(parsed.run_yaml, PathBuf::from("a.yaml"));
            assert_eq!(parsed.timeout, DEFAULT_TIMEOUT_SECS);
        }
    }
}
