from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_deprecated",
        adapter_type="pf_deprecated",
        module="pf_deprecated",
        config_class="pf_deprecated.config.Config",
        deprecation_error="remote::pf_deprecated was removed; use remote::pf_good instead.",
    )
