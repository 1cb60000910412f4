//! Picks the Python interpreter the server will run in and learns its facts once.
//!
//! The choice follows what an operator expects: `--python`, else the active
//! virtualenv (`VIRTUAL_ENV`), else `python3` on `PATH`. The source is kept so
//! that "wrong Python" is obvious in every report. One probe process then
//! answers twice: at once with the version, platform, `sys.path` and the
//! installed server (llama-stack or ogx, see [`Flavour`], with the command
//! its distribution installs), then, once the server's core has imported,
//! with the sections that may hold providers and the server's settings,
//! computed by its own code ([`Starting`] is the time in between).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::diagnostics::{Blame, Phase, PhaseError, indented, inline};
use crate::flavour::Flavour;
use crate::probe::{
    ChannelError, Isolation, IsolationMode, Launch, PyException, Runner, WarmParent,
};
use crate::sandbox::SandboxLayers;
use crate::subprocess::signal_name;

/// The least time the interpreter query gets, whatever `--timeout` says.
pub(crate) const MIN_QUERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Environment variable naming the active virtualenv.
pub(crate) const VIRTUAL_ENV: &str = "VIRTUAL_ENV";

/// Where the interpreter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InterpreterSource {
    /// `--python` on the command line.
    Flag,
    /// `$VIRTUAL_ENV/bin/python`.
    VirtualEnv,
    /// `python3` found on `PATH`.
    Path,
}

impl InterpreterSource {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            InterpreterSource::Flag => "given with --python",
            InterpreterSource::VirtualEnv => "from the active virtualenv (VIRTUAL_ENV)",
            InterpreterSource::Path => "python3 found on PATH",
        }
    }
}

/// The process environment that selection depends on, passed in so tests need
/// not change the real one.
#[derive(Debug, Default, Clone)]
pub(crate) struct SelectionEnv {
    pub(crate) virtual_env: Option<OsString>,
    pub(crate) path: Option<OsString>,
    pub(crate) cwd: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Interpreter {
    pub(crate) path: PathBuf,
    pub(crate) source: InterpreterSource,
}

/// Facts about the interpreter, as the probe reports them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct PythonFacts {
    pub(crate) version: String,
    pub(crate) implementation: String,
    pub(crate) executable: String,
    pub(crate) platform: String,
    pub(crate) machine: String,
    pub(crate) ext_suffix: Option<String>,
    /// `importlib.machinery.EXTENSION_SUFFIXES`, in the importer's order.
    #[serde(default)]
    pub(crate) extension_suffixes: Vec<String>,
    /// The glibc version (`2.36`); `None` on musl.
    #[serde(default)]
    pub(crate) glibc: Option<String>,
    pub(crate) sys_path: Vec<String>,
}

/// The installed server (llama-stack or ogx) and the API layout its own code
/// declares.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct LlamaStackFacts {
    pub(crate) distribution: Flavour,
    pub(crate) version: String,
    pub(crate) api_package: Option<String>,
    /// The command that starts the server (`llama stack run`, `ogx run`),
    /// from the distribution's console script and its CLI's layout.
    #[serde(default)]
    pub(crate) command: Option<String>,
    /// Empty until the server's core has imported (see [`Starting`]), and
    /// then left out of the JSON report.
    #[serde(flatten)]
    pub(crate) layout: ApiLayout,
}

impl LlamaStackFacts {
    /// The release as reports name it: `llama-stack 0.7.3`, `ogx 1.5.0`.
    pub(crate) fn release(&self) -> String {
        format!("{} {}", self.distribution, self.version)
    }

    /// The command that starts the server, as its distribution names it.
    pub(crate) fn run_command(&self) -> &str {
        self.command
            .as_deref()
            .unwrap_or("the server's run command")
    }

    /// Whether the server has `server.insecure` (ogx 1.2 onward), the opt-out
    /// of what its run command enforces: TLS certificates.
    pub(crate) fn enforces_tls(&self) -> bool {
        self.layout
            .server_settings
            .iter()
            .any(|setting| setting == "insecure")
    }
}

/// The sections the server's own code allows, and its settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ApiLayout {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) apis: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) providable_apis: Vec<String>,
    /// Routing-table API → the router API that serves it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) routing_tables: BTreeMap<String, String>,
    /// The variable that moves the server's state directory
    /// (`LLAMA_STACK_CONFIG_DIR`, `OGX_CONFIG_DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config_dir_variable: Option<String>,
    /// The settings the server's `server:` section accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) server_settings: Vec<String>,
    /// Whether `apis:` may be absent rather than empty (ogx 1.5 onward),
    /// which came with the list gating routes only: the server skips an
    /// entry nothing provides instead of failing on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) apis_optional: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InterpreterFacts {
    pub(crate) interpreter: Interpreter,
    pub(crate) python: PythonFacts,
    pub(crate) llama_stack: LlamaStackFacts,
    pub(crate) isolation: Isolation,
    /// The protections the probe processes ran in.
    pub(crate) sandbox: SandboxLayers,
}

/// The warm parent's first document: what needs no llama-stack import.
#[derive(Debug, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum FactsDocument {
    Ok {
        python: Box<PythonFacts>,
        llama_stack: Option<LlamaStackFacts>,
        /// Whether the package of each `module:` value asked about is on the
        /// path (`None` where the finders could not say).
        #[serde(default)]
        externals_found: Vec<Option<bool>>,
    },
    Error(ProbeFailure),
}

/// Its second: llama-stack's API layout once its core is imported.
#[derive(Debug, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum LayoutDocument {
    Ok {
        layout: Option<ApiLayout>,
        /// Present when forking was allowed.
        isolation: Option<Isolation>,
    },
    Error(ProbeFailure),
}

/// A probe document that reports a failure instead of facts.
#[derive(Debug, Deserialize)]
struct ProbeFailure {
    kind: String,
    distribution: Option<Flavour>,
    version: Option<String>,
    exception: Option<Box<PyException>>,
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum InterpreterError {
    #[error("Python interpreter '{name}' not found")]
    #[diagnostic(
        code(preflight::interpreter::not_found),
        help(
            "Pass the server's interpreter with --python /path/to/python, activate its virtualenv, or put python3 on PATH."
        )
    )]
    NotFound {
        name: String,
        source_kind: InterpreterSource,
    },

    #[error("VIRTUAL_ENV points at {venv}, which has no bin/python")]
    #[diagnostic(
        code(preflight::interpreter::broken_virtualenv),
        help("Recreate the virtualenv, deactivate it, or pass --python explicitly.")
    )]
    BrokenVirtualenv { venv: String },

    #[error("Python interpreter {path} could not be started: {reason}")]
    #[diagnostic(
        code(preflight::interpreter::not_executable),
        help(
            "Pass an executable Python interpreter with --python (a file with execute permission, not a directory)."
        )
    )]
    NotExecutable { path: String, reason: String },

    #[error("{path} did not answer like a Python interpreter")]
    #[diagnostic(
        code(preflight::interpreter::not_python),
        help("Pass a CPython 3.11 or newer interpreter with --python.")
    )]
    NotPython { path: String, output: String },

    #[error(
        "Python interpreter {path} is too old to run preflight (it does not know the -P option)"
    )]
    #[diagnostic(
        code(preflight::interpreter::too_old),
        help(
            "Use the interpreter the llama-stack server runs with; llama-stack 0.4 and newer need Python 3.12 or newer."
        )
    )]
    TooOld { path: String, output: String },

    #[error("Python interpreter {path} did not answer within {seconds} s")]
    #[diagnostic(
        code(preflight::interpreter::timeout),
        help(
            "Check that the interpreter starts normally (a sitecustomize or .pth file may hang), or raise --timeout."
        )
    )]
    Timeout { path: String, seconds: u64 },

    #[error("Python interpreter {path} was killed by signal {signal} ({name})")]
    #[diagnostic(
        code(preflight::interpreter::crashed),
        help("Check that the interpreter starts normally: run it by hand with -c 'pass'.")
    )]
    Crashed {
        path: String,
        signal: i32,
        name: &'static str,
        output: String,
    },

    #[error("Neither llama-stack nor ogx is installed in the Python environment of {path}")]
    #[diagnostic(
        code(preflight::interpreter::llama_stack_missing),
        help(
            "Point preflight at the interpreter the server runs with (--python or VIRTUAL_ENV), or install llama-stack or ogx into this environment."
        )
    )]
    LlamaStackMissing {
        path: String,
        source_kind: InterpreterSource,
    },

    #[error(
        "{distribution} {version} is not supported by this preflight (supported: {})",
        supported()
    )]
    #[diagnostic(
        code(preflight::interpreter::llama_stack_unsupported),
        help(
            "Use a supported release ({}), or a preflight release that supports this one.",
            supported()
        )
    )]
    LlamaStackUnsupported {
        distribution: Flavour,
        version: String,
    },

    #[error("{distribution} {version} is installed but its own modules fail to import")]
    #[diagnostic(
        code(preflight::interpreter::llama_stack_broken),
        help(
            "The server would crash before reading run.yaml. Fix the environment: reinstall {distribution} with its declared dependency versions (pip install --force-reinstall {distribution}=={version})."
        )
    )]
    LlamaStackBroken {
        distribution: Flavour,
        version: String,
        exception: Box<PyException>,
    },
}

impl PhaseError for InterpreterError {
    fn phase(&self) -> Phase {
        Phase::Interpreter
    }

    fn blame(&self) -> Blame {
        match self {
            InterpreterError::LlamaStackMissing { .. }
            | InterpreterError::LlamaStackUnsupported { .. }
            | InterpreterError::LlamaStackBroken { .. } => Blame::Configuration,
            _ => Blame::Invocation,
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            InterpreterError::NotFound { source_kind, .. }
            | InterpreterError::LlamaStackMissing { source_kind, .. } => {
                Some(format!("Interpreter: {}", source_kind.describe()))
            }
            InterpreterError::NotPython { output, .. }
            | InterpreterError::TooOld { output, .. }
            | InterpreterError::Crashed { output, .. }
                if !output.is_empty() =>
            {
                Some(format!("Output:\n{}", indented(output)))
            }
            InterpreterError::LlamaStackBroken { exception, .. } => {
                Some(inline(&format!("Root cause: {}", root_summary(exception))))
            }
            _ => None,
        }
    }

    fn traceback(&self) -> Option<&str> {
        match self {
            InterpreterError::LlamaStackBroken { exception, .. } => Some(&exception.traceback),
            _ => None,
        }
    }
}

/// Every supported range, for messages: `llama-stack 0.4.0 to 0.7.x, ogx …`.
fn supported() -> String {
    Flavour::ALL
        .map(|flavour| format!("{flavour} {}", flavour.supported_releases()))
        .join(", ")
}

fn root_summary(exception: &PyException) -> String {
    if exception.root_message.is_empty() {
        exception.root_type.clone()
    } else {
        format!("{}: {}", exception.root_type, exception.root_message)
    }
}

/// Chooses the interpreter: `--python`, else `VIRTUAL_ENV`, else `python3` on `PATH`.
pub(crate) fn select(
    flag: Option<&Path>,
    env: &SelectionEnv,
) -> Result<Interpreter, InterpreterError> {
    if let Some(flag) = flag {
        let looks_like_path = flag.components().count() > 1 || flag.is_absolute();
        let path = if looks_like_path {
            env.cwd.join(flag)
        } else {
            which::which_in(flag, env.path.as_ref(), &env.cwd).map_err(|_| {
                InterpreterError::NotFound {
                    name: flag.display().to_string(),
                    source_kind: InterpreterSource::Flag,
                }
            })?
        };
        return Ok(Interpreter {
            path,
            source: InterpreterSource::Flag,
        });
    }
    if let Some(venv) = env.virtual_env.as_ref().filter(|venv| !venv.is_empty()) {
        let venv = env.cwd.join(venv);
        let python = venv.join("bin").join("python");
        if !python.exists() {
            return Err(InterpreterError::BrokenVirtualenv {
                venv: venv.display().to_string(),
            });
        }
        return Ok(Interpreter {
            path: python,
            source: InterpreterSource::VirtualEnv,
        });
    }
    let path = which::which_in("python3", env.path.as_ref(), &env.cwd).map_err(|_| {
        InterpreterError::NotFound {
            name: "python3".to_string(),
            source_kind: InterpreterSource::Path,
        }
    })?;
    Ok(Interpreter {
        path,
        source: InterpreterSource::Path,
    })
}

/// The isolation shown when the run stopped before llama-stack's core was
/// imported (see [`Starting`]).
const REPORTED_EARLY: &str = "stopped before llama-stack's core was imported, at a fault that needs no import to be certain; any provider import it took was made in a fresh interpreter";

/// An interpreter that has given its facts and waits, before it imports
/// llama-stack's core, for the pipeline to judge what needs no llama-stack
/// (the native checks, a `module:` provider whose package is absent):
/// [`Starting::finish`] lets it go on; dropping it ends it with nothing of
/// llama-stack imported.
pub(crate) struct Starting {
    /// The facts so far: no API layout yet.
    facts: InterpreterFacts,
    externals_found: Vec<Option<bool>>,
    parent: WarmParent,
    launch: Launch,
    timeout: Duration,
}

/// Starts the probe in `interpreter`, as `launch` says, and reads its
/// facts, asking whether the package of each of `externals` (`module:`
/// values) is on the path. `fork` lets the same process go on to answer checks
/// from forks.
pub(crate) fn start(
    interpreter: Interpreter,
    timeout: Duration,
    fork: bool,
    externals: &[&str],
    launch: Launch,
) -> Result<Starting, InterpreterError> {
    // Its second answer waits for llama-stack's core to import as the server
    // imports it (a second or two, more on a loaded node); a short
    // per-provider --timeout must not turn that into "did not answer".
    let timeout = timeout.max(MIN_QUERY_TIMEOUT);
    let path = interpreter.path.display().to_string();
    let options = serde_json::json!({ "fork": fork, "externals": externals });
    // Leftovers of a chatty start-up (sitecustomize) are killed; they are not
    // the server's concern.
    let started = WarmParent::start(
        &interpreter.path,
        &options.to_string(),
        timeout,
        launch.clone(),
    );
    let layers = launch.sandbox.layers();
    tracing::info!("sandbox of the probe processes: {}", layers.describe());
    let (document, parent) = started
        .and_then(WarmParent::next_document::<FactsDocument>)
        .map_err(|err| channel_error(path.clone(), err, timeout))?;
    let (facts, externals_found) = interpret_facts(interpreter, path, document, layers)?;
    Ok(Starting {
        facts,
        externals_found,
        parent,
        launch,
        timeout,
    })
}

/// What the first document says about `interpreter` (shown as `path`), and
/// whether each `module:` provider's package asked about was found.
fn interpret_facts(
    interpreter: Interpreter,
    path: String,
    document: FactsDocument,
    sandbox: SandboxLayers,
) -> Result<(InterpreterFacts, Vec<Option<bool>>), InterpreterError> {
    let (python, llama_stack, externals_found) = match document {
        FactsDocument::Ok {
            python,
            llama_stack,
            externals_found,
        } => (python, llama_stack, externals_found),
        FactsDocument::Error(failure) => return Err(probe_failure(path, failure)),
    };
    let Some(llama_stack) = llama_stack else {
        tracing::debug!(version = python.version, "interpreter has no llama-stack");
        return Err(InterpreterError::LlamaStackMissing {
            path,
            source_kind: interpreter.source,
        });
    };
    if !is_supported(&llama_stack) {
        return Err(InterpreterError::LlamaStackUnsupported {
            distribution: llama_stack.distribution,
            version: llama_stack.version,
        });
    }
    let facts = InterpreterFacts {
        interpreter,
        python: *python,
        llama_stack,
        isolation: Isolation {
            mode: IsolationMode::Spawn,
            reason: Some(REPORTED_EARLY.to_string()),
        },
        sandbox,
    };
    Ok((facts, externals_found))
}

/// What the second document says about the server `distribution`: the
/// layout, and the isolation the parent found safe (none without forking).
fn interpret_layout(
    path: String,
    distribution: Flavour,
    document: LayoutDocument,
) -> Result<(ApiLayout, Isolation), InterpreterError> {
    match document {
        LayoutDocument::Ok {
            layout: Some(layout),
            isolation,
        } => Ok((
            layout,
            isolation.unwrap_or(Isolation {
                mode: IsolationMode::Spawn,
                reason: Some("--no-fork".to_string()),
            }),
        )),
        LayoutDocument::Ok { layout: None, .. } => Err(InterpreterError::NotPython {
            path,
            output: format!("the probe gave no API layout for a supported {distribution}"),
        }),
        LayoutDocument::Error(failure) => Err(probe_failure(path, failure)),
    }
}

impl Starting {
    /// The facts so far, for checks that need no llama-stack import and for a
    /// report made before [`Starting::finish`].
    pub(crate) fn facts(&self) -> &InterpreterFacts {
        &self.facts
    }

    /// A runner that checks each provider in a fresh interpreter, in the same
    /// sandbox as this one.
    pub(crate) fn fresh_runner(&self) -> Runner {
        Runner::fresh(&self.facts.interpreter.path, self.launch.clone())
    }

    /// Whether the package of the `module:` value asked about at `position`
    /// (in the order given to [`start`]) is surely absent: its import fails
    /// whatever llama-stack does first.
    pub(crate) fn external_absent(&self, position: usize) -> bool {
        self.externals_found.get(position) == Some(&Some(false))
    }

    /// Lets the interpreter import llama-stack's core, waits for its layout and returns the complete facts with the
    /// runner that will check each provider: this warm parent, forking up to
    /// `jobs` checks at once, when forking was allowed and it finds forking
    /// safe, else fresh interpreters.
    pub(crate) fn finish(
        self,
        jobs: usize,
    ) -> Result<(InterpreterFacts, Runner), InterpreterError> {
        let Starting {
            mut facts,
            mut parent,
            launch,
            timeout,
            ..
        } = self;
        let path = facts.interpreter.path.display().to_string();
        // A parent that already died says why in the document it then lacks.
        let _ = parent.proceed();
        let (document, parent) = parent
            .next_document::<LayoutDocument>()
            .map_err(|err| channel_error(path.clone(), err, timeout))?;
        (facts.llama_stack.layout, facts.isolation) =
            interpret_layout(path, facts.llama_stack.distribution, document)?;
        let runner = if facts.isolation.mode == IsolationMode::Fork {
            tracing::info!(
                jobs,
                "each provider is checked in a fork of one warm interpreter"
            );
            parent.into_runner(jobs)
        } else {
            tracing::info!(
                reason = facts.isolation.reason.as_deref().unwrap_or_default(),
                "each provider is checked in a fresh interpreter"
            );
            Runner::fresh(&facts.interpreter.path, launch)
        };
        Ok((facts, runner))
    }
}

/// What a failure document from the probe means.
fn probe_failure(path: String, failure: ProbeFailure) -> InterpreterError {
    match failure {
        ProbeFailure {
            kind,
            distribution: Some(distribution),
            version: Some(version),
            exception: Some(exception),
        } if kind == "llama_stack_import_failed" => InterpreterError::LlamaStackBroken {
            distribution,
            version,
            exception,
        },
        ProbeFailure {
            kind, exception, ..
        } => InterpreterError::NotPython {
            path,
            output: format!(
                "probe error {kind}: {}",
                exception.map(|e| e.summary()).unwrap_or_default()
            ),
        },
    }
}

/// A release of the range preflight implements, with the API package that
/// range keeps its specs in.
fn is_supported(server: &LlamaStackFacts) -> bool {
    let flavour = server.distribution;
    flavour.supports(&server.version)
        && server.api_package.as_deref() == Some(flavour.api_package())
}

fn channel_error(path: String, err: ChannelError, timeout: Duration) -> InterpreterError {
    let output = err.stderr_tail();
    match err {
        ChannelError::Spawn(io) if io.kind() == std::io::ErrorKind::NotFound => {
            InterpreterError::NotFound {
                name: path,
                source_kind: InterpreterSource::Flag,
            }
        }
        ChannelError::Spawn(io) => InterpreterError::NotExecutable {
            path,
            reason: io.to_string(),
        },
        ChannelError::TimedOut { .. } => InterpreterError::Timeout {
            path,
            seconds: timeout.as_secs(),
        },
        ChannelError::Signalled { signal, .. } => InterpreterError::Crashed {
            path,
            signal,
            name: signal_name(signal),
            output,
        },
        ChannelError::NoDocument { .. }
            if output.contains("nknown option") && output.contains("-P") =>
        {
            InterpreterError::TooOld { path, output }
        }
        ChannelError::NoDocument { .. } => InterpreterError::NotPython { path, output },
        ChannelError::Garbage { stdout, .. } => InterpreterError::NotPython {
            path,
            output: if output.is_empty() {
                stdout
            } else {
                format!("{stdout}\n{output}")
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(virtual_env: Option<&str>, path: Option<&str>) -> SelectionEnv {
        SelectionEnv {
            virtual_env: virtual_env.map(OsString::from),
            path: path.map(OsString::from),
            cwd: PathBuf::from("/"),
        }
    }

    #[test]
    fn the_flag_wins_over_virtualenv_and_path() {
        let chosen = select(
            Some(Path::new("/usr/bin/python9")),
            &env_with(Some("/venv"), Some("/bin")),
        )
        .unwrap();
        assert_eq!(chosen.path, PathBuf::from("/usr/bin/python9"));
        assert_eq!(chosen.source, InterpreterSource::Flag);
    }

    #[test]
    fn a_virtualenv_without_python_is_reported() {
        let err = select(None, &env_with(Some("/nonexistent-venv"), Some("/bin"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "VIRTUAL_ENV points at /nonexistent-venv, which has no bin/python"
        );
    }

    #[test]
    fn without_flag_or_virtualenv_python3_is_looked_up_on_path() {
        let err = select(None, &env_with(None, Some("/nonexistent-dir"))).unwrap_err();
        assert_eq!(err.to_string(), "Python interpreter 'python3' not found");
        assert_eq!(err.blame(), Blame::Invocation);
    }

    #[test]
    fn a_bare_flag_name_is_looked_up_on_path() {
        let chosen = select(
            Some(Path::new("sh")),
            &env_with(None, Some("/bin:/usr/bin")),
        )
        .unwrap();
        assert!(chosen.path.ends_with("sh"), "{:?}", chosen.path);
    }

    #[test]
    fn each_flavour_is_supported_with_its_own_api_package() {
        let facts = |distribution: Flavour, version: &str, api: Option<&str>| LlamaStackFacts {
            distribution,
            version: version.into(),
            api_package: api.map(String::from),
            command: None,
            layout: ApiLayout::default(),
        };
        let llama_stack = |version, api| facts(Flavour::LlamaStack, version, api);
        assert!(is_supported(&llama_stack("0.7.3", Some("llama_stack_api"))));
        assert!(is_supported(&llama_stack("0.4.0", Some("llama_stack_api"))));
        assert!(!is_supported(&llama_stack(
            "0.3.5",
            Some("llama_stack.providers.datatypes")
        )));
        assert!(!is_supported(&llama_stack(
            "0.8.0",
            Some("llama_stack_api")
        )));
        assert!(is_supported(&facts(Flavour::Ogx, "1.5.0", Some("ogx_api"))));
        assert!(is_supported(&facts(Flavour::Ogx, "1.0.4", Some("ogx_api"))));
        assert!(!is_supported(&facts(
            Flavour::Ogx,
            "0.8.0",
            Some("ogx_api")
        )));
        assert!(!is_supported(&facts(
            Flavour::Ogx,
            "1.5.0",
            Some("llama_stack_api")
        )));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, mutated_json};

        /// Documents of the shapes the probe's serve mode prints: facts
        /// first, then the layout.
        const SAMPLES: &[&str] = &[
            r#"{"result": "ok", "python": {"version": "3.13.0", "implementation": "cpython", "executable": "/v/bin/python", "platform": "linux", "machine": "x86_64", "ext_suffix": ".cpython-313-x86_64-linux-gnu.so", "sys_path": ["/v/lib"]}, "llama_stack": {"distribution": "llama-stack", "version": "0.7.3", "api_package": "llama_stack_api"}, "externals_found": [false, null]}"#,
            r#"{"result": "ok", "python": {"version": "3.12.1", "implementation": "cpython", "executable": "/f", "platform": "linux", "machine": "x86_64", "ext_suffix": null, "sys_path": []}, "llama_stack": null}"#,
            r#"{"result": "ok", "layout": {"apis": ["eval", "benchmarks"], "providable_apis": ["eval"], "routing_tables": {"benchmarks": "eval"}}, "isolation": {"mode": "fork", "reason": null}}"#,
            r#"{"result": "ok", "python": {"version": "3.13.0", "implementation": "cpython", "executable": "/v/bin/python", "platform": "linux", "machine": "x86_64", "ext_suffix": null, "sys_path": []}, "llama_stack": {"distribution": "ogx", "version": "1.5.0", "core_package": "ogx", "api_package": "ogx_api", "command": "ogx run"}}"#,
            r#"{"result": "ok", "layout": {"apis": ["inference", "models"], "providable_apis": ["inference"], "routing_tables": {"models": "inference"}, "config_dir_variable": "OGX_CONFIG_DIR", "server_settings": ["insecure", "port"]}, "isolation": null}"#,
            r#"{"result": "error", "kind": "llama_stack_import_failed", "distribution": "llama-stack", "version": "0.6.1", "exception": {"type": "ImportError", "message": "m", "missing_module": null, "root_type": "ImportError", "root_message": "m", "root_missing_module": null, "traceback": "t"}}"#,
        ];

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_facts_document_is_accepted_or_explained(text in mutated_json(SAMPLES)) {
                let Ok(document) = serde_json::from_str::<FactsDocument>(&text) else {
                    return Ok(());
                };
                let interpreter = Interpreter { path: "/v/bin/python".into(), source: InterpreterSource::Flag };
                let layers = crate::sandbox::KernelSandbox::prepare(false, false).layers();
                match interpret_facts(interpreter, "/v/bin/python".to_string(), document, layers) {
                    Ok((facts, _)) => prop_assert!(is_supported(&facts.llama_stack)),
                    Err(err) => prop_assert!(!fuzzing::render(err).is_empty()),
                }
            }

            #[test]
            fn any_layout_document_is_accepted_or_explained(text in mutated_json(SAMPLES)) {
                let Ok(document) = serde_json::from_str::<LayoutDocument>(&text) else {
                    return Ok(());
                };
                if let Err(err) = interpret_layout("/v/bin/python".to_string(), Flavour::Ogx, document) {
                    prop_assert!(!fuzzing::render(err).is_empty());
                }
            }
        }
    }
}
