"""Fixture provider package: a spec-like object without provider_type (a real ProviderSpec cannot lack it)."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
