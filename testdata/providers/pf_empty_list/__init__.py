"""Fixture provider package: get_provider_spec() returns an empty list."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
