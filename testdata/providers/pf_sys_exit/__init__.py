"""Fixture provider package: importing provider.py calls sys.exit(0)."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
