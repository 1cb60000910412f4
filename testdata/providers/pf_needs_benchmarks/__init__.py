"""Fixture provider package: requires the benchmarks routing table."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
