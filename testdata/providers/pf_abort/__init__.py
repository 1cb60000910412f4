"""Fixture provider package: importing provider.py aborts the interpreter (SIGABRT)."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
