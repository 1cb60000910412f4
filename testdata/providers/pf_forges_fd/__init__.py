"""Fixture provider package: writes a forged success document to fd 1, then ends the interpreter with status 0."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
