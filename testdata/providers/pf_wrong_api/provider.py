from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.safety,
        provider_type="remote::pf_wrong_api",
        adapter_type="pf_wrong_api",
        module="pf_wrong_api",
        config_class="pf_wrong_api.config.Config",
    )
