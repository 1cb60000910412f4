import ctypes
import os
import socket
import struct

# C calls: the audit hook sees only the symbol look-ups; what these calls
# return is ignored, as careless code does.
libc = ctypes.CDLL(None, use_errno=True)
target = os.environ.get("PF_WRITE_TARGET", "/tmp/pf-preflight-must-not-exist.txt")
libc.creat(os.fsencode(target), 0o644)
for kind, port in (
    (socket.SOCK_STREAM, os.environ.get("PF_CONNECT_PORT", "9")),
    (socket.SOCK_DGRAM, os.environ.get("PF_UDP_PORT", "9")),
):
    address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", int(port)) + socket.inet_aton("127.0.0.1") + bytes(8)
    fd = libc.socket(socket.AF_INET, kind, 0)
    libc.connect(fd, address, len(address))
    libc.send(fd, b"sent at import time", 19, 0)
    libc.close(fd)


def get_provider_spec():
    from llama_stack_api import Api, RemoteProviderSpec

    return RemoteProviderSpec(
        api=Api.eval,
        provider_type="remote::pf_ctypes_libc",
        adapter_type="pf_ctypes_libc",
        module="pf_ctypes_libc",
        config_class="pf_ctypes_libc.config.Config",
    )
