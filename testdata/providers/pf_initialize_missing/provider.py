from llama_stack_api import Api, InlineProviderSpec


def get_provider_spec():
    return InlineProviderSpec(
        api=Api.eval,
        provider_type="inline::pf_initialize_missing",
        module="pf_initialize_missing",
        config_class="pf_initialize_missing.config.Config",
    )
