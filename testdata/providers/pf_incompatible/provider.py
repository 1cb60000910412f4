from llama_stack.providers.datatypes import AdapterSpec, Api, remote_provider_spec


def get_provider_spec():
    return remote_provider_spec(
        api=Api.eval,
        adapter=AdapterSpec(adapter_type="pf_incompatible", module="pf_incompatible", config_class="pf_incompatible.config.Config"),
    )
