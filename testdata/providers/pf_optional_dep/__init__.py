"""Fixture provider package: an optional dependency, missing, imported inside try/except."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
