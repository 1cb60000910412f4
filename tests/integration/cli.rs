//! Runs every `tests/cmd/*.toml` case against the built binary, and proves
//! that the whole corpus, hostile providers and bad inputs included, changes
//! no file, makes no connection and leaves no process behind: once with the
//! kernel layer of the sandbox (and the cases of `tests/cmd/kernel/`, which
//! only it can hold: C calls, programs, child interpreters, `sitecustomize`),
//! once with the audit hook alone (`LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX=off`);
//! then the native-code cases of `tests/cmd/native/`, each with the fixture
//! environment [`native_fixtures`] builds for it.
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
//! toolchains' own directories), and compares; fixtures that write outside
//! those name `/tmp/pf-preflight-must-not-exist*` or
//! `/dev/shm/pf-preflight-must-not-exist*`, which must not exist afterwards.
//! A TCP listener and a UDP socket on 127.0.0.1, whose ports every case gets
//! (`PF_CONNECT_PORT`, `PF_UDP_PORT`) for the fixtures that connect, must see
//! nothing. Every case carries a marker in its environment, which every
//! process it starts inherits; none may be left once the corpus has run.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use crate::native_fixtures;
use crate::support::{
    Watch, changed_paths, processes_with_env, python_version, repo, sandbox_offers, scratch_dir,
    snapshot, test_virtualenv,
};

/// The variable that marks every process the corpus starts.
const MARKER: &str = "PREFLIGHT_TEST_MARKER";

/// Directories of the real home that the toolchains running beside the tests use.
const BUSY_IN_HOME: [&str; 7] = [
    ".cache", ".cargo", ".rustup", ".npm", ".claude", ".config", ".pyenv",
];

/// What the fixtures that write outside `HOME` and `TMPDIR` would create.
const FIXTURE_WRITE_TARGETS: [&str; 2] = ["/tmp", "/dev/shm"];
const FIXTURE_WRITE_PREFIX: &str = "pf-preflight-must-not-exist";

/// The layers the cases of `tests/cmd/kernel/` need: file writes and TCP
/// (Landlock), UDP (the network namespace).
const KERNEL_CASES_NEED: [&str; 3] = [
    "landlock_filesystem",
    "landlock_network",
    "network_namespace",
];

#[test]
fn golden_cases_change_nothing_and_leave_no_process() {
    let mut globs = vec!["tests/cmd/*.toml"];
    if sandbox_offers(&KERNEL_CASES_NEED) {
        globs.push("tests/cmd/kernel/*.toml");
    }
    run_corpus("golden-home", &globs, true);
}

#[test]
fn golden_cases_change_nothing_with_the_audit_hook_alone() {
    run_corpus("golden-home-no-kernel", &["tests/cmd/*.toml"], false);
}

/// Runs the cases `globs` name, with the kernel layer or without it, and
/// checks that they changed nothing, connected nowhere and left nothing.
fn run_corpus(purpose: &str, globs: &[&str], kernel: bool) {
    let venv = test_virtualenv();
    let root = repo().display().to_string();
    let home = scratch_dir(purpose);
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
    let listeners = Listeners::bind();
    let cases = cases(&format!("{root}/testdata/providers"), &home, &marker);
    listeners.announce(&cases);
    if !kernel {
        cases.env("LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX", "off");
    }
    for glob in globs {
        cases.case(glob);
    }
    let before = take();
    cases.run();
    let after = take();
    let left = processes_with_env(MARKER, &marker);
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    let _ = std::fs::remove_dir_all(&home);
    assert!(left.is_empty(), "processes left running: {left:#?}");
    let written = written_fixture_targets();
    assert!(written.is_empty(), "fixtures wrote {written:?}");
    listeners.assert_silent();
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

/// Files the fixtures that write outside `HOME` would have made.
fn written_fixture_targets() -> Vec<PathBuf> {
    FIXTURE_WRITE_TARGETS
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(FIXTURE_WRITE_PREFIX)
        })
        .map(|entry| entry.path())
        .collect()
}

/// A TCP listener and a UDP socket on 127.0.0.1 that no case may reach.
struct Listeners {
    tcp: TcpListener,
    udp: UdpSocket,
}

impl Listeners {
    fn bind() -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        tcp.set_nonblocking(true).expect("non-blocking");
        let udp = UdpSocket::bind("127.0.0.1:0").expect("a loopback UDP socket");
        udp.set_nonblocking(true).expect("non-blocking");
        Listeners { tcp, udp }
    }

    /// Gives every case the ports, for the fixtures that connect.
    fn announce(&self, cases: &trycmd::TestCases) {
        let port = |address: std::io::Result<std::net::SocketAddr>| {
            address.expect("a bound address").port().to_string()
        };
        cases
            .env("PF_CONNECT_PORT", port(self.tcp.local_addr()))
            .env("PF_UDP_PORT", port(self.udp.local_addr()));
    }

    fn assert_silent(&self) {
        match self.tcp.accept() {
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            other => panic!("the TCP listener saw a connection: {other:?}"),
        }
        let mut buffer = [0u8; 64];
        match self.udp.recv_from(&mut buffer) {
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            other => panic!("the UDP socket received a datagram: {other:?}"),
        }
    }
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
    assert_reading_is_bounded(&fixtures);
}

/// The extension of `huge_dynamic_segment` claims a 3 GiB dynamic segment in
/// a sparse file that long: reading its headers must cost what a normal
/// file's do, which the driver's peak memory (`-v`) shows.
fn assert_reading_is_bounded(fixtures: &native_fixtures::Fixtures) {
    let (_, pythonpath) = fixtures
        .cases()
        .find(|(case, _)| *case == "huge_dynamic_segment")
        .expect("the huge_dynamic_segment case");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args(["preflight", "--run-yaml=testdata/runs/native.yaml", "-v"])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let driver_kib: u64 = stderr
        .split("driver_kib=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        driver_kib < 256 * 1024,
        "the driver's peak memory was {driver_kib} KiB"
    );
}
