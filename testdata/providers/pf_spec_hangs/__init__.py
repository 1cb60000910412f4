"""Fixture provider package: get_provider_spec() never returns."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
