//! The command line: `llama-stack preflight --run-yaml <PATH> [options]`, its
//! `llama-stack preflight explain CODE` (so that `ogx-preflight explain CODE`
//! works too), the pre-commit hook's `llama-stack pre-commit <RUN_YAML>...`,
//! and the generated `completions` and `man` (see [`generated`]).
//!
//! The doc comments below are the `--help` text.

pub(crate) mod generated;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::environment::{self, Assignment};
use crate::import::DEFAULT_TIMEOUT_SECS;
use crate::report::Format;

/// Command lines shown by `preflight --help` and the man page.
pub(crate) const PREFLIGHT_EXAMPLES: &str =
    "  llama-stack preflight --run-yaml=/opt/llama-stack/config/run.yaml
  llama-stack preflight --run-yaml run.yaml --python .venv/bin/python
  llama-stack preflight --run-yaml run.yaml --format json | jq .errors
  llama-stack preflight --run-yaml run.yaml --keep-going --deny-warnings --format github
  llama-stack preflight --run-yaml run.yaml --ignore-environment --env-file pod.env --print-config
  llama-stack preflight --run-yaml=run.yaml --exec -- llama stack run run.yaml
  ogx-preflight --run-yaml=config.yaml --exec -- ogx run config.yaml
  llama-stack preflight explain probe::timeout";

/// The exit codes, in `preflight --help` and the man page.
pub(crate) const EXIT_CODES: &str =
    "Exit codes: 0 all providers valid, 1 validation failed, 2 invalid invocation.";

fn preflight_after_help() -> String {
    format!("Examples:\n{PREFLIGHT_EXAMPLES}\n\n{EXIT_CODES}")
}

/// Checks a llama-stack (or ogx) run.yaml before the server starts.
#[derive(Debug, Parser)]
#[command(name = "llama-stack", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

const PRE_COMMIT_EXAMPLES: &str = "\
Examples:
  llama-stack pre-commit deploy/run.yaml dev/run.yaml
  llama-stack pre-commit --python .venv/bin/python $(git ls-files '*run.yaml')

Each file gets its own report under a `==> PATH <==` heading. The exit code is the worst
of them: 0 all valid, 1 a file failed validation, 2 invalid invocation.";

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate that every provider in run.yaml will load, without starting the server.
    #[command(
        after_help = preflight_after_help(),
        args_conflicts_with_subcommands = true,
        disable_help_subcommand = true,
        subcommand_value_name = "SUBCOMMAND",
        subcommand_negates_reqs = true
    )]
    Preflight(PreflightArgs),

    /// Validate several run.yaml files one after another (the pre-commit hook runs this).
    #[command(after_help = PRE_COMMIT_EXAMPLES)]
    PreCommit(PreCommitArgs),

    /// Print the completion script for SHELL to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page of `llama-stack preflight` (roff) to stdout.
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct PreflightArgs {
    #[command(subcommand)]
    pub(crate) explain: Option<PreflightCommand>,

    /// The run.yaml the server will be started with.
    #[arg(long = "run-yaml", value_name = "PATH", required = true)]
    pub(crate) run_yaml: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) check: CheckArgs,

    /// Output format: the text report, one JSON document (schema/report.schema.json), or
    /// GitHub Actions annotations on run.yaml's lines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Also print the configuration the server will read: run.yaml after ${env.X}
    /// substitution and with disabled entries dropped, secrets redacted. With text, that YAML
    /// goes to stdout and the report to stderr; with JSON, it is the document's
    /// `effective_config`. The checks run as usual and decide the exit code.
    #[arg(long)]
    pub(crate) print_config: bool,

    /// After a successful check, replace preflight with COMMAND (given after `--`): same PID,
    /// signals go straight to the server, the exit code is the server's. Never run on failure.
    #[arg(long, requires = "command")]
    pub(crate) exec: bool,

    /// The command --exec runs, e.g. `-- llama stack run /opt/llama-stack/config/run.yaml` or
    /// `-- ogx run config.yaml` (whose TLS requirement preflight then checks exactly).
    #[arg(last = true, value_name = "COMMAND", requires = "exec")]
    pub(crate) command: Vec<OsString>,

    /// On failure, also write a short summary to PATH, where Kubernetes reads a container's
    /// termination message (/dev/termination-log). The only file preflight ever writes.
    #[arg(long, value_name = "PATH")]
    pub(crate) termination_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PreflightCommand {
    /// Explain a diagnostic code (a report's `Code:` line): what it means, what the server
    /// says, an example and the fix.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
}

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  llama-stack preflight explain preflight::import::module_not_found
  ogx-preflight explain probe::timeout
  llama-stack preflight explain --list

Exit codes: 0 the code is known, 2 it is not (the nearest codes are suggested).";

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The code, with or without its `preflight::` prefix.
    #[arg(value_name = "CODE", required_unless_present = "list")]
    pub(crate) code: Option<String>,

    /// List every code with the first line of its page.
    #[arg(long, conflicts_with = "code")]
    pub(crate) list: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PreCommitArgs {
    /// The run.yaml files to check (pre-commit passes the changed ones).
    #[arg(value_name = "RUN_YAML", required = true)]
    pub(crate) run_yamls: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) check: CheckArgs,
}

/// How each run.yaml is checked: the options `preflight` and `pre-commit` share.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
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

    /// How many providers are checked at once, each in its own fork of the warm interpreter.
    /// Fresh interpreters (--no-fork, or forking unsafe) run one at a time. The report is the
    /// same whatever N is. Default: the CPUs preflight may use (its affinity and cgroup
    /// quota), at most 4.
    #[arg(long, short = 'j', value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: Option<u16>,

    /// Time limit for each provider's check, in seconds (the interpreter query gets at least 15).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,

    /// Check every provider even after one fails, and report every failure in file order
    /// (exit 1 if any). Default: stop at the first failure.
    #[arg(long)]
    pub(crate) keep_going: bool,

    /// Fail the run (exit 1) when there is any warning.
    #[arg(long)]
    pub(crate) deny_warnings: bool,

    /// Read the server's environment variables from PATH (KEY=VALUE lines, dotenv or
    /// Kubernetes env-file form), over the process environment. Repeatable; later files win.
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Vec<PathBuf>,

    /// Set one of the server's environment variables, over the process environment and
    /// every --env-file. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = environment::parse_assignment)]
    pub(crate) env: Vec<Assignment>,

    /// Start the server's environment empty (but for PATH and HOME, which a container always
    /// has) instead of from the process environment; --env-file and --env fill it.
    #[arg(long)]
    pub(crate) ignore_environment: bool,

    /// Log what preflight does to stderr (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// The most forked checks run at once by default: past this, the start-up
/// imports every check repeats cost more memory than they save time.
const MAX_DEFAULT_JOBS: usize = 4;

impl CheckArgs {
    /// How many forked checks run at once: `--jobs`, else the CPUs this
    /// process may use, up to [`MAX_DEFAULT_JOBS`].
    pub(crate) fn jobs(&self) -> usize {
        match self.jobs {
            Some(jobs) => usize::from(jobs),
            None => std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .min(MAX_DEFAULT_JOBS),
        }
    }
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
            let Command::Preflight(parsed) = Cli::try_parse_from(args).unwrap().command else {
                panic!("not the preflight command");
            };
            assert_eq!(parsed.run_yaml, Some(PathBuf::from("a.yaml")));
            assert_eq!(parsed.check.timeout, DEFAULT_TIMEOUT_SECS);
        }
    }

    #[test]
    fn pre_commit_takes_the_files_after_the_shared_options() {
        let args = [
            "llama-stack",
            "pre-commit",
            "--python",
            "py",
            "a/run.yaml",
            "b/run.yaml",
        ];
        let Command::PreCommit(parsed) = Cli::try_parse_from(args).unwrap().command else {
            panic!("not the pre-commit command");
        };
        assert_eq!(
            parsed.run_yamls,
            [PathBuf::from("a/run.yaml"), PathBuf::from("b/run.yaml")]
        );
        assert_eq!(parsed.check.python, Some(PathBuf::from("py")));
    }

    #[test]
    fn explain_is_a_command_of_preflight_without_its_options() {
        let args = ["llama-stack", "preflight", "explain", "probe::timeout"];
        let Command::Preflight(parsed) = Cli::try_parse_from(args).unwrap().command else {
            panic!("not the preflight command");
        };
        let Some(PreflightCommand::Explain(explain)) = parsed.explain else {
            panic!("not explain");
        };
        assert_eq!(explain.code.as_deref(), Some("probe::timeout"));
        let err = Cli::try_parse_from(["llama-stack", "preflight", "--run-yaml=a", "explain", "x"])
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = Cli::try_parse_from(["llama-stack", "preflight"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn pre_commit_needs_a_file() {
        let err = Cli::try_parse_from(["llama-stack", "pre-commit"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
