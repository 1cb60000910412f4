"""Fixture provider package: writes files through paths under /dev while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
