import os

os.chdir("/")


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_changes_cwd",
        adapter_type="pf_changes_cwd",
        module="pf_changes_cwd",
        config_class="pf_changes_cwd.config.Config",
    )
