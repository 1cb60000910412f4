from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_writes_config",
        adapter_type="pf_writes_config",
        module="pf_writes_config",
        config_class="pf_writes_config.config.Config",
    )
