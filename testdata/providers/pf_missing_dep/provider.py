from llama_stack_api import Api, RemoteProviderSpec
import pf_not_installed_dependency  # noqa: F401


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_missing_dep",
        adapter_type="pf_missing_dep",
        module="pf_missing_dep",
        config_class="pf_missing_dep.config.Config",
    )
