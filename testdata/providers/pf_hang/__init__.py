"""Fixture provider package: importing provider.py never returns."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
