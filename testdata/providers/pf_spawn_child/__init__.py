"""Fixture provider package: starts a multiprocessing child (spawn) that writes a file and connects."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
