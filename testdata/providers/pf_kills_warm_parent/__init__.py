"""Fixture provider package: when its parent process is preflight's warm
parent (the probe in serve mode), importing provider.py kills that parent, as
the out-of-memory killer might; under any other parent it is a plain provider."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
