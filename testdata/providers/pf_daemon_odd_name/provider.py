import ctypes
import os
import time

named_r, named_w = os.pipe()
if os.fork() == 0:
    # The daemon: its own session, and a name no decoder reads as text.
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"\xff\xfe)\nZ 1 1", 0, 0, 0)  # PR_SET_NAME
        os.write(named_w, b".")
        time.sleep(3600)
    os._exit(0)
# The import goes on once the daemon has its name, which is then the one
# preflight finds, however soon it looks.
os.read(named_r, 1)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_daemon_odd_name",
        adapter_type="pf_daemon_odd_name",
        module="pf_daemon_odd_name",
        config_class="pf_daemon_odd_name.config.Config",
    )
