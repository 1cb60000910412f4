import os
import stat

# Python raises no audit event for either.
for make in (
    lambda: os.mkfifo("/tmp/pf-preflight-must-not-exist.fifo"),
    lambda: os.mknod("/tmp/pf-preflight-must-not-exist.node", stat.S_IFREG | 0o600),
):
    try:
        make()
    except OSError:
        pass


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_makes_special_files",
        adapter_type="pf_makes_special_files",
        module="pf_makes_special_files",
        config_class="pf_makes_special_files.config.Config",
    )
