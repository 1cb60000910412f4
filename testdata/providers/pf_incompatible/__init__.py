"""Fixture provider package: written for llama-stack 0.2 (imports the removed datatypes module)."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
