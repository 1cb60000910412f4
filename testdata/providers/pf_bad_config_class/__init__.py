"""Fixture provider package: config_class names a class that does not exist."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
