import ctypes
import os

# A C call the audit hook does not see; the error is raised, as checked C code would.
TARGET = os.environ.get("PF_WRITE_TARGET", "/tmp/pf-preflight-must-not-exist.txt")
libc = ctypes.CDLL(None, use_errno=True)
if libc.creat(os.fsencode(TARGET), 0o644) < 0:
    error = ctypes.get_errno()
    raise OSError(error, os.strerror(error), TARGET)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_ctypes_checked",
        adapter_type="pf_ctypes_checked",
        module="pf_ctypes_checked",
        config_class="pf_ctypes_checked.config.Config",
    )
