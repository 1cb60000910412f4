import json

# Bytes, as orjson.dumps returns: the probe's own result must still be readable.
json.dumps = lambda value, *args, **kwargs: b"{}"


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_patches_json",
        adapter_type="pf_patches_json",
        module="pf_patches_json",
        config_class="pf_patches_json.config.Config",
    )
