"""Tests of the probe on its own, without the Rust driver.

Run with the llama-stack test interpreter from the repository root:
    PYTHONPATH=testdata/providers python -B -m unittest discover -s probe
Cases that need llama-stack (the fixture providers are built on it) or ogx
are skipped by name when it is absent, so the same file also runs under ogx
and under a bare CPython (the facts of an empty environment).
"""

import enum
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import preflight_probe as probe  # noqa: E402

HAS_LLAMA_STACK = importlib.util.find_spec("llama_stack_api") is not None
HAS_OGX = importlib.util.find_spec("ogx_api") is not None
HAS_SERVER = HAS_LLAMA_STACK or HAS_OGX
needs_llama_stack = unittest.skipUnless(HAS_LLAMA_STACK, "llama-stack is not installed in this interpreter")
needs_ogx = unittest.skipUnless(HAS_OGX, "ogx is not installed in this interpreter")


def run_probe(*args, env=None):
    """Runs the probe as the driver does and returns (document, stdout)."""
    with open(os.path.join(HERE, "preflight_probe.py")) as handle:
        source = handle.read()
    completed = subprocess.run(
        [sys.executable, "-B", "-P", "-c", source, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, **(env or {})},
    )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]), completed.stdout


def request(module, provider_type, api="eval", allow_writes=False):
    return json.dumps(
        {
            "provider_id": "p",
            "api": api,
            "provider_type": provider_type,
            "module": module,
            "registry_only": False,
            "dump_stack_after": 30,
            "allow_writes": allow_writes,
        }
    )


class Colour(enum.Enum):
    RED = "red"


class Hostile:
    def __repr__(self):
        raise RuntimeError("no repr for you")


class EncodingTests(unittest.TestCase):
    def test_enums_are_encoded_by_value(self):
        self.assertEqual(probe.encode(Colour.RED), "red")

    def test_lists_and_plain_values_pass_through(self):
        self.assertEqual(probe.encode([1, "a", None, True]), [1, "a", None, True])

    def test_unknown_objects_are_described_not_raised(self):
        encoded = probe.encode(Hostile())
        self.assertEqual(encoded["$type"], "Hostile")
        self.assertIn("unprintable", encoded["$repr"])

    def test_lone_surrogates_become_printable_escapes(self):
        text = probe.safe_text("bad \udcff byte")
        self.assertEqual(text, "bad \\udcff byte")
        text.encode("utf-8")

    def test_long_text_is_cut(self):
        self.assertTrue(probe.safe_text("x" * 10000).endswith("...[truncated]"))

    def test_text_that_is_not_utf8_is_described_not_passed_on(self):
        self.assertEqual(probe.encode("remote::x\udcff"), {"$type": "non-UTF-8 text", "$repr": "remote::x\\udcff"})

    def test_what_strict_json_cannot_carry_becomes_text(self):
        document = probe.jsonable({"nan": float("nan"), "big": 10**5000, 3: [float("-inf"), 2**63, True, None]})
        self.assertEqual(
            document, {"nan": "nan", "big": "<int of 16610 bits>", "3": ["-inf", 2**63, True, None]}
        )
        json.dumps(document, allow_nan=False)


class StateTests(unittest.TestCase):
    def test_changes_to_cwd_and_sys_path_are_listed(self):
        before = ("/a", ["/x", "/y"])
        self.assertEqual(
            probe.state_changes(before, ("/b", ["/y", "/z"])),
            [
                {"operation": "os.chdir", "target": "/b"},
                {"operation": "sys.path gained", "target": "/z"},
                {"operation": "sys.path lost", "target": "/x"},
            ],
        )
        self.assertEqual(probe.state_changes(before, before), [])


class ExceptionTests(unittest.TestCase):
    def test_module_not_found_names_the_missing_module_and_hides_importlib(self):
        try:
            importlib.import_module("pf_surely_not_installed_anywhere")
        except ModuleNotFoundError as exc:
            described = probe.describe_exception(exc)
        self.assertEqual(described["missing_module"], "pf_surely_not_installed_anywhere")
        self.assertTrue(
            described["traceback"].endswith("ModuleNotFoundError: No module named 'pf_surely_not_installed_anywhere'\n")
        )
        self.assertNotIn("<frozen importlib", described["traceback"])
        self.assertNotIn("importlib/__init__.py", described["traceback"])

    def test_the_root_of_a_chain_is_reported(self):
        try:
            try:
                import pf_surely_not_installed_anywhere  # noqa: F401
            except ImportError as inner:
                raise RuntimeError("wrapper") from inner
        except RuntimeError as exc:
            described = probe.describe_exception(exc)
        self.assertEqual(described["type"], "RuntimeError")
        self.assertEqual(described["root_missing_module"], "pf_surely_not_installed_anywhere")


    def test_the_file_a_failed_extension_load_was_for_is_kept(self):
        raised = ImportError("libx.so.1: cannot open shared object file", name="m", path="/v/m.so")
        self.assertEqual(probe.describe_exception(raised)["root_path"], "/v/m.so")
        self.assertIsNone(probe.describe_exception(OSError("libx.so.1: cannot open"))["root_path"])


class ProcessTests(unittest.TestCase):
    def test_facts_describe_the_interpreter(self):
        document = facts_and_layout()[0]
        self.assertEqual(document["result"], "ok")
        self.assertEqual(document["python"]["executable"], sys.executable)
        self.assertEqual(document["llama_stack"] is not None, HAS_SERVER)

    def test_the_layout_follows_the_facts_and_without_fork_the_parent_exits(self):
        parent = WarmParent(options={"fork": False})
        self.addCleanup(parent.stop)
        self.assertEqual(parent.layout["result"], "ok")
        self.assertNotIn("isolation", parent.layout)
        if HAS_SERVER:
            self.assertIn("inference", parent.layout["layout"]["providable_apis"])
        else:
            self.assertIsNone(parent.layout["layout"])
        self.assertEqual(parent.close(), 0)

    def test_every_module_package_is_looked_for_without_running_it(self):
        modules = ["pf_surely_not_installed_anywhere==1.0", "json.decoder", "pf_exit.provider"]
        found = facts_and_layout({"externals": modules})[0]["externals_found"]
        # Importing pf_exit.provider would have ended the interpreter.
        self.assertEqual(found, [False, True, True])

    @unittest.skipUnless(HAS_SERVER, "no server installed in this interpreter")
    def test_nothing_of_the_server_is_imported_unless_the_driver_says_go(self):
        core = "llama_stack" if HAS_LLAMA_STACK else "ogx"
        server = (core, core + "_api")
        stopped, went = imports_of_serve(go=False), imports_of_serve(go=True)
        self.assertIn(core + ".core.datatypes", went)
        self.assertIn("json", stopped)  # the import log is there
        self.assertEqual([name for name in stopped if name.split(".")[0] in server], [])

    def test_facts_name_what_native_files_must_match(self):
        import importlib.machinery
        import platform

        python = facts_and_layout()[0]["python"]
        self.assertEqual(python["extension_suffixes"], importlib.machinery.EXTENSION_SUFFIXES)
        libc, version = platform.libc_ver()
        self.assertEqual(python["glibc"], version if libc == "glibc" else None)

    def test_a_bad_request_is_reported_as_data(self):
        document, _ = run_probe("nonsense")
        self.assertEqual(document["kind"], "bad_request")

    def test_the_document_is_the_only_thing_on_stdout(self):
        document, stdout = run_probe("provider", request("pf_stdout_spam", "remote::pf_stdout_spam"))
        if HAS_LLAMA_STACK:
            self.assertEqual(document["result"], "ok")
        self.assertEqual([line for line in stdout.splitlines() if line.strip()], [json.dumps(document)])

    @needs_llama_stack
    def test_a_good_provider_is_followed_to_its_module_and_config(self):
        document, _ = run_probe("provider", request("pf_good==1.0", "remote::pf_good"))
        self.assertEqual(document["target"], "pf_good.provider")
        self.assertEqual(document["spec"]["class"], "RemoteProviderSpec")
        self.assertEqual(document["spec"]["fields"]["api"], "eval")
        self.assertTrue(document["implementation"]["has_entry_point"])
        self.assertEqual(document["config"]["schema"]["title"], "Config")

    @needs_llama_stack
    def test_a_list_is_filtered_by_the_configured_type(self):
        document, _ = run_probe("provider", request("pf_list", "remote::pf_list"))
        self.assertEqual(document["returned"]["offered"], ["inline::pf_list", "remote::pf_list"])
        self.assertEqual(document["spec"]["class"], "RemoteProviderSpec")

    @needs_llama_stack
    def test_an_unknown_in_tree_type_lists_what_is_available(self):
        document, _ = run_probe("provider", request(None, "remote::olama", api="inference"))
        self.assertEqual(document["kind"], "unknown_provider_type")
        self.assertIn("remote::ollama", document["offered"])

    def test_a_failed_import_is_data(self):
        document, _ = run_probe("provider", request("pf_no_provider_module", "remote::x"))
        self.assertEqual(document["kind"], "import_failed")
        self.assertEqual(document["target"], "pf_no_provider_module.provider")
        self.assertEqual(document["exception"]["missing_module"], "pf_no_provider_module.provider")


class StartupTests(unittest.TestCase):
    """What the server's start-up of a provider imports after the spec's module."""

    def imports_run(self, source):
        tree = probe.ast.parse(source)
        return [probe.ast.unparse(node) for node in probe.unconditional(tree.body[0].body)
                if isinstance(node, (probe.ast.Import, probe.ast.ImportFrom))]

    def test_only_imports_that_always_run_are_run(self):
        source = (
            "async def entry(config, deps):\n"
            "    from .impl import Impl\n"
            "    try:\n        import optional\n    except ImportError:\n        optional = None\n"
            "    try:\n        import caught_broadly\n    except (ValueError, Exception):\n        pass\n"
            "    try:\n        import unguarded\n    finally:\n        import cleanup\n"
            "    try:\n        import required\n    except ImportError as exc:\n        raise RuntimeError('pip install it') from exc\n"
            "    with lock:\n        import inside_with\n"
            "    if config.fast:\n        import conditional\n"
            "    def later():\n        import deferred\n"
            "    return Impl()\n"
            "    import unreachable\n"
        )
        self.assertEqual(
            self.imports_run(source),
            ["from .impl import Impl", "import unguarded", "import cleanup", "import required", "import inside_with"],
        )

    @needs_llama_stack
    def test_a_lazy_import_that_fails_names_the_step_and_the_chain(self):
        document, _ = run_probe("provider", request("pf_lazy_missing", "remote::pf_lazy_missing"))
        startup = document["startup"]
        self.assertEqual((startup["ok"], startup["step"]), (False, "get_adapter_impl()"))
        self.assertEqual(startup["exception"]["missing_module"], "pf_lazy_dependency")
        self.assertEqual(
            [(os.path.basename(frame["file"]), frame["line"], frame["code"]) for frame in startup["exception"]["frames"]],
            [("__init__.py", 7, "from .adapter import LazyAdapter"), ("adapter.py", 1, "import pf_lazy_dependency  # noqa: F401")],
        )

    @needs_llama_stack
    def test_initialize_is_followed_along_the_mro_through_super(self):
        document, _ = run_probe("provider", request("pf_initialize_missing", "inline::pf_initialize_missing"))
        self.assertEqual(document["startup"]["step"], "Base.initialize()")
        self.assertEqual(document["startup"]["exception"]["missing_module"], "pf_initialize_dependency")

    @needs_llama_stack
    def test_optional_imports_pass_and_later_ones_are_listed_with_their_function(self):
        document, _ = run_probe("provider", request("pf_optional_imports", "remote::pf_optional_imports"))
        self.assertTrue(document["startup"]["ok"])
        deferred = {(item["module"], item["function"]) for item in document["startup"]["deferred"]}
        self.assertIn(("pf_later_dependency", "Adapter.load_model"), deferred)
        self.assertIn(("pf_not_installed_nested", "Adapter.initialize.later"), deferred)
        self.assertNotIn("pf_not_installed_guarded", {module for module, _ in deferred})

    @needs_llama_stack
    def test_a_disabled_or_shadowed_in_tree_entry_is_only_looked_up(self):
        document, _ = run_probe(
            "provider",
            json.dumps({**json.loads(request(None, "remote::together", api="inference")), "registry_only": True}),
        )
        self.assertEqual(document["spec"]["fields"]["provider_type"], "remote::together")
        self.assertNotIn("startup", document)


class OgxTests(unittest.TestCase):
    """What differs under ogx, llama-stack's continuation: its own names, read
    from its code, and nothing that moves the user's ~/.llama."""

    @needs_ogx
    def test_the_facts_name_ogx_its_command_and_its_settings(self):
        facts, layout = facts_and_layout()
        server = facts["llama_stack"]
        self.assertEqual((server["distribution"], server["api_package"]), ("ogx", "ogx_api"))
        self.assertEqual(server["command"], "ogx run")
        self.assertEqual(layout["layout"]["config_dir_variable"], "OGX_CONFIG_DIR")
        self.assertNotIn("eval", layout["layout"]["apis"])

    @needs_ogx
    def test_in_tree_providers_come_from_ogxs_registry(self):
        document, _ = run_probe("provider", request(None, "remote::vllm", api="inference"))
        self.assertEqual(document["target"], "ogx.providers.registry.inference")
        self.assertEqual(document["spec"]["class_module"], "ogx_api.datatypes")
        self.assertTrue(document["spec"]["provider_spec"])
        self.assertTrue(document["spec"]["remote"])

    @needs_ogx
    def test_a_provider_built_for_llama_stack_fails_on_llama_stack_api(self):
        document, _ = run_probe("provider", request("pf_good", "remote::pf_good"))
        self.assertEqual(document["kind"], "import_failed")
        self.assertEqual(document["exception"]["missing_module"], "llama_stack_api")

    @needs_ogx
    def test_checking_never_moves_the_legacy_llama_directory(self):
        with tempfile.TemporaryDirectory() as home:
            os.makedirs(os.path.join(home, ".llama"))
            with open(os.path.join(home, ".llama", "marker"), "w") as handle:
                handle.write("kept")
            parent = WarmParent(env={"HOME": home})
            self.addCleanup(parent.stop)
            parent.check(request(None, "remote::vllm", api="inference"))
            parent.close()
            self.assertEqual(os.listdir(home), [".llama"])
            self.assertEqual(os.listdir(os.path.join(home, ".llama")), ["marker"])


class HostileProviderTests(unittest.TestCase):
    def test_an_object_that_raises_when_read_is_reported_as_unreadable(self):
        document, _ = run_probe("provider", request("pf_hostile_object", "remote::pf_hostile_object"))
        self.assertEqual(document["kind"], "spec_unreadable")
        self.assertEqual(document["exception"]["message"], "attribute __class__ refused")

    def test_a_changed_working_directory_is_recorded(self):
        document, _ = run_probe("provider", request("pf_changes_cwd", "remote::pf_changes_cwd"))
        self.assertEqual(document["sandbox"]["changed"], [{"operation": "os.chdir", "target": "/"}])

    def test_a_changed_sys_path_is_recorded(self):
        document, _ = run_probe("provider", request("pf_changes_sys_path", "remote::pf_changes_sys_path"))
        self.assertEqual(
            document["sandbox"]["changed"],
            [{"operation": "sys.path gained", "target": "/opt/pf-changes-sys-path/vendor"}],
        )

    def test_a_forged_document_on_fd_1_does_not_reach_the_result_channel(self):
        document, stdout = run_probe("provider", request("pf_forges_print", "remote::pf_forges_print"))
        self.assertEqual(document["kind"], "get_provider_spec_raised")
        self.assertNotIn("sandbox\": {}", stdout)

    def test_system_exit_and_keyboard_interrupt_are_data(self):
        document, _ = run_probe("provider", request("pf_keyboard_interrupt", "remote::pf_keyboard_interrupt"))
        self.assertEqual((document["kind"], document["exception"]["type"]), ("import_failed", "KeyboardInterrupt"))
        document, _ = run_probe("provider", request("pf_spec_system_exit", "remote::pf_spec_system_exit"))
        self.assertEqual(
            (document["kind"], document["exception"]["type"]), ("get_provider_spec_raised", "SystemExit")
        )


class SandboxTests(unittest.TestCase):
    def test_a_write_at_import_is_denied_and_recorded(self):
        with tempfile.TemporaryDirectory() as scratch:
            target = os.path.join(scratch, "written.txt")
            document, _ = run_probe(
                "provider", request("pf_writes_file", "remote::pf_writes_file"), env={"PF_WRITE_TARGET": target}
            )
            self.assertFalse(os.path.exists(target))
        self.assertEqual(document["sandbox"]["denied"], [{"operation": "write", "target": target}])

    def test_allow_writes_lets_the_write_through(self):
        with tempfile.TemporaryDirectory() as scratch:
            target = os.path.join(scratch, "written.txt")
            document, _ = run_probe(
                "provider",
                request("pf_writes_file", "remote::pf_writes_file", allow_writes=True),
                env={"PF_WRITE_TARGET": target},
            )
            self.assertTrue(os.path.exists(target))
        self.assertEqual(document["sandbox"]["denied"], [])

    def test_a_connection_is_denied_before_it_leaves(self):
        document, _ = run_probe("provider", request("pf_opens_socket", "remote::pf_opens_socket"))
        self.assertEqual([attempt["operation"] for attempt in document["sandbox"]["denied"]], ["socket.getaddrinfo"])

    def test_programs_are_recorded_not_denied(self):
        document, _ = run_probe("provider", request("pf_spawns", "remote::pf_spawns"))
        self.assertEqual(document["sandbox"]["programs"][0]["operation"], "subprocess.Popen")
        self.assertEqual(document["sandbox"]["denied"], [])

    def test_paths_are_resolved_before_they_count_as_devices(self):
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)
        self.addCleanup(os.close, write_end)
        for path in ("/dev/null", "/dev/./null", b"/dev/zero", f"/proc/self/fd/{write_end}"):
            self.assertTrue(probe.stores_nothing(path), path)
        for path in ("/dev/../tmp/x", "/dev/shm/x", "/tmp/x", "relative", 3.5):
            self.assertFalse(probe.stores_nothing(path), path)

    def test_writes_through_dev_paths_are_denied(self):
        document, _ = run_probe("provider", request("pf_writes_under_dev", "remote::pf_writes_under_dev"))
        self.assertEqual(
            document["sandbox"]["denied"],
            [
                {"operation": "write", "target": "/dev/../tmp/pf-preflight-must-not-exist.txt"},
                {"operation": "write", "target": "/dev/shm/pf-preflight-must-not-exist.txt"},
            ],
        )

    def test_writes_python_raises_no_audit_event_for_are_denied(self):
        document, _ = run_probe("provider", request("pf_makes_special_files", "remote::pf_makes_special_files"))
        self.assertEqual(
            [attempt["operation"] for attempt in document["sandbox"]["denied"]], ["os.mkfifo", "os.mknod"]
        )
        document, _ = run_probe("provider", request("pf_sqlite_writes", "remote::pf_sqlite_writes"))
        self.assertEqual(
            [attempt["target"] for attempt in document["sandbox"]["denied"]],
            ["/tmp/pf-preflight-must-not-exist.attached", "/tmp/pf-preflight-must-not-exist.vacuumed"],
        )

    def test_a_python_built_without_sqlite_is_still_sandboxed(self):
        with tempfile.TemporaryDirectory() as scratch:
            os.makedirs(os.path.join(scratch, "sqlite3"))
            with open(os.path.join(scratch, "sqlite3", "__init__.py"), "w") as handle:
                handle.write("raise ImportError('built without SQLite')\n")
            target = os.path.join(scratch, "written.txt")
            pythonpath = os.pathsep.join([scratch, os.environ.get("PYTHONPATH", "")])
            document, _ = run_probe(
                "provider",
                request("pf_writes_file", "remote::pf_writes_file"),
                env={"PF_WRITE_TARGET": target, "PYTHONPATH": pythonpath},
            )
        self.assertEqual(document["sandbox"]["denied"], [{"operation": "write", "target": target}])

    def test_a_provider_that_replaces_json_dumps_cannot_spoil_its_result(self):
        document, _ = run_probe("provider", request("pf_patches_json", "remote::pf_patches_json"))
        self.assertEqual(document["result"], "ok" if HAS_LLAMA_STACK else "error")
        self.assertEqual(document["sandbox"]["denied"], [])


class WarmParent:
    """The probe's serve mode, driven the way the Rust driver drives it."""

    def __init__(self, env=None, options=None):
        with open(os.path.join(HERE, "preflight_probe.py")) as handle:
            source = handle.read()
        options = json.dumps(options or {"fork": True})
        self.process = subprocess.Popen(
            [sys.executable, "-B", "-P", "-c", source, "serve", options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        self.facts = self.next_document()
        self.process.stdin.write(b"\n")  # go on: import llama-stack's core
        self.process.stdin.flush()
        self.layout = self.next_document()

    def next_document(self):
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("the warm parent closed its stdout")
            if line.strip():
                return json.loads(line)

    def send(self, argument, timeout=30, check_id=0):
        line = json.dumps({"id": check_id, "timeout": timeout, "mode": "provider", "argument": argument})
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def check(self, argument, timeout=30):
        """Returns the started event and the ended event of one check."""
        self.send(argument, timeout)
        return self.next_document(), self.next_document()

    def events(self, count):
        """The next `count` events, in the order they came."""
        return [self.next_document() for _ in range(count)]

    def close(self):
        self.process.stdin.close()
        return self.process.wait(timeout=10)

    def stop(self):
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


def facts_and_layout(options=None):
    """The two documents of a serve run that answers no checks."""
    parent = WarmParent(options={"fork": False, **(options or {})})
    try:
        return parent.facts, parent.layout
    finally:
        parent.stop()


def imports_of_serve(go):
    """The modules a serve run imports when its facts are answered with go
    (a line) or with the end of its input, from Python's own import log."""
    with open(os.path.join(HERE, "preflight_probe.py")) as handle:
        source = handle.read()
    completed = subprocess.run(
        [sys.executable, "-B", "-P", "-c", source, "serve", json.dumps({"fork": False})],
        input=b"\n" if go else b"",
        capture_output=True,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stderr.decode(errors="replace").splitlines()
    return [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")]


def result_of(ended):
    lines = [line for line in ended["stdout"].splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class WarmParentTests(unittest.TestCase):
    def setUp(self):
        self.parent = WarmParent()
        self.addCleanup(self.parent.stop)

    def test_the_facts_come_first_and_then_forking_is_found_safe(self):
        self.assertEqual(self.parent.facts["result"], "ok")
        self.assertNotIn("isolation", self.parent.facts)
        self.assertEqual(self.parent.layout["isolation"], {"mode": "fork", "reason": None})

    def test_a_forked_check_answers_what_a_fresh_interpreter_answers(self):
        argument = request("pf_no_provider_module", "remote::x")
        fresh, _ = run_probe("provider", argument)
        started, ended = self.parent.check(argument)
        self.assertEqual(started["event"], "started")
        self.assertEqual((ended["event"], ended["ending"], ended["code"]), ("ended", "exited", 0))
        forked = result_of(ended)
        del fresh["exception"]["traceback"], forked["exception"]["traceback"]
        self.assertEqual(forked, fresh)

    def test_a_crash_a_hang_and_an_exit_end_the_child_not_the_parent(self):
        _, crashed = self.parent.check(request("pf_segfault", "remote::pf_segfault"))
        self.assertEqual((crashed["ending"], crashed["signal"]), ("signalled", 11))
        self.assertIn("Segmentation fault", crashed["stderr"])
        started, hung = self.parent.check(request("pf_hang", "remote::pf_hang"), timeout=1)
        self.assertEqual(hung["ending"], "timed_out")
        self.assertFalse(process_exists(started["pid"]))
        _, exited = self.parent.check(request("pf_exit", "remote::pf_exit"))
        self.assertEqual((exited["ending"], exited["code"], exited["stdout"]), ("exited", 3, ""))
        _, answered = self.parent.check(request("pf_no_provider_module", "remote::x"))
        self.assertEqual(result_of(answered)["kind"], "import_failed")
        self.assertEqual(self.parent.close(), 0)

    def test_a_process_left_in_the_checks_group_is_named_and_killed(self):
        with tempfile.TemporaryDirectory() as scratch:
            os.makedirs(os.path.join(scratch, "pf_leaves_sleep"))
            with open(os.path.join(scratch, "pf_leaves_sleep", "__init__.py"), "w") as handle:
                handle.write("")
            with open(os.path.join(scratch, "pf_leaves_sleep", "provider.py"), "w") as handle:
                handle.write("import subprocess\nLEFT = subprocess.Popen(['sleep', '30'])\n")
            parent = WarmParent(env={"PYTHONPATH": scratch})
            self.addCleanup(parent.stop)
            _, ended = parent.check(request("pf_leaves_sleep", "remote::x"))
        self.assertEqual(ended["leftovers"], ["sleep"])
        self.assertEqual(result_of(ended)["kind"], "get_provider_spec_missing")

    def test_checks_run_side_by_side_and_each_answer_names_its_check(self):
        self.parent.send(request("pf_hang", "remote::pf_hang"), timeout=3, check_id=7)
        self.parent.send(request("pf_no_provider_module", "remote::x"), check_id=8)
        events = self.parent.events(4)
        self.assertEqual([(e["event"], e["id"]) for e in events], [("started", 7), ("started", 8), ("ended", 8), ("ended", 7)])
        self.assertEqual(result_of(events[2])["kind"], "import_failed")
        self.assertEqual(events[3]["ending"], "timed_out")

    def test_a_daemon_is_named_on_its_own_check_not_on_one_beside_it(self):
        self.parent.send(request("pf_hang", "remote::pf_hang"), timeout=3, check_id=1)
        self.parent.send(request("pf_daemon", "remote::pf_daemon"), check_id=2)
        ended = {event["id"]: event for event in self.parent.events(4) if event["event"] == "ended"}
        self.assertEqual(len(result_of(ended[2])["escaped"]), 1)
        self.assertEqual((ended[1]["leftovers"], ended[2]["leftovers"]), ([], []))

    def test_what_a_dying_check_hands_over_is_named_on_that_check(self):
        with tempfile.TemporaryDirectory() as scratch:
            package = os.path.join(scratch, "pf_dies_leaving_daemon")
            os.makedirs(package)
            with open(os.path.join(package, "__init__.py"), "w") as handle:
                handle.write(
                    "import os, time\n"
                    "if os.fork() == 0:\n"
                    "    os.setsid()\n"
                    "    if os.fork() == 0:\n"
                    "        os.execvp('sleep', ['sleep', '30'])\n"
                    "    os._exit(0)\n"
                    "time.sleep(0.5)\n"
                    "os._exit(0)\n"
                )
            parent = WarmParent(env={"PYTHONPATH": scratch})
            self.addCleanup(parent.stop)
            parent.send(request("pf_hang", "remote::pf_hang"), timeout=3, check_id=1)
            parent.send(request("pf_dies_leaving_daemon", "remote::x"), check_id=2)
            ended = {event["id"]: event for event in parent.events(4) if event["event"] == "ended"}
        self.assertEqual((ended[2]["ending"], ended[2]["code"], ended[2]["leftovers"]), ("exited", 0, ["sleep"]))
        self.assertEqual(ended[1]["leftovers"], [])

    def test_the_end_of_input_kills_the_checks_still_running(self):
        self.parent.send(request("pf_hang", "remote::pf_hang"), timeout=60, check_id=3)
        started = self.parent.next_document()
        self.assertEqual(self.parent.close(), 0)
        self.assertFalse(process_exists(started["pid"]))

    def test_any_process_name_is_reported_escaped(self):
        # A group whose member names itself with bytes that are not UTF-8, ")" and a newline.
        leader = subprocess.Popen(
            ["sh", "-c", "sh -c 'printf \"\\377)\\n\" > /proc/self/comm; sleep 30; true' & wait"],
            start_new_session=True,
        )
        self.addCleanup(leader.wait)
        self.addCleanup(os.killpg, leader.pid, 9)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "\\xff)\\x0a" not in probe.group_members(leader.pid):
            time.sleep(0.05)
        self.assertIn("\\xff)\\x0a", probe.group_members(leader.pid))

    def test_provider_output_never_reaches_the_parents_stdout(self):
        _, ended = self.parent.check(request("pf_stdout_spam", "remote::pf_stdout_spam"))
        self.assertEqual(result_of(ended)["result"], "ok" if HAS_LLAMA_STACK else "error")
        self.assertEqual([line for line in ended["stdout"].splitlines() if line.strip()], [json.dumps(result_of(ended))])
        if HAS_LLAMA_STACK:
            self.assertIn('{"result": "ok", "forged": true}', ended["stderr"])


def stack_config(text, env=None):
    """The probe's stack_config answer for a run.yaml of `text`."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "run.yaml")
        with open(path, "w") as handle:
            handle.write(text)
        document, _ = run_probe("stack_config", json.dumps({"run_yaml": path, "dump_stack_after": 30}), env=env)
    return document


RUN_YAML = """\
distro_name: t
server: {SERVER}
providers:
  eval:
  - provider_id: good
    provider_type: remote::pf_good
    module: pf_good
"""


@needs_llama_stack
class StackConfigTests(unittest.TestCase):
    def test_what_pyyaml_refuses_is_reported_with_its_line(self):
        document = stack_config(RUN_YAML.format(SERVER="{}") + "    config: !secret x\n")
        self.assertEqual(document["refused"]["stage"], "yaml")
        self.assertEqual(document["refused"]["line"], 8)
        self.assertIn("!secret", document["refused"]["message"])

    def test_stackconfig_refusals_keep_their_place(self):
        document = stack_config(RUN_YAML.format(SERVER="{port: 443}"))
        self.assertEqual(document["refused"]["kind"], "validation")
        self.assertEqual(document["refused"]["errors"][0]["loc"], ["server", "port"])

    def test_substituted_digits_stay_a_number_for_image_name(self):
        text = RUN_YAML.format(SERVER="{}").replace("distro_name: t", "image_name: ${env.PF_TAG}")
        document = stack_config(text, env={"PF_TAG": "2026"})
        self.assertEqual(document["refused"]["errors"][0]["loc"], ["image_name"])

    def test_an_accepted_file_gives_the_facts_with_the_servers_defaults(self):
        text = RUN_YAML.format(SERVER="{}") + (
            "storage:\n  backends:\n    kv_main: {type: kv_sqlite, db_path: /nonexistent/kv.db}\n"
            "  stores:\n    metadata: {backend: kv_main, namespace: registry}\n"
            "    inference: null\n    conversations: null\n    prompts: {backend: kv_main, namespace: p}\n"
        )
        document = stack_config(text)
        self.assertIsNone(document["refused"])
        facts = document["stack"]
        self.assertEqual(facts["backends"], {"kv_main": "kv_sqlite"})
        self.assertEqual(facts["stores"]["connectors"], {"backend": "kv_default", "kind": "kv"})
        self.assertEqual(facts["stores"]["conversations"], {"backend": None, "kind": "sql"})
        self.assertFalse(facts["tls"]["enabled"])
        self.assertEqual([r["name"] for r in facts["resources"]][:2], ["models", "shields"])
        self.assertEqual(document["sandbox"]["denied"], [])

    def test_external_providers_dir_is_read_as_the_server_reads_it(self):
        with tempfile.TemporaryDirectory() as scratch:
            spec_dir = os.path.join(scratch, "remote", "eval")
            os.makedirs(spec_dir)
            with open(os.path.join(spec_dir, "mine.yaml"), "w") as handle:
                handle.write("adapter_type: other\nmodule: pf_good\nconfig_class: pf_good.config.Config\n")
            text = RUN_YAML.format(SERVER="{}") + f"external_providers_dir: {scratch}\n"
            found = stack_config(text)["stack"]["external_providers_dir"]
            self.assertEqual(found["specs"][0]["provider_type"], "remote::mine")
            with open(os.path.join(spec_dir, "mine.yaml"), "a") as handle:
                handle.write("provider_type: remote::mine\n")
            found = stack_config(text)["stack"]["external_providers_dir"]
            self.assertIn("multiple values", found["problem"]["exception"]["message"])
            missing = stack_config(RUN_YAML.format(SERVER="{}") + f"external_providers_dir: {scratch}/new/dir\n")
            self.assertEqual(missing["stack"]["external_providers_dir"]["exists"], False)
            self.assertEqual(missing["stack"]["external_providers_dir"]["creatable"], True)
            self.assertFalse(os.path.exists(os.path.join(scratch, "new")))

    def test_tls_files_are_loaded_and_an_encrypted_key_never_prompts(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        import datetime

        with tempfile.TemporaryDirectory() as scratch:
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
            now = datetime.datetime.now(datetime.timezone.utc)
            cert = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(key, hashes.SHA256())
            )
            files = {
                "cert.pem": cert.public_bytes(serialization.Encoding.PEM),
                "plain.pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
                "locked.pem": key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
                ),
            }
            for file, data in files.items():
                with open(os.path.join(scratch, file), "wb") as handle:
                    handle.write(data)

            def tls(keyfile):
                server = f"{{tls_certfile: {scratch}/cert.pem, tls_keyfile: {scratch}/{keyfile}}}"
                return stack_config(RUN_YAML.format(SERVER=server))["stack"]["tls"]

            self.assertEqual(tls("plain.pem")["problem"], None)
            self.assertTrue(tls("locked.pem")["problem"]["passphrase"])
            self.assertIn("FileNotFoundError", tls("absent.pem")["problem"]["message"])


@needs_llama_stack
class ConfigClassTests(unittest.TestCase):
    def test_ignored_keys_respect_aliases_and_extra(self):
        import pydantic

        class Plain(pydantic.BaseModel):
            base_url: str = ""
            token: str = pydantic.Field("", alias="api_token")

        class ByName(Plain):
            model_config = pydantic.ConfigDict(populate_by_name=True)

        class Open(Plain):
            model_config = pydantic.ConfigDict(extra="allow")

        found = probe.ignored_keys(Plain, {"url": 1, "api_token": 2, "token": 3, "base_url": 4})
        self.assertEqual(found["keys"], ["url", "token"])
        self.assertEqual(found["renamed"], {"token": "api_token"})
        self.assertEqual(probe.ignored_keys(ByName, {"token": 3})["keys"], [])
        self.assertIsNone(probe.ignored_keys(Open, {"url": 1}))

    def test_store_references_are_found_in_a_built_config(self):
        import pydantic
        from llama_stack.core.storage.datatypes import KVStoreReference, SqlStoreReference

        class Persistence(pydantic.BaseModel):
            state: KVStoreReference
            rows: SqlStoreReference | None = None

        class Config(pydantic.BaseModel):
            persistence: Persistence
            kvstore: KVStoreReference = KVStoreReference(backend="kv_default", namespace="n")

        built = Config(persistence={"state": {"backend": "kv_x", "namespace": "a"}, "rows": {"backend": "sql_y", "table_name": "t"}})
        self.assertEqual(
            probe.store_references(built),
            [
                {"loc": ["persistence", "state"], "backend": "kv_x", "kind": "kv"},
                {"loc": ["persistence", "rows"], "backend": "sql_y", "kind": "sql"},
                {"loc": ["kvstore"], "backend": "kv_default", "kind": "kv"},
            ],
        )

    def test_a_write_while_building_a_config_is_not_an_import_fault_unless_checked(self):
        with tempfile.TemporaryDirectory() as scratch:
            target = os.path.join(scratch, "made")
            ask = json.loads(request("pf_writes_config", "remote::pf_writes_config"))
            ask["config"] = {"path": target}
            quiet, _ = run_probe("provider", json.dumps({**ask, "check_config": False}))
            self.assertEqual(quiet["sandbox"]["denied"], [])
            self.assertIsNone(quiet["config_check"]["valid"])
            checked, _ = run_probe("provider", json.dumps({**ask, "check_config": True}))
            self.assertEqual([d["operation"] for d in checked["sandbox"]["denied"]], ["os.mkdir"])
            self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
    unittest.main()
