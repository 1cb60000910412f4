"""Fixture provider package: start-up imports that are guarded or
conditional, and declared packages start-up never imports (the shape of
llama-stack's remote::fireworks and inline::sentence-transformers)."""


async def get_adapter_impl(config, deps):
    try:
        import pf_not_installed_guarded  # noqa: F401
    except ImportError:
        pass
    if config.url.startswith("never"):
        import pf_not_installed_conditional  # noqa: F401
    from .adapter import Adapter

    impl = Adapter(config)
    await impl.initialize()
    return impl
    import pf_not_installed_unreachable  # noqa: F401
