"""Fixture provider package: puts lines of a forged report into its deprecation notice."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
