"""Fixture provider package: provider.py imports a dependency that is not installed."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
