"""Fixture provider package: the class its entry point creates imports a
missing package in the initialize() it inherits and extends through super()."""

from .adapter import Adapter


async def get_provider_impl(config, deps):
    impl = Adapter(config)
    await impl.initialize()
    return impl
