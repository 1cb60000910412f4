//! Walks the phases in the spec's order and stops at the first failure
//! (FR-021), or, with `--keep-going`, checks every provider and collects every
//! provider's failure in file order.
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
//! the report says it stopped before the import. The result is the spec's
//! `PreflightResult`; rendering it is the report's job.
//!
//! `--keep-going` changes the provider stage only: what comes before it
//! establishes what the providers are judged against, so it still stops the
//! run. Every provider is then checked, whatever failed before it, and the
//! checks across providers judge every provider that passed its own, each to
//! its first failure, counting one that failed its own as present (its
//! failure is already reported, and must not show up again as another's
//! missing dependency). The faults certain before the import are still found
//! first, but none stops the run: each is that provider's failure, reported in
//! its turn, so that every failure comes in file order, the run's own (the
//! stores, the registered resources) last. Nothing is left not checked.
//! Failing fast, the labels say how far the run got: not reached, or passed
//! its own checks but not checked across providers.
//!
//! After the phases, `--print-config` adds the effective configuration (which
//! the providers' config classes help redact) and `--deny-warnings` turns a
//! run that only warned into a failure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::Diagnostic;
use thiserror::Error;

use crate::config::{self, ProviderEntry, RunConfig};
use crate::cross_provider;
use crate::diagnostics::{Failure, Phase, PhaseError, Warning};
use crate::effective_config;
use crate::environment::ServerEnvironment;
use crate::flavour::Flavour;
use crate::import::{self, Attempt, CheckSettings, ProbeReport};
use crate::interpreter::{self, InterpreterFacts, SelectionEnv, Starting};
use crate::metadata;
use crate::native;
use crate::probe::{Launch, Runner, Ticket};
use crate::results::{PreflightResult, ProviderResult, ProviderStatus, Unchecked};
use crate::sandbox::KernelSandbox;
use crate::spec::{self, Rejection, ValidatedSpec};
use crate::stack_config::{self, StackFacts};

/// The failure `--deny-warnings` makes of a run that only warned.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum DeniedError {
    #[error("{count} warning(s) ({codes}), and --deny-warnings makes any warning fail the run")]
    #[diagnostic(
        code(preflight::warnings::denied),
        help(
            "Fix what the warnings above say, or run without --deny-warnings: on their own they would not stop the server."
        )
    )]
    WarningsDenied {
        count: usize,
        /// The warnings' codes, each once, in the order they came.
        codes: String,
    },
}

impl PhaseError for DeniedError {
    fn phase(&self) -> Phase {
        Phase::Warnings
    }
}

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
    /// How many forked checks run at once.
    pub(crate) jobs: usize,
    /// Confine the probe processes with the kernel's help where it offers it
    /// (the audit hook confines them in any case).
    pub(crate) kernel_sandbox: bool,
    /// The command that starts the server (`--exec`'s), when known.
    pub(crate) server_command: Option<Vec<OsString>>,
    /// Check every provider, whatever failed before it.
    pub(crate) keep_going: bool,
    /// Count any warning as a failure.
    pub(crate) deny_warnings: bool,
    /// Build the effective configuration (`--print-config`).
    pub(crate) print_config: bool,
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

/// Runs every phase for `options`, telling `progress` what starts next.
pub(crate) fn run(
    options: &Options,
    selection: &SelectionEnv,
    environment: &ServerEnvironment,
    progress: &dyn Fn(Step<'_>),
) -> PreflightResult {
    let text = match config::read(&options.run_yaml) {
        Ok(text) => text,
        Err(err) => {
            return PreflightResult::new(options.run_yaml.clone()).failed(Failure::new(None, err));
        }
    };
    let mut result = run_phases(options, &text, selection, environment, progress);
    if options.print_config {
        result.effective_config = effective_config::build(&text, environment, &result.providers);
    }
    if options.deny_warnings && result.failures.is_empty() && !result.warnings.is_empty() {
        let mut codes: Vec<&str> = Vec::new();
        for warning in &result.warnings {
            if !codes.contains(&warning.code) {
                codes.push(warning.code);
            }
        }
        let denied = DeniedError::WarningsDenied {
            count: result.warnings.len(),
            codes: codes.join(", "),
        };
        result.failures.push(Failure::new(None, denied));
    }
    result
}

/// Every phase, in order, up to the failure that ends the run.
fn run_phases(
    options: &Options,
    text: &str,
    selection: &SelectionEnv,
    environment: &ServerEnvironment,
    progress: &dyn Fn(Step<'_>),
) -> PreflightResult {
    let mut result = PreflightResult::new(options.run_yaml.clone());
    // Parsed now, judged later: an interpreter that cannot run is the
    // caller's fault (exit 2) and is reported first.
    let loaded = config::load(&options.run_yaml, text, environment);
    let order = loaded.as_ref().map(server_order).unwrap_or_default();
    let externals: Vec<&str> = (order.iter())
        .map_while(|&index| loaded.as_ref().ok()?.providers[index].module.as_deref())
        .collect();
    progress(Step::Interpreter);
    let starting =
        match interpreter::select(options.python.as_deref(), selection).and_then(|chosen| {
            let launch = Launch {
                sandbox: Arc::new(KernelSandbox::prepare(
                    options.allow_writes,
                    options.kernel_sandbox,
                )),
                environment: environment.vars(),
            };
            interpreter::start(chosen, options.timeout, options.fork, &externals, launch)
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
    let mut early = Vec::new();
    if let Ok(config) = &loaded {
        early = check_before_import(
            config,
            &shadowed,
            &starting,
            settings,
            &mut native,
            options.keep_going,
            progress,
        );
        let mut faults = (early.iter_mut().enumerate())
            .filter_map(|(index, found)| Some((index, found.fault.take()?)));
        // Under --keep-going each fault waits for its provider's turn.
        if !options.keep_going
            && let Some((index, (provider, failure))) = faults.next()
        {
            let server = starting.facts().llama_stack.distribution;
            result.interpreter = Some(starting.facts().clone());
            result.providers = (config.providers.iter().cloned())
                .map(|entry| not_checked(entry, server))
                .collect();
            result.providers[index] = provider;
            result
                .warnings
                .extend(early.into_iter().flat_map(|found| found.warnings));
            result.stopped_before_import = true;
            return result.failed(failure);
        }
    }
    let (facts, mut runner) = match starting.finish(options.jobs) {
        Ok(finished) => finished,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    result.interpreter = Some(facts.clone());
    let server_command = options.server_command.as_deref();
    if let Err(err) = config::port::check_variable(
        config::port::Stage::CommandLine,
        &facts.llama_stack,
        server_command,
        environment,
        &mut result.warnings,
    ) {
        return result.failed(Failure::new(None, err));
    }
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
        text,
        options.timeout,
    ) {
        Ok(stack) => stack,
        Err(err) => return result.failed(Failure::new(None, err)),
    };
    // ogx 1.1 onward reads it after run.yaml, before its TLS check.
    if let Err(err) = config::port::check_variable(
        config::port::Stage::AfterConfig,
        &facts.llama_stack,
        server_command,
        environment,
        &mut result.warnings,
    ) {
        return result.failed(Failure::new(None, err));
    }
    if let Err(err) = config::tls::check(
        &config.tls,
        &facts.llama_stack,
        server_command,
        &mut result.warnings,
    ) {
        return result.failed(Failure::new(None, err));
    }
    config::port::check(
        config.server_port,
        &facts.llama_stack,
        server_command,
        environment,
        &mut result.warnings,
    );
    if let Err(err) =
        stack_config::check_before_providers(&stack, &config, text, &mut result.warnings)
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
        run_yaml: text,
        stack: &stack,
    };
    let total = config.providers.len();
    // Every check is submitted before any answer is taken, so that the
    // runner runs them side by side; the answers are taken in file order.
    let turns: Vec<Turn> = (std::mem::take(&mut config.providers)
        .into_iter()
        .enumerate())
    .map(
        |(index, entry)| match early.get_mut(index).and_then(|found| found.fault.take()) {
            Some((provider, failure)) => Turn::FoundBeforeImport(provider, failure),
            None => Turn::Check(submit_check(entry, shadowed[index], &mut runner, &inputs)),
        },
    )
    .collect();
    // Each failure with the index of the provider it concerns, if one.
    let mut found: Vec<(Option<usize>, Failure)> = Vec::new();
    for (index, turn) in turns.into_iter().enumerate() {
        if !options.keep_going && !found.is_empty() {
            result.providers.push(not_checked(
                turn.into_entry(),
                facts.llama_stack.distribution,
            ));
            continue;
        }
        let entry = turn.entry();
        progress(Step::Provider {
            api: &entry.api,
            provider_id: &entry.display_id(),
            position: index + 1,
            total,
        });
        if let Some(before_import) = early.get_mut(index) {
            result.warnings.append(&mut before_import.warnings);
        }
        let (provider, failure) = match turn {
            Turn::FoundBeforeImport(provider, failure) => (provider, Some(failure)),
            Turn::Check(check) => check_provider(check, &mut runner, &inputs, &mut result.warnings),
        };
        found.extend(failure.map(|failure| (Some(index), failure)));
        result.providers.push(provider);
    }
    // What still runs after a failure (failing fast) is not waited for.
    drop(runner);
    let scanned = native.stats();
    tracing::info!(
        distributions = scanned.distributions,
        files = scanned.files,
        bytes_read = scanned.bytes_read,
        elapsed_ms = scanned.elapsed.as_millis() as u64,
        "native checks, whole run"
    );
    if options.keep_going || found.is_empty() {
        config.providers = result
            .providers
            .iter()
            .map(|provider| provider.entry.clone())
            .collect();
        let across = cross_provider::check(
            &config.apis,
            &result.providers,
            &facts,
            options.keep_going,
            &mut result.warnings,
        );
        for (at, _) in &across {
            let Some(at) = *at else { continue };
            // The provider that passed its own checks fails here; failing
            // fast, those after it were never judged across providers.
            result.providers[at].status = ProviderStatus::Failed;
            if !options.keep_going {
                result.providers[at + 1..]
                    .iter_mut()
                    .filter(|provider| provider.status == ProviderStatus::Passed)
                    .for_each(|provider| {
                        provider.status = ProviderStatus::NotChecked(Unchecked::NotCheckedAcross)
                    });
            }
        }
        found.extend(across);
        if options.keep_going || found.is_empty() {
            let after = stack_config::check_after_providers(&stack, &config, text);
            found.extend(after.err().map(|err| (None, Failure::new(None, err))));
        }
    }
    // In file order, a provider's failure in its turn, then the run's own.
    found.sort_by_key(|(at, _)| at.unwrap_or(usize::MAX));
    result
        .failures
        .extend(found.into_iter().map(|(_, failure)| failure));
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

/// What [`check_before_import`] found of one provider.
#[derive(Default)]
struct FoundBeforeImport {
    /// Its native warnings, shown in its turn.
    warnings: Vec<Warning>,
    /// A fault certain without llama-stack: the provider's result and failure.
    fault: Option<(ProviderResult, Failure)>,
}

/// Judges, in the server's order ([`server_order`], which the interpreter was
/// started with), what is certain before llama-stack is imported, while the
/// interpreter waits to import it: each provider's native files (FR-008d),
/// then, for a `module:` provider whose package no finder locates, its real
/// import in a fresh interpreter, which fails whatever llama-stack would do
/// first (and so shows the real traceback). What it found, by index; the
/// first fault ends the pass unless `keep_going`, which judges every
/// provider. A package found by its import after all (an unusual finder) is
/// checked again in its turn.
fn check_before_import(
    config: &RunConfig,
    shadowed: &[bool],
    starting: &Starting,
    settings: CheckSettings,
    native: &mut native::Checker,
    keep_going: bool,
    progress: &dyn Fn(Step<'_>),
) -> Vec<FoundBeforeImport> {
    let facts = starting.facts();
    let mut found: Vec<FoundBeforeImport> = (config.providers.iter())
        .map(|_| FoundBeforeImport::default())
        .collect();
    for (position, index) in server_order(config).into_iter().enumerate() {
        let entry = &config.providers[index];
        let provider = ProviderResult {
            status: ProviderStatus::Passed,
            ..not_checked(entry.clone(), facts.llama_stack.distribution)
        };
        let failed = match native.check(entry, &mut found[index].warnings) {
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
            found[index].fault = Some((provider, failure));
            if !keep_going {
                break;
            }
        }
    }
    found
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

/// One provider's place in the checks: a fault found before llama-stack
/// was imported, or its check, submitted.
enum Turn {
    FoundBeforeImport(ProviderResult, Failure),
    Check(SubmittedCheck),
}

impl Turn {
    fn entry(&self) -> &ProviderEntry {
        match self {
            Turn::FoundBeforeImport(provider, _) => &provider.entry,
            Turn::Check(check) => &check.result.entry,
        }
    }

    fn into_entry(self) -> ProviderEntry {
        match self {
            Turn::FoundBeforeImport(provider, _) => provider.entry,
            Turn::Check(check) => check.result.entry,
        }
    }
}

/// A provider's check between its submission and its answer: the result so
/// far, and the probe's check, unless the server never imports the entry.
struct SubmittedCheck {
    result: ProviderResult,
    shadowed: bool,
    ticket: Option<Ticket>,
}

fn submit_check(
    entry: ProviderEntry,
    shadowed: bool,
    runner: &mut Runner,
    inputs: &CheckInputs,
) -> SubmittedCheck {
    let mut result = ProviderResult {
        module: default_module(&entry, inputs.facts.llama_stack.distribution),
        status: ProviderStatus::Passed,
        duration: None,
        spec: None,
        metadata: None,
        entry,
    };
    let entry = &result.entry;
    let ticket = match entry.disabled.filter(|_| !entry.is_imported()) {
        Some(disabled) => {
            result.status = ProviderStatus::Skipped(disabled);
            None
        }
        None => {
            // Like a disabled entry's, a shadowed entry's spec is only looked up.
            let registry_only = entry.disabled.is_some() || shadowed;
            let spec_file = inputs.stack.spec_file(entry);
            Some(import::submit_provider(
                runner,
                entry,
                registry_only,
                inputs.settings,
                spec_file,
            ))
        }
    };
    SubmittedCheck {
        result,
        shadowed,
        ticket,
    }
}

fn check_provider(
    check: SubmittedCheck,
    runner: &mut Runner,
    inputs: &CheckInputs,
    warnings: &mut Vec<Warning>,
) -> (ProviderResult, Option<Failure>) {
    let facts = inputs.facts;
    let SubmittedCheck {
        mut result,
        shadowed,
        ticket,
    } = check;
    let Some(ticket) = ticket else {
        return (result, None);
    };
    let entry = &result.entry;
    let probed = import::provider_answer(
        runner,
        ticket,
        entry,
        &facts.llama_stack,
        inputs.settings.timeout,
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
    let context = result.context();
    (result, Some(Failure::new(Some(context), error)))
}
