//! Checks that need every provider's spec at once: how providers fit together.
//!
//! A provider can import and return a perfect spec while the server still
//! refuses to start. These rules follow what llama-stack 0.7 and ogx 1.x do in
//! `validate_and_prepare_providers`, `instantiate_provider` and `create_app`
//! (ogx 1.5: the app's `lifespan`), verified against the real servers:
//!
//! - `deprecation_error` stops the server; `deprecation_warning` is logged.
//! - A required `api_dependencies` entry is satisfied by an internal API
//!   (always there), by a served router API (`inference`, `eval`, … listed in
//!   `apis:`, or `apis:` empty, even with no provider), by a routing table
//!   (`benchmarks`, `models`, …) whose router API is served, or, for any other
//!   API (`files`, `batches`, …), by an enabled provider in that section. A
//!   router API that has providers but is not served does not count: the
//!   server fails with "required dependency … is not available".
//! - Every `apis:` entry must be an API, and one the server can build: a
//!   router API always is, a routing table only with its router, any other API
//!   only with an enabled provider. ogx 1.5 skips one it cannot build, with a
//!   warning of its own, and so does preflight.
//! - `pip_packages` is a declaration, not what the server imports: a
//!   declared package that is not installed is a warning, with when the
//!   server would need it where the provider's code says. What start-up
//!   really imports was already imported by the provider's own check.
//! - Duplicate ids in one section are legal: the server keeps the last entry
//!   and never creates the others, though it still looks their types up
//!   (and rejects a deprecated one). Sections left out of a non-empty
//!   `apis:` are legal too. Both are warnings.

use std::collections::{BTreeMap, BTreeSet};

use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;

use crate::config::ProviderEntry;
use crate::diagnostics::{Failure, Phase, PhaseError, Warning, inline};
use crate::flavour::Flavour;
use crate::import::DeferredImport;
use crate::installed::{InstalledDistributions, UnmetRequirement};
use crate::interpreter::{InterpreterFacts, LlamaStackFacts};
use crate::results::{ProviderResult, ProviderStatus};

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum CrossProviderError {
    #[error("Provider type '{provider_type}' is deprecated and refused by {server}")]
    #[diagnostic(
        code(preflight::cross::deprecation_error),
        help("Replace the provider as its deprecation message says.")
    )]
    DeprecationError {
        provider_type: String,
        server: Flavour,
        message: String,
    },

    #[error("Required dependency '{dependency}' of this provider is not available")]
    #[diagnostic(code(preflight::cross::missing_dependency), help("{fix}"))]
    MissingDependency {
        dependency: String,
        why: String,
        fix: String,
    },

    #[error("apis: lists '{name}', which is not an API of {release}")]
    #[diagnostic(
        code(preflight::cross::unknown_api_listed),
        help("Remove '{name}' from apis: in run.yaml. APIs of this release: {valid}.")
    )]
    UnknownApiListed {
        name: String,
        release: String,
        valid: String,
        /// What replaced it, when it is an API ogx removed.
        removed: Option<&'static str>,
    },

    #[error("apis: lists '{name}', but nothing in run.yaml provides it")]
    #[diagnostic(code(preflight::cross::api_not_provided), help("{fix}"))]
    ApiNotProvided { name: String, fix: String },
}

impl PhaseError for CrossProviderError {
    fn phase(&self) -> Phase {
        match self {
            CrossProviderError::DeprecationError { .. }
            | CrossProviderError::MissingDependency { .. } => Phase::CrossProvider,
            CrossProviderError::UnknownApiListed { .. }
            | CrossProviderError::ApiNotProvided { .. } => Phase::Config,
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            CrossProviderError::DeprecationError { message, .. } => {
                Some(inline(&format!("Deprecation: {message}")))
            }
            CrossProviderError::MissingDependency { why, .. } => Some(inline(why)),
            CrossProviderError::ApiNotProvided { name, .. } => Some(format!(
                "The server initialises every provider and then fails with KeyError: <Api.{name}: '{name}'>."
            )),
            CrossProviderError::UnknownApiListed {
                name,
                removed: Some(replacement),
                ..
            } => Some(format!(
                "'{name}' is an API of llama-stack that ogx removed ({replacement}). The server starts every provider and then fails with \"API '{name}' does not exist\"."
            )),
            CrossProviderError::UnknownApiListed { .. } => None,
        }
    }
}

/// How one API can be present in a running server.
struct Layout<'a> {
    facts: &'a LlamaStackFacts,
    /// `apis:`; empty serves everything.
    served: &'a [String],
    /// Sections with at least one enabled provider that passed.
    provided: BTreeSet<&'a str>,
}

impl Layout<'_> {
    fn is_served(&self, api: &str) -> bool {
        self.served.is_empty() || self.served.iter().any(|listed| listed == api)
    }

    fn is_router(&self, api: &str) -> bool {
        self.facts
            .layout
            .routing_tables
            .values()
            .any(|router| router == api)
    }

    fn is_internal(&self, api: &str) -> bool {
        self.facts.layout.apis.iter().any(|known| known == api)
            && !self
                .facts
                .layout
                .providable_apis
                .iter()
                .any(|providable| providable == api)
            && !self.facts.layout.routing_tables.contains_key(api)
    }
}

/// Which entries a later entry of the same section with the same
/// provider_id shadows: the server keeps the last one, and never creates the
/// others (it still looks their types up). Each is warned about.
pub(crate) fn shadowed_entries(
    providers: &[ProviderEntry],
    warnings: &mut Vec<Warning>,
) -> Vec<bool> {
    let mut last: BTreeMap<(&str, &str), &ProviderEntry> = BTreeMap::new();
    for entry in providers {
        if let Some(id) = entry.provider_id.as_deref() {
            last.insert((entry.api.as_str(), id), entry);
        }
    }
    providers
        .iter()
        .map(|entry| {
            let Some(id) = entry.provider_id.as_deref() else {
                return false;
            };
            let kept = last[&(entry.api.as_str(), id)];
            let shadowed = kept.index != entry.index;
            if shadowed {
                warnings.push(Warning {
                    provider_id: Some(id.to_string()),
                    code: "preflight::cross::duplicate_provider_id",
                    message: format!(
                        "provider_id '{id}' appears more than once under providers.{}; the server keeps only the last one ({}) and never starts {}",
                        entry.api,
                        kept.path(),
                        entry.path()
                    ),
                    mismatch: None,
                });
            }
            shadowed
        })
        .collect()
}

/// Runs the cross-provider checks over the providers that passed their own
/// (and over shadowed entries, for what the server checks of them). Each
/// failure comes with the index of the provider it concerns, if one. The
/// first ends the checks, unless `keep_going`: then each provider gets its
/// first failure, as the server would stop at it, and an enabled provider that
/// failed its own checks counts as present, its failure already reported, so
/// that it does not show up again as another's missing dependency.
pub(crate) fn check(
    apis: &[String],
    providers: &[ProviderResult],
    interpreter: &InterpreterFacts,
    keep_going: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<(Option<usize>, Failure)> {
    let python = &interpreter.python;
    let installed = InstalledDistributions::scan(&python.sys_path);
    let layout = Layout {
        facts: &interpreter.llama_stack,
        served: apis,
        provided: providers
            .iter()
            .filter(|provider| match provider.status {
                ProviderStatus::Passed => true,
                ProviderStatus::Failed => provider.entry.disabled.is_none(),
                _ => false,
            })
            .map(|provider| provider.entry.api.as_str())
            .collect(),
    };
    let mut failures = Vec::new();
    for (index, provider) in providers.iter().enumerate().filter(|(_, provider)| {
        matches!(
            provider.status,
            ProviderStatus::Passed | ProviderStatus::Shadowed
        )
    }) {
        let Some(spec) = &provider.spec else { continue };
        if let Some(message) = text_field(&spec.fields, "deprecation_error") {
            let error = CrossProviderError::DeprecationError {
                provider_type: provider.entry.provider_type.clone(),
                server: interpreter.llama_stack.distribution,
                message: message.to_string(),
            };
            failures.push((Some(index), Failure::new(Some(provider.context()), error)));
            if !keep_going {
                return failures;
            }
            continue;
        }
        if let Some(message) = text_field(&spec.fields, "deprecation_warning") {
            warnings.push(Warning {
                provider_id: provider.entry.provider_id.clone(),
                code: "preflight::cross::deprecated",
                message: format!(
                    "provider type '{}' is deprecated: {message}",
                    provider.entry.provider_type
                ),
                mismatch: None,
            });
        }
        if provider.status == ProviderStatus::Shadowed {
            continue;
        }
        let unmet = list_field(&spec.fields, "api_dependencies").find_map(|dependency| {
            let (why, fix) = unmet_dependency(&layout, dependency, providers)?;
            Some(CrossProviderError::MissingDependency {
                dependency: dependency.to_string(),
                why,
                fix,
            })
        });
        if let Some(error) = unmet {
            failures.push((Some(index), Failure::new(Some(provider.context()), error)));
            if !keep_going {
                return failures;
            }
            continue;
        }
        // Declared packages can be said not to be needed only once every
        // start-up import ran.
        let Some(deferred) = &spec.deferred_imports else {
            continue;
        };
        let pip_packages: Vec<String> = list_field(&spec.fields, "pip_packages")
            .map(String::from)
            .collect();
        let unmet = installed.unmet(&pip_packages, &python.version, &python.machine);
        if !unmet.is_empty() {
            warnings.push(Warning {
                provider_id: provider.entry.provider_id.clone(),
                code: "preflight::cross::declared_packages_missing",
                message: declared_but_not_needed(&unmet, deferred),
                mismatch: None,
            });
        }
    }
    match check_listed_apis(&layout, warnings) {
        Err(failure) => failures.push((None, failure)),
        Ok(()) => warn_about_unserved(&layout, warnings),
    }
    failures
}

/// The warning for declared packages that are missing or out of range, in a
/// provider whose start-up imports all succeeded: each missing one with when
/// the server would need it, where an import of it off the start-up path
/// says.
fn declared_but_not_needed(unmet: &[UnmetRequirement], deferred: &[DeferredImport]) -> String {
    let each: Vec<String> = unmet
        .iter()
        .map(|requirement| {
            if requirement.installed.is_some() {
                return requirement.describe();
            }
            let needed = match deferred
                .iter()
                .find(|import| requirement.provides(&import.module))
            {
                Some(import) => format!("needed {}", import.when()),
                None => "imported nowhere in the provider's code".to_string(),
            };
            format!("{}, {needed}", requirement.describe())
        })
        .collect();
    format!(
        "pip_packages declares what is not installed but not needed to start the provider: {}",
        each.join("; ")
    )
}

fn text_field<'a>(fields: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
}

fn list_field<'a>(
    fields: &'a serde_json::Map<String, Value>,
    name: &str,
) -> impl Iterator<Item = &'a str> {
    fields
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Why `dependency` is unmet and what to change, or `None` when it is met.
fn unmet_dependency(
    layout: &Layout<'_>,
    dependency: &str,
    providers: &[ProviderResult],
) -> Option<(String, String)> {
    if layout.is_internal(dependency) {
        return None;
    }
    if let Some(router) = layout.facts.layout.routing_tables.get(dependency) {
        return (!layout.is_served(router)).then(|| {
            (
                format!(
                    "'{dependency}' is a routing table; the server creates it only when its router API '{router}' is served, and apis: does not list '{router}'."
                ),
                format!("Add '{router}' to apis: in run.yaml (or remove apis: to serve every API)."),
            )
        });
    }
    if layout.is_router(dependency) {
        return (!layout.is_served(dependency)).then(|| {
            (
                format!("apis: does not list '{dependency}', so the server builds no '{dependency}' router for this provider to use, even if '{dependency}' providers are configured."),
                format!("Add '{dependency}' to apis: in run.yaml (or remove apis: to serve every API)."),
            )
        });
    }
    if layout.provided.contains(dependency) {
        return None;
    }
    let disabled: Vec<&ProviderEntry> = providers
        .iter()
        .map(|provider| &provider.entry)
        .filter(|entry| entry.api == dependency && entry.disabled.is_some())
        .collect();
    let switched_off_by = disabled
        .iter()
        .filter_map(|entry| {
            entry
                .provider_id_template
                .as_deref()
                .map(|template| (entry, template))
        })
        .next();
    let why = match switched_off_by {
        Some((entry, template)) => format!(
            "The only '{dependency}' provider ({}) is disabled: its provider_id '{template}' resolved to nothing because {} is not set.",
            entry.path(),
            variables(template).join(", ")
        ),
        None => format!("run.yaml configures no enabled provider under providers.{dependency}."),
    };
    let fix = match switched_off_by {
        Some((_, template)) => format!(
            "Set {} in the server's environment, or add another provider under providers.{dependency}.",
            variables(template).join(" and ")
        ),
        None => format!("Add a provider under providers.{dependency} in run.yaml."),
    };
    Some((why, fix))
}

/// The variable names a `${env.NAME...}` template reads.
fn variables(template: &str) -> Vec<String> {
    template
        .match_indices("${env.")
        .map(|(start, marker)| {
            template[start + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect()
}

fn check_listed_apis(layout: &Layout<'_>, warnings: &mut Vec<Warning>) -> Result<(), Failure> {
    for name in layout.served {
        let name = name.as_str();
        if !layout.facts.layout.apis.iter().any(|known| known == name) {
            let error = CrossProviderError::UnknownApiListed {
                name: name.to_string(),
                release: layout.facts.release(),
                valid: layout.facts.layout.apis.join(", "),
                removed: (layout.facts.distribution.removed_api(name))
                    .map(|removal| removal.what_replaced_it()),
            };
            return Err(Failure::new(None, error));
        }
        let fix = if let Some(router) = layout.facts.layout.routing_tables.get(name) {
            (!layout.is_served(router)).then(|| {
                format!("Also list its router API '{router}' in apis:, or remove '{name}'.")
            })
        } else if layout.is_router(name)
            || layout.is_internal(name)
            || layout.provided.contains(name)
        {
            None
        } else {
            Some(format!(
                "Add a provider under providers.{name}, or remove '{name}' from apis:."
            ))
        };
        let Some(fix) = fix else { continue };
        if layout.facts.layout.apis_optional {
            warnings.push(Warning {
                provider_id: None,
                code: "preflight::cross::api_not_served",
                message: format!(
                    "apis: lists '{name}', but nothing in run.yaml provides it: {} starts without serving it. {fix}",
                    layout.facts.release()
                ),
                mismatch: None,
            });
            continue;
        }
        let error = CrossProviderError::ApiNotProvided {
            name: name.to_string(),
            fix,
        };
        return Err(Failure::new(None, error));
    }
    Ok(())
}

fn warn_about_unserved(layout: &Layout<'_>, warnings: &mut Vec<Warning>) {
    let unserved: BTreeSet<&str> = layout
        .provided
        .iter()
        .copied()
        .filter(|api| !layout.is_served(api))
        .collect();
    for api in unserved {
        warnings.push(Warning {
            provider_id: None,
            code: "preflight::cross::section_not_served",
            message: format!(
                "providers.{api} is configured but apis: does not list '{api}': the server still starts these providers, but does not serve the API"
            ),
            mismatch: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(api: &str, index: usize, id: Option<&str>) -> ProviderEntry {
        ProviderEntry {
            api: api.into(),
            index,
            provider_id: id.map(String::from),
            provider_type: "remote::x".into(),
            module: None,
            disabled: None,
            provider_id_template: None,
            config: serde_json::Value::Null,
            line: None,
        }
    }

    #[test]
    fn only_the_last_entry_of_an_id_in_a_section_is_kept() {
        let providers = [
            entry("eval", 0, Some("a")),
            entry("eval", 1, Some("b")),
            entry("eval", 2, Some("a")),
            entry("inference", 0, Some("a")),
            entry("eval", 3, None),
            entry("eval", 4, Some("a")),
        ];
        let mut warnings = Vec::new();
        let shadowed = shadowed_entries(&providers, &mut warnings);
        assert_eq!(shadowed, [true, false, true, false, false, false]);
        let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "provider_id 'a' appears more than once under providers.eval; the server keeps only the last one (providers.eval[4]) and never starts providers.eval[0]",
                "provider_id 'a' appears more than once under providers.eval; the server keeps only the last one (providers.eval[4]) and never starts providers.eval[2]",
            ]
        );
    }

    #[test]
    fn a_declared_package_is_said_to_be_needed_where_the_code_imports_it() {
        let unmet = [
            UnmetRequirement {
                requirement: "sentence-transformers".into(),
                installed: None,
            },
            UnmetRequirement {
                requirement: "h11>=0.16.0".into(),
                installed: Some("0.14.0".into()),
            },
        ];
        let deferred = [DeferredImport {
            module: "sentence_transformers".into(),
            function: Some("Mixin._load".into()),
            file: "/x/mixin.py".into(),
            line: 12,
        }];
        assert_eq!(
            declared_but_not_needed(&unmet, &deferred),
            "pip_packages declares what is not installed but not needed to start the provider: \
             sentence-transformers (not installed), needed when Mixin._load() runs (/x/mixin.py line 12); \
             h11>=0.16.0 (0.14.0 is installed)"
        );
    }

    #[test]
    fn variables_are_read_from_a_template() {
        assert_eq!(variables("${env.ENABLE_X:+x}"), ["ENABLE_X"]);
        assert_eq!(variables("${env.A:=${env.B}}"), ["A", "B"]);
        assert!(variables("plain").is_empty());
    }
}
