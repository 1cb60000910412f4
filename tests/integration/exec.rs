//! `--exec` hands the process to the server only after a successful check,
//! keeping the PID and the exit code, and outside the probes' sandbox;
//! `--termination-log` records a failure. `ogx-preflight` is
//! `llama-stack preflight`, in the same process.

use std::fs;
use std::process::{Command, Stdio};

use crate::support::{repo, test_virtualenv};

fn preflight(run_yaml: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llama-stack"));
    command.arg("preflight");
    with_run_yaml(command, run_yaml, extra)
}

fn with_run_yaml(mut command: Command, run_yaml: &str, extra: &[&str]) -> Command {
    command
        .args(["--run-yaml", run_yaml])
        .args(extra)
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .stdout(Stdio::piped());
    command
}

#[test]
fn a_passing_check_becomes_the_command_with_the_same_pid_and_exit_code() {
    let child = preflight(
        "testdata/runs/metadata.yaml",
        &["--exec", "--", "sh", "-c", "echo server-pid=$$; exit 7"],
    )
    .spawn()
    .expect("the binary runs");
    let pid = child.id();
    let output = child.wait_with_output().expect("it ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(7), "{stdout}");
    assert!(
        stdout.contains("All providers validated successfully"),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!("server-pid={pid}\n")), "{stdout}");
}

#[test]
fn the_command_runs_outside_the_sandbox_of_the_checks() {
    let scratch = std::env::temp_dir().join(format!("preflight-exec-free-{}", std::process::id()));
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    fs::create_dir_all(&scratch).expect("scratch dir");
    let written = scratch.join("written-by-the-server");
    let server = format!(
        "echo written > '{}' && readlink /proc/self/ns/net",
        written.display()
    );
    let output = preflight(
        "testdata/runs/metadata.yaml",
        &["--exec", "--", "sh", "-c", &server],
    )
    .output()
    .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let was_written = written.exists();
    #[allow(clippy::disallowed_methods)]
    let _ = fs::remove_dir_all(&scratch);
    let ours = fs::read_link("/proc/self/ns/net").expect("our network namespace");
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(was_written, "the server could not write: {stdout}");
    assert!(
        stdout.ends_with(&format!("{}\n", ours.display())),
        "the server is in another network namespace: {stdout}"
    );
}

#[test]
fn ogx_preflight_is_the_same_check_and_hands_the_same_process_over() {
    let child = with_run_yaml(
        Command::new(env!("CARGO_BIN_EXE_ogx-preflight")),
        "testdata/runs/metadata.yaml",
        &["--exec", "--", "sh", "-c", "echo server-pid=$$; exit 7"],
    )
    .spawn()
    .expect("the binary runs");
    let pid = child.id();
    let output = child.wait_with_output().expect("it ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(7), "{stdout}");
    assert!(
        stdout.contains("All providers validated successfully"),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!("server-pid={pid}\n")), "{stdout}");
    let failed = with_run_yaml(
        Command::new(env!("CARGO_BIN_EXE_ogx-preflight")),
        "testdata/runs/module_not_found.yaml",
        &[],
    )
    .output()
    .expect("the binary runs");
    assert_eq!(failed.status.code(), Some(1));
}

#[test]
fn a_failing_check_never_runs_the_command_and_writes_the_termination_log() {
    let scratch = std::env::temp_dir().join(format!("preflight-exec-{}", std::process::id()));
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    fs::create_dir_all(&scratch).expect("scratch dir");
    let log = scratch.join("termination-log");
    let output = preflight(
        "testdata/runs/module_not_found.yaml",
        &[
            "--termination-log",
            log.to_str().unwrap(),
            "--exec",
            "--",
            "sh",
            "-c",
            "echo the-server-ran",
        ],
    )
    .output()
    .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let written = fs::read_to_string(&log).unwrap_or_default();
    #[allow(clippy::disallowed_methods)]
    let _ = fs::remove_dir_all(&scratch);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("the-server-ran"), "{stdout}");
    assert_eq!(
        written,
        "llama-stack preflight: Module not found\n\
         Provider: custom-vllm (custom_vllm_provider)\n\
         Resolution: Ensure provider packages are installed and PYTHONPATH is set correctly. Install the distribution that provides the import name 'custom_vllm_provider' (pip install it, or put its --target directory on PYTHONPATH).\n\
         Code: preflight::import::module_not_found\n"
    );
}
