"""Fixture provider package: importing provider.py kills its own process with SIGKILL."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
