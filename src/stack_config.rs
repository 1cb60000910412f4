//! The server's own reading of run.yaml, and what its start-up decides from
//! settings alone.
//!
//! Before any provider, the run command (`llama stack run`, `ogx run`) loads
//! run.yaml with PyYAML, runs its upgrade path and environment substitution
//! and validates the result with its `StackConfig` model; uvicorn then loads
//! the TLS files; the stack opens the metadata store, builds the
//! conversations service and reads `external_providers_dir`. After the
//! providers (each opening the stores its config names) it opens the
//! inference, prompts and connectors stores, registers the resources run.yaml
//! lists and validates the vector-store and safety defaults. The probe runs
//! the server's own code for the first steps and reports what the rest
//! depends on ([`StackFacts`]); this module judges those facts in the
//! server's order, and names the run.yaml line of each refusal.

use std::collections::BTreeMap;
use std::time::Duration;

use miette::Diagnostic;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::config::env::DISABLED_ID;
use crate::config::{Place, ProviderEntry, RunConfig, Step, locate};
use crate::diagnostics::RefusedSetting;
use crate::diagnostics::{Phase, PhaseError, Warning};
use crate::import::{self, ConfigProblem};
use crate::interpreter::MIN_QUERY_TIMEOUT;
use crate::probe::{ChannelError, PyException, Runner};

/// The stores the server needs whatever run.yaml serves, in the order it
/// opens them before the providers.
const STORES_BEFORE_PROVIDERS: [&str; 2] = ["metadata", "conversations"];

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum StackConfigError {
    #[error("The server's YAML loader (PyYAML) refuses run.yaml: {message}")]
    #[diagnostic(
        code(preflight::stack::yaml_refused),
        help(
            "Fix run.yaml at the line given: the server loads it with PyYAML's safe_load, which knows no custom tags (!name) and takes no list or mapping as a key."
        )
    )]
    YamlRefused {
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },

    #[error("The server's configuration model ({model}) refuses run.yaml")]
    #[diagnostic(
        code(preflight::stack::config_refused),
        help(
            "Fix the settings listed above in run.yaml: the server's run command builds {model} from run.yaml, after substituting environment variables, before it starts anything, and stops on the same error."
        )
    )]
    ConfigRefused {
        model: &'static str,
        refused: Vec<RefusedSetting>,
    },

    #[error("The server's configuration loader raised {summary}")]
    #[diagnostic(
        code(preflight::stack::loader_failed),
        help(
            "Fix run.yaml so that the server's run command can load it; the traceback shows where its loader failed."
        )
    )]
    LoaderFailed {
        summary: String,
        exception: Option<Box<PyException>>,
    },

    #[error("The server's reading of run.yaml could not be checked: {reason}")]
    #[diagnostic(
        code(preflight::stack::check_failed),
        help(
            "Run preflight with --verbose for the interpreter's output; the check runs llama-stack's own configuration code, which should neither crash nor hang."
        )
    )]
    CheckFailed { reason: String },

    #[error("server.{field} cannot be loaded: {problem}")]
    #[diagnostic(code(preflight::stack::tls_file), help("{advice}"))]
    TlsFile {
        field: String,
        file: String,
        line: Option<usize>,
        problem: String,
        advice: String,
    },

    #[error("storage.stores.{store} is null, but the server opens it when it starts")]
    #[diagnostic(
        code(preflight::stack::store_missing),
        help(
            "Give storage.stores.{store} a reference to a {kind}_* backend of storage.backends (backend: <name>, and its {field}), or leave the key out for the server's default."
        )
    )]
    StoreMissing {
        store: String,
        kind: String,
        field: &'static str,
        line: Option<usize>,
    },

    #[error(
        "{} names backend '{}', which storage.backends does not define as a {}_* backend",
        .0.place, .0.backend, .0.kind
    )]
    #[diagnostic(code(preflight::stack::unknown_backend), help("{}", .0.advice))]
    UnknownBackend(Box<UnknownBackend>),

    #[error("The provider spec {file} in external_providers_dir cannot be loaded: {problem}")]
    #[diagnostic(
        code(preflight::stack::external_spec_invalid),
        help(
            "Fix or remove the file: the server reads every *.yaml under external_providers_dir/remote/<api>/ and inline/<api>/ when it starts, used or not, and stops at the first it cannot load. A spec holds the spec's own fields at the top level (adapter_type for a remote one, module, config_class, …) and neither provider_type nor api, which the server derives from the file's place; or give the provider module: in run.yaml instead."
        )
    )]
    ExternalSpecInvalid {
        file: String,
        problem: String,
        line: Option<usize>,
        exception: Option<Box<PyException>>,
    },

    #[error("external_providers_dir {path} does not exist and cannot be created")]
    #[diagnostic(
        code(preflight::stack::external_dir_uncreatable),
        help(
            "Create the directory, or fix or remove external_providers_dir: the server's run command creates a missing one and stops when it cannot."
        )
    )]
    ExternalDirUncreatable { path: String, line: Option<usize> },

    #[error(
        "{place} names provider '{provider_id}', which is not an enabled provider of providers.{section}"
    )]
    #[diagnostic(code(preflight::stack::resource_provider_missing), help("{advice}"))]
    ResourceProviderMissing {
        place: String,
        /// The provider comes from a dataset's `source`, not from a
        /// `provider_id`; `line` is that setting's.
        implied: bool,
        line: Option<usize>,
        provider_id: String,
        section: String,
        advice: String,
    },

    #[error("{place} registers an embedding model without metadata.embedding_dimension")]
    #[diagnostic(
        code(preflight::stack::embedding_dimension_missing),
        help(
            "Add metadata: {{embedding_dimension: <the size of the model's vectors>}} to the model; the server refuses to register an embedding model without it (\"Embedding model must have an embedding dimension in its metadata\")."
        )
    )]
    EmbeddingDimensionMissing { place: String, line: Option<usize> },

    #[error("{setting} names '{identifier}', which no enabled inference provider can serve")]
    #[diagnostic(code(preflight::stack::default_model_unserved), help("{advice}"))]
    DefaultModelUnserved {
        setting: String,
        /// The line of its provider_id.
        line: Option<usize>,
        provider_id: String,
        identifier: String,
        advice: String,
    },

    #[error("{setting} needs the {api} API, which apis: leaves out")]
    #[diagnostic(
        code(preflight::stack::api_not_served),
        help(
            "Add {api} to apis: in run.yaml, or remove {setting}; the server validates it when it starts and stops when the API is not served."
        )
    )]
    ApiNotServed {
        setting: String,
        line: Option<usize>,
        api: String,
    },
}

impl PhaseError for StackConfigError {
    fn phase(&self) -> Phase {
        Phase::Config
    }

    fn details(&self) -> Option<String> {
        let at = |line: &Option<usize>| at_line(*line);
        match self {
            StackConfigError::YamlRefused {
                line: Some(line),
                column,
                ..
            } => Some(match column {
                Some(column) => format!("At run.yaml line {line}, column {column}."),
                None => format!("At run.yaml line {line}."),
            }),
            StackConfigError::ConfigRefused { refused, .. } => Some(
                refused
                    .iter()
                    .map(RefusedSetting::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            StackConfigError::TlsFile {
                field, file, line, ..
            } if file.is_empty() => Some(format!("server.{field}{}", at(line))),
            StackConfigError::TlsFile {
                field, file, line, ..
            } => Some(format!("server.{field}{}: {file}", at(line))),
            StackConfigError::StoreMissing { store, line, .. } => {
                Some(format!("storage.stores.{store}{}: null", at(line)))
            }
            StackConfigError::UnknownBackend(problem) => {
                let UnknownBackend {
                    place,
                    line,
                    backend,
                    server_says,
                    ..
                } = problem.as_ref();
                Some(if problem.written {
                    format!(
                        "{place}.backend{}: {backend}\nThe server stops with: {server_says}",
                        at(line)
                    )
                } else {
                    format!(
                        "{place} is not in run.yaml, so the server uses its default, which names backend {backend}{}\nThe server stops with: {server_says}",
                        line.map(|line| format!(
                            " (nearest setting written: run.yaml line {line})"
                        ))
                        .unwrap_or_default()
                    )
                })
            }
            StackConfigError::ExternalSpecInvalid {
                line: Some(line), ..
            } => Some(format!("At line {line} of the spec file.")),
            StackConfigError::ExternalDirUncreatable { line, .. } => {
                Some(format!("external_providers_dir{}", at(line)))
            }
            StackConfigError::ResourceProviderMissing {
                place,
                implied: false,
                line,
                provider_id,
                ..
            } => Some(format!("{place}.provider_id{}: {provider_id}", at(line))),
            StackConfigError::ResourceProviderMissing { place, line, .. } => {
                Some(format!("{place}.source{}", at(line)))
            }
            StackConfigError::EmbeddingDimensionMissing { place, line } => {
                Some(format!("{place}{}", at(line)))
            }
            StackConfigError::DefaultModelUnserved {
                setting,
                line,
                provider_id,
                ..
            } => Some(format!("{setting}.provider_id{}: {provider_id}", at(line))),
            StackConfigError::ApiNotServed { setting, line, .. } => {
                Some(format!("{setting}{}", at(line)))
            }
            _ => None,
        }
    }

    fn traceback(&self) -> Option<&str> {
        match self {
            StackConfigError::LoaderFailed {
                exception: Some(exception),
                ..
            }
            | StackConfigError::ExternalSpecInvalid {
                exception: Some(exception),
                ..
            } => Some(&exception.traceback),
            _ => None,
        }
    }

    fn refused_settings(&self) -> &[RefusedSetting] {
        match self {
            StackConfigError::ConfigRefused { refused, .. } => refused,
            _ => &[],
        }
    }

    fn line(&self) -> Option<usize> {
        match self {
            StackConfigError::YamlRefused { line, .. }
            | StackConfigError::TlsFile { line, .. }
            | StackConfigError::StoreMissing { line, .. }
            | StackConfigError::ExternalSpecInvalid { line, .. }
            | StackConfigError::ExternalDirUncreatable { line, .. }
            | StackConfigError::ResourceProviderMissing { line, .. }
            | StackConfigError::EmbeddingDimensionMissing { line, .. }
            | StackConfigError::DefaultModelUnserved { line, .. }
            | StackConfigError::ApiNotServed { line, .. } => *line,
            StackConfigError::UnknownBackend(unknown) => unknown.line,
            StackConfigError::ConfigRefused { refused, .. } => {
                refused.iter().find_map(|setting| setting.line)
            }
            StackConfigError::LoaderFailed { .. } | StackConfigError::CheckFailed { .. } => None,
        }
    }
}

/// A store reference to a backend the server does not register for its kind.
#[derive(Debug)]
pub(crate) struct UnknownBackend {
    place: String,
    line: Option<usize>,
    /// Whether run.yaml writes the backend (else it is the default).
    written: bool,
    backend: String,
    kind: String,
    server_says: String,
    advice: String,
}

/// The probe's answer to `stack_config`.
#[derive(Debug, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum StackDocument {
    Ok {
        refused: Option<Refusal>,
        stack: Option<Box<StackFacts>>,
    },
    Error {
        kind: String,
        exception: Option<Box<PyException>>,
    },
}

/// Why the server's loader stopped.
#[derive(Debug, Deserialize)]
struct Refusal {
    /// `yaml`, `cli` (the upgrade path of the run command) or `server` (the
    /// server factory).
    stage: String,
    #[serde(flatten)]
    problem: Problem,
}

/// What a refusal says, by kind.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Problem {
    Yaml {
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    Validation {
        errors: Vec<ConfigProblem>,
    },
    Env {
        name: String,
        path: String,
    },
    Exception {
        exception: Box<PyException>,
    },
}

/// What the rest of start-up depends on, read with the server's own code.
#[derive(Debug, Deserialize)]
pub(crate) struct StackFacts {
    /// `storage.backends`, defaults included: name → type (`kv_sqlite`, …).
    backends: BTreeMap<String, String>,
    /// `storage.stores`, defaults included: the backend each names (none
    /// when null) and the kind it takes.
    stores: BTreeMap<String, StoreRef>,
    tls: Tls,
    /// `registered_resources`, in the order the server registers them.
    resources: Vec<Resources>,
    /// The vector-store defaults the server validates at start-up.
    #[serde(default)]
    vector_stores: BTreeMap<String, Option<Value>>,
    safety: Option<Value>,
    external_providers_dir: Option<ExternalDir>,
    /// The server takes `provider_id: all` in `registered_resources` (ogx
    /// 1.5: a model is registered with the first inference provider, any
    /// other resource is skipped with a warning).
    #[serde(default)]
    provider_all: bool,
}

#[derive(Debug, Deserialize)]
struct StoreRef {
    backend: Option<String>,
    /// `kv` or `sql`, from the field's type.
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Tls {
    fields: BTreeMap<String, Option<String>>,
    /// Both tls_certfile and tls_keyfile are set: the server serves HTTPS.
    enabled: bool,
    problem: Option<TlsProblem>,
}

#[derive(Debug, Deserialize)]
struct TlsProblem {
    field: String,
    message: String,
    #[serde(default)]
    passphrase: bool,
}

#[derive(Debug, Deserialize)]
struct Resources {
    /// The key under registered_resources (`models`, …).
    name: String,
    /// The router API whose providers serve them.
    router: Option<String>,
    items: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct ExternalDir {
    path: String,
    exists: bool,
    #[serde(default)]
    creatable: bool,
    specs: Vec<ExternalSpec>,
    problem: Option<ExternalProblem>,
}

#[derive(Debug, Deserialize)]
struct ExternalSpec {
    api: String,
    provider_type: String,
    file: String,
}

#[derive(Debug, Deserialize)]
struct ExternalProblem {
    file: String,
    #[serde(flatten)]
    problem: Problem,
}

impl StackFacts {
    /// The file in external_providers_dir the server takes `entry`'s spec
    /// from, for an entry without `module:`.
    pub(crate) fn spec_file(&self, entry: &ProviderEntry) -> Option<&str> {
        if entry.module.is_some() {
            return None;
        }
        self.external_providers_dir
            .as_ref()?
            .specs
            .iter()
            .find(|spec| spec.api == entry.api && spec.provider_type == entry.provider_type)
            .map(|spec| spec.file.as_str())
    }

    fn backend_kind(&self, backend: &str) -> Option<&str> {
        self.backends
            .get(backend)
            .and_then(|kind| kind.split('_').next())
    }

    /// A store reference (`kind` is `kv` or `sql`) against the backends the
    /// server registers: the KV registry holds only kv_* backends, the SQL
    /// one only sql_* ones. `reference` names the reference, `backend` is
    /// where its backend is (or would be) written.
    fn check_reference(
        &self,
        reference: &str,
        backend: impl FnOnce() -> Place,
        name: &str,
        kind: &str,
    ) -> Result<(), StackConfigError> {
        if self.backend_kind(name) == Some(kind) {
            return Ok(());
        }
        let backend = backend();
        let available: Vec<&str> = self
            .backends
            .keys()
            .filter(|backend| self.backend_kind(backend) == Some(kind))
            .map(String::as_str)
            .collect();
        let registered = format!(
            "[{}]",
            available
                .iter()
                .map(|name| format!("'{name}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let server_says = match kind {
            "kv" => format!("Unknown KVStore backend '{name}'. Registered backends: {registered}"),
            _ => format!("Unknown SQL store backend '{name}'. Registered backends: {registered}"),
        };
        let choice = if available.is_empty() {
            format!("a {kind}_* backend you define under storage.backends")
        } else {
            format!(
                "one of the {kind}_* backends storage.backends defines ({})",
                available.join(", ")
            )
        };
        let advice = if backend.written {
            format!(
                "Set backend to {choice}, or define '{name}' under storage.backends with a {kind}_* type; the server opens this store when it starts."
            )
        } else {
            format!(
                "Write {reference} with a backend: {choice}; or define a {kind}_* backend named '{name}' under storage.backends. The server opens this store when it starts."
            )
        };
        Err(StackConfigError::UnknownBackend(Box::new(UnknownBackend {
            place: reference.to_string(),
            line: backend.line,
            written: backend.written,
            backend: name.to_string(),
            kind: kind.to_string(),
            server_says,
            advice,
        })))
    }
}

/// Runs the server's reading of run.yaml (the file at `run_yaml`, whose text
/// and Rust reading are `text` and `config`) and returns what the rest of
/// start-up depends on, or the server's refusal.
pub(crate) fn read(
    runner: &mut Runner,
    run_yaml: &std::path::Path,
    config: &RunConfig,
    text: &str,
    timeout: Duration,
) -> Result<StackFacts, StackConfigError> {
    // Without a warm parent the check imports llama-stack's core first, as
    // the interpreter query does; a short per-provider --timeout must not
    // cut that short.
    let timeout = timeout.max(MIN_QUERY_TIMEOUT);
    let path = std::path::absolute(run_yaml).unwrap_or_else(|_| run_yaml.to_path_buf());
    let request = serde_json::json!({
        "run_yaml": path,
        "dump_stack_after": (timeout.as_secs_f64() - 0.5).max(timeout.as_secs_f64() * 0.8),
    });
    let probed = runner
        .check::<StackDocument>("stack_config", request.to_string(), timeout)
        .map_err(|err| StackConfigError::CheckFailed {
            reason: channel_reason(&err, timeout),
        })?;
    match probed.document {
        StackDocument::Ok {
            refused: None,
            stack: Some(facts),
        } => Ok(*facts),
        StackDocument::Ok {
            refused: Some(refusal),
            ..
        } => Err(refused(refusal, config, text)),
        StackDocument::Ok { .. } => Err(StackConfigError::CheckFailed {
            reason: "the probe gave neither facts nor a refusal".to_string(),
        }),
        StackDocument::Error { kind, exception } => Err(StackConfigError::CheckFailed {
            reason: match exception {
                Some(exception) => format!("{kind}: {}", exception.summary()),
                None => kind,
            },
        }),
    }
}

fn channel_reason(err: &ChannelError, timeout: Duration) -> String {
    let what = match err {
        ChannelError::Spawn(io) => format!("the interpreter could not be started ({io})"),
        ChannelError::TimedOut { .. } => {
            format!("it did not finish within {} s", timeout.as_secs())
        }
        ChannelError::Signalled { signal, .. } => {
            format!("the interpreter was killed by signal {signal}")
        }
        ChannelError::NoDocument { code, .. } => format!("the interpreter exited with code {code}"),
        ChannelError::Garbage { .. } => {
            "the interpreter printed something other than a result".to_string()
        }
    };
    let tail = err.stderr_tail();
    if tail.is_empty() {
        what
    } else {
        format!("{what}\n{tail}")
    }
}

/// The server's refusal, with the run.yaml line of each refused setting.
fn refused(refusal: Refusal, config: &RunConfig, text: &str) -> StackConfigError {
    tracing::info!(
        stage = refusal.stage,
        "the server's loader refuses run.yaml"
    );
    match refusal.problem {
        Problem::Yaml {
            message,
            line,
            column,
        } => StackConfigError::YamlRefused {
            message,
            line,
            column,
        },
        Problem::Validation { errors } => StackConfigError::ConfigRefused {
            model: "StackConfig",
            refused: errors
                .iter()
                .map(|problem| refused_setting(problem, config, text))
                .collect(),
        },
        Problem::Env { name, path } => StackConfigError::LoaderFailed {
            summary: format!(
                "EnvVarError: Environment variable '{name}' not set or empty at {path}"
            ),
            exception: None,
        },
        Problem::Exception { exception } => StackConfigError::LoaderFailed {
            summary: exception.summary(),
            exception: Some(exception),
        },
    }
}

/// A refusal of StackConfig at its place in run.yaml. A model-level refusal
/// has no place of its own; the server's message names the setting it is
/// about (`storage.stores.inference references unknown backend …`).
fn refused_setting(problem: &ConfigProblem, config: &RunConfig, text: &str) -> RefusedSetting {
    let message = problem
        .msg
        .strip_prefix("Value error, ")
        .unwrap_or(&problem.msg);
    let loc = if problem.loc.is_empty() {
        message
            .split_whitespace()
            .next()
            .filter(|first| {
                first.contains('.')
                    && first
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            })
            .map(|first| {
                first
                    .split('.')
                    .map(|part| Step::Key(part.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        problem.loc.clone()
    };
    let place = config.place(text, &loc);
    let from_env = place
        .line
        .and_then(|line| text.lines().nth(line - 1))
        .is_some_and(|line| line.contains("${env."));
    let mut message = message.to_string();
    if from_env && message.starts_with("Input should be a valid string") {
        message.push_str(
            " (the value comes from ${env...}, which the server converts: digits become a number and true/false a boolean)",
        );
        if place.path == "image_name" {
            message.push_str("; write distro_name instead, which the server turns into text");
        }
    }
    RefusedSetting {
        path: if place.path.is_empty() {
            "(document)".to_string()
        } else {
            place.path
        },
        line: place.line,
        message,
    }
}

/// What the server decides before it starts the providers: the keys written
/// twice (warnings), uvicorn's TLS files, the stores it opens first, and
/// external_providers_dir.
pub(crate) fn check_before_providers(
    facts: &StackFacts,
    config: &RunConfig,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), StackConfigError> {
    for duplicate in &config.duplicate_keys {
        warnings.push(warning(
            "preflight::stack::duplicate_key",
            format!(
                "{} is written more than once in its mapping; the server uses the last one{}",
                duplicate.path,
                at_line(locate::nearest_line(text, &duplicate.parts))
            ),
        ));
    }
    check_tls(&facts.tls, config, text, warnings)?;
    for store in STORES_BEFORE_PROVIDERS {
        check_store(facts, store, config, text)?;
    }
    check_external_dir(facts, config, text, warnings)
}

fn check_tls(
    tls: &Tls,
    config: &RunConfig,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), StackConfigError> {
    let set = |field: &str| tls.fields.get(field).is_some_and(Option::is_some);
    if !tls.enabled {
        if let Some(field) = ["tls_certfile", "tls_keyfile"]
            .into_iter()
            .find(|field| set(field))
        {
            let place = config.place(text, &keys(&format!("server.{field}")));
            warnings.push(warning(
                "preflight::stack::tls_incomplete",
                format!(
                    "server.{field}{} is set without its companion; the server then serves plain HTTP (it uses TLS only with both tls_certfile and tls_keyfile)",
                    at_line(place.line)
                ),
            ));
        }
        return Ok(());
    }
    let Some(problem) = &tls.problem else {
        return Ok(());
    };
    let file = tls
        .fields
        .get(&problem.field)
        .cloned()
        .flatten()
        .unwrap_or_default();
    let place = config.place(text, &keys(&format!("server.{}", problem.field)));
    let relative = !file.starts_with('/');
    let advice = if problem.passphrase {
        "Use an unencrypted key (openssl pkey -in key.pem -out plain.pem): the run command gives uvicorn no passphrase, so OpenSSL asks for one on a terminal, which a server in a container does not have.".to_string()
    } else {
        let mut advice = "Point server.tls_certfile at the PEM certificate (chain) and server.tls_keyfile at its private key, server.tls_cafile at PEM CA certificates, all readable by the server; uvicorn loads them before the server starts and stops on the same error.".to_string();
        if relative {
            advice.push_str(" A relative path is read from the directory the server starts in (preflight reads it from its own).");
        }
        advice
    };
    Err(StackConfigError::TlsFile {
        field: problem.field.clone(),
        file,
        line: place.line,
        problem: problem.message.clone(),
        advice,
    })
}

/// `storage.stores.<store>` when the server opens it: set, and naming a
/// backend of the right kind.
fn check_store(
    facts: &StackFacts,
    store: &str,
    config: &RunConfig,
    text: &str,
) -> Result<(), StackConfigError> {
    let path = format!("storage.stores.{store}");
    let Some(StoreRef { backend, kind }) = facts.stores.get(store) else {
        // A release without that store.
        return Ok(());
    };
    let kind = kind.as_deref().unwrap_or("kv");
    match backend {
        Some(backend) => facts.check_reference(
            &path,
            || config.place(text, &keys(&format!("{path}.backend"))),
            backend,
            kind,
        ),
        None => Err(StackConfigError::StoreMissing {
            store: store.to_string(),
            kind: kind.to_string(),
            field: if kind == "kv" {
                "namespace"
            } else {
                "table_name"
            },
            line: config.place(text, &keys(&path)).line,
        }),
    }
}

fn check_external_dir(
    facts: &StackFacts,
    config: &RunConfig,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), StackConfigError> {
    let Some(dir) = &facts.external_providers_dir else {
        return Ok(());
    };
    let place = config.place(text, &keys("external_providers_dir"));
    warnings.push(warning(
        "preflight::stack::external_providers_dir",
        format!(
            "external_providers_dir{} is deprecated: the server still loads the provider specs under it, with a deprecation warning; give each provider module: <import name> instead",
            at_line(place.line)
        ),
    ));
    if !dir.exists && !dir.creatable {
        return Err(StackConfigError::ExternalDirUncreatable {
            path: dir.path.clone(),
            line: place.line,
        });
    }
    let Some(problem) = &dir.problem else {
        return Ok(());
    };
    let (summary, line, exception) = match &problem.problem {
        Problem::Yaml { message, line, .. } => (message.clone(), *line, None),
        Problem::Validation { errors } => (
            errors
                .iter()
                .map(|error| {
                    let loc: Vec<String> = error.loc.iter().map(Step::to_string).collect();
                    format!("{}: {}", loc.join("."), error.msg)
                })
                .collect::<Vec<_>>()
                .join("; "),
            None,
            None,
        ),
        Problem::Env { name, .. } => (format!("environment variable {name}"), None, None),
        Problem::Exception { exception } => (exception.summary(), None, Some(exception.clone())),
    };
    Err(StackConfigError::ExternalSpecInvalid {
        file: problem.file.clone(),
        problem: summary,
        line,
        exception,
    })
}

/// What the server decides about one provider's config when it starts it:
/// every store the config names must be a backend of its kind (an error);
/// keys its pydantic class drops are warnings, with the closest field.
pub(crate) fn check_provider_config(
    entry: &ProviderEntry,
    check: Option<&import::Step>,
    config_class: &str,
    facts: &StackFacts,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), StackConfigError> {
    let Some(check) = check else {
        return Ok(());
    };
    if let Some(ignored) = &check.ignored {
        let class = config_class.rsplit('.').next().unwrap_or(config_class);
        let mut places: Vec<(&String, Place)> = ignored
            .keys
            .iter()
            .map(|key| (key, entry.config_place(text, &[Step::Key(key.clone())])))
            .collect();
        places.sort_by_key(|(_, place)| place.line);
        for (key, place) in places {
            let suggestion = match ignored
                .renamed
                .get(key.as_str())
                .map(String::as_str)
                .or_else(|| closest_field(key, &ignored.accepted))
            {
                Some(field) => format!("; did you mean {field}?"),
                None => String::new(),
            };
            warnings.push(Warning {
                provider_id: entry.provider_id.clone(),
                code: "preflight::stack::ignored_config_key",
                message: format!(
                    "{}{} is not a setting of {class}: the server drops it without a word{suggestion}",
                    place.path,
                    at_line(place.line),
                ),
                mismatch: None,
            });
        }
    }
    for reference in &check.references {
        let mut backend = reference.loc.clone();
        backend.push(Step::Key("backend".into()));
        facts.check_reference(
            &entry.config_path(&reference.loc),
            || entry.config_place(text, &backend),
            &reference.backend,
            &reference.kind,
        )?;
    }
    Ok(())
}

/// What the server decides after the providers started: the stores it opens
/// then, the resources it registers and the defaults it validates. `enabled`
/// lists the providers it starts, by section.
pub(crate) fn check_after_providers(
    facts: &StackFacts,
    config: &RunConfig,
    text: &str,
) -> Result<(), StackConfigError> {
    let served =
        |api: &str| config.apis.is_empty() || config.apis.iter().any(|served| served == api);
    if served("inference") {
        check_store(facts, "inference", config, text)?;
    }
    for store in ["prompts", "connectors"] {
        check_store(facts, store, config, text)?;
    }
    let enabled = |section: &str| -> Vec<&str> {
        config
            .providers
            .iter()
            .filter(|entry| entry.api == section && entry.disabled.is_none())
            .filter_map(|entry| entry.provider_id.as_deref())
            .collect()
    };
    for resources in &facts.resources {
        let Some(router) = resources.router.as_deref().filter(|router| served(router)) else {
            continue;
        };
        let mut accepted = enabled(router);
        if facts.provider_all {
            accepted.push("all");
        }
        for (index, item) in resources.items.iter().enumerate() {
            let loc = vec![
                Step::Key("registered_resources".into()),
                Step::Key(resources.name.clone()),
                Step::Index(index),
            ];
            check_resource(&resources.name, router, item, &loc, &accepted, config, text)?;
        }
    }
    let inference = enabled("inference");
    for (setting, kind) in [
        ("default_embedding_model", "Embedding model"),
        ("default_reranker_model", "Reranker model"),
        ("rewrite_query_params", "Rewrite query model"),
    ] {
        let model = facts.vector_stores.get(setting).cloned().flatten();
        let model = if setting == "rewrite_query_params" {
            model.and_then(|params| params.get("model").cloned())
        } else {
            model
        };
        let Some(model) = model.filter(|model| model.is_object()) else {
            continue;
        };
        let mut loc = keys(&format!("vector_stores.{setting}"));
        if setting == "rewrite_query_params" {
            loc.push(Step::Key("model".into()));
        }
        let setting = loc
            .iter()
            .map(Step::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if !served("inference") {
            return Err(StackConfigError::ApiNotServed {
                line: config.place(text, &loc).line,
                setting,
                api: "inference".into(),
            });
        }
        let text_of = |field: &str| model.get(field).and_then(Value::as_str).unwrap_or_default();
        let provider_id = text_of("provider_id");
        let identifier = format!("{provider_id}/{}", text_of("model_id"));
        // A model's identifier is `<provider_id>/<model>`, whether run.yaml
        // registers it or its provider lists it.
        if inference
            .iter()
            .any(|id| identifier.starts_with(&format!("{id}/")))
        {
            continue;
        }
        let configured = if inference.is_empty() {
            "none is configured".to_string()
        } else {
            format!("configured: {}", inference.join(", "))
        };
        loc.push(Step::Key("provider_id".into()));
        return Err(StackConfigError::DefaultModelUnserved {
            advice: format!(
                "Set provider_id to the id of the enabled inference provider that serves the model ({configured}), or configure that provider; the server looks the model up when it starts and stops with \"{kind} '{identifier}' not found\"."
            ),
            setting,
            line: config.place(text, &loc).line,
            provider_id: provider_id.to_string(),
            identifier,
        });
    }
    let default_shield = facts
        .safety
        .as_ref()
        .and_then(|safety| safety.get("default_shield_id"))
        .is_some_and(|id| !id.is_null());
    if default_shield && !served("safety") {
        let place = config.place(text, &keys("safety.default_shield_id"));
        return Err(StackConfigError::ApiNotServed {
            setting: "safety.default_shield_id".into(),
            line: place.line,
            api: "safety".into(),
        });
    }
    Ok(())
}

/// One resource of `registered_resources.<name>` as the server registers it
/// with the providers of `router`.
fn check_resource(
    name: &str,
    router: &str,
    item: &Value,
    loc: &[Step],
    enabled: &[&str],
    config: &RunConfig,
    text: &str,
) -> Result<(), StackConfigError> {
    let field = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    if name == "models"
        && field("model_type") == Some("embedding")
        && item
            .get("metadata")
            .and_then(|metadata| metadata.get("embedding_dimension"))
            .is_none()
        && field("provider_id").is_some_and(|id| id != DISABLED_ID)
    {
        let place = config.place(text, loc);
        return Err(StackConfigError::EmbeddingDimensionMissing {
            place: place.path,
            line: place.line,
        });
    }
    // A dataset is registered with the provider its source implies; every
    // other resource with its provider_id, and not at all without one.
    let (provider_id, named_by) = if name == "datasets" {
        let source = item.get("source");
        let implied = match (
            item.get("metadata")
                .and_then(|metadata| metadata.get("provider_id"))
                .and_then(Value::as_str),
            source
                .and_then(|source| source.get("type"))
                .and_then(Value::as_str),
            source
                .and_then(|source| source.get("uri"))
                .and_then(Value::as_str),
        ) {
            (Some(id), _, _) if !id.is_empty() => id,
            (_, Some("uri"), Some(uri)) if uri.starts_with("huggingface") => "huggingface",
            _ => "localfs",
        };
        (implied.to_string(), "source")
    } else {
        match field("provider_id") {
            Some(id) if id != DISABLED_ID => (id.to_string(), "provider_id"),
            _ => return Ok(()),
        }
    };
    if enabled.contains(&provider_id.as_str()) {
        return Ok(());
    }
    let mut at = loc.to_vec();
    at.push(Step::Key(named_by.to_string()));
    let line = config.place(text, &at).line;
    let configured = if enabled.is_empty() {
        format!("there are none; configure one under providers.{router}")
    } else {
        enabled.join(", ")
    };
    let advice = if name == "datasets" {
        format!(
            "The server registers a dataset with the datasetio provider its source implies ('huggingface' for a huggingface URI, else 'localfs', or metadata.provider_id): give an enabled datasetio provider that id ({configured}), or set metadata.provider_id. It stops with \"Provider `{provider_id}` not found\" otherwise."
        )
    } else {
        format!(
            "Set provider_id to an enabled {router} provider ({configured}), or configure '{provider_id}' under providers.{router}; the server registers the resource when it starts and stops with \"Provider `{provider_id}` not found\"."
        )
    };
    Err(StackConfigError::ResourceProviderMissing {
        place: config.place(text, loc).path,
        implied: named_by == "source",
        line,
        provider_id,
        section: router.to_string(),
        advice,
    })
}

/// The field a dropped key most likely meant: a typo of it, or a field that
/// has the key as one of its words (`url` for `base_url`).
fn closest_field<'a>(key: &str, fields: &'a [String]) -> Option<&'a str> {
    if let Some(near) = import::nearest(key, fields) {
        return Some(near);
    }
    fields
        .iter()
        .filter(|field| {
            field.split('_').any(|word| word == key)
                || key.split('_').all(|word| field.contains(word))
        })
        .min_by_key(|field| field.len())
        .map(String::as_str)
}

fn keys(dotted: &str) -> Vec<Step> {
    dotted
        .split('.')
        .map(|part| Step::Key(part.to_string()))
        .collect()
}

/// ` (run.yaml line N)`, the way refused settings show their place.
fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!(" (run.yaml line {line})"))
        .unwrap_or_default()
}

fn warning(code: &'static str, message: String) -> Warning {
    Warning {
        provider_id: None,
        code,
        message,
        mismatch: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::config::env::Environment;

    struct NoVars;

    impl Environment for NoVars {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn load(text: &str) -> RunConfig {
        crate::config::load(Path::new("run.yaml"), text, &NoVars).expect("loads")
    }

    /// The facts of a file that sets nothing, as the probe reports them.
    fn defaults() -> Value {
        json!({
            "backends": {"kv_default": "kv_sqlite", "sql_default": "sql_sqlite"},
            "stores": {
                "metadata": {"backend": "kv_default", "kind": "kv"},
                "inference": {"backend": "sql_default", "kind": "sql"},
                "conversations": {"backend": "sql_default", "kind": "sql"},
                "responses": {"backend": null, "kind": "sql"},
                "prompts": {"backend": "kv_default", "kind": "kv"},
                "connectors": {"backend": "kv_default", "kind": "kv"}
            },
            "tls": {"fields": {"tls_certfile": null, "tls_keyfile": null, "tls_cafile": null}, "enabled": false, "problem": null},
            "resources": [
                {"name": "models", "router": "inference", "items": []},
                {"name": "shields", "router": "safety", "items": []},
                {"name": "datasets", "router": "datasetio", "items": []}
            ],
            "vector_stores": {},
            "safety": null,
            "external_providers_dir": null
        })
    }

    fn facts(changes: impl FnOnce(&mut Value)) -> StackFacts {
        let mut facts = defaults();
        changes(&mut facts);
        serde_json::from_value(facts).expect("facts decode")
    }

    const PROVIDERS: &str = "distro_name: t\nproviders:\n  inference:\n  - provider_id: vllm\n    provider_type: remote::vllm\n  - provider_id: ${env.OFF:+other}\n    provider_type: remote::vllm\n";

    fn before(facts: &StackFacts, text: &str) -> (Result<(), StackConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let result = check_before_providers(facts, &load(text), text, &mut warnings);
        (result, warnings)
    }

    fn after(facts: &StackFacts, text: &str) -> Result<(), StackConfigError> {
        check_after_providers(facts, &load(text), text)
    }

    fn code(err: &StackConfigError) -> String {
        err.code().map(|code| code.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_key_written_twice_is_a_warning_at_the_value_the_server_keeps() {
        let text = "distro_name: t\nproviders:\n  eval:\n  - provider_id: a\n    provider_type: x\n    provider_type: y\n";
        let (result, warnings) = before(&facts(|_| {}), text);
        assert!(result.is_ok());
        assert_eq!(
            warnings[0].message,
            "providers.eval[0].provider_type is written more than once in its mapping; the server uses the last one (run.yaml line 6)"
        );
    }

    #[test]
    fn tls_is_checked_only_when_the_server_serves_it() {
        let text = "distro_name: t\nserver:\n  tls_certfile: /c.pem\nproviders: {}\n";
        let (result, warnings) = before(
            &facts(|f| f["tls"]["fields"]["tls_certfile"] = json!("/c.pem")),
            text,
        );
        assert!(result.is_ok());
        assert_eq!(warnings[0].code, "preflight::stack::tls_incomplete");
        let text = "distro_name: t\nserver:\n  tls_certfile: c.pem\n  tls_keyfile: /k.pem\nproviders: {}\n";
        let broken = facts(|f| {
            f["tls"] = json!({
                "fields": {"tls_certfile": "c.pem", "tls_keyfile": "/k.pem", "tls_cafile": null},
                "enabled": true,
                "problem": {"field": "tls_certfile", "message": "FileNotFoundError: No such file or directory"}
            })
        });
        let err = before(&broken, text).0.unwrap_err();
        assert_eq!(
            err.details().unwrap(),
            "server.tls_certfile (run.yaml line 3): c.pem"
        );
        assert!(err.help().unwrap().to_string().contains("relative path"));
    }

    #[test]
    fn a_store_the_server_opens_first_must_be_set() {
        let text = "distro_name: t\nstorage:\n  stores:\n    conversations: null\nproviders: {}\n";
        let err = before(
            &facts(|f| f["stores"]["conversations"]["backend"] = Value::Null),
            text,
        )
        .0
        .unwrap_err();
        assert_eq!(code(&err), "preflight::stack::store_missing");
        assert_eq!(
            err.details().unwrap(),
            "storage.stores.conversations (run.yaml line 4): null"
        );
    }

    #[test]
    fn external_providers_dir_warns_and_its_faults_stop_the_run() {
        let text = "distro_name: t\nexternal_providers_dir: /x\nproviders: {}\n";
        let dir = |exists: bool, creatable: bool, problem: Value| {
            facts(|f| {
                f["external_providers_dir"] = json!({
                    "path": "/x", "exists": exists, "creatable": creatable, "specs": [], "problem": problem
                })
            })
        };
        let (result, warnings) = before(&dir(false, true, Value::Null), text);
        assert!(result.is_ok());
        assert_eq!(warnings[0].code, "preflight::stack::external_providers_dir");
        let err = before(&dir(false, false, Value::Null), text).0.unwrap_err();
        assert_eq!(code(&err), "preflight::stack::external_dir_uncreatable");
        let problem = json!({"file": "/x/remote/eval/a.yaml", "kind": "yaml", "message": "bad", "line": 3, "column": 1});
        let err = before(&dir(true, false, problem), text).0.unwrap_err();
        assert_eq!(
            err.to_string(),
            "The provider spec /x/remote/eval/a.yaml in external_providers_dir cannot be loaded: bad"
        );
    }

    #[test]
    fn stores_opened_after_the_providers_follow_what_is_served() {
        let no_inference_store = facts(|f| f["stores"]["inference"]["backend"] = Value::Null);
        let err = after(&no_inference_store, PROVIDERS).unwrap_err();
        assert_eq!(code(&err), "preflight::stack::store_missing");
        let not_served = PROVIDERS.replace("distro_name: t\n", "distro_name: t\napis: [eval]\n");
        assert!(after(&no_inference_store, &not_served).is_ok());
    }

    #[test]
    fn a_default_store_naming_an_undefined_backend_says_it_is_the_default() {
        let text = "distro_name: t\nstorage:\n  backends:\n    kv_main: {type: kv_sqlite, db_path: x}\nproviders: {}\n";
        let renamed =
            facts(|f| f["backends"] = json!({"kv_main": "kv_sqlite", "sql_default": "sql_sqlite"}));
        let err = after(&renamed, text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "storage.stores.prompts names backend 'kv_default', which storage.backends does not define as a kv_* backend"
        );
        assert_eq!(
            err.details().unwrap(),
            "storage.stores.prompts is not in run.yaml, so the server uses its default, which names backend kv_default (nearest setting written: run.yaml line 2)\nThe server stops with: Unknown KVStore backend 'kv_default'. Registered backends: ['kv_main']"
        );
    }

    #[test]
    fn a_store_of_the_wrong_kind_is_unknown_to_the_server() {
        let text = "distro_name: t\nstorage:\n  stores:\n    connectors: {backend: sql_default, namespace: c}\nproviders: {}\n";
        let wrong =
            facts(|f| f["stores"]["connectors"] = json!({"backend": "sql_default", "kind": "kv"}));
        let err = after(&wrong, text).unwrap_err();
        assert!(
            err.details()
                .unwrap()
                .starts_with("storage.stores.connectors.backend (run.yaml line 4): sql_default")
        );
    }

    #[test]
    fn registered_resources_name_enabled_providers_of_their_router() {
        let with = |items: Value| facts(|f| f["resources"][0]["items"] = items);
        let text = format!(
            "{PROVIDERS}registered_resources:\n  models:\n  - model_id: m\n    provider_id: vllm-main\n"
        );
        let err = after(
            &with(json!([{"model_id": "m", "provider_id": "vllm-main", "model_type": "llm"}])),
            &text,
        )
        .unwrap_err();
        assert_eq!(
            err.details().unwrap(),
            "registered_resources.models[0].provider_id (run.yaml line 11): vllm-main"
        );
        assert!(
            err.help()
                .unwrap()
                .to_string()
                .contains("an enabled inference provider (vllm)")
        );
        for ok in [
            json!({"provider_id": "vllm"}),
            json!({"provider_id": null}),
            json!({"provider_id": "__disabled__"}),
        ] {
            assert!(after(&with(json!([ok])), PROVIDERS).is_ok(), "{ok}");
        }
        // Switched off through ${env.OFF:+other}: not a provider the server starts.
        assert!(after(&with(json!([{"provider_id": "other"}])), PROVIDERS).is_err());
        let not_served = PROVIDERS.replace("distro_name: t\n", "distro_name: t\napis: [eval]\n");
        assert!(after(&with(json!([{"provider_id": "vllm-main"}])), &not_served).is_ok());
    }

    #[test]
    fn an_embedding_model_needs_its_dimension() {
        let model = |metadata: Value| {
            facts(
                |f| f["resources"][0]["items"] = json!([{"model_id": "e", "provider_id": "vllm", "model_type": "embedding", "metadata": metadata}]),
            )
        };
        let err = after(&model(json!({})), PROVIDERS).unwrap_err();
        assert_eq!(code(&err), "preflight::stack::embedding_dimension_missing");
        assert!(after(&model(json!({"embedding_dimension": 384})), PROVIDERS).is_ok());
    }

    #[test]
    fn a_dataset_goes_to_the_provider_its_source_implies() {
        let text = "distro_name: t\nproviders:\n  datasetio:\n  - provider_id: localfs\n    provider_type: inline::localfs\n";
        let dataset = |item: Value| facts(|f| f["resources"][2]["items"] = json!([item]));
        assert!(
            after(
                &dataset(json!({"source": {"type": "rows", "rows": []}})),
                text
            )
            .is_ok()
        );
        let err = after(
            &dataset(json!({"source": {"type": "uri", "uri": "huggingface://x"}})),
            text,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("names provider 'huggingface'"),
            "{err}"
        );
    }

    #[test]
    fn a_default_model_must_be_one_an_enabled_provider_can_serve() {
        let default = |provider: &str| {
            facts(|f| {
                f["vector_stores"]["default_embedding_model"] =
                    json!({"provider_id": provider, "model_id": "nomic/embed"})
            })
        };
        let text =
            format!("{PROVIDERS}vector_stores:\n  default_embedding_model:\n    provider_id: st\n");
        let err = after(&default("st"), &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector_stores.default_embedding_model names 'st/nomic/embed', which no enabled inference provider can serve"
        );
        assert_eq!(
            err.details().unwrap(),
            "vector_stores.default_embedding_model.provider_id (run.yaml line 10): st"
        );
        assert!(after(&default("vllm"), &text).is_ok());
        let not_served = text.replace("distro_name: t\n", "distro_name: t\napis: [vector_io]\n");
        assert_eq!(
            code(&after(&default("vllm"), &not_served).unwrap_err()),
            "preflight::stack::api_not_served"
        );
    }

    #[test]
    fn a_default_shield_needs_safety_served() {
        let shield = facts(|f| f["safety"] = json!({"default_shield_id": "guard"}));
        assert!(after(&shield, PROVIDERS).is_ok());
        let not_served =
            PROVIDERS.replace("distro_name: t\n", "distro_name: t\napis: [inference]\n");
        assert_eq!(
            code(&after(&shield, &not_served).unwrap_err()),
            "preflight::stack::api_not_served"
        );
    }

    #[test]
    fn a_refused_setting_is_found_where_the_file_writes_it() {
        // The server's list has lost the dropped entry: its index 0 is the file's 1.
        let text = "distro_name: t\nproviders:\n  eval:\n  - provider_id: __disabled__\n    provider_type: x\n  - provider_id: p\n    provider_type: y\n";
        let config = load(text);
        let problem = ConfigProblem {
            loc: vec![
                Step::Key("providers".into()),
                Step::Key("eval".into()),
                Step::Index(0),
                Step::Key("provider_id".into()),
            ],
            msg: "Input should be a valid string".into(),
        };
        let refused = refused_setting(&problem, &config, text);
        assert_eq!(refused.path, "providers.eval[1].provider_id");
        assert_eq!(refused.line, Some(6));
        let model_level = ConfigProblem {
            loc: vec![],
            msg: "Value error, storage.stores.inference references unknown backend 'x'. Available backends: []".into(),
        };
        let refused = refused_setting(&model_level, &config, text);
        assert_eq!(refused.path, "storage.stores.inference");
        assert!(
            refused
                .message
                .starts_with("storage.stores.inference references")
        );
    }

    #[test]
    fn the_closest_field_is_a_typo_or_a_word_of_it() {
        let fields = [
            "base_url".to_string(),
            "max_tokens".to_string(),
            "api_token".to_string(),
        ];
        assert_eq!(closest_field("url", &fields), Some("base_url"));
        assert_eq!(closest_field("max_token", &fields), Some("max_tokens"));
        assert_eq!(closest_field("flavour", &fields), None);
    }
}
