from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_other_name",
        adapter_type="pf_wrong_type",
        module="pf_wrong_type",
        config_class="pf_wrong_type.config.Config",
    )
