//! The JSON report: one document for every outcome, failures included. Field
//! names are a public contract (documented in the README); bump
//! [`SCHEMA_VERSION`] when one changes meaning.

use serde::Serialize;
use serde_json::Value;

use crate::diagnostics::{Phase, Warning};
use crate::interpreter::{Interpreter, LlamaStackFacts, PythonFacts};
use crate::metadata::MetadataReport;
use crate::pipeline::{PreflightResult, ProviderResult, ProviderStatus};
use crate::probe::Isolation;
use crate::report::{exit, exit_code};
use crate::spec::RefusedSetting;

pub(crate) const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    status: &'static str,
    exit_code: u8,
    run_yaml: String,
    interpreter: Option<InterpreterJson<'a>>,
    providers: Vec<ProviderJson<'a>>,
    errors: Vec<ErrorJson>,
    warnings: &'a [Warning],
}

#[derive(Serialize)]
struct InterpreterJson<'a> {
    #[serde(flatten)]
    interpreter: &'a Interpreter,
    python: &'a PythonFacts,
    llama_stack: &'a LlamaStackFacts,
    /// How providers were kept apart: `fork` of a warm interpreter or `spawn`.
    isolation: &'a Isolation,
}

#[derive(Serialize)]
struct ProviderJson<'a> {
    provider_id: Option<&'a str>,
    api: &'a str,
    provider_type: &'a str,
    module: &'a str,
    source: &'static str,
    status: &'static str,
    skip_reason: Option<&'static str>,
    duration_ms: Option<u128>,
    spec: Option<Value>,
    metadata: Option<&'a MetadataReport>,
}

/// The spec's `ProviderValidationError`.
#[derive(Serialize)]
struct ErrorJson {
    provider_id: Option<String>,
    api: Option<String>,
    module: Option<String>,
    phase: Phase,
    code: String,
    reason: String,
    details: Option<String>,
    traceback: Option<String>,
    resolution: String,
    /// With --check-config, the refused settings: `path`, `line`, `message`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    config_errors: Vec<RefusedSetting>,
}

pub(crate) fn render(result: &PreflightResult) -> String {
    let code = exit_code(result);
    let status = match code {
        exit::SUCCESS => "passed",
        exit::VALIDATION_FAILED => "failed",
        _ => "invalid_invocation",
    };
    let document = Document {
        schema_version: SCHEMA_VERSION,
        status,
        exit_code: code,
        run_yaml: result.run_yaml.display().to_string(),
        interpreter: result.interpreter.as_ref().map(|facts| InterpreterJson {
            interpreter: &facts.interpreter,
            python: &facts.python,
            llama_stack: &facts.llama_stack,
            isolation: &facts.isolation,
        }),
        providers: result.providers.iter().map(provider).collect(),
        errors: result
            .failure
            .iter()
            .map(|failure| {
                let provider = failure.provider.as_ref();
                ErrorJson {
                    provider_id: provider.map(|p| p.provider_id.clone()),
                    api: provider.map(|p| p.api.clone()),
                    module: provider.map(|p| p.module.clone()),
                    phase: failure.error.phase(),
                    code: failure.code(),
                    reason: failure.error.to_string(),
                    details: failure.error.details(),
                    traceback: failure.error.traceback().map(String::from),
                    resolution: failure.resolution(),
                    config_errors: failure.error.refused_settings().to_vec(),
                }
            })
            .collect(),
        warnings: &result.warnings,
    };
    let mut text = serde_json::to_string_pretty(&document).expect("the report serialises");
    text.push('\n');
    text
}

fn provider(result: &ProviderResult) -> ProviderJson<'_> {
    let entry = &result.entry;
    let status = match result.status {
        ProviderStatus::Passed => "passed",
        ProviderStatus::Failed => "failed",
        ProviderStatus::Skipped(_) | ProviderStatus::Shadowed => "skipped",
        ProviderStatus::NotChecked(_) => "not_checked",
    };
    let spec = result.spec.as_ref().map(|spec| {
        let mut fields = spec.fields.clone();
        fields.insert("class".to_string(), Value::String(spec.class.clone()));
        fields.insert(
            "config_schema".to_string(),
            spec.config_schema.clone().unwrap_or(Value::Null),
        );
        Value::Object(fields)
    });
    ProviderJson {
        provider_id: entry.provider_id.as_deref(),
        api: &entry.api,
        provider_type: &entry.provider_type,
        module: &result.module,
        source: if entry.module.is_some() {
            "external"
        } else {
            "in_tree"
        },
        status,
        skip_reason: result.status.reason(),
        duration_ms: result.duration.map(|d| d.as_millis()),
        spec,
        metadata: result.metadata.as_ref(),
    }
}
