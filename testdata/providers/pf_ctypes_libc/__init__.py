"""Fixture provider package: writes a file and connects through libc (ctypes) while being imported."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
