//! The real-world suite: does preflight's verdict predict whether the real
//! `llama stack run` serves?
//!
//! Each directory in `testdata/real/` holds a `run.yaml`, a `case.yaml` (which
//! environment, extra `PYTHONPATH` directories and variables, the expected
//! preflight exit code, and, where the server starts although the
//! configuration is wrong, the reason preflight must still fail it) and
//! `expected.stdout`, preflight's exact text. For every case the test runs
//! preflight, then starts the real server from the same environment, bound to
//! 127.0.0.1 on a free port, and waits a bounded time for `/v1/health` to
//! answer 200. The server's exit code is not used: it exits 0 on some startup
//! failures. The server writes only into a temporary HOME and SQLITE_STORE_DIR.
//! Like an air-gapped image, it finds tiktoken's encoding pre-cached
//! (`TIKTOKEN_CACHE_DIR`): vector_io providers load it when they start.
//! Cases about TLS get a fresh key and self-signed certificate (and a second
//! pair that does not match), made at test time with the environment's own
//! `cryptography` into a temporary directory named by `PREFLIGHT_TLS_DIR`; the
//! server is then asked for its health over HTTPS. `PREFLIGHT_CASE_DIR` names
//! the case's directory, for files a run.yaml points at.
//!
//! `PREFLIGHT_BLESS=1` rewrites `expected.stdout` from the actual output.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
    /// Extra preflight options, e.g. `--check-config`.
    #[serde(default)]
    args: Vec<String>,
    /// A metadata directory inside the case directory, passed as --metadata-dir.
    metadata_dir: Option<String>,
    preflight_exit: i32,
    /// Set when the real server starts although the configuration is wrong.
    server_blind_spot: Option<String>,
    /// Text the failing server's log must show: the fault it stops at, for
    /// cases about which of two faults is met first.
    server_reports: Option<String>,
    /// Set when the server fails on a setting preflight can only warn about
    /// (the warning names the cause): preflight passes with a warning.
    warned_failure: Option<String>,
    /// Make a TLS key and certificate for the case (see the module doc).
    #[serde(default)]
    tls: bool,
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Writes `server-key.pem`/`server-cert.pem` and a second pair,
/// `other-key.pem`/`other-cert.pem`, into `dir` with the environment's Python.
fn make_tls_files(venv: &Path, dir: &Path) {
    let status = Command::new(venv.join("bin/python"))
        .arg(repo().join("tests/real/tls_files.py"))
        .arg(dir)
        .status()
        .expect("the environment's python runs");
    assert!(status.success(), "tls_files.py failed");
}

/// The server's health over HTTPS, asked with the environment's Python
/// (the certificate is self-signed, so it is not verified).
fn health_is_ok_over_tls(venv: &Path, port: u16) -> bool {
    let script = format!(
        "import ssl, urllib.request\nurllib.request.urlopen('https://127.0.0.1:{port}/v1/health', context=ssl._create_unverified_context(), timeout=2)"
    );
    Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn health_is_ok(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /v1/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = [0u8; 32];
    let read = stream.read(&mut response).unwrap_or(0);
    String::from_utf8_lossy(&response[..read]).starts_with("HTTP/1.1 200")
}

/// Starts the real server and reports whether it served, with its log tail.
fn server_serves(
    run_yaml: &Path,
    venv: &Path,
    pythonpath: &str,
    vars: &BTreeMap<String, String>,
    tls: bool,
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
    let port = free_port();
    let mut child = Command::new(venv.join("bin/llama"))
        .args(["stack", "run"])
        .arg(run_yaml)
        .args(["--port", &port.to_string()])
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
        .expect("the real server starts");
    let started = Instant::now();
    let mut served = false;
    while started.elapsed() < SERVER_READY_LIMIT {
        let healthy = if tls {
            health_is_ok_over_tls(venv, port)
        } else {
            health_is_ok(port)
        };
        if healthy {
            served = true;
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
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

fn redact(text: &str, venv: &Path, tls_dir: Option<&Path>) -> String {
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
        (
            tls_dir
                .map(|dir| dir.display().to_string())
                .unwrap_or_default(),
            "[TLS]",
        ),
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
    vars.insert("PREFLIGHT_CASE_DIR".into(), case_dir.display().to_string());
    let tls_dir = case
        .tls
        .then(|| tempfile::tempdir().expect("a TLS directory"));
    if let Some(dir) = &tls_dir {
        make_tls_files(&venv, dir.path());
        vars.insert("PREFLIGHT_TLS_DIR".into(), dir.path().display().to_string());
    }
    let tls_path = tls_dir.as_ref().map(|dir| dir.path());

    let run_yaml = case
        .run_yaml
        .as_ref()
        .map_or_else(|| case_dir.join("run.yaml"), |path| repo().join(path));
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
    let stdout = redact(&String::from_utf8_lossy(&output.stdout), &venv, tls_path);
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

    let (served, log_tail) = server_serves(&run_yaml, &venv, &pythonpath, &vars, case.tls);
    match (&case.server_blind_spot, &case.warned_failure) {
        (Some(reason), _) => {
            assert!(
                served,
                "{name}: listed as a server blind spot ({reason}) but the server did not start:\n{log_tail}"
            );
            assert_ne!(
                case.preflight_exit, 0,
                "{name}: a blind spot must be failed by preflight"
            );
        }
        (None, Some(reason)) => {
            assert!(
                !served,
                "{name}: listed as failing on a warned setting ({reason}) but the server served"
            );
            assert!(
                case.preflight_exit == 0 && stdout.contains("WARNING: "),
                "{name}: a warned failure must pass preflight with a warning"
            );
        }
        (None, None) => assert_eq!(
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
    yaml_merge_keys,
    yaml_duplicate_key,
    yaml_duplicate_key_last_wrong,
    yaml_custom_tag,
    server_port_privileged,
    server_port_unprivileged,
    image_name_from_env_digits,
    distro_name_from_env_digits,
    storage_connectors_default_missing,
    storage_backends_renamed,
    storage_connectors_default_missing_061,
    storage_backends_renamed_061,
    storage_conversations_null,
    storage_provider_backend_typo,
    storage_provider_backend,
    tls_certificate_missing,
    tls_key_mismatch,
    tls_valid,
    registered_model_unknown_provider,
    registered_model_known_provider,
    default_embedding_model_unserved,
    default_embedding_model_registered,
    external_providers_dir_spec,
    external_providers_dir_bad_spec,
    config_key_ignored,
    config_key_corrected,
);
