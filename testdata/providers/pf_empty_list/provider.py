def get_provider_spec():
    return []
