//! `llama-stack preflight`: predicts, before the llama-stack server starts,
//! whether every provider in a run.yaml will load, and if not, says which
//! provider, which package, what went wrong and how to fix it.
//!
//! Data flow: cli → config → interpreter → native → probe (import, spec
//! retrieval) → spec → report. `main` only parses the command line, sets up
//! logging, runs the pipeline (once per run.yaml) and hands its exit code back;
//! nothing else ends the process.

mod cli;
mod config;
mod cross_provider;
mod diagnostics;
mod effective_config;
mod environment;
mod explain;
mod files;
mod flavour;
#[cfg(test)]
mod fuzzing;
mod import;
mod installed;
mod interpreter;
mod metadata;
mod native;
mod pipeline;
mod probe;
mod report;
mod results;
mod sandbox;
mod spec;
mod stack_config;
mod subprocess;

use std::env;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use crate::cli::{
    CheckArgs, Cli, Command, ExplainArgs, PreCommitArgs, PreflightArgs, PreflightCommand, generated,
};
use crate::diagnostics::Failure;
use crate::environment::{Layers, ServerEnvironment};
use crate::interpreter::{SelectionEnv, VIRTUAL_ENV};
use crate::report::Format;
use crate::report::progress::{self, Progress};
use crate::results::PreflightResult;

/// Disables colour on a terminal (<https://no-color.org>).
const NO_COLOR: &str = "NO_COLOR";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap exits 0 for --help/--version and 2 for usage errors, as documented.
            let _ = err.print();
            return ExitCode::from(
                u8::try_from(err.exit_code()).unwrap_or(report::exit::INVALID_INVOCATION),
            );
        }
    };
    match cli.command {
        Command::Preflight(mut args) => match args.explain.take() {
            Some(PreflightCommand::Explain(explain)) => explain_code(&explain),
            None => preflight(args),
        },
        Command::PreCommit(args) => pre_commit(args),
        Command::Completions { shell } => print_generated(Ok(generated::completions(shell))),
        Command::Man => print_generated(generated::man_page()),
    }
}

/// `llama-stack preflight`: one run.yaml, then `--exec` or the exit code.
fn preflight(args: PreflightArgs) -> ExitCode {
    if args.print_config && args.format == Format::Github {
        let mut cli = Cli::command();
        cli.build();
        let preflight = cli
            .find_subcommand_mut("preflight")
            .expect("preflight is a subcommand");
        let err = preflight.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--print-config prints YAML (--format text) or a JSON field (--format json); GitHub annotations have no place for it",
        );
        let _ = err.print();
        return ExitCode::from(report::exit::INVALID_INVOCATION);
    }
    // clap requires --run-yaml whenever `explain` is not given.
    let Some(run_yaml) = args.run_yaml.clone() else {
        let _ = writeln!(
            std::io::stderr(),
            "llama-stack preflight: --run-yaml <PATH> is required"
        );
        return ExitCode::from(report::exit::INVALID_INVOCATION);
    };
    init_tracing(args.check.verbose);
    let server_command = args.exec.then(|| args.command.clone());
    let (result, environment) = check(
        &args.check,
        run_yaml,
        args.format,
        server_command,
        args.print_config,
    );
    // With --print-config, text goes to stderr; colour follows where it goes.
    let color = if args.print_config && result.effective_config.is_some() {
        wants_color(std::io::stderr().is_terminal())
    } else {
        wants_color(std::io::stdout().is_terminal())
    };
    let code = report::emit(&result, args.format, color);
    if code != report::exit::SUCCESS {
        if let Some(path) = &args.termination_log {
            report::write_termination_log(path, &result);
        }
        return ExitCode::from(code);
    }
    if args.exec {
        return report::exec(&args.command, &environment);
    }
    ExitCode::from(code)
}

/// `llama-stack preflight explain`: the page of a code, or every code with
/// its summary; an unknown code is an invalid invocation.
fn explain_code(args: &ExplainArgs) -> ExitCode {
    let text = match (&args.code, args.list) {
        (Some(code), false) => match explain::page(code) {
            Ok(page) => page.to_string(),
            Err(err) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "llama-stack preflight explain: {err}\n`llama-stack preflight explain --list` lists every code."
                );
                return ExitCode::from(report::exit::INVALID_INVOCATION);
            }
        },
        _ => explain::list(),
    };
    report::write_stdout(text.as_bytes());
    ExitCode::SUCCESS
}

/// `llama-stack pre-commit`: every file is checked, and the worst exit code
/// wins (an invalid invocation over a failed validation).
fn pre_commit(args: PreCommitArgs) -> ExitCode {
    init_tracing(args.check.verbose);
    let mut worst = report::exit::SUCCESS;
    for (index, run_yaml) in args.run_yamls.into_iter().enumerate() {
        report::write_stdout(report::heading(&run_yaml, index == 0).as_bytes());
        let (result, _) = check(&args.check, run_yaml, Format::Text, None, false);
        let color = wants_color(std::io::stdout().is_terminal());
        worst = worst.max(report::emit(&result, Format::Text, color));
    }
    ExitCode::from(worst)
}

/// Runs every phase for one run.yaml, with the progress line when it is
/// wanted; `server_command` is the command that will start the server. Also
/// returns the server's environment the checks ran with.
fn check(
    args: &CheckArgs,
    run_yaml: PathBuf,
    format: Format,
    server_command: Option<Vec<OsString>>,
    print_config: bool,
) -> (PreflightResult, ServerEnvironment) {
    let layers = Layers {
        ignore_process: args.ignore_environment,
        files: args.env_file.clone(),
        assignments: args.env.clone(),
    };
    let environment = match ServerEnvironment::layered(env::vars_os(), &layers) {
        Ok(environment) => environment,
        Err(err) => {
            let failed = PreflightResult::new(run_yaml).failed(Failure::new(None, err));
            return (failed, ServerEnvironment::default());
        }
    };
    let selection = SelectionEnv {
        virtual_env: env::var_os(VIRTUAL_ENV),
        path: env::var_os("PATH"),
        cwd: env::current_dir().unwrap_or_default(),
    };
    let options = pipeline::Options {
        run_yaml,
        python: args.python.clone(),
        timeout: Duration::from_secs(args.timeout),
        allow_writes: args.allow_writes,
        fork: !args.no_fork,
        jobs: args.jobs(),
        kernel_sandbox: env::var_os(sandbox::KERNEL_SANDBOX_SWITCH)
            .is_none_or(|value| value != "off"),
        check_config: args.check_config,
        server_command,
        keep_going: args.keep_going,
        deny_warnings: args.deny_warnings,
        print_config,
        metadata_dir: args.metadata_dir.clone().or_else(|| {
            let default = PathBuf::from(metadata::DEFAULT_METADATA_DIR);
            default.is_dir().then_some(default)
        }),
    };
    let progress = Progress::start(progress::wanted(
        std::io::stderr().is_terminal(),
        format,
        args.verbose,
        env::var_os("TERM").as_deref(),
    ));
    let result = pipeline::run(&options, &selection, &environment, &|step| {
        progress.show(step);
    });
    progress.finish();
    let (driver_kib, probe_kib) = subprocess::peak_memory_kib();
    tracing::info!(driver_kib, probe_kib, "peak resident memory");
    (result, environment)
}

/// Colour only for a person at a terminal (`terminal`: where the report
/// goes is one) who has not opted out.
fn wants_color(terminal: bool) -> bool {
    terminal && env::var_os(NO_COLOR).is_none_or(|v| v.is_empty())
}

/// Prints a completion script or the man page.
fn print_generated(generated: std::io::Result<Vec<u8>>) -> ExitCode {
    match generated {
        Ok(bytes) => {
            report::write_stdout(&bytes);
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "llama-stack: {err}");
            ExitCode::from(report::exit::VALIDATION_FAILED)
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
