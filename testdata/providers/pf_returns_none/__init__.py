"""Fixture provider package: get_provider_spec() returns None."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
