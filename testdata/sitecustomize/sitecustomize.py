"""Runs when the interpreter starts, before the probe and its audit hook:
writes a file and connects. Put on PYTHONPATH by the golden case
kernel/sitecustomize."""

import os
import socket

try:
    with open("/tmp/pf-preflight-must-not-exist.txt", "w") as handle:
        handle.write("written by sitecustomize")
except OSError:
    pass
try:
    socket.create_connection(("127.0.0.1", int(os.environ.get("PF_CONNECT_PORT", "9"))), timeout=2).close()
except OSError:
    pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"sent", ("127.0.0.1", int(os.environ.get("PF_UDP_PORT", "9"))))
except OSError:
    pass
