"""Fixture provider package: leaves a daemon whose process name is not UTF-8 and holds a newline."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
