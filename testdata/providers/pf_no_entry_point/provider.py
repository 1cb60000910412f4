from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_no_entry_point",
        adapter_type="pf_no_entry_point",
        module="pf_no_entry_point",
        config_class="pf_no_entry_point.config.Config",
    )
