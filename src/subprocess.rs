//! The only code that starts processes.
//!
//! Provider code runs in these children, so nothing it does may stall the
//! driver: stdin is closed, stdout and stderr are drained on their own threads
//! (a full pipe would otherwise block the child while we wait for it), capture
//! is bounded, the wait has a deadline, and the child leads its own process
//! group so that a timeout kills grandchildren too. A grandchild that escaped
//! the group and holds a pipe open cannot make us wait either: the reader
//! threads are given a short grace period and then abandoned.
//!
//! Two shapes: [`run`] for a child that does one thing and exits, and
//! [`Session`] for one that answers requests line by line until it is dropped
//! (the probe's warm parent).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// How much of each stream is kept; the rest is drained and counted.
pub(crate) const CAPTURE_LIMIT: usize = 8 * 1024 * 1024;

/// How long reader threads may take to see end-of-file once the child is gone.
const READER_GRACE: Duration = Duration::from_millis(500);

/// What to run and for how long at most.
#[derive(Debug, Clone)]
pub(crate) struct ChildCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) timeout: Duration,
}

/// One captured stream, cut at [`CAPTURE_LIMIT`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Captured {
    pub(crate) bytes: Vec<u8>,
    pub(crate) dropped: u64,
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!(
                "\n[output truncated: {} more bytes]",
                self.dropped
            ));
        }
        text
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited(i32),
    Signalled(i32),
    TimedOut,
}

#[derive(Debug)]
pub(crate) struct ChildRun {
    pub(crate) ending: Ending,
    pub(crate) stdout: Captured,
    pub(crate) stderr: Captured,
    pub(crate) elapsed: Duration,
}

/// Runs `command` to completion or to its deadline. Errors are spawn failures
/// only; every way a started child can end is a [`ChildRun`].
pub(crate) fn run(command: &ChildCommand) -> io::Result<ChildRun> {
    let started = Instant::now();
    let mut child = spawn_group_leader(command, Stdio::null())?;
    let group = child.id();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = child.wait_timeout(command.timeout)?;
    // Whatever the child left behind in its group (daemons, helpers) goes with it,
    // so no process outlives the check and no pipe stays open.
    kill_group(group);
    let ending = match status {
        Some(status) => ending_of(status),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Ending::TimedOut
        }
    };
    let deadline = Instant::now() + READER_GRACE;
    Ok(ChildRun {
        ending,
        stdout: collect(stdout, deadline),
        stderr: collect(stderr, deadline),
        elapsed: started.elapsed(),
    })
}

/// Starts `command` as the leader of a new process group, with both output
/// streams piped.
fn spawn_group_leader(command: &ChildCommand, stdin: Stdio) -> io::Result<Child> {
    Command::new(&command.program)
        .args(&command.args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::Exited(-1),
    }
}

/// The longest stdout line a [`Session`] keeps; the rest of it is dropped.
/// A line carries a whole check's captured output, escaped for JSON.
const LINE_LIMIT: usize = 128 * 1024 * 1024;

/// What a [`Session`] said next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Line(String),
    /// Its stdout reached end-of-file: it exited or closed it.
    Closed,
    TimedOut,
}

/// A child that reads requests on stdin and answers on stdout, one line each.
/// Dropping it kills its process group.
pub(crate) struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<Captured>,
    started: Instant,
}

impl Session {
    pub(crate) fn start(command: &ChildCommand) -> io::Result<Session> {
        let started = Instant::now();
        let mut child = spawn_group_leader(command, Stdio::piped())?;
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Ok(Session {
            child,
            stdin,
            lines,
            stderr,
            started,
        })
    }

    /// Writes `line` and a newline to the child's stdin.
    pub(crate) fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// The next stdout line, waiting no later than `deadline`.
    pub(crate) fn next_line(&self, deadline: Instant) -> Next {
        match self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(line) => Next::Line(line),
            Err(mpsc::RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }

    /// Ends the session after it stopped answering: `next` is how it stopped,
    /// `stdout` what it printed that was not an answer. The result reads as if
    /// the session had been one [`run`].
    pub(crate) fn finish(mut self, next: Next, stdout: Captured) -> ChildRun {
        drop(self.stdin.take());
        let ending = match next {
            Next::TimedOut => Ending::TimedOut,
            // End-of-file comes just before the exit; give it a moment.
            Next::Closed | Next::Line(_) => match self.child.wait_timeout(READER_GRACE) {
                Ok(Some(status)) => ending_of(status),
                _ => Ending::TimedOut,
            },
        };
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        ChildRun {
            ending,
            stdout,
            stderr: collect(
                std::mem::replace(&mut self.stderr, mpsc::channel().1),
                Instant::now() + READER_GRACE,
            ),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each stdout line (without its newline) to the receiver, cut at
/// [`LINE_LIMIT`]; the channel closes at end-of-file.
fn read_lines(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut stream) = stream {
        thread::spawn(move || {
            let mut line = Vec::new();
            let mut buffer = [0u8; 64 * 1024];
            loop {
                let n = match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                for piece in buffer[..n].split_inclusive(|&byte| byte == b'\n') {
                    let room = LINE_LIMIT.saturating_sub(line.len());
                    line.extend_from_slice(&piece[..piece.len().min(room)]);
                    if piece.ends_with(b"\n") {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        let text = String::from_utf8_lossy(&line).into_owned();
                        line.clear();
                        if sender.send(text).is_err() {
                            return;
                        }
                    }
                }
            }
            if !line.is_empty() {
                let _ = sender.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
    }
    receiver
}

fn drain(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Captured> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut stream) = stream {
        thread::spawn(move || {
            let mut captured = Captured::default();
            let mut buffer = [0u8; 64 * 1024];
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = CAPTURE_LIMIT.saturating_sub(captured.bytes.len());
                        let kept = n.min(room);
                        captured.bytes.extend_from_slice(&buffer[..kept]);
                        captured.dropped += (n - kept) as u64;
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = sender.send(captured);
        });
    }
    receiver
}

fn collect(receiver: mpsc::Receiver<Captured>, deadline: Instant) -> Captured {
    let wait = deadline.saturating_duration_since(Instant::now());
    receiver.recv_timeout(wait).unwrap_or_default()
}

/// Sends SIGKILL to the process group led by `group`.
pub(crate) fn kill_group(group: u32) {
    let Ok(group) = libc::pid_t::try_from(group) else {
        return;
    };
    // SAFETY: killpg takes plain integers and only sends a signal; the group is the
    // one we created for this child a moment ago (ESRCH when it is already empty).
    #[allow(unsafe_code)]
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

/// Peak resident memory in KiB: this process's own, and the largest of the
/// processes it started and their descendants (the probes).
pub(crate) fn peak_memory_kib() -> (i64, i64) {
    let peak = |who| {
        // SAFETY: getrusage only fills the zeroed struct we own.
        #[allow(unsafe_code)]
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::getrusage(who, &mut usage) == 0 {
                usage.ru_maxrss
            } else {
                0
            }
        }
    };
    (peak(libc::RUSAGE_SELF), peak(libc::RUSAGE_CHILDREN))
}

/// The conventional name of a signal, for messages such as "killed by signal 11 (SIGSEGV)".
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "unknown signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> ChildRun {
        run(&ChildCommand {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            timeout: Duration::from_millis(timeout_ms),
        })
        .expect("sh starts")
    }

    #[test]
    fn exit_code_and_both_streams_are_kept() {
        let run = sh("echo out; echo err >&2; exit 3", 5_000);
        assert_eq!(run.ending, Ending::Exited(3));
        assert_eq!(run.stdout.text(), "out\n");
        assert_eq!(run.stderr.text(), "err\n");
    }

    #[test]
    fn a_signal_is_reported_as_such() {
        let run = sh("kill -SEGV $$", 5_000);
        assert_eq!(run.ending, Ending::Signalled(libc::SIGSEGV));
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
    }

    #[test]
    fn a_hang_ends_at_the_deadline_even_when_a_grandchild_holds_the_pipes() {
        let run = sh("sleep 30 & sleep 30", 300);
        assert_eq!(run.ending, Ending::TimedOut);
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    }

    #[test]
    fn a_daemon_left_behind_does_not_delay_a_finished_child() {
        let run = sh("(sleep 30 &) ; echo done", 10_000);
        assert_eq!(run.ending, Ending::Exited(0));
        assert_eq!(run.stdout.text(), "done\n");
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    }

    #[test]
    fn output_beyond_the_limit_is_counted_not_kept() {
        let run = sh("head -c 9000000 /dev/zero", 20_000);
        assert_eq!(run.stdout.bytes.len(), CAPTURE_LIMIT);
        assert_eq!(run.stdout.dropped, 9_000_000 - CAPTURE_LIMIT as u64);
    }

    #[test]
    fn stdin_is_closed() {
        let run = sh("cat; echo eof", 5_000);
        assert_eq!(run.stdout.text(), "eof\n");
    }
}
