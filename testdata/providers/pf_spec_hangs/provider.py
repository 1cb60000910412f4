import time


def get_provider_spec():
    time.sleep(3600)
