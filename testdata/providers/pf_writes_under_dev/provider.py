# Neither is a device: /dev/.. leads out of /dev, and /dev/shm is a tmpfs.
for target in ("/dev/../tmp/pf-preflight-must-not-exist.txt", "/dev/shm/pf-preflight-must-not-exist.txt"):
    try:
        with open(target, "w") as handle:
            handle.write("written at import time")
    except OSError:
        pass


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_writes_under_dev",
        adapter_type="pf_writes_under_dev",
        module="pf_writes_under_dev",
        config_class="pf_writes_under_dev.config.Config",
    )
