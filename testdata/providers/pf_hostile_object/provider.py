class Hostile:
    def __getattribute__(self, name):
        raise RuntimeError(f"attribute {name} refused")

    def __repr__(self):
        raise RuntimeError("repr refused")


def get_provider_spec():
    return Hostile()
