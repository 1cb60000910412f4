"""Fixture provider package: replaces json.dumps while being imported, as JSON speed-ups do."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
