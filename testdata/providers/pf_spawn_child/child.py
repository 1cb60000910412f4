"""What the spawned child runs: a fresh interpreter without the probe's audit hook."""

import os
import socket


def write_and_connect():
    try:
        with open("/tmp/pf-preflight-must-not-exist.txt", "w") as handle:
            handle.write("written by a child")
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
