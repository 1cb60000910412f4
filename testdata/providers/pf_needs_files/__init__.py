"""Fixture provider package: requires the files API and, optionally, inference."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
