//! What a run found: the spec's `PreflightResult`, with each provider's part
//! of it. The pipeline fills it in; the checks across providers and the
//! effective configuration read the providers' own results while it does, and
//! the report renders the whole. It stands apart from the pipeline so that
//! those readers depend on the results, not on the code that runs the phases
//! (which depends on them).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Disabled, ProviderEntry};
use crate::diagnostics::{Failure, ProviderContext, Warning};
use crate::interpreter::InterpreterFacts;
use crate::metadata::MetadataReport;
use crate::spec::ValidatedSpec;

/// What became of one provider in this run.
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

/// One provider's entry and what its own checks found.
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

impl ProviderResult {
    /// Whom a failure of this provider concerns.
    pub(crate) fn context(&self) -> ProviderContext {
        ProviderContext {
            provider_id: self.entry.display_id(),
            api: self.entry.api.clone(),
            module: self.module.clone(),
            line: self.entry.line,
        }
    }
}

/// Everything a run found (the spec's `PreflightResult`).
#[derive(Debug)]
pub(crate) struct PreflightResult {
    pub(crate) run_yaml: PathBuf,
    pub(crate) interpreter: Option<InterpreterFacts>,
    pub(crate) providers: Vec<ProviderResult>,
    /// One at most, unless `--keep-going` found more: then in file order.
    pub(crate) failures: Vec<Failure>,
    pub(crate) warnings: Vec<Warning>,
    /// The run stopped at a fault certain without importing llama-stack,
    /// which was then never imported.
    pub(crate) stopped_before_import: bool,
    /// With `--print-config`, the configuration the server reads, redacted.
    pub(crate) effective_config: Option<serde_yaml_ng::Value>,
}

impl PreflightResult {
    /// A result with nothing found yet.
    pub(crate) fn new(run_yaml: PathBuf) -> Self {
        PreflightResult {
            run_yaml,
            interpreter: None,
            providers: Vec::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            stopped_before_import: false,
            effective_config: None,
        }
    }

    /// This result, ended by `failure`.
    pub(crate) fn failed(mut self, failure: Failure) -> Self {
        self.failures.push(failure);
        self
    }
}
