def get_provider_spec():
    return {"api": "eval", "provider_type": "remote::pf_returns_dict"}
