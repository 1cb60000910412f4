from llama_stack_api import Api, InlineProviderSpec, RemoteProviderSpec


def get_provider_spec():
    return [
        InlineProviderSpec(
            api=Api.eval,
            provider_type="inline::pf_list",
            module="pf_list",
            config_class="pf_list.config.Config",
        ),
        RemoteProviderSpec(
            api=Api.eval,
            provider_type="remote::pf_list",
            adapter_type="pf_list",
            module="pf_list",
            config_class="pf_list.config.Config",
        ),
    ]
