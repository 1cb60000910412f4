import os

# Writing to an open descriptor raises no audit event and opens no path.
for fd in range(3, 10):
    try:
        os.write(fd, b"written through an inherited descriptor\n")
    except OSError:
        pass


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_writes_inherited_fd",
        adapter_type="pf_writes_inherited_fd",
        module="pf_writes_inherited_fd",
        config_class="pf_writes_inherited_fd.config.Config",
    )
