//! The real-world suite: does preflight's verdict predict whether the real
//! `llama stack run` serves?
//!
//! Each directory in `testdata/real/` holds a `run.yaml`, a `case.yaml` (which
//! environment, extra `PYTHONPATH` directories and variables, the expected
//! preflight exit code, and, where the server starts although the
//! configuration is wrong, the reason preflight must still fail it) and
//! `expected.stdout`, preflight's exact text. For every case the test runs
//! preflight, then starts the real server from the same environment in a
//! network namespace of its own, where only loopback exists (so a config that
//! names a real endpoint, like a shipped distribution's, reaches nothing), and
//! waits a bounded time for `/v1/health` to answer 200, asked from inside that
//! namespace. The server's exit code is not used: it exits 0 on some startup
//! failures. The server writes only into a temporary HOME and SQLITE_STORE_DIR.
//! Like an air-gapped image, it finds tiktoken's encoding pre-cached
//! (`TIKTOKEN_CACHE_DIR`): vector_io providers load it when they start.
//!
//! `PREFLIGHT_BLESS=1` rewrites `expected.stdout` from the actual output.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde::Deserialize;

use crate::support::{cached, repo, test_virtualenv};

/// How long the server may take to serve before the case counts it as failed.
const SERVER_READY_LIMIT: Duration = Duration::from_secs(90);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows; printed when it fails.
    description: String,
    /// `ls-0.7.3`, `ls-0.7.3-base` (providers only through PYTHONPATH) or `ls-0.6.1`.
    environment: String,
    /// Extra import directories: `deploy` (the --target install of the
    /// providers), `incompatible` (a provider written for llama-stack 0.2) or
    /// `drift` (mcp 2.x shadowing the 0.6.1 venv's mcp 1.x).
    #[serde(default)]
    pythonpath: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The run.yaml to use, relative to the repository, when it is not the
    /// case directory's own (the bundled example).
    run_yaml: Option<String>,
    /// A run.yaml that the environment's llama-stack ships, relative to its
    /// package directory (`distributions/starter/config.yaml`).
    shipped_run_yaml: Option<String>,
    /// Extra preflight options, e.g. `--check-config`.
    #[serde(default)]
    args: Vec<String>,
    /// A metadata directory inside the case directory, passed as --metadata-dir.
    metadata_dir: Option<String>,
    preflight_exit: i32,
    /// Set when the real server starts although the configuration is wrong.
    server_blind_spot: Option<String>,
    /// Set when the server fails only because an endpoint it connects to while
    /// it starts is unreachable: preflight never connects, so it passes.
    needs_network: Option<String>,
    /// Text the failing server's log must show: the fault it stops at, for
    /// cases about which of two faults is met first.
    server_reports: Option<String>,
}

/// The `llama_stack` package directory of a virtualenv.
fn llama_stack_package(venv: &Path) -> PathBuf {
    fs::read_dir(venv.join("lib"))
        .expect("the virtualenv's lib directory")
        .flatten()
        .map(|entry| entry.path().join("site-packages/llama_stack"))
        .find(|package| package.is_dir())
        .expect("llama_stack in the virtualenv")
}

fn cache_path(variable: &str) -> PathBuf {
    PathBuf::from(env::var_os(variable).unwrap_or_else(|| {
        panic!("{variable} is not set: run the suite through scripts/test, which builds the environments")
    }))
}

fn environment(name: &str) -> PathBuf {
    let python = match name {
        "ls-0.7.3" => return test_virtualenv(),
        "ls-0.7.3-base" => cache_path("PREFLIGHT_PY_073_BASE"),
        "ls-0.6.1" => cache_path("PREFLIGHT_PY_061"),
        other => panic!("unknown environment {other}"),
    };
    python
        .parent()
        .and_then(Path::parent)
        .expect("venv/bin/python")
        .to_path_buf()
}

fn pythonpath(entries: &[String]) -> String {
    entries
        .iter()
        .map(|entry| match entry.as_str() {
            "deploy" => cache_path("PREFLIGHT_DEPLOY_073"),
            "incompatible" => cache_path("PREFLIGHT_INCOMPATIBLE_073"),
            "drift" => cache_path("PREFLIGHT_DRIFT_061"),
            other => panic!("unknown pythonpath entry {other}"),
        })
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Asks `/v1/health` on 127.0.0.1 (argv[1] the port) until it answers 200
/// (exit 0), the server (argv[2] its pid) has ended, or argv[3] seconds have
/// passed (exit 1). Run inside the server's network namespace.
const WAIT_FOR_HEALTH: &str = r#"
import socket, sys, time
port, pid, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.settimeout(2)
            connection.sendall(b"GET /v1/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            if connection.recv(32).startswith(b"HTTP/1.1 200"):
                sys.exit(0)
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] in "ZX":
                sys.exit(1)
    except OSError:
        sys.exit(1)
    time.sleep(0.25)
sys.exit(1)
"#;

/// The network namespace a process is in, as `/proc` names it.
fn network_namespace(pid: &str) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

/// Starts the real server and reports whether it served, with its log tail.
fn server_serves(
    run_yaml: &Path,
    venv: &Path,
    pythonpath: &str,
    vars: &BTreeMap<String, String>,
) -> (bool, String) {
    let scratch = env::temp_dir().join(format!(
        "preflight-server-{}-{}",
        run_yaml
            .parent()
            .and_then(Path::file_name)
            .unwrap_or_default()
            .to_string_lossy(),
        std::process::id()
    ));
    #[allow(clippy::disallowed_methods)] // the server's own temporary state
    fs::create_dir_all(&scratch).expect("scratch dir");
    let log_path = scratch.join("server.log");
    #[allow(clippy::disallowed_methods)]
    let log = fs::File::create(&log_path).expect("log file");
    // Any port is free in a namespace of its own.
    let port = "8321";
    let mut child = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ])
        .arg(venv.join("bin/llama"))
        .args(["stack", "run"])
        .arg(run_yaml)
        .args(["--port", port])
        .current_dir(&scratch)
        .envs(vars)
        .env("PYTHONPATH", pythonpath)
        .env("HOME", &scratch)
        .env("SQLITE_STORE_DIR", &scratch)
        .env(
            "TIKTOKEN_CACHE_DIR",
            cached("PREFLIGHT_TIKTOKEN_CACHE", "tiktoken"),
        )
        .env_remove("VIRTUAL_ENV")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("unshare starts the real server");
    let pid = child.id().to_string();
    let ours = network_namespace("self");
    while network_namespace(&pid) == ours && child.try_wait().expect("wait").is_none() {
        thread::sleep(Duration::from_millis(10));
    }
    let served = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("--")
        .arg(venv.join("bin/python"))
        .args(["-c", WAIT_FOR_HEALTH, port, &pid])
        .arg(SERVER_READY_LIMIT.as_secs().to_string())
        .status()
        .is_ok_and(|status| status.success());
    // The server leads its own group: kill it with everything it started.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    #[allow(clippy::disallowed_methods)]
    let _ = fs::remove_dir_all(&scratch);
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    (
        served,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    )
}

fn redact(text: &str, venv: &Path) -> String {
    let version = Command::new(venv.join("bin/python"))
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    let mut text = text.replace(&format!("(Python {version},"), "(Python [PYVERSION],");
    let replacements = [
        (
            env::var("PREFLIGHT_DEPLOY_073").unwrap_or_default(),
            "[DEPLOY]",
        ),
        (
            env::var("PREFLIGHT_INCOMPATIBLE_073").unwrap_or_default(),
            "[INCOMPATIBLE]",
        ),
        (
            env::var("PREFLIGHT_DRIFT_061").unwrap_or_default(),
            "[DRIFT]",
        ),
        (venv.display().to_string(), "[VENV]"),
        (repo().display().to_string(), "[REPO]"),
    ];
    for (value, name) in replacements {
        if !value.is_empty() {
            text = text.replace(&value, name);
        }
    }
    text
}

fn run_case(name: &str) {
    let case_dir = repo().join("testdata/real").join(name);
    let case: Case = serde_yaml_ng::from_str(
        &fs::read_to_string(case_dir.join("case.yaml")).expect("case.yaml"),
    )
    .expect("case.yaml is valid");
    let venv = environment(&case.environment);
    let pythonpath = pythonpath(&case.pythonpath);
    let mut vars = case.env.clone();
    vars.insert(
        "CSOAI_DID_JSON".into(),
        repo().join("testdata/real/did.json").display().to_string(),
    );

    let run_yaml = match (&case.run_yaml, &case.shipped_run_yaml) {
        (Some(path), _) => repo().join(path),
        (None, Some(path)) => llama_stack_package(&venv).join(path),
        (None, None) => case_dir.join("run.yaml"),
    };
    let mut preflight = Command::new(env!("CARGO_BIN_EXE_llama-stack"));
    preflight
        .args(["preflight", "--run-yaml"])
        .arg(&run_yaml)
        .current_dir(repo())
        .envs(&vars)
        .env("VIRTUAL_ENV", &venv)
        .env("PYTHONPATH", &pythonpath)
        .env("NO_COLOR", "1");
    preflight.args(&case.args);
    if let Some(dir) = &case.metadata_dir {
        preflight.arg("--metadata-dir").arg(case_dir.join(dir));
    }
    let output = preflight.output().expect("preflight runs");
    let stdout = redact(&String::from_utf8_lossy(&output.stdout), &venv);
    let expected_path = case_dir.join("expected.stdout");
    if env::var_os("PREFLIGHT_BLESS").is_some() {
        #[allow(clippy::disallowed_methods)] // blessing golden files is the point
        fs::write(&expected_path, &stdout).expect("bless");
    }
    let expected = fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(
        stdout, expected,
        "{name}: preflight's text changed ({})",
        case.description
    );
    assert_eq!(
        output.status.code(),
        Some(case.preflight_exit),
        "{name}: preflight exit code ({})\n{stdout}",
        case.description
    );

    let (served, log_tail) = server_serves(&run_yaml, &venv, &pythonpath, &vars);
    if let Some(reason) = &case.needs_network {
        assert!(
            !served && case.preflight_exit == 0,
            "{name}: listed as needing the network ({reason}), so preflight must pass and the server fail:\n{log_tail}"
        );
    }
    match &case.server_blind_spot {
        _ if case.needs_network.is_some() => {}
        Some(reason) => {
            assert!(
                served,
                "{name}: listed as a server blind spot ({reason}) but the server did not start:\n{log_tail}"
            );
            assert_ne!(
                case.preflight_exit, 0,
                "{name}: a blind spot must be failed by preflight"
            );
        }
        None => assert_eq!(
            served,
            case.preflight_exit == 0,
            "{name}: preflight exited {} but the server {} ({}):\n{log_tail}",
            case.preflight_exit,
            if served { "served" } else { "did not serve" },
            case.description
        ),
    }
    if let Some(fault) = &case.server_reports {
        assert!(
            log_tail.contains(fault.as_str()),
            "{name}: the server did not stop at the expected fault ({fault}):\n{log_tail}"
        );
    }
}

macro_rules! real_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*

        #[test]
        fn every_case_directory_has_a_test() {
            let listed = [$(stringify!($name)),*];
            let mut found: Vec<String> = fs::read_dir(repo().join("testdata/real"))
                .expect("testdata/real")
                .flatten()
                .filter(|entry| entry.path().is_dir())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            let mut listed: Vec<String> = listed.iter().map(|name| name.to_string()).collect();
            listed.sort();
            assert_eq!(found, listed);
        }
    };
}

real_cases!(
    valid_mixed,
    valid_deploy_layout,
    valid_list_returning,
    disabled_through_env,
    module_not_installed,
    deploy_layout_without_pythonpath,
    disabled_entry_still_imported,
    incompatible_provider,
    module_with_version_specifier,
    typo_external_type,
    typo_in_tree_type,
    external_before_in_tree,
    typo_list_type,
    wrong_api_section,
    section_removed_in_this_release,
    dependency_drift,
    drift_and_missing_package,
    dependency_router_not_served,
    dependency_disabled_by_env,
    valid_dependencies,
    apis_not_provided,
    duplicate_provider_id,
    in_tree_package_missing,
    bundled_example,
    config_refused_by_dataclass,
    deprecated_in_tree_type,
    deprecated_type_replaced,
    declared_package_not_needed,
    starter_distribution,
    duplicate_shadows_missing_package,
    declared_package_needed_later,
    endpoint_unreachable,
    duplicate_shadowed_module_still_imported,
);
