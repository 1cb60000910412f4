//! The text report: one line per provider, then the spec's error block or the
//! success line, with wording that stays stable for pod logs.

use std::fmt::Write as _;

use crate::diagnostics::{Failure, Phase, indented, inline};
use crate::interpreter::InterpreterFacts;
use crate::metadata::MetadataReport;
use crate::results::{PreflightResult, ProviderResult, ProviderStatus, Unchecked};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";
pub(crate) const SUCCESS: &str = "All providers validated successfully";
const METADATA_HEADLINE: &str = "WARNING: Provider metadata mismatch (non-blocking)";

/// Renders the whole report.
pub(crate) fn render(result: &PreflightResult, color: bool) -> String {
    let plain = terminal_safe(&render_plain(result));
    if color { colorize(&plain) } else { plain }
}

fn render_plain(result: &PreflightResult) -> String {
    let mut out = String::new();
    if let Some(facts) = &result.interpreter {
        out.push_str(&interpreter_line(facts));
    }
    for provider in &result.providers {
        if let Some(line) = provider_line(provider) {
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
        let _ = write!(out, "\n{METADATA_HEADLINE}{block}");
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
            .map(|id| format!("Provider {}: ", one_line(id)))
            .unwrap_or_default();
        let _ = writeln!(out, "WARNING: {who}{}", inline(&warning.message));
    }
    for failure in &result.failures {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&failure_block(failure, result));
    }
    if result.failures.is_empty() {
        let _ = writeln!(out, "{SUCCESS}");
    }
    out.push_str(&not_checked_note(result));
    out
}

/// `text` as a terminal or a log viewer would show it, without letting it act
/// on either: provider output and exception text reach the report verbatim,
/// and may carry colour codes, progress bars or worse. Colour and cursor
/// sequences (CSI, OSC) are dropped, an indented line rewritten with carriage
/// returns keeps its indentation and what was written last, and any other
/// control character is shown as `\xNN`.
pub(crate) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, mut line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        // An indented line is quoted output, where a progress bar rewrote
        // itself: its indentation is the report's own, the rest is the text.
        // A line at column 0 is the report's own and keeps all it says.
        if line.contains('\r') && line.starts_with(' ') {
            let text = line.trim_start_matches(' ');
            out.push_str(&line[..line.len() - text.len()]);
            line = text
                .rsplit('\r')
                .find(|segment| !segment.is_empty())
                .unwrap_or_default();
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('\x1b', Some('[')) => {
                    // Parameters and intermediates up to the final byte.
                    chars.next();
                    chars.by_ref().find(|c| ('@'..='~').contains(c));
                }
                ('\x1b', Some(']')) => {
                    // Up to BEL or ESC \, the two string terminators.
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                ('\t', _) => out.push(c),
                (c, _) if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                (c, _) => out.push(c),
            }
        }
    }
    out
}

/// `text` (a name, a path, a value from run.yaml) on one line and inert:
/// every control character, line breaks and escape sequences included, is
/// shown as `\xNN`.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Colours what a reader scans for. Each coloured word starts a line that
/// the report itself writes, so it is found by where it stands.
fn colorize(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len() + 64);
    for line in plain.split_inclusive('\n') {
        let (text, end) = line.split_at(line.trim_end_matches('\n').len());
        let whole = |code: &str| format!("{code}{text}{RESET}{end}");
        let word =
            |code: &str, word: &str| format!("{code}{word}{RESET}{}{end}", &text[word.len()..]);
        let painted = if text == SUCCESS {
            whole(GREEN)
        } else if text.starts_with("ERROR: ") {
            whole(RED)
        } else if text == METADATA_HEADLINE {
            whole(YELLOW)
        } else if text.starts_with("WARNING: ") {
            word(YELLOW, "WARNING:")
        } else if text.starts_with("PASS  ") {
            word(GREEN, "PASS")
        } else if text.starts_with("FAIL  ") {
            word(RED, "FAIL")
        } else {
            line.to_string()
        };
        out.push_str(&painted);
    }
    out
}

fn interpreter_line(facts: &InterpreterFacts) -> String {
    format!(
        "Interpreter: {} (Python {}, {} {}, {})\n",
        one_line(&facts.interpreter.path.display().to_string()),
        facts.python.version,
        facts.llama_stack.distribution,
        facts.llama_stack.version,
        facts.interpreter.source.describe(),
    )
}

fn provider_line(provider: &ProviderResult) -> Option<String> {
    let entry = &provider.entry;
    let name = one_line(&format!("{}/{}", entry.api, entry.display_id()));
    let provider_type = one_line(&entry.provider_type);
    let line = match provider.status {
        ProviderStatus::Passed => format!(
            "PASS  {name}  {provider_type}  module {}\n",
            one_line(&provider.module)
        ),
        ProviderStatus::Skipped(_) | ProviderStatus::Shadowed => {
            let imported = if entry.is_imported() && entry.module.is_some() {
                " (its module was imported, as the server does)"
            } else {
                ""
            };
            format!(
                "SKIP  {name}  {provider_type}  {}{imported}\n",
                provider.status.reason().unwrap_or_default()
            )
        }
        ProviderStatus::Failed => format!("FAIL  {name}  {provider_type}\n"),
        // Listed under the error block, which says why.
        ProviderStatus::NotChecked(_) => return None,
    };
    Some(line)
}

/// The spec's metadata warning block, without its headline; `None` when every
/// compared field matches.
fn metadata_block(provider: &ProviderResult, report: &MetadataReport) -> Option<String> {
    report.mismatches().next()?;
    let mut out = format!("\n\nProvider: {}\n", one_line(&provider.entry.display_id()));
    for field in &report.fields {
        let _ = write!(
            out,
            "\nField: {}\n  Metadata ({}): {}\n  Runtime ({}): {}\n",
            one_line(&field.field),
            one_line(&field.file),
            inline(&field.metadata_value),
            field.runtime_source.label(),
            inline(&field.runtime_value)
        );
        if field.matches() {
            out.push_str("  Match \u{2713}\n");
        } else {
            let _ = writeln!(
                out,
                "  Using: {} (runtime value)",
                inline(&field.runtime_value)
            );
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
        one_line(&files.join(" and "))
    );
    Some(out)
}

fn failure_block(failure: &Failure, result: &PreflightResult) -> String {
    let error = &failure.error;
    let phase = error.phase();
    let mut out = format!("{}\n\n", phase.headline());
    match &failure.provider {
        Some(provider) => {
            let _ = writeln!(out, "Provider: {}", one_line(&provider.provider_id));
            let _ = writeln!(out, "Module: {}", one_line(&provider.module));
        }
        None if phase == Phase::Config || phase == Phase::Invocation => {
            let _ = writeln!(
                out,
                "File: {}",
                one_line(&result.run_yaml.display().to_string())
            );
        }
        None => {}
    }
    let _ = writeln!(out, "Reason: {}", inline(&error.to_string()));
    if let Some(details) = error.details() {
        let _ = write!(out, "\n{}\n", details.trim_end());
    }
    if let Some(traceback) = error.traceback().filter(|tb| !tb.trim().is_empty()) {
        let _ = write!(out, "\nTraceback:\n{}\n", indented(traceback));
    }
    let _ = write!(out, "\nResolution: {}\n", inline(&failure.resolution()));
    let _ = writeln!(out, "Code: {}", failure.code());
    out
}

/// Why the run stopped where it did, and which providers it left unjudged,
/// said once after the error blocks.
fn not_checked_note(result: &PreflightResult) -> String {
    // A fault found before the server's core was imported is certain
    // without it, which the closing line says.
    let stopped = if result.stopped_before_import {
        let server = (result.interpreter.as_ref())
            .map_or("llama-stack", |facts| facts.llama_stack.distribution.name());
        format!("Stopped before importing {server}: this fault is certain without it")
    } else {
        "Stopped at the first error".to_string()
    };
    let mut note = String::new();
    for (how_far, which) in [
        (Unchecked::NotReached, "not checked"),
        (
            Unchecked::NotCheckedAcross,
            "passed their own checks but not checked across providers",
        ),
    ] {
        let names: Vec<String> = result
            .providers
            .iter()
            .filter(|provider| provider.status == ProviderStatus::NotChecked(how_far))
            .map(|provider| {
                one_line(&format!(
                    "{}/{}",
                    provider.entry.api,
                    provider.entry.display_id()
                ))
            })
            .collect();
        if !names.is_empty() {
            let _ = writeln!(note, "\n{stopped}; {which}: {}.", names.join(", "));
        }
    }
    if result.stopped_before_import && note.is_empty() {
        let _ = writeln!(note, "\n{stopped}.");
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_cannot_act_on_the_terminal() {
        let raw = "\x1b[31mERROR\x1b[0m loading\n  10%\r 50%\r100%\r\n\
                   bell\x07 title\x1b]0;pwned\x07 st\x1b]2;x\x1b\\ end\x1b[2J\tok\u{9b}";
        assert_eq!(
            terminal_safe(raw),
            "ERROR loading\n  100%\nbell\\x07 title st end\tok\\x9b"
        );
    }

    #[test]
    fn a_carriage_return_cannot_rewrite_a_line_of_the_report_and_names_stay_on_one_line() {
        assert_eq!(
            terminal_safe("Reason: boom\rERROR: forged\n  10%\r100%"),
            "Reason: boom\\x0dERROR: forged\n  100%"
        );
        assert_eq!(
            one_line("run\x1b]0;x\x07\nPASS\u{85}.yaml"),
            "run\\x1b]0;x\\x07\\x0aPASS\\x85.yaml"
        );
    }

    #[test]
    fn colour_goes_on_the_words_the_report_writes() {
        let plain = "Interpreter: x\nPASS  a/b  t  module m\nFAIL  c/d  t\n\n\
                     WARNING: Provider metadata mismatch (non-blocking)\n\nWARNING: w\n\n\
                     ERROR: Provider validation failed\n\nReason: PASS  inside a line\n\
                     All providers validated successfully\n";
        assert_eq!(
            colorize(plain),
            "Interpreter: x\n\x1b[32mPASS\x1b[0m  a/b  t  module m\n\x1b[31mFAIL\x1b[0m  c/d  t\n\n\
             \x1b[33mWARNING: Provider metadata mismatch (non-blocking)\x1b[0m\n\n\
             \x1b[33mWARNING:\x1b[0m w\n\n\
             \x1b[31mERROR: Provider validation failed\x1b[0m\n\nReason: PASS  inside a line\n\
             \x1b[32mAll providers validated successfully\x1b[0m\n"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, text_of};

        /// Pieces of what terminals act on, mixed with plain text.
        const TERMINAL_FRAGMENTS: &[&str] = &[
            "\x1b[", "\x1b]", "\x1b", "[31m", "0;title", "\x07", "\x1b\\", "\r", "\n", "\t", "  ",
            "\u{9b}", "\u{7f}", "\0", "\x08", "text", "100%", "m", "é",
        ];

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_text_is_made_inert(text in text_of(TERMINAL_FRAGMENTS)) {
                let shown = terminal_safe(&text);
                prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{shown:?}");
                prop_assert_eq!(shown.matches('\n').count(), text.matches('\n').count());
            }
        }
    }
}
