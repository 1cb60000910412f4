//! Under ogx, checking never moves the user's `~/.llama` to `~/.ogx`, which
//! the `ogx` command does when it starts (`migrate_legacy_config_dir`):
//! preflight imports nothing of that command and writes nothing.

use std::fs;
use std::process::Command;

use crate::support::{cached, repo, scratch_dir};

#[test]
fn checking_under_ogx_leaves_the_legacy_llama_directory_alone() {
    let python = cached("PREFLIGHT_PY_OGX15", "venvs/ogx-1.5.0/bin/python");
    let home = scratch_dir("ogx-home");
    #[allow(clippy::disallowed_methods)] // the fake home's own content
    {
        fs::create_dir_all(home.join(".llama/distributions")).expect("legacy dir");
        fs::write(home.join(".llama/distributions/marker"), "kept").expect("marker");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args([
            "preflight",
            "--run-yaml",
            "testdata/real/ogx_valid_in_tree/run.yaml",
            "--python",
        ])
        .arg(&python)
        .current_dir(repo())
        .env("HOME", &home)
        .env_remove("OGX_CONFIG_DIR")
        .output()
        .expect("preflight runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let left: Vec<_> = fs::read_dir(&home)
        .expect("home")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [".llama"]);
    assert_eq!(
        fs::read_to_string(home.join(".llama/distributions/marker"))
            .ok()
            .as_deref(),
        Some("kept")
    );
    #[allow(clippy::disallowed_methods)]
    let _ = fs::remove_dir_all(&home);
}
