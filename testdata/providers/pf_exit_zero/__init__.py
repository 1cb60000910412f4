"""Fixture provider package: importing provider.py ends the interpreter with os._exit(0), leaving no result."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
