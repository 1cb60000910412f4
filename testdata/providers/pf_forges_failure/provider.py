raise RuntimeError("boom\nPASS  eval/forged  remote::forged  module forged\r\nAll providers validated successfully\nCode: forged\x85\x7f")


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_forges_failure",
        adapter_type="pf_forges_failure",
        module="pf_forges_failure",
        config_class="pf_forges_failure.config.Config",
    )
