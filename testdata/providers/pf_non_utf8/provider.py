from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_non_utf8\udcff",
        adapter_type="pf_non_utf8",
        module="pf_non_utf8",
        config_class="pf_non_utf8.config.Config",
    )
