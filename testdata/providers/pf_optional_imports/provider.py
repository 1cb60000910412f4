from llama_stack_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_optional_imports",
        adapter_type="pf_optional_imports",
        module="pf_optional_imports",
        config_class="pf_optional_imports.config.Config",
        pip_packages=["pf-later-dependency", "pf-never-imported"],
    )
