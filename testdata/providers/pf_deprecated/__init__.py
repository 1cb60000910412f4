"""Fixture provider package: its spec carries a deprecation_error."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
