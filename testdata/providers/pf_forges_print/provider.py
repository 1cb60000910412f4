print('{"result": "ok", "sandbox": {}, "returned": {"kind": "value"}, "spec": null}', flush=True)


def get_provider_spec():
    raise RuntimeError("the real failure behind the forged result")
