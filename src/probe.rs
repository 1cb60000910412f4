//! Runs the embedded Python probe and reads its one JSON document.
//!
//! `probe/preflight_probe.py` is compiled into the binary and passed with `-c`,
//! so nothing is written to disk. The flags are chosen for parity with the
//! server: `-B` keeps `__pycache__` off disk (NFR-003), `-P` keeps the current
//! directory off `sys.path` (the server is a console script, so a package that
//! merely sits in the working directory is not importable by it), and neither
//! `-I` nor `-E` is used because `PYTHONPATH` is how the deploy flow installs
//! provider packages. The probe writes its document as the last stdout line;
//! anything before it (a chatty `sitecustomize`) is logged and ignored.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::subprocess::{self, Captured, ChildCommand, ChildRun, Ending};

/// The probe's source, embedded at build time.
pub(crate) const PROBE_SOURCE: &str = include_str!("../probe/preflight_probe.py");

/// How the probe channel itself can fail, before any document is read.
#[derive(Debug)]
pub(crate) enum ChannelError {
    Spawn(std::io::Error),
    /// Exited without printing a document (`os._exit`, `sys.exit` at start-up, a
    /// Python too old for the flags).
    NoDocument {
        code: i32,
        stderr: Captured,
    },
    Signalled {
        signal: i32,
        stderr: Captured,
    },
    TimedOut {
        stderr: Captured,
    },
    /// Printed something that is not the probe's document.
    Garbage {
        stdout: String,
        stderr: Captured,
    },
}

impl ChannelError {
    /// The captured stderr, trimmed to its last lines for messages, without the
    /// frames of the probe and of importlib that a crash or hang dump includes,
    /// and saying so when the capture itself was cut.
    pub(crate) fn stderr_tail(&self) -> String {
        let empty = Captured::default();
        let stderr = match self {
            ChannelError::Spawn(_) => &empty,
            ChannelError::NoDocument { stderr, .. }
            | ChannelError::Signalled { stderr, .. }
            | ChannelError::TimedOut { stderr, .. }
            | ChannelError::Garbage { stderr, .. } => stderr,
        };
        let is_machinery_frame = |line: &&str| {
            let line = line.trim_start();
            line.starts_with("File \"")
                && [
                    "\"<string>\"",
                    "\"<frozen importlib",
                    "importlib/__init__.py\"",
                ]
                .iter()
                .any(|marker| line.contains(marker))
        };
        let text = stderr.lossy();
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| !is_machinery_frame(line))
            .collect();
        let tail = tail_lines(&kept.join("\n"), 20);
        match stderr.truncation_note() {
            Some(note) => format!("{note}\n{tail}"),
            None => tail,
        }
    }
}

/// A decoded probe document and how the run went.
#[derive(Debug)]
pub(crate) struct Probed<T> {
    pub(crate) document: T,
    pub(crate) elapsed: Duration,
    /// Processes the probe left running, killed since (see [`subprocess`]).
    pub(crate) leftovers: Vec<String>,
}

/// Runs the probe in `python` with `args` after the source, and decodes the
/// last non-empty stdout line as `T`.
pub(crate) fn run<T: DeserializeOwned>(
    python: &Path,
    args: &[&str],
    timeout: Duration,
) -> Result<Probed<T>, ChannelError> {
    let mut argv: Vec<OsString> = ["-B", "-P", "-c", PROBE_SOURCE]
        .iter()
        .map(OsString::from)
        .collect();
    argv.extend(args.iter().map(OsString::from));
    let command = ChildCommand {
        program: python.to_path_buf(),
        args: argv,
        timeout,
    };
    let run = subprocess::run(&command).map_err(ChannelError::Spawn)?;
    decode(run)
}

fn decode<T: DeserializeOwned>(run: ChildRun) -> Result<Probed<T>, ChannelError> {
    let stderr = run.stderr;
    let code = match run.ending {
        Ending::TimedOut => return Err(ChannelError::TimedOut { stderr }),
        Ending::Signalled(signal) => return Err(ChannelError::Signalled { signal, stderr }),
        Ending::Exited(code) => code,
    };
    let stdout = run.stdout.lossy();
    let mut lines = stdout.lines().rev().filter(|line| !line.trim().is_empty());
    let Some(last) = lines.next() else {
        return Err(ChannelError::NoDocument { code, stderr });
    };
    let earlier: Vec<&str> = lines.collect();
    if !earlier.is_empty() {
        tracing::debug!(
            lines = earlier.len(),
            "ignored stdout printed before the probe document"
        );
    }
    match serde_json::from_str::<T>(last) {
        Ok(document) => Ok(Probed {
            document,
            elapsed: run.elapsed,
            leftovers: run.leftovers,
        }),
        Err(err) => {
            tracing::debug!(%err, "probe document did not decode");
            Err(ChannelError::Garbage {
                stdout: tail_lines(&stdout, 5),
                stderr,
            })
        }
    }
}

/// Longest line a message quotes from captured output.
const QUOTED_LINE_CHARS: usize = 300;

/// The last `count` lines of `text`, each cut at [`QUOTED_LINE_CHARS`].
pub(crate) fn tail_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(count);
    lines[start..]
        .iter()
        .map(|line| match line.char_indices().nth(QUOTED_LINE_CHARS) {
            Some((cut, _)) => format!(
                "{}... [{} more characters]",
                &line[..cut],
                line[cut..].chars().count()
            ),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Python exception as the probe describes it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct PyException {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) missing_module: Option<String>,
    pub(crate) root_type: String,
    pub(crate) root_message: String,
    pub(crate) root_missing_module: Option<String>,
    pub(crate) traceback: String,
}

impl PyException {
    /// `Type: message`, as Python prints the last traceback line.
    pub(crate) fn summary(&self) -> String {
        if self.message.is_empty() {
            self.kind.clone()
        } else {
            format!("{}: {}", self.kind, self.message)
        }
    }

    /// The module a `ModuleNotFoundError` names, here or at the root of the chain.
    pub(crate) fn missing_module(&self) -> Option<&str> {
        self.missing_module
            .as_deref()
            .or(self.root_missing_module.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subprocess::Captured;

    fn finished(stdout: &str, code: i32) -> ChildRun {
        ChildRun {
            ending: Ending::Exited(code),
            stdout: Captured {
                bytes: stdout.as_bytes().to_vec(),
                dropped: 0,
            },
            stderr: Captured::default(),
            elapsed: Duration::ZERO,
            leftovers: Vec::new(),
        }
    }

    #[test]
    fn the_last_line_is_the_document_and_earlier_noise_is_ignored() {
        let run = finished("hello from sitecustomize\n{\"a\": 1}\n\n", 0);
        let probed = decode::<serde_json::Value>(run).unwrap();
        assert_eq!(probed.document, serde_json::json!({"a": 1}));
    }

    #[test]
    fn no_output_is_an_exit_without_document() {
        let err = decode::<serde_json::Value>(finished("", 0)).unwrap_err();
        assert!(
            matches!(err, ChannelError::NoDocument { code: 0, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_garbage() {
        let err = decode::<serde_json::Value>(finished("Python 3.13\n", 0)).unwrap_err();
        assert!(matches!(err, ChannelError::Garbage { .. }), "{err:?}");
    }

    #[test]
    fn probe_and_importlib_frames_are_left_out_of_stderr() {
        let stderr = "Fatal Python error: Segmentation fault\n  File \"/p/provider.py\", line 3 in <module>\n  File \"<frozen importlib._bootstrap>\", line 488 in _call\n  File \"/usr/lib/python3.13/importlib/__init__.py\", line 88 in import_module\n  File \"<string>\", line 59 in main\n";
        let err = ChannelError::Signalled {
            signal: 11,
            stderr: Captured {
                bytes: stderr.as_bytes().to_vec(),
                dropped: 0,
            },
        };
        assert_eq!(
            err.stderr_tail(),
            "Fatal Python error: Segmentation fault\n  File \"/p/provider.py\", line 3 in <module>"
        );
    }

    #[test]
    fn a_cut_capture_and_long_lines_are_marked() {
        let err = ChannelError::NoDocument {
            code: 1,
            stderr: Captured {
                bytes: format!("{}\ndone\n", "x".repeat(1000)).into_bytes(),
                dropped: 42,
            },
        };
        assert_eq!(
            err.stderr_tail(),
            format!(
                "[output truncated: 42 earlier bytes not kept]\n{}... [700 more characters]\ndone",
                "x".repeat(300)
            )
        );
    }

    #[test]
    fn the_embedded_probe_fits_in_one_argument() {
        // Linux refuses a single argv string over 128 KiB.
        assert!(PROBE_SOURCE.len() < 64 * 1024);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing;

        fn ended(stdout: Vec<u8>, ending: Ending, dropped: u64) -> ChildRun {
            ChildRun {
                ending,
                stdout: Captured {
                    bytes: stdout,
                    dropped,
                },
                stderr: Captured {
                    bytes: b"Traceback\n\xff\xfe".to_vec(),
                    dropped,
                },
                elapsed: Duration::ZERO,
                leftovers: Vec::new(),
            }
        }

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_output_decodes_or_is_a_channel_error(
                stdout in proptest::collection::vec(any::<u8>(), 0..512),
                code in -1i32..256,
                dropped in 0u64..3,
            ) {
                let run = ended(stdout, Ending::Exited(code), dropped);
                if let Err(err) = decode::<serde_json::Value>(run) {
                    let _ = err.stderr_tail();
                }
            }

            #[test]
            fn any_json_line_decodes_as_a_document_or_garbage(json in fuzzing::json_value()) {
                let run = ended(format!("noise\n{json}\n").into_bytes(), Ending::Exited(0), 0);
                match decode::<PyException>(run) {
                    Ok(probed) => prop_assert!(!probed.document.summary().is_empty() || probed.document.kind.is_empty()),
                    Err(err) => prop_assert!(matches!(err, ChannelError::Garbage { .. }), "{err:?}"),
                }
            }
        }
    }
}
