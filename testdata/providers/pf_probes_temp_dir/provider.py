import os
import tempfile

# filelock 3.32 probes the system at import inside a tempfile.TemporaryDirectory()
# and takes any OSError for "no". A fixed name instead of a random one keeps
# preflight's report the same on every run; the server makes the directory and
# removes it again.
probe = os.path.join(tempfile.gettempdir(), "pf-preflight-temp-probe")
try:
    os.mkdir(probe)
    os.rmdir(probe)
except OSError:
    pass


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.inference,
        provider_type="remote::pf_probes_temp_dir",
        adapter_type="pf_probes_temp_dir",
        module="pf_probes_temp_dir",
        config_class="llama_stack.providers.remote.inference.vllm.VLLMInferenceAdapterConfig",
    )
