//! `llama-stack preflight`: predicts, before the llama-stack server starts,
//! whether every provider in a run.yaml will load, and if not, says which
//! provider, which package, what went wrong and how to fix it.
//!
//! Data flow: cli → config → interpreter → native → probe (import, spec
//! retrieval) → spec → report. `main` only parses the command line, sets up logging, runs
//! the pipeline and hands its exit code back; nothing else ends the process.

mod cli;
mod config;
mod cross_provider;
mod diagnostics;
mod files;
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
mod spec;
mod subprocess;

use std::env;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::env::Environment;
use crate::interpreter::{SelectionEnv, VIRTUAL_ENV};

/// Disables colour on a terminal (<https://no-color.org>).
const NO_COLOR: &str = "NO_COLOR";

/// The real process environment, for `${env.X}` substitution.
struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        env::var(name).ok()
    }
}

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
    let Command::Preflight(args) = cli.command;
    init_tracing(args.verbose);
    let selection = SelectionEnv {
        virtual_env: env::var_os(VIRTUAL_ENV),
        path: env::var_os("PATH"),
        cwd: env::current_dir().unwrap_or_default(),
    };
    let options = pipeline::Options {
        run_yaml: args.run_yaml,
        python: args.python,
        timeout: Duration::from_secs(args.timeout),
        allow_writes: args.allow_writes,
        fork: !args.no_fork,
        check_config: args.check_config,
        metadata_dir: args.metadata_dir.or_else(|| {
            let default = PathBuf::from(metadata::DEFAULT_METADATA_DIR);
            default.is_dir().then_some(default)
        }),
    };
    let result = pipeline::run(&options, &selection, &ProcessEnvironment);
    let (driver_kib, probe_kib) = subprocess::peak_memory_kib();
    tracing::info!(driver_kib, probe_kib, "peak resident memory");
    let color =
        std::io::stdout().is_terminal() && env::var_os(NO_COLOR).is_none_or(|v| v.is_empty());
    let code = report::emit(&result, args.format, color);
    if code != report::exit::SUCCESS {
        if let Some(path) = &args.termination_log {
            report::write_termination_log(path, &result);
        }
        return ExitCode::from(code);
    }
    if args.exec {
        return report::exec(&args.command);
    }
    ExitCode::from(code)
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
