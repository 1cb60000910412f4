from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_needs_benchmarks",
        adapter_type="pf_needs_benchmarks",
        module="pf_needs_benchmarks",
        config_class="pf_needs_benchmarks.config.Config",
        api_dependencies=[Api.benchmarks],
    )
