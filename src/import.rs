//! The import and spec-retrieval phases: one probe process per provider.
//!
//! The probe imports the provider the way the server does (`<module>.provider`
//! and `get_provider_spec()` for external providers, the in-tree registry for
//! the others), then imports what the server imports before it runs provider
//! code: the spec's `module` and its `config_class`, and what creating the
//! provider imports (the entry point's lazy imports, the constructor's and
//! `initialize()`'s, without running anything else). This module sends the
//! request, classifies every way that can fail, and names the root cause where
//! the server would print a misleading one: a `ModuleNotFoundError` anywhere
//! under `pkg.provider` becomes "get_provider_spec not found" in the server,
//! whether the package, its `provider` submodule or a dependency is missing.

use std::time::Duration;

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::{self, ProviderEntry};
use crate::diagnostics::{Phase, PhaseError, indented, inline};
use crate::flavour::Flavour;
use crate::installed::requirement_providing;
use crate::interpreter::LlamaStackFacts;
use crate::probe::{ChannelError, LoaderFailure, Probed, PyException, Runner, Ticket};
use crate::subprocess::signal_name;

/// The default per-provider time limit. Fail-fast means at most one provider
/// can time out per run, so nine healthy providers (about 1–2 s each with
/// llama-stack 0.7) plus one hang stay within the spec's 30 s for ten (FR-005).
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// What the probe is asked to do for one entry.
#[derive(Debug, Serialize)]
struct ProviderRequest<'a> {
    provider_id: Option<&'a str>,
    api: &'a str,
    provider_type: &'a str,
    module: Option<&'a str>,
    /// Look the spec up only (for `module:`, import and call
    /// `get_provider_spec()`), as the server does for a disabled entry that
    /// has `module:` and for an entry a later one with its id shadows.
    registry_only: bool,
    /// Seconds after which the probe prints where it is stuck, shortly before
    /// the driver's deadline, so a timeout names the hanging line.
    dump_stack_after: f64,
    /// Let provider code write files (network access stays denied).
    allow_writes: bool,
    /// The entry's config, to build the config class with as the server
    /// does; what it refuses is reported with `check_config` only.
    config: Option<&'a serde_json::Value>,
    check_config: bool,
    /// The file in external_providers_dir the spec comes from, when it does.
    spec_file: Option<&'a str>,
}

/// How each provider is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckSettings {
    pub(crate) timeout: Duration,
    pub(crate) allow_writes: bool,
    pub(crate) check_config: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum ProviderDocument {
    Ok(Box<ProbeReport>),
    Error(ProbeFailure),
}

/// What the probe's audit hook saw provider code attempt.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SandboxReport {
    /// Writes and network access, denied.
    #[serde(default)]
    pub(crate) denied: Vec<Attempt>,
    /// Programs started (allowed: libraries probe the system this way).
    #[serde(default)]
    pub(crate) programs: Vec<Attempt>,
    /// Changes to the interpreter's working directory and `sys.path`.
    #[serde(default)]
    pub(crate) changed: Vec<Attempt>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attempt {
    pub(crate) operation: String,
    pub(crate) target: String,
}

impl Attempt {
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.operation, self.target)
    }
}

/// What the probe saw for a provider whose spec it obtained.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProbeReport {
    #[serde(default)]
    pub(crate) sandbox: SandboxReport,
    /// `external`, `in_tree`, or `external_dir` for a spec from
    /// external_providers_dir.
    #[serde(default)]
    pub(crate) source: Option<String>,
    pub(crate) returned: Returned,
    pub(crate) spec: Option<SpecDescription>,
    pub(crate) implementation: Option<Step>,
    pub(crate) config: Option<Step>,
    pub(crate) config_check: Option<Step>,
    /// The imports the server's start-up of the provider runs after the
    /// spec's module: those of the entry point and of the constructor and
    /// `initialize()` of what it instantiates.
    pub(crate) startup: Option<Startup>,
}

/// What the probe met on the provider's start-up path.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Startup {
    pub(crate) ok: bool,
    /// What the server would be running when the import failed:
    /// `get_adapter_impl()`, `TogetherInferenceAdapter.initialize()`.
    pub(crate) step: Option<String>,
    pub(crate) exception: Option<Box<PyException>>,
    /// Imports of modules that are not installed, off the start-up path.
    #[serde(default)]
    pub(crate) deferred: Vec<DeferredImport>,
}

/// An import that start-up does not run, of a module that is not installed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct DeferredImport {
    pub(crate) module: String,
    /// The qualified name of the function it sits in; `None` at the top of a
    /// module nothing has imported.
    pub(crate) function: Option<String>,
    pub(crate) file: String,
    pub(crate) line: u32,
}

impl DeferredImport {
    /// When the server would run this import.
    pub(crate) fn when(&self) -> String {
        match &self.function {
            Some(function) => format!("when {function}() runs ({} line {})", self.file, self.line),
            None => format!("when {} is imported (line {})", self.file, self.line),
        }
    }
}

/// The shape of `get_provider_spec()`'s return value.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Returned {
    pub(crate) kind: String,
    pub(crate) python_type: Option<String>,
    #[serde(default)]
    pub(crate) offered: Vec<serde_json::Value>,
}

/// A spec object's class and the fields the probe could read from it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SpecDescription {
    pub(crate) class: String,
    /// The module that defines the class.
    #[serde(default)]
    pub(crate) class_module: Option<String>,
    /// Whether it is an instance of the installed server's `ProviderSpec`
    /// (`None`: the probe could not find that class).
    #[serde(default)]
    pub(crate) provider_spec: Option<bool>,
    pub(crate) fields: serde_json::Map<String, serde_json::Value>,
}

/// A follow-up import (the spec's module or its config class).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Step {
    pub(crate) ok: bool,
    pub(crate) exception: Option<Box<PyException>>,
    pub(crate) entry_point: Option<String>,
    pub(crate) has_entry_point: Option<bool>,
    pub(crate) is_class: Option<bool>,
    pub(crate) schema: Option<serde_json::Value>,
    pub(crate) schema_error: Option<String>,
    /// Whether the config class accepted the entry's config (--check-config).
    pub(crate) valid: Option<bool>,
    #[serde(default)]
    pub(crate) errors: Vec<ConfigProblem>,
    /// The keys of the config that its pydantic class drops, and those it
    /// reads; absent for a class that keeps or refuses unknown keys.
    pub(crate) ignored: Option<IgnoredKeys>,
    /// The stores the built config names, which the provider opens when it
    /// starts.
    #[serde(default)]
    pub(crate) references: Vec<StoreReference>,
}

/// One refusal of the config class: where in `config`, and why.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConfigProblem {
    pub(crate) loc: Vec<config::Step>,
    pub(crate) msg: String,
}

/// Config keys a pydantic class drops without a word.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IgnoredKeys {
    pub(crate) keys: Vec<String>,
    pub(crate) accepted: Vec<String>,
    /// Fields read only by their alias: field name → the key to write.
    #[serde(default)]
    pub(crate) renamed: std::collections::BTreeMap<String, String>,
}

/// A KV or SQL store reference in a built config.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoreReference {
    pub(crate) loc: Vec<config::Step>,
    pub(crate) backend: String,
    /// `kv` or `sql`.
    pub(crate) kind: String,
}

#[derive(Debug, Deserialize)]
struct ProbeFailure {
    #[serde(default)]
    sandbox: SandboxReport,
    kind: String,
    target: Option<String>,
    exception: Option<Box<PyException>>,
    #[serde(default)]
    offered: Vec<String>,
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum ImportError {
    #[error("Module not found")]
    #[diagnostic(
        code(preflight::import::module_not_found),
        help("Ensure provider packages are installed and PYTHONPATH is set correctly. {hint}")
    )]
    ModuleNotFound {
        package: String,
        hint: String,
        exception: Box<PyException>,
    },

    #[error("Package '{package}' has no 'provider' submodule")]
    #[diagnostic(
        code(preflight::import::no_provider_module),
        help(
            "module: must name the package that contains provider.py with get_provider_spec(). Check that '{package}' is that package's import name and that the installed version still ships a {server} provider."
        )
    )]
    NoProviderModule {
        package: String,
        server: Flavour,
        exception: Box<PyException>,
    },

    #[error("Dependency '{dependency}' not found while importing {target}")]
    #[diagnostic(
        code(preflight::import::dependency_missing),
        help(
            "Install the missing dependency into the server's environment (pip install {distribution_guess}), or a provider version whose declared dependencies match what is installed."
        )
    )]
    DependencyMissing {
        dependency: String,
        distribution_guess: String,
        target: String,
        exception: Box<PyException>,
    },

    #[error(
        "Module '{module}' is not installed: the server imports it when it creates this provider"
    )]
    #[diagnostic(code(preflight::import::startup_module_missing), help("{fix}"))]
    StartupModuleMissing {
        module: String,
        /// Where start-up imports it: `in get_adapter_impl()`.
        step: String,
        /// What provides the module, or that nothing declared does.
        provided_by: String,
        fix: String,
        exception: Box<PyException>,
    },

    #[error("Provider is incompatible with the installed {release}")]
    #[diagnostic(
        code(preflight::import::incompatible_llama_stack),
        help(
            "Install a provider release built for {release}, or run the {server} release the provider was written for."
        )
    )]
    IncompatibleLlamaStack {
        release: String,
        server: Flavour,
        missing: String,
        target: String,
        exception: Box<PyException>,
    },

    #[error("Provider is built for {built_for}, not for the installed {release}")]
    #[diagnostic(
        code(preflight::import::built_for_other_server),
        help(
            "Install a release of the provider built for {server} (its code imports {api_package}), or run it on {built_for} {built_for_releases}, which it was written for."
        )
    )]
    BuiltForOtherServer {
        built_for: Flavour,
        built_for_releases: &'static str,
        server: Flavour,
        release: String,
        api_package: &'static str,
        /// The modules of `built_for` the import needed, in the order it tried them.
        missing: Vec<String>,
        target: String,
        exception: Box<PyException>,
    },

    #[error(
        "Importing {target} needs the shared library {library}, which the dynamic loader cannot find"
    )]
    #[diagnostic(
        code(preflight::import::shared_library_missing),
        help(
            "Install the system package that provides {library} in the server's image (with apt-get, dnf or apk), or put the directory that holds it on LD_LIBRARY_PATH for the server; it fails the same way when it imports the provider."
        )
    )]
    SharedLibraryMissing {
        library: String,
        target: String,
        exception: Box<PyException>,
    },

    #[error("Importing {target} failed: a native library lacks the symbol {symbol}")]
    #[diagnostic(
        code(preflight::import::undefined_symbol),
        help(
            "A compiled module was built against another version of a library it links to, often a package from another release than its companion (torch and torchvision, for example). Reinstall them at versions built for each other; the server fails the same way."
        )
    )]
    UndefinedSymbol {
        symbol: String,
        target: String,
        exception: Box<PyException>,
    },

    #[error("Importing {target} raised {summary}")]
    #[diagnostic(
        code(preflight::import::import_failed),
        help(
            "Fix the error shown in the traceback: the server hits it when it imports the provider, before it starts."
        )
    )]
    ImportFailed {
        target: String,
        summary: String,
        /// The server's run command, which an exception that ends the process stops.
        command: String,
        exception: Box<PyException>,
    },

    #[error("{target} has no get_provider_spec()")]
    #[diagnostic(
        code(preflight::import::get_provider_spec_missing),
        help(
            "The provider module must define a function get_provider_spec() that returns its ProviderSpec."
        )
    )]
    GetProviderSpecMissing {
        target: String,
        exception: Box<PyException>,
    },

    #[error("Provider type '{provider_type}' is not available for API '{api}'")]
    #[diagnostic(code(preflight::import::unknown_provider_type), help("{suggestion}"))]
    UnknownProviderType {
        provider_type: String,
        api: String,
        offered: Vec<String>,
        suggestion: String,
    },

    #[error(
        "Provider type '{provider_type}' of llama-stack was removed in {server}: '{api}' no longer has it"
    )]
    #[diagnostic(
        code(preflight::import::removed_provider_type),
        help("Change provider_type in run.yaml: {replacement}.")
    )]
    RemovedProviderType {
        provider_type: String,
        api: String,
        server: Flavour,
        replacement: &'static str,
        offered: Vec<String>,
    },

    #[error("The {server} registry for '{api}' failed to import")]
    #[diagnostic(
        code(preflight::import::registry_failed),
        help(
            "The server leaves this API out of its registry, so no in-tree provider of '{api}' can load. Reinstall {server} with its declared dependencies."
        )
    )]
    RegistryFailed {
        api: String,
        server: Flavour,
        exception: Box<PyException>,
    },

    #[error("Provider code tried to write files or reach the network while being imported")]
    #[diagnostic(
        code(preflight::sandbox::denied),
        help(
            "Importing a provider must not write or connect (the server would do it on every start, before it serves); move that work into the provider's initialize(). If the writes are harmless caches, run preflight with --allow-writes."
        )
    )]
    SandboxDenied { attempts: Vec<String> },

    #[error(
        "Provider code changed the interpreter's working directory or import path while being imported"
    )]
    #[diagnostic(
        code(preflight::sandbox::state_changed),
        help(
            "The server imports every provider into one process, so the change applies to everything loaded after this provider (relative paths, which modules are found). Do not change the working directory or sys.path at import; install vendored modules as packages instead."
        )
    )]
    StateChanged { changes: Vec<String> },

    #[error("Importing the provider left {} process(es) running", processes.len())]
    #[diagnostic(
        code(preflight::probe::left_running),
        help(
            "A provider must not start background processes while it is imported: the server would start them on every launch and keep them beside it, outside its control. Start them from the provider's initialize(), if at all. Preflight has killed them."
        )
    )]
    LeftRunning { processes: Vec<String> },

    #[error("get_provider_spec() returned an object that raises when it is read")]
    #[diagnostic(
        code(preflight::spec::unreadable),
        help(
            "Return a ProviderSpec (or a list of them): the server reads its attributes and would fail the same way."
        )
    )]
    SpecUnreadable {
        summary: String,
        exception: Box<PyException>,
    },

    #[error("Module {module} has no {entry_point}()")]
    #[diagnostic(
        code(preflight::import::entry_point_missing),
        help(
            "The server calls {module}.{entry_point}(config, deps) to create the provider. Define it there, or point the spec's module at the module that does."
        )
    )]
    EntryPointMissing { module: String, entry_point: String },

    #[error("get_provider_spec() raised {summary}")]
    #[diagnostic(
        code(preflight::spec::get_provider_spec_raised),
        help(
            "Fix get_provider_spec() so that it returns the spec without raising; the traceback shows where it failed."
        )
    )]
    GetProviderSpecRaised {
        summary: String,
        /// The server's run command, which an exception that ends the process stops.
        command: String,
        exception: Box<PyException>,
    },

    #[error("Provider check did not finish within {seconds} s")]
    #[diagnostic(
        code(preflight::probe::timeout),
        help(
            "Importing the provider or calling get_provider_spec() hangs (a network call or a lock at import time?). The server would hang the same way. Fix the provider, or raise --timeout if it is only slow."
        )
    )]
    Timeout { seconds: u64, stderr: String },

    #[error(
        "The Python process was killed by signal {signal} ({name}) while checking the provider"
    )]
    #[diagnostic(
        code(preflight::probe::crashed),
        help(
            "The provider, or a native extension it loads, crashed the interpreter; the server would crash the same way. Check its native dependencies for this platform."
        )
    )]
    Crashed {
        signal: i32,
        name: &'static str,
        stderr: String,
    },

    #[error("The Python process exited with code {code} before reporting a result")]
    #[diagnostic(
        code(preflight::probe::exited),
        help(
            "Provider code ended the interpreter while being imported (sys.exit, os._exit or an abort); the server would stop the same way. Remove that call from the provider's import path."
        )
    )]
    Exited { code: i32, stderr: String },

    #[error("The Python process printed output that is not a preflight result")]
    #[diagnostic(
        code(preflight::probe::bad_output),
        help(
            "Something in the interpreter's start-up (sitecustomize, a .pth file) or in the provider corrupted the result channel. Run preflight with --verbose for details."
        )
    )]
    BadOutput { stdout: String, stderr: String },

    #[error("The Python process could not be started: {reason}")]
    #[diagnostic(
        code(preflight::probe::spawn_failed),
        help(
            "Check that the interpreter is still executable and that the system has free processes and memory."
        )
    )]
    SpawnFailed { reason: String },
}

impl PhaseError for ImportError {
    fn phase(&self) -> Phase {
        match self {
            ImportError::GetProviderSpecRaised { .. } | ImportError::SpecUnreadable { .. } => {
                Phase::SpecRetrieval
            }
            _ => Phase::Import,
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            ImportError::DependencyMissing {
                target, dependency, ..
            } => Some(inline(&format!(
                "The provider package was found, but importing {target} needs the module '{dependency}', which is not installed. The server reports this as \"get_provider_spec not found\"."
            ))),
            ImportError::StartupModuleMissing {
                step,
                provided_by,
                exception,
                ..
            } => Some(format!(
                "Start-up imports it {}, along this chain:\n{}\n{}",
                inline(step),
                indented(
                    &exception
                        .frames
                        .iter()
                        .map(|frame| inline(&frame.to_string()))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                inline(provided_by)
            )),
            ImportError::IncompatibleLlamaStack {
                missing,
                target,
                release,
                server,
                ..
            } => Some(inline(&format!(
                "Importing {target} needs the module '{missing}', which {release} does not have: the provider was written for another {server} release."
            ))),
            ImportError::BuiltForOtherServer {
                missing,
                target,
                built_for,
                release,
                ..
            } => Some(inline(&format!(
                "Importing {target} needs {}, {built_for}'s own {}, which {release} does not have: {}. The server reports this as \"get_provider_spec not found\".",
                missing
                    .iter()
                    .map(|module| format!("'{module}'"))
                    .collect::<Vec<_>>()
                    .join(" and then, as its fallback, "),
                if missing.len() > 1 { "packages" } else { "package" },
                renamed(*built_for, release),
            ))),
            ImportError::SharedLibraryMissing {
                library, exception, ..
            } => exception.root_path.as_ref().map(|file| {
                inline(&format!("Loading {file} needs {library}, directly or through a library it links to; the loader found it neither through the file's RPATH/RUNPATH nor on LD_LIBRARY_PATH, in /etc/ld.so.cache or in the system library directories."))
            }),
            ImportError::UndefinedSymbol {
                symbol, exception, ..
            } => exception
                .root_path
                .as_ref()
                .map(|file| inline(&format!("Loading {file} needs {symbol}, which none of the libraries it was linked with at load time defines."))),
            ImportError::NoProviderModule { package, .. } => Some(inline(&format!(
                "The package '{package}' is installed, but '{package}.provider' does not exist."
            ))),
            ImportError::SandboxDenied { attempts } => Some(format!(
                "Denied (nothing was written or sent):\n{}",
                indented(&attempts.join("\n"))
            )),
            ImportError::StateChanged { changes } => {
                Some(format!("Changed:\n{}", indented(&changes.join("\n"))))
            }
            ImportError::LeftRunning { processes } => Some(format!(
                "Still running after the check (killed by preflight):\n{}",
                indented(&processes.join("\n"))
            )),
            ImportError::SpecUnreadable { summary, .. } => {
                Some(inline(&format!("Reading the returned object raised {summary}")))
            }
            ImportError::ImportFailed {
                exception, command, ..
            }
            | ImportError::GetProviderSpecRaised {
                exception, command, ..
            } if is_process_ending(exception) => Some(inline(&format!(
                "{} is not an error the server catches: it stops `{command}` before it serves.",
                exception.kind
            ))),
            ImportError::ImportFailed { exception, .. }
            | ImportError::GetProviderSpecRaised { exception, .. }
                if is_sandbox_refusal(exception) =>
            {
                Some(SANDBOX_REFUSAL.to_string())
            }
            ImportError::Crashed {
                signal: libc::SIGKILL,
                stderr,
                ..
            } if stderr.is_empty() => Some(
                "SIGKILL comes from the provider itself, another process, or the kernel's out-of-memory killer; check `dmesg` for the latter.".to_string(),
            ),
            ImportError::UnknownProviderType { offered, .. }
            | ImportError::RemovedProviderType { offered, .. } => {
                Some(inline(&format!("Available: {}", offered.join(", "))))
            }
            ImportError::Timeout { stderr, .. }
            | ImportError::Crashed { stderr, .. }
            | ImportError::Exited { stderr, .. }
                if !stderr.is_empty() =>
            {
                Some(format!("Output (last lines):\n{}", indented(stderr)))
            }
            ImportError::BadOutput { stdout, stderr } => Some(format!(
                "Output (last lines):\n{}\nErrors (last lines):\n{}",
                indented(stdout),
                indented(stderr)
            )),
            _ => None,
        }
    }

    fn traceback(&self) -> Option<&str> {
        match self {
            ImportError::ModuleNotFound { exception, .. }
            | ImportError::StartupModuleMissing { exception, .. }
            | ImportError::NoProviderModule { exception, .. }
            | ImportError::DependencyMissing { exception, .. }
            | ImportError::IncompatibleLlamaStack { exception, .. }
            | ImportError::BuiltForOtherServer { exception, .. }
            | ImportError::SharedLibraryMissing { exception, .. }
            | ImportError::UndefinedSymbol { exception, .. }
            | ImportError::ImportFailed { exception, .. }
            | ImportError::GetProviderSpecMissing { exception, .. }
            | ImportError::RegistryFailed { exception, .. }
            | ImportError::GetProviderSpecRaised { exception, .. }
            | ImportError::SpecUnreadable { exception, .. } => Some(&exception.traceback),
            _ => None,
        }
    }
}

/// Why a provider of the flavour `built_for` finds nothing of it in `release`.
fn renamed(built_for: Flavour, release: &str) -> String {
    match built_for {
        Flavour::LlamaStack => format!(
            "llama-stack continues as ogx under new names (llama_stack is ogx, llama_stack_api is ogx_api), and {release} keeps nothing of the old ones"
        ),
        Flavour::Ogx => format!("ogx is llama-stack's continuation, and {release} predates it"),
    }
}

/// Runs the probe for one entry and returns what it saw, or the import-phase
/// failure, for the installed `server`: [`submit_provider`], then
/// [`provider_answer`].
pub(crate) fn probe_provider(
    runner: &mut Runner,
    entry: &ProviderEntry,
    registry_only: bool,
    server: &LlamaStackFacts,
    settings: CheckSettings,
    spec_file: Option<&str>,
) -> Result<(ProbeReport, Duration), ImportError> {
    let ticket = submit_provider(runner, entry, registry_only, settings, spec_file);
    provider_answer(runner, ticket, entry, server, settings.timeout)
}

/// Hands the probe's check of one entry to `runner`. `spec_file` is the
/// file in external_providers_dir whose spec the server uses for an entry
/// without `module:`, when there is one.
pub(crate) fn submit_provider(
    runner: &mut Runner,
    entry: &ProviderEntry,
    registry_only: bool,
    settings: CheckSettings,
    spec_file: Option<&str>,
) -> Ticket {
    let timeout = settings.timeout;
    let request = ProviderRequest {
        provider_id: entry.provider_id.as_deref(),
        api: &entry.api,
        provider_type: &entry.provider_type,
        module: entry.module.as_deref(),
        registry_only,
        dump_stack_after: (timeout.as_secs_f64() - 0.5).max(timeout.as_secs_f64() * 0.8),
        allow_writes: settings.allow_writes,
        config: (!registry_only).then_some(&entry.config),
        check_config: settings.check_config,
        spec_file,
    };
    let request = serde_json::to_string(&request).expect("a request of strings serialises");
    runner.submit("provider", request, timeout)
}

/// What the check of `entry` submitted for `ticket` saw, or the import-phase
/// failure, for the installed `server`.
pub(crate) fn provider_answer(
    runner: &mut Runner,
    ticket: Ticket,
    entry: &ProviderEntry,
    server: &LlamaStackFacts,
    timeout: Duration,
) -> Result<(ProbeReport, Duration), ImportError> {
    let probed = runner
        .wait::<ProviderDocument>(ticket)
        .map_err(|err| channel_error(err, timeout))?;
    interpret(entry, probed, server)
}

/// What the probe's document and the run's leftovers mean for `entry`.
fn interpret(
    entry: &ProviderEntry,
    probed: Probed<ProviderDocument>,
    server: &LlamaStackFacts,
) -> Result<(ProbeReport, Duration), ImportError> {
    let sandbox = match &probed.document {
        ProviderDocument::Ok(report) => &report.sandbox,
        ProviderDocument::Error(failure) => &failure.sandbox,
    };
    // A denial explains whatever failed after it, so it is the root cause; so
    // may a changed working directory or import path. A denial the provider
    // code caught (its import went on) fails nothing at the server, where the
    // attempt is allowed: the pipeline reports it as a warning.
    if !sandbox.denied.is_empty() && matches!(probed.document, ProviderDocument::Error(_)) {
        let attempts = sandbox.denied.iter().map(Attempt::describe).collect();
        return Err(ImportError::SandboxDenied { attempts });
    }
    if !sandbox.changed.is_empty() {
        let changes = sandbox.changed.iter().map(Attempt::describe).collect();
        return Err(ImportError::StateChanged { changes });
    }
    if !probed.leftovers.is_empty() {
        return Err(ImportError::LeftRunning {
            processes: probed.leftovers,
        });
    }
    match probed.document {
        ProviderDocument::Ok(report) => Ok((*report, probed.elapsed)),
        ProviderDocument::Error(failure) => Err(classify_failure(entry, failure, server)),
    }
}

fn channel_error(err: ChannelError, timeout: Duration) -> ImportError {
    let stderr = err.stderr_tail();
    match err {
        ChannelError::Spawn(io) => ImportError::SpawnFailed {
            reason: io.to_string(),
        },
        ChannelError::TimedOut { .. } => ImportError::Timeout {
            seconds: timeout.as_secs(),
            stderr,
        },
        ChannelError::Signalled { signal, .. } => ImportError::Crashed {
            signal,
            name: signal_name(signal),
            stderr,
        },
        ChannelError::NoDocument { code, .. } => ImportError::Exited { code, stderr },
        ChannelError::Garbage { stdout, .. } => ImportError::BadOutput { stdout, stderr },
    }
}

fn classify_failure(
    entry: &ProviderEntry,
    failure: ProbeFailure,
    server: &LlamaStackFacts,
) -> ImportError {
    let target = failure
        .target
        .unwrap_or_else(|| default_target(entry, server.distribution));
    let Some(exception) = failure.exception else {
        return match failure.kind.as_str() {
            "unknown_provider_type" => {
                unknown_provider_type(entry, server.distribution, failure.offered)
            }
            _ => ImportError::BadOutput {
                stdout: format!("probe reported {}", failure.kind),
                stderr: String::new(),
            },
        };
    };
    match failure.kind.as_str() {
        "import_failed" => {
            let package = entry
                .module
                .as_deref()
                .map(import_name)
                .unwrap_or_default()
                .to_string();
            classify_import(&package, &target, exception, server)
        }
        "get_provider_spec_missing" => ImportError::GetProviderSpecMissing { target, exception },
        "get_provider_spec_raised" => ImportError::GetProviderSpecRaised {
            summary: exception.summary(),
            command: server.run_command().to_string(),
            exception,
        },
        "spec_unreadable" => ImportError::SpecUnreadable {
            summary: exception.summary(),
            exception,
        },
        "registry_failed" => ImportError::RegistryFailed {
            api: entry.api.clone(),
            server: server.distribution,
            exception,
        },
        _ => ImportError::ImportFailed {
            target,
            summary: exception.summary(),
            command: server.run_command().to_string(),
            exception,
        },
    }
}

/// The module the probe imports first for `entry` under `server`: the
/// module shown before the probe has reported, and when a failure report
/// leaves it out.
pub(crate) fn default_target(entry: &ProviderEntry, server: Flavour) -> String {
    match &entry.module {
        Some(module) => format!("{}.provider", import_name(module)),
        None => server.registry_module(&entry.api),
    }
}

/// Whether an exception stops the interpreter instead of being handled as an
/// error (`except Exception` does not catch it).
fn is_process_ending(exception: &PyException) -> bool {
    matches!(exception.kind.as_str(), "SystemExit" | "KeyboardInterrupt")
}

/// Names the failure of an import on a provider's start-up path: while the
/// server imports the spec's `module`, or at `step` after it. A module that is
/// not installed is named with the `pip_packages` requirement that provides
/// it; anything else is classified as an import of `module` is.
pub(crate) fn classify_startup(
    module: &str,
    step: Option<&str>,
    exception: Box<PyException>,
    pip_packages: &[String],
    server: &LlamaStackFacts,
) -> ImportError {
    let package = module.split('.').next().unwrap_or(module);
    let target = match step {
        Some(step) => format!("what {step} imports"),
        None => module.to_string(),
    };
    // The package itself, llama-stack's or ogx's own modules: classified as
    // any import is.
    let missing = exception.missing_module().map(str::to_string);
    let Some(missing) = missing.filter(|missing| {
        missing.split('.').next() != Some(package) && Flavour::owning(missing).is_none()
    }) else {
        return classify_import(package, &target, exception, server);
    };
    let (provided_by, fix) = match requirement_providing(pip_packages, &missing) {
        Some(requirement) => (
            format!("Provided by: {requirement} (the spec's pip_packages)."),
            format!("Install it into the server's environment: pip install '{requirement}'"),
        ),
        None => (
            if pip_packages.is_empty() {
                "Provided by: unknown; the spec's pip_packages are empty.".to_string()
            } else {
                format!(
                    "Provided by: no entry of the spec's pip_packages, by its name ({}).",
                    pip_packages.join(", ")
                )
            },
            format!(
                "Install the distribution that provides the module '{missing}' into the server's environment (often pip install {})",
                missing
                    .split('.')
                    .next()
                    .unwrap_or(&missing)
                    .replace('_', "-")
            ),
        ),
    };
    ImportError::StartupModuleMissing {
        module: missing,
        step: match step {
            Some(step) => format!("in {step}"),
            None => format!("when it imports the spec's module {module}"),
        },
        provided_by,
        fix,
        exception,
    }
}

/// What the kernel layer of the sandbox answers a write or a connection it
/// refuses and the audit hook did not see (C code, a program): EACCES or
/// EPERM (Python's PermissionError), or ENETUNREACH in the network namespace.
fn is_sandbox_refusal(exception: &PyException) -> bool {
    exception.root_type == "PermissionError" || exception.root_message.starts_with("[Errno 101]")
}

/// The details of a failure that may be the sandbox's refusal.
const SANDBOX_REFUSAL: &str = "Preflight runs provider code in a sandbox that refuses, in the kernel too, every file write and every connection (C code and programs included) with \"Permission denied\" or \"Network is unreachable\": if that is what failed here, the provider writes or connects while it is imported, which preflight refuses as it refuses the attempts it can name (preflight::sandbox::denied; --allow-writes lets writes through).";

/// The import name the server uses for a `module:` value: the text before `==`.
pub(crate) fn import_name(module: &str) -> &str {
    module.split("==").next().unwrap_or(module)
}

/// Names the real cause of a failed import of `target`, which belongs to
/// `package` (empty for in-tree modules), under the installed `server`.
pub(crate) fn classify_import(
    package: &str,
    target: &str,
    exception: Box<PyException>,
    server: &LlamaStackFacts,
) -> ImportError {
    let Some(missing) = exception.missing_module().map(str::to_string) else {
        let target = target.to_string();
        return match exception.loader_failure() {
            Some(LoaderFailure::LibraryMissing(library)) => ImportError::SharedLibraryMissing {
                library,
                target,
                exception,
            },
            Some(LoaderFailure::UndefinedSymbol(symbol)) => ImportError::UndefinedSymbol {
                symbol,
                target,
                exception,
            },
            None => ImportError::ImportFailed {
                target,
                summary: exception.summary(),
                command: server.run_command().to_string(),
                exception,
            },
        };
    };
    let is_package_or_parent =
        !package.is_empty() && (missing == package || package.starts_with(&format!("{missing}.")));
    if is_package_or_parent {
        return ImportError::ModuleNotFound {
            hint: module_value_hint(package),
            package: package.to_string(),
            exception,
        };
    }
    if missing == target && !package.is_empty() {
        return ImportError::NoProviderModule {
            package: package.to_string(),
            server: server.distribution,
            exception,
        };
    }
    let top_level = missing.split('.').next().unwrap_or(&missing);
    match Flavour::owning(&missing) {
        Some(flavour) if flavour == server.distribution => {
            return ImportError::IncompatibleLlamaStack {
                release: server.release(),
                server: flavour,
                missing,
                target: target.to_string(),
                exception,
            };
        }
        Some(built_for) => {
            // A provider that falls back from one package to another (llama_stack_api,
            // then llama_stack) raises for the last; the first is the chain's root.
            let mut tried: Vec<String> = exception
                .root_missing_module
                .iter()
                .filter(|root| Flavour::owning(root) == Some(built_for))
                .cloned()
                .collect();
            if !tried.contains(&missing) {
                tried.push(missing);
            }
            return ImportError::BuiltForOtherServer {
                built_for,
                built_for_releases: built_for.supported_releases(),
                server: server.distribution,
                release: server.release(),
                api_package: server.distribution.api_package(),
                missing: tried,
                target: target.to_string(),
                exception,
            };
        }
        None => {}
    }
    ImportError::DependencyMissing {
        distribution_guess: top_level.replace('_', "-"),
        dependency: missing,
        target: target.to_string(),
        exception,
    }
}

/// Advice when `module:` is not a plain import name, the most common slip.
fn module_value_hint(package: &str) -> String {
    if package.contains('-') {
        format!(
            "module: takes the import name, not the distribution name: try '{}'.",
            package.replace('-', "_")
        )
    } else if package.contains(['>', '<', '[', ' ', '~', '!']) {
        "module: takes an import name, optionally followed by ==<version>; other version specifiers and extras are not understood by the server.".to_string()
    } else {
        format!(
            "Install the distribution that provides the import name '{package}' (pip install it, or put its --target directory on PYTHONPATH)."
        )
    }
}

fn unknown_provider_type(
    entry: &ProviderEntry,
    server: Flavour,
    offered: Vec<String>,
) -> ImportError {
    if let Some(removal) = server.removed_provider_type(&entry.api, &entry.provider_type) {
        return ImportError::RemovedProviderType {
            provider_type: entry.provider_type.clone(),
            api: entry.api.clone(),
            server,
            replacement: removal.what_replaced_it(),
            offered,
        };
    }
    let nearest = nearest(&entry.provider_type, &offered);
    let suggestion = match nearest {
        Some(name) => format!(
            "Did you mean '{name}'? Use one of the available types, or add module: <import name> to load an out-of-tree provider."
        ),
        None => "Use one of the available types, or add module: <import name> to load an out-of-tree provider.".to_string(),
    };
    ImportError::UnknownProviderType {
        provider_type: entry.provider_type.clone(),
        api: entry.api.clone(),
        offered,
        suggestion,
    }
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub(crate) fn nearest<'a>(wanted: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(wanted, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(wanted.len()) / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreter::ApiLayout;

    /// The facts of a `distribution` release whose APIs are eval and inference.
    fn server(distribution: Flavour, version: &str) -> LlamaStackFacts {
        LlamaStackFacts {
            distribution,
            version: version.into(),
            api_package: Some(distribution.api_package().into()),
            command: Some(format!("{distribution} run")),
            layout: ApiLayout {
                apis: vec!["eval".into(), "inference".into()],
                providable_apis: vec!["eval".into(), "inference".into()],
                ..ApiLayout::default()
            },
        }
    }

    fn exception(missing: Option<&str>) -> PyException {
        PyException {
            kind: if missing.is_some() {
                "ModuleNotFoundError"
            } else {
                "RuntimeError"
            }
            .into(),
            message: "m".into(),
            missing_module: missing.map(String::from),
            root_type: "ModuleNotFoundError".into(),
            root_message: "m".into(),
            root_missing_module: missing.map(String::from),
            root_path: None,
            traceback: "Traceback".into(),
            frames: Vec::new(),
        }
    }

    /// The code for an `ImportError` whose message is `message`, as the
    /// loader words it.
    fn classify_loader_message(message: &str) -> String {
        let raised = PyException {
            kind: "ImportError".into(),
            root_type: "ImportError".into(),
            message: message.into(),
            root_message: message.into(),
            ..exception(None)
        };
        let err = classify_import(
            "pkg",
            "pkg.provider",
            Box::new(raised),
            &server(Flavour::LlamaStack, "0.7.3"),
        );
        format!(
            "{} {err}",
            err.code().map(|code| code.to_string()).unwrap_or_default()
        )
    }

    #[test]
    fn the_loaders_own_words_name_the_library_or_the_symbol() {
        assert_eq!(
            classify_loader_message(
                "libGL.so.1: cannot open shared object file: No such file or directory"
            ),
            "preflight::import::shared_library_missing Importing pkg.provider needs the shared library libGL.so.1, which the dynamic loader cannot find"
        );
        assert_eq!(
            classify_loader_message(
                "Error loading shared library libgomp.so.1: No such file or directory (needed by /v/x/_ext.so)"
            ),
            "preflight::import::shared_library_missing Importing pkg.provider needs the shared library libgomp.so.1, which the dynamic loader cannot find"
        );
        assert_eq!(
            classify_loader_message(
                "/v/torchvision/_C.so: undefined symbol: _ZN3c1017RegisterOperators"
            ),
            "preflight::import::undefined_symbol Importing pkg.provider failed: a native library lacks the symbol _ZN3c1017RegisterOperators"
        );
        assert_eq!(
            classify_loader_message(
                "Error relocating /v/x/_ext.so: png_set_longjmp_fn: symbol not found"
            ),
            "preflight::import::undefined_symbol Importing pkg.provider failed: a native library lacks the symbol png_set_longjmp_fn"
        );
        assert_eq!(
            classify_loader_message("cannot import name 'x' from 'y'"),
            "preflight::import::import_failed Importing pkg.provider raised ImportError: cannot import name 'x' from 'y'"
        );
    }

    fn classify_under(flavour: Flavour, package: &str, missing: Option<&str>) -> String {
        let err = classify_import(
            package,
            &format!("{package}.provider"),
            Box::new(exception(missing)),
            &server(flavour, "1.5.0"),
        );
        err.code().map(|code| code.to_string()).unwrap_or_default()
    }

    fn classify(package: &str, missing: Option<&str>) -> String {
        classify_under(Flavour::LlamaStack, package, missing)
    }

    /// The code and reason of a start-up failure of the in-tree module
    /// `llama_stack.providers.remote.inference.x`.
    fn classify_at_startup(raised: PyException, pip_packages: &[&str]) -> (String, String) {
        let packages: Vec<String> = pip_packages.iter().map(|p| p.to_string()).collect();
        let err = classify_startup(
            "llama_stack.providers.remote.inference.x",
            Some("get_adapter_impl()"),
            Box::new(raised),
            &packages,
            &server(Flavour::LlamaStack, "0.7.3"),
        );
        let code = err.code().map(|code| code.to_string()).unwrap_or_default();
        let details = err.details().unwrap_or_default();
        (code, format!("{err}\n{details}\n{}", err.help().unwrap()))
    }

    #[test]
    fn a_module_start_up_needs_is_named_with_its_requirement_and_chain() {
        let raised = PyException {
            frames: vec![crate::probe::Frame {
                file: "/x/__init__.py".into(),
                line: Some(19),
                code: "from .x import Adapter".into(),
            }],
            ..exception(Some("together"))
        };
        let (code, text) = classify_at_startup(raised, &["fireworks-ai", "together>=2"]);
        assert_eq!(code, "preflight::import::startup_module_missing");
        assert_eq!(
            text,
            "Module 'together' is not installed: the server imports it when it creates this provider\n\
             Start-up imports it in get_adapter_impl(), along this chain:\n  \
             /x/__init__.py line 19: from .x import Adapter\n\
             Provided by: together>=2 (the spec's pip_packages).\n\
             Install it into the server's environment: pip install 'together>=2'"
        );
        let (_, text) = classify_at_startup(exception(Some("tqdm")), &["nltk"]);
        assert!(
            text.contains("Provided by: no entry of the spec's pip_packages, by its name (nltk)."),
            "{text}"
        );
        assert!(text.ends_with("(often pip install tqdm)"), "{text}");
    }

    #[test]
    fn other_start_up_failures_are_classified_as_imports_are() {
        let (code, _) = classify_at_startup(exception(Some("llama_stack.gone")), &[]);
        assert_eq!(code, "preflight::import::incompatible_llama_stack");
        let (code, text) = classify_at_startup(exception(None), &[]);
        assert_eq!(code, "preflight::import::import_failed");
        assert!(
            text.starts_with("Importing what get_adapter_impl() imports raised RuntimeError: m"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_module_is_blamed_on_the_right_party() {
        assert_eq!(
            classify("pkg", Some("pkg")),
            "preflight::import::module_not_found"
        );
        assert_eq!(
            classify("org.pkg", Some("org")),
            "preflight::import::module_not_found"
        );
        assert_eq!(
            classify("pkg", Some("pkg.provider")),
            "preflight::import::no_provider_module"
        );
        assert_eq!(
            classify("pkg", Some("kubernetes.client")),
            "preflight::import::dependency_missing"
        );
        assert_eq!(
            classify("pkg", Some("llama_stack.providers.datatypes")),
            "preflight::import::incompatible_llama_stack"
        );
        assert_eq!(classify("pkg", None), "preflight::import::import_failed");
        assert_eq!(
            classify("pkg", Some("ogx_api")),
            "preflight::import::built_for_other_server"
        );
    }

    #[test]
    fn a_provider_built_for_llama_stack_is_named_so_under_ogx() {
        assert_eq!(
            classify_under(Flavour::Ogx, "pkg", Some("llama_stack_api")),
            "preflight::import::built_for_other_server"
        );
        assert_eq!(
            classify_under(Flavour::Ogx, "pkg", Some("ogx.providers.utils.x")),
            "preflight::import::incompatible_llama_stack"
        );
        // The fallback import is what raised; the first one is the chain's root.
        let fell_back = PyException {
            missing_module: Some("llama_stack".into()),
            root_missing_module: Some("llama_stack_api".into()),
            ..exception(Some("llama_stack"))
        };
        let err = classify_import(
            "pkg",
            "pkg.provider",
            Box::new(fell_back),
            &server(Flavour::Ogx, "1.5.0"),
        );
        assert_eq!(
            err.to_string(),
            "Provider is built for llama-stack, not for the installed ogx 1.5.0"
        );
        assert_eq!(
            err.details().unwrap(),
            "Importing pkg.provider needs 'llama_stack_api' and then, as its fallback, 'llama_stack', llama-stack's own packages, which ogx 1.5.0 does not have: llama-stack continues as ogx under new names (llama_stack is ogx, llama_stack_api is ogx_api), and ogx 1.5.0 keeps nothing of the old ones. The server reports this as \"get_provider_spec not found\"."
        );
    }

    #[test]
    fn a_distribution_name_in_module_gets_the_import_name_as_hint() {
        assert_eq!(
            module_value_hint("llama-stack-provider-x"),
            "module: takes the import name, not the distribution name: try 'llama_stack_provider_x'."
        );
    }

    #[test]
    fn typos_find_their_nearest_type() {
        let offered = vec!["remote::nvidia".to_string(), "inline::builtin".to_string()];
        assert_eq!(nearest("remote::nvidai", &offered), Some("remote::nvidia"));
        assert_eq!(nearest("remote::something-else", &offered), None);
    }

    #[test]
    fn the_import_name_is_the_text_before_the_version_pin() {
        assert_eq!(import_name("pkg==1.0"), "pkg");
        assert_eq!(import_name("pkg"), "pkg");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, mutated_json};

        /// Documents of the shapes the probe prints (see probe/preflight_probe.py).
        const SAMPLES: &[&str] = &[
            r#"{"result": "ok", "source": "external", "target": "pf_good.provider", "returned": {"kind": "value", "python_type": "RemoteProviderSpec"}, "spec": {"class": "RemoteProviderSpec", "remote": true, "fields": {"api": "eval", "provider_type": "remote::pf_good", "config_class": "pf_good.config.Config", "module": "pf_good", "pip_packages": ["ollama>=1"], "api_dependencies": ["inference"], "deprecation_warning": null, "description": null}}, "implementation": {"ok": true, "module": "pf_good", "entry_point": "get_adapter_impl", "has_entry_point": true}, "config": {"ok": true, "class": "pf_good.config.Config", "is_class": true, "schema": {"properties": {"url": {"type": "string"}}, "title": "Config", "type": "object"}}, "config_check": {"ok": true, "valid": false, "errors": [{"loc": ["url"], "msg": "Input should be a valid string"}]}, "sandbox": {"denied": [], "programs": [{"operation": "subprocess.Popen", "target": "true"}], "changed": []}}"#,
            r#"{"result": "ok", "source": "external", "target": "pf_list.provider", "returned": {"kind": "list", "offered": ["inline::pf_list", {"$type": "non-UTF-8 text", "$repr": "remote::x\\udcff"}]}, "spec": null, "sandbox": {"denied": [], "programs": [], "changed": []}}"#,
            r#"{"result": "error", "kind": "import_failed", "target": "pf_missing_dep.provider", "exception": {"type": "ModuleNotFoundError", "message": "No module named 'dep'", "missing_module": "dep", "root_type": "ModuleNotFoundError", "root_message": "No module named 'dep'", "root_missing_module": "dep", "traceback": "Traceback (most recent call last):\nModuleNotFoundError: No module named 'dep'\n"}, "sandbox": {"denied": [], "programs": [], "changed": []}}"#,
            r#"{"result": "error", "kind": "unknown_provider_type", "target": "llama_stack.providers.registry.inference", "offered": ["remote::ollama", "remote::vllm"], "sandbox": {"denied": [{"operation": "write", "target": "/tmp/x"}], "programs": [], "changed": [{"operation": "os.chdir", "target": "/"}]}}"#,
            r#"{"result": "error", "kind": "spec_unreadable", "target": "pf.provider", "exception": {"type": "RuntimeError", "message": "", "missing_module": null, "root_type": "RuntimeError", "root_message": "", "root_missing_module": null, "traceback": ""}}"#,
        ];

        /// The run.yaml `entry()` comes from.
        const RUN_YAML: &str = "distro_name: t\nproviders:\n  eval:\n  - provider_id: good\n    provider_type: remote::pf_good\n    module: pf_good==1.0\n    config:\n      url: 1\n";

        fn entry() -> ProviderEntry {
            ProviderEntry {
                api: "eval".into(),
                index: 0,
                provider_id: Some("good".into()),
                provider_type: "remote::pf_good".into(),
                module: Some("pf_good==1.0".into()),
                disabled: None,
                provider_id_template: None,
                config: serde_json::json!({"url": 1}),
                line: None,
            }
        }

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_probe_document_is_classified_and_rendered(text in mutated_json(SAMPLES)) {
                let Ok(document) = serde_json::from_str::<ProviderDocument>(&text) else {
                    return Ok(());
                };
                let probed = Probed { document, elapsed: Duration::ZERO, leftovers: Vec::new() };
                let facts = server(Flavour::LlamaStack, "0.7.3");
                match interpret(&entry(), probed, &facts) {
                    Ok((report, _)) => {
                        let mut warnings = Vec::new();
                        match crate::spec::validate(&entry(), report, &facts, RUN_YAML, &mut warnings) {
                            Ok(_) => {}
                            Err(crate::spec::Rejection::Spec(err)) => prop_assert!(!fuzzing::render(err).is_empty()),
                            Err(crate::spec::Rejection::Import(err)) => prop_assert!(!fuzzing::render(err).is_empty()),
                        }
                    }
                    Err(err) => prop_assert!(!fuzzing::render(err).is_empty()),
                }
            }
        }
    }
}
