//! The spec-validation phase: is what `get_provider_spec()` returned a spec the
//! server can use for this run.yaml entry?
//!
//! Required fields (FR-010): `provider_type` (a non-empty string equal to the
//! run.yaml entry's; the server never compares them, and a mismatch makes
//! its later errors name the wrong type), `api` (a valid API equal to the
//! section it is configured under) and `config_schema`, read as: the spec's
//! `config_class` resolves to a class whose JSON schema can be produced. The
//! spec must be an instance of the installed server's own `ProviderSpec`, as
//! the server's pydantic model of a provider requires (a `llama_stack_api`
//! spec found on the path under ogx is not). The spec's `module` must import
//! and export the entry point the server calls, and what the server's
//! start-up of the provider imports after it must be installed.

use miette::Diagnostic;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::config::ProviderEntry;
use crate::diagnostics::{Phase, PhaseError, RefusedSetting, Warning, inline};
use crate::flavour::Flavour;
use crate::import::{
    DeferredImport, ImportError, ProbeReport, SpecDescription, Step, classify_startup,
};
use crate::interpreter::LlamaStackFacts;
use crate::probe::PyException;

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum SpecError {
    #[error("get_provider_spec() returned invalid data")]
    #[diagnostic(
        code(preflight::spec::not_a_spec),
        help(
            "Provider implementation must return a ProviderSpec (RemoteProviderSpec or InlineProviderSpec from {api_package}), or a list of them."
        )
    )]
    NotASpec {
        returned: String,
        api_package: &'static str,
    },

    #[error(
        "get_provider_spec() returned a {class} that {release} does not accept as a ProviderSpec"
    )]
    #[diagnostic(code(preflight::spec::foreign_spec), help("{advice}"))]
    ForeignSpec {
        class: String,
        class_module: String,
        release: String,
        api_package: &'static str,
        advice: String,
    },

    #[error("get_provider_spec() returned no spec with provider_type '{wanted}'")]
    #[diagnostic(code(preflight::spec::no_matching_spec), help("{advice}"))]
    NoMatchingSpec {
        wanted: String,
        offered: Vec<String>,
        advice: String,
    },

    #[error("get_provider_spec() returned invalid data")]
    #[diagnostic(
        code(preflight::spec::missing_field),
        help("Provider implementation must return ProviderSpec with {field} field.")
    )]
    MissingField { field: &'static str },

    #[error("get_provider_spec() returned invalid data")]
    #[diagnostic(
        code(preflight::spec::invalid_field),
        help("Provider implementation must return ProviderSpec with a valid {field} field.")
    )]
    InvalidField {
        field: &'static str,
        problem: String,
    },

    #[error("provider_type in run.yaml does not match the provider's spec")]
    #[diagnostic(
        code(preflight::spec::provider_type_mismatch),
        help(
            "Set provider_type: {declared} in run.yaml. The server would file the provider under '{configured}' but report it as '{declared}', which makes later errors misleading."
        )
    )]
    ProviderTypeMismatch {
        configured: String,
        declared: String,
    },

    #[error("Provider is configured under '{section}' but its spec declares api '{declared}'")]
    #[diagnostic(
        code(preflight::spec::api_mismatch),
        help("Move the entry from providers.{section} to providers.{declared} in run.yaml.")
    )]
    ApiMismatch { section: String, declared: String },

    #[error("config_class '{config_class}' cannot be loaded")]
    #[diagnostic(
        code(preflight::spec::config_class_unresolvable),
        help(
            "config_class must be the fully qualified name of an importable class (package.module.ClassName); the server imports it before it creates the provider."
        )
    )]
    ConfigClassUnresolvable {
        config_class: String,
        exception: Box<PyException>,
    },

    #[error("The provider's config in run.yaml is refused by {config_class}")]
    #[diagnostic(
        code(preflight::spec::config_invalid),
        help(
            "Fix the settings listed above in run.yaml; the server builds {config_class}(**config) when it creates the provider and stops on the same error."
        )
    )]
    ConfigInvalid {
        config_class: String,
        refused: Vec<RefusedSetting>,
    },

    #[error("config_class '{config_class}' is not a class")]
    #[diagnostic(
        code(preflight::spec::config_class_not_a_class),
        help("Point config_class at the provider's pydantic model or dataclass.")
    )]
    ConfigClassNotAClass { config_class: String },
}

impl PhaseError for SpecError {
    fn phase(&self) -> Phase {
        Phase::SpecValidation
    }

    fn details(&self) -> Option<String> {
        match self {
            SpecError::NotASpec { returned, .. } => {
                Some(inline(&format!("get_provider_spec() returned {returned}")))
            }
            SpecError::ForeignSpec {
                class,
                class_module,
                release,
                api_package,
                ..
            } => Some(inline(&format!(
                "The spec is a {class_module}.{class}; {release} takes only instances of {api_package}.ProviderSpec, and stops with \"Input should be a valid dictionary or instance of ProviderSpec\" before it starts any provider."
            ))),
            SpecError::NoMatchingSpec { offered, .. } if offered.is_empty() => {
                Some("get_provider_spec() returned an empty list".to_string())
            }
            SpecError::NoMatchingSpec { offered, .. } => Some(inline(&format!(
                "Offered provider types: {}",
                offered.join(", ")
            ))),
            SpecError::MissingField { field } => Some(format!("Missing required field: {field}")),
            SpecError::ConfigInvalid { refused, .. } => Some(
                refused
                    .iter()
                    .map(|setting| inline(&setting.to_string()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            SpecError::InvalidField { field, problem } => {
                Some(inline(&format!("Invalid field: {field}: {problem}")))
            }
            SpecError::ProviderTypeMismatch {
                configured,
                declared,
            } => Some(format!(
                "run.yaml provider_type: {}\nget_provider_spec() provider_type: {}",
                inline(configured),
                inline(declared)
            )),
            _ => None,
        }
    }

    fn traceback(&self) -> Option<&str> {
        match self {
            SpecError::ConfigClassUnresolvable { exception, .. } => Some(&exception.traceback),
            _ => None,
        }
    }

    fn refused_settings(&self) -> &[RefusedSetting] {
        match self {
            SpecError::ConfigInvalid { refused, .. } => refused,
            _ => &[],
        }
    }
}

/// Names a refusal of the config class by its place in `entry`'s config and
/// finds that place in `run_yaml`, the file's text.
fn refused_setting(
    entry: &ProviderEntry,
    problem: &crate::import::ConfigProblem,
    run_yaml: &str,
) -> RefusedSetting {
    let place = entry.config_place(run_yaml, &problem.loc);
    RefusedSetting {
        path: place.path,
        line: place.line,
        message: problem.msg.clone(),
    }
}

/// Either phase can reject a spec: its fields (spec validation) or the module
/// it names (import).
#[derive(Debug)]
pub(crate) enum Rejection {
    Spec(SpecError),
    Import(ImportError),
}

/// A spec that passed (or was only looked up, for an entry the server never
/// creates), as reported in JSON.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedSpec {
    pub(crate) fields: Map<String, Value>,
    pub(crate) class: String,
    pub(crate) config_schema: Option<Value>,
    /// Imports of modules that are not installed, off the start-up path:
    /// when the server would need them. `None` when start-up imports were not
    /// all run (a worker provider whose creation fails, a spec only looked
    /// up), so that nothing can be said to be not needed.
    pub(crate) deferred_imports: Option<Vec<DeferredImport>>,
}

/// Validates the probe's report for an enabled `entry` (the server never looks
/// at the spec of a disabled one); warnings are appended to `warnings`.
/// `run_yaml` is the file's text, to give refused settings their line.
pub(crate) fn validate(
    entry: &ProviderEntry,
    report: ProbeReport,
    llama_stack: &LlamaStackFacts,
    run_yaml: &str,
    warnings: &mut Vec<Warning>,
) -> Result<ValidatedSpec, Rejection> {
    let Some(spec) = report.spec else {
        return Err(Rejection::Spec(no_spec(
            entry,
            &report.returned,
            llama_stack.distribution,
        )));
    };
    let provider_type = required_text(&spec.fields, "provider_type").map_err(Rejection::Spec)?;
    let api = required_text(&spec.fields, "api").map_err(Rejection::Spec)?;
    if spec.provider_spec == Some(false) {
        return Err(Rejection::Spec(foreign_spec(&spec, llama_stack)));
    }
    if !llama_stack.layout.apis.iter().any(|known| known == api) {
        return Err(Rejection::Spec(SpecError::InvalidField {
            field: "api",
            problem: format!("'{api}' is not an API of {}", llama_stack.release()),
        }));
    }
    let fields = &spec.fields;
    let config_class = required_text(fields, "config_class").map_err(Rejection::Spec)?;
    // A spec from external_providers_dir is filed under its file's name,
    // whatever type it declares, and the server never compares the two.
    let filed_by_name = report.source.as_deref() == Some("external_dir");
    if provider_type != entry.provider_type && !filed_by_name {
        return Err(Rejection::Spec(SpecError::ProviderTypeMismatch {
            configured: entry.provider_type.clone(),
            declared: provider_type.to_string(),
        }));
    }
    if api != entry.api {
        return Err(Rejection::Spec(SpecError::ApiMismatch {
            section: entry.api.clone(),
            declared: api.to_string(),
        }));
    }
    let module = required_text(fields, "module").map_err(Rejection::Spec)?;
    let pip_packages: Vec<String> = fields
        .get("pip_packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    if let Some(implementation) = &report.implementation {
        check_implementation(implementation, module, &pip_packages, llama_stack)
            .map_err(Rejection::Import)?;
    }
    let config_schema = match &report.config {
        Some(step) => {
            config_schema(entry, config_class, step, warnings).map_err(Rejection::Spec)?
        }
        None => None,
    };
    if let Some(check) = report
        .config_check
        .as_ref()
        .filter(|check| check.valid == Some(false))
    {
        return Err(Rejection::Spec(SpecError::ConfigInvalid {
            config_class: config_class.to_string(),
            refused: check
                .errors
                .iter()
                .map(|problem| refused_setting(entry, problem, run_yaml))
                .collect(),
        }));
    }
    let startup = report.startup.unwrap_or_default();
    if let Some(exception) = startup.exception.filter(|_| !startup.ok) {
        let failure = classify_startup(
            module,
            Some(startup.step.as_deref().unwrap_or("start-up")),
            exception,
            &pip_packages,
            llama_stack,
        );
        // ogx creates such a provider in its worker processes, which die on
        // the failure and are restarted while the server goes on serving.
        if fields.get("execution_mode").and_then(Value::as_str) != Some("worker") {
            return Err(Rejection::Import(failure));
        }
        warnings.push(Warning {
            provider_id: entry.provider_id.clone(),
            code: "preflight::import::worker_startup_failed",
            message: format!(
                "{failure}; it runs in the server's worker processes (execution_mode: worker), which create it as they start: they stop on this failure and are restarted again and again, while the server serves (its /v1/health still answers, with status Error while a worker is down) and what it sends to this provider fails. {}",
                failure.help().map(|help| help.to_string()).unwrap_or_default()
            ),
            mismatch: None,
        });
    }
    Ok(ValidatedSpec {
        fields: fields.clone(),
        class: spec.class.clone(),
        config_schema,
        deferred_imports: startup.ok.then_some(startup.deferred),
    })
}

impl ValidatedSpec {
    /// A spec the server only looks up, so nothing of it was validated.
    pub(crate) fn looked_up(spec: SpecDescription) -> Self {
        ValidatedSpec {
            fields: spec.fields,
            class: spec.class,
            config_schema: None,
            deferred_imports: None,
        }
    }
}

/// A spec whose class is not the installed server's `ProviderSpec`: most
/// often one built on the other flavour's API package, found on the path.
fn foreign_spec(spec: &SpecDescription, server: &LlamaStackFacts) -> SpecError {
    let class_module = spec.class_module.clone().unwrap_or_default();
    let api_package = server.distribution.api_package();
    let advice = match Flavour::owning(&class_module) {
        Some(built_for) if built_for != server.distribution => format!(
            "The provider is built for {built_for}: install a release of it built for {} (its specs come from {api_package}). Having {} on the path lets the provider import, but the server does not take its specs.",
            server.distribution,
            built_for.api_package()
        ),
        _ => format!("Return a RemoteProviderSpec or InlineProviderSpec from {api_package}."),
    };
    SpecError::ForeignSpec {
        class: spec.class.clone(),
        class_module,
        release: server.release(),
        api_package,
        advice,
    }
}

fn no_spec(
    entry: &ProviderEntry,
    returned: &crate::import::Returned,
    server: Flavour,
) -> SpecError {
    if returned.kind == "list" {
        let offered: Vec<String> = returned
            .offered
            .iter()
            .map(|value| {
                value
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| value.to_string())
            })
            .collect();
        let advice = if offered.is_empty() {
            "The provider offered no spec at all; providers that build their list from what is installed (optional extras) need those extras installed.".to_string()
        } else {
            format!(
                "Set provider_type in run.yaml to one of: {}. If the type you want is missing, install the extras the provider needs for it.",
                offered.join(", ")
            )
        };
        return SpecError::NoMatchingSpec {
            wanted: entry.provider_type.clone(),
            offered,
            advice,
        };
    }
    let returned = match returned.python_type.as_deref() {
        Some("NoneType") | None => "None".to_string(),
        Some(other) => format!("a {other}, not a ProviderSpec"),
    };
    SpecError::NotASpec {
        returned,
        api_package: server.api_package(),
    }
}

fn required_text<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, SpecError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(SpecError::MissingField { field }),
        Some(Value::String(text)) if text.trim().is_empty() => Err(SpecError::InvalidField {
            field,
            problem: "must not be empty".to_string(),
        }),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(SpecError::InvalidField {
            field,
            problem: format!("expected a string, found {}", describe(other)),
        }),
    }
}

/// How the probe encoded a value that is not plain JSON.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(object) => match (object.get("$type"), object.get("$repr")) {
            (Some(Value::String(kind)), Some(Value::String(repr))) => format!("{kind} {repr}"),
            _ => value.to_string(),
        },
        Value::Array(_) => "a list".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(_) => "a number".to_string(),
        _ => value.to_string(),
    }
}

fn check_implementation(
    step: &Step,
    module: &str,
    pip_packages: &[String],
    server: &LlamaStackFacts,
) -> Result<(), ImportError> {
    if let Some(exception) = step.exception.clone().filter(|_| !step.ok) {
        return Err(classify_startup(
            module,
            None,
            exception,
            pip_packages,
            server,
        ));
    }
    if step.has_entry_point == Some(false) {
        return Err(ImportError::EntryPointMissing {
            module: module.to_string(),
            entry_point: step.entry_point.clone().unwrap_or_default(),
        });
    }
    Ok(())
}

fn config_schema(
    entry: &ProviderEntry,
    config_class: &str,
    step: &Step,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Value>, SpecError> {
    if let Some(exception) = step.exception.clone().filter(|_| !step.ok) {
        return Err(SpecError::ConfigClassUnresolvable {
            config_class: config_class.to_string(),
            exception,
        });
    }
    if step.is_class == Some(false) {
        return Err(SpecError::ConfigClassNotAClass {
            config_class: config_class.to_string(),
        });
    }
    if let Some(problem) = &step.schema_error {
        // The server never needs the schema, so this must not fail the run.
        warnings.push(Warning {
            provider_id: entry.provider_id.clone(),
            code: "preflight::spec::config_schema_unavailable",
            message: format!("no JSON schema for config_class '{config_class}': {problem}"),
            mismatch: None,
        });
    }
    Ok(step.schema.clone())
}
