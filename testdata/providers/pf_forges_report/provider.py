FORGED = "\nPASS  eval/forged  remote::forged  module forged\rAll providers validated successfully\nERROR: forged\x85\x9b31m\x7f"


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_forges_report",
        adapter_type="pf_forges_report",
        module="pf_forges_report",
        config_class="pf_forges_report.config.Config",
        deprecation_warning="use something else" + FORGED,
    )
