"""In-interpreter half of `llama-stack preflight`.

The Rust driver runs this file as `python -B -P -c <this source> <mode> [request]`
and reads one JSON document from the last line of stdout. It never writes files.

Modes:
  provider REQUEST   import one provider the way the server does (llama-stack or ogx),
                     describe what get_provider_spec() returned, and import
                     what the server's start-up of it imports (see
                     follow_startup()). REQUEST is JSON:
                     {"provider_id", "api", "provider_type", "module"}.
  stack_config REQUEST
                     read run.yaml as the server's run command reads it before
                     any provider (PyYAML, its upgrade path, environment
                     substitution, StackConfig, the TLS files uvicorn loads,
                     external_providers_dir) and describe what it found.
                     REQUEST is JSON: {"run_yaml"}.
  serve OPTIONS      print the interpreter's facts at once, then the server's
                     API layout once its core is imported (two documents; see
                     serve()). With OPTIONS {"fork": true} and forking safe, it
                     then reads one line per check from stdin ({"id",
                     "timeout", "mode", "argument"}) and answers each from a
                     forked child, several at once, as if `mode argument` had
                     been run in a fresh interpreter.

The probe only gathers facts; every verdict is made by the driver. Known
failures are data ({"result": "error", "kind": ...}); a non-zero exit or a
missing document always means the probe itself could not report.
"""

import ast
import faulthandler
import functools
import importlib
import importlib.util
import json
import math
import os
import selectors
import signal
import sys
import time
import traceback
import types

# The server distributions preflight knows, in the order they are looked for:
# the distribution, its core package and its API package. llama-stack went on
# as ogx (1.0 onward) under these new names; everything else about either is
# read from the installed code.
FLAVOURS = (
    ("llama-stack", "llama_stack", "llama_stack_api"),
    ("ogx", "ogx", "ogx_api"),
)

# The spec fields the driver validates or shows, first in this order, then any
# other field the spec's class declares; absent attributes are left out.
SPEC_FIELDS = (
    "api",
    "provider_type",
    "config_class",
    "module",
    "adapter_type",
    "pip_packages",
    "api_dependencies",
    "optional_api_dependencies",
    "deprecation_warning",
    "deprecation_error",
    "provider_data_validator",
    "description",
    "toolgroup_id",
)
TEXT_LIMIT = 4000
# What is kept of each output stream of a forked check, as the driver keeps of a process.
CAPTURE_LIMIT = 8 * 1024 * 1024

# Audit events that change files, reach the network or start programs.
WRITE_EVENTS = {
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.utime",
    "shutil.rmtree",
    "shutil.move",
    "shutil.copyfile",
    "os.setxattr",
    "os.removexattr",
}
NETWORK_EVENTS = {
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
}
PROGRAM_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Devices that may be opened for writing: what goes there is thrown away or
# shown, never stored (the kernel layer allows the same ones).
WRITABLE_DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty"}
# SQLite's authorizer code for ATTACH, which VACUUM INTO also goes through.
SQLITE_ATTACH = 24
# prctl(2): make this process the reaper of its orphaned descendants.
PR_SET_CHILD_SUBREAPER = 36


STDLIB = os.path.dirname(os.__file__) + os.sep

# Taken before any provider code runs: a provider may replace json.dumps or
# os.write at import (some patch json for speed), and its own result must
# still reach the driver intact.
ENCODE_RESULT = json.JSONEncoder(ensure_ascii=True).encode
WRITE = os.write
EXIT = os._exit


def started_by_stdlib():
    """Whether the code starting a program is the standard library's own
    system probing (platform.uname() runs `uname -p`, ctypes.util runs ldconfig)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.endswith(("subprocess.py", "os.py")):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(STDLIB)


class Sandbox:
    """Denies writes and network access from here on, and records every attempt.

    An audit hook cannot be removed, and it sees what provider code does
    through Python; the few writes Python raises no event for (os.mkfifo,
    os.mknod, SQLite's ATTACH and VACUUM INTO) are caught here too. C code
    calling libc, programs and child interpreters are out of its reach: the
    kernel layer the driver starts the interpreter in covers those. A denied
    operation raises PermissionError inside the provider; the attempt is
    reported whether or not the provider catches that.
    """

    def __init__(self, allow_writes):
        self.allow_writes = allow_writes
        self.denied = []
        self.programs = []
        # tempfile.gettempdir() finds its directory by writing a probe file into
        # each candidate; libraries call it at import (ragas does). Naming the
        # directory up front gives the same answer without writing anything.
        import tempfile

        tempfile.tempdir = next((os.environ[v] for v in ("TMPDIR", "TEMP", "TMP") if os.environ.get(v)), "/tmp")
        if not allow_writes:
            self.cover_unaudited_writes()
        sys.addaudithook(self.hook)

    def cover_unaudited_writes(self):
        """os.mkfifo and os.mknod raise no audit event, nor do SQL statements
        that write files (ATTACH, VACUUM INTO) on an allowed in-memory
        database: replace the functions, and give every connection an
        authorizer. The warm parent has imported sqlite3 already."""
        import posix

        for name in ("mkfifo", "mknod"):
            setattr(posix, name, self.refuse(name))
            setattr(os, name, getattr(posix, name))
        try:
            import sqlite3
        except ImportError:  # a Python built without SQLite: nothing to cover
            return
        connect = sqlite3.connect

        def authorized_connect(*args, **kwargs):
            connection = connect(*args, **kwargs)
            connection.set_authorizer(self.sqlite_authorizer)
            return connection

        for module in (sqlite3, sqlite3.dbapi2, sys.modules["_sqlite3"]):
            module.connect = authorized_connect

    def refuse(self, name):
        def refused(path, *args, **kwargs):
            self.deny("os." + name, path)

        refused.__name__ = name
        return refused

    def hook(self, event, args):
        if event == "open":
            path, flags = args[0], args[2]
            if isinstance(path, int) or not isinstance(flags, int) or not flags & WRITE_FLAGS:
                return
            if self.allow_writes or stores_nothing(path):
                return
            self.deny("write", path)
        elif event in WRITE_EVENTS and not self.allow_writes:
            self.deny(event, args[0] if args else "")
        elif event == "socket.bind" and not self.allow_writes and len(args) > 1 and names_a_file(args[1]):
            self.deny("socket.bind", args[1])
        elif event == "sqlite3.connect" and not self.allow_writes and args and args[0] != ":memory:":
            # Connecting creates the database file when it does not exist.
            self.deny(event, args[0])
        elif event in NETWORK_EVENTS:
            target = args[1] if event in ("socket.connect", "socket.sendto") and len(args) > 1 else args[0]
            self.deny(event, target)
        elif event in PROGRAM_EVENTS and len(self.programs) < 20 and not started_by_stdlib():
            self.programs.append({"operation": event, "target": safe_text(args[0] if args else "")})

    def sqlite_authorizer(self, action, name, *_):
        """ATTACH and VACUUM INTO write the database file they name."""
        if action == SQLITE_ATTACH and name not in ("", ":memory:"):
            self.record("sqlite3 ATTACH or VACUUM INTO", name)
            return 1  # SQLITE_DENY: the statement fails with "not authorized"
        return 0

    def record(self, operation, target):
        if len(self.denied) < 20:
            self.denied.append({"operation": operation, "target": safe_text(target)})

    def deny(self, operation, target):
        self.record(operation, target)
        raise PermissionError(f"llama-stack preflight denied {operation} {target!r}: it never writes or connects")

    def report(self, changed):
        return {"denied": self.denied, "programs": self.programs, "changed": changed}


# The sandbox of this process, once a check has installed it (one per process).
SANDBOX = None


def stores_nothing(path):
    """Whether opening `path` for writing stores nothing: one of the writable
    devices, or a pipe or socket the process already holds (/dev/stdout).
    The path is resolved first: /dev/../home/x and /dev/shm/x are files."""
    try:
        resolved = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError, OSError):
        return False
    folder, _, name = resolved.rpartition("/")
    held = folder.startswith("/proc/") and folder.endswith("/fd") and name.startswith(("pipe:[", "socket:["))
    return resolved in WRITABLE_DEVICES or held


def names_a_file(address):
    """Whether a socket address is a path, which binding creates as a file
    (abstract unix addresses start with a NUL byte and create nothing)."""
    return isinstance(address, (str, bytes)) and len(address) > 0 and address[:1] not in ("\0", b"\0")


def process_state():
    """What provider code may change that would alter how the server loads
    everything after it: the working directory and the import path."""
    try:
        cwd = os.getcwd()
    except OSError as exc:  # the directory was removed
        cwd = f"<unavailable: {exc}>"
    return cwd, list(sys.path)


def state_changes(before, after):
    (cwd_before, path_before), (cwd_after, path_after) = before, after
    changes = []
    if cwd_after != cwd_before:
        changes.append({"operation": "os.chdir", "target": safe_text(cwd_after)})
    changes += [{"operation": "sys.path gained", "target": safe_text(p)} for p in path_after if p not in path_before]
    changes += [{"operation": "sys.path lost", "target": safe_text(p)} for p in path_before if p not in path_after]
    return changes[:20]


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    argument = sys.argv[2] if len(sys.argv) > 2 else ""
    if mode == "serve":
        serve(argument)
    answer(mode, argument, take_stdout())


def take_stdout():
    """Keeps the real stdout for results and sends everything else to stderr:
    provider code may print, or write to fd 1 from C."""
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    return result_fd


def answer(mode, argument, result_fd):
    # A crash or a hang in provider code then leaves its Python stack on stderr.
    faulthandler.enable()
    check = CHECKS.get(mode)
    request = json.loads(argument) if check and argument else {}
    adopt_orphans()
    global SANDBOX
    SANDBOX = sandbox = Sandbox(allow_writes=request.get("allow_writes", False))
    before = process_state()
    try:
        if request:
            faulthandler.dump_traceback_later(request["dump_stack_after"], exit=False)
            document = check(request)
        else:
            document = {"result": "error", "kind": "bad_request", "message": safe_text([mode, argument])}
    except BaseException as exc:  # noqa: BLE001 - report anything, even SystemExit
        document = {"result": "error", "kind": "probe_failed", "exception": describe_exception(exc)}
    changed = state_changes(before, process_state()) if request else []
    document["sandbox"] = sandbox.report(changed)
    # What left this process's group is named here; the group is the
    # supervisor's (the driver's, or the warm parent's) to name and kill.
    group = os.getpgid(0)
    document["escaped"] = end_children(lambda process: process[3] == group)
    emit(result_fd, document)
    # Skip atexit handlers and the join of non-daemon threads that provider
    # code may have started: either could keep the process alive.
    EXIT(0)


def serve(argument):
    """First the facts that need no llama-stack import: the interpreter, and
    whether the package of each `module:` provider is on the path at all.
    Then nothing until the driver, having judged what needs no import, says
    to go on (a line on stdin); it ends the run instead (end of file) when it
    found a fault that is certain without llama-stack, which is then never
    imported. Then the API layout, or why llama-stack's own import failed.
    With forking allowed and safe, the rest is checks (see supervise()):
    each from a fork of this process, which has imported what they all share."""
    options = json.loads(argument) if argument else {}
    control = take_stdout()
    faulthandler.enable()
    document = interpreter_facts()
    document["externals_found"] = [package_found(module) for module in options.get("externals", [])]
    emit(control, document)
    if not sys.stdin.buffer.readline():
        EXIT(0)
    layout = llama_stack_layout(document["llama_stack"])
    if options.get("fork") and layout["result"] == "ok":
        layout["isolation"] = warm_up(layout["layout"])
    emit(control, layout)
    if layout.get("isolation", {}).get("mode") != "fork":
        EXIT(0)
    supervise(control)
    EXIT(0)


def package_found(module):
    """Whether the top-level package of a `module:` value is on the path, asked
    of the import system's finders so that no code of the package runs; None
    when they cannot say."""
    try:
        return importlib.util.find_spec(import_name(module).partition(".")[0]) is not None
    except BaseException:  # noqa: BLE001 - a bad name or a failing finder
        return None


def warm_up(layout):
    """Imports what the server imports before any provider (every in-tree
    registry), then says whether forking this process is safe."""
    if not hasattr(os, "fork") or not hasattr(os, "waitid"):
        return {"mode": "spawn", "reason": "this platform cannot fork and wait the way the probe needs"}
    for api in (layout or {}).get("providable_apis", []):
        try:
            importlib.import_module(registry_module(api))
        except BaseException:  # noqa: BLE001 - the child that needs it meets the same failure
            pass
    # The sandbox of every check wraps sqlite3.connect, and every check
    # adopts its orphans through ctypes; importing them once here spares
    # each check the imports.
    for module in ("sqlite3", "ctypes"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        threads = threading.active_count()
    if threads > 1:
        return {"mode": "spawn", "reason": f"{threads} threads run after the shared imports; a fork would copy their locks"}
    return {"mode": "fork", "reason": None}


def supervise(control):
    """Runs checks in forked children, as many at once as the driver sends:
    each line on stdin ({"id", "timeout", "mode", "argument"}) starts one at
    once, and each is answered when it ends as a process run (see
    ForkedCheck), every event naming the check's id. End of input means the
    driver wants no more answers: what still runs is killed. This process
    adopts what a check's child leaves behind when it dies, so that each
    leftover is named on the check it came from, not on one running beside it."""
    adopt_orphans()
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    running, pending = [], b""
    while True:
        for key, _ in selector.select(timeout=0.01 if running else None):
            if key.data is not None:
                key.data.read(key.fd)
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                for check in running:
                    check.kill()
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for request in map(json.loads, filter(None, lines)):
                try:
                    running.append(start_check(request, control, selector, running))
                except OSError as exc:  # no process or pipe left for the check
                    ended = {"event": "ended", "id": request["id"], "ending": "not_started"}
                    emit(control, {**ended, "message": safe_text(str(exc))})
        for check in [check for check in running if check.finished(running)]:
            running.remove(check)
            emit(control, check.answer())


def start_check(request, control, selector, others):
    """Forks the child that answers `request` and leads its own process
    group, and returns the check that supervises it."""
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            theirs = [fd for other in others for fd in other.streams]
            for fd in (null, output_w, output_r, result_r, control, *theirs):
                os.close(fd)
            answer(request["mode"], request["argument"], result_w)
        finally:
            EXIT(70)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first, or has already exited
    emit(control, {"event": "started", "id": request["id"], "pid": pid})
    os.close(result_w)
    os.close(output_w)
    return ForkedCheck(request, pid, {result_r: "stdout", output_r: "stderr"}, selector)


class ForkedCheck:
    """One check's child, supervised: its process group is killed when the
    child ends or at the deadline, so nothing it started outlives the check,
    and its output is kept as the driver keeps a process's (the end of each
    stream, and how much was dropped)."""

    def __init__(self, request, pid, names, selector):
        self.id, self.pid, self.names, self.selector = request["id"], pid, names, selector
        self.streams = {fd: bytearray() for fd in names}
        self.dropped = {fd: 0 for fd in names}
        self.open = set(names)
        for fd in names:
            selector.register(fd, selectors.EVENT_READ, self)
        self.deadline = time.monotonic() + request["timeout"]
        self.ending, self.drain_until, self.leftovers = None, 0.0, []

    def read(self, fd):
        chunk = os.read(fd, 65536)
        if not chunk:
            self.selector.unregister(fd)
            self.open.discard(fd)
            return
        # Keep the end, as the driver does: that is where the fault shows.
        self.streams[fd] += chunk
        if len(self.streams[fd]) > 2 * CAPTURE_LIMIT:
            self.dropped[fd] += len(self.streams[fd]) - CAPTURE_LIMIT
            del self.streams[fd][:-CAPTURE_LIMIT]

    def finished(self, running):
        """Whether the check is over: its child ended (or ran out of time) and
        its output was read to the end, or for half a second after."""
        if self.ending is None:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if exited is None and time.monotonic() < self.deadline:
                return False
            self.leftovers = group_members(self.pid) if exited is not None else []
            status = self.kill()
            # What the child's death handed to this process came from it alone:
            # every other running check's child still adopts its own.
            checks = {check.pid for check in running}
            self.leftovers += end_children(lambda process: process[0] in checks, unnamed_group=self.pid)
            self.ending = {"ending": "timed_out"} if exited is None else process_ending(status)
            self.drain_until = time.monotonic() + 0.5
        return not self.open or time.monotonic() >= self.drain_until

    def kill(self):
        """Kills the group before reaping its leader, while its id cannot be reused."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return os.waitpid(self.pid, 0)[1]

    def answer(self):
        captured = {}
        for fd, name in self.names.items():
            if fd in self.open:
                self.selector.unregister(fd)
            os.close(fd)
            excess = max(0, len(self.streams[fd]) - CAPTURE_LIMIT)
            captured[name] = self.streams[fd][excess:].decode("utf-8", "replace")
            captured[name + "_dropped"] = self.dropped[fd] + excess
        return {"event": "ended", "id": self.id, **self.ending, **captured, "leftovers": self.leftovers}


def adopt_orphans():
    """Makes this process the reaper of the orphans among its descendants (a
    daemon that left in its own session), so that they stay within reach
    and end_children() can name them; where the system cannot, they go to
    the driver, which reaps them the same way."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except BaseException:  # noqa: BLE001 - no C library to call: the driver's sweep remains
        pass


def end_children(leave, unnamed_group=None):
    """Kills and reaps this process's children but those `leave` picks, and
    the processes they leave in turn (adopted, see adopt_orphans()); returns
    the names of those that were still running, but for the members of
    `unnamed_group`, which its leader's supervisor has named already."""
    me, names = os.getpid(), []
    for _ in range(20):
        found = [process for process in process_table() if process[2] == me and not leave(process)]
        if not found:
            break
        for pid, name, _, group, state in found:
            if state != "Z" and group != unnamed_group:
                names.append(name)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid, *_ in found:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return names


def group_members(group):
    """Names of the processes still running in `group`, its leader aside:
    what a check left behind when it ended."""
    return [name for pid, name, _, member_of, state in process_table() if member_of == group and pid != group and state != "Z"]


def process_table():
    """(pid, name, parent pid, process group, state) of every process, read
    by number: a process name is any 15 bytes (not UTF-8, with parentheses
    or newlines), so the fields are read after its last ")" and the name is
    shown escaped."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        name, fields = stat[stat.find(b"(") + 1 : stat.rfind(b")")], stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2:
            shown = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in name)
            yield int(entry), shown, int(fields[1]), int(fields[2]), fields[0].decode("ascii", "replace")


def process_ending(status):
    code = os.waitstatus_to_exitcode(status)
    return {"ending": "signalled", "signal": -code} if code < 0 else {"ending": "exited", "code": code}


def emit(fd, document):
    data = b"\n" + ENCODE_RESULT(jsonable(document)).encode("ascii") + b"\n"
    while data:
        data = data[WRITE(fd, data) :]


def jsonable(value, depth=0):
    """`value` with what strict JSON cannot carry replaced by text: NaN and
    infinities (a config default can be one), integers beyond 64 bits (Python
    refuses to print very long ones), non-text keys and runaway nesting."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else f"<int of {value.bit_length()} bits>"
    if depth > 64:
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(key): jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item, depth + 1) for item in value]
    return safe_text(value)


def safe_text(value):
    """Text that survives JSON and UTF-8, whatever the object does."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except BaseException as exc:  # noqa: BLE001 - a hostile __repr__
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + "...[truncated]"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_machinery(frame):
    """Frames of this probe and of importlib, which only hide the provider's own."""
    name = frame.filename
    return name == "<string>" or name.startswith("<frozen importlib") or name.endswith("importlib/__init__.py")


def provider_frames_only(summary, seen):
    if summary is None or id(summary) in seen:
        return
    seen.add(id(summary))
    summary.stack = traceback.StackSummary.from_list([f for f in summary.stack if not is_machinery(f)])
    provider_frames_only(summary.__cause__, seen)
    provider_frames_only(summary.__context__, seen)


def describe_exception(exc):
    try:
        summary = traceback.TracebackException.from_exception(exc)
        provider_frames_only(summary, set())
        tb = "".join(summary.format())
        frames = [{"file": safe_text(f.filename), "line": f.lineno, "code": safe_text((f.line or "").strip())} for f in summary.stack]
    except BaseException:  # noqa: BLE001
        tb, frames = "", []
    root = exc
    seen = set()
    while id(root) not in seen:
        seen.add(id(root))
        nxt = root.__cause__ or root.__context__
        if nxt is None:
            break
        root = nxt
    return {
        "type": qualified_type(exc),
        "message": safe_text(str_or_repr(exc)),
        "missing_module": module_not_found_name(exc),
        "root_type": qualified_type(root),
        "root_message": safe_text(str_or_repr(root)),
        "root_missing_module": module_not_found_name(root),
        "root_path": loaded_file(root),
        "traceback": safe_text(tb[-TEXT_LIMIT * 4 :]) if len(tb) > TEXT_LIMIT * 4 else safe_text(tb),
        # Where the exception itself went through, outermost first: for a
        # failed import, the chain of import statements.
        "frames": frames[-30:],
    }


def loaded_file(exc):
    """The file an ImportError was loading (an extension module whose own
    libraries failed to load), if it says."""
    try:
        path = exc.path if isinstance(exc, ImportError) else None
        return safe_text(path) if isinstance(path, str) else None
    except BaseException:  # noqa: BLE001 - a hostile property
        return None


def str_or_repr(exc):
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001
        return f"<{type(exc).__name__}>"


def qualified_type(exc):
    kind = type(exc)
    module = getattr(kind, "__module__", "")
    return kind.__qualname__ if module in ("builtins", "") else f"{module}.{kind.__qualname__}"


def module_not_found_name(exc):
    if isinstance(exc, ModuleNotFoundError) and isinstance(exc.name, str):
        return safe_text(exc.name)
    return None


def encode(value, depth=0):
    """JSON form of a spec attribute: enums by value, unknown objects and
    text that is not UTF-8 described."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return {"$type": "non-UTF-8 text", "$repr": safe_text(value)}
        return safe_text(value)
    enum_value = getattr(value, "value", None) if hasattr(type(value), "__members__") else None
    if isinstance(enum_value, str):
        return safe_text(enum_value)
    if isinstance(value, (list, tuple)) and depth < 3:
        return [encode(item, depth + 1) for item in value[:200]]
    return {"$type": type(value).__name__, "$repr": safe_text(value)}


def describe_spec(spec):
    fields = {}
    for name in SPEC_FIELDS + declared_fields(spec):
        try:
            if not hasattr(spec, name):
                continue
            fields[name] = encode(getattr(spec, name))
        except BaseException as exc:  # noqa: BLE001 - hostile property
            fields[name] = {"$type": "error", "$repr": safe_text(f"{type(exc).__name__}: {exc}")}
    return {
        "class": type(spec).__name__,
        "class_module": safe_text(getattr(type(spec), "__module__", "")),
        "provider_spec": is_spec_class(spec, "ProviderSpec"),
        "remote": is_remote_spec(spec),
        "fields": fields,
    }


def declared_fields(spec):
    """The fields the spec's pydantic class declares beyond SPEC_FIELDS (a
    release adds some, as ogx added execution_mode), internal ones aside."""
    try:
        names = list(getattr(type(spec), "model_fields", None) or {})
    except BaseException:  # noqa: BLE001 - a hostile class
        return ()
    return tuple(n for n in names if isinstance(n, str) and n not in SPEC_FIELDS and not n.endswith("__"))


@functools.cache
def installed_server():
    """The installed server distribution and its package names, or None."""
    import importlib.metadata

    for distribution, core, api in FLAVOURS:
        try:
            metadata = importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
        return {
            "distribution": distribution,
            "version": metadata.version,
            "core_package": core,
            "api_package": api_package(core, api),
            "command": server_command(metadata, core),
        }
    return None


def api_package(core, api):
    """Where the installed release keeps ProviderSpec and Api (contract §0):
    its API package, or inside the core package before llama-stack 0.4."""
    for name in (api, core + ".providers.datatypes"):
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except ImportError:
            pass
    return None


def server_command(metadata, core):
    """The command that starts the server, from the distribution's own console
    script (`llama`, `ogx`) and the CLI's layout: `<script> run` where the CLI
    has a top-level run command (ogx), else `<script> stack run`. Nothing of
    the CLI is imported (ogx's CLI moves ~/.llama to ~/.ogx when it starts)."""
    scripts = [
        entry.name
        for entry in metadata.entry_points
        if entry.group == "console_scripts" and entry.value.startswith(core + ".cli.") and entry.attr == "main"
    ]
    if not scripts:
        return None
    found = importlib.util.find_spec(core)
    locations = list(found.submodule_search_locations or []) if found else []
    top_level_run = any(os.path.isfile(os.path.join(location, "cli", "run.py")) for location in locations)
    return f"{scripts[0]} run" if top_level_run else f"{scripts[0]} stack run"


def core_package():
    """The package whose core the server runs (`<core>.core.*`)."""
    return installed_server()["core_package"]


def registry_module(api):
    return f"{core_package()}.providers.registry.{api}"


def is_spec_class(spec, name):
    """Whether `spec` is an instance of the installed server's class `name`
    (imported from its API package as the server imports it); None when that
    class cannot be found."""
    try:
        home = importlib.import_module(installed_server()["api_package"])
    except BaseException:  # noqa: BLE001 - no server, or a broken one
        return None
    wanted = getattr(home, name, None)
    return isinstance(spec, wanted) if isinstance(wanted, type) else None


def is_remote_spec(spec):
    # The server picks get_adapter_impl by class, not by the remote:: prefix.
    remote = is_spec_class(spec, "RemoteProviderSpec")
    return type(spec).__name__ == "RemoteProviderSpec" if remote is None else remote


def interpreter_facts():
    import importlib.machinery
    import platform
    import sysconfig

    return {
        "result": "ok",
        "python": {
            "version": platform.python_version(),
            "implementation": sys.implementation.name,
            "executable": safe_text(sys.executable),
            "platform": sys.platform,
            "machine": platform.machine(),
            "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
            # The suffixes the importer looks for, in its order: a native file
            # with another suffix is invisible to it.
            "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
            "glibc": glibc_version(),
            "sys_path": [safe_text(p) for p in sys.path],
        },
        "llama_stack": installed_server(),
    }


def llama_stack_layout(stack):
    """The sections the server's own code allows, or why importing its core
    failed; no layout for a release without a separate API package (before
    llama-stack 0.4), whose code preflight does not read."""
    if not (stack and stack["api_package"] and "." not in stack["api_package"]):
        return {"result": "ok", "layout": None}
    try:
        return {"result": "ok", "layout": api_layout(stack["core_package"])}
    except BaseException as exc:  # noqa: BLE001
        return {
            "result": "error",
            "kind": "llama_stack_import_failed",
            "distribution": stack["distribution"],
            "version": stack["version"],
            "exception": describe_exception(exc),
        }


def glibc_version():
    """The C library's version ("2.36"), None on musl and other libcs."""
    try:
        name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
    except (AttributeError, ValueError, OSError):
        return None
    return version if name == "glibc" else None


def api_layout(core):
    # The server's command imports core.stack before it reads run.yaml, so
    # dependency drift (say mcp 2.x under llama-stack 0.6) breaks it here.
    importlib.import_module(core + ".core.stack")

    # The server's own functions decide which sections may hold providers.
    distribution = importlib.import_module(core + ".core.distribution")
    datatypes = importlib.import_module(core + ".core.datatypes")
    config_dirs = importlib.import_module(core + ".core.utils.config_dirs")
    routed = distribution.builtin_automatically_routed_apis()
    server_config = getattr(datatypes, "ServerConfig", None)
    return {
        "apis": [api.value for api in distribution.Api],
        "providable_apis": [api.value for api in distribution.providable_apis()],
        "routing_tables": {info.routing_table_api.value: info.router_api.value for info in routed},
        # The variable that moves the server's state directory is the name of
        # the constant holding it (LLAMA_STACK_CONFIG_DIR, OGX_CONFIG_DIR).
        "config_dir_variable": next(
            (name for name in vars(config_dirs) if name.endswith("_CONFIG_DIR") and not name.startswith("_")), None
        ),
        # ogx 1.2 added server.insecure, the switch for what its `ogx run`
        # enforces: TLS certificates, or an explicit opt-out.
        "server_settings": sorted(getattr(server_config, "model_fields", None) or {}),
        # ogx 1.5 made `apis:` optional (None, not []) when it made the list
        # gate only which routes are served: an entry nothing provides is
        # then skipped with a warning instead of stopping the server.
        "apis_optional": getattr(datatypes.StackConfig.model_fields.get("apis"), "default", []) is None,
    }


def check_provider(request):
    if request.get("module"):
        return check_external(request)
    return check_in_tree(request)


def failure(kind, **fields):
    return {"result": "error", "kind": kind, **fields}


def import_name(module):
    """Exactly the server's reading of a `module:` value (core/distribution.py)."""
    return module.split("==")[0]


def check_external(request):
    target = import_name(request["module"]) + ".provider"
    try:
        module = importlib.import_module(target)
    except BaseException as exc:  # noqa: BLE001
        return failure("import_failed", target=target, exception=describe_exception(exc))
    try:
        get_spec = module.get_provider_spec
    except BaseException as exc:  # noqa: BLE001
        return failure("get_provider_spec_missing", target=target, exception=describe_exception(exc))
    try:
        returned = get_spec()
    except BaseException as exc:  # noqa: BLE001
        return failure("get_provider_spec_raised", target=target, exception=describe_exception(exc))
    try:
        return describe_returned(request, target, returned)
    except BaseException as exc:  # noqa: BLE001 - a hostile object's __class__, __eq__ or property
        return failure("spec_unreadable", target=target, exception=describe_exception(exc))


def describe_returned(request, target, returned):
    document = {"result": "ok", "source": "external", "target": target}
    if isinstance(returned, list):
        offered = [encode(getattr(item, "provider_type", None)) for item in returned]
        matches = [item for item in returned if getattr(item, "provider_type", None) == request["provider_type"]]
        document["returned"] = {"kind": "list", "offered": offered}
        spec = matches[-1] if matches else None
    else:
        document["returned"] = {"kind": "value", "python_type": type(returned).__name__}
        spec = returned
    if spec is None or isinstance(spec, (dict, str, int, float, bool, list, tuple)):
        document["spec"] = None
        return document
    return follow_spec(document, spec, request)


def check_in_tree(request):
    if request.get("spec_file"):
        try:
            distribution = importlib.import_module(core_package() + ".core.distribution")
            kind, _, name = request["provider_type"].partition("::")
            spec = load_spec(distribution, request["spec_file"], distribution.Api(request["api"]), kind, name)
        except BaseException as exc:  # noqa: BLE001
            return failure("spec_file_failed", target=request["spec_file"], exception=describe_exception(exc))
        document = {"result": "ok", "source": "external_dir", "target": request["spec_file"], "returned": {"kind": "value"}}
        return follow_spec(document, spec, request)
    registry = registry_module(request["api"])
    try:
        providers = importlib.import_module(registry).available_providers()
    except BaseException as exc:  # noqa: BLE001
        return failure("registry_failed", target=registry, exception=describe_exception(exc))
    specs = {spec.provider_type: spec for spec in providers}
    spec = specs.get(request["provider_type"])
    if spec is None:
        return failure("unknown_provider_type", target=registry, offered=sorted(specs))
    document = {"result": "ok", "source": "in_tree", "target": registry, "returned": {"kind": "value"}}
    return follow_spec(document, spec, request)


def follow_spec(document, spec, request):
    """Do what the server does with a spec before it runs provider code, and
    build its config the way the server does when it creates the provider."""
    described = describe_spec(spec)
    document["spec"] = described
    if request.get("registry_only"):
        # A disabled or shadowed entry: the server files its spec but never
        # instantiates it.
        return document
    config = request.get("config")
    fields = described["fields"]
    module_name = fields.get("module")
    entry = "get_adapter_impl" if described["remote"] else "get_provider_impl"
    if isinstance(module_name, str) and module_name:
        document["implementation"] = import_step(lambda: check_entry_point(module_name, entry))
    config_class = fields.get("config_class")
    if isinstance(config_class, str) and config_class:
        document["config"] = import_step(lambda: config_schema(config_class))
        if config is not None:
            strict = request.get("check_config", True)
            document["config_check"] = import_step(lambda: build_config(config_class, config, strict))
    if document.get("implementation", {}).get("has_entry_point"):
        document["startup"] = startup_step(module_name, entry, fields.get("pip_packages"))
    return document


def build_config(qualified_name, config, strict):
    """`ConfigClass(**config)` as in instantiate_provider: keyword construction,
    so a dataclass rejects unknown keys while pydantic ignores them (they are
    listed). The built config names the stores the provider opens when it
    starts. Not `strict` (without --check-config), building is only a way to
    find those: a refusal is not reported, and a write or connection a
    validator attempts is not an import-time fault."""
    module_name, class_name = qualified_name.rsplit(".", 1)
    config_class = getattr(importlib.import_module(module_name), class_name)
    checked = {"valid": None, "errors": [], "ignored": ignored_keys(config_class, config), "references": []}
    denied = len(SANDBOX.denied) if SANDBOX else 0
    try:
        built = config_class(**config)
    except Exception as exc:  # noqa: BLE001 - any refusal is the finding
        built = None
        if strict:
            checked.update(valid=False, errors=refusals(exc))
    else:
        checked["valid"] = True if strict else None
    if not strict and SANDBOX and len(SANDBOX.denied) > denied:
        del SANDBOX.denied[denied:]
        return checked
    if built is not None:
        checked["references"] = store_references(built)
    return checked


def refusals(exc):
    """Pydantic's errors, each with its place (list indices stay numbers), or
    the exception as one refusal without a place."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return [
                {"loc": [part if isinstance(part, int) else safe_text(part) for part in e["loc"]], "msg": safe_text(e["msg"])}
                for e in errors()
            ]
        except Exception:  # noqa: BLE001 - not pydantic's errors() after all
            pass
    return [{"loc": [], "msg": safe_text(f"{type(exc).__name__}: {exc}")}]


def ignored_keys(config_class, config):
    """The keys of `config` that a pydantic config class drops without a word
    (extra="ignore", pydantic's default), with the keys it reads, aliases
    included as pydantic applies them, and the alias of each field read only
    by its alias; None for a class that keeps or refuses unknown keys, or is
    not a pydantic model."""
    fields = getattr(config_class, "model_fields", None)
    settings = getattr(config_class, "model_config", None)
    if not isinstance(fields, dict) or not isinstance(settings, dict) or settings.get("extra") in ("allow", "forbid"):
        return None
    by_name = settings.get("validate_by_name") or settings.get("populate_by_name")
    by_alias = settings.get("validate_by_alias", True)
    accepted, renamed = [], {}
    for name, field in fields.items():
        alias = field.validation_alias if field.validation_alias is not None else field.alias
        keys = list(alias_keys(alias)) if alias is not None and by_alias else []
        if alias is None or by_name:
            accepted.append(name)
        elif keys:
            renamed[name] = keys[0]
        accepted.extend(keys)
    ignored = [safe_text(key) for key in config if key not in accepted]
    return {"keys": ignored, "accepted": accepted, "renamed": renamed}


def alias_keys(alias):
    """The top-level keys an alias reads: a name, the first step of an
    AliasPath, or those of each AliasChoices choice."""
    choices = getattr(alias, "choices", None)
    for choice in choices if choices is not None else [alias]:
        path = getattr(choice, "path", None)
        first = path[0] if path else choice
        if isinstance(first, str):
            yield first


def store_references(config):
    """Every KV and SQL store reference in a built config, with its place: the
    provider opens each when it starts, and the server knows only the
    backends storage.backends defines."""
    storage = importlib.import_module(core_package() + ".core.storage.datatypes")
    found = []

    def walk(value, loc, depth):
        if isinstance(value, (storage.KVStoreReference, storage.SqlStoreReference)):
            kind = "kv" if isinstance(value, storage.KVStoreReference) else "sql"
            found.append({"loc": loc, "backend": safe_text(value.backend), "kind": kind})
        elif depth < 8 and hasattr(type(value), "model_fields"):
            for name in type(value).model_fields:
                walk(getattr(value, name, None), [*loc, name], depth + 1)
        elif depth < 8 and isinstance(value, dict):
            for key, item in value.items():
                walk(item, [*loc, safe_text(key)], depth + 1)
        elif depth < 8 and isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, [*loc, index], depth + 1)

    walk(config, [], 0)
    return found[:50]


def import_step(step):
    try:
        return {"ok": True, **step()}
    except BaseException as exc:  # noqa: BLE001
        return {"ok": False, "exception": describe_exception(exc)}


def check_entry_point(module_name, entry):
    module = importlib.import_module(module_name)
    return {"module": module_name, "entry_point": entry, "has_entry_point": callable(getattr(module, entry, None))}


# Exceptions whose handler makes an import inside its `try` optional.
IMPORT_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
# What creating an instance runs, in order; `initialize` only when the entry
# point calls it.
CONSTRUCTION = ("__init__", "__post_init__", "model_post_init")
TRY_STATEMENTS = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
CONDITIONAL_STATEMENTS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Match, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_SCANNED_FILES = 300


class StartupImportFailed(Exception):
    """An import statement of the start-up path raised `cause`."""

    def __init__(self, cause):
        super().__init__()
        self.cause = cause


def startup_step(module_name, entry, pip_packages):
    """The imports the server's start-up of the provider runs after it has
    imported the spec's module, run here: on failure, which step met it.
    Anything else going wrong only means the path cannot be followed further:
    the server is not worse off for it, so neither is the verdict. The later
    imports are looked for only when a declared package is not installed,
    the only case the driver asks about them."""
    where = {}
    try:
        scanned = follow_startup(module_name, entry, where)
    except StartupImportFailed as failed:
        return {"ok": False, "step": where.get("step"), "exception": describe_exception(failed.cause)}
    except Exception:  # noqa: BLE001 - preflight's own reading of provider code
        scanned = set()
    try:
        deferred = missing_deferred_imports(module_name, scanned) if declares_absent(pip_packages) else []
    except Exception:  # noqa: BLE001
        deferred = []
    return {"ok": True, "deferred": deferred}


def declares_absent(pip_packages):
    """Whether a distribution `pip_packages` names is not installed, by its
    name alone (the driver judges versions and markers). A word that is not a
    name (a version, an option's value) only errs towards looking."""
    import importlib.metadata

    for entry in pip_packages if isinstance(pip_packages, list) else []:
        for word in str(entry).split():
            name = word.split("[")[0].split(";")[0].rstrip(",")
            if word.startswith("-") or not name[:1].isalnum():
                continue
            try:
                importlib.metadata.distribution(name)
            except (importlib.metadata.PackageNotFoundError, ValueError):
                return True
    return False


def follow_startup(module_name, entry, where):
    """Runs the import statements the entry point always runs (lazy imports in
    its body), then those in the constructor and, when the entry point calls
    it, `initialize()` of each class it instantiates, along the MRO as far as
    `super()` calls go. Only the import statements run, never the code around
    them, so nothing here can reach the network; what they import runs its
    module-level code, as in the server. Returns the files whose code was read."""
    import inspect  # imported by the server's core already, not before the first answer

    # The function a decorator wrapped (functools.wraps), as the syntax tree has it.
    function = inspect.unwrap(getattr(importlib.import_module(module_name), entry))
    where["step"] = f"{entry}()"
    statements, namespace = run_imports(function)
    calls = [node for statement in statements for node in ast.walk(statement) if isinstance(node, ast.Call)]
    initializes = any(isinstance(call.func, ast.Attribute) and call.func.attr == "initialize" for call in calls)
    classes = []
    for call in calls:
        found = resolve(call.func, namespace)
        if isinstance(found, type) and found not in classes:
            classes.append(found)
    files = {getattr(getattr(function, "__code__", None), "co_filename", None)} - {None}
    for cls in classes:
        for name in CONSTRUCTION + (("initialize",) if initializes else ()):
            for method in methods_run(cls, name):
                where["step"] = f"{method.__qualname__}()"
                run_imports(method)
        files |= {source_file(klass) for klass in cls.__mro__} - {None}
    return files


def run_imports(function):
    """Runs the import statements `function` always runs, in a copy of its
    module's namespace, compiled at their own file and line so that a failure
    points there. Returns those statements and the namespace."""
    node = function_node(function)
    if node is None:
        return [], {}
    namespace = dict(function.__globals__)
    statements = list(unconditional(node.body))
    for statement in statements:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            code = compile(ast.Module(body=[statement], type_ignores=[]), function.__code__.co_filename, "exec")
            try:
                exec(code, namespace)  # noqa: S102 - an import statement
            except BaseException as exc:  # noqa: BLE001 - whatever the server would meet
                raise StartupImportFailed(exc) from None
    return statements, namespace


def unconditional(body):
    """The statements of `body` that run whenever it runs, inside `with` and
    unguarded `try` blocks too, up to a `return` or `raise`."""
    for statement in body:
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            yield from unconditional(statement.body)
        elif isinstance(statement, TRY_STATEMENTS):
            if not any(guards_imports(handler) for handler in statement.handlers):
                yield from unconditional(statement.body)
            yield from unconditional(statement.finalbody)
        elif not isinstance(statement, CONDITIONAL_STATEMENTS):
            yield statement
        if isinstance(statement, (ast.Return, ast.Raise)):
            return


def guards_imports(handler):
    """Whether an `except` clause makes an import failure harmless: it
    catches it and does not raise again."""
    if any(isinstance(statement, ast.Raise) for statement in handler.body):
        return False
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return caught is None or any(getattr(name, "id", getattr(name, "attr", None)) in IMPORT_GUARDS for name in names)


def resolve(expression, namespace):
    """What a called name refers to, for names and module attributes only
    (reading any other attribute could run code)."""
    if isinstance(expression, ast.Name):
        return namespace.get(expression.id)
    if isinstance(expression, ast.Attribute):
        owner = resolve(expression.value, namespace)
        return getattr(owner, expression.attr, None) if isinstance(owner, type(sys)) else None
    return None


def methods_run(cls, name):
    """The definitions of method `name` that creating `cls` runs: the first
    along the MRO, then the next one each time a definition calls super()."""
    import inspect

    for klass in cls.__mro__:
        if name not in vars(klass):
            continue
        method = inspect.unwrap(getattr(vars(klass)[name], "__func__", vars(klass)[name]))
        node = function_node(method)
        if node is None:
            return
        yield method
        # The methods it calls through super().
        supers = {
            call.func.attr
            for call in ast.walk(node)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call)
            and getattr(call.func.value.func, "id", None) == "super"
        }
        if name not in supers:
            return


def function_node(function):
    """The syntax tree of a Python function, found in its file by name and
    first line; None for anything else."""
    code = function.__code__ if isinstance(function, types.FunctionType) else None
    tree = parsed(code.co_filename) if code is not None else None
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            if min([node.lineno] + [d.lineno for d in node.decorator_list]) == code.co_firstlineno:
                return node
    return None


PARSED = {}


def parsed(path):
    """The syntax tree of a source file outside the standard library, or None."""
    if path not in PARSED:
        PARSED[path] = None
        if path.endswith(".py") and not path.startswith(STDLIB):
            try:
                with open(path, "rb") as handle:
                    PARSED[path] = ast.parse(handle.read(), path)
            except (OSError, SyntaxError, ValueError):
                pass
    return PARSED[path]


def source_file(klass):
    module = sys.modules.get(getattr(klass, "__module__", None))
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) and not path.startswith(STDLIB) else None


def missing_deferred_imports(module_name, scanned):
    """Imports of modules that are not installed and that start-up did not
    run: inside functions, or at the top of modules nothing has imported yet,
    in the provider's package and in the files start-up read. The driver
    matches them with declared packages that are missing, to say when the
    server would need one."""
    module = sys.modules[module_name]
    files = set(scanned)
    for directory in list(getattr(module, "__path__", [])):
        for root, _, names in os.walk(directory):
            files |= {os.path.join(root, name) for name in names if name.endswith(".py")}
            if len(files) > MAX_SCANNED_FILES:
                break
    loaded = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    found, absent = [], {}
    for path in sorted(files)[:MAX_SCANNED_FILES]:
        tree = parsed(path)
        for function, node in scoped_imports(tree.body if tree is not None else []):
            if function is None and path in loaded:
                continue
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names if getattr(node, "level", 0) == 0 else []:
                top = name.partition(".")[0]
                if top not in absent:
                    absent[top] = package_found(top) is False
                if absent[top]:
                    found.append({"module": name, "function": function, "file": path, "line": node.lineno})
    return found[:50]


def scoped_imports(nodes, prefix="", function=None):
    """Every import statement in `nodes` and below that is not optional
    (inside a `try` that catches its failure), with the qualified name of the
    function it sits in (None at module or class level)."""
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = f"{prefix}{node.name}"
            yield from scoped_imports(node.body, inner + ".", function if isinstance(node, ast.ClassDef) else inner)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield function, node
        elif isinstance(node, TRY_STATEMENTS) and any(guards_imports(handler) for handler in node.handlers):
            yield from scoped_imports(node.handlers + node.orelse + node.finalbody, prefix, function)
        else:
            yield from scoped_imports(ast.iter_child_nodes(node), prefix, function)


def config_schema(qualified_name):
    # Same split as llama_stack.core.utils.dynamic.instantiate_class_type.
    module_name, class_name = qualified_name.rsplit(".", 1)
    config_class = getattr(importlib.import_module(module_name), class_name)
    described = {"class": qualified_name, "is_class": isinstance(config_class, type), "schema": None}
    try:
        import dataclasses

        import pydantic

        if isinstance(config_class, type) and issubclass(config_class, pydantic.BaseModel):
            described["schema"] = config_class.model_json_schema()
        elif dataclasses.is_dataclass(config_class):
            described["schema"] = pydantic.TypeAdapter(config_class).json_schema()
        else:
            described["schema_error"] = "not a pydantic model or a dataclass"
    except BaseException as exc:  # noqa: BLE001
        described["schema_error"] = safe_text(f"{type(exc).__name__}: {exc}")
    return described


def check_stack_config(request):
    """What `llama stack run` does with run.yaml before it looks at any
    provider, each step with the server's own code: PyYAML's safe_load, the
    CLI's upgrade path (parse_and_maybe_upgrade_config), then the server
    factory's substitution and StackConfig on the file as written, and the
    TLS files uvicorn loads. Nothing is written: where the CLI would create a
    missing external_providers_dir, only whether it could is looked at."""
    import copy

    import yaml

    core = core_package() + ".core."
    configure = importlib.import_module(core + "configure")
    stack = importlib.import_module(core + "stack")
    datatypes = importlib.import_module(core + "datatypes")
    logging_config = getattr(importlib.import_module(core_package() + ".log"), "LoggingConfig", None)
    with open(request["run_yaml"], encoding="utf-8") as handle:
        text = handle.read()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return {"result": "ok", "refused": {"stage": "yaml", **yaml_problem(exc)}}
    try:
        config = configure.parse_and_maybe_upgrade_config(copy.deepcopy(raw))
    except Exception as exc:  # noqa: BLE001 - the CLI stops on any of them
        return {"result": "ok", "refused": {"stage": "cli", **config_problem(exc)}}
    # distro_name replaced image_name in 0.5.0, and its cast with it.
    cast = getattr(stack, "cast_distro_name_to_string", None) or getattr(stack, "cast_image_name_to_string", None)
    try:
        if isinstance(raw, dict) and raw.get("logging_config") and logging_config is not None:
            logging_config(**raw["logging_config"])
        if not factory_upgrades():
            config = datatypes.StackConfig(**cast(stack.replace_env_vars(raw)))
    except Exception as exc:  # noqa: BLE001 - so does the server factory
        return {"result": "ok", "refused": {"stage": "server", **config_problem(exc)}}
    return {"result": "ok", "refused": None, "stack": stack_facts(config, stack)}


def factory_upgrades():
    """Whether the server factory reads run.yaml through the same upgrade path
    as the run command (ogx), rather than validating the file as written with
    StackConfig (llama-stack, where a version the upgrade path would
    overwrite still counts): read from the factory's source, not run."""
    try:
        found = importlib.util.find_spec(core_package() + ".core.server.server")
        with open(found.origin, encoding="utf-8") as handle:
            return "parse_and_maybe_upgrade_config(" in handle.read()
    except (ImportError, AttributeError, OSError, TypeError, ValueError):
        return False


def yaml_problem(exc):
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return {
        "kind": "yaml",
        "message": safe_text(f"{problem} ({context})" if context else problem),
        "line": mark.line + 1 if mark is not None else None,
        "column": mark.column + 1 if mark is not None else None,
    }


def config_problem(exc):
    """A refusal of run.yaml: pydantic's errors with their place, an unset
    variable with its path, or the exception as it is."""
    if callable(getattr(exc, "errors", None)):
        return {"kind": "validation", "errors": refusals(exc)}
    if type(exc).__name__ == "EnvVarError":
        return {"kind": "env", "name": safe_text(exc.var_name), "path": safe_text(exc.path)}
    return {"kind": "exception", "exception": describe_exception(exc)}


def stack_facts(config, stack):
    """What the driver judges the rest of start-up by: the storage the server
    registers and the stores it opens, the TLS files, the resources it
    registers and the models it validates, external_providers_dir."""
    storage = importlib.import_module(core_package() + ".core.storage.datatypes")
    distribution = importlib.import_module(core_package() + ".core.distribution")
    stores = config.storage.stores
    routed = {info.routing_table_api.value: info.router_api.value for info in distribution.builtin_automatically_routed_apis()}
    resources = [(name, api.value) for name, api, *_ in getattr(stack, "RESOURCES", [])]
    dumped = config.model_dump(mode="json")
    return {
        "backends": {name: backend.type.value for name, backend in config.storage.backends.items()},
        "stores": {
            name: {"backend": getattr(getattr(stores, name), "backend", None), "kind": store_kind(field.annotation, storage)}
            for name, field in type(stores).model_fields.items()
        },
        "tls": tls_facts(config.server),
        "resources": [
            {"name": name, "router": routed.get(table), "items": dumped["registered_resources"].get(name) or []}
            for name, table in resources
        ],
        "vector_stores": {
            name: (dumped.get("vector_stores") or {}).get(name)
            for name in ("default_embedding_model", "default_reranker_model", "rewrite_query_params")
        },
        "safety": dumped.get("safety"),
        "external_providers_dir": external_providers_facts(config, distribution),
        "provider_all": registers_for_all_providers(stack),
    }


def registers_for_all_providers(stack):
    """Whether the server's resource registration takes provider_id "all"
    (ogx 1.5): read from its source, not run."""
    import inspect  # imported by the server's core already, not before the first answer

    try:
        return 'provider_id == "all"' in inspect.getsource(stack.register_resources)
    except (AttributeError, OSError, TypeError):
        return False


def store_kind(annotation, storage):
    """`kv` or `sql`: the kind of backend a store field takes (its type, or
    one of its union's), which differs between releases (ogx 1.5 keeps
    prompts and connectors in SQL)."""
    import typing

    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, storage.KVStoreReference):
            return "kv"
        if isinstance(candidate, type) and issubclass(candidate, storage.SqlStoreReference):
            return "sql"
    return None


class PassphraseNeeded(Exception):
    """The key file is encrypted: uvicorn, given no password by `llama stack
    run`, would let OpenSSL ask for it on the terminal."""


def ask_for_passphrase():
    raise PassphraseNeeded()


def tls_facts(server):
    """The server serves HTTPS only when both tls_certfile and tls_keyfile are
    set; uvicorn then builds its context before the app factory runs:
    load_cert_chain, and load_verify_locations for tls_cafile. The same calls
    here only read the files."""
    import ssl

    fields = {name: getattr(server, name, None) for name in ("tls_certfile", "tls_keyfile", "tls_cafile")}
    facts = {"fields": fields, "enabled": bool(fields["tls_certfile"] and fields["tls_keyfile"]), "problem": None}
    if not facts["enabled"]:
        return facts
    for name in ("tls_certfile", "tls_keyfile", "tls_cafile"):
        if fields[name]:
            try:
                with open(fields[name], "rb"):
                    pass
            except OSError as exc:
                facts["problem"] = {"field": name, "message": safe_text(f"{type(exc).__name__}: {exc.strerror or exc}")}
                return facts
    field = "tls_keyfile"
    try:
        import inspect

        import uvicorn

        defaults = inspect.signature(uvicorn.Config).parameters
        context = ssl.SSLContext(defaults["ssl_version"].default)
        context.load_cert_chain(fields["tls_certfile"], fields["tls_keyfile"], ask_for_passphrase)
        field = "tls_cafile"
        if fields["tls_cafile"]:
            context.load_verify_locations(fields["tls_cafile"])
        # ogx 1.5's run command passes server.tls_config.ciphers to uvicorn.
        field = "tls_config"
        chosen = getattr(getattr(server, "tls_config", None), "ciphers", None)
        ciphers = ":".join(chosen) if chosen else defaults["ssl_ciphers"].default
        if ciphers:
            context.set_ciphers(ciphers)
    except PassphraseNeeded:
        facts["problem"] = {"field": "tls_keyfile", "message": "the key is encrypted with a passphrase", "passphrase": True}
    except Exception as exc:  # noqa: BLE001 - uvicorn stops on any of them
        facts["problem"] = {"field": field, "message": safe_text(f"{type(exc).__name__}: {exc}")}
    return facts


def external_providers_facts(config, distribution):
    """The provider specs under external_providers_dir, read as
    get_provider_registry reads them (every providable API, remote and inline,
    every *.yaml), or the first one the server fails on."""
    directory = getattr(config, "external_providers_dir", None)
    if not directory:
        return None
    path = os.path.abspath(os.path.expanduser(str(directory)))
    facts = {"path": safe_text(path), "exists": os.path.exists(path), "specs": [], "problem": None}
    if not facts["exists"]:
        facts["creatable"] = creatable(path)
        return facts
    import glob

    import yaml

    for api in distribution.providable_apis():
        for kind in ("remote", "inline"):
            for spec_path in glob.glob(os.path.join(path, kind, api.name.lower(), "*.yaml")):
                name = os.path.splitext(os.path.basename(spec_path))[0]
                try:
                    load_spec(distribution, spec_path, api, kind, name)
                except Exception as exc:  # noqa: BLE001 - the server re-raises every one
                    problem = yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else config_problem(exc)
                    facts["problem"] = {"file": safe_text(spec_path), **problem}
                    return facts
                facts["specs"].append({"api": api.value, "provider_type": f"{kind}::{name}", "file": safe_text(spec_path)})
    return facts


def creatable(path):
    """Whether os.makedirs(path) could succeed: the deepest existing ancestor
    is a directory this process may write into."""
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


def load_spec(distribution, spec_path, api, kind, name):
    """A spec file of external_providers_dir, read as the server reads it."""
    import yaml

    with open(spec_path) as handle:
        data = yaml.safe_load(handle)
    if kind == "remote":
        return distribution._load_remote_provider_spec(data, api)
    return distribution._load_inline_provider_spec(data, api, name)


CHECKS = {"provider": check_provider, "stack_config": check_stack_config}


if __name__ == "__main__":
    main()
