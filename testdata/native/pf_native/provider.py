from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_native",
        adapter_type="pf_native",
        module="pf_native",
        config_class="pf_native.config.Config",
    )
