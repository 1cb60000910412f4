"""Fixture provider package: writes 200 MiB to stdout and 100 MiB to stderr while being imported, then exits."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
