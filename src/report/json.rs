//! The JSON report: one document for every outcome, failures included. Field
//! names are a public contract (documented in docs/reference.md); bump
//! [`SCHEMA_VERSION`] when one changes meaning.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::diagnostics::{Phase, RefusedSetting, Warning};
use crate::interpreter::{Interpreter, LlamaStackFacts, PythonFacts};
use crate::metadata::MetadataReport;
use crate::probe::Isolation;
use crate::report::{exit, exit_code};
use crate::results::{PreflightResult, ProviderResult, ProviderStatus};
use crate::sandbox::SandboxLayers;

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
    /// Present (true) only when the run stopped at a fault certain without
    /// importing llama-stack, which was then never imported.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stopped_before_import: bool,
    warnings: &'a [Warning],
    /// With --print-config: the configuration the server reads, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_config: Option<&'a serde_yaml_ng::Value>,
}

#[derive(Serialize)]
struct InterpreterJson<'a> {
    #[serde(flatten)]
    interpreter: &'a Interpreter,
    python: &'a PythonFacts,
    llama_stack: &'a LlamaStackFacts,
    /// How providers were kept apart: `fork` of a warm interpreter or `spawn`.
    isolation: &'a Isolation,
    /// The protections the probe processes ran in.
    sandbox: &'a SandboxLayers,
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
            sandbox: &facts.sandbox,
        }),
        providers: result.providers.iter().map(provider).collect(),
        errors: result
            .failures
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
        stopped_before_import: result.stopped_before_import,
        warnings: &result.warnings,
        effective_config: result.effective_config.as_ref(),
    };
    let mut text = pretty_inert(&document);
    text.push('\n');
    text
}

/// `value` as pretty JSON with every control character escaped.
fn pretty_inert(value: &impl Serialize) -> String {
    let mut bytes = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut bytes, InertFormatter::default());
    value
        .serialize(&mut serializer)
        .expect("the report serialises");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// Pretty JSON in which no string carries a raw control character: JSON
/// requires `\u` escapes for C0 only (serde_json's default), but DEL and the
/// C1 controls (U+0080 to U+009F, some of which terminals act on) can come
/// from provider text too, and `jq -r` or a log viewer would pass them on.
#[derive(Default)]
struct InertFormatter(PrettyFormatter<'static>);

impl Formatter for InertFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if c.is_control() {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped() {
        let text = "a\u{7f}b\u{85}c\u{9b}[31md\u{1b}e\nf\u{a0}é";
        let shown = pretty_inert(&serde_json::json!({ "message": [text] }));
        assert_eq!(
            shown,
            "{\n  \"message\": [\n    \"a\\u007fb\\u0085c\\u009b[31md\\u001be\\nf\u{a0}é\"\n  ]\n}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&shown).expect("valid JSON");
        assert_eq!(parsed["message"][0], text);
    }
}
