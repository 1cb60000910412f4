"""Fixture provider package: importing provider.py crashes the interpreter."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
