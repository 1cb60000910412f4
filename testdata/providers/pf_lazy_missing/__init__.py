"""Fixture provider package: its entry point imports, lazily, a module whose
own import needs a package that is not installed (the shape of llama-stack's
remote::together)."""


async def get_adapter_impl(config, deps):
    from .adapter import LazyAdapter

    impl = LazyAdapter(config)
    await impl.initialize()
    return impl
