import os
import time

if os.fork() == 0:
    # The daemon: its own session, so killing the probe's process group misses it.
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_daemon",
        adapter_type="pf_daemon",
        module="pf_daemon",
        config_class="pf_daemon.config.Config",
    )
