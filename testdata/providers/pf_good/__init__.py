"""Fixture provider package: a correct external provider."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
