//! Walks the phases in the spec's order and stops at the first failure (FR-021).
//!
//! run.yaml is read, then the interpreter is chosen and started (both can be
//! the caller's fault, exit 2, so they come before anything that judges the
//! configuration), then run.yaml's sections are checked against the installed
//! llama-stack, then each provider in file order goes through import, spec
//! retrieval and spec validation in its own probe process. What needs no
//! llama-stack import to be certain comes before all that, before the
//! interpreter imports llama-stack's core at all, in the server's order
//! (every `module:` provider before any in-tree one): every provider's
//! native-code checks (in Rust), and whether each `module:` provider's package
//! is on the path. A fault found there ends the run at once (fail-fast), and
//! the report says it stopped before the import. The result is the spec's `PreflightResult`; rendering
//! it is the report's job.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Disabled, ProviderEntry, RunConfig, env::Environment};
use crate::cross_provider;
use crate::diagnostics::{Failure, PhaseError, ProviderContext, Warning};
use crate::flavour::Flavour;
use crate::import::{self, Attempt, CheckSettings, ProbeReport};
use crate::interpreter::{self, InterpreterFacts, SelectionEnv, Starting};
use crate::metadata::{self, MetadataReport};
use crate::native;
use crate::probe::Runner;
use crate::sandbox::KernelSandbox;
use crate::spec::{self, Rejection, ValidatedSpec};
use crate::stack_config::{self, StackFacts};

/// What the command line asks for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) run_yaml: PathBuf,
    pub(crate) python: Option<PathBuf>,
    pub(crate) timeout: Duration,
    /// Let provider code write files while it is imported.
    pub(crate) allow_writes: bool,
    /// Build each provider's config class from its run.yaml config.
    pub(crate) check_config: bool,
    /// Where `<provider_id>/lls-provider-spec.yaml` files are; `None` skips the
    /// metadata phase.
    pub(crate) metadata_dir: Option<PathBuf>,
    /// Check providers in forks of one warm interpreter when that is safe.
    pub(crate) fork: bool,
    /// Confine the probe processes with the kernel's help where it offers it
    /// (the audit hook confines them in any case).
    pub(crate) kernel_sandbox: bool,
    /// The command that starts the server (`--exec`'s), when known.
    pub(crate) server_command: Option<Vec<OsString>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderStatus {
    Passed,
    Failed,
    Skipped(Disabled),
    /// A later entry of its section has the same provider_id: the server
    /// looks its type up (importing its `module:`) but starts only the later
    /// entry.
    Shadowed,
    /// Not fully judged: the checks stopped at an error first.
    NotChecked(Unchecked),
}

impl ProviderStatus {
    /// Why a provider was skipped or not checked.
    pub(crate) fn reason(self) -> Option<&'static str> {
        match self {
            ProviderStatus::Passed | ProviderStatus::Failed => None,
            ProviderStatus::Skipped(disabled) => Some(disabled.describe()),
            ProviderStatus::Shadowed => Some(
                "a later entry of the section has the same provider_id; the server starts only that one",
            ),
            ProviderStatus::NotChecked(how_far) => Some(how_far.describe()),
        }
    }
}

/// How far a provider that is not labelled got before the checks stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unchecked {
    /// An earlier provider failed before its turn.
    NotReached,
    /// Its own checks passed; the checks across providers stopped at an
    /// earlier provider.
    NotCheckedAcross,
}

impl Unchecked {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Unchecked::NotReached => "the checks stopped at an earlier error",
            Unchecked::NotCheckedAcross => {
                "its own checks passed; the checks across providers stopped at an earlier error"
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct ProviderResult {
    pub(crate) entry: ProviderEntry,
    pub(crate) status: ProviderStatus,
    /// The module the server imports: the `module:` import name for external
    /// providers, the registry spec's module for in-tree ones once known.
    pub(crate) module: String,
    pub(crate) duration: Option<Duration>,
    pub(crate) spec: Option<ValidatedSpec>,
    pub(crate) metadata: Option<MetadataReport>,
}

/// What the pipeline starts next, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// Starting the interpreter and asking it what it has installed.
    Interpreter,
    /// Checking the provider at `position` (from 1) of `total` in file order.
    Provider {
        api: &'a str,
        provider_id: &'a str,
        position: usize,
        total: usize,
    },
}

/// Everything a run found (the spec's `PreflightResult`).
#[derive(Debug)]
pub(crate) struct PreflightResult {
    pub(crate) run_yaml: PathBuf,
    pub(crate) interpreter: Option<InterpreterFacts>,
    pub(crate) providers: Vec<ProviderResult>,
    pub(crate) failure: Option<Failure>,
    pub(crate) warnings: Vec<Warning>,
    /// The run stopped at a fault certain without importing llama-stack,
    /// which was then never imported.
    pub(crate) stopped_before_import: bool,
}

impl PreflightResult {
    fn failed(mut self, failure: Failure) -> Self {
        self.failure = Some(failure);
        self
    }
}

/// Runs every phase for `options`, telling `progress` what starts next.
pub(crate) fn run(
    options: &Options,
    selection: &SelectionEnv,
    environment: &dyn Environment,
    progress: &dyn Fn(Step<'_>),
) -> PreflightResult {
    let mut result = PreflightResult {
        run_yaml: options.run_yaml.clone(),
        interpreter: None,
        providers: Vec::new(),
        failure: None,
        warnings: Vec::new(),
        stopped_before_import: false,
    };
    let text = match config::read(&options.run_yaml) {
        Ok(text) => text,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    // Parsed now, judged later: an interpreter that cannot run is the
    // caller's fault (exit 2) and is reported first.
    let loaded = config::load(&options.run_yaml, &text, environment);
    let order = loaded.as_ref().map(server_order).unwrap_or_default();
    let externals: Vec<&str> = (order.iter())
        .map_while(|&index| loaded.as_ref().ok()?.providers[index].module.as_deref())
        .collect();
    progress(Step::Interpreter);
    let starting =
        match interpreter::select(options.python.as_deref(), selection).and_then(|chosen| {
            let sandbox = KernelSandbox::prepare(options.allow_writes, options.kernel_sandbox);
            interpreter::start(
                chosen,
                options.timeout,
                options.fork,
                &externals,
                Arc::new(sandbox),
            )
        }) {
            Ok(starting) => starting,
            Err(err) => return result.failed(Failure::new(None, err)),
        };
    if let Some(dir) = options.metadata_dir.as_deref().filter(|dir| !dir.is_dir()) {
        result.warnings.push(Warning {
            provider_id: None,
            code: "preflight::metadata::no_directory",
            message: format!(
                "metadata directory {} does not exist; no metadata compared",
                dir.display()
            ),
            mismatch: None,
        });
    }
    let metadata_dir = options.metadata_dir.as_deref().filter(|dir| dir.is_dir());
    let settings = CheckSettings {
        timeout: options.timeout,
        allow_writes: options.allow_writes,
        check_config: options.check_config,
    };
    let mut native = native::Checker::new(starting.facts());
    // Known from run.yaml alone, so said whatever fails later.
    let shadowed = match &loaded {
        Ok(config) => cross_provider::shadowed_entries(&config.providers, &mut result.warnings),
        Err(_) => Vec::new(),
    };
    let mut native_warnings = Vec::new();
    if let Ok(config) = &loaded {
        let early = check_before_import(
            config,
            &order,
            &shadowed,
            &starting,
            settings,
            &mut native,
            progress,
        );
        match early {
            Ok(warnings) => native_warnings = warnings,
            Err(stopped) => {
                let server = starting.facts().llama_stack.distribution;
                result.interpreter = Some(starting.facts().clone());
                result.providers = (config.providers.iter().cloned())
                    .map(|entry| not_checked(entry, server))
                    .collect();
                result.providers[stopped.index] = stopped.provider;
                result.warnings.extend(stopped.warnings);
                result.stopped_before_import = true;
                return result.failed(stopped.failure);
            }
        }
    }
    let (facts, mut runner) = match starting.finish() {
        Ok(finished) => finished,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    result.interpreter = Some(facts.clone());
    let mut config = match loaded {
        Ok(config) => config,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    // In the server's order: its run command reads run.yaml with its own code,
    // then (ogx) refuses a missing TLS setup, then starts the server, which
    // decides what follows before it looks at any provider section.
    let stack = match stack_config::read(
        &mut runner,
        &options.run_yaml,
        &config,
        &text,
        options.timeout,
    ) {
        Ok(stack) => stack,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    let server_command = options.server_command.as_deref();
    if let Err(err) = config::tls::check(
        &config.tls,
        &facts.llama_stack,
        server_command,
        &mut result.warnings,
    ) {
        return result.failed(Failure::new(None, err));
    }
    if let Err(err) =
        stack_config::check_before_providers(&stack, &config, &text, &mut result.warnings)
    {
        return result.failed(Failure::new(None, err));
    }
    if let Err(err) = config::check_sections(&config, &facts.llama_stack) {
        return result.failed(Failure::new(None, err));
    }
    let inputs = CheckInputs {
        facts: &facts,
        settings,
        metadata_dir,
        run_yaml: &text,
        stack: &stack,
    };
    let providers = std::mem::take(&mut config.providers);
    let total = providers.len();
    for (index, entry) in providers.into_iter().enumerate() {
        if result.failure.is_some() {
            result
                .providers
                .push(not_checked(entry, facts.llama_stack.distribution));
            continue;
        }
        progress(Step::Provider {
            api: &entry.api,
            provider_id: &entry.display_id(),
            position: index + 1,
            total,
        });
        let native_found = native_warnings.get_mut(index).map(std::mem::take);
        result.warnings.extend(native_found.unwrap_or_default());
        let checked = check_provider(
            entry,
            shadowed[index],
            &mut runner,
            &inputs,
            &mut result.warnings,
        );
        result.failure = checked.1;
        result.providers.push(checked.0);
    }
    let scanned = native.stats();
    tracing::info!(
        distributions = scanned.distributions,
        files = scanned.files,
        bytes_read = scanned.bytes_read,
        elapsed_ms = scanned.elapsed.as_millis() as u64,
        "native checks, whole run"
    );
    if result.failure.is_none() {
        config.providers = result
            .providers
            .iter()
            .map(|provider| provider.entry.clone())
            .collect();
        let checked = cross_provider::check(
            &config.apis,
            &result.providers,
            &facts,
            &mut result.warnings,
        )
        .and_then(|()| {
            stack_config::check_after_providers(&stack, &config, &text)
                .map_err(|err| (None, Failure::new(None, err)))
        });
        if let Err((at, failure)) = checked {
            // The provider that passed its own checks fails here, and those
            // after it were never judged across providers: show them so.
            if let Some(at) = at {
                result.providers[at].status = ProviderStatus::Failed;
                result.providers[at + 1..]
                    .iter_mut()
                    .filter(|provider| provider.status == ProviderStatus::Passed)
                    .for_each(|provider| {
                        provider.status = ProviderStatus::NotChecked(Unchecked::NotCheckedAcross)
                    });
            }
            result.failure = Some(failure);
        }
    }
    result
}

/// The indices of the entries the server loads anything of, in its order:
/// every `module:` provider, in file order, before any in-tree one, since it
/// imports them all before it does anything else with providers
/// (`get_provider_registry`).
fn server_order(config: &RunConfig) -> Vec<usize> {
    let imported =
        || (config.providers.iter().enumerate()).filter(|(_, entry)| entry.is_imported());
    let external = imported().filter(|(_, entry)| entry.module.is_some());
    let in_tree = imported().filter(|(_, entry)| entry.module.is_none());
    external.chain(in_tree).map(|(index, _)| index).collect()
}

/// Where [`check_before_import`] stopped.
struct StoppedEarly {
    index: usize,
    provider: ProviderResult,
    failure: Failure,
    /// The native warnings of the providers checked until then.
    warnings: Vec<Warning>,
}

/// Judges, in the server's `order`, what is certain before llama-stack is
/// imported, while the interpreter waits to import it: each provider's native
/// files (FR-008d), then, for a `module:` provider whose package no finder
/// locates, its real import in a fresh interpreter, which fails whatever
/// llama-stack would do first (and so shows the real traceback). The first
/// fault stops the run; otherwise each provider's native warnings, by index,
/// to show in its turn. A package found by its import after all (an unusual
/// finder) is checked again in its turn.
fn check_before_import(
    config: &RunConfig,
    order: &[usize],
    shadowed: &[bool],
    starting: &Starting,
    settings: CheckSettings,
    native: &mut native::Checker,
    progress: &dyn Fn(Step<'_>),
) -> Result<Vec<Vec<Warning>>, Box<StoppedEarly>> {
    let facts = starting.facts();
    let mut found = vec![Vec::new(); config.providers.len()];
    for (position, &index) in order.iter().enumerate() {
        let entry = &config.providers[index];
        let provider = ProviderResult {
            status: ProviderStatus::Passed,
            ..not_checked(entry.clone(), facts.llama_stack.distribution)
        };
        let failed = match native.check(entry, &mut found[index]) {
            Err(err) => fail(provider, err),
            Ok(()) if entry.module.is_some() && starting.external_absent(position) => {
                progress(Step::Provider {
                    api: &entry.api,
                    provider_id: &entry.display_id(),
                    position: index + 1,
                    total: config.providers.len(),
                });
                tracing::info!(
                    provider = entry.display_id(),
                    "no finder locates this module: provider's package; importing it in a fresh interpreter before llama-stack's core"
                );
                let mut fresh = starting.fresh_runner();
                // The server imports a shadowed entry's module too.
                let registry_only = entry.disabled.is_some() || shadowed[index];
                let probed = import::probe_provider(
                    &mut fresh,
                    entry,
                    registry_only,
                    &facts.llama_stack,
                    settings,
                    None,
                );
                match probed {
                    Err(err) => fail(provider, err),
                    Ok(_) => continue,
                }
            }
            Ok(()) => continue,
        };
        if let (provider, Some(failure)) = failed {
            return Err(Box::new(StoppedEarly {
                index,
                provider,
                failure,
                warnings: found.into_iter().flatten().collect(),
            }));
        }
    }
    Ok(found)
}

/// An entry the checks did not reach: not checked, unless the server would
/// not look at it either (a disabled entry without `module:`).
fn not_checked(entry: ProviderEntry, server: Flavour) -> ProviderResult {
    let status = match entry.disabled.filter(|_| !entry.is_imported()) {
        Some(disabled) => ProviderStatus::Skipped(disabled),
        None => ProviderStatus::NotChecked(Unchecked::NotReached),
    };
    ProviderResult {
        module: default_module(&entry, server),
        status,
        duration: None,
        spec: None,
        metadata: None,
        entry,
    }
}

/// The module shown before the probe has reported: the import name of an
/// external provider, the registry of an in-tree one.
fn default_module(entry: &ProviderEntry, server: Flavour) -> String {
    match &entry.module {
        Some(module) => import::import_name(module).to_string(),
        None => server.registry_module(&entry.api),
    }
}

/// What every provider's check reads.
struct CheckInputs<'a> {
    facts: &'a InterpreterFacts,
    settings: CheckSettings,
    metadata_dir: Option<&'a Path>,
    /// run.yaml's text, where refused settings are looked up.
    run_yaml: &'a str,
    /// What the server's own reading of run.yaml found.
    stack: &'a StackFacts,
}

fn check_provider(
    entry: ProviderEntry,
    shadowed: bool,
    runner: &mut Runner,
    inputs: &CheckInputs,
    warnings: &mut Vec<Warning>,
) -> (ProviderResult, Option<Failure>) {
    let facts = inputs.facts;
    let mut result = ProviderResult {
        module: default_module(&entry, facts.llama_stack.distribution),
        status: ProviderStatus::Passed,
        duration: None,
        spec: None,
        metadata: None,
        entry,
    };
    let entry = &result.entry;
    if let Some(disabled) = entry.disabled.filter(|_| !entry.is_imported()) {
        result.status = ProviderStatus::Skipped(disabled);
        return (result, None);
    }
    // Like a disabled entry's, a shadowed entry's spec is only looked up.
    let registry_only = entry.disabled.is_some() || shadowed;
    let probed = import::probe_provider(
        runner,
        entry,
        registry_only,
        &facts.llama_stack,
        inputs.settings,
        inputs.stack.spec_file(entry),
    );
    let report: ProbeReport = match probed {
        Ok((report, elapsed)) => {
            result.duration = Some(elapsed);
            report
        }
        Err(err) => return fail(result, err),
    };
    let attempts: Vec<String> = report
        .sandbox
        .denied
        .iter()
        .map(Attempt::describe)
        .collect();
    let denied = (!attempts.is_empty()).then(|| {
        (
            "preflight::sandbox::denied_and_caught",
            format!(
                "importing the provider tried {}; preflight denied it, the provider code caught the refusal and its import went on, as it will at the server, where the attempt is allowed (and happens on every start)",
                attempts.join(", ")
            ),
        )
    });
    let programs = report.sandbox.programs.iter().map(|program| {
        (
            "preflight::sandbox::program_started",
            format!(
                "importing the provider started a program ({} {}); only the kernel layers of preflight's sandbox confine programs",
                program.operation, program.target
            ),
        )
    });
    warnings.extend(
        denied
            .into_iter()
            .chain(programs)
            .map(|(code, message)| Warning {
                provider_id: entry.provider_id.clone(),
                code,
                message,
                mismatch: None,
            }),
    );
    if let Some(disabled) = entry.disabled {
        // The server imported it and called get_provider_spec(); nothing more.
        result.status = ProviderStatus::Skipped(disabled);
        return (result, None);
    }
    if shadowed {
        // The server also checks its deprecation, across providers.
        result.status = ProviderStatus::Shadowed;
        result.spec = report.spec.map(ValidatedSpec::looked_up);
        return (result, None);
    }
    if entry.module.is_none()
        && let Some(module) = report
            .spec
            .as_ref()
            .and_then(|spec| spec.fields.get("module"))
            .and_then(|m| m.as_str())
    {
        result.module = module.to_string();
    }
    let config_check = report.config_check.clone();
    match spec::validate(entry, report, &facts.llama_stack, inputs.run_yaml, warnings) {
        Ok(spec) => {
            let config_class = spec
                .fields
                .get("config_class")
                .and_then(|class| class.as_str())
                .unwrap_or_default();
            if let Err(err) = stack_config::check_provider_config(
                entry,
                config_check.as_ref(),
                config_class,
                inputs.stack,
                inputs.run_yaml,
                warnings,
            ) {
                return fail(result, err);
            }
            if let (Some(dir), Some(provider_id)) =
                (inputs.metadata_dir, entry.provider_id.as_deref())
            {
                let runtime = metadata::Runtime {
                    provider_id,
                    api: &entry.api,
                    module: entry.module.as_deref().map(import::import_name),
                    spec: &spec.fields,
                };
                result.metadata = Some(metadata::compare(dir, &runtime, warnings));
            }
            result.spec = Some(spec);
            (result, None)
        }
        Err(Rejection::Spec(err)) => fail(result, err),
        Err(Rejection::Import(err)) => fail(result, err),
    }
}

fn fail(mut result: ProviderResult, error: impl PhaseError) -> (ProviderResult, Option<Failure>) {
    result.status = ProviderStatus::Failed;
    let context = ProviderContext {
        provider_id: result.entry.display_id(),
        api: result.entry.api.clone(),
        module: result.module.clone(),
    };
    (result, Some(Failure::new(Some(context), error)))
}
