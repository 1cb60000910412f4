//! The environment the server will run with, as the command line describes
//! it: the process environment, then each `--env-file` in order, then each
//! `--env`, a later value replacing an earlier one. `--ignore-environment`
//! starts from nothing but `PATH` and `HOME`, which a container always has
//! (its runtime sets both when the image does not) and the interpreter needs
//! (`PATH` for the programs provider code runs, `HOME` for `~` and user
//! site-packages); the files or `--env` can still set them.
//!
//! This one environment is what run.yaml's `${env.X}` is substituted from,
//! what every probe process starts with (so the server's own loader, run in
//! the probe, substitutes from it too, and provider code imports with it),
//! and what `--exec` starts the server with: what was checked is what runs.
//! Which interpreter is checked (`--python`, `VIRTUAL_ENV`, `PATH`) is
//! preflight's own choice and reads preflight's own environment.
//!
//! An env file is read the way both dotenv and the Kubernetes/Docker env-file
//! forms write it: `KEY=VALUE` lines, blank lines and `#` comments skipped, an
//! optional `export ` before the key. Values in double or single quotes lose
//! their quotes (dotenv's reading; Kubernetes would keep them), may span lines,
//! and take `\n`, `\t`, `\"` and `\\` escapes in double quotes; an unquoted
//! value is trimmed and ends at a ` #` comment. Nothing is expanded: `$X` stays
//! `$X`, as Kubernetes leaves it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::Diagnostic;
use thiserror::Error;

use crate::config::env::Environment;
use crate::diagnostics::{Blame, Phase, PhaseError};
use crate::files;

/// An env file larger than this is refused: real ones are a few KiB.
const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// What `--ignore-environment` keeps of the process environment.
const ALWAYS_SET: [&str; 2] = ["PATH", "HOME"];

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum EnvironmentError {
    #[error("--env-file cannot be read: {path}: {reason}")]
    #[diagnostic(
        code(preflight::env::file_unreadable),
        help("Pass a readable regular file of KEY=VALUE lines with --env-file.")
    )]
    Unreadable { path: String, reason: String },

    #[error("--env-file {path} line {line}: {problem}")]
    #[diagnostic(
        code(preflight::env::file_malformed),
        help(
            "Write one KEY=VALUE per line (KEY: letters, digits and _ . -, not starting with a digit), optionally after `export `; quote a value that holds a # after a space, and close every quote. Blank lines and lines starting with # are skipped."
        )
    )]
    Malformed {
        path: String,
        line: usize,
        problem: String,
    },
}

impl PhaseError for EnvironmentError {
    fn phase(&self) -> Phase {
        Phase::Invocation
    }

    fn blame(&self) -> Blame {
        Blame::Invocation
    }
}

/// One `--env KEY=VALUE`, checked when the command line is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// clap's parser for `--env`: the value is taken as written.
pub(crate) fn parse_assignment(text: &str) -> Result<Assignment, String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("expected KEY=VALUE".to_string());
    };
    check_name(name)?;
    check_value(value)?;
    Ok(Assignment {
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Where the server's environment comes from (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layers {
    pub(crate) ignore_process: bool,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) assignments: Vec<Assignment>,
}

/// The environment the server will run with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerEnvironment {
    vars: BTreeMap<OsString, OsString>,
}

impl ServerEnvironment {
    /// `layers` over `process` (the process environment, passed in so that
    /// tests need not change it).
    pub(crate) fn layered(
        process: impl IntoIterator<Item = (OsString, OsString)>,
        layers: &Layers,
    ) -> Result<Self, EnvironmentError> {
        let mut vars: BTreeMap<OsString, OsString> = process
            .into_iter()
            .filter(|(name, _)| {
                !layers.ignore_process || ALWAYS_SET.iter().any(|kept| name == kept)
            })
            .collect();
        for path in &layers.files {
            for assignment in read_env_file(path)? {
                vars.insert(assignment.name.into(), assignment.value.into());
            }
        }
        for assignment in &layers.assignments {
            vars.insert(
                assignment.name.clone().into(),
                assignment.value.clone().into(),
            );
        }
        Ok(ServerEnvironment { vars })
    }

    /// Every variable, for starting a process with exactly this environment.
    pub(crate) fn vars(&self) -> Arc<[(OsString, OsString)]> {
        self.vars
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

impl Environment for ServerEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(OsStr::new(name))
            .and_then(|value| value.to_str())
            .map(String::from)
    }
}

fn read_env_file(path: &Path) -> Result<Vec<Assignment>, EnvironmentError> {
    let shown = path.display().to_string();
    let unreadable = |reason: String| EnvironmentError::Unreadable {
        path: shown.clone(),
        reason,
    };
    let bytes = files::read_regular(path, MAX_ENV_FILE_BYTES)
        .map_err(|err| unreadable(err.reason(MAX_ENV_FILE_BYTES)))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
    parse_env_file(&text).map_err(|(line, problem)| EnvironmentError::Malformed {
        path: shown,
        line,
        problem,
    })
}

/// The assignments of an env file, in order; a problem comes with its line.
fn parse_env_file(text: &str) -> Result<Vec<Assignment>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut assignments = Vec::new();
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)));
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let statement = trimmed
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(trimmed, str::trim_start);
        let Some((name, rest)) = statement.split_once('=') else {
            return Err((number, "no '=' (expected KEY=VALUE)".to_string()));
        };
        let name = name.trim_end();
        check_name(name).map_err(|problem| (number, problem))?;
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let mut body = rest[1..].to_string();
                loop {
                    if let Some((value, after)) = closed(&body, quote) {
                        let after = after.trim_start();
                        if !(after.is_empty() || after.starts_with('#')) {
                            return Err((
                                number,
                                format!("text after the closing quote: {after:?}"),
                            ));
                        }
                        break value;
                    }
                    let Some((_, next)) = lines.next() else {
                        return Err((number, format!("the {quote} quote is never closed")));
                    };
                    body.push('\n');
                    body.push_str(next);
                }
            }
            _ => {
                let end = rest
                    .match_indices('#')
                    .find(|(at, _)| rest[..*at].ends_with([' ', '\t']))
                    .map_or(rest.len(), |(at, _)| at);
                rest[..end].trim_end().to_string()
            }
        };
        check_value(&value).map_err(|problem| (number, problem))?;
        assignments.push(Assignment {
            name: name.to_string(),
            value,
        });
    }
    Ok(assignments)
}

/// The value up to the closing `quote` in `body` (escapes applied in double
/// quotes), and what follows it; `None` when the quote is not closed.
fn closed(body: &str, quote: char) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, &body[at + 1..])),
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other @ ('"' | '\\' | '$'))) => value.push(other),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    None
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else if name.is_empty() {
        Err("no variable name before '='".to_string())
    } else {
        Err(format!("{name:?} is not a variable name"))
    }
}

fn check_value(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err("the value holds a NUL character, which no environment can".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, String)> {
        parse_env_file(text)
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn dotenv_and_kubernetes_forms_are_read() {
        let text = "\u{feff}# a comment\n\n  # indented comment\nA=1\r\nexport B = two words # a comment\nC=\"quoted # not a comment\"\nD='single $X \\n'\nE=\"esc\\n\\\"q\\\"\" # after\nF=\nG=a#b\nH=\"multi\nline\"\nexport=3\nI.J-K=x\n";
        assert_eq!(
            parsed(text),
            [
                pair("A", "1"),
                pair("B", "two words"),
                pair("C", "quoted # not a comment"),
                pair("D", "single $X \\n"),
                pair("E", "esc\n\"q\""),
                pair("F", ""),
                pair("G", "a#b"),
                pair("H", "multi\nline"),
                pair("export", "3"),
                pair("I.J-K", "x"),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_their_line_and_problem() {
        let cases = [
            ("A=1\nJUST_A_NAME\n", (2, "no '=' (expected KEY=VALUE)")),
            ("=1\n", (1, "no variable name before '='")),
            ("MY KEY=1\n", (1, "\"MY KEY\" is not a variable name")),
            ("1X=1\n", (1, "\"1X\" is not a variable name")),
            ("A=\"open\nB=2\n", (1, "the \" quote is never closed")),
            ("A='x' y\n", (1, "text after the closing quote: \"y\"")),
            (
                "A=x\0y\n",
                (
                    1,
                    "the value holds a NUL character, which no environment can",
                ),
            ),
        ];
        for (text, (line, problem)) in cases {
            assert_eq!(
                parse_env_file(text),
                Err((line, problem.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn layers_apply_in_order_and_ignoring_keeps_path_and_home() {
        let process = [
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("SECRET", "s"),
            ("A", "p"),
        ]
        .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let assignments = vec![parse_assignment("A=from --env").unwrap()];
        let layers = Layers {
            ignore_process: false,
            files: Vec::new(),
            assignments: assignments.clone(),
        };
        let env = ServerEnvironment::layered(process.clone(), &layers).unwrap();
        assert_eq!(env.var("A").as_deref(), Some("from --env"));
        assert_eq!(env.var("SECRET").as_deref(), Some("s"));
        let layers = Layers {
            ignore_process: true,
            files: Vec::new(),
            assignments,
        };
        let env = ServerEnvironment::layered(process, &layers).unwrap();
        let names: Vec<_> = env.vars().iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["A", "HOME", "PATH"]);
    }

    #[test]
    fn an_assignment_needs_a_name_and_an_equals_sign() {
        assert_eq!(
            parse_assignment("A=b=c"),
            Ok(Assignment {
                name: "A".into(),
                value: "b=c".into()
            })
        );
        assert_eq!(parse_assignment("A"), Err("expected KEY=VALUE".into()));
        assert_eq!(
            parse_assignment("=b"),
            Err("no variable name before '='".into())
        );
    }
}
