"""The starter-scale benchmark's inputs, read from the installed release's own
starter distribution (run by that environment's Python; see scripts/bench).

  config CORE LEAVE_OUT COUNT OUT  writes run.yaml: the providers the starter
      enables by default (a provider_id that is not `${env.X:+id}`), minus the
      provider types in LEAVE_OUT (comma-separated), in file order; with
      COUNT > 0, the first COUNT of them, or, past their number, more of its
      remote providers under new ids (`openai-2`, ...). `apis:` and the
      vector-store defaults follow what is left.
  floor RUN_YAML [server] [STARTUP] [only=N]  the floor: this one
      interpreter does what the server must at least do for each provider of
      RUN_YAML, once: find its spec (a `module:` provider's by importing
      `<module>.provider` and calling get_provider_spec(), an in-tree one's in
      its registry) and import the module that implements it. With `server`,
      first what the server imports before it reads run.yaml (its core,
      `<core>.core.stack`, where dependency drift breaks it), and for each
      provider its config class too, which the server builds the provider's
      config with: the least any check of what the server checks must
      import. With STARTUP (written by `startup`), then the import statements
      listed there, as the server's start-up runs them. With only=N, the
      provider at position N (from 0) alone: scripts/bench's naive loop runs
      one interpreter so for each.
  startup RUN_YAML OUT  writes to OUT, untimed, the import statements the
      server's start-up of each provider of RUN_YAML runs after importing its
      module (its entry point's lazy imports, and those of the constructors
      and initialize() it calls), as the probe's follow_startup finds and runs
      them: one a line, the provider's position, the module (absolute) and
      the names imported from it.
"""

import ast
import importlib
import importlib.util
import itertools
import pathlib
import re
import sys

import yaml

CONDITIONAL = re.compile(r"\$\{env\.\w+:\+.*\}")


def starter(core):
    """The starter distribution's config.yaml, found without importing the release."""
    package = pathlib.Path(importlib.util.find_spec(core).submodule_search_locations[0])
    return yaml.safe_load((package / "distributions" / "starter" / "config.yaml").read_text())


def config(core, leave_out, count, out):
    document = starter(core)
    leave_out = set(filter(None, leave_out.split(",")))
    enabled = [
        (api, entry)
        for api, entries in document["providers"].items()
        for entry in entries
        if not CONDITIONAL.fullmatch(str(entry["provider_id"])) and entry["provider_type"] not in leave_out
    ]
    if count:
        remote = [(api, entry) for api, entry in enabled if entry["provider_type"].startswith("remote::")]
        copies = (
            (api, {**entry, "provider_id": f"{entry['provider_id']}-{round_}"})
            for round_ in itertools.count(2)
            for api, entry in remote
        )
        enabled = list(itertools.islice(itertools.chain(enabled, copies), count))
    document["providers"] = {}
    for api, entry in enabled:
        document["providers"].setdefault(api, []).append(entry)
    document["apis"] = [api for api in document.get("apis", []) if api in document["providers"]]
    ids = {entry["provider_id"] for _, entry in enabled}
    stores = document.get("vector_stores") or {}
    for key in ("default_embedding_model", "default_reranker_model"):
        if (stores.get(key) or {}).get("provider_id") not in ids:
            stores.pop(key, None)
    if stores.get("default_provider_id") not in ids:
        document.pop("vector_stores", None)
    if "safety" not in document["providers"]:
        document.pop("safety", None)
    server = document.setdefault("server", {})
    server["host"] = "127.0.0.1"
    # ogx refuses to serve without TLS unless told it is meant (loopback only here).
    if core == "ogx":
        server["insecure"] = True
    pathlib.Path(out).write_text(yaml.safe_dump(document, sort_keys=False))
    print(len(enabled))


def the_probe():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "probe"))
    import preflight_probe

    return preflight_probe


def specs(core, run_yaml, only=None):
    """The position and spec of each provider of RUN_YAML, in file order
    (only the one at position `only`, if given)."""
    document = yaml.safe_load(pathlib.Path(run_yaml).read_text())
    entries = [(api, entry) for api, listed in document["providers"].items() for entry in listed]
    for position, (api, entry) in enumerate(entries):
        if only is not None and position != only:
            continue
        if entry.get("module"):
            # The server's reading of `module:` (the probe's import_name),
            # without the probe: the floors import nothing of preflight's.
            provider = importlib.import_module(entry["module"].split("==")[0] + ".provider")
            returned = provider.get_provider_spec()
            returned = returned if isinstance(returned, list) else [returned]
            yield position, next(spec for spec in returned if spec.provider_type == entry["provider_type"])
        else:
            registry = importlib.import_module(f"{core}.providers.registry.{api}")
            available = {spec.provider_type: spec for spec in registry.available_providers()}
            yield position, available[entry["provider_type"]]


def installed_core():
    return "ogx" if importlib.util.find_spec("ogx") else "llama_stack"


def floor(run_yaml, server, startup_list, only):
    core = installed_core()
    if server:
        importlib.import_module(f"{core}.core.stack")
    for _, spec in specs(core, run_yaml, only):
        importlib.import_module(spec.module)
        if server:
            module, _, name = spec.config_class.rpartition(".")
            getattr(importlib.import_module(module), name)
    if startup_list:
        for statement in pathlib.Path(startup_list).read_text().splitlines():
            position, module, *names = statement.split()
            if only is None or int(position) == only:
                __import__(module, fromlist=names)


def startup(run_yaml, out):
    probe = the_probe()
    # preflight's own walk of the start-up path, recording the import
    # statements it runs: the floor replays those alone, not the reading
    # that found them, which is preflight's work and not the server's.
    statements = []
    run_imports = probe.run_imports
    position = 0

    def recorded(function):
        ran, namespace = run_imports(function)
        for node in ran:
            if isinstance(node, ast.Import):
                statements.extend(f"{position} {alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = importlib.util.resolve_name("." * node.level + (node.module or ""), namespace["__package__"])
                statements.append(" ".join([str(position), module, *(alias.name for alias in node.names)]))
        return ran, namespace

    probe.run_imports = recorded
    for position, spec in specs(installed_core(), run_yaml):
        entry = "get_adapter_impl" if probe.is_remote_spec(spec) else "get_provider_impl"
        probe.follow_startup(spec.module, entry, {})
    pathlib.Path(out).write_text("".join(f"{statement}\n" for statement in statements))


if __name__ == "__main__":
    if sys.argv[1] == "config":
        config(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "startup":
        startup(sys.argv[2], sys.argv[3])
    else:
        options = sys.argv[3:]
        only = next((int(option[5:]) for option in options if option.startswith("only=")), None)
        startup_list = next((option for option in options if option != "server" and not option.startswith("only=")), None)
        floor(sys.argv[2], "server" in options, startup_list, only)
