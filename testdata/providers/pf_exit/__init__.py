"""Fixture provider package: importing provider.py ends the interpreter without a result."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
