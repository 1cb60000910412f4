from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_bad_config_class",
        adapter_type="pf_bad_config_class",
        module="pf_bad_config_class",
        config_class="pf_bad_config_class.config.NoSuchConfig",
    )
