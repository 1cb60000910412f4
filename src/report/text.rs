//! The text report: one line per provider, then the spec's error block or the
//! success line, with wording that stays stable for pod logs.

use std::fmt::Write as _;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use crate::diagnostics::{Failure, Phase, indented};
use crate::interpreter::InterpreterFacts;
use crate::metadata::MetadataReport;
use crate::pipeline::{PreflightResult, ProviderResult, ProviderStatus};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Renders the whole report.
pub(crate) fn render(result: &PreflightResult, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    if let Some(facts) = &result.interpreter {
        out.push_str(&interpreter_line(facts));
    }
    for provider in &result.providers {
        if let Some(line) = provider_line(provider, &paint) {
            out.push_str(&line);
        }
    }
    let blocks: Vec<String> = result
        .providers
        .iter()
        .filter_map(|provider| {
            let report = provider.metadata.as_ref()?;
            metadata_block(provider, report)
        })
        .collect();
    for block in &blocks {
        let headline = paint(YELLOW, "WARNING: Provider metadata mismatch (non-blocking)");
        let _ = write!(out, "\n{headline}{block}");
    }
    if !blocks.is_empty() {
        out.push('\n');
    }
    // Metadata mismatches are shown as blocks above.
    for warning in result
        .warnings
        .iter()
        .filter(|warning| warning.mismatch.is_none())
    {
        let who = warning
            .provider_id
            .as_deref()
            .map(|id| format!("Provider {id}: "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {who}{}",
            paint(YELLOW, "WARNING:"),
            warning.message
        );
    }
    match &result.failure {
        Some(failure) => {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(&failure_block(failure, result, &paint));
        }
        None => {
            let _ = writeln!(
                out,
                "{}",
                paint(GREEN, "All providers validated successfully")
            );
        }
    }
    out
}

fn interpreter_line(facts: &InterpreterFacts) -> String {
    format!(
        "Interpreter: {} (Python {}, {} {}, {})\n",
        facts.interpreter.path.display(),
        facts.python.version,
        facts.llama_stack.distribution,
        facts.llama_stack.version,
        facts.interpreter.source.describe(),
    )
}

fn provider_line(
    provider: &ProviderResult,
    paint: &dyn Fn(&str, &str) -> String,
) -> Option<String> {
    let entry = &provider.entry;
    let name = format!("{}/{}", entry.api, entry.display_id());
    let line = match provider.status {
        ProviderStatus::Passed => format!(
            "{}  {name}  {}  module {}\n",
            paint(GREEN, "PASS"),
            entry.provider_type,
            provider.module
        ),
        ProviderStatus::Skipped(disabled) => {
            let imported = if entry.is_imported() {
                " (its module was imported, as the server does)"
            } else {
                ""
            };
            format!(
                "SKIP  {name}  {}  {}{imported}\n",
                entry.provider_type,
                disabled.describe()
            )
        }
        ProviderStatus::Failed => {
            format!("{}  {name}  {}\n", paint(RED, "FAIL"), entry.provider_type)
        }
        ProviderStatus::NotChecked => return None,
    };
    Some(line)
}

/// The spec's metadata warning block, without its headline; `None` when every
/// compared field matches.
fn metadata_block(provider: &ProviderResult, report: &MetadataReport) -> Option<String> {
    report.mismatches().next()?;
    let mut out = format!("\n\nProvider: {}\n", provider.entry.display_id());
    for field in &report.fields {
        let _ = write!(
            out,
            "\nField: {}\n  Metadata ({}): {}\n  Runtime ({}): {}\n",
            field.field,
            field.file,
            field.metadata_value,
            field.runtime_source.label(),
            field.runtime_value
        );
        if field.matches() {
            out.push_str("  Match \u{2713}\n");
        } else {
            let _ = writeln!(out, "  Using: {} (runtime value)", field.runtime_value);
        }
    }
    let files: Vec<&str> =
        report
            .mismatches()
            .map(|field| field.file.as_str())
            .fold(Vec::new(), |mut files, file| {
                if !files.contains(&file) {
                    files.push(file);
                }
                files
            });
    let _ = write!(
        out,
        "\nNote: Update {} to match runtime implementation for mismatched fields.\n",
        files.join(" and ")
    );
    Some(out)
}

fn failure_block(
    failure: &Failure,
    result: &PreflightResult,
    paint: &dyn Fn(&str, &str) -> String,
) -> String {
    let error = &failure.error;
    let phase = error.phase();
    let mut out = format!("{}\n\n", paint(RED, phase.headline()));
    match &failure.provider {
        Some(provider) => {
            let _ = writeln!(out, "Provider: {}", provider.provider_id);
            let _ = writeln!(out, "Module: {}", provider.module);
        }
        None if phase == Phase::Config || phase == Phase::Invocation => {
            let _ = writeln!(out, "File: {}", result.run_yaml.display());
        }
        None => {}
    }
    let _ = writeln!(out, "Reason: {error}");
    if let Some(details) = error.details() {
        let _ = write!(out, "\n{}\n", details.trim_end());
    }
    if let Some(traceback) = error.traceback().filter(|tb| !tb.trim().is_empty()) {
        let _ = write!(out, "\nTraceback:\n{}\n", indented(traceback));
    }
    let _ = write!(out, "\nResolution: {}\n", failure.resolution());
    let _ = writeln!(out, "Code: {}", failure.code());
    let not_checked = result
        .providers
        .iter()
        .filter(|provider| provider.status == ProviderStatus::NotChecked)
        .count();
    if not_checked > 0 {
        let _ = writeln!(
            out,
            "\nStopped at the first error: {not_checked} more provider(s) not checked."
        );
    }
    out
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
