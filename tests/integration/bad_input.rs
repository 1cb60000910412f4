//! Inputs that cannot be committed, made at run time in a scratch directory:
//! a 100 MB run.yaml, a FIFO, a symlink loop, an unreadable file, the same
//! family in place of metadata files, a FIFO nobody reads as the
//! `--termination-log`, and file names with escape sequences and newlines.
//! Each must end at once, with its exit code and its exact message; none may
//! make preflight wait, and no name may act on the terminal or forge a line.

// The scratch files are this test's own, in its own temporary directory.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{python_version, repo, scratch_dir, test_virtualenv};

/// A bound that only a hang can reach: these inputs are refused before any
/// Python starts, or with one interpreter query and one provider check.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Runs preflight with `args`, killing it if it reaches [`HANG_LIMIT`].
fn preflight(args: &[&str], configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llama-stack"));
    command
        .arg("preflight")
        .args(args)
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("the binary runs");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            panic!("preflight {args:?} hung");
        }
        thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn assert_outcome(output: &Output, code: i32, stdout: &str) {
    let actual = String::from_utf8_lossy(&output.stdout);
    assert_eq!(actual, stdout);
    assert_eq!(output.status.code(), Some(code), "{actual}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

/// Makes a run.yaml with `make` in a scratch directory, runs preflight on it
/// (set up by `configure`) and checks that it is refused as unreadable for `reason`.
fn assert_unreadable(
    purpose: &str,
    make: impl FnOnce(&Path),
    configure: impl FnOnce(&mut Command),
    reason: &str,
) {
    let dir = scratch_dir(purpose);
    let path = dir.join("run.yaml");
    make(&path);
    let output = preflight(&["--run-yaml", path.to_str().unwrap()], configure);
    let _ = fs::remove_dir_all(&dir);
    let shown = path.display();
    assert_outcome(
        &output,
        2,
        &format!(
            "ERROR: Invalid invocation\n\nFile: {shown}\nReason: run.yaml cannot be read: {shown}: {reason}\n\nResolution: Pass a readable regular file with --run-yaml (not a directory, FIFO or device), and check its permissions.\nCode: preflight::config::unreadable\n"
        ),
    );
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success());
}

#[test]
fn a_100_mb_run_yaml_is_refused_after_a_bounded_read() {
    let dir = scratch_dir("bad-input-large");
    let path = dir.join("run.yaml");
    // Sparse: 100 MB of zeros that take no disk space.
    fs::File::create(&path)
        .and_then(|file| file.set_len(100_000_000))
        .expect("a large file");
    let output = preflight(&["--run-yaml", path.to_str().unwrap()], |_| {});
    let _ = fs::remove_dir_all(&dir);
    assert_outcome(
        &output,
        1,
        &format!(
            "ERROR: Configuration validation failed\n\nFile: {}\nReason: run.yaml is larger than 16777216 bytes: {}\n\nResolution: Pass the server's run.yaml; a real one is a few kilobytes.\nCode: preflight::config::too_large\n",
            path.display(),
            path.display()
        ),
    );
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    assert_unreadable(
        "bad-input-fifo",
        mkfifo,
        |_| {},
        "it is a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn a_symlink_loop_is_refused() {
    assert_unreadable(
        "bad-input-loop",
        |path| {
            let other = path.with_file_name("other.yaml");
            symlink(&other, path).expect("symlink");
            symlink(path, &other).expect("symlink");
        },
        |_| {},
        "Too many levels of symbolic links (os error 40)",
    );
}

/// A file without read permission. Root reads it anyway, so when the tests
/// run as root, preflight runs as the unprivileged `nobody` (65534) instead.
#[test]
fn an_unreadable_run_yaml_is_refused() {
    let running_as_root = fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    assert_unreadable(
        "bad-input-unreadable",
        |path| {
            fs::copy(repo().join("testdata/runs/all_valid.yaml"), path).expect("copy");
            fs::set_permissions(path, fs::Permissions::from_mode(0o000)).expect("chmod 000");
        },
        |command| {
            if running_as_root {
                command.uid(65534).gid(65534);
            }
        },
        "Permission denied (os error 13)",
    );
}

#[test]
fn a_fifo_and_a_huge_file_in_place_of_metadata_are_warnings() {
    let dir = scratch_dir("bad-input-metadata");
    let provider = dir.join("good");
    fs::create_dir_all(&provider).expect("metadata dir");
    let spec = provider.join("lls-provider-spec.yaml");
    mkfifo(&spec);
    let crd = provider.join("crd-config.yaml");
    fs::File::create(&crd)
        .and_then(|file| file.set_len(100_000_000))
        .expect("a large file");
    let output = preflight(
        &[
            "--run-yaml=testdata/runs/metadata.yaml",
            "--metadata-dir",
            dir.to_str().unwrap(),
        ],
        |_| {},
    );
    let _ = fs::remove_dir_all(&dir);
    let venv = test_virtualenv();
    assert_outcome(
        &output,
        0,
        &format!(
            "Interpreter: {}/bin/python (Python {}, llama-stack 0.7.3, from the active virtualenv (VIRTUAL_ENV))\n\
             PASS  eval/good  remote::pf_good  module pf_good\n\
             WARNING: Provider good: {}: it is a FIFO (named pipe), not a regular file; metadata comparison skipped for this file\n\
             WARNING: Provider good: {}: it is larger than 1048576 bytes; metadata comparison skipped for this file\n\
             All providers validated successfully\n",
            venv.display(),
            python_version(&venv),
            spec.display(),
            crd.display()
        ),
    );
}

#[test]
fn a_termination_log_fifo_nobody_reads_is_refused_at_once() {
    let dir = scratch_dir("bad-input-termination-fifo");
    let log = dir.join("termination-log");
    mkfifo(&log);
    let output = preflight(
        &[
            "--run-yaml=testdata/runs/module_not_found.yaml",
            "--termination-log",
            log.to_str().unwrap(),
        ],
        |_| {},
    );
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "llama-stack preflight: cannot write --termination-log {}: No such device or address (os error 6)\n",
            log.display()
        )
    );
}

#[test]
fn provider_text_never_starts_a_line_of_the_termination_log() {
    let dir = scratch_dir("bad-input-termination-forged");
    let log = dir.join("termination-log");
    let output = preflight(
        &[
            "--run-yaml=testdata/runs/forges_failure.yaml",
            "--termination-log",
            log.to_str().unwrap(),
        ],
        |_| {},
    );
    let written = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        written,
        "llama-stack preflight: Importing pf_forges_failure.provider raised RuntimeError: boom\n\
         \x20 PASS  eval/forged  remote::forged  module forged\n\
         \x20 All providers validated successfully\n\
         \x20 Code: forged\\x85\\x7f\n\
         Provider: forges_failure (pf_forges_failure)\n\
         Resolution: Fix the error shown in the traceback: the server hits it when it imports the provider, before it starts.\n\
         Code: preflight::import::import_failed\n"
    );
}

/// A run.yaml named with an escape sequence, a bell and a newline.
#[test]
fn file_names_are_shown_inert_in_headings_and_reports() {
    let dir = scratch_dir("bad-input-file-name");
    let path = dir.join("run\x1b]0;pwned\x07\nPASS  x.yaml");
    fs::write(&path, "providers: [").expect("a run.yaml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_llama-stack"));
    let output = command
        .arg("pre-commit")
        .arg(&path)
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    let _ = fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let shown = format!("{}/run\\x1b]0;pwned\\x07\\x0aPASS  x.yaml", dir.display());
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with(&format!("==> {shown} <==\n")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("\nFile: {shown}\n")), "{stdout}");
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\x07'),
        "{stdout}"
    );
}
