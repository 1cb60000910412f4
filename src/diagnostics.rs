//! The vocabulary every phase reports in.
//!
//! Each phase owns one `thiserror` + `miette::Diagnostic` error type with stable
//! codes (`preflight::<phase>::<leaf>`); its `Display` is the spec's `Reason:`
//! line and its `help` the `Resolution:` line. This module adds what the
//! renderers need on top: which phase failed, which provider it concerns, the
//! details paragraph, the traceback, and whether the fault is the caller's
//! invocation (exit 2) or the configuration's (exit 1).

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

/// Where in the validation process a failure happened; the spec's phases plus the
/// checks that precede them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    Invocation,
    Config,
    Interpreter,
    /// Native files checked against the interpreter, before the import.
    Native,
    Import,
    SpecRetrieval,
    SpecValidation,
    /// Checks across providers: dependencies, deprecations, served APIs.
    CrossProvider,
    /// `--deny-warnings` counts the warnings as a failure.
    Warnings,
}

impl Phase {
    /// The first line of the text block, as the spec words it.
    pub(crate) fn headline(self) -> &'static str {
        match self {
            Phase::Invocation => "ERROR: Invalid invocation",
            Phase::Config => "ERROR: Configuration validation failed",
            Phase::Interpreter => "ERROR: Python environment validation failed",
            Phase::Native | Phase::Import | Phase::SpecRetrieval | Phase::CrossProvider => {
                "ERROR: Provider validation failed"
            }
            Phase::SpecValidation => "ERROR: Provider spec validation failed",
            Phase::Warnings => "ERROR: Warnings are errors (--deny-warnings)",
        }
    }
}

/// How a failure maps onto the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The command line is wrong (exit 2).
    Invocation,
    /// The configuration or environment would not start the server (exit 1).
    Configuration,
}

/// What every phase error exposes besides its `Diagnostic` code and help.
pub(crate) trait PhaseError: miette::Diagnostic + Send + Sync + 'static {
    fn phase(&self) -> Phase;

    fn blame(&self) -> Blame {
        Blame::Configuration
    }

    /// The paragraph between `Reason:` and `Resolution:`.
    fn details(&self) -> Option<String> {
        None
    }

    /// The Python traceback behind the failure, when there is one (FR-019).
    fn traceback(&self) -> Option<&str> {
        None
    }

    /// The settings a config class refused, each with its run.yaml line
    /// (--check-config); the details paragraph lists them too.
    fn refused_settings(&self) -> &[RefusedSetting] {
        &[]
    }

    /// The run.yaml line the failure is about, when the error knows one
    /// (else reports point at the provider's entry, or at the file).
    fn line(&self) -> Option<usize> {
        self.refused_settings()
            .iter()
            .find_map(|setting| setting.line)
    }

    /// The other run.yaml lines the failure concerns, each with what is wrong
    /// there (`--format github` annotates each): by default, every refused
    /// setting not on [`line`](Self::line)'s line.
    fn further_lines(&self) -> Vec<(usize, String)> {
        let first = self.line();
        (self.refused_settings().iter())
            .filter_map(|setting| Some((setting.line?, setting)))
            .filter(|(line, _)| Some(*line) != first)
            .map(|(line, setting)| (line, format!("{}: {}", setting.path, setting.message)))
            .collect()
    }
}

/// The provider a failure or warning concerns (FR-018).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProviderContext {
    pub(crate) provider_id: String,
    pub(crate) api: String,
    /// The module the server imports for it: `module:` for external providers,
    /// the registry spec's module for in-tree ones.
    pub(crate) module: String,
    /// Its entry's run.yaml line: the id alone may name several entries.
    #[serde(skip)]
    pub(crate) line: Option<usize>,
}

/// One failure, ready to render (the spec's `ProviderValidationError`).
pub(crate) struct Failure {
    pub(crate) provider: Option<ProviderContext>,
    pub(crate) error: Box<dyn PhaseError>,
}

impl Failure {
    pub(crate) fn new(provider: Option<ProviderContext>, error: impl PhaseError) -> Self {
        Failure {
            provider,
            error: Box::new(error),
        }
    }

    pub(crate) fn code(&self) -> String {
        self.error
            .code()
            .map(|code| code.to_string())
            .unwrap_or_default()
    }

    pub(crate) fn resolution(&self) -> String {
        self.error
            .help()
            .map(|help| help.to_string())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("provider", &self.provider)
            .field("code", &self.code())
            .field("reason", &self.error.to_string())
            .finish()
    }
}

/// A finding that does not block the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Warning {
    pub(crate) provider_id: Option<String>,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// For metadata mismatches: the field and both values (FR-017).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) mismatch: Option<FieldComparison>,
}

/// One setting the config class refused (--check-config), where run.yaml
/// writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RefusedSetting {
    /// In the server's notation: `providers.eval[0].config.url`.
    pub(crate) path: String,
    /// The 1-based run.yaml line of the setting or, for one that is not
    /// written (a required setting left out), of the nearest enclosing part.
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl std::fmt::Display for RefusedSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} (run.yaml line {line}): {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// One compared field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FieldComparison {
    pub(crate) file: String,
    pub(crate) metadata_field: String,
    pub(crate) field: String,
    pub(crate) runtime_source: RuntimeSource,
    pub(crate) metadata_value: String,
    pub(crate) runtime_value: String,
}

impl FieldComparison {
    pub(crate) fn matches(&self) -> bool {
        self.metadata_value == self.runtime_value
    }
}

/// Where a runtime value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuntimeSource {
    /// The provider's `get_provider_spec()`.
    Spec,
    /// The run.yaml entry.
    RunYaml,
}

impl RuntimeSource {
    pub(crate) fn label(self) -> &'static str {
        match self {
            RuntimeSource::Spec => "get_provider_spec()",
            RuntimeSource::RunYaml => "run.yaml",
        }
    }
}

/// `text` fit to stand in one line of a report: every line break in it
/// (`\n`, `\r\n` or a lone `\r`) goes on to a line indented by two spaces.
/// Provider text (an exception message, a deprecation notice) may hold
/// "\nPASS ..." or "\nERROR: ..."; so it can never start a report line.
pub(crate) fn inline(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\n  ")
}

/// Indents every line of `text` by two spaces, the way the spec shows tracebacks.
pub(crate) fn indented(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("  {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A source snippet with the error's labels, without colour, for the details
/// paragraph of errors that point into run.yaml.
pub(crate) fn snippet(diagnostic: &dyn Diagnostic) -> String {
    struct LabelsOnly<'a>(&'a dyn Diagnostic);

    impl std::fmt::Debug for LabelsOnly<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("snippet")
        }
    }

    impl std::fmt::Display for LabelsOnly<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("at")
        }
    }

    impl std::error::Error for LabelsOnly<'_> {}

    impl Diagnostic for LabelsOnly<'_> {
        fn source_code(&self) -> Option<&dyn miette::SourceCode> {
            self.0.source_code()
        }

        fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
            self.0.labels()
        }
    }

    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none())
        .with_width(100)
        .with_links(false)
        .with_context_lines(2);
    let mut out = String::new();
    if handler
        .render_report(&mut out, &LabelsOnly(diagnostic))
        .is_err()
    {
        return String::new();
    }
    out.lines()
        .skip_while(|line| !line.contains('['))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_can_never_start_a_report_line() {
        assert_eq!(
            inline("boom\nPASS  x\r\nERROR: y\rAll providers validated successfully"),
            "boom\n  PASS  x\n  ERROR: y\n  All providers validated successfully"
        );
        assert_eq!(inline("one line"), "one line");
    }
}
