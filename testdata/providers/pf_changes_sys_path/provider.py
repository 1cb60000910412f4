import sys

sys.path.insert(0, "/opt/pf-changes-sys-path/vendor")


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_changes_sys_path",
        adapter_type="pf_changes_sys_path",
        module="pf_changes_sys_path",
        config_class="pf_changes_sys_path.config.Config",
    )
