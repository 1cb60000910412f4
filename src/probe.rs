//! Runs the embedded Python probe and reads its one JSON document.
//!
//! `probe/preflight_probe.py` is compiled into the binary and passed with `-c`,
//! so nothing is written to disk. The flags are chosen for parity with the
//! server: `-B` keeps `__pycache__` off disk (NFR-003), `-P` keeps the current
//! directory off `sys.path` (the server is a console script, so a package that
//! merely sits in the working directory is not importable by it). Nothing
//! else: `-E` and `-I` would drop `PYTHONPATH`, which is how the deploy flow
//! installs provider packages, and `-s` (also in `-I`) the user's
//! site-packages, which the server imports from when it runs on a system
//! Python. So `sitecustomize` and `.pth` files run before the probe's audit
//! hook exists, as in the server; the kernel layer of the sandbox
//! ([`crate::sandbox`]), in force from the interpreter's first instruction,
//! is what confines them. The probe writes its document as the last stdout
//! line; anything before it (a chatty `sitecustomize`) is logged and ignored.
//!
//! The interpreter query is the probe's `serve` mode ([`WarmParent`]): the
//! facts first, then llama-stack's layout once its core has imported. Checks
//! then run in one of two ways ([`Runner`]). Warm: that same process, which
//! has also imported every in-tree registry, answers each check from a forked
//! child that leads its own process group, up to `--jobs` of them at once;
//! the parent supervises each child exactly as [`subprocess::run`]
//! supervises a process (deadline, bounded capture, group kill, what it left
//! running) and sends back, under the check's id, how it ended and what it
//! printed, which is decoded the same way. Fresh: a new interpreter per
//! check, one at a time, used when the warm parent says forking is unsafe
//! (threads running after the shared imports), when the platform cannot
//! fork, with `--no-fork`, and for the checks a lost warm parent was running.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::sandbox::KernelSandbox;
use crate::subprocess::{self, Captured, ChildCommand, ChildRun, Ending, Next, Session};

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
    /// frames of the probe and of importlib and the module list that a crash
    /// or hang dump includes, and saying so when the capture itself was cut.
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
        // faulthandler lists every extension module loaded so far, which says
        // more about the warm parent's imports than about the crash.
        let is_module_list = |line: &&str| line.trim_start().starts_with("Extension modules: ");
        let text = stderr.lossy();
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| !is_machinery_frame(line) && !is_module_list(line))
            .collect();
        let tail = tail_lines(&kept.join("\n"), 20);
        match stderr.truncation_note() {
            Some(note) => format!("{note}\n{tail}"),
            None => tail,
        }
    }
}

/// A dynamic-loader failure, read from its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoaderFailure {
    /// A library is not on the loader's search path.
    LibraryMissing(String),
    /// A library was found but lacks a symbol another one needs.
    UndefinedSymbol(String),
}

impl LoaderFailure {
    fn parse(message: &str) -> Option<LoaderFailure> {
        let word_before = |marker: &str| {
            let (before, _) = message.split_once(marker)?;
            let word = before.rsplit(' ').next()?.trim_end_matches(':');
            (!word.is_empty()).then(|| word.to_string())
        };
        let word_after = |marker: &str| {
            let (_, after) = message.split_once(marker)?;
            let word = after.split([' ', ',', ')']).next()?;
            (!word.is_empty()).then(|| word.to_string())
        };
        // glibc: "libgomp.so.1: cannot open shared object file: No such file
        // or directory"; musl: "Error loading shared library libgomp.so.1: No
        // such file or directory (needed by /x/_ext.so)".
        if let Some(library) = word_before(": cannot open shared object file")
            .or_else(|| word_after("Error loading shared library "))
        {
            return Some(LoaderFailure::LibraryMissing(
                library.trim_end_matches(':').to_string(),
            ));
        }
        // glibc: "/x/_ext.so: undefined symbol: _ZN3c10"; musl: "Error
        // relocating /x/_ext.so: _ZN3c10: symbol not found".
        word_after("undefined symbol: ")
            .or_else(|| word_before(": symbol not found"))
            .map(LoaderFailure::UndefinedSymbol)
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

/// How much longer than a check's own deadline the driver waits for the warm
/// parent's answer before it counts the parent as lost.
const WARM_PARENT_GRACE: Duration = Duration::from_secs(5);

/// How provider checks are kept apart from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IsolationMode {
    /// A forked child of the warm parent per check.
    Fork,
    /// A fresh interpreter per check.
    Spawn,
}

/// The isolation in force, and why it is not `fork` when it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Isolation {
    pub(crate) mode: IsolationMode,
    pub(crate) reason: Option<String>,
}

/// How every probe process starts: confined by the sandbox, with the
/// environment the server will run with (see [`crate::environment`]).
#[derive(Clone)]
pub(crate) struct Launch {
    pub(crate) sandbox: Arc<KernelSandbox>,
    pub(crate) environment: Arc<[(OsString, OsString)]>,
}

/// Runs probe checks for one interpreter, warm when it can. Checks are
/// submitted, each for a [`Ticket`], and their answers waited for in any
/// order; a warm runner keeps up to `jobs` of them running at once, each in
/// its own forked child, so that a caller that submits every check first and
/// then waits for each in turn gets them in its order while they run side by
/// side. Fresh interpreters run one at a time, when waited for.
pub(crate) struct Runner {
    python: PathBuf,
    launch: Launch,
    warm_parent: Option<WarmChecks>,
    /// Submitted, not yet sent to the warm parent or run.
    queued: VecDeque<Request>,
    answered: BTreeMap<Ticket, Result<ChildRun, ChannelError>>,
    next_ticket: u64,
}

/// A submitted check, to be waited for with [`Runner::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ticket(u64);

struct Request {
    ticket: Ticket,
    mode: &'static str,
    argument: String,
    timeout: Duration,
}

/// The warm parent and the checks it is running for this runner.
struct WarmChecks {
    session: Session,
    jobs: usize,
    running: Vec<RunningCheck>,
}

struct RunningCheck {
    request: Request,
    sent: Instant,
    /// The process group of its child, once the parent said it started.
    group: Option<u32>,
}

impl Runner {
    /// A runner that starts a fresh interpreter, as `launch` says, for every
    /// check.
    pub(crate) fn fresh(python: &Path, launch: Launch) -> Self {
        Runner {
            python: python.to_path_buf(),
            launch,
            warm_parent: None,
            queued: VecDeque::new(),
            answered: BTreeMap::new(),
            next_ticket: 0,
        }
    }

    /// Runs `mode argument` as the probe would in a fresh interpreter, and
    /// waits for its answer.
    pub(crate) fn check<T: DeserializeOwned>(
        &mut self,
        mode: &'static str,
        argument: String,
        timeout: Duration,
    ) -> Result<Probed<T>, ChannelError> {
        let ticket = self.submit(mode, argument, timeout);
        self.wait(ticket)
    }

    /// Hands `mode argument` to the runner; a warm runner starts it at once
    /// if fewer than its `jobs` checks are running.
    pub(crate) fn submit(
        &mut self,
        mode: &'static str,
        argument: String,
        timeout: Duration,
    ) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.queued.push_back(Request {
            ticket,
            mode,
            argument,
            timeout,
        });
        self.send_queued();
        ticket
    }

    /// The answer to the check of `ticket`, decoded as `T`.
    pub(crate) fn wait<T: DeserializeOwned>(
        &mut self,
        ticket: Ticket,
    ) -> Result<Probed<T>, ChannelError> {
        loop {
            if let Some(run) = self.answered.remove(&ticket) {
                return run.and_then(decode);
            }
            if (self.warm_parent.as_ref()).is_some_and(|warm| !warm.running.is_empty()) {
                self.read_event();
                continue;
            }
            let Some(request) = self.queued.pop_front() else {
                let unknown = std::io::Error::other("no check was submitted for this ticket");
                return Err(ChannelError::Spawn(unknown));
            };
            let args = [request.mode, request.argument.as_str()];
            let command = probe_command(&self.python, &args, request.timeout, &self.launch);
            let run = subprocess::run(&command).map_err(ChannelError::Spawn);
            self.answered.insert(request.ticket, run);
        }
    }

    /// Sends queued checks to the warm parent while it runs fewer than its jobs.
    fn send_queued(&mut self) {
        let Some(warm) = self.warm_parent.as_mut() else {
            return;
        };
        while warm.running.len() < warm.jobs {
            let Some(request) = self.queued.pop_front() else {
                return;
            };
            let line = serde_json::json!({
                "id": request.ticket.0,
                "timeout": request.timeout.as_secs_f64(),
                "mode": request.mode,
                "argument": request.argument,
            });
            let sent = warm.session.send(&line.to_string());
            warm.running.push(RunningCheck {
                request,
                sent: Instant::now(),
                group: None,
            });
            if sent.is_err() {
                return self.lose_warm_parent(Next::Closed);
            }
        }
    }

    /// Reads what the warm parent says next about its checks, waiting no
    /// longer than the first running check's deadline and some grace.
    fn read_event(&mut self) {
        let Some(warm) = self.warm_parent.as_mut() else {
            return;
        };
        let deadline = (warm.running.iter())
            .map(|check| check.sent + check.request.timeout + WARM_PARENT_GRACE)
            .min()
            .unwrap_or_else(|| Instant::now() + WARM_PARENT_GRACE);
        let line = match warm.session.next_line(deadline) {
            Next::Line(line) => line,
            lost => return self.lose_warm_parent(lost),
        };
        if line.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<WarmEvent>(&line) {
            Ok(WarmEvent::Started { id, pid }) => {
                if let Some(check) = warm
                    .running
                    .iter_mut()
                    .find(|check| check.request.ticket.0 == id)
                {
                    check.group = Some(pid);
                }
            }
            Ok(WarmEvent::Ended { id, run }) => {
                let Some(at) = warm
                    .running
                    .iter()
                    .position(|check| check.request.ticket.0 == id)
                else {
                    tracing::debug!(id, "the warm parent ended a check it was not running");
                    return;
                };
                let check = warm.running.remove(at);
                self.answered
                    .insert(check.request.ticket, run.into_child_run(check.sent));
                self.send_queued();
            }
            Err(err) => tracing::debug!(%err, "ignored a line from the warm parent"),
        }
    }

    /// Ends a warm parent that stopped answering (`how`: it closed its
    /// output or missed a deadline). Whatever ended it cannot be pinned on
    /// one of the checks it was running, so each of them runs again in a
    /// fresh interpreter, before those still queued; so do all later checks.
    fn lose_warm_parent(&mut self, how: Next) {
        let Some(warm) = self.warm_parent.take() else {
            return;
        };
        tracing::info!(
            ?how,
            "the warm parent stopped answering; its checks run again in fresh interpreters"
        );
        for check in &warm.running {
            if let Some(group) = check.group {
                subprocess::kill_group(group);
            }
        }
        let _ = warm.session.finish(how, Captured::default());
        for check in warm.running.into_iter().rev() {
            self.queued.push_front(check.request);
        }
    }
}

/// The probe's `serve` mode, started: it answers documents (the facts, then
/// llama-stack's layout) before it is trusted with checks.
pub(crate) struct WarmParent {
    python: PathBuf,
    launch: Launch,
    session: Session,
    /// When its documents must all have been answered.
    deadline: Instant,
}

impl WarmParent {
    /// Starts `serve options` in `python`, as `launch` says; its documents
    /// are due within `timeout`.
    pub(crate) fn start(
        python: &Path,
        options: &str,
        timeout: Duration,
        launch: Launch,
    ) -> Result<WarmParent, ChannelError> {
        let command = probe_command(python, &["serve", options], timeout, &launch);
        let session = Session::start(&command).map_err(ChannelError::Spawn)?;
        Ok(WarmParent {
            python: python.to_path_buf(),
            launch,
            session,
            deadline: Instant::now() + timeout,
        })
    }

    /// Decodes the parent's next document as `T`. Lines that are not JSON (a
    /// chatty `sitecustomize`) are skipped; if no document comes, the parent
    /// is ended and the error says how it stopped.
    pub(crate) fn next_document<T: DeserializeOwned>(self) -> Result<(T, Self), ChannelError> {
        let mut noise = Vec::new();
        loop {
            let next = self.session.next_line(self.deadline);
            let Next::Line(line) = next else {
                let run = self.session.finish(
                    next,
                    Captured {
                        bytes: noise,
                        dropped: 0,
                    },
                );
                return Err(match decode::<NotADocument>(run) {
                    Err(err) => err,
                    Ok(impossible) => match impossible.document {},
                });
            };
            if !line.trim_start().starts_with('{') {
                noise.extend_from_slice(line.as_bytes());
                noise.push(b'\n');
                continue;
            }
            return match serde_json::from_str::<T>(&line) {
                Ok(document) => Ok((document, self)),
                Err(err) => {
                    tracing::debug!(%err, "warm parent document did not decode");
                    let stderr = self
                        .session
                        .finish(Next::Closed, Captured::default())
                        .stderr;
                    Err(ChannelError::Garbage {
                        stdout: tail_lines(&line, 5),
                        stderr,
                    })
                }
            };
        }
    }

    /// Tells the parent, waiting after its facts, to import llama-stack's core.
    pub(crate) fn proceed(&mut self) -> std::io::Result<()> {
        self.session.send("")
    }

    /// The runner that forks this parent for every check, `jobs` at once.
    pub(crate) fn into_runner(self, jobs: usize) -> Runner {
        let mut runner = Runner::fresh(&self.python, self.launch);
        runner.warm_parent = Some(WarmChecks {
            session: self.session,
            jobs: jobs.max(1),
            running: Vec::new(),
        });
        runner
    }
}

/// What no stdout line can decode as: the noise a warm parent printed
/// instead of its document is never one.
#[derive(Debug, Deserialize)]
enum NotADocument {}

/// What the warm parent says about one check, named by its ticket.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum WarmEvent {
    Started {
        id: u64,
        pid: u32,
    },
    Ended {
        id: u64,
        #[serde(flatten)]
        run: ForkedRun,
    },
}

/// How a forked check ended, in [`ChildRun`]'s terms.
#[derive(Debug, Deserialize)]
struct ForkedRun {
    ending: String,
    code: Option<i32>,
    signal: Option<i32>,
    message: Option<String>,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stdout_dropped: u64,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    stderr_dropped: u64,
    /// Processes left in the check's process group after it ended, and those
    /// its child's death handed to the warm parent.
    #[serde(default)]
    leftovers: Vec<String>,
}

impl ForkedRun {
    /// The run of a check sent at `sent`, or why it could not start.
    fn into_child_run(mut self, sent: Instant) -> Result<ChildRun, ChannelError> {
        // What escaped even the warm parent was handed to this process.
        self.leftovers.extend(subprocess::end_leftovers(None));
        let ending = match (self.ending.as_str(), self.code, self.signal) {
            ("exited", Some(code), _) => Ending::Exited(code),
            ("signalled", _, Some(signal)) => Ending::Signalled(signal),
            ("timed_out", _, _) => Ending::TimedOut,
            _ => {
                let reason = self.message.unwrap_or(self.ending);
                return Err(ChannelError::Spawn(std::io::Error::other(reason)));
            }
        };
        Ok(ChildRun {
            ending,
            stdout: Captured {
                bytes: self.stdout.into_bytes(),
                dropped: self.stdout_dropped,
            },
            stderr: Captured {
                bytes: self.stderr.into_bytes(),
                dropped: self.stderr_dropped,
            },
            elapsed: sent.elapsed(),
            leftovers: self.leftovers,
        })
    }
}

fn probe_command(python: &Path, args: &[&str], timeout: Duration, launch: &Launch) -> ChildCommand {
    let mut argv: Vec<OsString> = ["-B", "-P", "-c", PROBE_SOURCE]
        .iter()
        .map(OsString::from)
        .collect();
    argv.extend(args.iter().map(OsString::from));
    ChildCommand {
        program: python.to_path_buf(),
        args: argv,
        timeout,
        sandbox: Some(Arc::clone(&launch.sandbox)),
        environment: Some(Arc::clone(&launch.environment)),
    }
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
            leftovers: (run.leftovers.into_iter())
                .chain(
                    serde_json::from_str::<Escaped>(last)
                        .map_or_else(|_| Vec::new(), |e| e.escaped),
                )
                .collect(),
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

/// What a check's own process ended of what it started outside its process
/// group (see the probe's `end_children`): leftovers as much as what its
/// supervisor finds in the group.
#[derive(Deserialize)]
struct Escaped {
    #[serde(default)]
    escaped: Vec<String>,
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
    /// The file the root `ImportError` was loading, when it names one.
    #[serde(default)]
    pub(crate) root_path: Option<String>,
    pub(crate) traceback: String,
    /// The frames the exception went through, outermost first, provider code
    /// only: for a failed import, the chain of import statements.
    #[serde(default)]
    pub(crate) frames: Vec<Frame>,
}

/// One frame of a Python traceback.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) file: String,
    pub(crate) line: Option<u32>,
    /// The source line, stripped.
    pub(crate) code: String,
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}", self.file)?,
            None => write!(f, "{}", self.file)?,
        }
        if !self.code.is_empty() {
            write!(f, ": {}", self.code)?;
        }
        Ok(())
    }
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

    /// What the dynamic loader refused, when the message here or at the root
    /// of the chain is its error (glibc's or musl's wording), as `dlopen`
    /// reports it through an `ImportError` or a ctypes `OSError`.
    pub(crate) fn loader_failure(&self) -> Option<LoaderFailure> {
        [&self.root_message, &self.message]
            .into_iter()
            .find_map(|message| LoaderFailure::parse(message))
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
        let stderr = "Fatal Python error: Segmentation fault\n  File \"/p/provider.py\", line 3 in <module>\n  File \"<frozen importlib._bootstrap>\", line 488 in _call\n  File \"/usr/lib/python3.13/importlib/__init__.py\", line 88 in import_module\n  File \"<string>\", line 59 in main\n\n  Extension modules: yaml._yaml, pydantic_core._pydantic_core (total: 2)\n";
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
        // Linux refuses a single argv string over 128 KiB; a quarter of
        // that is kept free.
        assert!(PROBE_SOURCE.len() < 96 * 1024);
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
