import subprocess

subprocess.run(["true"], check=True)

def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_spawns",
        adapter_type="pf_spawns",
        module="pf_spawns",
        config_class="pf_spawns.config.Config",
    )
