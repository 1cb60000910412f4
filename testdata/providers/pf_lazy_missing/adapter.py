import pf_lazy_dependency  # noqa: F401


class LazyAdapter:
    def __init__(self, config):
        self.config = config

    async def initialize(self):
        pass
