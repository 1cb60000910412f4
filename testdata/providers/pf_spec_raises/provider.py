def get_provider_spec():
    raise RuntimeError("credentials file /etc/pf/creds.json is missing")
