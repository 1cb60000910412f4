from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_lazy_missing",
        adapter_type="pf_lazy_missing",
        module="pf_lazy_missing",
        config_class="pf_lazy_missing.config.Config",
        pip_packages=["pf-lazy-dependency>=1"],
    )
