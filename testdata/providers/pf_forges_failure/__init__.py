"""Fixture provider package: raises an exception whose message holds lines of a forged report."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
