//! Runs every `tests/cmd/*.toml` case against the built binary.
//!
//! The fixture providers in `testdata/providers` are built against the real
//! `llama_stack_api`, so the cases need the llama-stack 0.7.3 virtualenv that
//! `scripts/setup-test-envs` builds. Its location comes from
//! `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path. The
//! cases select it through `VIRTUAL_ENV`, the way an operator's shell would.

use std::path::Path;

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

#[test]
fn golden_cases() {
    let venv = test_virtualenv();
    let root = repo().display().to_string();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("llama-stack", trycmd::cargo::cargo_bin("llama-stack"))
        .env("VIRTUAL_ENV", venv.display().to_string())
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("PYTHONPATH", format!("{root}/testdata/providers"))
        .insert_var("[VENV]", venv.display().to_string())
        .expect("valid variable")
        .insert_var("[PYVERSION]", python_version(&venv))
        .expect("valid variable")
        .insert_var("[REPO]", root)
        .expect("valid variable");
    cases.case("tests/cmd/*.toml");
}
