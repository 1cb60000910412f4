"""Fixture provider package: closes file descriptor 1, then get_provider_spec() fails."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
