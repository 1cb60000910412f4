from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_good",
        adapter_type="pf_good",
        module="pf_good",
        config_class="pf_good.config.Config",
    )
