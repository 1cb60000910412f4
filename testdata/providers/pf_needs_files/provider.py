from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_needs_files",
        adapter_type="pf_needs_files",
        module="pf_needs_files",
        config_class="pf_needs_files.config.Config",
        api_dependencies=[Api.files],
        optional_api_dependencies=[Api.inference],
    )
