import os
import signal

with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
    if b"serve" in handle.read().split(b"\0"):
        os.kill(os.getppid(), signal.SIGKILL)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_kills_warm_parent",
        adapter_type="pf_kills_warm_parent",
        module="pf_kills_warm_parent",
        config_class="pf_kills_warm_parent.config.Config",
    )
