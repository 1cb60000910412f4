//! Runs every `tests/cmd/*.toml` case against the built binary, and the
//! native-code cases of `tests/cmd/native/`, each with the fixture
//! environment [`native_fixtures`] builds for it.
//!
//! The fixture providers in `testdata/providers` are built against the real
//! `llama_stack_api`, so the cases need the llama-stack 0.7.3 virtualenv that
//! `scripts/setup-test-envs` builds. Its location comes from
//! `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path. The
//! cases select it through `VIRTUAL_ENV`, the way an operator's shell would.

use std::path::Path;

use crate::native_fixtures;
use crate::support::{repo, test_virtualenv};

fn python_version(venv: &Path) -> String {
    let output = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .expect("the test interpreter runs");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// Golden cases run with `pythonpath`, the test virtualenv and the usual
/// substitutions (`[VENV]`, `[PYVERSION]`, `[REPO]`).
fn cases(pythonpath: &str) -> trycmd::TestCases {
    let venv = test_virtualenv();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("llama-stack", trycmd::cargo::cargo_bin("llama-stack"))
        .env("VIRTUAL_ENV", venv.display().to_string())
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("PYTHONPATH", pythonpath)
        .insert_var("[VENV]", venv.display().to_string())
        .expect("valid variable")
        .insert_var("[PYVERSION]", python_version(&venv))
        .expect("valid variable")
        .insert_var("[REPO]", repo().display().to_string())
        .expect("valid variable");
    cases
}

#[test]
fn golden_cases() {
    let root = repo().display().to_string();
    cases(&format!("{root}/testdata/providers")).case("tests/cmd/*.toml");
}

#[test]
fn native_golden_cases() {
    let fixtures = native_fixtures::Fixtures::build(&test_virtualenv());
    for (case, pythonpath) in fixtures.cases() {
        let runner = cases(&pythonpath);
        runner
            .insert_var("[FIXTURES]", fixtures.root().display().to_string())
            .expect("valid variable")
            .case(format!("tests/cmd/native/{case}.toml"));
        runner.run();
    }
}
