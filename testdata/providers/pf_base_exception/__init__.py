"""Fixture provider package: importing provider.py raises a bare BaseException subclass."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
