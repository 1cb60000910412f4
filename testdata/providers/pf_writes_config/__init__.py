"""Fixture provider package: its config class writes while it is built."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
