import os

CHUNK = b"x" * (1024 * 1024)
for _ in range(200):
    os.write(1, CHUNK)
for _ in range(100):
    os.write(2, CHUNK)
os.write(2, b"\npf_floods: 300 MiB written\n")
os._exit(1)
