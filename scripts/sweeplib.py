"""What the sweeps (scripts/sweep-in-tree, scripts/sweep-distribution-configs)
and the starter-scale benchmark (scripts/bench-starter, which runs this file)
share: the server releases they can run over, and the interpreters
scripts/setup-test-envs builds for them.

A release is a test environment (packages the tests need; most remote
providers' packages absent) or a starter environment (the release with every
package its starter distribution's providers need, built only by
`setup-test-envs --bench`, under the cache PREFLIGHT_CACHE_DIR names): the
installed case, where a provider's code really runs at import.
"""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PREFLIGHT = REPO / "target/release/llama-stack"


class Release:
    """A server release: the variable setup-test-envs exports for its
    interpreter, its core package, how its run command is started, and
    whether setup-test-envs builds it only with --bench. A starter
    environment lacks what the starter providers in `leave_out` need (torch,
    which this registry offers only with the CUDA packages)."""

    def __init__(self, label, interpreter, core, command, bench=False, leave_out=()):
        self.label, self.interpreter, self.core, self.command = label, interpreter, core, command
        self.bench, self.leave_out = bench, leave_out

    def described(self):
        return f"{self.label} with its starter's packages" if self.bench else self.label


LLAMA_STACK_RUN = ["llama", "stack", "run"]
# ogx 1.2 onward refuses to start without TLS unless told it may.
OGX_RUN_INSECURE = ["ogx", "run", "--insecure"]
RELEASES = {
    "0.7.3": Release("llama-stack 0.7.3", "PREFLIGHT_PY_073", "llama_stack", LLAMA_STACK_RUN),
    "0.6.1": Release("llama-stack 0.6.1", "PREFLIGHT_PY_061", "llama_stack", LLAMA_STACK_RUN),
    "ogx-1.5.0": Release("ogx 1.5.0", "PREFLIGHT_PY_OGX15", "ogx", OGX_RUN_INSECURE),
    "ogx-1.0.4": Release("ogx 1.0.4", "PREFLIGHT_PY_OGX10", "ogx", ["ogx", "run"]),
    "starter-0.7.3": Release(
        "llama-stack 0.7.3", "PREFLIGHT_PY_STARTER_073", "llama_stack", LLAMA_STACK_RUN,
        bench=True, leave_out=("inline::sentence-transformers", "inline::transformers"),
    ),
    "starter-0.6.1": Release(
        "llama-stack 0.6.1", "PREFLIGHT_PY_STARTER_061", "llama_stack", LLAMA_STACK_RUN,
        bench=True, leave_out=("inline::sentence-transformers", "inline::torchtune-cpu"),
    ),
    "starter-ogx-1.5.0": Release(
        "ogx 1.5.0", "PREFLIGHT_PY_STARTER_OGX15", "ogx", OGX_RUN_INSECURE, bench=True,
        leave_out=("inline::sentence-transformers",),
    ),
}
TEST_RELEASES = [name for name, release in RELEASES.items() if not release.bench]


def test_environments(releases):
    """setup-test-envs' exports (building what is missing), with the starter
    environments when one of `releases` needs them."""
    bench = any(RELEASES[name].bench for name in releases)
    exported = subprocess.run(
        [REPO / "scripts/setup-test-envs", *(["--bench"] if bench else [])],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    return dict(re.findall(r"^export (\w+)=(\S+)$", exported, re.MULTILINE))


def build_preflight():
    """Builds PREFLIGHT, the release build of this checkout, which the sweeps run."""
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=REPO, check=True)


if __name__ == "__main__":
    # For scripts/bench-starter: one line per starter environment,
    # LABEL|INTERPRETER VARIABLE|CORE|COMMAND|LEFT OUT (comma-separated).
    for release in RELEASES.values():
        if release.bench:
            print("|".join([release.label, release.interpreter, release.core, " ".join(release.command),
                            ",".join(release.leave_out)]))
