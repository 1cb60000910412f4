"""Fixture provider package: writes a file through libc (ctypes) and raises when that fails, as C code that checks would."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
