"""Fixture provider package: importing provider.py logs in colour, draws a
progress bar, sets the terminal title and rings the bell, then ends the
interpreter."""


async def get_adapter_impl(config, deps):
    raise NotImplementedError("preflight never instantiates providers")
