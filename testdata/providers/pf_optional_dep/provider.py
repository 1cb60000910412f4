from llama_stack_api import Api, RemoteProviderSpec

try:
    import pf_not_installed_optional  # noqa: F401
except ImportError:
    pf_not_installed_optional = None


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_optional_dep",
        adapter_type="pf_optional_dep",
        module="pf_optional_dep",
        config_class="pf_optional_dep.config.Config",
    )
