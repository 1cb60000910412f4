"""Fixture provider package: the spec's provider_type holds a lone surrogate, which is not valid UTF-8."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
