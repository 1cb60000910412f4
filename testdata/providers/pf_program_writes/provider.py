import os
import subprocess

tcp = os.environ.get("PF_CONNECT_PORT", "9")
udp = os.environ.get("PF_UDP_PORT", "9")
subprocess.run(["sh", "-c", "echo written > /tmp/pf-preflight-must-not-exist.txt"], check=False)
subprocess.run(["bash", "-c", f"echo sent > /dev/tcp/127.0.0.1/{tcp}; echo sent > /dev/udp/127.0.0.1/{udp}"], check=False)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_program_writes",
        adapter_type="pf_program_writes",
        module="pf_program_writes",
        config_class="pf_program_writes.config.Config",
    )
