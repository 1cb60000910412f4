//! The real-world suite: does preflight's verdict predict whether the real
//! `llama stack run` or `ogx run` serves?
//!
//! Each directory in `testdata/real/` holds a `run.yaml`, a `case.yaml` (which
//! environment, extra `PYTHONPATH` directories and variables, the expected
//! preflight exit code, and, where the server starts although the
//! configuration is wrong, the reason preflight must still fail it, or that
//! only `--deny-warnings` fails it) and `expected.stdout`, preflight's exact text. For every case the test runs
//! preflight, then starts the real server from the same environment, bound to
//! 127.0.0.1 on a free port, and waits a bounded time for `/v1/health` to
//! answer 200. The server's exit code is not used: it exits 0 on most startup
//! failures. The server runs in a private network namespace, where loopback
//! is the only address (its health is asked from a thread that joins that
//! namespace), and writes only into a temporary HOME, SQLITE_STORE_DIR and,
//! for ogx, OGX_CONFIG_DIR. Like an air-gapped image, it finds tiktoken's
//! encoding pre-cached (`TIKTOKEN_CACHE_DIR`): vector_io providers load it
//! when they start.
//!
//! Cases about TLS get a fresh key and self-signed certificate (and a second
//! pair that does not match), made at test time with the environment's own
//! `cryptography` into a temporary directory named by `PREFLIGHT_TLS_DIR`; the
//! server's health is then asked over HTTPS. `PREFLIGHT_CASE_DIR` names the
//! case's directory, for files a run.yaml points at.
//!
//! A case with `listens_on` starts the server without `--port` and asks its
//! health on that port: the one the server chooses by itself (from its
//! variable, its default or `server.port`), which preflight's warning about
//! `server.port` names. Each server has its own network namespace, so a
//! fixed port is free.
//!
//! Every server (and preflight that becomes one) runs with
//! `PYTHONDONTWRITEBYTECODE=1`, so that it never writes `__pycache__` into
//! the fixture providers on a machine where the variable is unset.
//!
//! A case with `exec: true` runs preflight as a pod's entrypoint does:
//! `--exec -- <the server's command>`. When it passes, the process it became
//! is the server whose health is asked; when it fails, the same command is
//! then started on its own, to see that the server fails too.
//!
//! `PREFLIGHT_BLESS=1` rewrites `expected.stdout` from the actual output.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    /// `ls-0.7.3`, `ls-0.7.3-base` (providers only through PYTHONPATH),
    /// `ls-0.6.1`, `ogx-1.5.0` or `ogx-1.0.4`.
    environment: String,
    /// Extra import directories: `deploy` (the --target install of the
    /// providers built for llama-stack 0.7), `incompatible` (a provider
    /// written for llama-stack 0.2), `drift` (mcp 2.x shadowing the 0.6.1
    /// venv's mcp 1.x), `llama-stack-api` (llama-stack's API package, for an
    /// ogx venv) or `providers` (the fixture providers, for pf_ogx).
    #[serde(default)]
    pythonpath: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The run.yaml to use, relative to the repository, when it is not the
    /// case directory's own (the bundled example).
    run_yaml: Option<String>,
    /// A distribution the installed server ships (`starter`): its own
    /// `config.yaml` is the run.yaml.
    bundled: Option<String>,
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
    /// Set when the server fails on a setting preflight can only warn about
    /// (the warning names the cause): preflight passes with a warning.
    warned_failure: Option<String>,
    /// Preflight fails only because `--deny-warnings` was given: the server
    /// starts, the warnings are warnings.
    #[serde(default)]
    denied_warnings: bool,
    /// Make a TLS key and certificate for the case (see the module doc).
    #[serde(default)]
    tls: bool,
    /// Arguments added to the server's command (`--insecure`).
    #[serde(default)]
    server_args: Vec<String>,
    /// Run preflight with `--exec -- <the server's command>` (see the module doc).
    #[serde(default)]
    exec: bool,
    /// Start the server without `--port`, and ask its health on this port
    /// (see the module doc).
    listens_on: Option<u16>,
}

impl Case {
    /// The port whose health is asked, and the command that starts the
    /// server: on a free port, or on the one it chooses by itself.
    fn server_command(&self, environment: &Environment, run_yaml: &Path) -> (u16, Vec<OsString>) {
        let (port, given) = match self.listens_on {
            Some(port) => (port, None),
            None => {
                let port = free_port();
                (port, Some(port))
            }
        };
        let command = environment.server_command(run_yaml, given, &self.server_args);
        (port, command)
    }
}

fn cache_path(variable: &str) -> PathBuf {
    PathBuf::from(env::var_os(variable).unwrap_or_else(|| {
        panic!("{variable} is not set: run the suite through scripts/test, which builds the environments")
    }))
}

/// A virtualenv with a server in it.
struct Environment {
    venv: PathBuf,
    ogx: bool,
}

impl Environment {
    fn named(name: &str) -> Environment {
        let python = match name {
            "ls-0.7.3" => test_virtualenv().join("bin/python"),
            "ls-0.7.3-base" => cache_path("PREFLIGHT_PY_073_BASE"),
            "ls-0.6.1" => cache_path("PREFLIGHT_PY_061"),
            "ogx-1.5.0" => cache_path("PREFLIGHT_PY_OGX15"),
            "ogx-1.0.4" => cache_path("PREFLIGHT_PY_OGX10"),
            other => panic!("unknown environment {other}"),
        };
        let venv = python
            .parent()
            .and_then(Path::parent)
            .expect("venv/bin/python")
            .to_path_buf();
        Environment {
            venv,
            ogx: name.starts_with("ogx-"),
        }
    }

    /// The `config.yaml` of the distribution `name` that the server ships.
    fn bundled_config(&self, name: &str) -> PathBuf {
        let core = if self.ogx { "ogx" } else { "llama_stack" };
        fs::read_dir(self.venv.join("lib"))
            .expect("venv/lib")
            .flatten()
            .map(|python| {
                python
                    .path()
                    .join("site-packages")
                    .join(core)
                    .join("distributions")
                    .join(name)
                    .join("config.yaml")
            })
            .find(|config| config.is_file())
            .unwrap_or_else(|| panic!("no bundled distribution {name} in {}", self.venv.display()))
    }

    /// The command that starts the server with `run_yaml`, on `port` when
    /// one is given.
    fn server_command(
        &self,
        run_yaml: &Path,
        port: Option<u16>,
        extra: &[String],
    ) -> Vec<OsString> {
        let mut command: Vec<OsString> = if self.ogx {
            vec![self.venv.join("bin/ogx").into(), "run".into()]
        } else {
            vec![
                self.venv.join("bin/llama").into(),
                "stack".into(),
                "run".into(),
            ]
        };
        command.push(run_yaml.into());
        if let Some(port) = port {
            command.extend(["--port".into(), port.to_string().into()]);
        }
        command.extend(extra.iter().map(OsString::from));
        command
    }
}

fn pythonpath(entries: &[String]) -> String {
    entries
        .iter()
        .map(|entry| match entry.as_str() {
            "deploy" => cache_path("PREFLIGHT_DEPLOY_073"),
            "incompatible" => cache_path("PREFLIGHT_INCOMPATIBLE_073"),
            "drift" => cache_path("PREFLIGHT_DRIFT_061"),
            "llama-stack-api" => cache_path("PREFLIGHT_LLAMA_STACK_API_073"),
            "providers" => repo().join("testdata/providers"),
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

/// How the server's health is asked: over plain HTTP, or over HTTPS with the
/// environment's Python (the certificate is self-signed, so it is not
/// verified; a process started from the thread that joined the namespace
/// runs in it too).
#[derive(Clone, Copy)]
enum Health<'a> {
    Http,
    Https { python: &'a Path },
}

impl Health<'_> {
    fn is_ok(self, port: u16) -> bool {
        let Health::Https { python } = self else {
            return health_is_ok(port);
        };
        let script = format!(
            "import ssl, urllib.request\nurllib.request.urlopen('https://127.0.0.1:{port}/v1/health', context=ssl._create_unverified_context(), timeout=2)"
        );
        Command::new(python)
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// Whether `/v1/health` answers 200 on `port` in the network namespace of
/// the process `pid`: asked from a thread that joins it, the only way in.
fn serves_in_namespace_of(pid: u32, port: u16, health: Health<'_>) -> bool {
    let Ok(namespace) = fs::File::open(format!("/proc/{pid}/ns/net")) else {
        return false;
    };
    thread::scope(|scope| {
        scope
            .spawn(|| {
                // Only this thread moves; it ends right after the request.
                #[allow(unsafe_code)]
                let joined = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } == 0;
                joined && health.is_ok(port)
            })
            .join()
            .unwrap_or(false)
    })
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

/// Where a server (or preflight that becomes one) runs: its temporary state
/// and its log, removed when dropped.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(case: &str) -> Scratch {
        let dir = env::temp_dir().join(format!("preflight-server-{case}-{}", std::process::id()));
        #[allow(clippy::disallowed_methods)] // the server's own temporary state
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch { dir }
    }

    /// `command` in a private network namespace (loopback only), with the
    /// case's environment and the server's state in here; stdout and stderr
    /// go to `<name>.stdout` and `<name>.stderr`.
    fn spawn(&self, command: &[OsString], name: &str, setup: impl FnOnce(&mut Command)) -> Child {
        let output = |stream: &str| {
            #[allow(clippy::disallowed_methods)]
            fs::File::create(self.dir.join(format!("{name}.{stream}"))).expect("log file")
        };
        let mut namespaced = Command::new("unshare");
        namespaced
            .args(["-rn", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
            .args(command)
            .env("HOME", &self.dir)
            .env("SQLITE_STORE_DIR", &self.dir)
            .env("OGX_CONFIG_DIR", self.dir.join(".ogx"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env(
                "TIKTOKEN_CACHE_DIR",
                cached("PREFLIGHT_TIKTOKEN_CACHE", "tiktoken"),
            )
            .stdin(Stdio::null())
            .stdout(output("stdout"))
            .stderr(output("stderr"))
            .process_group(0);
        setup(&mut namespaced);
        namespaced.spawn().expect("the command starts")
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)]
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Waits a bounded time for `child` to serve on `port`, then kills it with
/// everything it started (it leads its own group). Returns whether it served
/// and, when it ended by itself first, its exit code.
fn served(mut child: Child, port: u16, health: Health<'_>) -> (bool, Option<i32>) {
    let started = Instant::now();
    let mut served = false;
    let mut ended = None;
    while started.elapsed() < SERVER_READY_LIMIT {
        if serves_in_namespace_of(child.id(), port, health) {
            served = true;
            break;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            ended = status.code();
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    (served, ended)
}

/// The last lines of a log, for failure messages.
fn tail(log: &str) -> String {
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Starts the real server and reports whether it served, with its log tail.
fn server_serves(
    name: &str,
    environment: &Environment,
    run_yaml: &Path,
    case: &Case,
    pythonpath: &str,
    vars: &BTreeMap<String, String>,
    health: Health<'_>,
) -> (bool, String) {
    let scratch = Scratch::new(name);
    let (port, command) = case.server_command(environment, run_yaml);
    let child = scratch.spawn(&command, "server", |server| {
        server
            .current_dir(&scratch.dir)
            .envs(vars)
            .env("PYTHONPATH", pythonpath)
            .env_remove("VIRTUAL_ENV");
    });
    let (served, _) = served(child, port, health);
    let log = scratch.read("server.stdout") + &scratch.read("server.stderr");
    (served, tail(&log))
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
        (
            env::var("PREFLIGHT_LLAMA_STACK_API_073").unwrap_or_default(),
            "[LLAMA_STACK_API]",
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

/// The last line of a passing report: with `--exec`, the server's own output
/// follows it.
const PASSED: &str = "All providers validated successfully\n";

fn run_case(name: &str) {
    let case_dir = repo().join("testdata/real").join(name);
    let case: Case = serde_yaml_ng::from_str(
        &fs::read_to_string(case_dir.join("case.yaml")).expect("case.yaml"),
    )
    .expect("case.yaml is valid");
    let environment = Environment::named(&case.environment);
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
        make_tls_files(&environment.venv, dir.path());
        vars.insert("PREFLIGHT_TLS_DIR".into(), dir.path().display().to_string());
    }
    let python = environment.venv.join("bin/python");
    let health = match tls_dir {
        Some(_) => Health::Https { python: &python },
        None => Health::Http,
    };

    let run_yaml = match (&case.run_yaml, &case.bundled) {
        (Some(path), _) => repo().join(path),
        (None, Some(name)) => environment.bundled_config(name),
        (None, None) => case_dir.join("run.yaml"),
    };
    let mut arguments: Vec<OsString> = vec![
        "preflight".into(),
        "--run-yaml".into(),
        run_yaml.clone().into(),
    ];
    arguments.extend(case.args.iter().map(OsString::from));
    if let Some(dir) = &case.metadata_dir {
        arguments.extend(["--metadata-dir".into(), case_dir.join(dir).into()]);
    }
    let preflight_env = |command: &mut Command| {
        command
            .envs(&vars)
            .env("VIRTUAL_ENV", &environment.venv)
            .env("PYTHONPATH", &pythonpath)
            .env("NO_COLOR", "1");
    };
    let (stdout, code, verdict) = if case.exec {
        let scratch = Scratch::new(name);
        let (port, server) = case.server_command(&environment, &run_yaml);
        let mut command: Vec<OsString> = vec![env!("CARGO_BIN_EXE_llama-stack").into()];
        command.extend(arguments);
        command.extend(["--exec".into(), "--".into()]);
        command.extend(server);
        let child = scratch.spawn(&command, "preflight", |preflight| {
            preflight_env(preflight.current_dir(&scratch.dir));
        });
        let (served, ended) = served(child, port, health);
        let output = scratch.read("preflight.stdout");
        let report = match output.find(PASSED) {
            Some(at) => output[..at + PASSED.len()].to_string(),
            None => output,
        };
        let verdict = served.then(|| (true, String::new()));
        (report, if served { Some(0) } else { ended }, verdict)
    } else {
        let mut preflight = Command::new(env!("CARGO_BIN_EXE_llama-stack"));
        preflight.args(&arguments).current_dir(repo());
        preflight_env(&mut preflight);
        let output = preflight.output().expect("preflight runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (stdout, output.status.code(), None)
    };
    let stdout = redact(
        &stdout,
        &environment.venv,
        tls_dir.as_ref().map(|dir| dir.path()),
    );
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
        code,
        Some(case.preflight_exit),
        "{name}: preflight exit code ({})\n{stdout}",
        case.description
    );

    // Unless preflight became the server that served, the server is started
    // on its own with the same command.
    let (served, log_tail) = verdict.unwrap_or_else(|| {
        server_serves(
            name,
            &environment,
            &run_yaml,
            &case,
            &pythonpath,
            &vars,
            health,
        )
    });
    if let Some(reason) = &case.needs_network {
        assert!(
            !served && case.preflight_exit == 0,
            "{name}: listed as needing the network ({reason}), so preflight must pass and the server fail:\n{log_tail}"
        );
    }
    match (&case.server_blind_spot, &case.warned_failure) {
        _ if case.needs_network.is_some() => {}
        _ if case.denied_warnings => {
            assert!(
                served,
                "{name}: its warnings are denied, but they are warnings: the server must serve:\n{log_tail}"
            );
            assert!(
                case.preflight_exit == 1 && stdout.contains("Code: preflight::warnings::denied"),
                "{name}: preflight must fail on the denied warnings, and say so"
            );
        }
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
    port_variable_invalid_exec,
    ogx_port_variable_invalid_exec,
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
    ogx_valid_in_tree,
    ogx_valid_external_exec,
    ogx10_valid_in_tree,
    ogx_provider_built_for_llama_stack,
    ogx_llama_stack_api_on_path,
    ogx_removed_api_section,
    ogx_removed_api_empty_section,
    ogx_removed_provider_type,
    ogx_apis_removed_api,
    ogx_apis_not_provided,
    ogx10_apis_not_provided,
    ogx_dependency_router_not_served,
    ogx_tls_required_exec,
    ogx_tls_insecure_flag_exec,
    ogx_tls_warning,
    ogx_starter,
    declared_package_not_needed,
    starter_distribution,
    duplicate_shadows_missing_package,
    declared_package_needed_later,
    endpoint_unreachable,
    duplicate_shadowed_module_still_imported,
    ogx_worker_provider_missing_module,
    registered_model_all,
    ogx_model_provider_all,
    starter_distribution_keep_going,
    ogx_starter_keep_going,
    declared_package_not_needed_denied,
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
    temp_dir_probe_caught,
    server_port_ignored,
    server_port_from_variable_exec,
    ogx_server_port_used,
    ogx10_server_port_ignored,
);
