//! The progress line on a real terminal: util-linux `script` gives preflight a
//! pseudo-terminal. The hanging fixture provider keeps a run going for the
//! whole `--timeout`, well past the second after which the line appears.
//! Without a terminal nothing is written to stderr, which every golden case
//! in `tests/cmd` checks.

use std::process::Command;

use crate::support::{repo, test_virtualenv};

/// Runs `preflight ARGS` on a pseudo-terminal; returns what the terminal got.
fn on_a_terminal(args: &str) -> String {
    let command = format!(
        "'{}' preflight --run-yaml testdata/runs/hang.yaml --timeout 2 {args}",
        env!("CARGO_BIN_EXE_llama-stack")
    );
    let output = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .output()
        .expect("util-linux script runs");
    let terminal = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{terminal}");
    terminal
}

#[test]
fn a_long_run_on_a_terminal_shows_the_provider_being_checked_then_erases_it() {
    let terminal = on_a_terminal("");
    let shown = terminal
        .find("\rchecking eval/hangs (1/2)…\x1b[K")
        .unwrap_or_else(|| panic!("no progress line in {terminal:?}"));
    let report = terminal
        .find("\r\x1b[KInterpreter: ")
        .unwrap_or_else(|| panic!("the line is not erased before the report in {terminal:?}"));
    assert!(shown < report, "{terminal:?}");
    assert!(!terminal[report..].contains("checking"), "{terminal:?}");
}

#[test]
fn json_on_a_terminal_has_no_progress_line() {
    let terminal = on_a_terminal("--format json");
    assert!(terminal.starts_with('{'), "{terminal:?}");
    assert!(!terminal.contains("checking"), "{terminal:?}");
}
