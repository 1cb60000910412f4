import os
import socket

PORT = int(os.environ.get("PF_CONNECT_PORT", "9"))
with socket.create_connection(("127.0.0.1", PORT), timeout=2):
    pass

def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_opens_socket",
        adapter_type="pf_opens_socket",
        module="pf_opens_socket",
        config_class="pf_opens_socket.config.Config",
    )
