//! The only code that starts processes.
//!
//! Provider code runs in these children, so nothing it does may stall the
//! driver or outlive the check: stdin is closed, stdout and stderr are drained
//! on their own threads (a full pipe would otherwise block the child while we
//! wait for it) and only their last [`CAPTURE_LIMIT`] bytes are kept, the wait
//! has a deadline, and the child leads its own process group, killed as a
//! whole once the child ends. A process that left that group (a daemon in its
//! own session) is still caught: this process is a child subreaper, so every
//! orphaned descendant is handed to it, and each one that is not a child it
//! started itself is killed and reaped before the captured output is read.
//! The reader threads are then given a short grace period, after which
//! whatever they read so far is used and they are abandoned.
//!
//! Two shapes: [`run`] for a child that does one thing and exits, and
//! [`Session`] for one that answers requests line by line until it is dropped
//! (the probe's warm parent, which supervises its forked checks the same way
//! and reports what they left behind).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::sandbox::KernelSandbox;

/// How much of each stream is kept (its end); the rest is drained and counted.
pub(crate) const CAPTURE_LIMIT: usize = 8 * 1024 * 1024;

/// How long reader threads may take to see end-of-file once the child is gone.
const READER_GRACE: Duration = Duration::from_millis(500);

/// Rounds of the leftover sweep: each round catches the children of the
/// processes killed in the one before.
const SWEEP_ROUNDS: usize = 20;

/// Children started by [`run`] and not yet reaped. Any other child of this
/// process was adopted as subreaper: a leftover of a finished check. Held
/// while spawning and while sweeping, so that a check running on another
/// thread never has its own child taken for a leftover.
static STARTED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// What to run and for how long at most.
#[derive(Debug, Clone)]
pub(crate) struct ChildCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) timeout: Duration,
    /// The kernel confinement to start it in, if any.
    pub(crate) sandbox: Option<Arc<KernelSandbox>>,
    /// Its whole environment; `None` inherits this process's.
    pub(crate) environment: Option<Arc<[(OsString, OsString)]>>,
}

/// The end of one captured stream: at most [`CAPTURE_LIMIT`] bytes, and how
/// many bytes before them were dropped.
#[derive(Debug, Default, Clone)]
pub(crate) struct Captured {
    pub(crate) bytes: Vec<u8>,
    pub(crate) dropped: u64,
}

impl Captured {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        // Trimming only at twice the limit keeps the copying linear.
        if self.bytes.len() > 2 * CAPTURE_LIMIT {
            self.keep_last(CAPTURE_LIMIT);
        }
    }

    fn keep_last(&mut self, limit: usize) {
        let excess = self.bytes.len().saturating_sub(limit);
        self.bytes.drain(..excess);
        self.dropped += excess as u64;
    }

    /// The kept bytes as text (invalid UTF-8 replaced).
    pub(crate) fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The line that says output was cut, if it was.
    pub(crate) fn truncation_note(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "[output truncated: {} earlier bytes not kept]",
                self.dropped
            )
        })
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
    /// Names of the processes the child left running (outside its process
    /// group, or inside it once the child had ended); all were killed.
    pub(crate) leftovers: Vec<String>,
}

fn started() -> MutexGuard<'static, BTreeSet<u32>> {
    STARTED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `command` to completion or to its deadline. Errors are spawn failures
/// only; every way a started child can end is a [`ChildRun`].
pub(crate) fn run(command: &ChildCommand) -> io::Result<ChildRun> {
    let started_at = Instant::now();
    let mut child = spawn_group_leader(command, Stdio::null)?;
    let group = child.id();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = child.wait_timeout(command.timeout)?;
    let ending = match status {
        Some(status) => ending_of(status),
        None => {
            kill_group(group);
            let _ = child.kill();
            let _ = child.wait();
            Ending::TimedOut
        }
    };
    started().remove(&group);
    let leftovers = end_leftovers(Some(group));
    let deadline = Instant::now() + READER_GRACE;
    Ok(ChildRun {
        ending,
        stdout: collect(stdout, deadline),
        stderr: collect(stderr, deadline),
        elapsed: started_at.elapsed(),
        leftovers,
    })
}

/// Starts `command` as the leader of a new process group, with both output
/// streams piped, confined if it says so, and records it as started here (not
/// adopted).
fn spawn_group_leader(command: &ChildCommand, stdin: fn() -> Stdio) -> io::Result<Child> {
    let mut started = started();
    set_subreaper(true);
    let make = || {
        let mut built = Command::new(&command.program);
        built
            .args(&command.args)
            .stdin(stdin())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(environment) = &command.environment {
            built.env_clear().envs(environment.iter().cloned());
        }
        built
    };
    let child = match &command.sandbox {
        Some(sandbox) => sandbox.spawn(make)?,
        None => make().spawn()?,
    };
    started.insert(child.id());
    Ok(child)
}

/// Names the processes a finished check left running, then kills them: the
/// rest of `group` (the check's own process group, if it had one here) and
/// every process this subreaper adopted, so no process outlives the check and
/// no pipe stays open.
pub(crate) fn end_leftovers(group: Option<u32>) -> Vec<String> {
    let started = started();
    // Named before anything is killed: what is still running now was left behind.
    let running = adopted(&started)
        .into_iter()
        .filter(|process| process.state != 'Z')
        .map(|process| process.name)
        .collect();
    if let Some(group) = group {
        kill_group(group);
    }
    sweep_leftovers(&started);
    running
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
    stderr: Option<Drained>,
    started: Instant,
}

impl Session {
    pub(crate) fn start(command: &ChildCommand) -> io::Result<Session> {
        let started = Instant::now();
        let mut child = spawn_group_leader(command, Stdio::piped)?;
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take());
        let stderr = Some(drain(child.stderr.take()));
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
        let leftovers = self.stop();
        ChildRun {
            ending,
            stdout,
            stderr: self
                .stderr
                .take()
                .map(|drained| collect(drained, Instant::now() + READER_GRACE))
                .unwrap_or_default(),
            elapsed: self.started.elapsed(),
            leftovers,
        }
    }

    /// Kills the session's process group, reaps it, and ends what it left.
    fn stop(&mut self) -> Vec<String> {
        let group = self.child.id();
        kill_group(group);
        let _ = self.child.kill();
        let _ = self.child.wait();
        started().remove(&group);
        end_leftovers(None)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if started().contains(&self.child.id()) {
            self.stop();
        }
    }
}

/// Sends each stdout line (without its newline) to the receiver, cut at
/// [`LINE_LIMIT`]; the channel closes at end-of-file.
fn read_lines(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut stream) = stream {
        thread::spawn(move || {
            let mut line = Vec::new();
            let mut buffer = vec![0u8; 64 * 1024];
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

/// A reader thread's progress: what it has read so far, and a signal when done.
struct Drained {
    captured: Arc<Mutex<Captured>>,
    done: mpsc::Receiver<()>,
}

fn drain(stream: Option<impl Read + Send + 'static>) -> Drained {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let (sender, done) = mpsc::channel();
    if let Some(mut stream) = stream {
        let shared = Arc::clone(&captured);
        thread::spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => shared
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(&buffer[..n]),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = sender.send(());
        });
    }
    Drained { captured, done }
}

/// What a reader has read by `deadline`, or by end-of-file if that is sooner.
fn collect(drained: Drained, deadline: Instant) -> Captured {
    let _ = drained
        .done
        .recv_timeout(deadline.saturating_duration_since(Instant::now()));
    let mut captured = std::mem::take(
        &mut *drained
            .captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    captured.keep_last(CAPTURE_LIMIT);
    captured
}

/// A process as `/proc/<pid>/stat` describes it.
struct ProcessStat {
    pid: u32,
    name: String,
    state: char,
    parent: u32,
}

fn read_stat(pid: u32) -> Option<ProcessStat> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The name sits in parentheses and may be any 15 bytes: not UTF-8, ") ",
    // a newline. The fields after its last ")" are plain numbers and letters.
    let open = stat.iter().position(|&byte| byte == b'(')?;
    let close = stat.iter().rposition(|&byte| byte == b')')?;
    let mut rest = std::str::from_utf8(stat.get(close + 1..)?)
        .ok()?
        .split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    Some(ProcessStat {
        pid,
        name: process_name(stat.get(open + 1..close)?),
        state,
        parent,
    })
}

/// A process name as the report shows it: printable ASCII as is, any other
/// byte as `\xNN` (the probe names the leftovers of a forked check the same way).
fn process_name(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| match byte {
            b' '..=b'~' => char::from(byte).to_string(),
            _ => format!("\\x{byte:02x}"),
        })
        .collect()
}

/// The children of this process that it did not start itself.
fn adopted(started: &BTreeSet<u32>) -> Vec<ProcessStat> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !started.contains(pid))
        .filter_map(read_stat)
        .filter(|process| process.parent == me)
        .collect()
}

/// Kills and reaps every adopted process, and the processes they leave in turn.
fn sweep_leftovers(started: &BTreeSet<u32>) {
    for _ in 0..SWEEP_ROUNDS {
        let found = adopted(started);
        if found.is_empty() {
            return;
        }
        for process in &found {
            signal(process.pid, libc::SIGKILL);
        }
        for process in &found {
            reap(process.pid);
        }
    }
}

/// Waits a bounded time for a killed process to become reapable, then reaps it.
fn reap(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    for _ in 0..100 {
        // SAFETY: waitpid on a child pid with a null status pointer and WNOHANG
        // only reaps that child if it has ended; it never blocks.
        #[allow(unsafe_code)]
        let reaped = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if reaped != 0 {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: u32, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill takes plain integers and only sends a signal to a process
    // that is our own child (a zombie until we reap it, so the pid cannot be reused).
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Makes this process the reaper of its orphaned descendants, or stops it
/// (before `exec` hands the process to a server, which has not asked for it).
pub(crate) fn set_subreaper(on: bool) {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and changes only
    // which process inherits our orphans.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(
            libc::PR_SET_CHILD_SUBREAPER,
            libc::c_ulong::from(on),
            0,
            0,
            0,
        );
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
            sandbox: None,
            environment: None,
        })
        .expect("sh starts")
    }

    #[test]
    fn exit_code_and_both_streams_are_kept() {
        let run = sh("echo out; echo err >&2; exit 3", 5_000);
        assert_eq!(run.ending, Ending::Exited(3));
        assert_eq!(run.stdout.lossy(), "out\n");
        assert_eq!(run.stderr.lossy(), "err\n");
        assert!(run.leftovers.is_empty(), "{:?}", run.leftovers);
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
    fn a_daemon_left_behind_does_not_delay_a_finished_child_and_is_killed() {
        // The daemon may still be a forked `sh` that has not yet become `sleep`
        // when the child ends; what matters is that one process was left and killed.
        let run = sh("(sleep 30 &) ; echo done", 10_000);
        assert_eq!(run.ending, Ending::Exited(0));
        assert_eq!(run.stdout.lossy(), "done\n");
        assert_eq!(run.leftovers.len(), 1, "{:?}", run.leftovers);
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    }

    #[test]
    fn a_daemon_in_its_own_session_holding_the_pipes_is_killed_and_reaped() {
        // The daemon prints its pid, then holds stdout and stderr open.
        let run = sh(
            "setsid sh -c 'echo $$; exec sleep 30' & sleep 0.2; echo done",
            10_000,
        );
        assert_eq!(run.ending, Ending::Exited(0));
        let stdout = run.stdout.lossy();
        let pid = stdout.lines().next().expect("the daemon's pid");
        assert!(stdout.ends_with("done\n"), "{stdout}");
        assert_eq!(run.leftovers, ["sleep"]);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the daemon {pid} is still there"
        );
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    }

    #[test]
    fn a_daemon_with_any_name_is_found_killed_and_named_inertly() {
        // The name is not UTF-8 and holds ") " and a newline, as /proc shows it.
        let run = sh(
            "setsid sh -c 'printf \"\\377)\\n1 R\" > /proc/self/comm; echo $$; sleep 30' & sleep 0.3; echo done",
            10_000,
        );
        let stdout = run.stdout.lossy();
        let pid = stdout.lines().next().expect("the daemon's pid");
        assert_eq!(run.leftovers, ["\\xff)\\x0a1 R"]);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the daemon {pid} is still there"
        );
    }

    #[test]
    fn the_end_of_a_flood_is_kept_and_the_rest_counted() {
        let run = sh("head -c 20000000 /dev/zero; echo end", 20_000);
        assert_eq!(run.stdout.bytes.len(), CAPTURE_LIMIT);
        assert!(run.stdout.bytes.ends_with(b"\0end\n"));
        assert_eq!(run.stdout.dropped, 20_000_004 - CAPTURE_LIMIT as u64);
        assert_eq!(
            run.stdout.truncation_note().as_deref(),
            Some("[output truncated: 11611396 earlier bytes not kept]")
        );
    }

    #[test]
    fn stdin_is_closed() {
        let run = sh("cat; echo eof", 5_000);
        assert_eq!(run.stdout.lossy(), "eof\n");
    }
}
