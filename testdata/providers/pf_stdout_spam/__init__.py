"""Fixture provider package: prints to stdout, including a fake result, from Python and from fd 1."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
