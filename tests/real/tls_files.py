"""Writes the TLS files the real-server TLS cases use into the directory given.

server-key.pem and server-cert.pem are a key and its self-signed certificate
for 127.0.0.1; other-key.pem and other-cert.pem are a second pair, whose key
does not match server-cert.pem. Made at test time with the environment's own
`cryptography`, so no key is ever committed.
"""

import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_pair(directory, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with open(os.path.join(directory, f"{name}-key.pem"), "wb") as handle:
        handle.write(private)
    with open(os.path.join(directory, f"{name}-cert.pem"), "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    for pair in ("server", "other"):
        write_pair(sys.argv[1], pair)
