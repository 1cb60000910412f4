//! The metadata consistency phase (FR-013–017): compares what the deploy flow's
//! metadata says about a provider with what the provider really is.
//!
//! The operator copies each provider image's `lls-provider-spec.yaml`
//! (a `ProviderPackage`) to `<metadata dir>/<provider_id>/`, next to a
//! `crd-config.yaml` that holds the `providerId` and `api` it put into run.yaml.
//! Every field that appears on both sides is compared through one table
//! ([`KNOWN_FIELDS`]), plus any other `spec.<camelCase>` key whose snake_case
//! twin the runtime spec has, so fields llama-stack adds later join without a
//! code change. The runtime value always wins: a mismatch, a malformed file or
//! a missing one is a warning and never changes the exit code.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use serde_yaml_ng::Value as YamlValue;

use crate::config::yaml_error_message;
use crate::diagnostics::{FieldComparison, RuntimeSource, Warning};
use crate::files::{self, ReadError};

/// Where the deploy flow puts metadata; used when `--metadata-dir` is absent
/// and this directory exists, so the operator's unchanged command line gets
/// the comparison.
pub(crate) const DEFAULT_METADATA_DIR: &str = "/opt/llama-stack/external-providers/metadata";
pub(crate) const SPEC_FILE: &str = "lls-provider-spec.yaml";
pub(crate) const CRD_FILE: &str = "crd-config.yaml";
const API_VERSION: &str = "llamastack.io/v1alpha1";
const KIND: &str = "ProviderPackage";
/// Metadata files are a few hundred bytes; anything larger is not one.
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// One row of the mapping table: a metadata field and its runtime twin.
pub(crate) struct FieldPair {
    pub(crate) file: &'static str,
    /// Dotted path in the metadata document.
    pub(crate) metadata_path: &'static str,
    pub(crate) runtime: RuntimeSource,
    /// The runtime field's name, as reports show it.
    pub(crate) runtime_field: &'static str,
}

/// The documented mapping table (camelCase metadata ↔ snake_case runtime).
pub(crate) const KNOWN_FIELDS: [FieldPair; 6] = [
    FieldPair {
        file: SPEC_FILE,
        metadata_path: "spec.providerType",
        runtime: RuntimeSource::Spec,
        runtime_field: "provider_type",
    },
    FieldPair {
        file: SPEC_FILE,
        metadata_path: "spec.api",
        runtime: RuntimeSource::Spec,
        runtime_field: "api",
    },
    FieldPair {
        file: SPEC_FILE,
        metadata_path: "spec.packageName",
        runtime: RuntimeSource::RunYaml,
        runtime_field: "module",
    },
    FieldPair {
        file: SPEC_FILE,
        metadata_path: "metadata.description",
        runtime: RuntimeSource::Spec,
        runtime_field: "description",
    },
    FieldPair {
        file: CRD_FILE,
        metadata_path: "providerId",
        runtime: RuntimeSource::RunYaml,
        runtime_field: "provider_id",
    },
    FieldPair {
        file: CRD_FILE,
        metadata_path: "api",
        runtime: RuntimeSource::RunYaml,
        runtime_field: "api",
    },
];

/// `spec` keys that describe the package, not the provider: never joined.
const PACKAGING_ONLY: [&str; 2] = ["wheelPath", "dependencyWheels"];

/// What the runtime side offers for comparison.
pub(crate) struct Runtime<'a> {
    pub(crate) provider_id: &'a str,
    /// The run.yaml section.
    pub(crate) api: &'a str,
    /// The run.yaml `module:` import name, for external providers.
    pub(crate) module: Option<&'a str>,
    /// The fields of the provider's spec.
    pub(crate) spec: &'a Map<String, JsonValue>,
}

/// The outcome for one provider.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct MetadataReport {
    /// The provider's metadata directory.
    pub(crate) directory: PathBuf,
    /// False when neither file exists (normal for in-tree providers).
    pub(crate) found: bool,
    pub(crate) fields: Vec<FieldComparison>,
}

impl MetadataReport {
    pub(crate) fn mismatches(&self) -> impl Iterator<Item = &FieldComparison> {
        self.fields.iter().filter(|field| !field.matches())
    }
}

/// Typed view of `lls-provider-spec.yaml`: parsing it checks the required
/// fields and their types, with positions. Values are then read through
/// [`KNOWN_FIELDS`], so the fields only checked here carry a leading underscore.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderPackage {
    api_version: String,
    kind: String,
    #[serde(rename = "metadata")]
    _metadata: PackageMetadata,
    #[serde(rename = "spec")]
    _spec: PackageSpec,
}

#[derive(Debug, Deserialize)]
struct PackageMetadata {
    #[serde(rename = "name")]
    _name: String,
    #[serde(rename = "version")]
    _version: String,
    #[serde(rename = "vendor")]
    _vendor: String,
}

#[derive(Debug, Deserialize)]
struct PackageSpec {
    #[serde(rename = "packageName")]
    _package_name: String,
    #[serde(rename = "providerType")]
    _provider_type: String,
    #[serde(rename = "api")]
    _api: String,
    #[serde(rename = "wheelPath")]
    _wheel_path: String,
}

/// Typed view of `crd-config.yaml`.
#[derive(Debug, Deserialize)]
struct CrdConfig {
    #[serde(rename = "providerId")]
    _provider_id: String,
    #[serde(rename = "api")]
    _api: String,
}

/// Compares the metadata of one provider; problems with the files and each
/// mismatched field become warnings in `warnings`.
pub(crate) fn compare(
    dir: &Path,
    runtime: &Runtime<'_>,
    warnings: &mut Vec<Warning>,
) -> MetadataReport {
    let directory = dir.join(runtime.provider_id);
    let mut report = MetadataReport {
        directory: directory.clone(),
        ..MetadataReport::default()
    };
    for file in [SPEC_FILE, CRD_FILE] {
        let path = directory.join(file);
        let Some(document) = load(&path, file, runtime.provider_id, warnings) else {
            continue;
        };
        report.found = true;
        for pair in KNOWN_FIELDS.iter().filter(|pair| pair.file == file) {
            if let Some(metadata_value) = lookup(&document, pair.metadata_path) {
                if let Some(runtime_value) =
                    runtime_value(runtime, pair.runtime, pair.runtime_field)
                {
                    report.fields.push(FieldComparison {
                        file: file.to_string(),
                        metadata_field: pair.metadata_path.to_string(),
                        field: pair.runtime_field.to_string(),
                        runtime_source: pair.runtime,
                        metadata_value,
                        runtime_value,
                    });
                }
            }
        }
        if file == SPEC_FILE {
            report.fields.extend(extra_spec_fields(&document, runtime));
        }
    }
    warnings.extend(report.mismatches().map(|mismatch| Warning {
        provider_id: Some(runtime.provider_id.to_string()),
        code: "preflight::metadata::mismatch",
        message: format!(
            "{} in {} is '{}', but {} says '{}'; using the runtime value",
            mismatch.metadata_field,
            mismatch.file,
            mismatch.metadata_value,
            mismatch.runtime_source.label(),
            mismatch.runtime_value
        ),
        mismatch: Some(mismatch.clone()),
    }));
    if !report.found {
        tracing::info!(provider = runtime.provider_id, dir = %report.directory.display(), "no metadata for provider");
    }
    report
}

/// Reads and validates one metadata file; `None` when absent or unusable.
fn load(
    path: &Path,
    file: &str,
    provider_id: &str,
    warnings: &mut Vec<Warning>,
) -> Option<YamlValue> {
    let mut warn = |problem: String| {
        warnings.push(Warning {
            provider_id: Some(provider_id.to_string()),
            code: "preflight::metadata::unreadable",
            message: format!(
                "{}: {problem}; metadata comparison skipped for this file",
                path.display()
            ),
            mismatch: None,
        });
    };
    let text = match files::read_regular(path, MAX_METADATA_BYTES).map(String::from_utf8) {
        Err(ReadError::NotFound) => return None,
        Err(err) => {
            warn(err.reason(MAX_METADATA_BYTES));
            return None;
        }
        Ok(Err(_)) => {
            warn("not UTF-8 text".to_string());
            return None;
        }
        Ok(Ok(text)) => text,
    };
    match parse(&text, file) {
        Ok(document) => Some(document),
        Err(problem) => {
            warn(problem);
            None
        }
    }
}

/// Validates a metadata file's text against its schema; the problem, with its
/// position when the parser gives one, otherwise.
fn parse(text: &str, file: &str) -> Result<YamlValue, String> {
    if file == SPEC_FILE {
        let package =
            serde_yaml_ng::from_str::<ProviderPackage>(text).map_err(|err| position_first(&err))?;
        let wrong = [
            ("apiVersion", package.api_version, API_VERSION),
            ("kind", package.kind, KIND),
        ]
        .into_iter()
        .find(|(_, found, wanted)| found != wanted);
        if let Some((key, found, wanted)) = wrong {
            return Err(format!("{key} is '{found}', expected '{wanted}'"));
        }
    } else {
        serde_yaml_ng::from_str::<CrdConfig>(text).map_err(|err| position_first(&err))?;
    }
    serde_yaml_ng::from_str(text).map_err(|err| position_first(&err))
}

/// `line L column C: message`, the way an operator reads a YAML error.
fn position_first(err: &serde_yaml_ng::Error) -> String {
    let message = yaml_error_message(err);
    match err.location() {
        Some(location) => format!(
            "line {} column {}: {message}",
            location.line(),
            location.column()
        ),
        None => message,
    }
}

fn lookup(document: &YamlValue, dotted: &str) -> Option<String> {
    let value = dotted
        .split('.')
        .try_fold(document, |node, key| node.get(key))?;
    serde_json::to_value(value)
        .ok()
        .as_ref()
        .and_then(json_text)
}

fn json_text(value: &JsonValue) -> Option<String> {
    match value {
        JsonValue::String(text) => Some(text.clone()),
        JsonValue::Bool(flag) => Some(flag.to_string()),
        JsonValue::Number(number) => Some(number.to_string()),
        JsonValue::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(json_text).collect();
            items.map(|items| format!("[{}]", items.join(", ")))
        }
        _ => None,
    }
}

fn runtime_value(runtime: &Runtime<'_>, source: RuntimeSource, field: &str) -> Option<String> {
    match (source, field) {
        (RuntimeSource::RunYaml, "provider_id") => Some(runtime.provider_id.to_string()),
        (RuntimeSource::RunYaml, "api") => Some(runtime.api.to_string()),
        (RuntimeSource::RunYaml, "module") => runtime.module.map(str::to_string),
        (RuntimeSource::Spec, field) => runtime.spec.get(field).and_then(json_text),
        (RuntimeSource::RunYaml, _) => None,
    }
}

/// `spec.<camelCase>` keys beyond the table whose snake_case twin the runtime
/// spec has.
fn extra_spec_fields(document: &YamlValue, runtime: &Runtime<'_>) -> Vec<FieldComparison> {
    let Some(YamlValue::Mapping(spec)) = document.get("spec") else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    for (key, value) in spec {
        let Some(key) = key.as_str() else { continue };
        let dotted = format!("spec.{key}");
        if PACKAGING_ONLY.contains(&key)
            || KNOWN_FIELDS.iter().any(|pair| pair.metadata_path == dotted)
        {
            continue;
        }
        let field = snake_case(key);
        let (Some(metadata_value), Some(runtime_value)) = (
            serde_json::to_value(value)
                .ok()
                .as_ref()
                .and_then(json_text),
            runtime.spec.get(&field).and_then(json_text),
        ) else {
            continue;
        };
        fields.push(FieldComparison {
            file: SPEC_FILE.to_string(),
            metadata_field: dotted,
            field,
            runtime_source: RuntimeSource::Spec,
            metadata_value,
            runtime_value,
        });
    }
    fields
}

fn snake_case(camel: &str) -> String {
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_keys_find_their_snake_case_twins() {
        assert_eq!(snake_case("configClass"), "config_class");
        assert_eq!(snake_case("pipPackages"), "pip_packages");
        assert_eq!(snake_case("api"), "api");
    }

    #[test]
    fn lists_and_scalars_compare_as_text() {
        let yaml: YamlValue = serde_yaml_ng::from_str("a: [x, y]\nb: 3\nc: {d: 1}\n").unwrap();
        assert_eq!(lookup(&yaml, "a").as_deref(), Some("[x, y]"));
        assert_eq!(lookup(&yaml, "b").as_deref(), Some("3"));
        assert_eq!(lookup(&yaml, "c"), None);
        assert_eq!(
            json_text(&serde_json::json!(["x", "y"])).as_deref(),
            Some("[x, y]")
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, YAML_FRAGMENTS, text_of};

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_metadata_text_parses_or_names_its_problem(
                text in text_of(YAML_FRAGMENTS),
                spec_file in any::<bool>(),
            ) {
                let file = if spec_file { SPEC_FILE } else { CRD_FILE };
                match parse(&text, file) {
                    Ok(document) => {
                        let spec = serde_json::json!({"provider_type": "remote::x", "api": "eval", "config_class": "c"});
                        let runtime = Runtime {
                            provider_id: "good",
                            api: "eval",
                            module: Some("p"),
                            spec: spec.as_object().expect("an object"),
                        };
                        for pair in &KNOWN_FIELDS {
                            let _ = lookup(&document, pair.metadata_path);
                        }
                        let _ = extra_spec_fields(&document, &runtime);
                    }
                    Err(problem) => prop_assert!(!problem.is_empty()),
                }
            }
        }
    }
}
