"""Fixture provider package: the spec declares another provider_type."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
