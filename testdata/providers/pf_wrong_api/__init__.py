"""Fixture provider package: the spec declares api safety."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
