"""Fixture provider package: writes SQLite files from an in-memory database while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
