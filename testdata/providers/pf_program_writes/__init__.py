"""Fixture provider package: starts programs that write a file and connect while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
