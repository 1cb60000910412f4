from ogx_api import Api, RemoteProviderSpec


def get_provider_spec():
    return RemoteProviderSpec(
        api=Api.inference,
        provider_type="remote::pf_ogx",
        adapter_type="pf_ogx",
        module="pf_ogx",
        config_class="ogx.providers.remote.inference.vllm.VLLMInferenceAdapterConfig",
        description="An OpenAI-compatible endpoint, for the ogx real-server cases.",
    )
