"""Re-applies the wildcards of golden files after `TRYCMD=overwrite`.

Values that differ between runs or machines (durations, thread ids, sys.path,
standard-library paths, the crate version) become trycmd's `[..]` or `...`. Run from the
repository root: python3 tests/cmd/redact.py
"""

import pathlib
import re

RULES = [
    (re.compile(r'"duration_ms": \d+'), '"duration_ms": [..]'),
    (re.compile(r"thread 0x[0-9a-f]+ \(most"), "thread [..] (most"),
    (re.compile(r"Thread 0x[0-9a-f]+ \(most"), "Thread [..] (most"),
    (re.compile(r'File "/[^"]*/ctypes/__init__.py", line \d+'), 'File "[..]/ctypes/__init__.py", line [..]'),
    (re.compile(r'("sys_path": \[\n)(.*?)(\n\s*\])', re.S), lambda m: m.group(1) + "..." + m.group(3)),
    # The sandbox layers depend on the kernel (tests/integration/cli.rs checks them).
    (re.compile(r'(\n    "sandbox": \{\n)(.*?)(\n    \})', re.S), lambda m: m.group(1) + "..." + m.group(3)),
    # Sizes of the extension gcc builds for the native-code cases.
    (re.compile(r"\d+ bytes on disk; its program headers map \d+ bytes"), "[..] bytes on disk; its program headers map [..] bytes"),
    (re.compile(r"is \d+ bytes, but RECORD says \d+"), "is [..] bytes, but RECORD says [..]"),
    # The crate version in the man page, so that a release does not touch goldens.
    (re.compile(r'"llama-stack-preflight \d+\.\d+\.\d+[^"]*"'), '"llama-stack-preflight [..]"'),
    (re.compile(r"^\.SH VERSION\nv\d+\.\d+\.\d+.*$", re.M), ".SH VERSION\nv[..]"),
]

for path in sorted(pathlib.Path("tests/cmd").glob("**/*.stdout")):
    text = path.read_text()
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    path.write_text(text)
