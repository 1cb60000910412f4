class Adapter:
    def __init__(self, config):
        self.config = config

    async def initialize(self):
        def later():
            import pf_not_installed_nested  # noqa: F401

        self.later = later

    def load_model(self):
        import pf_later_dependency  # noqa: F401
