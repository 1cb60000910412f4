//! The progress line on a terminal: what is being checked (`checking
//! inference/ollama (3/10)…`), on stderr, rewritten in place and cleared before
//! the report is printed.
//!
//! A person at a terminal waiting for ten Python processes wants to see that
//! something happens; a log must never get carriage returns and escape codes.
//! So the line appears only once a run has taken a second (a quick run shows
//! nothing at all), only when stderr is a terminal, and never with
//! `--format json` (a machine reads the output) or `--verbose` (log lines on
//! the same stream would tear it).

use std::ffi::OsStr;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::pipeline::Step;
use crate::report::Format;

/// How long a run goes before the line appears.
const DELAY: Duration = Duration::from_secs(1);

/// Rewrites the terminal's current line from its start.
const REWRITE: &str = "\r";
/// Erases from the cursor to the end of the line (ANSI EL).
const ERASE_TO_END: &str = "\x1b[K";

/// Whether a run shows the progress line.
pub(crate) fn wanted(
    stderr_is_terminal: bool,
    format: Format,
    verbose: u8,
    term: Option<&OsStr>,
) -> bool {
    stderr_is_terminal
        && format == Format::Text
        && verbose == 0
        && term.is_none_or(|term| term != "dumb")
}

/// The line for a step.
fn describe(step: Step<'_>) -> String {
    match step {
        Step::Interpreter => "checking the interpreter…".to_string(),
        Step::Provider {
            api,
            provider_id,
            position,
            total,
        } => format!("checking {api}/{provider_id} ({position}/{total})…"),
    }
}

/// What the line shows and whether it is on screen; each event returns the
/// bytes to write, so the decisions are testable without a terminal or a clock.
#[derive(Debug)]
struct Line {
    text: String,
    /// Terminal columns: a longer line would wrap and `\r` would no longer
    /// rewrite all of it.
    width: usize,
    visible: bool,
    finished: bool,
}

impl Line {
    fn new(width: usize) -> Self {
        Self {
            text: String::new(),
            width,
            visible: false,
            finished: false,
        }
    }

    /// The delay has passed: from now on the line is shown.
    fn reveal(&mut self) -> Option<String> {
        if self.finished {
            return None;
        }
        self.visible = true;
        self.drawn()
    }

    /// A new step started.
    fn step(&mut self, text: String) -> Option<String> {
        self.text = text;
        self.drawn().filter(|_| self.visible && !self.finished)
    }

    /// The run is over: erase the line if it was shown.
    fn finish(&mut self) -> Option<String> {
        self.finished = true;
        self.visible.then(|| format!("{REWRITE}{ERASE_TO_END}"))
    }

    fn drawn(&self) -> Option<String> {
        if self.text.is_empty() {
            return None;
        }
        // One column stays free: writing the last one moves some terminals'
        // cursor to the next line.
        let shown: String = self
            .text
            .chars()
            .take(self.width.saturating_sub(1))
            .collect();
        Some(format!("{REWRITE}{shown}{ERASE_TO_END}"))
    }
}

type Shared = Arc<(Mutex<Line>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Line> {
    shared.0.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_stderr(bytes: Option<String>) {
    if let Some(bytes) = bytes {
        let mut stderr = io::stderr().lock();
        // A closed stderr must not change the verdict.
        let _ = stderr.write_all(bytes.as_bytes());
        let _ = stderr.flush();
    }
}

/// The progress line of one run; inert when not [`wanted`].
pub(crate) struct Progress {
    shared: Option<Shared>,
    timer: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts the clock: the line appears after [`DELAY`] unless the run is
    /// over by then.
    pub(crate) fn start(wanted: bool) -> Self {
        if !wanted {
            return Self {
                shared: None,
                timer: None,
            };
        }
        let width = terminal_size::terminal_size_of(io::stderr())
            .map_or(80, |(terminal_size::Width(columns), _)| {
                usize::from(columns)
            });
        let shared: Shared = Arc::new((Mutex::new(Line::new(width)), Condvar::new()));
        let waiting = Arc::clone(&shared);
        // Without the thread the line never appears, which is harmless.
        let timer = thread::Builder::new()
            .name("progress".to_string())
            .spawn(move || {
                let (line, finished) = &*waiting;
                let guard = line.lock().unwrap_or_else(PoisonError::into_inner);
                let (mut line, _) = finished
                    .wait_timeout_while(guard, DELAY, |line| !line.finished)
                    .unwrap_or_else(PoisonError::into_inner);
                write_stderr(line.reveal());
            })
            .ok();
        Self {
            shared: Some(shared),
            timer,
        }
    }

    /// Shows `step` (once the line is visible).
    pub(crate) fn show(&self, step: Step<'_>) {
        if let Some(shared) = &self.shared {
            let mut line = lock(shared);
            write_stderr(line.step(describe(step)));
        }
    }

    /// Erases the line before the report is printed.
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(shared) = self.shared.take() {
            write_stderr(lock(&shared).finish());
            shared.1.notify_all();
        }
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: Step<'static> = Step::Provider {
        api: "inference",
        provider_id: "ollama",
        position: 3,
        total: 10,
    };

    #[test]
    fn only_a_text_run_on_a_terminal_without_logging_shows_it() {
        let xterm = Some(OsStr::new("xterm-256color"));
        assert!(wanted(true, Format::Text, 0, xterm));
        assert!(wanted(true, Format::Text, 0, None));
        assert!(!wanted(false, Format::Text, 0, xterm), "a pipe or a log");
        assert!(!wanted(true, Format::Json, 0, xterm), "a machine reads it");
        assert!(
            !wanted(true, Format::Text, 1, xterm),
            "log lines would tear it"
        );
        assert!(!wanted(true, Format::Text, 0, Some(OsStr::new("dumb"))));
    }

    #[test]
    fn steps_are_described_with_their_position() {
        assert_eq!(describe(PROVIDER), "checking inference/ollama (3/10)…");
        assert_eq!(describe(Step::Interpreter), "checking the interpreter…");
    }

    #[test]
    fn a_run_over_before_the_delay_writes_nothing() {
        let mut line = Line::new(80);
        assert_eq!(line.step(describe(Step::Interpreter)), None);
        assert_eq!(line.step(describe(PROVIDER)), None);
        assert_eq!(line.finish(), None);
        assert_eq!(line.reveal(), None, "the timer woke after the end");
    }

    #[test]
    fn after_the_delay_each_step_rewrites_the_line_and_the_end_erases_it() {
        let mut line = Line::new(80);
        assert_eq!(line.step(describe(Step::Interpreter)), None);
        assert_eq!(
            line.reveal().as_deref(),
            Some("\rchecking the interpreter…\x1b[K")
        );
        assert_eq!(
            line.step(describe(PROVIDER)).as_deref(),
            Some("\rchecking inference/ollama (3/10)…\x1b[K")
        );
        assert_eq!(line.finish().as_deref(), Some("\r\x1b[K"));
        assert_eq!(line.step(describe(PROVIDER)), None, "nothing after the end");
    }

    #[test]
    fn a_line_wider_than_the_terminal_is_cut_so_it_cannot_wrap() {
        let mut line = Line::new(12);
        line.step(describe(PROVIDER));
        assert_eq!(line.reveal().as_deref(), Some("\rchecking in\x1b[K"));
    }

    #[test]
    fn nothing_is_drawn_before_the_first_step() {
        let mut line = Line::new(80);
        assert_eq!(line.reveal(), None);
        assert_eq!(
            line.step(describe(Step::Interpreter)).as_deref(),
            Some("\rchecking the interpreter…\x1b[K")
        );
    }

    #[test]
    fn an_unwanted_progress_is_inert() {
        let progress = Progress::start(false);
        assert!(progress.shared.is_none() && progress.timer.is_none());
        progress.show(PROVIDER);
        progress.finish();
    }
}
