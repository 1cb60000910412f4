"""Fixture provider package: get_provider_spec() returns an object whose repr and every attribute raise."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
