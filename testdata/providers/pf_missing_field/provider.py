class HandMadeSpec:
    """Stand-in: pydantic would refuse to build a real spec without provider_type."""

    api = "eval"
    config_class = "pf_missing_field.config.Config"
    module = "pf_missing_field"


def get_provider_spec():
    return HandMadeSpec()
