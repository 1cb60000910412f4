"""Fixture provider package: forks a detached daemon (new session) that keeps stdout and stderr open."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
