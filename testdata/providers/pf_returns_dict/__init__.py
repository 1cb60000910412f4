"""Fixture provider package: get_provider_spec() returns a dict instead of a spec."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
