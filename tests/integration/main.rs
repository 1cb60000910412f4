//! The single integration-test binary.
//!
//! Modules:
//! - `cli`: golden cases in `tests/cmd/*.toml`, each a command line with its
//!   environment, expected exit code and exact stdout and stderr (trycmd);
//!   the whole corpus changes no file, reaches no listener and leaves no
//!   process behind, with the sandbox's kernel layer and without it.
//! - `bad_input`: inputs made at run time (a FIFO, a 100 MB file, a symlink
//!   loop, an unreadable file), each with its exit code and exact message.
//! - `codes`: every diagnostic code is declared once and has its page in
//!   `docs/codes/`, whose example a golden file holds; `explain` prints each.
//! - `links`: the relative links and anchors of README.md and `docs/` resolve.
//! - `exec`: `--exec` keeps the PID and exit code; failures never run the command.
//! - `native_fixtures`: the environments of the native-code golden cases, built
//!   at test time from `testdata/native` and the cached foreign wheels.
//! - `ogx_home`: under ogx, checking leaves `~/.llama` where it is.
//! - `pre_commit`: the repository's pre-commit hooks, run by the real
//!   pre-commit in a throwaway git repository.
//! - `progress`: the progress line on a pseudo-terminal.
//! - `schema`: real JSON reports validate against `schema/report.schema.json`.
//! - `sandbox`: which layers of the probes' sandbox were in force, and that
//!   `--allow-writes` relaxes the filesystem part only.
//! - `real_server`: preflight against real llama-stack and ogx releases and
//!   provider packages, each verdict checked against the real server.
//! - `support`: paths to the repository and the test environments, scratch
//!   directories.

mod bad_input;
mod cli;
mod codes;
mod exec;
mod links;
mod native_fixtures;
mod ogx_home;
mod pre_commit;
mod progress;
mod real_server;
mod sandbox;
mod schema;
mod support;
