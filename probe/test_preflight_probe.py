"""Tests of the probe on its own, without the Rust driver.

Run with the llama-stack test interpreter from the repository root:
    PYTHONPATH=testdata/providers python -B -m unittest discover -s probe
Cases that need llama-stack are skipped by name when it is absent, so the
same file also runs under a bare CPython (the facts of an empty environment).
"""

import enum
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import preflight_probe as probe  # noqa: E402

HAS_LLAMA_STACK = importlib.util.find_spec("llama_stack_api") is not None
needs_llama_stack = unittest.skipUnless(HAS_LLAMA_STACK, "llama-stack is not installed in this interpreter")


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


class ProcessTests(unittest.TestCase):
    def test_facts_describe_the_interpreter(self):
        document, _ = run_probe("facts")
        self.assertEqual(document["result"], "ok")
        self.assertEqual(document["python"]["executable"], sys.executable)
        self.assertEqual(document["llama_stack"] is not None, HAS_LLAMA_STACK)

    def test_facts_name_what_native_files_must_match(self):
        import importlib.machinery
        import platform

        document, _ = run_probe("facts")
        python = document["python"]
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


if __name__ == "__main__":
    unittest.main()
