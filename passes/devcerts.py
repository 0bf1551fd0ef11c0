"""A development PKI shaped like Apple's, plus a Google service-account key.

Apple signs Pass Type ID certificates with its WWDR intermediate, which chains to the Apple
root. Here a local root stands in for Apple's, so the demo and the tests sign and verify
passes exactly as production does, only with a different trust anchor. Production never
calls this: it loads the real certificate, key and WWDR from configured paths.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Apple's OIDs, as found in real Pass Type ID certificates.
PASS_TYPE_EKU_OID = x509.ObjectIdentifier("1.2.840.113635.100.4.14")
PASS_TYPE_ID_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.1.16")

DEV_FILES = (
    "apple-root.pem",
    "wwdr.pem",
    "pass-cert.pem",
    "pass-key.pem",
    "google-service-account.json",
    "server-cert.pem",
    "server-key.pem",
)

DEFAULT_PASS_TYPE_ID = "pass.dev.loyalty.wallet"
DEFAULT_TEAM_ID = "DEVTEAM123"
DEFAULT_GOOGLE_ISSUER_EMAIL = "wallet-dev@loyalty-dev.iam.gserviceaccount.com"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def _utf8string_der(text: str) -> bytes:
    raw = text.encode()
    if len(raw) >= 128:
        raise ValueError("pass type id too long for the dev certificate extension")
    return bytes([0x0C, len(raw)]) + raw


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_dev_certs(
    dir: Path,
    *,
    pass_type_id: str = DEFAULT_PASS_TYPE_ID,
    team_id: str = DEFAULT_TEAM_ID,
    google_issuer_email: str = DEFAULT_GOOGLE_ISSUER_EMAIL,
) -> bool:
    """Write the development PKI into `dir`; do nothing if every file is already there.

    Returns True when files were written. A partial set (an interrupted run) is replaced
    whole, because a leaf that does not chain to the root on disk is worse than useless.
    """
    dir = Path(dir)
    if all((dir / name).exists() for name in DEV_FILES):
        return False
    dir.mkdir(parents=True, exist_ok=True)

    root_key = _key()
    root_name = _name(
        (NameOID.COMMON_NAME, "Dev Apple Root CA (stand-in)"),
        (NameOID.ORGANIZATION_NAME, "Loyalty Wallet Development"),
        (NameOID.COUNTRY_NAME, "RU"),
    )
    root = (
        _builder(root_name, root_name, root_key.public_key(), 3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )

    wwdr_key = _key()
    wwdr_name = _name(
        (NameOID.COMMON_NAME, "Dev Apple Worldwide Developer Relations CA (stand-in)"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
        (NameOID.ORGANIZATION_NAME, "Loyalty Wallet Development"),
        (NameOID.COUNTRY_NAME, "RU"),
    )
    wwdr = (
        _builder(wwdr_name, root_name, wwdr_key.public_key(), 3000)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )

    pass_key = _key()
    pass_name = _name(
        (NameOID.USER_ID, pass_type_id),
        (NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_id}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
        (NameOID.ORGANIZATION_NAME, "Loyalty Wallet Development"),
        (NameOID.COUNTRY_NAME, "RU"),
    )
    pass_cert = (
        _builder(pass_name, wwdr_name, pass_key.public_key(), 365)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([PASS_TYPE_EKU_OID, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(PASS_TYPE_ID_EXTENSION_OID, _utf8string_der(pass_type_id)),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(wwdr_key.public_key()),
            critical=False,
        )
        .sign(wwdr_key, hashes.SHA256())
    )

    server_key = _key()
    server_cert = (
        _builder(_name((NameOID.COMMON_NAME, "localhost")), root_name, server_key.public_key(), 365)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )

    google_key = _key()
    project_id = google_issuer_email.split("@", 1)[1].split(".", 1)[0]
    service_account = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": _pem_key(google_key).decode(),
        "client_email": google_issuer_email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }

    _write(dir / "apple-root.pem", _pem_cert(root))
    _write(dir / "wwdr.pem", _pem_cert(wwdr))
    _write(dir / "pass-cert.pem", _pem_cert(pass_cert))
    _write(dir / "pass-key.pem", _pem_key(pass_key), secret=True)
    _write(dir / "server-cert.pem", _pem_cert(server_cert))
    _write(dir / "server-key.pem", _pem_key(server_key), secret=True)
    _write(
        dir / "google-service-account.json",
        json.dumps(service_account, indent=2).encode(),
        secret=True,
    )
    return True


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
