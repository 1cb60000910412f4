import os

TARGET = os.environ.get("PF_WRITE_TARGET", "/tmp/pf-preflight-must-not-exist.txt")
with open(TARGET, "w") as handle:
    handle.write("written at import time")

def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_writes_file",
        adapter_type="pf_writes_file",
        module="pf_writes_file",
        config_class="pf_writes_file.config.Config",
    )
