from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_deprecation_warning",
        adapter_type="pf_deprecation_warning",
        module="pf_deprecation_warning",
        config_class="pf_deprecation_warning.config.Config",
        deprecation_warning="remote::pf_deprecation_warning will be removed; use remote::pf_good.",
    )
