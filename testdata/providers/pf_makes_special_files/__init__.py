"""Fixture provider package: makes a FIFO and a file with mknod while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
