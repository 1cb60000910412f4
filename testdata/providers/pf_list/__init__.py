"""Fixture provider package: get_provider_spec() returns a list of specs."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")


async def get_provider_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
