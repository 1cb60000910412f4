//! `--format github`: GitHub Actions workflow commands, which the runner turns
//! into annotations on run.yaml's lines. Each failure is an `::error`, each
//! warning a `::warning`, on the line the error names, else on its provider's
//! entry, else on the file; a failure about several lines (every use of an
//! unset variable, every refused setting) gets one more `::error` on each of
//! the others. A last plain line sums the run up.
//!
//! The file is named as it was given: run preflight from the repository's
//! root with a relative `--run-yaml` for the annotation to land on the file.
//! Values are escaped as the runner unescapes them: `%`, CR and LF in the
//! message; those and `:` and `,` in a property.

use std::fmt::Write as _;

use crate::diagnostics::{Failure, Warning};
use crate::report::text::{self, SUCCESS};
use crate::results::{PreflightResult, ProviderStatus};

/// Renders the whole report as workflow commands.
pub(crate) fn render(result: &PreflightResult) -> String {
    let mut out = String::new();
    for failure in &result.failures {
        let line = (failure.error.line())
            .or_else(|| failure.provider.as_ref().and_then(|provider| provider.line));
        let title = format!("{} ({})", failure.error.phase().headline(), failure.code());
        command(&mut out, "error", result, line, &title, &message(failure));
        // Each further place gets what is wrong there, and what to do.
        for (line, what) in failure.error.further_lines() {
            let message = format!("{what}\n\nResolution: {}", failure.resolution());
            command(&mut out, "error", result, Some(line), &title, &message);
        }
    }
    for warning in &result.warnings {
        command(
            &mut out,
            "warning",
            result,
            provider_line(result, warning.provider_id.as_deref()),
            warning.code,
            &warning_message(warning),
        );
    }
    if result.failures.is_empty() {
        let _ = writeln!(out, "{SUCCESS}");
    } else {
        let _ = writeln!(
            out,
            "llama-stack preflight: {} error(s), {} warning(s) in {}",
            result.failures.len(),
            result.warnings.len(),
            result.run_yaml.display()
        );
    }
    text::terminal_safe(&out)
}

fn command(
    out: &mut String,
    kind: &str,
    result: &PreflightResult,
    line: Option<usize>,
    title: &str,
    message: &str,
) {
    let file = property(&result.run_yaml.display().to_string());
    let line = line.map(|line| format!(",line={line}")).unwrap_or_default();
    let title = property(title.trim_start_matches("ERROR: "));
    let _ = writeln!(
        out,
        "::{kind} file={file}{line},title={title}::{}",
        data(message)
    );
}

/// The line of the entry a warning about `provider_id` concerns: a warning
/// names no entry, so, of several with that id, the first one the server
/// starts (a shadowed entry's id is always used again by one it starts).
fn provider_line(result: &PreflightResult, provider_id: Option<&str>) -> Option<usize> {
    let provider_id = provider_id?;
    (result.providers.iter())
        .find(|provider| {
            provider.entry.display_id() == provider_id
                && provider.status != ProviderStatus::Shadowed
        })
        .and_then(|provider| provider.entry.line)
}

/// The failure as the text report says it, less its headline.
fn message(failure: &Failure) -> String {
    let mut out = String::new();
    if let Some(provider) = &failure.provider {
        let _ = writeln!(
            out,
            "Provider: {} (module {})",
            provider.provider_id, provider.module
        );
    }
    let _ = writeln!(out, "{}", failure.error);
    if let Some(details) = failure.error.details() {
        let _ = writeln!(out, "\n{}", details.trim_end());
    }
    let _ = write!(out, "\nResolution: {}", failure.resolution());
    out
}

fn warning_message(warning: &Warning) -> String {
    match &warning.provider_id {
        Some(id) => format!("Provider {id}: {}", warning.message),
        None => warning.message.clone(),
    }
}

/// A message, escaped the way the runner unescapes it.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (file, title), escaped the way the runner unescapes it.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_the_runner_unescapes_them() {
        assert_eq!(
            data("100% done\r\nnext: a, b"),
            "100%25 done%0D%0Anext: a, b"
        );
        assert_eq!(
            property("preflight::import::failed, 50%\n"),
            "preflight%3A%3Aimport%3A%3Afailed%2C 50%25%0A"
        );
    }
}
