class Base:
    async def initialize(self):
        import pf_initialize_dependency  # noqa: F401


class Adapter(Base):
    def __init__(self, config):
        self.config = config

    async def initialize(self):
        await super().initialize()
