//! Reads run.yaml once, read-only, and turns it into the provider entries the
//! rest of the pipeline checks.
//!
//! The order is the server's: load YAML as PyYAML builds it (see [`yaml`]),
//! substitute environment variables in the whole document (see [`env`](mod@env)), then
//! check the shape pydantic would check
//! (`providers` a mapping of lists, each entry with `provider_id` and
//! `provider_type`, `distro_name` or `image_name` present). Raw YAML values stay
//! inside this module; the pipeline only sees [`ProviderEntry`] values. Sections
//! are checked against the APIs the installed server declares providable.

pub(crate) mod env;
pub(crate) mod locate;
pub(crate) mod port;
pub(crate) mod run_command;
pub(crate) mod tls;
pub(crate) mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde_yaml_ng::{Mapping, Value};
use thiserror::Error;

use crate::diagnostics::{Blame, Phase, PhaseError};
use crate::files::{self, ReadError};
use crate::flavour::Flavour;
use crate::interpreter::LlamaStackFacts;

/// A run.yaml larger than this is refused before parsing: real ones are a few KiB.
pub(crate) const MAX_RUN_YAML_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum ConfigError {
    #[error("run.yaml not found: {path}")]
    #[diagnostic(
        code(preflight::config::not_found),
        help("Check the --run-yaml path; it is resolved against the current directory.")
    )]
    NotFound { path: String },

    #[error("run.yaml cannot be read: {path}: {reason}")]
    #[diagnostic(
        code(preflight::config::unreadable),
        help(
            "Pass a readable regular file with --run-yaml (not a directory, FIFO or device), and check its permissions."
        )
    )]
    Unreadable { path: String, reason: String },

    #[error("run.yaml is larger than {MAX_RUN_YAML_BYTES} bytes: {path}")]
    #[diagnostic(
        code(preflight::config::too_large),
        help("Pass the server's run.yaml; a real one is a few kilobytes.")
    )]
    TooLarge { path: String },

    #[error("run.yaml is not valid UTF-8 text")]
    #[diagnostic(
        code(preflight::config::not_utf8),
        help("Save run.yaml as UTF-8 text.")
    )]
    NotUtf8 { path: String },

    #[error("run.yaml is not valid YAML: {message}")]
    #[diagnostic(code(preflight::config::yaml_syntax), help("{advice}"))]
    Syntax {
        message: String,
        advice: &'static str,
        #[source_code]
        // Shared, so that the error stays small (the whole file is in here).
        source_code: Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("Environment variable '{name}' not set or empty at {path}")]
    #[diagnostic(
        code(preflight::config::env_var_missing),
        help(
            "Set {name} (and every variable listed) in the server's environment (--env-file or --env check it as the pod will see it), or write ${{env.{name}:=default_value}} to give a default, or ${{env.{name}:+value_if_set}} to make the field conditional."
        )
    )]
    MissingVariable {
        name: String,
        path: String,
        /// Every missing variable, in document order, with every place that
        /// uses it.
        uses: Vec<(String, Vec<VariableUse>)>,
    },

    #[error("run.yaml has the wrong shape at {path}: {problem}")]
    #[diagnostic(code(preflight::config::invalid_shape), help("{fix}"))]
    Shape {
        path: String,
        problem: String,
        fix: String,
    },

    #[error("run.yaml section '{section}' is not an API that can have providers in {release}")]
    #[diagnostic(
        code(preflight::config::unknown_api),
        help("Rename or remove the section. Sections that can hold providers: {valid}.")
    )]
    UnknownApi {
        section: String,
        release: String,
        valid: String,
    },

    #[error(
        "run.yaml section '{section}' is llama-stack's {section} API, which {release} no longer has"
    )]
    #[diagnostic(
        code(preflight::config::removed_api),
        help("Remove the section; {replacement}. Sections that can hold providers: {valid}.")
    )]
    RemovedApi {
        section: String,
        release: String,
        /// What replaced the API, or that nothing did.
        replacement: &'static str,
        valid: String,
    },

    #[error("run.yaml section '{section}' is a routing table that {server} provides automatically")]
    #[diagnostic(
        code(preflight::config::routing_table_api),
        help(
            "Remove the '{section}' section; configure providers under '{router}' instead, and register resources under registered_resources."
        )
    )]
    RoutingTableApi {
        section: String,
        router: String,
        server: Flavour,
    },

    #[error(
        "run.yaml section '{section}' is an internal API of {server} and cannot have providers"
    )]
    #[diagnostic(
        code(preflight::config::internal_api),
        help(
            "Remove the '{section}' section; the server provides it itself. Sections that can hold providers: {valid}."
        )
    )]
    InternalApi {
        section: String,
        valid: String,
        server: Flavour,
    },

    #[error(
        "`{command}` refuses to start: run.yaml has no server.insecure: true and lacks {missing}, and the --exec command does not pass --insecure"
    )]
    #[diagnostic(
        code(preflight::config::tls_required),
        help(
            "Set server.tls_certfile and server.tls_keyfile to the server's certificate and key. For local development only, set server.insecure: true in run.yaml or add --insecure to the command."
        )
    )]
    TlsRequired {
        release: String,
        command: String,
        missing: String,
    },

    #[error(
        "`{command}` stops before it serves: {variable} is {value} in the server's environment, which Python's int() cannot read"
    )]
    #[diagnostic(
        code(preflight::config::port_variable_invalid),
        help(
            "Set {variable} to a port number, or unset it (then the server listens on --port, else the port the run command falls back to)."
        )
    )]
    PortVariableInvalid {
        variable: String,
        value: String,
        release: String,
        command: String,
    },
}

impl PhaseError for ConfigError {
    fn phase(&self) -> Phase {
        match self {
            ConfigError::NotFound { .. } | ConfigError::Unreadable { .. } => Phase::Invocation,
            _ => Phase::Config,
        }
    }

    fn blame(&self) -> Blame {
        match self.phase() {
            Phase::Invocation => Blame::Invocation,
            _ => Blame::Configuration,
        }
    }

    fn line(&self) -> Option<usize> {
        match self {
            ConfigError::MissingVariable { uses, .. } => {
                uses.first().and_then(|(_, places)| places.first()?.1)
            }
            _ => None,
        }
    }

    fn further_lines(&self) -> Vec<(usize, String)> {
        let ConfigError::MissingVariable { uses, .. } = self else {
            return Vec::new();
        };
        // Each line once, with every variable it uses that is not set.
        let mut lines: BTreeMap<usize, (&str, Vec<&str>)> = BTreeMap::new();
        for (name, places) in uses {
            for (path, line) in places {
                if let Some(line) = *line {
                    let (_, names) = lines.entry(line).or_insert((path, Vec::new()));
                    if !names.contains(&name.as_str()) {
                        names.push(name);
                    }
                }
            }
        }
        // The first is the failure's own line.
        if let Some(first) = self.line() {
            lines.remove(&first);
        }
        (lines.into_iter())
            .map(|(line, (path, names))| {
                let names = names.join(", ");
                (
                    line,
                    format!("Unset variables without a default at {path}: {names}"),
                )
            })
            .collect()
    }

    fn details(&self) -> Option<String> {
        match self {
            ConfigError::Syntax { span: Some(_), .. } => Some(crate::diagnostics::snippet(self)),
            ConfigError::RemovedApi { section, .. } => Some(format!(
                "ogx removed it from llama-stack's APIs; the server stops at any '{section}' section, an empty one included."
            )),
            ConfigError::MissingVariable { uses, .. } => {
                let mut out = String::from(
                    "Unset variables without a default, and every place run.yaml uses them:",
                );
                for (name, places) in uses {
                    let places: Vec<String> = places
                        .iter()
                        .map(|(path, line)| match line {
                            Some(line) => format!("{path} (line {line})"),
                            None => path.clone(),
                        })
                        .collect();
                    out.push_str(&format!("\n  {name}: {}", places.join(", ")));
                }
                Some(out)
            }
            ConfigError::PortVariableInvalid {
                release,
                command,
                value,
                ..
            } => Some(format!(
                "{release}'s `{command}` reads the variable with int() and exits with \"ValueError: invalid literal for int() with base 10: {value}\"."
            )),
            ConfigError::TlsRequired {
                release, command, ..
            } => Some(format!(
                "{release}'s `{command}` exits with \"TLS required: set tls_certfile/tls_keyfile in server config or pass '--insecure' to disable.\" before it starts any provider."
            )),
            _ => None,
        }
    }
}

/// A place that uses a missing variable: its path, and its run.yaml line.
pub(crate) type VariableUse = (String, Option<usize>);

/// Why the server will not instantiate an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disabled {
    /// `provider_id` resolved to `__disabled__`: the entry is dropped during
    /// substitution and nothing of it is read.
    Dropped,
    /// `provider_id` resolved to null or `""`: the entry is skipped, but its
    /// `module:` is still imported and `get_provider_spec()` still called.
    NoId,
}

impl Disabled {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Disabled::Dropped => "provider_id is __disabled__; the server drops the entry",
            Disabled::NoId => "provider_id is empty; the server skips the entry",
        }
    }
}

/// One provider entry of run.yaml, after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderEntry {
    /// The section it sits under (`providers.<api>`).
    pub(crate) api: String,
    /// Its position in that section as written in the file.
    pub(crate) index: usize,
    pub(crate) provider_id: Option<String>,
    pub(crate) provider_type: String,
    pub(crate) module: Option<String>,
    pub(crate) disabled: Option<Disabled>,
    /// `provider_id` as written, when it depends on environment variables.
    pub(crate) provider_id_template: Option<String>,
    /// `config`, after substitution.
    pub(crate) config: serde_json::Value,
    /// The run.yaml line the entry starts on.
    pub(crate) line: Option<usize>,
}

impl ProviderEntry {
    /// Whether the server imports anything for this entry.
    pub(crate) fn is_imported(&self) -> bool {
        self.disabled.is_none() || (self.disabled == Some(Disabled::NoId) && self.module.is_some())
    }

    /// The entry's place in the document, in the server's notation.
    pub(crate) fn path(&self) -> String {
        format!("providers.{}[{}]", self.api, self.index)
    }

    /// Finds `loc`, a place in the entry's config as its config class names
    /// it, in `text`.
    pub(crate) fn config_place(&self, text: &str, loc: &[Step]) -> Place {
        let parts: Vec<String> = ["providers", &self.api, &self.index.to_string(), "config"]
            .into_iter()
            .map(String::from)
            .chain(loc.iter().map(Step::to_string))
            .collect();
        Place::found(self.config_path(loc), text, &parts)
    }

    /// `loc` in the entry's config, in the server's notation:
    /// `providers.eval[0].config.url`.
    pub(crate) fn config_path(&self, loc: &[Step]) -> String {
        std::iter::once(format!("{}.config", self.path()))
            .chain(loc.iter().map(|step| format!(".{step}")))
            .collect()
    }

    /// The name reports use: the id, or the place of a disabled entry.
    pub(crate) fn display_id(&self) -> String {
        match &self.provider_id {
            Some(id) => id.clone(),
            None => format!("(disabled) {}", self.path()),
        }
    }
}

/// What the pipeline needs from run.yaml.
#[derive(Debug, Clone)]
pub(crate) struct RunConfig {
    /// The top-level `apis:` list; empty means every API is served.
    pub(crate) apis: Vec<String>,
    /// Every section under `providers`, empty ones included, in file order.
    pub(crate) sections: Vec<String>,
    pub(crate) providers: Vec<ProviderEntry>,
    /// The `server:` settings that decide whether ogx's run command starts.
    pub(crate) tls: tls::TlsSettings,
    /// `server.port`, which the run command may not use.
    pub(crate) server_port: Option<port::ServerPort>,
    /// Keys written twice in one mapping; the server keeps the last value.
    pub(crate) duplicate_keys: Vec<yaml::DuplicateKey>,
    /// Where the list items the server drops during substitution stood
    /// (`providers.eval[1]`), so that the server's list indices can be
    /// turned back into the file's.
    dropped: Vec<String>,
}

/// A place in run.yaml named the server's way, found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// In the server's notation, with the file's list indices:
    /// `providers.eval[0].config.url`.
    pub(crate) path: String,
    /// The 1-based line of the setting or, when it is not written, of the
    /// nearest enclosing part that is.
    pub(crate) line: Option<usize>,
    /// Whether run.yaml writes the setting itself (else the server uses a
    /// default, or it is missing).
    pub(crate) written: bool,
}

impl Place {
    fn found(path: String, text: &str, parts: &[String]) -> Self {
        let found = locate::nearest(text, parts);
        Place {
            path,
            line: found.map(|(line, _)| line),
            written: found.is_some_and(|(_, whole)| whole),
        }
    }
}

/// One step of a place as the server names it (pydantic's `loc`): a mapping
/// key, or an index into a list as the server sees the list, after
/// substitution has dropped items.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Step {
    Index(usize),
    Key(String),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Index(index) => write!(f, "{index}"),
            Step::Key(key) => f.write_str(key),
        }
    }
}

impl RunConfig {
    /// Finds `loc`, a place in the document the server validated, in `text`.
    pub(crate) fn place(&self, text: &str, loc: &[Step]) -> Place {
        let mut path = String::new();
        let mut parts = Vec::with_capacity(loc.len());
        for step in loc {
            match step {
                Step::Index(index) => {
                    let index = self.written_index(&path, *index);
                    path.push_str(&format!("[{index}]"));
                    parts.push(index.to_string());
                }
                Step::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    parts.push(key.clone());
                }
            }
        }
        Place::found(path, text, &parts)
    }

    /// The file's index of the item the server counts as `index` in the list
    /// at `list`: the items it dropped before it are counted back in.
    fn written_index(&self, list: &str, index: usize) -> usize {
        let mut written = 0;
        let mut kept = 0;
        loop {
            if !self.dropped.contains(&format!("{list}[{written}]")) {
                if kept == index {
                    return written;
                }
                kept += 1;
            }
            written += 1;
        }
    }
}

/// Reads the file (see [`files`]). Failures here are the caller's (exit 2),
/// except size and encoding.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    let shown = path.display().to_string();
    let bytes = files::read_regular(path, MAX_RUN_YAML_BYTES).map_err(|err| match err {
        ReadError::NotFound => ConfigError::NotFound {
            path: shown.clone(),
        },
        ReadError::TooLarge => ConfigError::TooLarge {
            path: shown.clone(),
        },
        other => ConfigError::Unreadable {
            path: shown.clone(),
            reason: other.reason(MAX_RUN_YAML_BYTES),
        },
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: shown })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Parses, substitutes and checks the shape of run.yaml's text.
pub(crate) fn load(
    path: &Path,
    text: &str,
    env: &dyn env::Environment,
) -> Result<RunConfig, ConfigError> {
    let (document, duplicate_keys) =
        yaml::parse(text).map_err(|err| syntax_error(path, text, &err))?;
    let written = document.clone();
    let (document, dropped) =
        env::substitute(document, env).map_err(|missing| missing_variables(text, missing))?;
    let (sections, mut providers) = extract_providers(&document, &dropped)?;
    for entry in &mut providers {
        entry.provider_id_template = written
            .get("providers")
            .and_then(|sections| sections.get(entry.api.as_str()))
            .and_then(|list| list.get(entry.index))
            .and_then(|item| item.get("provider_id"))
            .and_then(Value::as_str)
            .filter(|id| id.contains("${env."))
            .map(String::from);
        let place = ["providers", &entry.api, &entry.index.to_string()].map(String::from);
        entry.line = locate::nearest_line(text, &place);
    }
    Ok(RunConfig {
        apis: extract_apis(&document)?,
        sections,
        providers,
        tls: tls::TlsSettings::read(&document),
        server_port: port::ServerPort::read(&document, text),
        duplicate_keys,
        dropped: dropped.into_iter().map(|item| item.path).collect(),
    })
}

/// The error naming every missing variable; the first is the server's.
fn missing_variables(text: &str, missing: Vec<env::MissingVariable>) -> ConfigError {
    let mut uses: Vec<(String, Vec<VariableUse>)> = Vec::new();
    for variable in &missing {
        let place = (
            variable.path.clone(),
            locate::nearest_line(text, &variable.parts),
        );
        match uses.iter_mut().find(|(name, _)| *name == variable.name) {
            Some((_, places)) if places.contains(&place) => {}
            Some((_, places)) => places.push(place),
            None => uses.push((variable.name.clone(), vec![place])),
        }
    }
    let first = missing
        .into_iter()
        .next()
        .expect("substitution fails with a variable");
    ConfigError::MissingVariable {
        name: first.name,
        path: first.path,
        uses,
    }
}

/// The top-level `apis:` list (`list[str]`, default empty).
fn extract_apis(document: &Value) -> Result<Vec<String>, ConfigError> {
    match document.get("apis") {
        None => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(api) => Ok(api.clone()),
                other => Err(shape(
                    format!("apis[{index}]"),
                    format!("expected an API name, found {}", python_type(other)),
                    "List API names as strings, e.g. apis: [inference, eval].",
                )),
            })
            .collect(),
        Some(other) => Err(shape(
            "apis",
            format!("expected a list of API names, found {}", python_type(other)),
            "Write apis as a list, e.g. apis: [inference, eval], or leave it out to serve every API.",
        )),
    }
}

/// A YAML error's message without its " at line L column C" tail, which
/// reports show in their own way.
pub(crate) fn yaml_error_message(err: &serde_yaml_ng::Error) -> String {
    let message = err.to_string();
    message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string()
}

/// Widest line a snippet may quote; beyond it, or when the lines hold control
/// characters (which would reach the terminal raw), the position is given in words.
const SNIPPET_LINE_CHARS: usize = 200;

fn syntax_error(path: &Path, text: &str, err: &serde_yaml_ng::Error) -> ConfigError {
    let mut message = yaml_error_message(err);
    let mut span = None;
    if let Some(location) = err.location() {
        let quotable = text
            .lines()
            .skip(location.line().saturating_sub(3))
            .take(5)
            .all(|line| {
                line.chars().count() <= SNIPPET_LINE_CHARS
                    && !line.chars().any(|c| c.is_control() && c != '\t')
            });
        if quotable {
            span = Some(SourceSpan::from((location.index().min(text.len()), 0)));
        } else {
            message = format!(
                "{message} at line {} column {}",
                location.line(),
                location.column()
            );
        }
    }
    ConfigError::Syntax {
        advice: yaml_advice(&message, span.is_some()),
        message,
        source_code: Arc::new(NamedSource::new(
            path.display().to_string(),
            text.to_string(),
        )),
        span,
    }
}

/// The resolution for a YAML error (`marked` when a snippet shows the spot):
/// the parser's own limits and duplicate keys get their own.
fn yaml_advice(message: &str, marked: bool) -> &'static str {
    if message.starts_with("repetition limit exceeded") {
        "Its aliases (*name) expand to too many values, as in a \"billion laughs\" file; write the values out, or use fewer, smaller anchors."
    } else if message.contains("for merging") {
        "A merge key (<<) takes a mapping (<<: *anchor) or a list of mappings (<<: [*a, *b]); PyYAML, which the server loads run.yaml with, refuses anything else."
    } else if message.starts_with("recursion limit exceeded") {
        "It nests lists or mappings more than 128 levels deep; a run.yaml needs a handful."
    } else if !marked {
        "Fix the YAML at the line and column given (control characters and very long lines are not quoted)."
    } else {
        "Fix the YAML at the marked position. A ${env...} reference inside a flow mapping ({a: ${env.X}}) must be quoted."
    }
}

fn shape(
    path: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError::Shape {
        path: path.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The Python type name pydantic would see, for messages.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn extract_providers(
    document: &Value,
    dropped: &[env::DroppedItem],
) -> Result<(Vec<String>, Vec<ProviderEntry>), ConfigError> {
    let top = match document {
        Value::Mapping(top) => top,
        Value::Null => {
            return Err(shape(
                "(document)",
                "the file is empty",
                "Pass the server's run.yaml; it needs at least distro_name and providers.",
            ));
        }
        other => {
            return Err(shape(
                "(document)",
                format!(
                    "expected a mapping at the top level, found {}",
                    python_type(other)
                ),
                "run.yaml must be a mapping with keys such as distro_name, apis and providers.",
            ));
        }
    };
    if !["distro_name", "image_name"]
        .iter()
        .any(|key| top.get(*key).is_some_and(|value| !value.is_null()))
    {
        return Err(shape(
            "distro_name",
            "neither distro_name nor image_name is set",
            "Add distro_name: <name> at the top level; the server refuses to start without it.",
        ));
    }
    let sections = match top.get("providers") {
        Some(Value::Mapping(sections)) => sections,
        None => {
            return Err(shape(
                "providers",
                "the providers key is missing",
                "Add a providers mapping: providers: {<api>: [{provider_id: ..., provider_type: ...}]}.",
            ));
        }
        Some(other) => {
            return Err(shape(
                "providers",
                format!(
                    "expected a mapping of API sections, found {}",
                    python_type(other)
                ),
                "Write providers as a mapping from API name to a list of provider entries.",
            ));
        }
    };
    let mut names = Vec::new();
    let mut entries = Vec::new();
    for (section, list) in sections {
        let api = env::key_text(section);
        names.push(api.clone());
        let section_path = format!("providers.{api}");
        let Value::Sequence(items) = list else {
            return Err(shape(
                section_path,
                format!(
                    "expected a list of provider entries, found {}",
                    python_type(list)
                ),
                format!(
                    "Write each provider of '{api}' as a list item starting with '- provider_id: ...'."
                ),
            ));
        };
        // Dropped entries keep their place, so every index is the one in the file.
        let mut dropped_here: Vec<(usize, Option<String>)> = dropped
            .iter()
            .filter_map(|item| {
                let index = item
                    .path
                    .strip_prefix(&section_path)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?;
                Some((index.parse().ok()?, item.provider_type.clone()))
            })
            .collect();
        dropped_here.reverse();
        let mut kept = items.iter();
        let mut index = 0;
        loop {
            let entry = if dropped_here.last().is_some_and(|(at, _)| *at == index) {
                let (_, provider_type) = dropped_here.pop().expect("checked above");
                ProviderEntry {
                    api: api.clone(),
                    index,
                    provider_id: None,
                    provider_type: provider_type.unwrap_or_default(),
                    module: None,
                    disabled: Some(Disabled::Dropped),
                    provider_id_template: None,
                    config: serde_json::Value::Null,
                    line: None,
                }
            } else if let Some(item) = kept.next() {
                extract_entry(&api, index, item)?
            } else {
                break;
            };
            entries.push(entry);
            index += 1;
        }
    }
    Ok((names, entries))
}

fn extract_entry(api: &str, index: usize, item: &Value) -> Result<ProviderEntry, ConfigError> {
    let path = format!("providers.{api}[{index}]");
    let Value::Mapping(fields) = item else {
        return Err(shape(
            path,
            format!(
                "expected a provider entry (a mapping), found {}",
                python_type(item)
            ),
            "Each provider entry is a mapping with provider_id, provider_type and optionally module and config.",
        ));
    };
    let provider_id = match fields.get("provider_id") {
        None => {
            return Err(shape(
                format!("{path}.provider_id"),
                "the provider_id key is missing",
                "Add provider_id: <unique name>; use provider_id: __disabled__ to switch the entry off.",
            ));
        }
        Some(value) => optional_text(value, &path, "provider_id")?.filter(|id| !id.is_empty()),
    };
    let disabled = provider_id.is_none().then_some(Disabled::NoId);
    let provider_type = match fields.get("provider_type") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => return Err(wrong_type(&path, "provider_type", other)),
        None => {
            return Err(shape(
                format!("{path}.provider_type"),
                "the provider_type key is missing",
                "Add provider_type: <remote::name or inline::name>, the type the provider package declares.",
            ));
        }
    };
    let module = match fields.get("module") {
        Some(value) => optional_text(value, &path, "module")?,
        None => None,
    };
    let config = config_field(fields, &path)?;
    Ok(ProviderEntry {
        api: api.to_string(),
        index,
        provider_id,
        provider_type,
        module,
        disabled,
        provider_id_template: None,
        config,
        line: None,
    })
}

fn optional_text(value: &Value, path: &str, field: &str) -> Result<Option<String>, ConfigError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        other => Err(wrong_type(path, field, other)),
    }
}

fn wrong_type(path: &str, field: &str, value: &Value) -> ConfigError {
    shape(
        format!("{path}.{field}"),
        format!("{field} must be a string, found {}", python_type(value)),
        format!(
            "Quote the value of {field} in run.yaml. A value produced by ${{env...}} is converted like the server does it: digits become a number and true/false a boolean."
        ),
    )
}

/// The entry's `config` mapping as JSON (for --check-config); absent is `{}`.
fn config_field(fields: &Mapping, path: &str) -> Result<serde_json::Value, ConfigError> {
    match fields.get("config") {
        None => Ok(serde_json::Value::Object(serde_json::Map::new())),
        Some(config @ Value::Mapping(_)) => serde_json::to_value(config).map_err(|err| {
            shape(
                format!("{path}.config"),
                format!("config cannot be read as settings: {err}"),
                "Use plain string keys in config.",
            )
        }),
        Some(other) => Err(shape(
            format!("{path}.config"),
            format!("config must be a mapping, found {}", python_type(other)),
            "Write config as a mapping of settings, or config: {} when the provider needs none.",
        )),
    }
}

/// Checks every section against the APIs the installed server accepts.
pub(crate) fn check_sections(
    config: &RunConfig,
    llama_stack: &LlamaStackFacts,
) -> Result<(), ConfigError> {
    let server = llama_stack.distribution;
    let valid = llama_stack.layout.providable_apis.join(", ");
    for section in config.sections.iter().map(String::as_str) {
        if llama_stack
            .layout
            .providable_apis
            .iter()
            .any(|api| api == section)
        {
            continue;
        }
        if let Some(router) = llama_stack.layout.routing_tables.get(section) {
            return Err(ConfigError::RoutingTableApi {
                section: section.to_string(),
                router: router.clone(),
                server,
            });
        }
        if llama_stack.layout.apis.iter().any(|api| api == section) {
            return Err(ConfigError::InternalApi {
                section: section.to_string(),
                valid,
                server,
            });
        }
        if let Some(removal) = server.removed_api(section) {
            return Err(ConfigError::RemovedApi {
                section: section.to_string(),
                release: llama_stack.release(),
                replacement: removal.what_replaced_it(),
                valid,
            });
        }
        return Err(ConfigError::UnknownApi {
            section: section.to_string(),
            release: llama_stack.release(),
            valid,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::interpreter::ApiLayout;

    struct NoVars;

    impl env::Environment for NoVars {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn load_text(text: &str) -> Result<RunConfig, ConfigError> {
        load(Path::new("run.yaml"), text, &NoVars)
    }

    #[test]
    fn entries_come_out_in_file_order_with_their_module() {
        let config = load_text(
            "distro_name: t\nproviders:\n  eval:\n  - provider_id: a\n    provider_type: remote::a\n    module: pkg==1.0\n  inference:\n  - provider_id: b\n    provider_type: remote::b\n",
        )
        .unwrap();
        let ids: Vec<_> = config
            .providers
            .iter()
            .map(|e| (e.api.as_str(), e.display_id()))
            .collect();
        assert_eq!(
            ids,
            [("eval", "a".to_string()), ("inference", "b".to_string())]
        );
        assert!(config.providers.iter().all(ProviderEntry::is_imported));
        assert_eq!(config.providers[0].module.as_deref(), Some("pkg==1.0"));
    }

    #[test]
    fn shape_errors_name_the_path_and_the_found_type() {
        let cases = [
            (
                "",
                "run.yaml has the wrong shape at (document): the file is empty",
            ),
            (
                "- a\n",
                "run.yaml has the wrong shape at (document): expected a mapping at the top level, found a list",
            ),
            (
                "providers: {}\n",
                "run.yaml has the wrong shape at distro_name: neither distro_name nor image_name is set",
            ),
            (
                "distro_name: t\n",
                "run.yaml has the wrong shape at providers: the providers key is missing",
            ),
            (
                "distro_name: t\nproviders: [a]\n",
                "run.yaml has the wrong shape at providers: expected a mapping of API sections, found a list",
            ),
            (
                "distro_name: t\nproviders:\n  eval: {}\n",
                "run.yaml has the wrong shape at providers.eval: expected a list of provider entries, found a mapping",
            ),
            (
                "distro_name: t\nproviders:\n  eval:\n  - provider_type: x\n",
                "run.yaml has the wrong shape at providers.eval[0].provider_id: the provider_id key is missing",
            ),
            (
                "distro_name: t\nproviders:\n  eval:\n  - provider_id: 7\n    provider_type: x\n",
                "run.yaml has the wrong shape at providers.eval[0].provider_id: provider_id must be a string, found an integer",
            ),
            (
                "distro_name: t\nproviders:\n  eval:\n  - provider_id: a\n",
                "run.yaml has the wrong shape at providers.eval[0].provider_type: the provider_type key is missing",
            ),
            (
                "distro_name: t\nproviders:\n  eval:\n  - provider_id: a\n    provider_type: x\n    config: null\n",
                "run.yaml has the wrong shape at providers.eval[0].config: config must be a mapping, found null",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                load_text(text).unwrap_err().to_string(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_yaml_error_carries_its_position() {
        let err = load_text("distro_name: t\nproviders:\n  eval: {a: ${env.X}}\n").unwrap_err();
        let ConfigError::Syntax {
            span: Some(span), ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(span.offset() > 20, "{span:?}");
    }

    #[test]
    fn null_and_empty_ids_disable_an_entry() {
        let config = load_text(
            "distro_name: t\nproviders:\n  eval:\n  - provider_id: null\n    provider_type: x\n  - provider_id: ''\n    provider_type: y\n",
        )
        .unwrap();
        assert!(
            config
                .providers
                .iter()
                .all(|entry| entry.disabled == Some(Disabled::NoId))
        );
        assert!(!config.providers[0].is_imported());
        assert_eq!(
            config.providers[1].display_id(),
            "(disabled) providers.eval[1]"
        );
    }

    #[test]
    fn dropped_entries_keep_their_place_in_the_section() {
        let config = load_text(
            "distro_name: t\nproviders:\n  eval:\n  - provider_id: a\n    provider_type: x\n  - provider_id: __disabled__\n    provider_type: y\n    module: never_imported\n  - provider_id: c\n    provider_type: z\n",
        )
        .unwrap();
        let seen: Vec<_> = config
            .providers
            .iter()
            .map(|e| {
                (
                    e.index,
                    e.provider_type.as_str(),
                    e.disabled,
                    e.is_imported(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (0, "x", None, true),
                (1, "y", Some(Disabled::Dropped), false),
                (2, "z", None, true)
            ]
        );
    }

    #[test]
    fn sections_are_checked_against_the_installed_apis() {
        let facts = LlamaStackFacts {
            distribution: crate::flavour::Flavour::LlamaStack,
            command: None,
            version: "0.7.3".into(),
            api_package: Some("llama_stack_api".into()),
            layout: ApiLayout {
                apis: vec!["eval".into(), "benchmarks".into(), "inspect".into()],
                providable_apis: vec!["eval".into()],
                routing_tables: BTreeMap::from([("benchmarks".to_string(), "eval".to_string())]),
                ..ApiLayout::default()
            },
        };
        let check = |section: &str| {
            let text = format!(
                "distro_name: t\nproviders:\n  {section}:\n  - provider_id: a\n    provider_type: x\n"
            );
            check_sections(&load_text(&text).unwrap(), &facts).map_err(|err| err.to_string())
        };
        assert_eq!(check("eval"), Ok(()));
        assert_eq!(
            check("benchmarks"),
            Err("run.yaml section 'benchmarks' is a routing table that llama-stack provides automatically".into())
        );
        assert_eq!(
            check("inspect"),
            Err("run.yaml section 'inspect' is an internal API of llama-stack and cannot have providers".into())
        );
        assert_eq!(
            check("agents"),
            Err("run.yaml section 'agents' is not an API that can have providers in llama-stack 0.7.3".into())
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, YAML_FRAGMENTS, text_of};

        /// X is set, Y is set but empty, HOME is known; everything else is unset.
        struct SomeVars;

        impl env::Environment for SomeVars {
            fn var(&self, name: &str) -> Option<String> {
                match name {
                    "X" => Some("8080".to_string()),
                    "Y" => Some(String::new()),
                    "HOME" => Some("/home/op".to_string()),
                    _ => None,
                }
            }
        }

        fn facts() -> LlamaStackFacts {
            LlamaStackFacts {
                distribution: crate::flavour::Flavour::LlamaStack,
                command: None,
                version: "0.7.3".into(),
                api_package: Some("llama_stack_api".into()),
                layout: ApiLayout {
                    apis: vec!["eval".into(), "benchmarks".into(), "inspect".into()],
                    providable_apis: vec!["eval".into(), "inference".into()],
                    routing_tables: BTreeMap::from([(
                        "benchmarks".to_string(),
                        "eval".to_string(),
                    )]),
                    ..ApiLayout::default()
                },
            }
        }

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_text_loads_or_fails_with_a_renderable_error(text in text_of(YAML_FRAGMENTS)) {
                match load(Path::new("run.yaml"), &text, &SomeVars) {
                    Ok(config) => {
                        if let Err(err) = check_sections(&config, &facts()) {
                            prop_assert!(!fuzzing::render(err).is_empty());
                        }
                        for entry in &config.providers {
                            prop_assert!(entry.path().starts_with("providers."));
                            let place: Vec<String> = ["providers", entry.api.as_str()]
                                .into_iter()
                                .map(String::from)
                                .chain([entry.index.to_string(), "config".into(), "url".into()])
                                .collect();
                            if let Some(line) = locate::nearest_line(&text, &place) {
                                prop_assert!((1..=text.lines().count() + 1).contains(&line));
                            }
                        }
                    }
                    Err(err) => prop_assert!(!fuzzing::render(err).is_empty()),
                }
            }

            #[test]
            fn any_characters_load_or_fail_cleanly(text in "\\PC{0,200}") {
                if let Err(err) = load(Path::new("run.yaml"), &text, &SomeVars) {
                    prop_assert!(!fuzzing::render(err).is_empty());
                }
            }
        }
    }
}
