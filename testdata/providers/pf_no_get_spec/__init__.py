"""Fixture provider package: provider.py lacks get_provider_spec()."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
