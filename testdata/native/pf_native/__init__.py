"""Fixture provider package for the native-code cases; the test writes the
line that imports its native dependency above this one."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
