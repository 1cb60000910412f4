"""Fixture provider package: writes to a descriptor it inherited open while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
