"""Fixture provider package: prints a forged success document with print(), then fails for real."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
