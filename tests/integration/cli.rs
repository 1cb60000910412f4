//! Runs every `tests/cmd/*.toml` case against the built binary, and proves
//! that the whole corpus, hostile providers and bad inputs included, changes
//! no file and leaves no process behind; then the native-code cases of
//! `tests/cmd/native/`, each with the fixture environment [`native_fixtures`]
//! builds for it.
//!
//! The fixture providers in `testdata/providers` are built against the real
//! `llama_stack_api`, so the cases need the llama-stack 0.7.3 virtualenv that
//! `scripts/setup-test-envs` builds. Its location comes from
//! `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path. The
//! cases select it through `VIRTUAL_ENV`, the way an operator's shell would.
//!
//! Around the run, the test snapshots the repository (content hashes; the
//! working directory of every case, `testdata` included), the virtualenv
//! (metadata of every file), a fresh directory that is every case's `HOME`
//! and `TMPDIR` (content), and the top level of the real `$HOME` (minus the
//! toolchains' own directories), and compares. Every case carries a marker
//! in its environment, which every process it starts inherits; none may be
//! left once the corpus has run.

use std::collections::BTreeMap;
use std::path::Path;

use crate::native_fixtures;
use crate::support::{
    Watch, changed_paths, processes_with_env, python_version, repo, scratch_dir, snapshot,
    test_virtualenv,
};

/// The variable that marks every process the corpus starts.
const MARKER: &str = "PREFLIGHT_TEST_MARKER";

/// Directories of the real home that the toolchains running beside the tests use.
const BUSY_IN_HOME: [&str; 7] = [
    ".cache", ".cargo", ".rustup", ".npm", ".claude", ".config", ".pyenv",
];

/// Where the hostile fixture that writes a file would write without the sandbox.
const FIXTURE_WRITE_TARGET: &str = "/tmp/pf-preflight-must-not-exist.txt";

#[test]
fn golden_cases_change_nothing_and_leave_no_process() {
    let venv = test_virtualenv();
    let root = repo().display().to_string();
    let home = scratch_dir("golden-home");
    let marker = home.display().to_string();
    let real_home = std::env::var_os("HOME").unwrap_or_default();
    let take = || {
        let mut all = BTreeMap::new();
        snapshot(repo(), Watch::Content, &["target", ".git"], &mut all);
        snapshot(&venv, Watch::Metadata, &[], &mut all);
        snapshot(&home, Watch::Content, &[], &mut all);
        snapshot(
            Path::new(&real_home),
            Watch::TopLevel,
            &BUSY_IN_HOME,
            &mut all,
        );
        all
    };
    let cases = cases(&format!("{root}/testdata/providers"), &home, &marker);
    cases.case("tests/cmd/*.toml");
    let before = take();
    cases.run();
    let after = take();
    let left = processes_with_env(MARKER, &marker);
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    let _ = std::fs::remove_dir_all(&home);
    assert!(left.is_empty(), "processes left running: {left:#?}");
    assert!(
        !Path::new(FIXTURE_WRITE_TARGET).exists(),
        "{FIXTURE_WRITE_TARGET} was written"
    );
    if std::env::var_os("TRYCMD").is_some() {
        return; // updating golden files changes tests/cmd on purpose
    }
    let changed = changed_paths(&before, &after);
    assert!(
        changed.is_empty(),
        "files changed by the corpus: {changed:#?}"
    );
    assert!(
        before.len() > 10_000,
        "the snapshot saw only {} paths",
        before.len()
    );
}

/// Golden cases run with `pythonpath`, the test virtualenv, `home` as their
/// `HOME` and `TMPDIR`, `marker` in their environment, and the usual
/// substitutions (`[VENV]`, `[PYVERSION]`, `[REPO]`).
fn cases(pythonpath: &str, home: &Path, marker: &str) -> trycmd::TestCases {
    let venv = test_virtualenv();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("llama-stack", trycmd::cargo::cargo_bin("llama-stack"))
        .env("VIRTUAL_ENV", venv.display().to_string())
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("PYTHONPATH", pythonpath)
        .env("HOME", home.display().to_string())
        .env("TMPDIR", home.display().to_string())
        // Only preflight's own -B may keep bytecode off the disk.
        .env("PYTHONDONTWRITEBYTECODE", "")
        .env(MARKER, marker)
        .insert_var("[VENV]", venv.display().to_string())
        .expect("valid variable")
        .insert_var("[PYVERSION]", python_version(&venv))
        .expect("valid variable")
        .insert_var("[REPO]", repo().display().to_string())
        .expect("valid variable");
    cases
}

#[test]
fn native_golden_cases() {
    let fixtures = native_fixtures::Fixtures::build(&test_virtualenv());
    let home = scratch_dir("native-home");
    let marker = home.display().to_string();
    for (case, pythonpath) in fixtures.cases() {
        let runner = cases(&pythonpath, &home, &marker);
        runner
            .insert_var("[FIXTURES]", fixtures.root().display().to_string())
            .expect("valid variable")
            .case(format!("tests/cmd/native/{case}.toml"));
        runner.run();
    }
    let left = processes_with_env(MARKER, &marker);
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    let _ = std::fs::remove_dir_all(&home);
    assert!(left.is_empty(), "processes left running: {left:#?}");
}
